// Package canary is serve's daily synthetic check of its own pipeline
// (issue 11, item 6). Every canary.every it pushes one synthetic, clearly
// marked sign-in record of a configured canary identity through the
// daemon's own ingest path, then verifies that detection stored its alert
// (rule bg.canary) and that every channel of the canary's test group
// delivered it. A run that does not get through raises bg.canary_failed
// (Sev1) to the real groups, naming the step that failed; the next
// successful run resolves it. This proves, between quarterly drills, that
// a break-glass sign-in would still reach people.
//
// The canary never looks like a break-glass alert: its record carries
// marks no real Entra record has (an id prefix, an application name, an
// address from the documentation range), its rule is its own, at Sev4,
// and its title starts with CANARY TEST. The canary identity is not a
// break-glass account: it is matched by the canary's own rule only, so
// posture, incidents of accounts and account status never list it.
package canary

import (
	"encoding/json"
	"strings"
	"time"

	"breakglass/internal/entra"
)

// Marks of the synthetic record and of its alert. They are part of the
// contract with people reading alerts and logs, so they stay stable.
const (
	// Source is the source name the canary's records are ingested under,
	// and the source of bg.canary_failed.
	Source = "canary"
	// Label is the label key bg.canary alerts carry, with value "true":
	// routing sends such alerts to the canary group only.
	Label = "canary"
	// AppDisplayName is the record's application: no Entra application
	// has it, and it says what the record is to anyone who reads it.
	AppDisplayName = "breakglass canary"
	// IDPrefix starts the record's id and correlation id. Entra ids are
	// GUIDs, so no real record can carry it.
	IDPrefix = "breakglass-canary-"
	// IPAddress is from TEST-NET-1 (RFC 5737), which never appears on
	// the internet: a reader sees at once that no real client signed in.
	IPAddress = "192.0.2.1"
	// Actor is who the canary's state changes of alerts are recorded as.
	Actor = "canary"
)

// Identity is the canary identity: a test user that is not a
// break-glass account. ID and/or UPN are set.
type Identity struct {
	ID  string
	UPN string
}

// Label names the identity for people.
func (i Identity) Label() string {
	if i.UPN != "" {
		return i.UPN
	}
	return i.ID
}

func (i Identity) account() entra.Account {
	return entra.Account{ID: i.ID, UPN: i.UPN, Name: "canary test identity"}
}

// EventID is the record id of run runID.
func EventID(runID string) string { return IDPrefix + runID }

// Marked reports whether ev carries the canary's marks. A real record of
// the canary identity (if it exists in the tenant) is not the canary's
// business and does not alert; a marked record of anyone else is matched
// by nothing but the real rules.
func Marked(ev *entra.Event) bool {
	return strings.HasPrefix(ev.ID, IDPrefix) && ev.AppDisplayName == AppDisplayName
}

// Record is the synthetic sign-in of run runID at time at, in the shape of
// a Microsoft Graph signIn (v1.0, one object on one line), so that it goes
// through the same splitting, classification, decoding and rules as a
// record read from Graph or a file. It is a successful interactive sign-in from
// the documentation address range.
func Record(id Identity, runID string, at time.Time) []byte {
	type status struct {
		ErrorCode         int    `json:"errorCode"`
		FailureReason     string `json:"failureReason"`
		AdditionalDetails string `json:"additionalDetails"`
	}
	type location struct {
		City            string `json:"city"`
		CountryOrRegion string `json:"countryOrRegion"`
	}
	rec := struct {
		Context                 string   `json:"@odata.context"`
		ID                      string   `json:"id"`
		CreatedDateTime         string   `json:"createdDateTime"`
		UserDisplayName         string   `json:"userDisplayName"`
		UserPrincipalName       string   `json:"userPrincipalName,omitempty"`
		UserID                  string   `json:"userId,omitempty"`
		AppDisplayName          string   `json:"appDisplayName"`
		IPAddress               string   `json:"ipAddress"`
		ClientAppUsed           string   `json:"clientAppUsed"`
		CorrelationID           string   `json:"correlationId"`
		ConditionalAccessStatus string   `json:"conditionalAccessStatus"`
		IsInteractive           bool     `json:"isInteractive"`
		ResourceDisplayName     string   `json:"resourceDisplayName"`
		Status                  status   `json:"status"`
		Location                location `json:"location"`
	}{
		Context:                 "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns/$entity",
		ID:                      EventID(runID),
		CreatedDateTime:         at.UTC().Format(time.RFC3339Nano),
		UserDisplayName:         "breakglass canary (synthetic test identity)",
		UserPrincipalName:       id.UPN,
		UserID:                  id.ID,
		AppDisplayName:          AppDisplayName,
		IPAddress:               IPAddress,
		ClientAppUsed:           "breakglass canary",
		CorrelationID:           EventID(runID),
		ConditionalAccessStatus: "notApplied",
		IsInteractive:           true, // category SignInLogs, the path a person's emergency sign-in takes
		ResourceDisplayName:     "breakglass canary",
		Status: status{AdditionalDetails: "Synthetic record pushed by breakglass serve's daily canary to test its own pipeline. " +
			"Not a real sign-in."},
		Location: location{City: "breakglass canary", CountryOrRegion: "ZZ"},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		panic("canary: marshalling the record: " + err.Error()) // plain strings and numbers cannot fail
	}
	return append(b, '\n')
}
