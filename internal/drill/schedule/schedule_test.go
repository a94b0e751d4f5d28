package schedule

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/watch"
)

const day = 24 * time.Hour

var (
	bg1 = entra.Account{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg-admin1@contoso.onmicrosoft.com", Name: "Break glass 1"}
	bg2 = entra.Account{UPN: "bg-admin2@contoso.onmicrosoft.com"}
	t0  = time.Date(2026, 3, 3, 3, 12, 0, 0, time.UTC)
)

// clock is the injectable clock of the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time           { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration)      { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) Set(t time.Time)          { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func newClock(t time.Time) *clock         { return &clock{t: t} }
func routeAll(map[string]string) []string { return []string{"oncall/webhook"} }

type fixture struct {
	t        *testing.T
	st       *sqlite.Store
	clk      *clock
	accounts []entra.Account
	mu       sync.Mutex
}

func newFixture(t *testing.T, accounts ...entra.Account) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, st: st, clk: newClock(t0), accounts: accounts}
}

// scheduler is a new Scheduler on the fixture's store: calling it again is
// a restart.
func (f *fixture) scheduler() *Scheduler {
	f.t.Helper()
	s, err := New(Options{Store: f.st, Accounts: func() []entra.Account { f.mu.Lock(); defer f.mu.Unlock(); return f.accounts },
		Interval: 90 * day, RemindBefore: 7 * day, Route: routeAll, Tenant: "contoso", Now: f.clk.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// passedDrill stores a drill of a that passed (was finished) at at.
func (f *fixture) passedDrill(id string, a entra.Account, at time.Time) {
	f.t.Helper()
	d := store.Drill{ID: id, AccountID: a.ID, AccountUPN: a.UPN, State: store.DrillFinished, Result: store.DrillPassed,
		At: at.Add(-time.Hour), Window: 2 * time.Hour, Started: at.Add(-30 * time.Minute), Finished: at, Created: at.Add(-day), Updated: at}
	if d.AccountID == "" {
		d.AccountID = a.UPN
	}
	if err := f.st.AddDrill(context.Background(), d); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) check(s *Scheduler) {
	f.t.Helper()
	if err := s.Check(context.Background()); err != nil {
		f.t.Fatalf("check at %s: %v", f.clk.Now(), err)
	}
}

// alerts returns the stored alerts of rule, oldest first.
func (f *fixture) alerts(rule string) []alert.Alert {
	f.t.Helper()
	as, err := f.st.Alerts(context.Background(), store.AlertFilter{Rule: rule})
	if err != nil {
		f.t.Fatal(err)
	}
	for i, j := 0, len(as)-1; i < j; i, j = i+1, j-1 {
		as[i], as[j] = as[j], as[i]
	}
	return as
}

// deliveries counts an alert's deliveries by status.
func (f *fixture) deliveries(id string) map[string]int {
	f.t.Helper()
	ds, err := f.st.AlertDeliveries(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	n := map[string]int{}
	for _, d := range ds {
		n[d.Status]++
	}
	return n
}

func (f *fixture) state(s *Scheduler, key string) Status {
	f.t.Helper()
	sts, err := s.Statuses(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, st := range sts {
		if st.Key == key {
			return st
		}
	}
	f.t.Fatalf("no status for %s in %+v", key, sts)
	return Status{}
}

// TestNinetyDaysRaisesOverdue: a drill passed at t0 is due 90 days later;
// a reminder goes out 7 days before (once), bg.drill_overdue at 90 days
// (once, also across a restart), and a passed drill resolves both.
func TestNinetyDaysRaisesOverdue(t *testing.T) {
	f := newFixture(t, bg1)
	f.passedDrill("d1", bg1, t0)
	s := f.scheduler()
	key := Key(bg1)
	for _, at := range []time.Duration{0, day, 82 * day, 83*day - time.Minute} {
		f.clk.Set(t0.Add(at))
		f.check(s)
		if n := len(f.alerts(RuleDue)) + len(f.alerts(RuleOverdue)); n != 0 {
			t.Fatalf("at t0+%s: %d schedule alerts, want none", at, n)
		}
	}
	if st := f.state(s, key); st.State != StateOK || !st.Due.Equal(t0.Add(90*day)) || st.LastPassed != "d1" {
		t.Fatalf("status %+v", st)
	}
	// Reminder window: one reminder, however often it is checked.
	for _, at := range []time.Duration{83 * day, 83*day + time.Minute, 85 * day} {
		f.clk.Set(t0.Add(at))
		f.check(s)
	}
	rem := f.alerts(RuleDue)
	if len(rem) != 1 || rem[0].Severity != alert.Sev3 || f.deliveries(rem[0].ID)[store.StatusFiring] != 1 {
		t.Fatalf("reminders %+v", rem)
	}
	if !strings.Contains(rem[0].Title, "Break-glass drill due for Break glass 1 by 2026-06-01 03:12 UTC") ||
		!strings.Contains(rem[0].Title, "breakglass drill plan --account bg-admin1@contoso.onmicrosoft.com") {
		t.Errorf("reminder title %q", rem[0].Title)
	}
	if rem[0].Labels[alert.LabelRule] != RuleDue || rem[0].Labels[alert.LabelAccount] != bg1.ID || rem[0].Labels[alert.LabelTenant] != "contoso" {
		t.Errorf("reminder labels %v", rem[0].Labels)
	}
	if len(f.alerts(RuleOverdue)) != 0 {
		t.Fatal("overdue before the due date")
	}
	// 90 days without a passed drill: overdue, once, also after a restart.
	f.clk.Set(t0.Add(90 * day))
	f.check(s)
	f.clk.Add(time.Hour)
	f.check(f.scheduler())
	over := f.alerts(RuleOverdue)
	if len(over) != 1 || over[0].Severity != alert.Sev2 || over[0].State != alert.StateFiring {
		t.Fatalf("overdue alerts %+v", over)
	}
	if !strings.Contains(over[0].Title, "Break-glass drill overdue for Break glass 1: due 2026-06-01 03:12 UTC") {
		t.Errorf("overdue title %q", over[0].Title)
	}
	if len(f.alerts(RuleDue)) != 1 {
		t.Fatal("a second reminder")
	}
	// A drill passes: both resolve, to where they went.
	f.passedDrill("d2", bg1, t0.Add(90*day+30*time.Minute))
	s = f.scheduler()
	f.check(s)
	for _, id := range []string{over[0].ID, rem[0].ID} {
		if n := f.deliveries(id); n[store.StatusResolved] != 1 || n[store.StatusFiring] != 1 {
			t.Errorf("alert %s deliveries %v, want one firing and one resolved", id, n)
		}
		if a, _ := f.st.Alert(context.Background(), id); a.State != alert.StateResolved {
			t.Errorf("alert %s state %q", id, a.State)
		}
	}
	if st := f.state(s, key); st.State != StateOK || st.LastPassed != "d2" || !st.Due.Equal(t0.Add(180*day+30*time.Minute)) {
		t.Errorf("after d2: %+v", st)
	}
	f.check(s)
	if len(f.alerts(RuleOverdue)) != 1 || len(f.alerts(RuleDue)) != 1 {
		t.Error("new alerts after the drill passed")
	}
}

// auditIngest feeds records to a pipeline with the schedule's observer,
// as serve does.
func auditIngest(t *testing.T, f *fixture, s *Scheduler, records ...string) {
	t.Helper()
	p := watch.New(watch.Options{
		Accounts: entra.NewAccountSet(f.accounts), Store: f.st, Route: routeAll, Now: f.clk.Now,
		Observers: []watch.Observer{{Rule: Rule(), Observe: func(ctx context.Context, fd scan.Finding) error { return s.Observe(ctx, TriggerOf(fd.Alert)) }}},
	})
	defer p.Close()
	if _, err := p.Ingest(context.Background(), "graph-audit", "audit.json", strings.NewReader(strings.Join(records, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
}

// TestRoleChangeMakesDrillDueEarly: a Global Administrator added (to
// someone who is not a break-glass account) in the audit logs makes every
// account's drill due early: a reminder at once, bg.drill_overdue after
// remind_before. The record itself raises no alert, the early due date
// survives a restart, and a passed drill clears it.
func TestRoleChangeMakesDrillDueEarly(t *testing.T) {
	f := newFixture(t, bg1, bg2)
	f.passedDrill("d1", bg1, t0.Add(-10*day))
	f.passedDrill("d2", bg2, t0.Add(-day))
	s := f.scheduler()
	f.check(s)
	if n := len(f.alerts(RuleDue)) + len(f.alerts(RuleOverdue)); n != 0 {
		t.Fatalf("%d schedule alerts before the change", n)
	}
	change := auditRecord("Add member to role", "RoleManagement", "success",
		userTarget("carol@contoso.com", [3]string{"Role.DisplayName", "", `"Global Administrator"`}, [3]string{"Role.TemplateId", "", `"62e90394-69f5-4237-9190-012177145e10"`}))
	change = strings.Replace(change, "2026-06-20T06:00:00.5Z", t0.Add(-time.Hour).Format(time.RFC3339), 1)
	other := auditRecord("Add member to group", "GroupManagement", "success", userTarget("nina@contoso.com"))
	auditIngest(t, f, s, other, change)
	all, _ := f.st.Alerts(context.Background(), store.AlertFilter{})
	if len(all) != 0 {
		t.Fatalf("the key change was stored as an alert: %+v", all)
	}
	s = f.scheduler() // a restart: the early due date is in the store
	for _, a := range []entra.Account{bg1, bg2} {
		st := f.state(s, Key(a))
		if st.Early == nil || st.Early.Kind != KindRole || !st.Early.Since.Equal(t0.Add(-time.Hour)) || !st.Due.Equal(t0.Add(-time.Hour+7*day)) || st.State != StateDueSoon {
			t.Fatalf("%s after the change: %+v (early %+v)", a.Label(), st, st.Early)
		}
		if !strings.Contains(st.Early.Reason, "Global Administrator") || !strings.Contains(st.Early.Reason, "carol@contoso.com") {
			t.Errorf("reason %q", st.Early.Reason)
		}
	}
	f.check(s)
	rem := f.alerts(RuleDue)
	if len(rem) != 2 {
		t.Fatalf("reminders %d, want one per account", len(rem))
	}
	if d := rem[0].Annotations["description"]; !strings.Contains(d, "Due early: a key change") || !strings.Contains(d, "Global Administrator") {
		t.Errorf("reminder description %q", d)
	}
	// A second change while due early adds nothing.
	later := strings.Replace(change, t0.Add(-time.Hour).Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339), 1)
	later = strings.Replace(later, `"id":"Directory_add-member-to-role_1"`, `"id":"Directory_add-member-to-role_2"`, 1)
	auditIngest(t, f, s, later)
	if st := f.state(s, Key(bg1)); !st.Early.Since.Equal(t0.Add(-time.Hour)) {
		t.Errorf("a later change moved the date: %+v", st.Early)
	}
	// Not drilled within remind_before: overdue.
	f.clk.Set(t0.Add(7 * day))
	f.check(s)
	if over := f.alerts(RuleOverdue); len(over) != 2 || !strings.Contains(over[0].Annotations["description"], "Due early") {
		t.Fatalf("overdue %+v", over)
	}
	// bg1 drills: its alerts resolve and its early date is gone; bg2's stay.
	f.passedDrill("d3", bg1, t0.Add(7*day+time.Hour))
	f.clk.Add(2 * time.Hour)
	f.check(s)
	st1, st2 := f.state(s, Key(bg1)), f.state(s, Key(bg2))
	if st1.State != StateOK || st1.Early != nil || st2.State != StateOverdue || st2.Early == nil {
		t.Fatalf("after bg1's drill: %+v / %+v", st1, st2)
	}
	if _, open, _ := f.st.Condition(context.Background(), ConditionDue, Key(bg1)); open {
		t.Error("bg1's early due date not cleared")
	}
	for _, a := range f.alerts(RuleOverdue) {
		want := alert.StateFiring
		if a.AccountID == bg1.ID {
			want = alert.StateResolved
		}
		if a.State != want {
			t.Errorf("overdue of %s: %s, want %s", a.AccountUPN, a.State, want)
		}
	}
	// A change older than the last passed drill (a replayed log) does not
	// make bg1 due again.
	auditIngest(t, f, s, strings.Replace(change, `_1"`, `_3"`, 1))
	if st := f.state(s, Key(bg1)); st.Early != nil {
		t.Errorf("an old change made bg1 due early: %+v", st.Early)
	}
}

// TestNeverDrilledIsOverdue: with no passed drill on record an account is
// overdue at once, and says so.
func TestNeverDrilledIsOverdue(t *testing.T) {
	f := newFixture(t, bg2)
	// A failed drill is no proof.
	if err := f.st.AddDrill(context.Background(), store.Drill{ID: "f1", AccountID: bg2.UPN, State: store.DrillFinished, Result: store.DrillFailed,
		FailedStep: "detected", At: t0.Add(-day), Window: time.Hour, Created: t0.Add(-day), Updated: t0.Add(-day)}); err != nil {
		t.Fatal(err)
	}
	s := f.scheduler()
	f.check(s)
	over := f.alerts(RuleOverdue)
	if len(over) != 1 || !strings.Contains(over[0].Title, "never drilled") || over[0].AccountUPN != bg2.UPN {
		t.Fatalf("overdue %+v", over)
	}
	if len(f.alerts(RuleDue)) != 0 {
		t.Error("a reminder for a drill already late")
	}
	// The account leaves the list: its alert resolves.
	f.mu.Lock()
	f.accounts = []entra.Account{bg1}
	f.mu.Unlock()
	f.passedDrill("d1", bg1, t0)
	f.check(s)
	if a, _ := f.st.Alert(context.Background(), over[0].ID); a.State != alert.StateResolved {
		t.Errorf("overdue of a removed account: %s", a.State)
	}
}

// TestTriggerFromGraphAuditPage: the audit page the Graph source reads
// (internal/logs/testdata) holds a break-glass account adding alice as a
// Global Administrator: it alerts as before (bg.activity) and also makes
// the drill due early; the page's other records are no key change.
func TestTriggerFromGraphAuditPage(t *testing.T) {
	page, err := os.ReadFile("../../logs/testdata/graph-audit-page.json")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, bg1)
	f.passedDrill("d1", bg1, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	f.clk.Set(time.Date(2024, 6, 21, 0, 0, 0, 0, time.UTC))
	s := f.scheduler()
	p := watch.New(watch.Options{
		Accounts: entra.NewAccountSet(f.accounts), Store: f.st, Route: routeAll, Now: f.clk.Now,
		Observers: []watch.Observer{{Rule: Rule(), Observe: func(ctx context.Context, fd scan.Finding) error { return s.Observe(ctx, TriggerOf(fd.Alert)) }}},
	})
	defer p.Close()
	if _, err := p.Ingest(context.Background(), "graph-audit", "graph-audit-page.json", bytes.NewReader(page)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.alerts("bg.activity")); n == 0 {
		t.Error("the break-glass account's role change no longer alerts")
	}
	if n := len(f.alerts(RuleTrigger)); n != 0 {
		t.Errorf("%d key changes stored as alerts", n)
	}
	cs, err := f.st.Conditions(context.Background(), ConditionDue)
	if err != nil || len(cs) != 1 || cs[0].Key != Key(bg1) {
		t.Fatalf("early due dates %+v %v", cs, err)
	}
	st := f.state(s, Key(bg1))
	if st.Early == nil || st.Early.EventID != "Directory_aaaa0001-0000-4000-8000-000000000001_ABCDE_1" ||
		!strings.Contains(st.Early.Reason, `"Add member to role" (Global Administrator) for alice@contoso.com, by bg-admin1@contoso.onmicrosoft.com`) {
		t.Fatalf("early %+v", st.Early)
	}
	if want := time.Date(2024, 6, 20, 6, 0, 0, 5e8, time.UTC).Add(7 * day); !st.Due.Equal(want) || st.State != StateDueSoon {
		t.Errorf("due %s (%s), want %s", st.Due, st.State, want)
	}
}

// TestDue: the pure computation serve and `drill status` share.
func TestDue(t *testing.T) {
	drills := []store.Drill{
		{ID: "old", AccountID: bg1.ID, State: store.DrillFinished, Result: store.DrillPassed, At: t0.Add(-200 * day)},
		{ID: "new", AccountID: strings.ToUpper(bg1.ID), State: store.DrillFinished, Result: store.DrillPassed, At: t0.Add(-100 * day), Started: t0.Add(-100*day + time.Minute)},
		{ID: "fail", AccountID: bg1.ID, State: store.DrillFinished, Result: store.DrillFailed, At: t0.Add(-day)},
		{ID: "next", AccountUPN: bg2.UPN, AccountID: bg2.UPN, State: store.DrillPlanned, At: t0.Add(day), Window: time.Hour},
		{ID: "gone", AccountID: bg2.UPN, State: store.DrillPlanned, At: t0.Add(-2 * day), Window: time.Hour},
	}
	early := []store.Condition{{Rule: ConditionDue, Key: Key(bg2), Since: t0.Add(-time.Hour), Data: []byte(`not json`)}}
	sts := Due([]entra.Account{bg1, bg2, {Group: "9a000000-0000-4000-8000-0000000000e1"}, bg1}, drills, early, 90*day, 7*day, t0)
	if len(sts) != 2 {
		t.Fatalf("statuses %+v", sts)
	}
	if s := sts[0]; s.LastPassed != "new" || !s.Due.Equal(t0.Add(-10*day+time.Minute)) || s.State != StateOverdue || s.Never {
		t.Errorf("bg1 %+v", s)
	}
	// Never drilled, an early date with unreadable details kept, the
	// planned drill in the future named.
	if s := sts[1]; !s.Never || s.State != StateOverdue || s.Early == nil || !s.Early.Since.Equal(t0.Add(-time.Hour)) || s.Next != "next" {
		t.Errorf("bg2 %+v (early %+v)", s, s.Early)
	}
	if s := Due([]entra.Account{bg1}, drills[:2], nil, 90*day, 7*day, t0.Add(-15*day))[0]; s.State != StateDueSoon {
		t.Errorf("5 days before due: %s", s.State)
	}
	if s := Due([]entra.Account{bg1}, drills[:2], nil, 90*day, 7*day, t0.Add(-20*day))[0]; s.State != StateOK {
		t.Errorf("10 days before due: %s", s.State)
	}
}

// TestKeyChangeBeforeAccountsKnown: a change seen while no account is
// known yet (group members not read) is kept and given to every account
// at the first check that knows them.
func TestKeyChangeBeforeAccountsKnown(t *testing.T) {
	f := newFixture(t)
	s := f.scheduler()
	ctx := context.Background()
	if err := s.Observe(ctx, Trigger{Kind: KindLicence, Reason: `"Change user license" for kim@contoso.com`, EventID: "e1", Time: t0.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	f.check(s) // still nobody: nothing is lost
	if _, pending, _ := f.st.Condition(ctx, ConditionDue, PendingKey); !pending {
		t.Fatal("the change was not kept")
	}
	f.mu.Lock()
	f.accounts = []entra.Account{bg1, bg2}
	f.mu.Unlock()
	f.passedDrill("d1", bg1, t0.Add(-30*day))
	f.passedDrill("d2", bg2, t0.Add(-20*day))
	f.check(s)
	if _, pending, _ := f.st.Condition(ctx, ConditionDue, PendingKey); pending {
		t.Error("the pending change was not handed out")
	}
	for _, a := range []entra.Account{bg1, bg2} {
		st := f.state(s, Key(a))
		if st.Early == nil || st.Early.Kind != KindLicence || st.State != StateDueSoon {
			t.Errorf("%s: %+v", a.Label(), st)
		}
	}
	if n := len(f.alerts(RuleDue)); n != 2 {
		t.Errorf("%d reminders, want 2", n)
	}
}

// TestRanAt: a passed drill counts from its finish, else its start (drill
// status uses this same function, through drill.PassedAt).
func TestRanAt(t *testing.T) {
	d := store.Drill{At: t0, Started: t0.Add(time.Minute), Finished: t0.Add(time.Hour)}
	if got := RanAt(d); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("RanAt %s, want the finish time", got)
	}
	if got := RanAt(store.Drill{At: t0, Started: t0.Add(time.Minute)}); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("without a finish time: %s", got)
	}
}

// TestReminderCarriesAccountsTenant: with TenantOf, an account's overdue
// alert carries the tenant that lists it; an account no tenant lists
// keeps Tenant.
func TestReminderCarriesAccountsTenant(t *testing.T) {
	f := newFixture(t, bg1, bg2)
	s, err := New(Options{Store: f.st, Accounts: func() []entra.Account { return []entra.Account{bg1, bg2} },
		Interval: 90 * day, RemindBefore: 7 * day, Route: routeAll, Tenant: "contoso", Now: f.clk.Now,
		TenantOf: func(id, upn string) string {
			if strings.EqualFold(upn, bg2.UPN) {
				return "fabrikam-id"
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.check(s)
	got := map[string]string{}
	for _, a := range f.alerts(RuleOverdue) {
		got[a.AccountUPN] = a.Labels[alert.LabelTenant]
	}
	if got[bg2.UPN] != "fabrikam-id" || got[bg1.UPN] != "contoso" {
		t.Errorf("overdue alerts' tenants %v", got)
	}
}

// TestKeyChangeInOneTenant: with tenants:, a key change in one tenant
// makes that tenant's accounts due early, and accounts no tenant lists
// (fail closed); another tenant's accounts keep their due date. A change
// whose tenant is unknown makes every account due.
func TestKeyChangeInOneTenant(t *testing.T) {
	bg3 := entra.Account{ID: "3c3c3c3c-1111-4222-8333-444455556666", UPN: "bg3@fabrikam.example"}
	bg4 := entra.Account{UPN: "bg4@unlisted.example"}
	owner := map[string]string{bg1.UPN: "contoso-id", bg2.UPN: "contoso-id", bg3.UPN: "fabrikam-id"}
	for _, c := range []struct {
		name   string
		tenant string
		due    []entra.Account
		notDue []entra.Account
	}{
		{"contoso", "contoso-id", []entra.Account{bg1, bg2, bg4}, []entra.Account{bg3}},
		{"fabrikam, any case", "FABRIKAM-ID", []entra.Account{bg3, bg4}, []entra.Account{bg1, bg2}},
		{"unknown tenant", "", []entra.Account{bg1, bg2, bg3, bg4}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, bg1, bg2, bg3, bg4)
			for i, a := range f.accounts {
				f.passedDrill("d"+string(rune('1'+i)), a, t0.Add(-10*day))
			}
			s, err := New(Options{Store: f.st, Accounts: func() []entra.Account { return f.accounts },
				Interval: 90 * day, RemindBefore: 7 * day, Route: routeAll, Now: f.clk.Now,
				TenantOf: func(id, upn string) string { return owner[upn] }})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Observe(context.Background(), Trigger{Kind: KindRole, Reason: "Global Administrator added", EventID: "ev-1", Time: t0.Add(-time.Hour), Tenant: c.tenant}); err != nil {
				t.Fatal(err)
			}
			for _, a := range c.due {
				if st := f.state(s, Key(a)); st.Early == nil || st.State != StateDueSoon {
					t.Errorf("%s: %+v, want due early", a.UPN, st)
				}
			}
			for _, a := range c.notDue {
				if st := f.state(s, Key(a)); st.Early != nil || st.State != StateOK {
					t.Errorf("%s (another tenant's): %+v, want not due", a.UPN, st)
				}
			}
		})
	}
}
