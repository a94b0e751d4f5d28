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
	n := notes{ev}
	env, b, err := body(rec, c, ev, n)
	if err != nil || b == nil {
		return decodeErr(err)
	}
	var r riskDetection
	pre := propsPrefix(c)
	if err := unmarshal(b, &r, n, pre); err != nil {
		return decodeErr(err)
	}
	n.time(timeField{pre + "activityDateTime", r.ActivityDateTime}, timeField{pre + "detectedDateTime", r.DetectedDateTime},
		timeField{"TimeGenerated", r.TimeGenerated}, timeField{"time", env.Time})
	ev.ID = n.plain(pre+"id", r.ID)
	ev.CorrelationID = firstNonEmptyText(r.CorrelationID, env.CorrelationID)
	ev.UserID = n.userID(pre+"userId", "user", r.UserID)
	ev.UserPrincipalName = n.id(pre+"userPrincipalName", "user", r.UserPrincipalName)
	ev.UserDisplayName = string(r.UserDisplayName)
	noIdentity(n, pre+"userId", ev.UserID, ev.UserPrincipalName)
	ev.IPAddress = firstNonEmptyText(r.IPAddress, env.CallerIPAddress)
	dynBad(n, pre+"location", r.Location, false)
	if r.Location.OK {
		r.Location.V.fill(ev)
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
	n := notes{ev}
	env, b, err := body(rec, c, ev, n)
	if err != nil || b == nil {
		return decodeErr(err)
	}
	var r riskyUser
	pre := propsPrefix(c)
	if err := unmarshal(b, &r, n, pre); err != nil {
		return decodeErr(err)
	}
	n.time(timeField{pre + "riskLastUpdatedDateTime", r.RiskLastUpdatedDateTime}, timeField{"TimeGenerated", r.TimeGenerated}, timeField{"time", env.Time})
	ev.UserID = n.userID(pre+"userId", "user", r.UserID)
	if ev.UserID == "" {
		ev.UserID = n.userID(pre+"id", "user", r.ID)
	}
	ev.UserPrincipalName = n.id(pre+"userPrincipalName", "user", r.UserPrincipalName)
	ev.UserDisplayName = string(r.UserDisplayName)
	noIdentity(n, pre+"id", ev.UserID, ev.UserPrincipalName)
	// The record's id is the user's, so every state of one user would share
	// it; the state's own key is the user plus when and to what the state
	// changed, which every shape of the same change agrees on.
	if who := firstNonEmptyText(text(ev.UserID), text(ev.UserPrincipalName)); who != "" {
		when := "time-unknown"
		if !ev.TimeUnknown {
			when = ev.Time.UTC().Format(time.RFC3339Nano)
		}
		ev.ID = "riskyUser/" + entra.FoldASCII(who) + "/" + when + "/" + strings.ToLower(string(r.RiskState)) + "/" + strings.ToLower(string(r.RiskLevel))
	}
	ev.CorrelationID = firstNonEmptyText(r.CorrelationID, env.CorrelationID)
	x := &ev.Extra
	x.RiskLevel, x.RiskState, x.RiskDetail = string(r.RiskLevel), string(r.RiskState), string(r.RiskDetail)
	ev.Operation = "riskyUser"
	ev.Result = x.RiskState
	return nil
}
