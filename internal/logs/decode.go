package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"breakglass/internal/entra"
)

// DecodeError is a record that was recognised but could not be decoded.
type DecodeError struct {
	Reason string
	Err    error
}

func (e *DecodeError) Error() string { return e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

func badField(format string, args ...any) error {
	return &DecodeError{Reason: ReasonBadField, Err: fmt.Errorf(format, args...)}
}

// Decode fully decodes a record of a monitored category into ev. It is the
// slow path, used only for records that may concern a break-glass account.
func Decode(rec []byte, c Class, ev *entra.Event) error {
	*ev = entra.Event{Category: c.Category, Kind: entra.KindOf(c.Category), Shape: c.Shape.String()}
	if dec := extraDecoder(c); dec != nil { // decode_extra.go
		return dec(rec, c, ev)
	}
	var err error
	switch c.Shape {
	case ShapeGraphSignIn:
		var g graphSignIn
		if err = unmarshal(rec, &g); err == nil {
			err = g.fill(ev)
		}
	case ShapeGraphAudit:
		var g graphAudit
		if err = unmarshal(rec, &g); err == nil {
			err = g.fill(ev)
		}
	case ShapeDiagnostic:
		err = decodeDiagnostic(rec, ev)
	case ShapeLogAnalytics:
		err = decodeLogAnalytics(rec, ev)
	default:
		return &DecodeError{Reason: ReasonUnknownShape, Err: errors.New("not a recognised Entra sign-in or audit record")}
	}
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			return err
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &DecodeError{Reason: ReasonInvalidJSON, Err: fmt.Errorf("invalid JSON at byte %d of record: %w", se.Offset, err)}
		}
		return &DecodeError{Reason: ReasonBadField, Err: err}
	}
	if ev.Kind == entra.KindUnknown {
		return &DecodeError{Reason: ReasonOtherCategory, Err: fmt.Errorf("category %q is not monitored", c.Category)}
	}
	return nil
}

func unmarshal(rec []byte, v any) error {
	if err := json.Unmarshal(rec, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badField("%s: expected %s, got %s", ute.Field, ute.Type, ute.Value)
		}
		return err
	}
	return nil
}

// graphSignIn is the Graph signIn resource; diagnostic records carry the
// same object in "properties".
type graphSignIn struct {
	ID                        ident    `json:"id"`
	CreatedDateTime           text     `json:"createdDateTime"`
	UserID                    ident    `json:"userId"`
	UserPrincipalName         ident    `json:"userPrincipalName"`
	UserDisplayName           text     `json:"userDisplayName"`
	AppID                     text     `json:"appId"`
	AppDisplayName            text     `json:"appDisplayName"`
	IPAddress                 text     `json:"ipAddress"`
	ClientAppUsed             text     `json:"clientAppUsed"`
	CorrelationID             text     `json:"correlationId"`
	ConditionalAccessStatus   text     `json:"conditionalAccessStatus"`
	IsInteractive             flexBool `json:"isInteractive"`
	ResourceDisplayName       text     `json:"resourceDisplayName"`
	AuthenticationRequirement text     `json:"authenticationRequirement"`
	ServicePrincipalID        text     `json:"servicePrincipalId"`
	ServicePrincipalName      text     `json:"servicePrincipalName"`
	Status                    dyn[struct {
		ErrorCode     text `json:"errorCode"`
		FailureReason text `json:"failureReason"`
	}] `json:"status"`
	Location dyn[location] `json:"location"`
}

type location struct {
	City            text `json:"city"`
	State           text `json:"state"`
	CountryOrRegion text `json:"countryOrRegion"`
}

func (l location) String() string {
	var parts []string
	for _, p := range []text{l.City, l.State, l.CountryOrRegion} {
		if p != "" {
			parts = append(parts, string(p))
		}
	}
	return strings.Join(parts, ", ")
}

