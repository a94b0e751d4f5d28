package kqlrule

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kql/value"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// These tests drive the scheduler with an injected clock over the real
// SQLite store. The query is a Go function with the exact result a KQL
// query would give (the engine has its own tests): "rows" is
// `SigninLogs | project UserPrincipalName, Id`, "count" is
// `SigninLogs | summarize Count = count() by UserPrincipalName`.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// raiser records what the scheduler raises, and stores it in the real
// store so that a second firing of the same alert is not counted twice.
type raiser struct {
	st       *sqlite.Store
	mu       sync.Mutex
	notified []alert.Alert // new and not muted
	muted    []alert.Alert
	resolved []string
}

func (r *raiser) Raise(ctx context.Context, a alert.Alert, ev store.Evidence, muted bool) (bool, error) {
	var targets []string
	if !muted {
		targets = []string{"oncall"}
	}
	ins, err := r.st.AddAlertNotify(ctx, a, ev, targets)
	if err != nil || !ins {
		return ins, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if muted {
		r.muted = append(r.muted, a)
	} else {
		r.notified = append(r.notified, a)
	}
	return true, nil
}

func (r *raiser) Resolve(ctx context.Context, id string) error {
	r.mu.Lock()
	r.resolved = append(r.resolved, id)
	r.mu.Unlock()
	return r.st.Enqueue(ctx, id, store.StatusResolved, []string{"oncall"})
}

func col(name string) int {
	cols, _ := tables.Schema("SigninLogs")
	return slices.IndexFunc(cols, func(c value.Column) bool { return c.Name == name })
}

func rowsQuery(ctx context.Context, cat eval.Catalog, _ time.Time) (*eval.Result, error) {
	upn, id := col("UserPrincipalName"), col("Id")
	res := &eval.Result{Table: eval.Table{Columns: []value.Column{{Name: "UserPrincipalName", Type: value.String}, {Name: "Id", Type: value.String}}}}
	err := cat.Scan(ctx, "SigninLogs", func(row []value.Value) error {
		res.Rows = append(res.Rows, []value.Value{row[upn], row[id]})
		return nil
	})
	return res, err
}

func countQuery(ctx context.Context, cat eval.Catalog, _ time.Time) (*eval.Result, error) {
	upn := col("UserPrincipalName")
	counts := map[string]int64{}
	var order []string
	err := cat.Scan(ctx, "SigninLogs", func(row []value.Value) error {
		u := row[upn].String()
		if _, ok := counts[u]; !ok {
			order = append(order, u)
		}
		counts[u]++
		return nil
	})
	res := &eval.Result{Table: eval.Table{Columns: []value.Column{{Name: "UserPrincipalName", Type: value.String}, {Name: "Count", Type: value.Long}}}}
	for _, u := range order {
		res.Rows = append(res.Rows, []value.Value{value.NewString(u), value.NewLong(counts[u])})
	}
	return res, err
}

type harness struct {
	t     *testing.T
	clk   *clock
	st    *sqlite.Store
	path  string
	raise *raiser
	rule  *Rule
	s     *Scheduler
	n     int
}

func newHarness(t *testing.T, c config.Rule, run func(context.Context, eval.Catalog, time.Time) (*eval.Result, error), cols []value.Column) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bg.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if c.Severity == nil {
		sev := 0
		c.Severity = &sev
	}
	if c.Period == 0 {
		c.Period = c.Frequency
	}
	r := &Rule{Cfg: &c, ID: c.ID(), Kind: KindScheduled, Tables: []string{"SigninLogs"}, Columns: cols, measure: -1, run: run}
	for _, d := range c.Dimensions {
		r.dims = append(r.dims, slices.IndexFunc(cols, func(x value.Column) bool { return x.Name == d }))
	}
	if c.Threshold != nil && c.Threshold.Column != "" {
		r.measure = slices.IndexFunc(cols, func(x value.Column) bool { return x.Name == c.Threshold.Column })
	}
	h := &harness{t: t, clk: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, st: st, path: path, rule: r}
	h.raise = &raiser{st: st}
	h.start()
	return h
}

