package watch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/store"
)

type fakeStore struct {
	mu       sync.Mutex
	alerts   map[string]alert.Alert
	enqueued []string // "alertID status target"
	queued   map[string]bool
}

func (f *fakeStore) AddAlertNotify(_ context.Context, a alert.Alert, _ store.Evidence, targets []string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.alerts == nil {
		f.alerts = map[string]alert.Alert{}
	}
	_, exists := f.alerts[a.ID]
	if !exists {
		f.alerts[a.ID] = a
	}
	f.enqueueLocked(a.ID, store.StatusFiring, targets)
	return !exists, nil
}

// enqueueLocked is idempotent per (alert, status, target), like the store.
func (f *fakeStore) enqueueLocked(id, status string, targets []string) {
	if f.queued == nil {
		f.queued = map[string]bool{}
	}
	for _, t := range targets {
		k := id + " " + status + " " + t
		if !f.queued[k] {
			f.queued[k] = true
			f.enqueued = append(f.enqueued, k)
		}
	}
}

func (f *fakeStore) Enqueue(_ context.Context, id, status string, targets []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enqueueLocked(id, status, targets)
	return nil
}

func (f *fakeStore) Alert(_ context.Context, id string) (alert.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.alerts[id]
	if !ok {
		return alert.Alert{}, fmt.Errorf("alert %s: %w", id, store.ErrNotFound)
	}
	return a, nil
}

func (f *fakeStore) count(rule string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.alerts {
		if a.Rule == rule {
			n++
		}
	}
	return n
}

func (f *fakeStore) resolved() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.enqueued {
		if strings.Contains(e, " resolved ") {
			out = append(out, e)
		}
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestSilenceFiresAndResolves(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	woke := 0
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Route: To("ops/webhook"), Now: c.now, Wake: func() { woke++ }})
	s := p.Silence()
	if err := s.Watch(ctx, "feed", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	_ = s.Watch(ctx, "quiet-ok", 0) // no max_silence: never fires

	c.add(9 * time.Minute)
	s.Check(ctx)
	if len(fs.alerts) != 0 {
		t.Fatal("fired before max_silence")
	}
	c.add(time.Minute)
	s.Check(ctx)
	s.Check(ctx) // still silent: no second alert
	if len(fs.alerts) != 1 || len(fs.enqueued) != 1 || woke == 0 {
		t.Fatalf("alerts %d, enqueued %v, woke %d", len(fs.alerts), fs.enqueued, woke)
	}
	var a alert.Alert
	for _, v := range fs.alerts {
		a = v
	}
	if a.Rule != RuleSilence || a.Severity != alert.Sev1 || a.Source != "feed" || !strings.Contains(a.Title, "10m0s") ||
		a.Labels[alert.LabelSource] != "feed" || a.Labels[alert.LabelRule] != RuleSilence {
		t.Errorf("alert = %+v", a)
	}

	// Life again: the alert resolves, once.
	c.add(time.Minute)
	p.Alive(ctx, "feed")
	p.Alive(ctx, "feed")
	if got := fs.resolved(); len(got) != 1 || got[0] != a.ID+" resolved ops/webhook" {
		t.Errorf("resolved = %v", got)
	}

	// A later silence is a new alert.
	c.add(10 * time.Minute)
	s.Check(ctx)
	if len(fs.alerts) != 2 {
		t.Errorf("second silence: %d alerts", len(fs.alerts))
	}
}

// TestAliveWithoutRecordsIsLife: a quiet tenant is healthy. A source that
// polls successfully and finds nothing must never be called silent.
func TestAliveWithoutRecordsIsLife(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Route: To("t/console"), Now: c.now})
	_ = p.Silence().Watch(ctx, "graph", 5*time.Minute)
	for range 30 {
		c.add(time.Minute)
		p.Alive(ctx, "graph") // a poll with no records
		p.Silence().Check(ctx)
	}
	if n := fs.count(RuleSilence); n != 0 {
		t.Fatalf("%d silence alerts for a source that polled every minute", n)
	}
	// Polls stop (or fail: a failing poll does not call Alive).
	c.add(5 * time.Minute)
	p.Silence().Check(ctx)
	if n := fs.count(RuleSilence); n != 1 {
		t.Fatalf("%d silence alerts after 5m without life, want 1", n)
	}
}

