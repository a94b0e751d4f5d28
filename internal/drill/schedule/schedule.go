// Package schedule keeps break-glass drills on time. A drill is due per
// account drill.interval after the last passed drill; key changes seen in
// the audit logs (a Global or Privileged Role Administrator added or
// removed, the tenant's licences or subscriptions changed) make it due
// early. Before a drill is due, serve reminds people (bg.drill_due, once
// per due date); once it is late it raises bg.drill_overdue until a drill
// passes. Everything it decides is kept in the store's conditions, so a
// restart neither forgets an early due date nor reminds twice.
//
// An account never drilled is overdue: nothing proves that it works.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// Rules raised by the schedule, and the condition that keeps an early due
// date.
const (
	RuleDue     = detect.RuleDrillDue
	RuleOverdue = detect.RuleDrillOverdue
	// ConditionDue (key: the account) records "due early since T because
	// X": the first key change after the last passed drill.
	ConditionDue = "drill.due"
	// PendingKey is ConditionDue's key for a change seen while no account
	// is known yet (a list of groups whose members were not read): the
	// next check that knows the accounts gives it to each.
	PendingKey = "*"
	// Source names the schedule as an internal source (its alerts'
	// Source, and the bg.source of a schedule that keeps failing).
	Source = "drill-schedule"
	// Category is the category of the schedule's alerts.
	Category = "Drill"
)

// States of an account's schedule.
const (
	StateOK      = "ok"      // not due within remind_before
	StateDueSoon = "due"     // due within remind_before: reminded
	StateOverdue = "overdue" // past its due date, or never drilled
)

// Store is what the schedule needs from storage.
type Store interface {
	Drills(ctx context.Context, f store.DrillFilter) ([]store.Drill, error)
	watch.Conditions
	AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error)
	Enqueue(ctx context.Context, alertID, status string, targets []string) error
	Alert(ctx context.Context, id string) (alert.Alert, error)
}

// Options configure a Scheduler.
type Options struct {
	Store Store
	// Accounts returns the break-glass user accounts watched now
	// (configured users and the members of configured groups).
	Accounts func() []entra.Account
	// Interval is drill.interval, RemindBefore drill.remind_before; the
	// config package owns their defaults. A key change makes the drill due
	// RemindBefore after it: a reminder goes out at once, and it is
	// overdue if no drill passes within RemindBefore.
	Interval, RemindBefore time.Duration
	// Route gives an alert's targets from its labels (daemon.RouteFunc).
	Route  func(labels map[string]string) []string
	Tenant string
	// TenantOf, when set, is the tenant of an account's reminders (the
	// tenant that lists it, with tenants:); "" falls back to Tenant.
	TenantOf func(id, upn string) string
	Wake     func() // notify.Dispatcher.Wake
	Logger   *slog.Logger
	Now      func() time.Time
}

// Scheduler computes due dates and raises reminders and overdue alerts.
type Scheduler struct {
	o    Options
	mu   sync.Mutex // one Check or Observe at a time
	wake chan struct{}
}