// start makes a new scheduler on the same store: what a restart does.
func (h *harness) start() {
	h.s = NewScheduler(SchedulerOptions{
		Rules: []*Rule{h.rule}, Records: h.st, State: h.st, Raise: h.raise, Now: h.clk.Now, Settle: time.Second,
		Accounts: func() *entra.AccountSet {
			return entra.NewAccountSet([]entra.Account{{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.com"}})
		},
	})
}

// signIn ingests a sign-in of upn now, whose TimeGenerated is
// eventTime.
func (h *harness) signIn(upn string, eventTime time.Time) {
	h.t.Helper()
	h.n++
	raw := fmt.Sprintf(`{"TimeGenerated":%q,"Category":"SignInLogs","OperationName":"Sign-in activity","Id":"sid-%04d","UserPrincipalName":%q,"UserId":"","ResultType":"0","Type":"SigninLogs"}`,
		eventTime.UTC().Format(time.RFC3339), h.n, upn)
	if err := h.s.Record(context.Background(), "SigninLogs", "test", []byte(raw)); err != nil {
		h.t.Fatal(err)
	}
}

// at sets the clock and ticks.
func (h *harness) at(d time.Duration) {
	h.t.Helper()
	h.clk.Set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(d))
	if err := h.s.Tick(context.Background()); err != nil {
		h.t.Fatalf("Tick at +%v: %v", d, err)
	}
}

func (h *harness) ids(as []alert.Alert) []string {
	var out []string
	for _, a := range as {
		var rows []map[string]any
		_ = json.Unmarshal([]byte(a.Annotations[AnnRows]), &rows)
		var ids []string
		for _, r := range rows {
			ids = append(ids, fmt.Sprint(r["Id"]))
		}
		out = append(out, strings.Join(ids, "+"))
	}
	return out
}

var rowCols = []value.Column{{Name: "UserPrincipalName", Type: value.String}, {Name: "Id", Type: value.String}}
var countCols = []value.Column{{Name: "UserPrincipalName", Type: value.String}, {Name: "Count", Type: value.Long}}

// TestLateRecordNoMiss: period = frequency; a record whose TimeGenerated is
// an hour old (it arrived late) still alerts, exactly once, and records on
// both sides of a window boundary each alert once.
func TestLateRecordNoMiss(t *testing.T) {
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute}, rowsQuery, rowCols)
	base := h.clk.Now()
	h.at(0) // first tick: the rule starts at the window ending 12:00
	h.clk.Set(base.Add(4*time.Minute + 59*time.Second))
	h.signIn("bg1@contoso.com", base.Add(-time.Hour)) // late: logged an hour ago
	h.clk.Set(base.Add(5 * time.Minute))
	h.signIn("bg1@contoso.com", base.Add(5*time.Minute)) // exactly at the window end: (12:00, 12:05]
	h.clk.Set(base.Add(5*time.Minute + time.Nanosecond))
	h.signIn("bg1@contoso.com", base.Add(5*time.Minute)) // just after: the next window
	h.at(5*time.Minute + 500*time.Millisecond)           // within Settle: nothing yet
	if len(h.raise.notified) != 0 {
		t.Fatalf("evaluated before the window settled: %v", h.ids(h.raise.notified))
	}
	h.at(5*time.Minute + time.Second)
	h.at(10*time.Minute + time.Second)
	h.at(15*time.Minute + time.Second)
	got := h.ids(h.raise.notified)
	t.Logf("GOT %v", got)
	if want := []string{"sid-0001+sid-0002", "sid-0003"}; !slices.Equal(got, want) {
		t.Fatalf("alerts = %v, want %v (each record once, the late one included)", got, want)
	}
	if a := h.raise.notified[0]; a.AccountUPN != "bg1@contoso.com" || a.Severity != alert.Sev0 || a.Rule != "kql.r" {
		t.Errorf("alert = rule %s sev %v account %q", a.Rule, a.Severity, a.AccountUPN)
	}
}