func (g *graphSignIn) fill(ev *entra.Event) error {
	t, err := ParseTime(string(g.CreatedDateTime))
	if err != nil {
		return badField("createdDateTime: %v", err)
	}
	ev.ID, ev.Time = string(g.ID), t
	ev.UserID, ev.UserPrincipalName, ev.UserDisplayName = string(g.UserID), string(g.UserPrincipalName), string(g.UserDisplayName)
	ev.AppID, ev.AppDisplayName, ev.ResourceDisplayName = string(g.AppID), string(g.AppDisplayName), string(g.ResourceDisplayName)
	ev.IPAddress, ev.ClientAppUsed, ev.CorrelationID = string(g.IPAddress), string(g.ClientAppUsed), string(g.CorrelationID)
	ev.ConditionalAccess, ev.AuthRequirement = string(g.ConditionalAccessStatus), string(g.AuthenticationRequirement)
	ev.ServicePrincipalID, ev.ServicePrincipal = string(g.ServicePrincipalID), string(g.ServicePrincipalName)
	ev.Interactive = g.IsInteractive.V || ev.Category == entra.CategorySignIn
	if g.Status.OK {
		ev.ResultType, ev.ResultDescription = string(g.Status.V.ErrorCode), string(g.Status.V.FailureReason)
	}
	if g.Location.OK {
		ev.Location = g.Location.V.String()
	}
	return nil
}

// graphAudit is the Graph directoryAudit resource.
type graphAudit struct {
	ID                  ident          `json:"id"`
	Category            text           `json:"category"`
	CorrelationID       text           `json:"correlationId"`
	Result              text           `json:"result"`
	ResultReason        text           `json:"resultReason"`
	ActivityDisplayName text           `json:"activityDisplayName"`
	ActivityDateTime    text           `json:"activityDateTime"`
	LoggedByService     text           `json:"loggedByService"`
	OperationType       text           `json:"operationType"`
	InitiatedBy         dyn[initiator] `json:"initiatedBy"`
	TargetResources     dyn[[]target]  `json:"targetResources"`
}

type initiator struct {
	User *struct {
		ID                ident `json:"id"`
		DisplayName       text  `json:"displayName"`
		UserPrincipalName ident `json:"userPrincipalName"`
		IPAddress         text  `json:"ipAddress"`
	} `json:"user"`
	App *struct {
		AppID                text `json:"appId"`
		DisplayName          text `json:"displayName"`
		ServicePrincipalID   text `json:"servicePrincipalId"`
		ServicePrincipalName text `json:"servicePrincipalName"`
	} `json:"app"`
}

// target's Type also matches "Type", as one of Graph's own examples spells
// it: encoding/json matches names case-insensitively.
type target struct {
	ID                 ident `json:"id"`
	DisplayName        text  `json:"displayName"`
	Type               text  `json:"type"`
	UserPrincipalName  ident `json:"userPrincipalName"`
	ModifiedProperties []struct {
		DisplayName text `json:"displayName"`
		OldValue    text `json:"oldValue"`
		NewValue    text `json:"newValue"`
	} `json:"modifiedProperties"`
}

func (g *graphAudit) fill(ev *entra.Event) error {
	t, err := ParseTime(string(g.ActivityDateTime))
	if err != nil {
		return badField("activityDateTime: %v", err)
	}
	ev.ID, ev.Time = string(g.ID), t
	ev.Operation, ev.AuditCategory, ev.OperationType = strings.TrimSpace(string(g.ActivityDisplayName)), string(g.Category), string(g.OperationType)
	ev.Result, ev.ResultReason = auditResult(g.Result), string(g.ResultReason)
	ev.LoggedByService, ev.CorrelationID = string(g.LoggedByService), string(g.CorrelationID)
	fillActors(ev, g.InitiatedBy.V, g.TargetResources.V)
	return nil
}

