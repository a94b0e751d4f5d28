package drill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/store"
)

// AccountStatus is one account's drills, for drill status.
type AccountStatus struct {
	AccountID  string `json:"account_id,omitempty"`
	AccountUPN string `json:"account_upn,omitempty"`
	Name       string `json:"name,omitempty"`
	// LastPassed is the last passed drill, for auditors; nil: none.
	LastPassed *Summary `json:"last_passed,omitempty"`
	// Due is when the next drill is due (drill.interval after the last
	// passed one); Overdue once it has passed. Never drilled: due now.
	Due     *time.Time `json:"due,omitempty"`
	Overdue bool       `json:"overdue"`
	// Drills are the account's drills, newest first: planned, running,
	// passed and failed.
	Drills []Summary `json:"drills"`
}

// Summary is one drill in a listing.
type Summary struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	Result     string     `json:"result"` // passed, failed or running ("" while planned)
	FailedStep string     `json:"failed_step,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	WindowFrom time.Time  `json:"window_from"`
	WindowTo   time.Time  `json:"window_to"`
	Finished   *time.Time `json:"finished,omitempty"`
	By         string     `json:"by,omitempty"`
}

// Due is when a drill is due again after one passed at last: interval
// later. The zero time (never passed) is due at once. s6-schedule's
// reminders and bg.drill_overdue use this same rule.
func Due(last time.Time, interval time.Duration) time.Time {
	if last.IsZero() {
		return time.Time{}
	}
	return last.Add(interval)
}

// PassedAt is the time a passed drill counts from: when it was finished.
func PassedAt(d store.Drill) time.Time { return d.Finished }

// LastPassed returns the account's last passed drill (by PassedAt).
func LastPassed(ctx context.Context, st store.Drills, accountID, upn string) (store.Drill, bool, error) {
	ds, err := accountDrills(ctx, st, accountID, upn, store.DrillFilter{Result: store.DrillPassed})
	if err != nil {
		return store.Drill{}, false, err
	}
	var best store.Drill
	found := false
	for _, d := range ds {
		if !found || PassedAt(d).After(PassedAt(best)) {
			best, found = d, true
		}
	}
	return best, found, nil
}

// accountDrills lists the drills of an account named by id and/or UPN
// (drills store both; an account configured by UPN alone has no id).
func accountDrills(ctx context.Context, st store.Drills, id, upn string, f store.DrillFilter) ([]store.Drill, error) {
	all, err := st.Drills(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("reading drills: %w", err)
	}
	var out []store.Drill
	for _, d := range all {
		if (id != "" && strings.EqualFold(d.AccountID, id)) || (id == "" && upn != "" && strings.EqualFold(d.AccountUPN, upn)) {
			out = append(out, d)
		}
	}
	return out, nil
}

func summarize(r Report) Summary {
	return Summary{ID: r.ID, State: r.State, Result: r.Result, FailedStep: r.FailedStep, Reason: r.Reason,
		WindowFrom: r.WindowFrom, WindowTo: r.WindowTo, Finished: r.Finished, By: r.By}
}

// Status lists every configured account's drills and when the next is
// due, evaluating running drills at now.
func (e Evaluator) Status(ctx context.Context, st Store, accounts []entra.Account, interval time.Duration, now time.Time) ([]AccountStatus, error) {
	var out []AccountStatus
	for _, a := range accounts {
		if a.IsGroup() {
			continue
		}
		ds, err := accountDrills(ctx, st, a.ID, a.UPN, store.DrillFilter{})
		if err != nil {
			return nil, err
		}
		s := AccountStatus{AccountID: a.ID, AccountUPN: a.UPN, Name: a.Name, Drills: []Summary{}}
		var last time.Time
		for _, d := range ds {
			r, err := e.Evaluate(ctx, st, d, now)
			if err != nil {
				return nil, err
			}
			if d.State == store.DrillPlanned && r.Result == ResultRunning {
				r.Result = "" // announced, not started: listed as planned
			}
			sum := summarize(r)
			s.Drills = append(s.Drills, sum)
			if d.Result == store.DrillPassed && PassedAt(d).After(last) {
				last = PassedAt(d)
				sum := sum
				s.LastPassed = &sum
			}
		}
		due := Due(last, interval)
		s.Due = tp(due)
		s.Overdue = !now.Before(due)
		out = append(out, s)
	}
	return out, nil
}

// LastPassedReports returns the report of every account's last passed
// drill, for auditors (drill report without an id); accounts never
// drilled successfully are listed in missing.
func (e Evaluator) LastPassedReports(ctx context.Context, st Store, accounts []entra.Account, now time.Time) (reports []Report, missing []string, err error) {
	for _, a := range accounts {
		if a.IsGroup() {
			continue
		}
		d, ok, err := LastPassed(ctx, st, a.ID, a.UPN)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			missing = append(missing, firstNonEmpty(a.UPN, a.ID))
			continue
		}
		r, err := e.Evaluate(ctx, st, d, now)
		if err != nil {
			return nil, nil, err
		}
		reports = append(reports, r)
	}
	return reports, missing, nil
}