// TestOverlapNoDuplicate: period (15m) > frequency (5m): each window sees
// a record three times, but it fires once; a second sign-in that projects
// to an identical row still fires.
func TestOverlapNoDuplicate(t *testing.T) {
	// Only UserPrincipalName: two sign-ins give identical rows.
	upnOnly := func(ctx context.Context, cat eval.Catalog, now time.Time) (*eval.Result, error) {
		res, err := rowsQuery(ctx, cat, now)
		if err != nil {
			return nil, err
		}
		for i := range res.Rows {
			res.Rows[i] = res.Rows[i][:1]
		}
		res.Columns = res.Columns[:1]
		return res, nil
	}
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute, Period: 15 * time.Minute}, upnOnly, rowCols[:1])
	base := h.clk.Now()
	h.at(0)
	h.clk.Set(base.Add(2 * time.Minute))
	h.signIn("bg1@contoso.com", base)
	for m := 5; m <= 30; m += 5 {
		if m == 15 {
			h.clk.Set(base.Add(12 * time.Minute))
			h.signIn("bg1@contoso.com", base.Add(12*time.Minute)) // a second use, same row
		}
		h.at(time.Duration(m)*time.Minute + time.Second)
	}
	if n := len(h.raise.notified); n != 2 {
		t.Fatalf("%d alerts, want 2 (one per sign-in): %v", n, h.raise.notified)
	}
	if c := h.raise.notified[1].Annotations[AnnRowCount]; c != "2" {
		t.Errorf("second alert row count = %s, want 2 (both sign-ins in its window)", c)
	}
}

// TestThresholdByDimension: count > 2 by UserPrincipalName: each account
// is its own alert, and only the ones over the threshold fire.
func TestThresholdByDimension(t *testing.T) {
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute, Dimensions: []string{"UserPrincipalName"},
		Threshold: &config.RuleThreshold{Operator: ">", Value: 2, Column: "Count"}}, countQuery, countCols)
	base := h.clk.Now()
	h.at(0)
	h.clk.Set(base.Add(time.Minute))
	for range 3 {
		h.signIn("bg1@contoso.com", base)
		h.signIn("bg2@contoso.com", base)
	}
	h.signIn("bg3@contoso.com", base)
	h.signIn("bg2@contoso.com", base)
	h.at(5*time.Minute + time.Second)
	var got []string
	for _, a := range h.raise.notified {
		got = append(got, a.Annotations[AnnDimensions]+" "+a.Annotations[AnnCondition])
	}
	want := []string{"UserPrincipalName=bg1@contoso.com Count 3 > 2", "UserPrincipalName=bg2@contoso.com Count 4 > 2"}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts = %q, want %q", got, want)
	}
	if h.raise.notified[0].ID == h.raise.notified[1].ID {
		t.Error("two dimension combinations share an alert id")
	}
	if h.raise.notified[0].AccountUPN != "bg1@contoso.com" {
		t.Errorf("account = %q, want bg1@contoso.com (named in the dimension)", h.raise.notified[0].AccountUPN)
	}
}

