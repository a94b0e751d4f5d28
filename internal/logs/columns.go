package logs

import (
	"time"

	"breakglass/internal/entra"
)

// Columns returns a decoded event's columns by their Log Analytics names,
// for the table of its category (entra.TableOf): the vocabulary a KQL rule
// is written in, whatever shape the record arrived in. Types follow the
// tables' schemas: string columns are strings, datetime columns time.Time
// (absent when the record had no usable time), bool columns bool, dynamic
// columns map[string]any or []any as they would decode from JSON. Only the
// columns the normalised event carries are present.
//
// It is computed on demand (detect.Record.Row), never on the fast path.
func Columns(ev *entra.Event) map[string]any {
	table := entra.TableOf(ev.Category)
	c := map[string]any{"Type": table}
	set := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	set("Id", ev.ID)
	set("CorrelationId", ev.CorrelationID)
	if !ev.TimeUnknown && !ev.Time.IsZero() {
		c["TimeGenerated"] = ev.Time.UTC()
	}
	switch ev.Kind {
	case entra.KindSignIn:
		signInColumns(c, ev, set)
	case entra.KindAudit:
		auditColumns(c, ev, set)
	default:
		extraColumns(c, ev, set) // columns_extra.go
	}
	return c
}

func signInColumns(c map[string]any, ev *entra.Event, set func(k, v string)) {
	c["Category"] = ev.Category
	c["OperationName"] = "Sign-in activity"
	if t, ok := c["TimeGenerated"]; ok {
		c["CreatedDateTime"] = t.(time.Time)
	}
	set("UserId", ev.UserID)
	set("UserPrincipalName", ev.UserPrincipalName)
	set("UserDisplayName", ev.UserDisplayName)
	set("AppId", ev.AppID)
	set("AppDisplayName", ev.AppDisplayName)
	set("ResourceDisplayName", ev.ResourceDisplayName)
	set("IPAddress", ev.IPAddress)
	set("ClientAppUsed", ev.ClientAppUsed)
	set("ResultType", ev.ResultType)
	set("ResultDescription", ev.ResultDescription)
	set("ConditionalAccessStatus", ev.ConditionalAccess)
	set("AuthenticationRequirement", ev.AuthRequirement)
	set("ServicePrincipalId", ev.ServicePrincipalID)
	set("ServicePrincipalName", ev.ServicePrincipal)
	c["IsInteractive"] = ev.Interactive
	if ev.Country != "" {
		c["Location"] = ev.Country
	} else {
		set("Location", ev.Location)
	}
	if ev.City != "" || ev.State != "" || ev.Country != "" {
		c["LocationDetails"] = map[string]any{"city": ev.City, "state": ev.State, "countryOrRegion": ev.Country}
	}
	if ev.ResultType != "" || ev.ResultDescription != "" {
		st := map[string]any{"errorCode": ev.ResultType}
		if ev.ResultDescription != "" {
			st["failureReason"] = ev.ResultDescription
		}
		c["Status"] = st
	}
	if ev.Category == entra.CategorySignIn || ev.Category == entra.CategoryNonInteractive {
		set("Identity", ev.UserDisplayName)
	}
}

func auditColumns(c map[string]any, ev *entra.Event, set func(k, v string)) {
	if t, ok := c["TimeGenerated"]; ok {
		c["ActivityDateTime"] = t.(time.Time)
	}
	set("OperationName", ev.Operation)
	set("ActivityDisplayName", ev.Operation)
	set("Category", ev.AuditCategory)
	set("Result", ev.Result)
	set("ResultReason", ev.ResultReason)
	set("LoggedByService", ev.LoggedByService)
	set("AADOperationType", ev.OperationType)
	in := ev.Initiator
	initiated := map[string]any{}
	if in.UserID != "" || in.UserPrincipalName != "" {
		u := map[string]any{}
		putNonEmpty(u, "id", in.UserID)
		putNonEmpty(u, "userPrincipalName", in.UserPrincipalName)
		putNonEmpty(u, "displayName", in.UserDisplayName)
		putNonEmpty(u, "ipAddress", in.IPAddress)
		initiated["user"] = u
		set("Identity", firstNonEmptyString(in.UserDisplayName, in.UserPrincipalName))
	}
	if in.AppID != "" || in.ServicePrincipalID != "" || in.AppDisplayName != "" {
		a := map[string]any{}
		putNonEmpty(a, "appId", in.AppID)
		putNonEmpty(a, "displayName", in.AppDisplayName)
		putNonEmpty(a, "servicePrincipalId", in.ServicePrincipalID)
		initiated["app"] = a
		if _, ok := c["Identity"]; !ok {
			set("Identity", in.AppDisplayName)
		}
	}
	c["InitiatedBy"] = initiated
	targets := make([]any, 0, len(ev.Targets))
	for _, t := range ev.Targets {
		m := map[string]any{}
		putNonEmpty(m, "id", t.ID)
		putNonEmpty(m, "displayName", t.DisplayName)
		putNonEmpty(m, "type", t.Type)
		putNonEmpty(m, "userPrincipalName", t.UserPrincipalName)
		mods := make([]any, 0, len(t.ModifiedProperties))
		for _, p := range t.ModifiedProperties {
			mods = append(mods, map[string]any{"displayName": p.Name, "oldValue": p.OldValue, "newValue": p.NewValue})
		}
		m["modifiedProperties"] = mods
		targets = append(targets, m)
	}
	c["TargetResources"] = targets
}

func putNonEmpty(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func firstNonEmptyString(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
