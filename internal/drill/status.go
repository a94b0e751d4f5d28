package drill

import (
	"context"
	"fmt"
	"time"

	"breakglass/internal/drill/schedule"
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
	// Due is when the next drill is due: drill.interval after the last
	// passed one, or earlier after a key change (Early says which); nil:
	// never drilled, due now. State is the schedule's: ok, due (within
	// drill.remind_before: serve has reminded) or overdue (serve raises
	// bg.drill_overdue), the same rule serve alerts on.
	Due     *time.Time      `json:"due,omitempty"`
	Early   *schedule.Early `json:"early,omitempty"`
	State   string          `json:"state"`
	Overdue bool            `json:"overdue"`
	// Drills are the account's drills, latest window first: planned, running,
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

// PassedAt is the time a passed drill counts from: when it was finished
// (the schedule's rule, schedule.RanAt, so that drill status and serve's
// reminders agree).
func PassedAt(d store.Drill) time.Time { return schedule.RanAt(d) }

// LastPassed returns the account's last passed drill (by PassedAt).
func LastPassed(ctx context.Context, st store.Drills, a entra.Account) (store.Drill, bool, error) {
	ds, err := st.Drills(ctx, store.DrillFilter{State: store.DrillFinished, Result: store.DrillPassed})
	if err != nil {
		return store.Drill{}, false, fmt.Errorf("reading drills: %w", err)
	}
	var best store.Drill
	found := false
	for _, d := range ofAccount(ds, a) {
		if d.State == store.DrillFinished && d.Result == store.DrillPassed && (!found || PassedAt(d).After(PassedAt(best))) {
			best, found = d, true
		}
	}
	return best, found, nil
}

// ofAccount picks the drills of an account (schedule.DrillOf, the rule the
// schedule counts by).
func ofAccount(all []store.Drill, a entra.Account) []store.Drill {
	var out []store.Drill
	for _, d := range all {
		if schedule.DrillOf(d, a) {
			out = append(out, d)
		}
	}
	return out
}

func summarize(r Report) Summary {
	return Summary{ID: r.ID, State: r.State, Result: r.Result, FailedStep: r.FailedStep, Reason: r.Reason,
		WindowFrom: r.WindowFrom, WindowTo: r.WindowTo, Finished: r.Finished, By: r.By}
}

// StatusStore is what Status reads: the drills and the early due dates
// that key changes left (schedule.ConditionDue).
type StatusStore interface {
	Store
	Conditions(ctx context.Context, rule string) ([]store.Condition, error)
}

// Status lists every configured account's drills and when the next is
// due, evaluating running drills at now. The due date and state come from
// schedule.Due, with drill.interval and drill.remind_before and the early
// due dates in the store: what serve reminds and alerts on.
func (e Evaluator) Status(ctx context.Context, st StatusStore, accounts []entra.Account, now time.Time) ([]AccountStatus, error) {
	all, err := st.Drills(ctx, store.DrillFilter{})
	if err != nil {
		return nil, fmt.Errorf("reading drills: %w", err)
	}
	early, err := st.Conditions(ctx, schedule.ConditionDue)
	if err != nil {
		return nil, fmt.Errorf("reading early due dates: %w", err)
	}
	due := map[string]schedule.Status{}
	for _, s := range schedule.Due(accounts, all, early, e.Bounds.Interval, e.Bounds.RemindBefore, now) {
		due[s.Key] = s
	}
	var out []AccountStatus
	for _, a := range accounts {
		if a.IsGroup() {
			continue
		}
		ds := ofAccount(all, a)
		s := AccountStatus{AccountID: a.ID, AccountUPN: a.UPN, Name: a.Name, Drills: []Summary{}}
		sch, ok := due[schedule.Key(a)]
		if !ok {
			// An account with neither id nor UPN, or listed twice: the
			// schedule knows it under its first entry.
			sch = schedule.Status{Never: true, State: schedule.StateOverdue}
		}
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
			if sch.LastPassed != "" && sch.LastPassed == d.ID {
				sum := sum
				s.LastPassed = &sum
			}
		}
		s.Due, s.Early, s.State = tp(sch.Due), sch.Early, sch.State
		s.Overdue = sch.State == schedule.StateOverdue
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
		d, ok, err := LastPassed(ctx, st, a)
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
