package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/route"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// escClock is the injectable clock of the escalation tests.
type escClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *escClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *escClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var escT0 = time.Date(2026, 3, 14, 2, 51, 7, 0, time.UTC)

// escRouter: bg.signin goes to oncall, then managers after oncall's 10m,
// then execs after managers' 20m more; everything else to oncall only.
func escRouter(t *testing.T) *route.Router {
	t.Helper()
	r, err := route.New([]route.Group{
		{Name: "oncall", Targets: []string{"oncall/sms", "oncall/email"}, EscalateAfter: 10 * time.Minute},
		{Name: "managers", Targets: []string{"managers/voice"}, EscalateAfter: 20 * time.Minute},
		{Name: "execs", Targets: []string{"execs/email"}},
	}, []route.Route{
		{Matchers: []route.Matcher{route.MustParse(`rule="bg.signin"`)}, Groups: []string{"oncall", "managers", "execs"}},
		{Groups: []string{"oncall"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type escFixture struct {
	path  string
	st    *sqlite.Store
	r     *route.Router
	c     *escClock
	e     *escalator
	log   *bytes.Buffer
	wakes int
}

func newEscFixture(t *testing.T) *escFixture {
	t.Helper()
	f := &escFixture{path: filepath.Join(t.TempDir(), "bg.db"), r: escRouter(t), c: &escClock{t: escT0}, log: &bytes.Buffer{}}
	f.open(t)
	return f
}

// open (re)opens the store and builds a new escalator on it, as a
// restarted daemon does.
func (f *escFixture) open(t *testing.T) {
	t.Helper()
	if f.st != nil {
		f.st.Close()
	}
	st, err := sqlite.Open(context.Background(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	f.e = newEscalator(st, f.r, func() { f.wakes++ }, slog.New(slog.NewTextHandler(f.log, nil)), f.c.Now)
	if f.e == nil {
		t.Fatal("no escalator although a route escalates")
	}
}

// add stores a detected alert the way the pipeline does: with deliveries
// to the first step of its plan.
func (f *escFixture) add(t *testing.T, event, rule string, detected time.Time, notify bool) alert.Alert {
	t.Helper()
	a := alert.Alert{ID: alert.Key(event, rule), Rule: rule, Severity: alert.Sev0, Title: "t " + event,
		AccountUPN: "bg1@contoso.example", EventID: event, EventTime: detected.Add(-time.Minute), Detected: detected, Category: "SignInLogs"}
	a.Labels = a.StandardLabels()
	var targets []string
	if notify {
		targets = f.r.Plan(a.Labels).Now()
	}
	if _, err := f.st.AddAlertNotify(context.Background(), a, store.Evidence{Raw: []byte("{}")}, targets); err != nil {
		t.Fatal(err)
	}
	return a
}

// at sweeps at escT0+d.
func (f *escFixture) at(t *testing.T, d time.Duration) int {
	t.Helper()
	f.c.Set(escT0.Add(d))
	n, err := f.e.sweep(context.Background())
	if err != nil {
		t.Fatalf("sweep at +%v: %v", d, err)
	}
	return n
}

// targets lists an alert's firing deliveries.
func (f *escFixture) targets(t *testing.T, a alert.Alert) string {
	t.Helper()
	ds, err := f.st.AlertDeliveries(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		if d.Status == store.StatusFiring {
			out = append(out, d.Target)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

const (
	step0 = "oncall/email oncall/sms"
	step1 = "managers/voice oncall/email oncall/sms"
	step2 = "execs/email managers/voice oncall/email oncall/sms"
)

// TestEscalateUnacknowledged: the next group is notified once the alert
// has gone unacknowledged for escalate_after (not a second before), then
// the one after it once its own delay has passed too; each escalation is
// logged with the alert, from and to groups and how long; the dispatcher
// is woken.
func TestEscalateUnacknowledged(t *testing.T) {
	f := newEscFixture(t)
	a := f.add(t, "evt-1", "bg.signin", escT0, true)
	for _, tc := range []struct {
		at   time.Duration
		want string
		n    int
	}{
		{0, step0, 0},
		{10*time.Minute - time.Second, step0, 0},
		{10 * time.Minute, step1, 1},
		{10*time.Minute + 5*time.Second, step1, 0}, // not again
		{30*time.Minute - time.Nanosecond, step1, 0},
		{30 * time.Minute, step2, 1},
		{2 * time.Hour, step2, 0},
	} {
		if n := f.at(t, tc.at); n != tc.n {
			t.Errorf("+%v: escalated %d, want %d", tc.at, n, tc.n)
		}
		if got := f.targets(t, a); got != tc.want {
			t.Errorf("+%v: deliveries %q, want %q", tc.at, got, tc.want)
		}
	}
	if f.wakes != 2 {
		t.Errorf("dispatcher woken %d times, want 2", f.wakes)
	}
	logs := f.log.String()
	for _, want := range []string{
		"alert=" + a.ID, "unacknowledged_for=10m0s", "from_groups=[oncall] to_groups=[managers]",
		"unacknowledged_for=30m0s", "from_groups=\"[oncall managers]\" to_groups=[execs]",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "escalating"); n != 2 {
		t.Errorf("%d escalations logged, want 2:\n%s", n, logs)
	}
}

// TestEscalateAcknowledged: an alert acknowledged before escalate_after
// never escalates; one acknowledged after the first escalation stops
// there; a resolved one never escalates; handed back to firing, it
// escalates again at once for what is due.
func TestEscalateAcknowledged(t *testing.T) {
	f := newEscFixture(t)
	ctx := context.Background()
	early := f.add(t, "evt-early", "bg.signin", escT0, true)
	mid := f.add(t, "evt-mid", "bg.signin", escT0, true)
	res := f.add(t, "evt-res", "bg.signin", escT0, true)
	ack := func(a alert.Alert, state string) {
		t.Helper()
		if _, err := f.st.ChangeAlertState(ctx, store.StateChange{AlertID: a.ID, To: state, By: "Dana", Via: store.ViaCLI}); err != nil {
			t.Fatal(err)
		}
	}
	f.at(t, 5*time.Minute)
	ack(early, alert.StateAcknowledged)
	ack(res, alert.StateResolved)
	f.at(t, 10*time.Minute)
	ack(mid, alert.StateAcknowledged)
	for _, d := range []time.Duration{30 * time.Minute, 3 * time.Hour} {
		f.at(t, d)
	}
	for _, tc := range []struct {
		a    alert.Alert
		want string
	}{{early, step0}, {mid, step1}, {res, step0}} {
		if got := f.targets(t, tc.a); got != tc.want {
			t.Errorf("%s: deliveries %q, want %q", tc.a.EventID, got, tc.want)
		}
	}
	ack(early, alert.StateFiring) // handed back
	if n := f.at(t, 3*time.Hour+time.Second); n != 1 {
		t.Errorf("handed back: escalated %d, want 1", n)
	}
	if got := f.targets(t, early); got != step2 {
		t.Errorf("handed back: deliveries %q, want %q", got, step2)
	}
}

// TestEscalateRestart: a daemon restarted between two steps (a new
// escalator on the reopened store: nothing in memory) sends the second
// step when due and never the first again; one that was down while both
// fell due sends both when it comes back.
func TestEscalateRestart(t *testing.T) {
	f := newEscFixture(t)
	a := f.add(t, "evt-1", "bg.signin", escT0, true)
	b := f.add(t, "evt-2", "bg.signin", escT0, true)
	f.at(t, 10*time.Minute)
	if got := f.targets(t, a); got != step1 {
		t.Fatalf("before restart: %q", got)
	}
	// Mark a's managers delivery sent, so a repeat would show as a new row.
	ds, _ := f.st.AlertDeliveries(context.Background(), a.ID)
	for _, d := range ds {
		if err := f.st.CompleteDelivery(context.Background(), d.ID, escT0.Add(11*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	f.open(t)
	if n := f.at(t, 20*time.Minute); n != 0 {
		t.Errorf("after restart, nothing due: escalated %d", n)
	}
	if n := f.at(t, 30*time.Minute); n != 2 {
		t.Errorf("after restart: escalated %d, want 2", n)
	}
	for _, x := range []alert.Alert{a, b} {
		if got := f.targets(t, x); got != step2 {
			t.Errorf("%s: %q, want %q", x.EventID, got, step2)
		}
		ds, _ := f.st.AlertDeliveries(context.Background(), x.ID)
		if len(ds) != 4 {
			t.Errorf("%s: %d deliveries, want 4 (one per target)", x.EventID, len(ds))
		}
	}
	// Down while both steps fell due.
	c := f.add(t, "evt-3", "bg.signin", escT0.Add(time.Hour), true)
	f.open(t)
	if n := f.at(t, 3*time.Hour); n != 1 {
		t.Errorf("after downtime: escalated %d, want 1", n)
	}
	if got := f.targets(t, c); got != step2 {
		t.Errorf("after downtime: %q, want %q", got, step2)
	}
}

// TestEscalateScope: an alert that was never notified (stored by a scan,
// or muted), one whose route does not escalate, and one detected before
// the window are left alone.
func TestEscalateScope(t *testing.T) {
	f := newEscFixture(t)
	scanned := f.add(t, "evt-scan", "bg.signin", escT0, false)
	other := f.add(t, "evt-other", "bg.change", escT0, true)
	old := f.add(t, "evt-old", "bg.signin", escT0.Add(-f.e.window-time.Second), true)
	f.at(t, 2*time.Hour)
	for _, tc := range []struct {
		a    alert.Alert
		want string
	}{{scanned, ""}, {other, step0}, {old, step0}} {
		if got := f.targets(t, tc.a); got != tc.want {
			t.Errorf("%s: deliveries %q, want %q", tc.a.EventID, got, tc.want)
		}
	}
	if f.wakes != 0 {
		t.Errorf("woken %d times", f.wakes)
	}
}

// TestNoEscalator: without escalate_after nothing runs.
func TestNoEscalator(t *testing.T) {
	r, err := route.New([]route.Group{{Name: "a", Targets: []string{"a/x"}}, {Name: "b", Targets: []string{"b/y"}}},
		[]route.Route{{Groups: []string{"a", "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if e := newEscalator(nil, r, nil, nil, time.Now); e != nil {
		t.Fatal(fmt.Sprint("escalator without escalation: ", e))
	}
}

// failingStore fails Alerts while fail is set.
type failingStore struct {
	escalationStore
	fail bool
}

func (f *failingStore) Alerts(ctx context.Context, flt store.AlertFilter) ([]alert.Alert, error) {
	if f.fail {
		return nil, errors.New("disk I/O error")
	}
	return f.escalationStore.Alerts(ctx, flt)
}

type healthRecorder struct{ events []string }

func (h *healthRecorder) Failing(_ context.Context, source, key string, err error) {
	h.events = append(h.events, "failing "+source+"/"+key+": "+err.Error())
}
func (h *healthRecorder) Recovered(_ context.Context, source, key string) {
	h.events = append(h.events, "recovered "+source+"/"+key)
}

// TestEscalateFailureAlerts: sweeps that keep failing raise bg.source
// (once), and one that works again resolves it; a single failure only logs.
func TestEscalateFailureAlerts(t *testing.T) {
	f := newEscFixture(t)
	fs := &failingStore{escalationStore: f.st}
	h := &healthRecorder{}
	f.e.st, f.e.health = fs, h
	ctx := context.Background()
	sweep := func() {
		_, err := f.e.sweep(ctx)
		f.e.report(ctx, err)
	}
	fs.fail = true
	sweep()
	fs.fail = false
	sweep()
	if len(h.events) != 0 {
		t.Fatalf("one failure raised: %v", h.events)
	}
	fs.fail = true
	for range 5 {
		sweep()
	}
	fs.fail = false
	sweep()
	sweep()
	want := "[failing escalation/alerts: escalation to the next group is not working: listing firing alerts: disk I/O error recovered escalation/alerts]"
	if fmt.Sprint(h.events) != want {
		t.Errorf("health events %v\nwant %s", h.events, want)
	}
	if !strings.Contains(f.log.String(), "failures_in_a_row=3") {
		t.Errorf("failures not logged:\n%s", f.log.String())
	}
}

// TestServeEscalationWiring: serve builds the escalator from notify.groups'
// escalate_after and notify.routes, and none without them.
func TestServeEscalationWiring(t *testing.T) {
	groups := `notify:
  groups:
    - name: oncall
      escalate_after: ESC
      channels:
        - {type: console}
    - name: managers
      channels:
        - {type: console}
  routes:
    - matchers: ['rule="bg.signin"']
      groups: [oncall, managers]
`
	for _, tc := range []struct {
		esc  string
		want time.Duration
	}{{"10m", 10*time.Minute + escalateMargin}, {"0s", 0}} {
		e := newEnv(t)
		cfg := e.config(t, strings.Replace(groups, "ESC", tc.esc, 1))
		d, err := New(cfg, Options{Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.want == 0 && d.esc != nil:
			t.Errorf("escalate_after %s: an escalator", tc.esc)
		case tc.want != 0 && (d.esc == nil || d.esc.window != tc.want || d.esc.health == nil):
			t.Errorf("escalate_after %s: escalator %+v", tc.esc, d.esc)
		}
		d.Close()
	}
}

// TestServeEscalates: serve notifies a sign-in's first group at once and
// its next group only once the alert has gone escalate_after
// unacknowledged (its clock moved on); an alert acknowledged meanwhile is
// not escalated.
func TestServeEscalates(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      escalate_after: 10m
      channels:
        - {type: webhook, url: `+rcv.srv.URL+`/oncall}
    - name: managers
      channels:
        - {type: webhook, url: `+rcv.srv.URL+`/managers}
  routes:
    - matchers: ['rule="bg.signin"']
      groups: [oncall, managers]
`)
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	const every = 200 * time.Millisecond
	r := start(t, cfg, Options{Now: now, EscalateInterval: every})
	for _, id := range []string{"r-esc-1", "r-esc-2"} {
		if code := post(t, r.ingest(t), []byte(signIn(id))); code != http.StatusAccepted {
			t.Fatalf("POST = %d", code)
		}
	}
	ctx := context.Background()
	var as []alert.Alert
	waitFor(t, 10*time.Second, "both alerts at oncall", func() bool {
		as, _ = r.d.st.Alerts(ctx, store.AlertFilter{Rule: "bg.signin"})
		n := 0
		for k := range rcv.snapshot() {
			if strings.HasPrefix(k, "/oncall ") {
				n++
			}
		}
		return len(as) == 2 && n == 2
	}, func() string { return fmt.Sprint(rcv.snapshot()) })
	escalated, acked := as[0], as[1]
	if _, err := r.d.st.ChangeAlertState(ctx, store.StateChange{AlertID: acked.ID, To: alert.StateAcknowledged, By: "Dana", Via: store.ViaCLI}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * every) // sweeps before escalate_after: nothing
	for k := range rcv.snapshot() {
		if strings.HasPrefix(k, "/managers ") {
			t.Fatalf("managers notified before escalate_after: %v", rcv.snapshot())
		}
	}
	mu.Lock()
	offset = 11 * time.Minute
	mu.Unlock()
	waitFor(t, 10*time.Second, "the escalation to managers", func() bool {
		return rcv.snapshot()["/managers "+escalated.ID+" firing"] == 1
	}, func() string { return fmt.Sprint(rcv.snapshot()) + "\n" + r.logs.String() })
	ds, err := r.d.st.AlertDeliveries(ctx, acked.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if strings.HasPrefix(d.Target, "managers/") {
			t.Errorf("the acknowledged alert was escalated: %+v", d)
		}
	}
	if !strings.Contains(r.logs.String(), "escalating: alert not acknowledged") {
		t.Errorf("escalation not logged:\n%s", r.logs.String())
	}
}
