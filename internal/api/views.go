package api

import (
	"encoding/json"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/drill"
	"breakglass/internal/incident"
	"breakglass/internal/posture"
	"breakglass/internal/preserve"
	"breakglass/internal/store"
)

// The JSON bodies. Field names are the API's contract: add, never rename.

// AlertList is a page of alerts, newest first. Next is the cursor of the
// following page, "" after the last.
type AlertList struct {
	Alerts []alert.Alert `json:"alerts"`
	Next   string        `json:"next"`
}

// AlertDetail is one alert with its lifecycle history.
type AlertDetail struct {
	Alert   alert.Alert   `json:"alert"`
	History []StateChange `json:"history"`
}

// StateChange is one move of an alert's state.
type StateChange struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	By   string    `json:"by"`
	Via  string    `json:"via,omitempty"`
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// Delivery is one notification of an alert to one target.
type Delivery struct {
	ID          int64     `json:"id"`
	AlertID     string    `json:"alert_id"`
	Status      string    `json:"status"`
	Target      string    `json:"target"`
	Attempts    int       `json:"attempts"`
	State       string    `json:"state"` // pending, delivered or dead
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Delivered   time.Time `json:"delivered,omitzero"`
	DeadAt      time.Time `json:"dead_at,omitzero"`
	DeadReason  string    `json:"dead_reason,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	Pruned      bool      `json:"pruned,omitempty"`
}

// DeliveryList is the deliveries of one alert, or the dead letters.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
}

// IncidentList is incidents, newest first.
type IncidentList struct {
	Incidents []incident.View `json:"incidents"`
}

// IncidentDetail is one incident with its timeline and evidence.
type IncidentDetail struct {
	Incident incident.View    `json:"incident"`
	Timeline []IncidentChange `json:"timeline"`
	Evidence []EvidenceEntry  `json:"evidence"`
	// Verified is the evidence chain's verdict for this incident: "ok",
	// "failed" (Problems say why) or "unchecked".
	Verified string   `json:"verified"`
	Problems []string `json:"problems,omitempty"`
	// Suggested is the classification breakglass suggests before a
	// review: a drill's sign-in pre-classifies its incident as a drill,
	// which a reviewer confirms.
	Suggested *drill.Classification `json:"suggested,omitempty"`
	// NotTheDrill are the incident's alerts the suggested drill does not
	// explain (neither its sign-in nor labelled as its): confirming the
	// incident as a drill classifies them too.
	NotTheDrill []string `json:"not_the_drill,omitempty"`
}

// IncidentChange is one move of an incident's state.
type IncidentChange struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

// EvidenceEntry is one entry of the evidence chain. Content is JSON when
// the entry's content is JSON, else a string.
type EvidenceEntry struct {
	Seq           int64     `json:"seq"`
	Kind          string    `json:"kind"`
	Ref           string    `json:"ref"`
	At            time.Time `json:"at"`
	ContentSHA256 string    `json:"content_sha256"`
	Hash          string    `json:"hash"`
	Prev          string    `json:"prev"`
	// Content is null and Pruned true once the incident was pruned (its
	// header and hash stay in the chain; incidents prune).
	Content json.RawMessage `json:"content"`
	Pruned  bool            `json:"pruned,omitempty"`
}

// Drill is one drill.
type Drill struct {
	ID         string            `json:"id"`
	AccountID  string            `json:"account_id"`
	AccountUPN string            `json:"account_upn"`
	State      string            `json:"state"`
	WindowFrom time.Time         `json:"window_from"`
	WindowTo   time.Time         `json:"window_to"`
	By         string            `json:"by"`
	Note       string            `json:"note,omitempty"`
	Started    time.Time         `json:"started,omitzero"`
	Finished   time.Time         `json:"finished,omitzero"`
	Result     string            `json:"result,omitempty"`
	FailedStep string            `json:"failed_step,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	AlertID    string            `json:"alert_id,omitempty"`
	IncidentID string            `json:"incident_id,omitempty"`
	Attest     map[string]string `json:"attest"`
	Measured   json.RawMessage   `json:"measured,omitempty"`
}

// DrillList is drills, newest window first.
type DrillList struct {
	Drills []Drill `json:"drills"`
}

