package incident

import (
	"time"

	"breakglass/internal/store"
)

// View is an incident as people and programs see it outside the store:
// the JSON of `incidents list/show --format json` and of the API. Its
// field names are a contract; add fields, never rename them.
type View struct {
	ID         string      `json:"id"`
	State      string      `json:"state"`
	Kind       string      `json:"kind"`
	Key        string      `json:"key"`
	AccountID  string      `json:"account_id"`
	AccountUPN string      `json:"account_upn"`
	Opened     time.Time   `json:"opened"`
	FirstEvent time.Time   `json:"first_event"`
	LastEvent  time.Time   `json:"last_event"`
	Updated    time.Time   `json:"updated"`
	Previous   string      `json:"previous,omitempty"`
	Alerts     []string    `json:"alerts"`
	Review     *ReviewView `json:"review"`
	Pruned     *PrunedView `json:"pruned,omitempty"`
}

// PrunedView is the tombstone of a pruned incident in View.
type PrunedView struct {
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
	Closed  time.Time `json:"closed"`
	Bundle  string    `json:"bundle_sha256,omitempty"`
	Entries int       `json:"entries"`
	Seq     int64     `json:"prune_seq"`
}

// PrunedViewOf returns the View of a tombstone (nil for none).
func PrunedViewOf(p *store.IncidentPrune) *PrunedView {
	if p == nil {
		return nil
	}
	return &PrunedView{At: p.At.UTC(), Reason: p.Reason, Closed: p.Closed.UTC(), Bundle: p.Bundle, Entries: p.Entries, Seq: p.Seq}
}

// ReviewView is an incident's review in View.
type ReviewView struct {
	Class  string            `json:"class"`
	By     string            `json:"by"`
	At     time.Time         `json:"at"`
	Note   string            `json:"note"`
	Attest map[string]string `json:"attest"`
}

// ViewOf returns the View of a stored incident: times in UTC, empty lists
// and maps as [] and {} rather than null.
func ViewOf(inc store.Incident) View {
	v := View{ID: inc.ID, State: inc.State, Kind: inc.Kind, Key: inc.Key, AccountID: inc.AccountID,
		AccountUPN: inc.AccountUPN, Opened: inc.Opened.UTC(), FirstEvent: inc.FirstEvent.UTC(),
		LastEvent: inc.LastEvent.UTC(), Updated: inc.Updated.UTC(), Previous: inc.Previous, Alerts: inc.Alerts,
		Pruned: PrunedViewOf(inc.Pruned)}
	if v.Alerts == nil {
		v.Alerts = []string{}
	}
	if r := inc.Review; r != nil {
		v.Review = &ReviewView{Class: r.Class, By: r.By, At: r.At.UTC(), Note: r.Note, Attest: r.Attest}
		if v.Review.Attest == nil {
			v.Review.Attest = map[string]string{}
		}
	}
	return v
}
