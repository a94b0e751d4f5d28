package preserve

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/store"
)

// statusIncidentLogs is how many of an account's newest incidents Status
// reads the evidence of, looking for pulled sign-ins newer than its last
// sign-in alert: older incidents cannot hold a newer one than a later
// incident's alert.
const statusIncidentLogs = 5

// StatusStore is what Status reads: nothing from Graph, so the answer
// holds after Entra's own retention has forgotten the sign-ins.
type StatusStore interface {
	Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
}

// AccountStatus is one account's line of `accounts status`.
type AccountStatus struct {
	AccountID   string `json:"account_id,omitempty"`
	AccountUPN  string `json:"account_upn,omitempty"`
	AccountName string `json:"account_name,omitempty"`
	// Configured is false for an account found only in stored incidents
	// (a member of a configured group).
	Configured   bool          `json:"configured"`
	LastSignIn   *LastSignIn   `json:"last_sign_in"`
	LastIncident *LastIncident `json:"last_incident"`
}

// LastSignIn is the newest sign-in breakglass kept for the account.
type LastSignIn struct {
	Time      time.Time `json:"time"`
	Result    string    `json:"result,omitempty"`
	App       string    `json:"app,omitempty"`
	IPAddress string    `json:"ip_address,omitempty"`
	// From names the evidence: "alert <id>", or "evidence of incident
	// <id>" for a record kept only there (a Graph pull).
	From string `json:"from"`
}

// LastIncident is the account's newest incident.
type LastIncident struct {
	ID             string    `json:"id"`
	State          string    `json:"state"`
	Opened         time.Time `json:"opened"`
	Classification string    `json:"classification,omitempty"` // "" until reviewed
	ReviewedBy     string    `json:"reviewed_by,omitempty"`
}

// Status reports, for each account (then for each account that only
// stored incidents name), its last sign-in and last incident, from the
// store alone.
func Status(ctx context.Context, st StatusStore, accounts []entra.Account) ([]AccountStatus, error) {
	incs, err := st.Incidents(ctx, store.IncidentFilter{Kind: store.IncidentAccount})
	if err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	var out []AccountStatus
	seen := map[string]bool{}
	add := func(a entra.Account, configured bool) error {
		s := AccountStatus{AccountID: a.ID, AccountUPN: a.UPN, AccountName: a.Name, Configured: configured}
		mine := accountIncidents(incs, a)
		if len(mine) > 0 {
			inc := mine[0]
			s.LastIncident = &LastIncident{ID: inc.ID, State: inc.State, Opened: inc.Opened}
			if inc.Review != nil {
				s.LastIncident.Classification, s.LastIncident.ReviewedBy = inc.Review.Class, inc.Review.By
			}
		}
		last, err := lastSignIn(ctx, st, a, mine)
		if err != nil {
			return err
		}
		s.LastSignIn = last
		out = append(out, s)
		return nil
	}
	for _, a := range accounts {
		seen[strings.ToLower(a.ID)], seen[strings.ToLower(a.UPN)] = true, true
		if err := add(a, true); err != nil {
			return nil, err
		}
	}
	for _, inc := range incs { // newest first
		id, upn := strings.ToLower(inc.AccountID), strings.ToLower(inc.AccountUPN)
		if (id != "" && seen[id]) || (id == "" && seen[upn]) {
			continue
		}
		seen[id], seen[upn] = true, true
		if err := add(entra.Account{ID: inc.AccountID, UPN: inc.AccountUPN}, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// accountIncidents are the incidents of a, newest first (incs is).
func accountIncidents(incs []store.Incident, a entra.Account) []store.Incident {
	var out []store.Incident
	for _, inc := range incs {
		if sameAccount(a, inc.AccountID, inc.AccountUPN) {
			out = append(out, inc)
		}
	}
	return out
}

func sameAccount(a entra.Account, id, upn string) bool {
	if a.ID != "" && id != "" {
		return strings.EqualFold(a.ID, id)
	}
	return a.UPN != "" && strings.EqualFold(a.UPN, upn)
}

// lastSignIn is the newest of the account's sign-in alerts and of the
// sign-in records kept in its newest incidents' evidence (pulled from
// Graph, which may hold sign-ins that never alerted: those before
// breakglass watched, within the context window).
func lastSignIn(ctx context.Context, st StatusStore, a entra.Account, incs []store.Incident) (*LastSignIn, error) {
	f := store.AlertFilter{Rule: detect.RuleSignIn, AccountID: a.ID}
	if a.ID != "" {
		f.Limit = 1
	}
	as, err := st.Alerts(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("reading sign-in alerts: %w", err)
	}
	var best *LastSignIn
	for _, al := range as { // newest event first
		if !sameAccount(a, al.AccountID, al.AccountUPN) {
			continue
		}
		best = &LastSignIn{Time: al.EventTime.UTC(), Result: al.Result, App: al.App, IPAddress: al.IPAddress, From: "alert " + al.ID}
		break
	}
	for i, inc := range incs {
		if i == statusIncidentLogs {
			break
		}
		es, err := st.IncidentLog(ctx, inc.ID)
		if err != nil {
			return nil, fmt.Errorf("reading the evidence of incident %s: %w", inc.ID, err)
		}
		for _, e := range es {
			if e.Kind != store.LogRecord && e.Kind != store.LogPull {
				continue
			}
			if s, ok := pulledSignIn(e.Content, a); ok && (best == nil || s.Time.After(best.Time)) {
				s.From = "evidence of incident " + inc.ID
				best = s
			}
		}
	}
	return best, nil
}

// pulledSignIn reads a sign-in record Graph returned, if content is one of
// a's.
func pulledSignIn(content []byte, a entra.Account) (*LastSignIn, bool) {
	var r struct {
		CreatedDateTime   time.Time `json:"createdDateTime"`
		UserID            string    `json:"userId"`
		UserPrincipalName string    `json:"userPrincipalName"`
		AppDisplayName    string    `json:"appDisplayName"`
		IPAddress         string    `json:"ipAddress"`
		Status            *struct {
			ErrorCode *int `json:"errorCode"`
		} `json:"status"`
	}
	if json.Unmarshal(content, &r) != nil || r.CreatedDateTime.IsZero() || (r.UserID == "" && r.UserPrincipalName == "") {
		return nil, false
	}
	if !sameAccount(a, r.UserID, r.UserPrincipalName) {
		return nil, false
	}
	s := &LastSignIn{Time: r.CreatedDateTime.UTC(), App: r.AppDisplayName, IPAddress: r.IPAddress, Result: "result unknown"}
	if r.Status != nil && r.Status.ErrorCode != nil {
		s.Result = "success"
		if *r.Status.ErrorCode != 0 {
			s.Result = fmt.Sprintf("failure %d", *r.Status.ErrorCode)
		}
	}
	return s, true
}