func fillActors(ev *entra.Event, in initiator, targets []target) {
	if u := in.User; u != nil {
		ev.Initiator.UserID, ev.Initiator.UserPrincipalName = string(u.ID), string(u.UserPrincipalName)
		ev.Initiator.UserDisplayName, ev.Initiator.IPAddress = string(u.DisplayName), string(u.IPAddress)
	}
	if a := in.App; a != nil {
		ev.Initiator.AppID, ev.Initiator.AppDisplayName = string(a.AppID), string(a.DisplayName)
		ev.Initiator.ServicePrincipalID = string(a.ServicePrincipalID)
	}
	for _, t := range targets {
		tg := entra.Target{ID: string(t.ID), DisplayName: string(t.DisplayName), Type: string(t.Type), UserPrincipalName: string(t.UserPrincipalName)}
		for _, m := range t.ModifiedProperties {
			tg.ModifiedProperties = append(tg.ModifiedProperties, entra.ModifiedProperty{Name: string(m.DisplayName), OldValue: string(m.OldValue), NewValue: string(m.NewValue)})
		}
		ev.Targets = append(ev.Targets, tg)
	}
}

// diagnostic is the Azure Monitor resource-log envelope of one record.
type diagnostic struct {
	Time              text            `json:"time"`
	Category          text            `json:"category"`
	OperationName     text            `json:"operationName"`
	ResultType        text            `json:"resultType"`
	ResultDescription text            `json:"resultDescription"`
	CallerIPAddress   text            `json:"callerIpAddress"`
	CorrelationID     text            `json:"correlationId"`
	Properties        json.RawMessage `json:"properties"`
}

func decodeDiagnostic(rec []byte, ev *entra.Event) error {
	var d diagnostic
	if err := unmarshal(rec, &d); err != nil {
		return err
	}
	props := d.Properties
	if len(props) > 0 && props[0] == '"' { // properties as JSON text
		var s string
		if json.Unmarshal(props, &s) == nil {
			props = json.RawMessage(s)
		}
	}
	if len(props) == 0 || props[0] != '{' {
		return badField("properties: expected an object")
	}
	if ev.Kind == entra.KindAudit {
		var g graphAudit
		if err := unmarshal(props, &g); err != nil {
			return prefixErr("properties.", err)
		}
		if g.ActivityDateTime == "" {
			g.ActivityDateTime = d.Time
		}
		if g.ActivityDisplayName == "" {
			g.ActivityDisplayName = d.OperationName
		}
		if err := g.fill(ev); err != nil {
			return err
		}
	} else {
		var g graphSignIn
		if err := unmarshal(props, &g); err != nil {
			return prefixErr("properties.", err)
		}
		if g.CreatedDateTime == "" {
			g.CreatedDateTime = d.Time
		}
		if err := g.fill(ev); err != nil {
			return err
		}
		if ev.ResultType == "" {
			ev.ResultType = string(d.ResultType)
		}
		if ev.ResultDescription == "" {
			ev.ResultDescription = string(d.ResultDescription)
		}
		if ev.IPAddress == "" {
			ev.IPAddress = string(d.CallerIPAddress)
		}
	}
	if ev.CorrelationID == "" {
		ev.CorrelationID = string(d.CorrelationID)
	}
	return nil
}

func prefixErr(prefix string, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return &DecodeError{Reason: de.Reason, Err: fmt.Errorf("%s%w", prefix, de.Err)}
	}
	return err
}

