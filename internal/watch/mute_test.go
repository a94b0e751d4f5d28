package watch

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

const bgID2 = "0f8fad5b-d9cb-469f-a165-70867728950e"

func signInRecord(id, user string) string {
	return `{"time":"2024-06-20T07:00:00Z","category":"SignInLogs","properties":{"id":"` + id +
		`","createdDateTime":"2024-06-20T07:00:00Z","userId":"` + user + `","status":{"errorCode":0}}}` + "\n"
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// firingTargets lists the targets of an alert's firing deliveries.
func firingTargets(t *testing.T, st *sqlite.Store, id string) []string {
	t.Helper()
	ds, err := st.AlertDeliveries(context.Background(), id)
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
	return out
}

// alertOf finds the alert raised on record id (one per record here).
func alertOf(t *testing.T, st *sqlite.Store, eventID string) alert.Alert {
	t.Helper()
	as, err := st.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if strings.Contains(a.EventID, eventID) {
			return a
		}
	}
	t.Fatalf("no alert for record %s among %d", eventID, len(as))
	return alert.Alert{}
}

// TestMuteFor: after an alert of a rule for an account is notified, more
// alerts of that rule for that account within mute_for are stored, marked
// and counted but not notified; other accounts are not muted; after the
// window the next alert is notified and opens a new window; a restart
// keeps the window; a muted alert read again stays muted.
func TestMuteFor(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "bg.db")
	st := openStore(t, path)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, st.OutboxDepth, []string{"push"}, func(string) (time.Time, bool) { return time.Time{}, false })
	opts := Options{
		Accounts: entra.NewAccountSet([]entra.Account{{ID: bgID}, {ID: bgID2}}), Store: st, Conditions: st,
		Route: To("oncall/sms"), MuteFor: map[string]time.Duration{"bg.signin": time.Hour}, Now: c.now, Metrics: m,
	}
	p := New(opts)
	ingest := func(p *Pipeline, id, user string) alert.Alert {
		t.Helper()
		if _, err := p.Ingest(ctx, "push", "http:test", strings.NewReader(signInRecord(id, user))); err != nil {
			t.Fatal(err)
		}
		return alertOf(t, st, id)
	}
	notified := func(a alert.Alert) {
		t.Helper()
		if got := firingTargets(t, st, a.ID); !slices.Equal(got, []string{"oncall/sms"}) || a.Annotations[AnnMuted] != "" {
			t.Errorf("alert %s: deliveries %v, muted %q; want notified", a.EventID, got, a.Annotations[AnnMuted])
		}
	}
	muted := func(a alert.Alert, after alert.Alert, until time.Time) {
		t.Helper()
		if got := firingTargets(t, st, a.ID); len(got) != 0 {
			t.Errorf("alert %s: deliveries %v, want none (muted)", a.EventID, got)
		}
		ann := a.Annotations
		if ann[AnnMutedAfter] != after.ID || ann[AnnMutedUntil] != until.UTC().Format(time.RFC3339) ||
			!strings.Contains(ann[AnnMuted], "notify.mute_for bg.signin is 1h0m0s") || !strings.Contains(ann[AnnMuted], after.ID) {
			t.Errorf("alert %s: annotations %v; want muted after %s until %v", a.EventID, ann, after.ID, until)
		}
	}

	t0 := c.now()
	first := ingest(p, "r1", bgID)
	notified(first)
	c.add(10 * time.Minute)
	second := ingest(p, "r2", bgID)
	muted(second, first, t0.Add(time.Hour))
	other := ingest(p, "r3", bgID2) // another account: its own window
	notified(other)

	// A restart keeps the window: it is in the store.
	p.Close()
	p = New(opts)
	c.add(40 * time.Minute)
	third := ingest(p, "r4", bgID)
	muted(third, first, t0.Add(time.Hour))

	// After the window: notified, and a new window from now.
	c.add(10*time.Minute + time.Second)
	t1 := c.now()
	fourth := ingest(p, "r5", bgID)
	notified(fourth)
	c.add(time.Minute)
	fifth := ingest(p, "r6", bgID)
	muted(fifth, fourth, t1.Add(time.Hour))

	// A muted alert read again after every window stays as it was stored.
	c.add(3 * time.Hour)
	again := ingest(p, "r2", bgID)
	muted(again, first, t0.Add(time.Hour))

	if got := testutil.ToFloat64(m.mutedAlerts.WithLabelValues("bg.signin")); got != 3 {
		t.Errorf("breakglass_alerts_muted_total{rule=bg.signin} = %v, want 3", got)
	}
	// The muted alerts are stored and listed like any other.
	if as, _ := st.Alerts(ctx, store.AlertFilter{Rule: "bg.signin"}); len(as) != 6 {
		t.Errorf("%d sign-in alerts stored, want 6", len(as))
	}
	p.Close()
	st.Close()
}