// TestMuteFor: after a notified firing, the group's firings within
// mute_for are stored but muted; another group is not muted; after the
// window it notifies again.
func TestMuteFor(t *testing.T) {
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute, MuteFor: 12 * time.Minute, Dimensions: []string{"UserPrincipalName"}},
		rowsQuery, rowCols)
	base := h.clk.Now()
	h.at(0)
	for m := 1; m <= 21; m += 5 { // one sign-in of bg1 in each window
		h.clk.Set(base.Add(time.Duration(m) * time.Minute))
		h.signIn("bg1@contoso.com", base)
		if m == 6 {
			h.signIn("bg2@contoso.com", base)
		}
		h.at(time.Duration(m+4)*time.Minute + time.Second)
	}
	// bg1 fired at 12:05 (notified, mutes until 12:17), 12:10 and 12:15
	// (muted), 12:20 and 12:25 (12:20 notifies again, mutes until 12:32).
	var notified, muted []string
	for _, a := range h.raise.notified {
		notified = append(notified, a.EventTime.Format("15:04")+" "+a.Annotations[AnnDimensions])
	}
	for _, a := range h.raise.muted {
		muted = append(muted, a.EventTime.Format("15:04")+" "+a.Annotations[AnnDimensions])
		if !strings.Contains(a.Annotations["muted"], "mute_for") {
			t.Errorf("muted alert does not say why: %q", a.Annotations["muted"])
		}
	}
	wantN := []string{"12:05 UserPrincipalName=bg1@contoso.com", "12:10 UserPrincipalName=bg2@contoso.com", "12:20 UserPrincipalName=bg1@contoso.com"}
	wantM := []string{"12:10 UserPrincipalName=bg1@contoso.com", "12:15 UserPrincipalName=bg1@contoso.com", "12:25 UserPrincipalName=bg1@contoso.com"}
	if !slices.Equal(notified, wantN) || !slices.Equal(muted, wantM) {
		t.Fatalf("notified %q\nwant     %q\nmuted %q\nwant  %q", notified, wantN, muted, wantM)
	}
}

// TestRestartMidway: the scheduler stops after one window and a new one
// (same store) starts 12 minutes later: the windows in between are
// evaluated, no record is missed and none alerts twice.
func TestRestartMidway(t *testing.T) {
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute}, rowsQuery, rowCols)
	base := h.clk.Now()
	h.at(0)
	h.clk.Set(base.Add(time.Minute))
	h.signIn("bg1@contoso.com", base)
	h.at(5*time.Minute + time.Second)
	h.clk.Set(base.Add(7 * time.Minute))
	h.signIn("bg1@contoso.com", base) // read just before the stop
	// Stop: a new scheduler on the same store, 12 minutes on.
	h.start()
	h.clk.Set(base.Add(19 * time.Minute))
	h.signIn("bg1@contoso.com", base) // read after the restart
	h.at(19*time.Minute + 30*time.Second)
	h.at(20*time.Minute + time.Second)
	got := h.ids(h.raise.notified)
	if want := []string{"sid-0001", "sid-0002", "sid-0003"}; !slices.Equal(got, want) {
		t.Fatalf("alerts = %v, want %v", got, want)
	}
	// Crash after the alert was stored but before the state was saved:
	// evaluating the window again stores nothing new.
	c, _, err := h.st.Condition(context.Background(), StateRule, h.rule.ID)
	if err != nil {
		t.Fatal(err)
	}
	var st schedState
	if err := json.Unmarshal(c.Data, &st); err != nil {
		t.Fatal(err)
	}
	st.Last = st.Last.Add(-10 * time.Minute)
	data, _ := json.Marshal(st)
	c.Data = data
	if err := h.st.SetCondition(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.at(20*time.Minute + 2*time.Second)
	if n := len(h.raise.notified); n != 3 {
		t.Fatalf("re-evaluated windows alerted again: %d alerts", n)
	}
}

// TestViolationsAndAutoResolve: violations {of: 3, min: 2} fires on the
// second breaching evaluation out of three; auto_resolve fires once and
// resolves after Azure's number of clear evaluations (3 at 5 minutes).
func TestViolationsAndAutoResolve(t *testing.T) {
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute, AutoResolve: true,
		Threshold:  &config.RuleThreshold{Operator: ">", Value: 0},
		Violations: &config.RuleViolations{Of: 3, Min: 2}}, rowsQuery, rowCols)
	base := h.clk.Now()
	h.at(0)
	breach := []bool{true, false, true, true, true, false, false, false, false}
	for i, b := range breach {
		m := time.Duration(i*5+1) * time.Minute
		h.clk.Set(base.Add(m))
		if b {
			h.signIn("bg1@contoso.com", base)
		}
		h.at(m + 4*time.Minute + time.Second)
		switch {
		case i < 2 && len(h.raise.notified) != 0:
			t.Fatalf("fired after evaluation %d; 2 of 3 needed", i+1)
		case i >= 2 && len(h.raise.notified) != 1:
			t.Fatalf("after evaluation %d: %d alerts, want 1 (stateful: once until resolved)", i+1, len(h.raise.notified))
		}
	}
	// Evaluation 6 does not breach: clear 1; 7 → 2; 8 → 3: resolved.
	if len(h.raise.resolved) != 1 || h.raise.resolved[0] != h.raise.notified[0].ID {
		t.Fatalf("resolved = %v, want the one alert %s", h.raise.resolved, h.raise.notified[0].ID)
	}
}

