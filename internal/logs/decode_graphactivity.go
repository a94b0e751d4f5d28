package logs

import (
	"strings"

	"breakglass/internal/entra"
)

// graphActivity is one MicrosoftGraphActivityLogs record: the diagnostic
// record's properties (camelCase) or a Log Analytics row (PascalCase; the
// same names, which encoding/json matches case-insensitively). Field list:
// Azure Monitor logs reference, MicrosoftGraphActivityLogs table (see
// testdata/categories/SOURCES.md).
type graphActivity struct {
	TimeGenerated      text  `json:"timeGenerated"`
	RequestID          text  `json:"requestId"`
	OperationID        text  `json:"operationId"`
	ClientRequestID    text  `json:"clientRequestId"`
	APIVersion         text  `json:"apiVersion"`
	RequestMethod      text  `json:"requestMethod"`
	RequestURI         text  `json:"requestUri"`
	ResponseStatusCode text  `json:"responseStatusCode"`
	UserID             ident `json:"userId"`
	// UserPrincipalObjectID is the token's subject as diagnostic records
	// carry it; for a delegated call it is the user.
	UserPrincipalObjectID ident `json:"UserPrincipalObjectID"`
	ServicePrincipalID    text  `json:"servicePrincipalId"`
	AppID                 text  `json:"appId"`
	IPAddress             text  `json:"ipAddress"`
	UserAgent             text  `json:"userAgent"`
	SignInActivityID      text  `json:"signInActivityId"`
	IDType                text  `json:"C_Idtyp"`
	Location              text  `json:"location"`
}

func decodeGraphActivity(rec []byte, c Class, ev *entra.Event) error {
	n := notes{ev}
	env, b, err := body(rec, c, ev, n)
	if err != nil || b == nil {
		return decodeErr(err)
	}
	var g graphActivity
	pre := propsPrefix(c)
	if err := unmarshal(b, &g, n, pre); err != nil {
		return decodeErr(err)
	}
	n.time(timeField{"time", env.Time}, timeField{pre + "timeGenerated", g.TimeGenerated})
	ev.ID = firstNonEmptyText(g.RequestID, g.OperationID)
	ev.CorrelationID = firstNonEmptyText(env.CorrelationID, g.OperationID, g.ClientRequestID)
	ev.UserID = n.userID(pre+"userId", "user", g.UserID)
	if ev.UserID == "" && !strings.EqualFold(string(g.IDType), "app") {
		ev.UserID = n.userID(pre+"UserPrincipalObjectID", "user", g.UserPrincipalObjectID)
	}
	ev.ServicePrincipalID, ev.AppID = string(g.ServicePrincipalID), string(g.AppID)
	// An app-only call (servicePrincipalId, no user) is no one's use of an
	// account; a call naming neither is unreadable as to who made it.
	noIdentity(n, pre+"userId", ev.UserID, ev.ServicePrincipalID)
	ev.IPAddress = firstNonEmptyText(g.IPAddress, env.CallerIPAddress)
	ev.Location = string(g.Location)
	x := &ev.Extra
	x.RequestMethod, x.RequestURI = strings.ToUpper(string(g.RequestMethod)), string(g.RequestURI)
	x.ResponseStatus = firstNonEmptyText(g.ResponseStatusCode, env.ResultSignature)
	x.SignInActivityID, x.UserAgent = string(g.SignInActivityID), string(g.UserAgent)
	ev.Operation = strings.TrimSpace(x.RequestMethod + " " + x.RequestURI)
	ev.Result = x.ResponseStatus
	return nil
}

func propsPrefix(c Class) string {
	if c.Shape == ShapeDiagnostic {
		return "properties."
	}
	return ""
}

func firstNonEmptyText(ts ...text) string {
	for _, t := range ts {
		if s := strings.TrimSpace(string(t)); s != "" {
			return s
		}
	}
	return ""
}