// New returns a scheduler.
func New(o Options) (*Scheduler, error) {
	if o.Store == nil || o.Accounts == nil || o.Route == nil {
		return nil, errors.New("drill schedule: store, accounts and route are required")
	}
	if o.Interval <= 0 || o.RemindBefore < 0 {
		return nil, fmt.Errorf("drill schedule: interval %s and remind_before %s must be positive", o.Interval, o.RemindBefore)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	return &Scheduler{o: o, wake: make(chan struct{}, 1)}, nil
}

// Early is an early due date and its cause (the ConditionDue data).
type Early struct {
	Since   time.Time `json:"since"` // when the key change happened
	Kind    string    `json:"kind"`
	Reason  string    `json:"reason"`
	EventID string    `json:"event_id"`
}

// Status is one account's schedule.
type Status struct {
	Account entra.Account `json:"account"`
	Key     string        `json:"key"`
	// LastPassed is the last passed drill's id and when it ran; empty when
	// the account was never drilled (Never).
	LastPassed   string    `json:"last_passed,omitempty"`
	LastPassedAt time.Time `json:"last_passed_at,omitzero"`
	Never        bool      `json:"never_drilled,omitempty"`
	// Due is when the next drill is due; zero when never drilled (due
	// now). Early, when set, brought it forward.
	Due   time.Time `json:"due,omitzero"`
	Early *Early    `json:"early,omitempty"`
	// Next is the next planned or running drill, if any.
	Next   string    `json:"next,omitempty"`
	NextAt time.Time `json:"next_at,omitzero"`
	State  string    `json:"state"`
}

// Key identifies an account in conditions and alert ids: its object id,
// else its UPN, in lower case.
func Key(a entra.Account) string {
	if a.ID != "" {
		return strings.ToLower(a.ID)
	}
	return strings.ToLower(a.UPN)
}

// DrillOf reports whether d is a drill of a: same object id, or same UPN
// (an account configured by UPN alone, or a drill planned by UPN).
func DrillOf(d store.Drill, a entra.Account) bool {
	if a.ID != "" && strings.EqualFold(d.AccountID, a.ID) {
		return true
	}
	return a.UPN != "" && (strings.EqualFold(d.AccountUPN, a.UPN) || strings.EqualFold(d.AccountID, a.UPN))
}

// RanAt is when a passed drill counts from: when it was finished, the
// rule of drill.PassedAt that drill status uses (not imported, so that
// package drill can use this one); a drill stored without a finish time
// counts from its start, else from its window.
func RanAt(d store.Drill) time.Time {
	if !d.Finished.IsZero() {
		return d.Finished
	}
	if !d.Started.IsZero() {
		return d.Started
	}
	return d.At
}

// Statuses computes every watched account's schedule at now.
func (s *Scheduler) Statuses(ctx context.Context) ([]Status, error) {
	drills, err := s.o.Store.Drills(ctx, store.DrillFilter{})
	if err != nil {
		return nil, fmt.Errorf("reading drills: %w", err)
	}
	early, err := s.earlyDue(ctx)
	if err != nil {
		return nil, err
	}
	return s.statuses(s.o.Accounts(), drills, early, s.o.Now()), nil
}

func (s *Scheduler) earlyDue(ctx context.Context) (map[string]Condition, error) {
	cs, err := s.o.Store.Conditions(ctx, ConditionDue)
	if err != nil {
		return nil, fmt.Errorf("reading early due dates: %w", err)
	}
	m := map[string]Condition{}
	for _, c := range cs {
		m[c.Key] = c
	}
	return m, nil
}

// Condition is a store condition.
type Condition = store.Condition

// Due computes the schedule of accounts at now from the stored drills and
// the early due dates (the store's ConditionDue conditions): what serve
// reminds and alerts on, for `drill status` and reports. interval and
// remindBefore are drill.interval and drill.remind_before.
func Due(accounts []entra.Account, drills []store.Drill, early []store.Condition, interval, remindBefore time.Duration, now time.Time) []Status {
	m := map[string]Condition{}
	for _, c := range early {
		if c.Rule == ConditionDue || c.Rule == "" {
			m[c.Key] = c
		}
	}
	s := &Scheduler{o: Options{Interval: interval, RemindBefore: remindBefore}}
	return s.statuses(accounts, drills, m, now)
}

func (s *Scheduler) statuses(accounts []entra.Account, drills []store.Drill, early map[string]Condition, now time.Time) []Status {
	var out []Status
	seen := map[string]bool{}
	for _, a := range accounts {
		if a.IsGroup() {
			continue
		}
		k := Key(a)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		st := Status{Account: a, Key: k, Never: true}
		for _, d := range drills {
			if !DrillOf(d, a) {
				continue
			}
			if d.State == store.DrillFinished && d.Result == store.DrillPassed {
				if at := RanAt(d); st.Never || at.After(st.LastPassedAt) {
					st.LastPassed, st.LastPassedAt, st.Never = d.ID, at.UTC(), false
				}
			}
			if (d.State == store.DrillPlanned || d.State == store.DrillRunning) && d.At.Add(d.Window).After(now) &&
				(st.Next == "" || d.At.Before(st.NextAt)) {
				st.Next, st.NextAt = d.ID, d.At.UTC()
			}
		}
		if !st.Never {
			st.Due = st.LastPassedAt.Add(s.o.Interval)
		}
		c, ok := early[k]
		if !ok {
			c, ok = early[PendingKey]
		}
		if ok {
			var e Early
			if json.Unmarshal(c.Data, &e) != nil || e.Since.IsZero() {
				// Unreadable: the change is known to have happened at
				// c.Since; keep the early due date rather than drop it.
				e = Early{Since: c.Since, Reason: "a key change (details unreadable)"}
			}
			if st.Never || e.Since.After(st.LastPassedAt) {
				ed := e.Since.Add(s.o.RemindBefore).UTC()
				if !st.Never && ed.Before(st.Due) {
					st.Due = ed
				}
				if st.Never || ed.Equal(st.Due) {
					st.Early = &e
				}
			}
		}
		switch {
		case st.Never || !now.Before(st.Due):
			st.State = StateOverdue
		case !now.Before(st.Due.Add(-s.o.RemindBefore)):
			st.State = StateDueSoon
		default:
			st.State = StateOK
		}
		out = append(out, st)
	}
	return out
}

// Observe records a key change: for every account whose last passed drill
// is older than it (of the change's tenant, when both are known), the next
// drill falls due early (ConditionDue). The
// first change after a passed drill counts; later ones add nothing until a
// drill passes. The check runs at once.
func (s *Scheduler) Observe(ctx context.Context, t Trigger) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now().UTC()
	if t.Time.IsZero() || t.Time.After(now) {
		t.Time = now
	}
	drills, err := s.o.Store.Drills(ctx, store.DrillFilter{})
	if err != nil {
		return fmt.Errorf("reading drills: %w", err)
	}
	early, err := s.earlyDue(ctx)
	if err != nil {
		return err
	}
	var errs []error
	sts := s.statuses(s.o.Accounts(), drills, early, now)
	if len(sts) == 0 {
		// Nobody to make due yet: keep the change for when the accounts
		// are known, rather than lose it.
		if _, pending := early[PendingKey]; !pending {
			data, _ := json.Marshal(Early{Since: t.Time.UTC(), Kind: t.Kind, Reason: t.Reason, EventID: t.EventID})
			if err := s.o.Store.SetCondition(ctx, Condition{Rule: ConditionDue, Key: PendingKey, Since: t.Time.UTC(), Updated: now, Data: data}); err != nil {
				return fmt.Errorf("recording a key change: %w", err)
			}
			s.o.Logger.Info("key change while no break-glass account is known; kept for the next check", "kind", t.Kind, "reason", t.Reason)
		}
	}
	for _, st := range sts {
		if st.Early != nil || (!st.Never && !t.Time.After(st.LastPassedAt)) {
			continue // already due early, or a drill passed after the change
		}
		if t.Tenant != "" && s.o.TenantOf != nil {
			if owner := s.o.TenantOf(st.Account.ID, st.Account.UPN); owner != "" && !strings.EqualFold(owner, t.Tenant) {
				continue // another tenant's account: its staff did not change
			}
		}
		data, _ := json.Marshal(Early{Since: t.Time.UTC(), Kind: t.Kind, Reason: t.Reason, EventID: t.EventID})
		if err := s.o.Store.SetCondition(ctx, Condition{Rule: ConditionDue, Key: st.Key, Since: t.Time.UTC(), Updated: now, Data: data}); err != nil {
			errs = append(errs, fmt.Errorf("recording the early due date of %s: %w", st.Key, err))
			continue
		}
		s.o.Logger.Info("key change: drill due early", "account", st.Account.Label(), "kind", t.Kind, "reason", t.Reason, "event_id", t.EventID,
			"due", t.Time.Add(s.o.RemindBefore).UTC())
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return errors.Join(errs...)
}

// Check raises and resolves the schedule's alerts for now: a reminder
// (bg.drill_due) once per due date when a drill is due within
// remind_before, bg.drill_overdue while one is late, both resolved when a
// drill passes (or the account is no longer a break-glass account). It
// returns every error; what did not fail is done.
func (s *Scheduler) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now().UTC()
	drills, err := s.o.Store.Drills(ctx, store.DrillFilter{})
	if err != nil {
		return fmt.Errorf("reading drills: %w", err)
	}
	early, err := s.earlyDue(ctx)
	if err != nil {
		return err
	}
	accounts := s.o.Accounts()
	sts := s.statuses(accounts, drills, early, now)
	var errs []error
	if pc, ok := early[PendingKey]; ok && len(sts) > 0 {
		// A change seen before the accounts were known: each account it
		// made due gets it as its own.
		failed := false
		for _, st := range sts {
			if _, own := early[st.Key]; own || st.Early == nil {
				continue
			}
			c := Condition{Rule: ConditionDue, Key: st.Key, Since: pc.Since, Updated: now, Data: pc.Data}
			if err := s.o.Store.SetCondition(ctx, c); err != nil {
				errs = append(errs, fmt.Errorf("recording the early due date of %s: %w", st.Key, err))
				failed = true
				continue
			}
			early[st.Key] = c
		}
		if !failed {
			if err := s.o.Store.ClearCondition(ctx, ConditionDue, PendingKey); err != nil {
				errs = append(errs, fmt.Errorf("clearing the pending key change: %w", err))
			}
			delete(early, PendingKey)
		}
	}
	keep := map[string]bool{PendingKey: true}
	for _, st := range sts {
		keep[st.Key] = true
		if err := s.checkOne(ctx, st, now); err != nil {
			errs = append(errs, err)
		}
		// A passed drill after the key change covers it.
		if c, ok := early[st.Key]; ok && st.Early == nil && !st.Never {
			if err := s.o.Store.ClearCondition(ctx, ConditionDue, c.Key); err != nil {
				errs = append(errs, fmt.Errorf("clearing the early due date of %s: %w", st.Key, err))
			}
		}
	}
	// Accounts no longer watched: their alerts would never resolve. Not
	// while the list is empty (group members not read yet).
	if len(sts) > 0 {
		for _, rule := range []string{RuleDue, RuleOverdue, ConditionDue} {
			cs, err := s.o.Store.Conditions(ctx, rule)
			if err != nil {
				errs = append(errs, fmt.Errorf("listing %s: %w", rule, err))
				continue
			}
			for _, c := range cs {
				if keep[c.Key] {
					continue
				}
				if err := s.resolve(ctx, c); err != nil {
					errs = append(errs, err)
				} else {
					s.o.Logger.Info("no longer a break-glass account; its drill schedule is cleared", "account", c.Key, "rule", rule)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Scheduler) checkOne(ctx context.Context, st Status, now time.Time) error {
	var errs []error
	// The reminder: one per due date.
	rc, ropen, err := s.o.Store.Condition(ctx, RuleDue, st.Key)
	if err != nil {
		return fmt.Errorf("reading the reminder state of %s: %w", st.Key, err)
	}
	if ropen && (st.State == StateOK || !rc.Since.Equal(st.Due)) {
		// A drill passed, or a key change moved the date: this reminder
		// is done (a new date gets its own; a late one, the overdue
		// alert). A reminder whose date has come stays open next to the
		// overdue alert until a drill passes.
		if err := s.resolve(ctx, rc); err != nil {
			errs = append(errs, err)
		}
		ropen = false
	}
	if st.State == StateDueSoon && !ropen {
		a, ev := s.alertFor(RuleDue, st, now)
		if err := s.raise(ctx, a, ev, Condition{Rule: RuleDue, Key: st.Key, AlertID: a.ID, Since: st.Due, Updated: now, Data: ev}); err != nil {
			errs = append(errs, err)
		} else {
			s.o.Logger.Warn("break-glass drill due soon", "account", st.Account.Label(), "due", st.Due, "alert_id", a.ID)
		}
	}
	// Overdue: open while late, resolved by a passed drill.
	oc, oopen, err := s.o.Store.Condition(ctx, RuleOverdue, st.Key)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("reading the overdue state of %s: %w", st.Key, err))...)
	}
	switch {
	case st.State == StateOverdue && !oopen:
		a, ev := s.alertFor(RuleOverdue, st, now)
		if err := s.raise(ctx, a, ev, Condition{Rule: RuleOverdue, Key: st.Key, AlertID: a.ID, Since: st.Due, Updated: now, Data: ev}); err != nil {
			errs = append(errs, err)
		} else {
			s.o.Logger.Warn("break-glass drill overdue", "account", st.Account.Label(), "due", st.Due, "never_drilled", st.Never, "alert_id", a.ID)
		}
	case st.State != StateOverdue && oopen:
		if err := s.resolve(ctx, oc); err != nil {
			errs = append(errs, err)
		} else {
			s.o.Logger.Info("break-glass drill passed; overdue alert resolved", "account", st.Account.Label(), "drill", st.LastPassed, "alert_id", oc.AlertID)
		}
	}
	return errors.Join(errs...)
}

// raise stores the alert with its deliveries, then the condition: if the
// process dies between the two, the worst case is a second alert for the
// same due date after the restart, never none.
func (s *Scheduler) raise(ctx context.Context, a alert.Alert, ev []byte, c Condition) error {
	targets := s.o.Route(a.Labels)
	if len(targets) == 0 {
		s.o.Logger.Error("no notification target for this alert: it is stored, but nobody is told; check notify.groups and notify.routes",
			"rule", a.Rule, "alert_id", a.ID)
	}
	if _, err := s.o.Store.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Category: a.Category, Source: a.Source, Raw: ev}, targets); err != nil {
		return fmt.Errorf("storing %s for %s: %w", a.Rule, c.Key, err)
	}
	s.o.Wake()
	if err := s.o.Store.SetCondition(ctx, c); err != nil {
		return fmt.Errorf("recording %s for %s: %w", c.Rule, c.Key, err)
	}
	return nil
}