// Account is one break-glass account with its status.
type Account struct {
	preserve.AccountStatus
	// Posture is the account's results in the latest audit (empty before
	// the first audit or without one).
	Posture       []posture.Result `json:"posture"`
	LastDrill     *Drill           `json:"last_drill"`
	OpenIncidents []string         `json:"open_incidents"`
	// DrillDue is when the next drill is due (drill.interval after the
	// last passed one; never passed: due now), DrillOverdue once it has
	// passed; both absent when the server does not know drill.interval.
	DrillDue     *time.Time `json:"drill_due,omitempty"`
	DrillOverdue bool       `json:"drill_overdue,omitempty"`
	// DrillStatusError says why DrillDue is unknown (it could not be
	// worked out: never read as "not due").
	DrillStatusError string `json:"drill_status_error,omitempty"`
}

// AccountList is every account.
type AccountList struct {
	Accounts []Account `json:"accounts"`
}

// Posture is the latest posture audit the caller asked for and may see:
// Report is the one of ?tenant= (or, without it, the newest of the
// tenants shown), nil before the first audit; Reports is every shown
// tenant's latest, in tenant order.
type Posture struct {
	Report  *posture.Report `json:"report"`
	Reports []TenantReport  `json:"reports"`
}

// TenantReport is one tenant's latest posture audit.
type TenantReport struct {
	// Tenant is the tenant id, lower-case ("" for a config without
	// tenants:).
	Tenant string `json:"tenant"`
	// Name is the tenant's configured name, when it has one.
	Name   string          `json:"name,omitempty"`
	Report *posture.Report `json:"report"`
}

func stateChanges(cs []store.StateChange) []StateChange {
	out := []StateChange{}
	for _, c := range cs {
		out = append(out, StateChange{From: c.From, To: c.To, By: c.By, Via: c.Via, Note: c.Note, At: c.At.UTC()})
	}
	return out
}

func deliveryOf(d store.Delivery) Delivery {
	v := Delivery{ID: d.ID, AlertID: d.AlertID, Status: d.Status, Target: d.Target, Attempts: d.Attempts,
		Delivered: d.Delivered.UTC(), DeadAt: d.DeadAt.UTC(), DeadReason: d.DeadReason, LastError: d.LastError,
		Created: d.Created.UTC(), Pruned: d.Pruned}
	switch {
	case !d.Delivered.IsZero():
		v.State = "delivered"
	case !d.DeadAt.IsZero():
		v.State = "dead"
	default:
		v.State = "pending"
		v.NextAttempt = d.NextAttempt.UTC()
	}
	if d.Delivered.IsZero() {
		v.Delivered = time.Time{}
	}
	if d.DeadAt.IsZero() {
		v.DeadAt = time.Time{}
	}
	if d.Created.IsZero() {
		v.Created = time.Time{}
	}
	return v
}

func drillOf(d store.Drill) Drill {
	v := Drill{ID: d.ID, AccountID: d.AccountID, AccountUPN: d.AccountUPN, State: d.State,
		WindowFrom: d.At.UTC(), WindowTo: d.At.Add(d.Window).UTC(), By: d.By, Note: d.Note,
		Result: d.Result, FailedStep: d.FailedStep, Reason: d.Reason, AlertID: d.AlertID,
		IncidentID: d.IncidentID, Attest: d.Attest}
	if !d.Started.IsZero() {
		v.Started = d.Started.UTC()
	}
	if !d.Finished.IsZero() {
		v.Finished = d.Finished.UTC()
	}
	if v.Attest == nil {
		v.Attest = map[string]string{}
	}
	if json.Valid(d.Measured) {
		v.Measured = d.Measured
	}
	return v
}

func evidenceOf(e store.LogEntry) EvidenceEntry {
	v := EvidenceEntry{Seq: e.Seq, Kind: e.Kind, Ref: e.Ref, At: e.At.UTC(), ContentSHA256: e.ContentSHA256,
		Hash: e.Hash, Prev: e.Prev}
	if !e.Pruned.IsZero() {
		v.Pruned, v.Content = true, json.RawMessage("null")
	} else if len(e.Content) > 0 && json.Valid(e.Content) {
		v.Content = e.Content
	} else {
		b, _ := json.Marshal(string(e.Content))
		v.Content = b
	}
	return v
}