// TestSilencePersistsAcrossRestart: fire, restart the pipeline on the same
// store: no second alert, and it resolves on the first life.
func TestSilencePersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	conds := NewMemConditions() // stands for the store's table
	opts := Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: conds, Route: To("t/webhook"), Now: c.now}
	p1 := New(opts)
	_ = p1.Silence().Watch(ctx, "feed", time.Minute)
	c.add(time.Minute)
	p1.Silence().Check(ctx)
	if fs.count(RuleSilence) != 1 {
		t.Fatal("silence did not fire")
	}
	id, _ := p1.Silence().Firing("feed")

	// Restart: a new pipeline, the source still silent for longer than max.
	p2 := New(opts)
	_ = p2.Silence().Watch(ctx, "feed", time.Minute)
	if got, ok := p2.Silence().Firing("feed"); !ok || got != id {
		t.Fatalf("after restart Firing = %q %v, want %q", got, ok, id)
	}
	for range 5 {
		c.add(2 * time.Minute)
		p2.Silence().Check(ctx)
	}
	if n := fs.count(RuleSilence); n != 1 {
		t.Fatalf("%d silence alerts after restart, want still 1", n)
	}
	p2.Alive(ctx, "feed")
	if got := fs.resolved(); len(got) != 1 || !strings.HasPrefix(got[0], id+" resolved") {
		t.Fatalf("resolved = %v", got)
	}
	if _, open, _ := conds.Condition(ctx, RuleSilence, "feed"); open {
		t.Error("condition still open after resolution")
	}
	// A third start sees nothing open.
	p3 := New(opts)
	_ = p3.Silence().Watch(ctx, "feed", time.Minute)
	if _, ok := p3.Silence().Firing("feed"); ok {
		t.Error("resolved silence reopened on restart")
	}
}

// TestSourceFailing: bg.source once per failure episode, naming the source,
// the query and the error; resolved on Recovered; persisted across a restart.
func TestSourceFailing(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	conds := NewMemConditions()
	opts := Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: conds, Route: To("t/webhook"), Now: c.now, Tenant: "contoso.onmicrosoft.com"}
	p := New(opts)
	p.Failing(ctx, "graph", "signIns/interactive", errors.New("403 Forbidden: Authorization_RequestDenied"))
	c.add(time.Minute)
	p.Failing(ctx, "graph", "signIns/interactive", errors.New("503 Service Unavailable"))
	if n := fs.count(RuleSource); n != 1 {
		t.Fatalf("%d bg.source alerts for one episode, want 1", n)
	}
	var a alert.Alert
	for _, v := range fs.alerts {
		a = v
	}
	for _, want := range []string{`"graph"`, "signIns/interactive", "403 Forbidden"} {
		if !strings.Contains(a.Title, want) {
			t.Errorf("title %q does not name %s", a.Title, want)
		}
	}
	if a.Severity != alert.Sev1 || a.Labels[alert.LabelTenant] != "contoso.onmicrosoft.com" || a.Labels[alert.LabelSource] != "graph" {
		t.Errorf("alert = %+v", a)
	}
	// Another query of the same source is its own episode; its title names
	// the query once, not again in the error's own prefix.
	p.Failing(ctx, "graph", "directoryAudits/initiatedBy", errors.New("graph query directoryAudits/initiatedBy: timeout"))
	for _, v := range fs.alerts {
		if strings.Contains(v.Title, "directoryAudits/initiatedBy") {
			if n := strings.Count(v.Title, "directoryAudits/initiatedBy"); n != 1 || !strings.HasSuffix(v.Title, "cannot read directoryAudits/initiatedBy: timeout") {
				t.Errorf("title %q: want the query named once, then the reason", v.Title)
			}
		}
	}
	if n := fs.count(RuleSource); n != 2 {
		t.Fatalf("%d alerts, want 2", n)
	}
	// Restart: still failing, no new alert.
	p2 := New(opts)
	p2.Failing(ctx, "graph", "signIns/interactive", errors.New("403 again"))
	if n := fs.count(RuleSource); n != 2 {
		t.Fatalf("restart raised again: %d alerts", n)
	}
	p2.Recovered(ctx, "graph", "signIns/interactive")
	p2.Recovered(ctx, "graph", "signIns/interactive")
	if got := fs.resolved(); len(got) != 1 || !strings.HasPrefix(got[0], a.ID) {
		t.Fatalf("resolved = %v, want one for %s", got, a.ID)
	}
	// A new failure after recovery is a new episode.
	c.add(time.Minute)
	p2.Failing(ctx, "graph", "signIns/interactive", errors.New("403"))
	if n := fs.count(RuleSource); n != 3 {
		t.Fatalf("%d alerts after a second episode, want 3", n)
	}
}

const bgID = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"

func TestIngestStoresLabelsAndWakes(t *testing.T) {
	fs := &fakeStore{}
	woke := 0
	p := New(Options{
		Accounts: entra.NewAccountSet([]entra.Account{{ID: bgID}}),
		Store:    fs, Route: To("a/console", "b/webhook"), Wake: func() { woke++ }, Tenant: "t1",
	})
	rec := `{"time":"2024-06-20T07:00:00Z","category":"SignInLogs","properties":{"id":"r1","createdDateTime":"2024-06-20T07:00:00Z","userId":"` + bgID + `","status":{"errorCode":0}}}` + "\n"
	for range 2 { // the second time is a replay: no new alert, no new deliveries
		st, err := p.Ingest(context.Background(), "push", "http:test", strings.NewReader(rec))
		if err != nil || st.TotalRecords() != 1 {
			t.Fatalf("Ingest: %v %+v", err, st)
		}
	}
	if len(fs.alerts) != 1 || len(fs.enqueued) != 2 || woke == 0 {
		t.Fatalf("alerts %d enqueued %v woke %d", len(fs.alerts), fs.enqueued, woke)
	}
	for _, a := range fs.alerts {
		want := map[string]string{"rule": "bg.signin", "source": "push", "tenant": "t1", "account": bgID, "category": "SignInLogs", "severity": "Sev0"}
		for k, v := range want {
			if a.Labels[k] != v {
				t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
			}
		}
	}
}