type stateSetter interface {
	SetAlertState(ctx context.Context, id, state, by string, at time.Time) error
}

type deliveryLister interface {
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
}

// resolve queues the resolution of a condition's alert where its firing
// went, and clears the condition.
func (s *Scheduler) resolve(ctx context.Context, c Condition) error {
	if c.AlertID != "" {
		a, err := s.o.Store.Alert(ctx, c.AlertID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("reading alert %s to resolve it: %w", c.AlertID, err)
		}
		if err == nil {
			targets := slices.Clone(s.o.Route(a.Labels))
			if dl, ok := s.o.Store.(deliveryLister); ok {
				ds, err := dl.AlertDeliveries(ctx, c.AlertID)
				if err != nil {
					s.o.Logger.Warn("listing the deliveries of a resolved alert; its resolution goes where its labels route", "alert_id", c.AlertID, "error", err)
				}
				for _, d := range ds {
					if d.Status == store.StatusFiring && !slices.Contains(targets, d.Target) {
						targets = append(targets, d.Target)
					}
				}
			}
			if err := s.o.Store.Enqueue(ctx, c.AlertID, store.StatusResolved, targets); err != nil {
				return fmt.Errorf("queueing the resolution of %s: %w", c.AlertID, err)
			}
			if ss, ok := s.o.Store.(stateSetter); ok {
				if err := ss.SetAlertState(ctx, c.AlertID, alert.StateResolved, "breakglass", s.o.Now()); err != nil && !errors.Is(err, store.ErrStateTransition) {
					s.o.Logger.Warn("recording alert state", "alert_id", c.AlertID, "error", err)
				}
			}
			s.o.Wake()
		}
	}
	if err := s.o.Store.ClearCondition(ctx, c.Rule, c.Key); err != nil {
		return fmt.Errorf("clearing %s of %s: %w", c.Rule, c.Key, err)
	}
	return nil
}