// laRow covers the SigninLogs family and AuditLogs columns we use. Dynamic
// columns may be JSON or JSON text; ResultType may be a string or a number.
type laRow struct {
	ID                  ident         `json:"Id"`
	TimeGenerated       text          `json:"TimeGenerated"`
	CreatedDateTime     text          `json:"CreatedDateTime"`
	UserID              ident         `json:"UserId"`
	UserPrincipalName   ident         `json:"UserPrincipalName"`
	UserDisplayName     text          `json:"UserDisplayName"`
	AppID               text          `json:"AppId"`
	AppDisplayName      text          `json:"AppDisplayName"`
	ResourceDisplayName text          `json:"ResourceDisplayName"`
	IPAddress           text          `json:"IPAddress"`
	Location            text          `json:"Location"`
	LocationDetails     dyn[location] `json:"LocationDetails"`
	ResultType          text          `json:"ResultType"`
	ResultDescription   text          `json:"ResultDescription"`
	Status              dyn[struct {
		ErrorCode     text `json:"errorCode"`
		FailureReason text `json:"failureReason"`
	}] `json:"Status"`
	ClientAppUsed             text     `json:"ClientAppUsed"`
	ConditionalAccessStatus   text     `json:"ConditionalAccessStatus"`
	AuthenticationRequirement text     `json:"AuthenticationRequirement"`
	IsInteractive             flexBool `json:"IsInteractive"`
	CorrelationID             text     `json:"CorrelationId"`
	ServicePrincipalID        text     `json:"ServicePrincipalId"`
	ServicePrincipalName      text     `json:"ServicePrincipalName"`

	OperationName       text           `json:"OperationName"`
	ActivityDisplayName text           `json:"ActivityDisplayName"`
	ActivityDateTime    text           `json:"ActivityDateTime"`
	Category            text           `json:"Category"`
	Result              text           `json:"Result"`
	ResultReason        text           `json:"ResultReason"`
	LoggedByService     text           `json:"LoggedByService"`
	AADOperationType    text           `json:"AADOperationType"`
	InitiatedBy         dyn[initiator] `json:"InitiatedBy"`
	TargetResources     dyn[[]target]  `json:"TargetResources"`
}

// decodeLogAnalytics decodes a row. Column names are matched exactly as Log
// Analytics writes them; encoding/json would also accept other casings,
// which is harmless here because no two columns differ only in case.
func decodeLogAnalytics(rec []byte, ev *entra.Event) error {
	var r laRow
	if err := unmarshal(rec, &r); err != nil {
		return err
	}
	ev.ID, ev.CorrelationID = string(r.ID), string(r.CorrelationID)
	if ev.Kind == entra.KindAudit {
		ts := r.ActivityDateTime
		if ts == "" {
			ts = r.TimeGenerated
		}
		t, err := ParseTime(string(ts))
		if err != nil {
			return badField("ActivityDateTime: %v", err)
		}
		ev.Time = t
		ev.Operation = strings.TrimSpace(string(r.ActivityDisplayName))
		if ev.Operation == "" {
			ev.Operation = strings.TrimSpace(string(r.OperationName))
		}
		ev.AuditCategory, ev.OperationType = string(r.Category), string(r.AADOperationType)
		ev.Result, ev.ResultReason, ev.LoggedByService = auditResult(r.Result), string(r.ResultReason), string(r.LoggedByService)
		fillActors(ev, r.InitiatedBy.V, r.TargetResources.V)
		return nil
	}
	ts := r.CreatedDateTime
	if ts == "" {
		ts = r.TimeGenerated
	}
	t, err := ParseTime(string(ts))
	if err != nil {
		return badField("TimeGenerated: %v", err)
	}
	ev.Time = t
	ev.UserID, ev.UserPrincipalName, ev.UserDisplayName = string(r.UserID), string(r.UserPrincipalName), string(r.UserDisplayName)
	ev.AppID, ev.AppDisplayName, ev.ResourceDisplayName = string(r.AppID), string(r.AppDisplayName), string(r.ResourceDisplayName)
	ev.IPAddress, ev.ClientAppUsed = string(r.IPAddress), string(r.ClientAppUsed)
	ev.ConditionalAccess, ev.AuthRequirement = string(r.ConditionalAccessStatus), string(r.AuthenticationRequirement)
	ev.ServicePrincipalID, ev.ServicePrincipal = string(r.ServicePrincipalID), string(r.ServicePrincipalName)
	ev.Interactive = r.IsInteractive.V || (!r.IsInteractive.Set && ev.Category == entra.CategorySignIn)
	ev.ResultType, ev.ResultDescription = string(r.ResultType), string(r.ResultDescription)
	if ev.ResultType == "" && r.Status.OK {
		ev.ResultType = string(r.Status.V.ErrorCode)
	}
	if ev.ResultDescription == "" && r.Status.OK {
		ev.ResultDescription = string(r.Status.V.FailureReason)
	}
	if r.LocationDetails.OK {
		ev.Location = r.LocationDetails.V.String()
	}
	if ev.Location == "" {
		ev.Location = string(r.Location)
	}
	return nil
}
