package logs

import (
	"strings"

	"breakglass/internal/entra"
)

// provisioning is one provisioning action: the Graph
// provisioningObjectSummary resource, the properties of a ProvisioningLogs
// diagnostic record, and an AADProvisioningLogs row (whose nested columns
// are JSON text, hence dyn). Field lists: see testdata/categories/SOURCES.md.
type provisioning struct {
	ID                 ident                      `json:"id"`
	ActivityDateTime   text                       `json:"activityDateTime"`
	TimeGenerated      text                       `json:"TimeGenerated"`
	JobID              text                       `json:"jobId"`
	CycleID            text                       `json:"cycleId"`
	ChangeID           text                       `json:"changeId"`
	CorrelationID      text                       `json:"correlationId"`
	ProvisioningAction text                       `json:"provisioningAction"`
	Action             text                       `json:"action"` // beta's older name
	StatusInfo         dyn[provisioningStatus]    `json:"provisioningStatusInfo"`
	ResultType         text                       `json:"ResultType"` // Log Analytics: Success, Failure, Skipped
	SourceIdentity     dyn[provisionedIdentity]   `json:"sourceIdentity"`
	TargetIdentity     dyn[provisionedIdentity]   `json:"targetIdentity"`
	InitiatedBy        dyn[provisioningInitiator] `json:"initiatedBy"`
	ServicePrincipal   dyn[struct {
		ID          text `json:"id"`
		DisplayName text `json:"displayName"`
	}] `json:"servicePrincipal"`
	SourceSystem dyn[struct {
		DisplayName text `json:"displayName"`
	}] `json:"sourceSystem"`
	TargetSystem dyn[struct {
		DisplayName text `json:"displayName"`
	}] `json:"targetSystem"`
}

type provisioningStatus struct {
	Status           text `json:"status"`
	ErrorInformation *struct {
		ErrorCode text `json:"errorCode"`
		Reason    text `json:"reason"`
	} `json:"errorInformation"`
}

type provisionedIdentity struct {
	ID           ident          `json:"id"`
	DisplayName  text           `json:"displayName"`
	IdentityType text           `json:"identityType"`
	Details      map[string]any `json:"details"`
}

type provisioningInitiator struct {
	ID            ident `json:"id"`
	DisplayName   text  `json:"displayName"`
	InitiatorType text  `json:"initiatorType"`
}

// upn finds the user principal name among an identity's details, whose keys
// vary by connector ("UserPrincipalName", "userPrincipalName", "upn").
func (p provisionedIdentity) upn() string {
	for k, v := range p.Details {
		switch strings.ToLower(k) {
		case "userprincipalname", "upn":
			if s, ok := v.(string); ok {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

func (p provisionedIdentity) identity(n notes, field string) entra.ProvisionedIdentity {
	return entra.ProvisionedIdentity{ID: n.id(field+".id", "target", p.ID), DisplayName: string(p.DisplayName), Type: string(p.IdentityType), UserPrincipalName: p.upn()}
}

func decodeProvisioning(rec []byte, c Class, ev *entra.Event) error {
	n := notes{ev}
	env, b, err := body(rec, c, ev, n)
	if err != nil || b == nil {
		return decodeErr(err)
	}
	var p provisioning
	pre := propsPrefix(c)
	if err := unmarshal(b, &p, n, pre); err != nil {
		return decodeErr(err)
	}
	n.time(timeField{pre + "activityDateTime", p.ActivityDateTime}, timeField{"TimeGenerated", p.TimeGenerated}, timeField{"time", env.Time})
	ev.ID = firstNonEmptyText(text(n.plain(pre+"id", p.ID)), p.ChangeID)
	ev.CorrelationID = firstNonEmptyText(p.CorrelationID, p.CycleID, env.CorrelationID)
	x := &ev.Extra
	x.ProvisioningAction = firstNonEmptyText(p.ProvisioningAction, p.Action)
	x.ProvisioningStatus = string(p.ResultType)
	dynBad(n, pre+"provisioningStatusInfo", p.StatusInfo, false)
	if p.StatusInfo.OK && p.StatusInfo.V.Status != "" {
		x.ProvisioningStatus = string(p.StatusInfo.V.Status)
	}
	if p.StatusInfo.OK && p.StatusInfo.V.ErrorInformation != nil {
		ev.ResultReason = firstNonEmptyText(p.StatusInfo.V.ErrorInformation.Reason, p.StatusInfo.V.ErrorInformation.ErrorCode)
	}
	dynBad(n, pre+"sourceIdentity", p.SourceIdentity, true)
	dynBad(n, pre+"targetIdentity", p.TargetIdentity, true)
	if p.SourceIdentity.OK {
		x.SourceIdentity = p.SourceIdentity.V.identity(n, pre+"sourceIdentity")
	}
	if p.TargetIdentity.OK {
		x.TargetIdentity = p.TargetIdentity.V.identity(n, pre+"targetIdentity")
	}
	// A duplicated identity object: the other values are matched too.
	for _, d := range append(append([]provisionedIdentity(nil), p.SourceIdentity.Dups...), p.TargetIdentity.Dups...) {
		n.identity(pre+"sourceIdentity/targetIdentity", "duplicate key with different values")
		for _, v := range []string{d.ID.V, d.upn()} {
			if v != "" {
				ev.Ambiguous = append(ev.Ambiguous, entra.AltIdentity{Where: "target", Value: v})
			}
		}
	}
	noIdentity(n, pre+"sourceIdentity", x.SourceIdentity.ID, x.SourceIdentity.UserPrincipalName, x.TargetIdentity.ID, x.TargetIdentity.UserPrincipalName)
	if p.SourceSystem.OK {
		x.SourceSystem = string(p.SourceSystem.V.DisplayName)
	}
	if p.TargetSystem.OK {
		x.TargetSystem = string(p.TargetSystem.V.DisplayName)
	}
	dynBad(n, pre+"initiatedBy", p.InitiatedBy, true)
	if in := p.InitiatedBy.V; p.InitiatedBy.OK && strings.EqualFold(string(in.InitiatorType), "user") {
		ev.Initiator.UserID = n.userID(pre+"initiatedBy.id", "initiator", in.ID)
		ev.Initiator.UserDisplayName = string(in.DisplayName)
	} else if p.InitiatedBy.OK {
		ev.Initiator.AppDisplayName = string(in.DisplayName)
	}
	if p.ServicePrincipal.OK {
		ev.ServicePrincipalID, ev.ServicePrincipal = string(p.ServicePrincipal.V.ID), string(p.ServicePrincipal.V.DisplayName)
	}
	ev.Operation = x.ProvisioningAction
	ev.Result = strings.ToLower(x.ProvisioningStatus)
	return nil
}