// TestMetricsBounded: 10,000 records with random categories and an unknown
// source name must not grow the number of series.
func TestMetricsBounded(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	reg := prometheus.NewRegistry()
	depth := func(context.Context) (int, error) { return 0, nil }
	p := New(Options{Accounts: entra.NewAccountSet([]entra.Account{{ID: bgID}}), Store: &fakeStore{}})
	m := NewMetrics(reg, depth, []string{"push"}, p.Silence().LastLife)
	p.o.Metrics = m
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, `{"time":"2024-06-20T07:00:00Z","category":"Cat%x","operationName":"x","properties":{"n":%d}}`+"\n", rng.Uint64(), i)
	}
	for _, src := range []string{"push", "not-configured"} {
		if _, err := p.Ingest(context.Background(), src, "in", strings.NewReader(b.String())); err != nil {
			t.Fatal(err)
		}
	}
	m.Notified("deleted/target", "dead_letter", 0)
	m.SetTargets([]string{"a/b"})
	m.Notified("deleted/target", "dead_letter", 0)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, mf := range mfs {
		total += len(mf.GetMetric())
		if mf.GetName() == "breakglass_records_read_total" {
			for _, mt := range mf.GetMetric() {
				for _, l := range mt.GetLabel() {
					if l.GetName() == "category" && l.GetValue() != LabelOther && !KnownCategory(l.GetValue()) {
						t.Errorf("unbounded category label %q", l.GetValue())
					}
					if l.GetName() == "source" && l.GetValue() != "push" && l.GetValue() != LabelOther {
						t.Errorf("unbounded source label %q", l.GetValue())
					}
				}
			}
			if n := len(mf.GetMetric()); n > 2 {
				t.Errorf("%d records_read series for 10,000 random categories, want <= 2", n)
			}
		}
	}
	if total > 40 {
		t.Errorf("%d series in total", total)
	}
	t.Logf("%d series", total)
}

// TestFailClosedCounted: alerts raised despite unreadable input are counted
// by kind.
func TestFailClosedCounted(t *testing.T) {
	tests := []struct {
		a    alert.Alert
		kind string
	}{
		{alert.Alert{Rule: "bg.signin"}, ""},
		{alert.Alert{Rule: "bg.signin", Unreadable: []string{"userId: number"}}, "degraded"},
		{alert.Alert{Rule: "bg.change", EventTimeUnknown: true}, "degraded"},
		{alert.Alert{Rule: RuleUnparsed}, "unparsed"},
	}
	for _, tc := range tests {
		if got := failClosedKind(&tc.a); got != tc.kind {
			t.Errorf("%+v: kind %q, want %q", tc.a, got, tc.kind)
		}
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, func(context.Context) (int, error) { return 0, nil }, []string{"s"}, func(string) (time.Time, bool) { return time.Time{}, false })
	m.failClosed("degraded")
	mfs, _ := reg.Gather()
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "breakglass_records_failclosed_total" {
			for _, mt := range mf.GetMetric() {
				if mt.GetLabel()[0].GetValue() == "degraded" && mt.GetCounter().GetValue() == 1 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("degraded not counted")
	}
}

// TestResolveRemoved: open conditions of sources removed from the
// configuration are resolved at start; those of configured sources stay.
func TestResolveRemoved(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	conds := NewMemConditions()
	opts := Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: conds, Route: To("t/x"), Now: c.now}
	p := New(opts)
	p.Failing(ctx, "old", "q", errors.New("boom"))
	p.Failing(ctx, "kept", "q", errors.New("boom"))
	_ = p.Silence().Watch(ctx, "old", time.Minute)
	c.add(time.Minute)
	p.Silence().Check(ctx)
	p2 := New(opts)
	if err := p2.ResolveRemoved(ctx, []string{"kept"}); err != nil {
		t.Fatal(err)
	}
	if got := fs.resolved(); len(got) != 2 {
		t.Errorf("resolved %v, want the silence and the source alert of old", got)
	}
	cs, _ := conds.Conditions(ctx, RuleSource)
	if len(cs) != 1 || !strings.HasPrefix(cs[0].Key, "kept") {
		t.Errorf("conditions left: %+v", cs)
	}
}
