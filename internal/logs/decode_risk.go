package logs

import (
	"strings"
	"time"

	"breakglass/internal/entra"
)

// riskDetection is an Identity Protection risk detection: the Graph
// riskDetection resource, the properties of a UserRiskEvents diagnostic
// record (the same object, plus riskType) and an AADUserRiskEvents row
// (PascalCase; IpAddress; Location as dynamic). Field lists: see
// testdata/categories/SOURCES.md.
type riskDetection struct {
	ID                  ident         `json:"id"`
	RequestID           text          `json:"requestId"`
	CorrelationID       text          `json:"correlationId"`
	RiskEventType       text          `json:"riskEventType"`
	RiskType            text          `json:"riskType"`
	RiskState           text          `json:"riskState"`
	RiskLevel           text          `json:"riskLevel"`
	RiskDetail          text          `json:"riskDetail"`
	Source              text          `json:"source"`
	DetectionTimingType text          `json:"detectionTimingType"`
	Activity            text          `json:"activity"`
	TokenIssuerType     text          `json:"tokenIssuerType"`
	IPAddress           text          `json:"ipAddress"`
	Location            dyn[location] `json:"location"`
	ActivityDateTime    text          `json:"activityDateTime"`
	DetectedDateTime    text          `json:"detectedDateTime"`
	LastUpdatedDateTime text          `json:"lastUpdatedDateTime"`
	TimeGenerated       text          `json:"TimeGenerated"`
	UserID              ident         `json:"userId"`
	UserDisplayName     text          `json:"userDisplayName"`
	UserPrincipalName   ident         `json:"userPrincipalName"`
}

func decodeRiskEvent(rec []byte, c Class, ev *entra.Event) error {
	var r riskDetection
	var env envelope
	body := rec
	if c.Shape == ShapeDiagnostic {
		var err error
		if env, body, err = splitDiagnostic(rec); err != nil {
			return decodeErr(err)
		}
	}
	if err := unmarshal(body, &r); err != nil {
		return decodeErr(prefixErr(propsPrefix(c), err))
	}
	if err := firstTime(ev, [2]string{"activityDateTime", string(r.ActivityDateTime)}, [2]string{"detectedDateTime", string(r.DetectedDateTime)},
		[2]string{"TimeGenerated", string(r.TimeGenerated)}, [2]string{"time", string(env.Time)}); err != nil {
		return err
	}
	ev.ID = string(r.ID)
	ev.CorrelationID = firstNonEmptyText(r.CorrelationID, env.CorrelationID)
	ev.UserID, ev.UserPrincipalName, ev.UserDisplayName = string(r.UserID), string(r.UserPrincipalName), string(r.UserDisplayName)
	ev.IPAddress = firstNonEmptyText(r.IPAddress, env.CallerIPAddress)
	if r.Location.OK {
		ev.Location = r.Location.V.String()
	}
	x := &ev.Extra
	x.RiskEventType = firstNonEmptyText(r.RiskEventType, r.RiskType)
	x.RiskLevel, x.RiskState, x.RiskDetail, x.RiskSource = string(r.RiskLevel), string(r.RiskState), string(r.RiskDetail), string(r.Source)
	ev.Operation = x.RiskEventType
	ev.Result = x.RiskState
	return nil
}

// riskyUser is Identity Protection's risk state of one user: the Graph
// riskyUser resource, the properties of a RiskyUsers diagnostic record and
// an AADRiskyUsers row. Its id is the user's object id.
type riskyUser struct {
	ID                      ident    `json:"id"`
	UserID                  ident    `json:"userId"`
	UserPrincipalName       ident    `json:"userPrincipalName"`
	UserDisplayName         text     `json:"userDisplayName"`
	RiskLevel               text     `json:"riskLevel"`
	RiskState               text     `json:"riskState"`
	RiskDetail              text     `json:"riskDetail"`
	RiskLastUpdatedDateTime text     `json:"riskLastUpdatedDateTime"`
	IsDeleted               flexBool `json:"isDeleted"`
	CorrelationID           text     `json:"correlationId"`
	TimeGenerated           text     `json:"TimeGenerated"`
}

func decodeRiskyUser(rec []byte, c Class, ev *entra.Event) error {
	var r riskyUser
	var env envelope
	body := rec
	if c.Shape == ShapeDiagnostic {
		var err error
		if env, body, err = splitDiagnostic(rec); err != nil {
			return decodeErr(err)
		}
	}
	if err := unmarshal(body, &r); err != nil {
		return decodeErr(prefixErr(propsPrefix(c), err))
	}
	if err := firstTime(ev, [2]string{"riskLastUpdatedDateTime", string(r.RiskLastUpdatedDateTime)},
		[2]string{"TimeGenerated", string(r.TimeGenerated)}, [2]string{"time", string(env.Time)}); err != nil {
		return err
	}
	ev.UserID = string(r.UserID)
	if ev.UserID == "" {
		ev.UserID = string(r.ID)
	}
	ev.UserPrincipalName, ev.UserDisplayName = string(r.UserPrincipalName), string(r.UserDisplayName)
	// The record's id is the user's, so every state of one user would share
	// it; the state's own key is the user plus when the state changed, which
	// every shape of the same change agrees on.
	if ev.UserID != "" || ev.UserPrincipalName != "" {
		ev.ID = "riskyUser/" + entra.FoldASCII(firstNonEmptyText(text(ev.UserID), text(ev.UserPrincipalName))) + "/" +
			ev.Time.UTC().Format(time.RFC3339Nano) + "/" + strings.ToLower(string(r.RiskState)) + "/" + strings.ToLower(string(r.RiskLevel))
	}
	ev.CorrelationID = firstNonEmptyText(r.CorrelationID, env.CorrelationID)
	x := &ev.Extra
	x.RiskLevel, x.RiskState, x.RiskDetail = string(r.RiskLevel), string(r.RiskState), string(r.RiskDetail)
	ev.Operation = "riskyUser"
	ev.Result = x.RiskState
	return nil
}
