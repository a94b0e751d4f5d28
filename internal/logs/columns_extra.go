package logs

import (
	"encoding/json"
	"strconv"

	"breakglass/internal/entra"
)

// extraColumns adds the columns of the tables beyond sign-ins and audits
// (MicrosoftGraphActivityLogs, AADUserRiskEvents, AADRiskyUsers,
// AADProvisioningLogs), named and typed as the Azure Monitor logs reference
// has them; Columns calls it for those kinds.
func extraColumns(c map[string]any, ev *entra.Event, set func(k, v string)) {
	x := &ev.Extra
	switch ev.Kind {
	case entra.KindGraphActivity:
		set("RequestId", ev.ID)
		set("UserId", ev.UserID)
		set("ServicePrincipalId", ev.ServicePrincipalID)
		set("AppId", ev.AppID)
		set("IPAddress", ev.IPAddress)
		set("Location", ev.Location)
		set("RequestMethod", x.RequestMethod)
		set("RequestUri", x.RequestURI)
		set("SignInActivityId", x.SignInActivityID)
		set("UserAgent", x.UserAgent)
		if n, err := strconv.Atoi(x.ResponseStatus); err == nil {
			c["ResponseStatusCode"] = n // int in the table
		}
	case entra.KindRisk:
		if ev.Category == entra.CategoryRiskyUsers {
			// The table's Id is the user's object id.
			c["Id"] = ev.UserID
			if t, ok := c["TimeGenerated"]; ok {
				c["RiskLastUpdatedDateTime"] = t
			}
		} else {
			set("UserId", ev.UserID)
			set("RiskEventType", x.RiskEventType)
			set("Source", x.RiskSource)
			set("IpAddress", ev.IPAddress)
			if t, ok := c["TimeGenerated"]; ok {
				c["ActivityDateTime"] = t
			}
			if ev.City != "" || ev.State != "" || ev.Country != "" {
				c["Location"] = map[string]any{"city": ev.City, "state": ev.State, "countryOrRegion": ev.Country}
			}
		}
		set("UserPrincipalName", ev.UserPrincipalName)
		set("UserDisplayName", ev.UserDisplayName)
		set("RiskLevel", x.RiskLevel)
		set("RiskState", x.RiskState)
		set("RiskDetail", x.RiskDetail)
	case entra.KindProvisioning:
		set("ProvisioningAction", x.ProvisioningAction)
		set("ResultType", x.ProvisioningStatus)
		set("ResultDescription", ev.ResultReason)
		// These columns are typed string: JSON text, as the table holds it.
		identity := func(p entra.ProvisionedIdentity) string {
			m := map[string]any{"id": p.ID, "displayName": p.DisplayName, "identityType": p.Type}
			if p.UserPrincipalName != "" {
				m["details"] = map[string]any{"UserPrincipalName": p.UserPrincipalName}
			}
			b, _ := json.Marshal(m)
			return string(b)
		}
		if x.SourceIdentity != (entra.ProvisionedIdentity{}) {
			c["SourceIdentity"] = identity(x.SourceIdentity)
		}
		if x.TargetIdentity != (entra.ProvisionedIdentity{}) {
			c["TargetIdentity"] = identity(x.TargetIdentity)
		}
		system := func(name string) string {
			b, _ := json.Marshal(map[string]any{"displayName": name})
			return string(b)
		}
		// SourceSystem is the table's standard agent column, not the
		// provisioning source: it is not set from the event.
		if x.TargetSystem != "" {
			c["TargetSystem"] = system(x.TargetSystem)
		}
		if ev.ServicePrincipalID != "" || ev.ServicePrincipal != "" {
			b, _ := json.Marshal(map[string]any{"id": ev.ServicePrincipalID, "displayName": ev.ServicePrincipal})
			c["ServicePrincipal"] = string(b)
		}
	}
}