// alertFor builds the reminder or the overdue alert of st. One due date is
// one alert: its id is the account and the due date.
func (s *Scheduler) alertFor(rule string, st Status, now time.Time) (alert.Alert, []byte) {
	due := "never-drilled"
	if !st.Never {
		due = st.Due.UTC().Format(time.RFC3339)
	}
	eventID := "drill:" + rule + ":" + st.Key + ":" + due
	name := st.Account.Label()
	plan := fmt.Sprintf("breakglass drill plan --account %s", firstNonEmpty(st.Account.UPN, st.Account.ID))
	var title string
	var desc []string
	sev := alert.Sev3
	switch {
	case rule == RuleDue:
		title = fmt.Sprintf("Break-glass drill due for %s by %s UTC: plan it now (%s)", name, st.Due.UTC().Format("2006-01-02 15:04"), plan)
	case st.Never:
		sev = alert.Sev2
		title = fmt.Sprintf("Break-glass drill overdue for %s: it was never drilled, so nothing proves it works; run a drill (%s)", name, plan)
	default:
		sev = alert.Sev2
		title = fmt.Sprintf("Break-glass drill overdue for %s: due %s UTC (%s ago); run a drill (%s)", name, st.Due.UTC().Format("2006-01-02 15:04"),
			roundDays(now.Sub(st.Due)), plan)
	}
	if st.Never {
		desc = append(desc, "No passed drill is on record for this account.")
	} else {
		desc = append(desc, fmt.Sprintf("Last passed drill: %s on %s UTC; drills are due every %s.", st.LastPassed, st.LastPassedAt.UTC().Format("2006-01-02 15:04"), roundDays(s.o.Interval)))
	}
	if st.Early != nil {
		desc = append(desc, fmt.Sprintf("Due early: a key change on %s UTC (%s) asks for a drill within %s.", st.Early.Since.UTC().Format("2006-01-02 15:04"), st.Early.Reason, roundDays(s.o.RemindBefore)))
	}
	if st.Next != "" {
		desc = append(desc, fmt.Sprintf("Planned: drill %s at %s UTC; a passed drill resolves this.", st.Next, st.NextAt.UTC().Format("2006-01-02 15:04")))
	} else {
		desc = append(desc, "A passed drill resolves this.")
	}
	a := alert.Alert{
		ID: alert.Key(eventID, rule), Rule: rule, Severity: sev, Title: title,
		AccountID: st.Account.ID, AccountUPN: st.Account.UPN, Account: st.Account.Name,
		EventID: eventID, EventTime: now, Category: Category, Source: Source, Detected: now,
		Annotations: map[string]string{"description": strings.Join(desc, " ")},
	}
	if !st.Never {
		a.Annotations["due"] = st.Due.UTC().Format(time.RFC3339)
	}
	tenant := s.o.Tenant
	if s.o.TenantOf != nil {
		if t := s.o.TenantOf(st.Account.ID, st.Account.UPN); t != "" {
			tenant = t
		}
	}
	watch.Label(&a, "", tenant)
	ev, _ := json.Marshal(st)
	return a, ev
}

// Run checks every interval, and at once after a key change, until ctx
// ends. The first check is one interval after the start: a backlog read
// at start (key changes included) is in by then, and the group members
// are known. report is told each check's outcome (nil: it worked), so a
// schedule that keeps failing can alert.
func (s *Scheduler) Run(ctx context.Context, every time.Duration, report func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	started := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			started = true
		case <-s.wake:
			if !started {
				continue // the first check covers it
			}
		}
		err := s.Check(ctx)
		if err != nil {
			s.o.Logger.Error("drill schedule check failed", "error", err)
		}
		if report != nil {
			report(err)
		}
	}
}

func roundDays(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
