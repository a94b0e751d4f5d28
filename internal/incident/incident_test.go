package incident_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/incident"
	"breakglass/internal/notify"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/watch"
)

const (
	bgID  = "7D5F3B2A-4C1E-4F6B-9A8D-2E3C4B5A6F70"
	bgUPN = "bg-admin1@contoso.onmicrosoft.com"
	gap   = 2 * time.Hour
)

var t0 = time.Date(2026, 3, 3, 3, 12, 9, 0, time.UTC)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// use stores the alerts of one use of the account at at: a sign-in, the
// activity it did and a change to the account, each with its raw record.
func use(t *testing.T, st *sqlite.Store, tag string, at time.Time) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	for i, rule := range []string{detect.RuleSignIn, detect.RuleActivity, detect.RuleChange} {
		ev := tag + "-" + rule
		a := alert.Alert{ID: alert.Key(ev, rule), Rule: rule, Severity: alert.Sev0, Title: rule + " " + tag,
			AccountID: bgID, AccountUPN: bgUPN, EventID: ev, EventTime: at.Add(time.Duration(i) * 10 * time.Minute),
			Category: "SignInLogs", Source: "signins.json:" + tag, Detected: at.Add(time.Minute)}
		if rule == detect.RuleChange {
			// A change record may carry only the target's UPN, in other case.
			a.AccountID, a.AccountUPN = "", strings.ToUpper(bgUPN)
		}
		raw := []byte(`{"id":"` + ev + `", "odd":"\u00e9\u0000"}` + "\r\n")
		if _, err := st.AddAlert(context.Background(), a, store.Evidence{EventID: ev, Category: a.Category, Source: a.Source, Raw: raw}); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func builder(st *sqlite.Store, c *clock) *incident.Builder {
	return incident.New(incident.Options{Store: st, Gap: gap, Now: c.now,
		Accounts: []entra.Account{{ID: bgID, UPN: bgUPN}}})
}

func drain(t *testing.T, b *incident.Builder, want int) {
	t.Helper()
	n, err := b.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("Drain attached %d alerts, want %d", n, want)
	}
}