func TestResolveAfter(t *testing.T) {
	for _, tc := range []struct {
		f    time.Duration
		want int
	}{{time.Minute, 10}, {2 * time.Minute, 5}, {5 * time.Minute, 3}, {10 * time.Minute, 3}, {15 * time.Minute, 2}, {6 * time.Hour, 2}, {11 * time.Hour, 1}, {12 * time.Hour, 1}} {
		if got := ResolveAfter(tc.f); got != tc.want {
			t.Errorf("ResolveAfter(%v) = %d, want %d", tc.f, got, tc.want)
		}
	}
}

// TestRecordsPruned: records older than every rule's next window are
// deleted after a tick.
func TestRecordsPruned(t *testing.T) {
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute, Period: 10 * time.Minute}, rowsQuery, rowCols)
	base := h.clk.Now()
	h.at(0)
	h.clk.Set(base.Add(time.Minute))
	h.signIn("bg1@contoso.com", base)
	h.at(5*time.Minute + time.Second)
	count := func() int {
		n := 0
		_ = h.st.ScanRecords(context.Background(), "SigninLogs", base.Add(-time.Hour), base.Add(time.Hour), func(store.KQLRecord) error { n++; return nil })
		return n
	}
	if count() != 1 {
		t.Fatal("record pruned while a window still needs it")
	}
	h.at(10*time.Minute + time.Second) // next window (12:05, 12:15] no longer holds 12:01
	if n := count(); n != 0 {
		t.Fatalf("%d records kept after no window needs them", n)
	}
}

// flakyRecords fails ScanRecords while failing is set.
type flakyRecords struct {
	store.Records
	mu      sync.Mutex
	failing bool
}

func (f *flakyRecords) ScanRecords(ctx context.Context, table string, from, to time.Time, fn func(store.KQLRecord) error) error {
	f.mu.Lock()
	failing := f.failing
	f.mu.Unlock()
	if failing {
		return fmt.Errorf("disk I/O error")
	}
	return f.Records.ScanRecords(ctx, table, from, to, fn)
}

// TestStoreErrorRetriesWindow: a window whose records cannot be read is
// not counted as evaluated (and raises no bg.kql_failed): the next tick
// evaluates it, and the record alerts.
func TestStoreErrorRetriesWindow(t *testing.T) {
	h := newHarness(t, config.Rule{Name: "r", Frequency: 5 * time.Minute}, rowsQuery, rowCols)
	flaky := &flakyRecords{Records: h.st}
	h.s = NewScheduler(SchedulerOptions{Rules: []*Rule{h.rule}, Records: flaky, State: h.st, Raise: h.raise, Now: h.clk.Now, Settle: time.Second})
	base := h.clk.Now()
	h.at(0)
	h.clk.Set(base.Add(time.Minute))
	h.signIn("bg1@contoso.com", base)
	flaky.failing = true
	h.clk.Set(base.Add(5*time.Minute + time.Second))
	if err := h.s.Tick(context.Background()); err == nil {
		t.Fatal("Tick hid the store error")
	}
	if len(h.raise.notified) != 0 {
		t.Fatalf("alerts while the store failed: %v", h.raise.notified)
	}
	flaky.failing = false
	h.at(6 * time.Minute)
	if got := h.ids(h.raise.notified); !slices.Equal(got, []string{"sid-0001"}) {
		t.Fatalf("after recovery: %v, want the record's alert", got)
	}
}