// TestMuteForSilence: condition alerts are muted per source, and the
// resolution of a muted alert goes to nobody (its firing went nowhere).
func TestMuteForSilence(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	st := openStore(t, filepath.Join(t.TempDir(), "bg.db"))
	defer st.Close()
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: st, Conditions: st, Route: To("ops/webhook"),
		MuteFor: map[string]time.Duration{RuleSilence: time.Hour}, Now: c.now})
	s := p.Silence()
	for _, src := range []string{"a", "b"} {
		if err := s.Watch(ctx, src, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c.add(5 * time.Minute)
	s.Check(ctx) // a and b silent: both notified (per source)
	firstA, _ := s.Firing("a")
	firstB, _ := s.Firing("b")
	for _, id := range []string{firstA, firstB} {
		if got := firingTargets(t, st, id); !slices.Equal(got, []string{"ops/webhook"}) {
			t.Fatalf("first silence %s: deliveries %v", id, got)
		}
	}
	p.Alive(ctx, "a")
	p.Alive(ctx, "b")
	c.add(5 * time.Minute)
	s.Check(ctx) // a and b silent again within the hour: muted
	secondA, _ := s.Firing("a")
	secondB, _ := s.Firing("b")
	for _, id := range []string{secondA, secondB} {
		if id == firstA || id == firstB || id == "" {
			t.Fatalf("second silences not raised: %q %q", secondA, secondB)
		}
		if got := firingTargets(t, st, id); len(got) != 0 {
			t.Fatalf("second silence %s: deliveries %v, want none (muted)", id, got)
		}
	}
	// a comes back inside the window: its resolution goes to nobody, as
	// its firing did.
	p.Alive(ctx, "a")
	if ds, _ := st.AlertDeliveries(ctx, secondA); len(ds) != 0 {
		t.Errorf("muted silence of a resolved to %v, want nobody", ds)
	}
	ds, _ := st.AlertDeliveries(ctx, firstA)
	if len(ds) != 2 || ds[1].Status != store.StatusResolved || ds[1].Target != "ops/webhook" {
		t.Errorf("first silence deliveries %+v, want firing and resolved to ops/webhook", ds)
	}
	// b stays silent past the window: the muted alert, still open, is
	// notified then, once, and its resolution follows it.
	c.add(50 * time.Minute)
	s.Check(ctx)
	if got := firingTargets(t, st, secondB); len(got) != 0 {
		t.Fatalf("muted silence of b notified inside its window: %v", got)
	}
	c.add(5*time.Minute + time.Second)
	s.Check(ctx)
	s.Check(ctx)
	if got := firingTargets(t, st, secondB); !slices.Equal(got, []string{"ops/webhook"}) {
		t.Fatalf("muted silence of b still open after its window: deliveries %v, want ops/webhook", got)
	}
	b, _ := st.Alert(ctx, secondB)
	if !strings.Contains(b.Annotations[AnnMuted], "if this one is still open then, it is notified then") {
		t.Errorf("annotation %q does not say it is notified if still open", b.Annotations[AnnMuted])
	}
	p.Alive(ctx, "b")
	ds, _ = st.AlertDeliveries(ctx, secondB)
	if len(ds) != 2 || ds[1].Status != store.StatusResolved {
		t.Errorf("silence of b deliveries %+v, want firing then resolved", ds)
	}
}

// TestRoutePerAlert: each alert is routed by its own full labels (source
// and tenant included), and a resolution goes to every target its firing
// went to, escalated ones included.
func TestRoutePerAlert(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	st := openStore(t, filepath.Join(t.TempDir(), "bg.db"))
	defer st.Close()
	var seen []map[string]string
	route := func(l map[string]string) []string {
		seen = append(seen, l)
		switch {
		case l[alert.LabelSeverity] == "Sev0" && l[alert.LabelSource] == "push" && l[alert.LabelTenant] == "t1":
			return []string{"oncall/sms"}
		case l[alert.LabelRule] == RuleSilence:
			return []string{"ops/webhook", "ops/email"}
		}
		return []string{"all/console"}
	}
	p := New(Options{Accounts: entra.NewAccountSet([]entra.Account{{ID: bgID}}), Store: st, Conditions: st, Route: route, Tenant: "t1", Now: c.now})
	if _, err := p.Ingest(ctx, "push", "http:test", strings.NewReader(signInRecord("r1", bgID))); err != nil {
		t.Fatal(err)
	}
	if got := firingTargets(t, st, alertOf(t, st, "r1").ID); !slices.Equal(got, []string{"oncall/sms"}) {
		t.Errorf("sign-in routed to %v (labels seen %v)", got, seen)
	}
	_ = p.Silence().Watch(ctx, "feed", time.Minute)
	c.add(time.Minute)
	p.Silence().Check(ctx)
	id, _ := p.Silence().Firing("feed")
	if got := firingTargets(t, st, id); !slices.Equal(got, []string{"ops/email", "ops/webhook"}) {
		t.Errorf("silence routed to %v", got)
	}
	// An escalation added a target; the resolution reaches it too.
	if err := st.Enqueue(ctx, id, store.StatusFiring, []string{"managers/email"}); err != nil {
		t.Fatal(err)
	}
	p.Alive(ctx, "feed")
	ds, _ := st.AlertDeliveries(ctx, id)
	var resolved []string
	for _, d := range ds {
		if d.Status == store.StatusResolved {
			resolved = append(resolved, d.Target)
		}
	}
	slices.Sort(resolved)
	if !slices.Equal(resolved, []string{"managers/email", "ops/email", "ops/webhook"}) {
		t.Errorf("resolution went to %v", resolved)
	}
}

// TestMuteForNeverHidesWorse: a window opened by failed sign-ins (a
// password spray) does not mute the successful sign-in that follows, nor
// an alert more severe than the one notified; the one that broke through
// opens the window for what follows it.
func TestMuteForNeverHidesWorse(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	st := openStore(t, filepath.Join(t.TempDir(), "bg.db"))
	defer st.Close()
	opts := Options{
		Accounts: entra.NewAccountSet([]entra.Account{{ID: bgID}}), Store: st, Conditions: st,
		Route: To("oncall/sms"), MuteFor: map[string]time.Duration{"bg.signin": time.Hour}, Now: c.now,
	}
	p := New(opts)
	defer p.Close()
	record := func(id string, code int) string {
		return strings.Replace(signInRecord(id, bgID), `"errorCode":0`, `"errorCode":`+strconv.Itoa(code), 1)
	}
	ingest := func(id string, code int) alert.Alert {
		t.Helper()
		if _, err := p.Ingest(ctx, "push", "http:test", strings.NewReader(record(id, code))); err != nil {
			t.Fatal(err)
		}
		return alertOf(t, st, id)
	}
	check := func(a alert.Alert, wantNotified bool) {
		t.Helper()
		got := firingTargets(t, st, a.ID)
		if notified := len(got) > 0; notified != wantNotified {
			t.Errorf("alert %s (%s): notified %v, want %v (annotations %v)", a.EventID, a.Result, notified, wantNotified, a.Annotations)
		}
	}
	check(ingest("f1", 50126), true)
	c.add(time.Minute)
	check(ingest("f2", 50126), false) // the spray goes on: muted
	c.add(time.Minute)
	check(ingest("s1", 0), true) // it worked: never muted behind the failures
	c.add(time.Minute)
	check(ingest("s2", 0), false) // the window is now the success's
	c.add(time.Minute)
	check(ingest("f3", 50126), false)
}