// TestGrouping: the sign-in, activity and change alerts of one use form
// one incident, with the change named by UPN alone; a use a day later is
// another incident; after close a new alert opens one linked by Previous.
func TestGrouping(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: t0.Add(2 * time.Minute)}
	b := builder(st, c)

	first := use(t, st, "use1", t0)
	drain(t, b, 3)
	drain(t, b, 0) // nothing left, nothing twice
	incs, err := st.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 {
		t.Fatalf("one use formed %d incidents, want 1: %+v", len(incs), incs)
	}
	inc := incs[0]
	if inc.Key != strings.ToLower(bgID) || inc.Kind != store.IncidentAccount || len(inc.Alerts) != 3 {
		t.Fatalf("incident = %+v", inc)
	}

	second := use(t, st, "use2", t0.Add(24*time.Hour))
	c.set(t0.Add(24*time.Hour + time.Minute))
	drain(t, b, 3)
	incs, _ = st.Incidents(ctx, store.IncidentFilter{})
	if len(incs) != 2 {
		t.Fatalf("two uses a day apart formed %d incidents, want 2", len(incs))
	}
	inc2 := incs[0]
	if inc2.Previous != inc.ID || !slices.Equal(inc2.Alerts, ids(second)) {
		t.Errorf("second incident = %+v; want alerts %v, previous %s", inc2, ids(second), inc.ID)
	}

	// Review and close the second; a sign-in an hour later opens a third.
	if _, err := incident.Review(ctx, st, inc2.ID, incident.ReviewRequest{Class: store.ClassDrill, By: "alice", Note: "quarterly drill"}, c.now()); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Close(ctx, st, inc2.ID, "alice", "", c.now()); err != nil {
		t.Fatal(err)
	}
	third := use(t, st, "use3", t0.Add(25*time.Hour))
	drain(t, b, 3)
	inc3, err := st.IncidentOf(ctx, third[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if inc3.ID == inc2.ID || inc3.Previous != inc2.ID || inc3.State != store.IncidentOpen {
		t.Errorf("alert after close: incident %+v, want a new open one after %s", inc3, inc2.ID)
	}
	_ = first
}

func ids(as []alert.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// TestEvidenceOnAttach: opening and attaching write the transition, each
// raw record byte for byte and each alert as JSON, into one chain.
func TestEvidenceOnAttach(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: t0}
	as := use(t, st, "use1", t0)
	drain(t, builder(st, c), 3)
	inc, err := st.IncidentOf(ctx, as[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	log, err := st.IncidentLog(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Kind+" "+e.Ref)
	}
	want := []string{store.LogIncident + " state:open"}
	for _, a := range as {
		want = append(want, store.LogRecord+" "+a.EventID, store.LogAlert+" "+a.ID)
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("evidence log:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range log {
		switch e.Kind {
		case store.LogRecord:
			ev, err := st.Evidence(ctx, e.Ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e.Content, ev.Raw) {
				t.Errorf("record %s logged as %q, stored raw %q", e.Ref, e.Content, ev.Raw)
			}
		case store.LogAlert:
			var a alert.Alert
			if err := json.Unmarshal(e.Content, &a); err != nil || a.ID != e.Ref {
				t.Errorf("alert entry %s: %v %+v", e.Ref, err, a)
			}
		case store.LogIncident:
			var tr incident.Transition
			if err := json.Unmarshal(e.Content, &tr); err != nil || tr.To != store.IncidentOpen || tr.By == "" || !tr.At.Equal(inc.Opened) {
				t.Errorf("open transition %s: %v %+v", e.Content, err, tr)
			}
		}
	}
}

// TestReconcileAfterCrash: an alert attached whose evidence was not yet
// logged (a crash between the two) is completed by Reconcile, once.
func TestReconcileAfterCrash(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: t0}
	as := use(t, st, "use1", t0)
	// The crash: the store attached the first alert, nothing was logged.
	key, kind := incident.KeyOf(as[0])
	inc, _, err := st.AttachAlert(ctx, as[0], key, kind, gap, t0)
	if err != nil {
		t.Fatal(err)
	}
	b := builder(st, c) // the restarted daemon
	if err := b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, b, 2)
	if err := b.Reconcile(ctx); err != nil { // again: nothing more
		t.Fatal(err)
	}
	log, _ := st.IncidentLog(ctx, inc.ID)
	if len(log) != 1+2*3 {
		t.Fatalf("%d evidence entries after reconcile, want 7 (open, and record+alert per alert)", len(log))
	}
	seen := map[string]int{}
	for _, e := range log {
		seen[e.Kind+" "+e.Ref]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s logged %d times", k, n)
		}
	}
}

func TestKeyOf(t *testing.T) {
	if incident.HealthSource == "" || notify.LabelTarget != "target" || watch.LabelCheck != "check" {
		t.Fatal("label keys drifted from notify.LabelTarget / watch.LabelCheck")
	}
	for _, tc := range []struct {
		a         alert.Alert
		key, kind string
	}{
		{alert.Alert{Rule: detect.RuleSignIn, AccountID: bgID, AccountUPN: bgUPN}, strings.ToLower(bgID), store.IncidentAccount},
		{alert.Alert{Rule: detect.RuleUnparsed, AccountUPN: "BG@Contoso.com"}, "bg@contoso.com", store.IncidentAccount},
		{alert.Alert{ID: "x1", Rule: detect.RuleUnparsed}, "unknown:x1", store.IncidentAccount},
		{alert.Alert{Rule: detect.RuleSilence, Source: "eventhub"}, "silence:eventhub", store.IncidentSilence},
		{alert.Alert{Rule: detect.RuleSource, Source: "graph"}, "source:graph", store.IncidentSource},
		{alert.Alert{Rule: detect.RulePosture, AccountID: bgID, Labels: map[string]string{"check": "cloud-only"}}, "posture:" + strings.ToLower(bgID), store.IncidentPosture},
		{alert.Alert{Rule: detect.RulePosture, Labels: map[string]string{"check": "pim-lockout"}}, "posture:pim-lockout", store.IncidentPosture},
		{alert.Alert{Rule: detect.RuleNotify, AccountID: bgID, Source: "notify", Labels: map[string]string{"target": "oncall/sms"}}, "notify:oncall/sms", store.IncidentNotify},
		{alert.Alert{Rule: detect.RuleMisuse, AccountID: bgID}, strings.ToLower(bgID), store.IncidentAccount},
		// Drill reminders and a drill that found no sign-in are about the
		// proof, not a use of the account.
		{alert.Alert{Rule: detect.RuleDrillOverdue, AccountID: bgID}, "drill:" + strings.ToLower(bgID), store.IncidentPosture},
		{alert.Alert{Rule: detect.RuleDrillFailed, AccountID: bgID}, "drill:" + strings.ToLower(bgID), store.IncidentPosture},
		// The canary names its test identity: never an account incident.
		{alert.Alert{Rule: detect.RuleCanary, AccountID: "c0ffee00-1111-4222-8333-444455556666"}, "canary:bg.canary", store.IncidentCanary},
		{alert.Alert{Rule: detect.RuleCanaryFailed, Source: "canary"}, "canary:bg.canary_failed", store.IncidentCanary},
	} {
		if key, kind := incident.KeyOf(tc.a); key != tc.key || kind != tc.kind {
			t.Errorf("KeyOf(%s %s) = %q %q, want %q %q", tc.a.Rule, tc.a.AccountID, key, kind, tc.key, tc.kind)
		}
	}
}

// TestWatcherIncidents: a silence during a use does not join the use.
func TestWatcherIncidents(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	as := use(t, st, "use1", t0)
	sil := alert.Alert{ID: "sil", Rule: detect.RuleSilence, EventID: "silence:eh", EventTime: t0, Source: "eh", Detected: t0}
	if _, err := st.AddAlert(ctx, sil, store.Evidence{}); err != nil {
		t.Fatal(err)
	}
	drain(t, builder(st, &clock{t: t0}), 4)
	a, _ := st.IncidentOf(ctx, as[0].ID)
	s, _ := st.IncidentOf(ctx, sil.ID)
	if a.ID == s.ID || s.Kind != store.IncidentSilence || s.Key != "silence:eh" {
		t.Errorf("silence incident %+v, use incident %s", s, a.ID)
	}
}

// failing is a store whose UnattachedAlerts fails until healed.
type failing struct {
	*sqlite.Store
	mu  sync.Mutex
	err error
}

func (f *failing) UnattachedAlerts(ctx context.Context, limit int) ([]alert.Alert, error) {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.Store.UnattachedAlerts(ctx, limit)
}

type health struct{ events []string }

func (h *health) Failing(_ context.Context, source, key string, err error) {
	h.events = append(h.events, "failing "+source+" "+key+": "+err.Error())
}
func (h *health) Recovered(_ context.Context, source, key string) {
	h.events = append(h.events, "recovered "+source+" "+key)
}

// TestBuilderFailureAlerts: a builder that cannot attach says so through
// Health (bg.source in the daemon), and that it recovered.
func TestBuilderFailureAlerts(t *testing.T) {
	st := &failing{Store: openStore(t), err: errors.New("disk I/O error")}
	h := &health{}
	b := incident.New(incident.Options{Store: st, Gap: gap, Health: h})
	if _, err := b.Drain(context.Background()); err == nil {
		t.Fatal("Drain reported success while the store failed")
	}
	st.err = nil
	if _, err := b.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"failing incidents attach: listing unattached alerts: disk I/O error", "recovered incidents attach"}
	if !slices.Equal(h.events, want) {
		t.Errorf("health events %q, want %q", h.events, want)
	}
}

// polled signals each UnattachedAlerts call that found nothing.
type polled struct {
	*sqlite.Store
	empty chan struct{}
}

func (p *polled) UnattachedAlerts(ctx context.Context, limit int) ([]alert.Alert, error) {
	as, err := p.Store.UnattachedAlerts(ctx, limit)
	if err == nil && len(as) == 0 {
		select {
		case p.empty <- struct{}{}:
		default:
		}
	}
	return as, err
}

// TestRunWakes: Run attaches as soon as it is woken, without waiting for
// its poll (an hour here).
func TestRunWakes(t *testing.T) {
	st := &polled{Store: openStore(t), empty: make(chan struct{}, 1)}
	b := incident.New(incident.Options{Store: st, Gap: gap})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx, time.Hour); close(done) }()
	defer func() { cancel(); <-done }()
	<-st.empty // the first round found nothing; the next is an hour away
	as := use(t, st.Store, "use1", t0)
	b.Wake()
	<-st.empty // woken, it drained
	if _, err := st.IncidentOf(context.Background(), as[2].ID); err != nil {
		t.Fatalf("woken builder did not attach: %v", err)
	}
}
