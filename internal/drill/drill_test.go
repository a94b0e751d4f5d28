package drill_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/drill"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/entra"
	"breakglass/internal/posture"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Every store (SQLite and PostgreSQL both assert store.Store) serves
// drills, posture reports included.
var _ drill.Store = store.Store(nil)

const (
	acctID  = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	acctUPN = "bg1@contoso.example"
	otherID = "11111111-2222-4333-8444-555555555555"
)

var (
	t0      = time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	targets = []string{"oncall/webhook", "security/email"}
)

func testConfig() *config.Config {
	return &config.Config{
		Accounts: []entra.Account{{ID: acctID, UPN: acctUPN, Name: "Break glass 1"}, {ID: otherID, UPN: "bg2@contoso.example"}},
		Drill: config.DrillConfig{AlertWithin: 10 * time.Minute, DeliveryWithin: time.Minute, AckWithin: 15 * time.Minute,
			Window: time.Hour, Interval: 90 * 24 * time.Hour, RemindBefore: 7 * 24 * time.Hour},
	}
}

func evaluator(cfg *config.Config) drill.Evaluator {
	return drill.Evaluator{Bounds: cfg.Drill, Targets: func(map[string]string) []string { return targets }}
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// signIn stores a sign-in alert of account id at ev, read 30 s later and
// stored 40 s after the event, with a delivery queued per target.
func signIn(t *testing.T, st *sqlite.Store, event, id string, ev time.Time, labels map[string]string) alert.Alert {
	t.Helper()
	a := alert.Alert{
		ID: alert.Key(event, detect.RuleSignIn), Rule: detect.RuleSignIn, Severity: alert.Sev0,
		Title: "Break-glass account sign-in", AccountID: id, AccountUPN: map[string]string{acctID: acctUPN, otherID: "bg2@contoso.example"}[id],
		EventID: event, EventTime: ev, Category: "SignInLogs", Source: "signins.json:1", Detected: ev.Add(30 * time.Second),
		Labels: labels,
	}
	if _, err := st.AddAlertNotify(context.Background(), a, store.Evidence{EventID: event, Category: a.Category, Source: a.Source,
		Raw: []byte(`{"id":"` + event + `"}`), Stored: ev.Add(40 * time.Second)}, targets); err != nil {
		t.Fatal(err)
	}
	return a
}

// deliver completes the alert's delivery to target at 'at'.
func deliver(t *testing.T, st *sqlite.Store, alertID, target string, at time.Time) {
	t.Helper()
	ds, err := st.AlertDeliveries(context.Background(), alertID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Target == target {
			if err := st.CompleteDelivery(context.Background(), d.ID, at); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no delivery of %s to %s", alertID, target)
}

func fail(t *testing.T, st *sqlite.Store, alertID, target, msg string, at time.Time) {
	t.Helper()
	ds, _ := st.AlertDeliveries(context.Background(), alertID)
	for _, d := range ds {
		if d.Target == target {
			if err := st.RetryDelivery(context.Background(), d.ID, 3, at.Add(time.Minute), msg); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func ack(t *testing.T, st *sqlite.Store, alertID string, at time.Time) {
	t.Helper()
	if err := st.SetAlertState(context.Background(), alertID, alert.StateAcknowledged, "carol", at); err != nil {
		t.Fatal(err)
	}
}

func plan(t *testing.T, st *sqlite.Store, cfg *config.Config, account string, at time.Time) store.Drill {
	t.Helper()
	d, err := drill.Plan(context.Background(), st, cfg, drill.PlanRequest{Account: account, At: at, By: "alice", Note: "Q1 drill, CHG-1234"}, at.Add(-time.Hour))
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return d
}

var allAttest = map[string]string{
	"monitoring-aware": "dave", "authorised-list-reviewed": "alice", "process-documented": "alice",
	"people-trained": "bob", "signed-in-admin-task": "bob", "no-personal-mfa-sspr": "erin",
	"device-two-paths": "frank", "safe-combinations": "alice",
}

// TestDrillOutcomes runs the lifecycle against a real store for every
// outcome: the first failing step is named, and a pass needs them all.
func TestDrillOutcomes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		run        func(t *testing.T, st *sqlite.Store, d store.Drill) // after start at t0
		finishAt   time.Time
		result     string
		failedStep string
		reason     string
	}{
		{name: "passed", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), map[string]string{alert.LabelDrill: d.ID})
			deliver(t, st, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
			deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
			ack(t, st, a.ID, t0.Add(9*time.Minute))
		}, finishAt: t0.Add(20 * time.Minute), result: "passed"},
		{name: "webhook down", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
			fail(t, st, a.ID, "oncall/webhook", "HTTP 503 from the webhook", t0.Add(6*time.Minute))
			deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
			ack(t, st, a.ID, t0.Add(9*time.Minute))
		}, finishAt: t0.Add(20 * time.Minute), result: "failed", failedStep: "delivery", reason: "not delivered to oncall/webhook"},
		{name: "no sign-in", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {},
			finishAt: t0.Add(2 * time.Hour), result: "failed", failedStep: "detected", reason: "not detected"},
		{name: "another account only", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			signIn(t, st, "ev-2", otherID, t0.Add(5*time.Minute), nil)
		}, finishAt: t0.Add(2 * time.Hour), result: "failed", failedStep: "detected", reason: "not detected"},
		{name: "sign-in outside the window", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			signIn(t, st, "ev-3", acctID, t0.Add(-time.Minute), nil)
			signIn(t, st, "ev-4", acctID, t0.Add(61*time.Minute), nil)
		}, finishAt: t0.Add(2 * time.Hour), result: "failed", failedStep: "detected"},
		{name: "alert late", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
			// Stored 40 s after the event: a bound of 30 s fails.
			deliver(t, st, a.ID, "oncall/webhook", t0.Add(6*time.Minute))
			deliver(t, st, a.ID, "security/email", t0.Add(6*time.Minute))
			ack(t, st, a.ID, t0.Add(7*time.Minute))
		}, finishAt: t0.Add(20 * time.Minute), result: "failed", failedStep: "alert_within"},
		{name: "delivery slow", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
			deliver(t, st, a.ID, "oncall/webhook", t0.Add(8*time.Minute))
			deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
			ack(t, st, a.ID, t0.Add(9*time.Minute))
		}, finishAt: t0.Add(20 * time.Minute), result: "failed", failedStep: "delivery_within", reason: "oncall/webhook after 2m20s"},
		{name: "not acknowledged", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
			deliver(t, st, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
			deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
		}, finishAt: t0.Add(20 * time.Minute), result: "failed", failedStep: "acknowledged", reason: "breakglass alerts ack"},
		{name: "acknowledged late", run: func(t *testing.T, st *sqlite.Store, d store.Drill) {
			a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
			deliver(t, st, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
			deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
			ack(t, st, a.ID, t0.Add(40*time.Minute))
		}, finishAt: t0.Add(50 * time.Minute), result: "failed", failedStep: "ack_within"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			cfg := testConfig()
			if c.name == "alert late" {
				cfg.Drill.AlertWithin = 30 * time.Second
			}
			d := plan(t, st, cfg, acctUPN, t0)
			if _, err := drill.Start(ctx, st, d.ID, t0); err != nil {
				t.Fatalf("Start: %v", err)
			}
			c.run(t, st, d)
			ev := evaluator(cfg)
			r, err := ev.Finish(ctx, st, d.ID, allAttest, c.finishAt)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if r.Result != c.result || r.FailedStep != c.failedStep || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("result %q step %q reason %q; want %q %q containing %q", r.Result, r.FailedStep, r.Reason, c.result, c.failedStep, c.reason)
			}
			got, err := st.Drill(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != store.DrillFinished || got.Result != c.result || got.FailedStep != c.failedStep || len(got.Measured) == 0 {
				t.Errorf("stored drill %+v", got)
			}
			// The stored report is what report shows later, however the
			// outbox changes.
			again, err := ev.Evaluate(ctx, st, got, c.finishAt.Add(1000*time.Hour))
			if err != nil || again.Result != r.Result || again.Measured.AlertID != r.Measured.AlertID {
				t.Errorf("Evaluate after finish = %+v, %v", again, err)
			}
			if _, err := ev.Finish(ctx, st, d.ID, nil, c.finishAt); !errors.Is(err, drill.ErrUsage) {
				t.Errorf("second Finish = %v, want a usage error", err)
			}
		})
	}
}

// TestPassedMeasurements: the times of a pass, in seconds.
func TestPassedMeasurements(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	d := plan(t, st, cfg, acctID, t0)
	a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
	deliver(t, st, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
	deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
	ack(t, st, a.ID, t0.Add(9*time.Minute))
	// A planned drill (never started) whose window holds the sign-in counts.
	r, err := evaluator(cfg).Finish(ctx, st, d.ID, map[string]string{"people-trained": "bob"}, t0.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	m := r.Measured
	for name, c := range map[string]struct {
		got  *float64
		want float64
	}{"detect": {m.DetectSeconds, 30}, "alert": {m.AlertSeconds, 40}, "delivery": {m.DeliverySeconds, 10}, "ack": {m.AckSeconds, 200}} {
		if c.got == nil || *c.got != c.want {
			t.Errorf("%s seconds = %v, want %v", name, c.got, c.want)
		}
	}
	if r.Result != "passed" || len(m.Deliveries) != 2 || m.AckBy != "carol" {
		t.Errorf("report %+v", r)
	}
	for _, dl := range m.Deliveries {
		if dl.Attempts != 1 {
			t.Errorf("delivered to %s at the first send: attempts %d, want 1", dl.Target, dl.Attempts)
		}
	}
	// Unattested items are open; the sign-in alone does not check the
	// admin task; the posture items are "not checked".
	wantOpen := "monitoring-aware authorised-list-reviewed process-documented signed-in-admin-task no-personal-mfa-sspr device-two-paths safe-combinations"
	if got := strings.Join(r.Open, " "); got != wantOpen {
		t.Errorf("open = %s, want %s", got, wantOpen)
	}
	for _, c := range r.Checklist {
		if c.ID == "no-personal-mfa-sspr" && !strings.Contains(c.Evidence, "not checked: no stored posture audit") {
			t.Errorf("posture item evidence %q", c.Evidence)
		}
	}
}

// TestChecklistEvidence: an administrative event in the window checks the
// admin-task item; an open posture drift of the account fails the MFA
// item, even when someone attested it.
func TestChecklistEvidence(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	d := plan(t, st, cfg, acctID, t0)
	signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
	act := alert.Alert{ID: "act-1", Rule: detect.RuleActivity, AccountID: acctID, EventID: "au-1", EventTime: t0.Add(7 * time.Minute),
		Operation: "Add member to group", Detected: t0.Add(8 * time.Minute), Title: "activity"}
	pos := alert.Alert{ID: "pos-1", Rule: detect.RulePosture, AccountID: acctID, EventID: "p-1", EventTime: t0.Add(-48 * time.Hour),
		Detected: t0.Add(-48 * time.Hour), Title: "drift", Labels: map[string]string{"check": "no-personal-methods"}}
	for _, a := range []alert.Alert{act, pos} {
		if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := evaluator(cfg).Finish(ctx, st, d.ID, map[string]string{"no-personal-mfa-sspr": "erin"}, t0.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]drill.Check{}
	for _, c := range r.Checklist {
		got[c.ID] = c
	}
	if c := got["signed-in-admin-task"]; c.Status != drill.CheckEvidence || !strings.Contains(c.Evidence, "Add member to group") {
		t.Errorf("admin task %+v", c)
	}
	if c := got["no-personal-mfa-sspr"]; c.Status != drill.CheckFailed || !strings.Contains(c.Evidence, "pos-1") || c.By != "erin" {
		t.Errorf("mfa item %+v", c)
	}
}

// TestRunningAndNotDetected: before finish, a drill is running until its
// window passes without a sign-in, then failed "not detected".
func TestRunningAndNotDetected(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	d := plan(t, st, cfg, acctID, t0)
	d, err := drill.Start(ctx, st, d.ID, t0)
	if err != nil {
		t.Fatal(err)
	}
	ev := evaluator(cfg)
	if r, _ := ev.Evaluate(ctx, st, d, t0.Add(30*time.Minute)); r.Result != drill.ResultRunning {
		t.Errorf("in the window: %s, want running", r.Result)
	}
	// Window closed, drill.alert_within (10 min) not yet passed: a
	// sign-in may still be on its way through Entra's logs.
	r, err := ev.Evaluate(ctx, st, d, t0.Add(69*time.Minute))
	if err != nil || r.Result != drill.ResultRunning || r.FailedStep != "" || !strings.Contains(r.Reason, "waits until 2026-03-03 10:10:00 UTC") {
		t.Errorf("in the grace after the window: %+v, %v", r, err)
	}
	r, err = ev.Evaluate(ctx, st, d, t0.Add(70*time.Minute))
	if err != nil || r.Result != "failed" || r.FailedStep != "detected" || !strings.Contains(r.Reason, "not detected") {
		t.Errorf("after the window and its grace: %+v, %v", r, err)
	}
}

// TestExpire: serve finishes a drill whose window and grace passed with
// no sign-in as failed "not detected", once, and raises bg.drill_failed
// for it; a drill whose sign-in arrived late (in the grace) or one still
// in its grace is left running.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	ev := evaluator(cfg)
	d := plan(t, st, cfg, acctID, t0)
	d, err := drill.Start(ctx, st, d.ID, t0)
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Hour)
	if _, done, err := ev.Expire(ctx, st, d, end.Add(9*time.Minute)); done || err != nil {
		t.Fatalf("in the grace: finished %v, %v", done, err)
	}
	r, done, err := ev.Expire(ctx, st, d, end.Add(10*time.Minute))
	if err != nil || !done || r.Result != store.DrillFailed || r.FailedStep != drill.StepDetected || !strings.Contains(r.Reason, "not detected") {
		t.Fatalf("after the grace: finished %v, %+v, %v", done, r, err)
	}
	got, err := st.Drill(ctx, d.ID)
	if err != nil || got.State != store.DrillFinished || got.Result != store.DrillFailed || got.FailedStep != drill.StepDetected {
		t.Fatalf("stored: %+v, %v", got, err)
	}
	if _, again, err := ev.Expire(ctx, st, got, end.Add(11*time.Minute)); again || err != nil {
		t.Errorf("expired twice: %v, %v", again, err)
	}
	if _, again, err := ev.Expire(ctx, st, d, end.Add(11*time.Minute)); again || err != nil {
		t.Errorf("a stale copy expired again: %v, %v", again, err)
	}
	a, evd := drill.ExpiredAlert(d, r, end.Add(10*time.Minute))
	if a.Rule != detect.RuleDrillFailed || a.Severity != alert.Sev2 || a.AccountID != acctID || !strings.Contains(a.Title, d.ID) ||
		!strings.Contains(a.Title, "not detected") || !strings.Contains(a.Annotations["description"], "not detected") || len(evd.Raw) == 0 || evd.EventID != a.EventID {
		t.Errorf("alert %+v, evidence %+v", a, evd)
	}
	if b, _ := drill.ExpiredAlert(d, r, end.Add(time.Hour)); b.ID != a.ID {
		t.Errorf("alert id %s then %s: one drill must be one alert", a.ID, b.ID)
	}

	// A sign-in in the window whose record arrived in the grace: the
	// drill is not expired; it measures the sign-in.
	d2 := plan(t, st, cfg, acctID, t0.Add(24*time.Hour))
	if d2, err = drill.Start(ctx, st, d2.ID, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	signIn(t, st, "ev-late", acctID, t0.Add(24*time.Hour+59*time.Minute), nil)
	if _, done, err := ev.Expire(ctx, st, d2, t0.Add(26*time.Hour)); done || err != nil {
		t.Errorf("a drill with its sign-in expired: %v, %v", done, err)
	}
	if r, _ := ev.Evaluate(ctx, st, d2, t0.Add(26*time.Hour)); r.Measured.AlertID == "" || r.FailedStep == drill.StepDetected {
		t.Errorf("late sign-in not measured: %+v", r)
	}
}

func TestStartWindow(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	// Planned for 09:00, started at 08:50: the window opens now and still
	// ends no earlier than planned.
	d := plan(t, st, cfg, acctID, t0)
	s, err := drill.Start(ctx, st, d.ID, t0.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !s.At.Equal(t0.Add(-10*time.Minute)) || !drill.End(s).Equal(t0.Add(time.Hour)) || s.State != store.DrillRunning {
		t.Errorf("early start: at %s end %s", s.At, drill.End(s))
	}
	if _, err := drill.Start(ctx, st, d.ID, t0); !errors.Is(err, drill.ErrUsage) {
		t.Errorf("second start = %v", err)
	}
	// Started late: the whole window is still ahead.
	d2 := plan(t, st, cfg, otherID, t0)
	s2, err := drill.Start(ctx, st, d2.ID, t0.Add(50*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !s2.At.Equal(t0) || !drill.End(s2).Equal(t0.Add(110*time.Minute)) {
		t.Errorf("late start: at %s end %s", s2.At, drill.End(s2))
	}
	if _, err := drill.Start(ctx, st, "drl-nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown = %v", err)
	}
	// Planned for 300 days ahead, started now: its window is its own hour
	// from now, not 300 days of every sign-in labelled as a drill.
	far := t0.Add(300 * 24 * time.Hour)
	d3, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: acctUPN, At: far}, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s3, err := drill.Start(ctx, st, d3.ID, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !s3.At.Equal(t0.Add(2*time.Hour)) || !drill.End(s3).Equal(t0.Add(3*time.Hour)) {
		t.Errorf("started 300 days early: at %s end %s, want its hour from now", s3.At, drill.End(s3))
	}
}

func TestPlanErrors(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	for _, c := range []struct {
		rq   drill.PlanRequest
		want string
	}{
		{drill.PlanRequest{Account: "nobody@contoso.example"}, "bg1@contoso.example, bg2@contoso.example"},
		{drill.PlanRequest{}, "--account is required"},
		{drill.PlanRequest{Account: acctUPN, Window: 48 * time.Hour}, "--window"},
		{drill.PlanRequest{Account: acctUPN, At: t0.Add(-3 * time.Hour)}, "at most 5m0s in the past"},
		{drill.PlanRequest{Account: acctUPN, At: t0.Add(-6 * time.Minute)}, "at most 5m0s in the past"},
		{drill.PlanRequest{Account: acctUPN, At: t0.Add(367 * 24 * time.Hour)}, "at most 366d ahead"},
		{drill.PlanRequest{Account: acctUPN, Note: "a\nb"}, "line break"},
	} {
		_, err := drill.Plan(ctx, st, cfg, c.rq, t0)
		if !errors.Is(err, drill.ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Plan(%+v) = %v, want usage error containing %q", c.rq, err, c.want)
		}
	}
	d, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: strings.ToUpper(acctUPN)}, t0)
	if err != nil || d.AccountID != acctID || d.Window != time.Hour || !d.At.Equal(t0) || !strings.HasPrefix(d.ID, "drl-") {
		t.Errorf("Plan by upper-case UPN = %+v, %v", d, err)
	}
	// A window overlapping that drill's: refused, naming it; right after
	// it, or for another account: fine. A few minutes in the past: fine.
	if _, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: acctID, At: t0.Add(30 * time.Minute)}, t0); !errors.Is(err, drill.ErrUsage) || !strings.Contains(err.Error(), d.ID) {
		t.Errorf("overlapping plan = %v, want a usage error naming %s", err, d.ID)
	}
	if _, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: acctID, At: t0.Add(time.Hour)}, t0); err != nil {
		t.Errorf("plan right after the other = %v", err)
	}
	if _, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: otherID, At: t0.Add(-4 * time.Minute)}, t0); err != nil {
		t.Errorf("plan 4 minutes back, another account = %v", err)
	}
}

// TestSignInNotAdopted: a drill measures only a sign-in announced for it:
// not one labelled as another drill's, not one stored before the drill
// was planned (a real use relabelled after the fact); and of a failed and
// a successful sign-in, the successful one.
func TestSignInNotAdopted(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	ev := evaluator(cfg)
	// A real use at 09:10, stored at 09:10:30; a drill planned at 09:12
	// for 09:08 (within MaxPastAt) must not adopt it.
	real := signIn(t, st, "ev-real", acctID, t0.Add(10*time.Minute), nil)
	d, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: acctID, At: t0.Add(8 * time.Minute)}, t0.Add(12*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ev.Evaluate(ctx, st, d, t0.Add(3*time.Hour))
	if err != nil || r.Measured.AlertID != "" || r.FailedStep != drill.StepDetected {
		t.Errorf("adopted the real use %s: %+v, %v", real.ID, r.Measured, err)
	}
	// A real use at 09:08 whose record arrives at 09:14, after a drill
	// planned at 09:12 for 09:07: before the announcement (less
	// ClockSkew), so neither labelled nor measured as the drill's.
	d0, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: otherID, At: t0.Add(7 * time.Minute)}, t0.Add(12*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	late := alert.Alert{ID: alert.Key("ev-late-real", detect.RuleSignIn), Rule: detect.RuleSignIn, Severity: alert.Sev0, Title: "Break-glass account sign-in",
		AccountID: otherID, EventID: "ev-late-real", EventTime: t0.Add(8 * time.Minute), Category: "SignInLogs", Source: "signins.json:3", Detected: t0.Add(14 * time.Minute)}
	if _, err := st.AddAlertNotify(ctx, late, store.Evidence{EventID: late.EventID, Category: late.Category, Source: late.Source, Raw: []byte(`{}`)}, targets); err != nil {
		t.Fatal(err)
	}
	if drill.InWindow(d0, late.EventTime) || !drill.InWindow(d0, t0.Add(10*time.Minute)) {
		t.Errorf("InWindow: a sign-in before the announcement is in, or one after it is out (opens %s)", drill.Opens(d0))
	}
	if r, _ := ev.Evaluate(ctx, st, d0, t0.Add(3*time.Hour)); r.Measured.AlertID != "" {
		t.Errorf("adopted a sign-in from before the drill was announced: %+v", r.Measured)
	}
	// Another drill's sign-in, in this drill's window: not this drill's.
	signIn(t, st, "ev-other-drill", acctID, t0.Add(20*time.Minute), map[string]string{alert.LabelDrill: "drl-000000000000"})
	if r, _ := ev.Evaluate(ctx, st, d, t0.Add(3*time.Hour)); r.Measured.AlertID != "" {
		t.Errorf("adopted another drill's sign-in: %+v", r.Measured)
	}
	// A failed sign-in, then the successful one: the success is measured.
	add := func(event, result string, at time.Time) alert.Alert {
		a := alert.Alert{ID: alert.Key(event, detect.RuleSignIn), Rule: detect.RuleSignIn, Severity: alert.Sev0, Title: "Break-glass account sign-in (" + result + ")",
			AccountID: acctID, AccountUPN: acctUPN, EventID: event, EventTime: at, Result: result, Category: "SignInLogs",
			Source: "signins.json:2", Detected: at.Add(30 * time.Second)}
		if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: event, Category: a.Category, Source: a.Source, Raw: []byte(`{"id":"` + event + `"}`)}, targets); err != nil {
			t.Fatal(err)
		}
		return a
	}
	fail := add("ev-fail", "failure 50126", t0.Add(30*time.Minute))
	// Only the failed sign-in so far: while the drill runs, its step is
	// still pending (a successful sign-in may follow).
	r, _ = ev.Evaluate(ctx, st, d, t0.Add(40*time.Minute))
	for _, sv := range r.Steps() {
		if sv.Name == "Account signed in successfully" && sv.OK {
			t.Errorf("only a failed sign-in, yet %s: %s", sv.Name, sv.Verdict)
		}
	}
	ok := add("ev-ok", "success", t0.Add(31*time.Minute))
	if r, _ := ev.Evaluate(ctx, st, d, t0.Add(3*time.Hour)); r.Measured.AlertID != ok.ID {
		t.Errorf("measured %s, want the successful sign-in %s (not the failure %s)", r.Measured.AlertID, ok.ID, fail.ID)
	}
	r, err = ev.Finish(ctx, st, d.ID, nil, t0.Add(3*time.Hour))
	if err != nil || slices.Contains(r.Failed, drill.StepSignedIn) {
		t.Errorf("finished with a successful sign-in: failed %v, %v", r.Failed, err)
	}
	// A drill whose only sign-in failed: detected, but the account did
	// not work: failed at signed_in, the first step that did not hold.
	d5, err := drill.Plan(ctx, st, cfg, drill.PlanRequest{Account: acctID, At: t0.Add(4 * time.Hour)}, t0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	add("ev-fail-2", "failure 50126", t0.Add(4*time.Hour+time.Minute))
	r, err = ev.Finish(ctx, st, d5.ID, nil, t0.Add(5*time.Hour))
	if err != nil || r.Result != store.DrillFailed || r.FailedStep != drill.StepSignedIn || !strings.Contains(r.Reason, "failure 50126") {
		t.Errorf("only a failed sign-in: %s at %s (%s), %v", r.Result, r.FailedStep, r.Reason, err)
	}
}

func TestParseAttest(t *testing.T) {
	got, err := drill.ParseAttest([]string{"people-trained=bob", " safe-combinations = alice smith "})
	if err != nil || got["people-trained"] != "bob" || got["safe-combinations"] != "alice smith" {
		t.Errorf("ParseAttest = %v, %v", got, err)
	}
	for _, bad := range [][]string{{"people-trained"}, {"=bob"}, {"trained=bob"}, {"people-trained="}, {"people-trained=a", "people-trained=b"}} {
		if _, err := drill.ParseAttest(bad); !errors.Is(err, drill.ErrUsage) {
			t.Errorf("ParseAttest(%q) = %v, want usage error", bad, err)
		}
	}
}

// TestMatcher: the drill's account inside the window is labelled and its
// title says DRILL; another account, outside the window, another rule, a
// finished drill or an unknown time are normal alerts. A drill planned
// after the first look applies once the refresh has passed.
func TestMatcher(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	now := t0
	m := drill.NewMatcher(st, 2*time.Second, func() time.Time { return now }, nil)
	mk := func(id string, ev time.Time, rule string) *alert.Alert {
		return &alert.Alert{Rule: rule, AccountID: id, EventTime: ev, Title: "Break-glass account sign-in", Labels: map[string]string{"rule": rule}}
	}
	a := mk(acctID, t0.Add(time.Minute), detect.RuleSignIn)
	m.Annotate(a)
	if a.Labels[alert.LabelDrill] != "" {
		t.Fatal("labelled with no drill planned")
	}
	d := plan(t, st, cfg, acctID, t0)
	m.Annotate(a)
	if a.Labels[alert.LabelDrill] != "" {
		t.Error("a drill applied before the refresh passed")
	}
	now = now.Add(3 * time.Second)
	m.Annotate(a)
	if a.Labels[alert.LabelDrill] != d.ID || !strings.HasPrefix(a.Title, "DRILL: ") || a.Labels["rule"] != detect.RuleSignIn {
		t.Errorf("drill sign-in: labels %v title %q", a.Labels, a.Title)
	}
	m.Annotate(a)
	if strings.Count(a.Title, "DRILL") != 1 {
		t.Errorf("title prefixed twice: %q", a.Title)
	}
	// The administrative task the checklist asks for is the drill's too:
	// its Sev0 page says DRILL first, so nobody panics.
	for _, rule := range []string{detect.RuleActivity, detect.RuleGraphActivity} {
		b := mk(acctID, t0.Add(2*time.Minute), rule)
		m.Annotate(b)
		if b.Labels[alert.LabelDrill] != d.ID || !strings.HasPrefix(b.Title, "DRILL: ") {
			t.Errorf("%s in the window: labels %v title %q", rule, b.Labels, b.Title)
		}
	}
	unknown := mk(acctID, t0.Add(time.Minute), detect.RuleSignIn)
	unknown.EventTimeUnknown = true
	for name, b := range map[string]*alert.Alert{
		"other account": mk(otherID, t0.Add(time.Minute), detect.RuleSignIn),
		"before":        mk(acctID, t0.Add(-time.Second), detect.RuleSignIn),
		"after":         mk(acctID, t0.Add(time.Hour), detect.RuleSignIn),
		"change":        mk(acctID, t0.Add(time.Minute), detect.RuleChange),
		"unknown time":  unknown,
	} {
		m.Annotate(b)
		if b.Labels[alert.LabelDrill] != "" || strings.Contains(b.Title, "DRILL") {
			t.Errorf("%s: labelled as a drill: %v %q", name, b.Labels, b.Title)
		}
	}
	if _, err := evaluator(cfg).Finish(ctx, st, d.ID, nil, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(3 * time.Second)
	c := mk(acctID, t0.Add(time.Minute), detect.RuleSignIn)
	m.Annotate(c)
	if c.Labels[alert.LabelDrill] != "" {
		t.Error("a finished drill still labels sign-ins")
	}
}

// TestConcurrentFinish: two finishes at once, one wins.
func TestConcurrentFinish(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	d := plan(t, st, cfg, acctID, t0)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = evaluator(cfg).Finish(ctx, st, d.ID, map[string]string{"people-trained": string(rune('a' + i))}, t0.Add(time.Duration(i+1)*time.Minute))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, store.ErrStateTransition) && !errors.Is(err, drill.ErrUsage) {
			t.Errorf("losing finish: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d finishes won, want 1 (%v)", ok, errs)
	}
}

// TestStatusOverdue: due drill.interval after the last passed drill,
// reminded (state due) drill.remind_before before that, overdue after
// that; never drilled is overdue at once.
func TestStatusOverdue(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	d := plan(t, st, cfg, acctID, t0)
	a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
	deliver(t, st, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
	deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
	ack(t, st, a.ID, t0.Add(9*time.Minute))
	finished := t0.Add(20 * time.Minute)
	ev := evaluator(cfg)
	if _, err := ev.Finish(ctx, st, d.ID, nil, finished); err != nil {
		t.Fatal(err)
	}
	plan(t, st, cfg, acctID, finished.Add(24*time.Hour)) // a planned one, listed
	const day = 24 * time.Hour
	for _, c := range []struct {
		now     time.Time
		state   string
		overdue bool
	}{
		{finished.Add(day), schedule.StateOK, false},
		{finished.Add(83*day - time.Second), schedule.StateOK, false},
		{finished.Add(83 * day), schedule.StateDueSoon, false},
		{finished.Add(90*day - time.Second), schedule.StateDueSoon, false},
		{finished.Add(90 * day), schedule.StateOverdue, true},
	} {
		ss, err := ev.Status(ctx, st, cfg.Accounts, c.now)
		if err != nil {
			t.Fatal(err)
		}
		s := ss[0]
		if s.Overdue != c.overdue || s.State != c.state || s.LastPassed == nil || s.LastPassed.ID != d.ID || !s.Due.Equal(finished.Add(90*day)) || s.Early != nil || len(s.Drills) != 2 {
			t.Errorf("at %s: %+v, want state %s", c.now, s, c.state)
		}
		if !ss[1].Overdue || ss[1].State != schedule.StateOverdue || ss[1].LastPassed != nil || ss[1].Due != nil {
			t.Errorf("never drilled: %+v", ss[1])
		}
	}
}

// TestStatusEarlyDue: a key change the schedule recorded (serve's
// Observe) brings drill status's due date forward to the change plus
// drill.remind_before, as serve's bg.drill_due and bg.drill_overdue do:
// due at once, overdue after remind_before, back to the interval after a
// drill passes. A change before the last passed drill counts for nothing.
func TestStatusEarlyDue(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	const day = 24 * time.Hour
	d := plan(t, st, cfg, acctID, t0)
	a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), nil)
	deliver(t, st, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
	deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
	ack(t, st, a.ID, t0.Add(9*time.Minute))
	finished := t0.Add(20 * time.Minute)
	ev := evaluator(cfg)
	if _, err := ev.Finish(ctx, st, d.ID, nil, finished); err != nil {
		t.Fatal(err)
	}
	now := finished.Add(10 * day)
	clock := now
	sch, err := schedule.New(schedule.Options{Store: st, Accounts: func() []entra.Account { return cfg.Accounts },
		Interval: cfg.Drill.Interval, RemindBefore: cfg.Drill.RemindBefore, Route: func(map[string]string) []string { return targets },
		Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	change := finished.Add(9 * day)
	if err := sch.Observe(ctx, schedule.Trigger{Kind: schedule.KindRole, Reason: "Global Administrator added: jane@contoso.example", EventID: "audit-1", Time: change}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now   time.Time
		state string
	}{{now, schedule.StateDueSoon}, {change.Add(7*day - time.Second), schedule.StateDueSoon}, {change.Add(7 * day), schedule.StateOverdue}} {
		clock = c.now
		ss, err := ev.Status(ctx, st, cfg.Accounts, c.now)
		if err != nil {
			t.Fatal(err)
		}
		if s := ss[1]; s.State != schedule.StateOverdue || !s.Overdue {
			t.Errorf("at %s, never drilled: state %s, want overdue", c.now, s.State)
		}
		for _, s := range ss[:1] {
			if s.State != c.state || s.Overdue != (c.state == schedule.StateOverdue) {
				t.Errorf("at %s: state %s (overdue %v), want %s", c.now, s.State, s.Overdue, c.state)
			}
			if s.Due == nil || !s.Due.Equal(change.Add(7*day)) || s.Early == nil || s.Early.EventID != "audit-1" || s.Early.Kind != schedule.KindRole {
				t.Errorf("at %s: due %v, early %+v; want due %s from audit-1", c.now, s.Due, s.Early, change.Add(7*day))
			}
		}
		// Serve's schedule says the same.
		sts, err := sch.Statuses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sts[0].State != ss[0].State || !sts[0].Due.Equal(*ss[0].Due) {
			t.Errorf("at %s: serve's schedule %s due %s, drill status %s due %s", c.now, sts[0].State, sts[0].Due, ss[0].State, ss[0].Due)
		}
	}
}

// TestLink: the drill's sign-in, once in an incident, links the drill and
// pre-classifies the incident as a drill in its evidence log, once.
func TestLink(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	d := plan(t, st, cfg, acctID, t0)
	a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), map[string]string{alert.LabelDrill: d.ID})
	if ok, err := drill.Link(ctx, st, d, t0.Add(6*time.Minute)); ok || err != nil {
		t.Fatalf("Link before the incident exists = %v, %v", ok, err)
	}
	inc, _, err := st.AttachAlert(ctx, a, acctID, store.IncidentAccount, 2*time.Hour, t0.Add(6*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := drill.Link(ctx, st, d, t0.Add(7*time.Minute)); !ok || err != nil {
		t.Fatalf("Link = %v, %v", ok, err)
	}
	got, _ := st.Drill(ctx, d.ID)
	if got.AlertID != a.ID || got.IncidentID != inc.ID {
		t.Errorf("linked drill %+v", got)
	}
	if ok, _ := drill.Link(ctx, st, got, t0.Add(8*time.Minute)); ok {
		t.Error("linked twice")
	}
	log, err := st.IncidentLog(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Kind == drill.LogKind {
			n++
			var c drill.Classification
			if err := json.Unmarshal(e.Content, &c); err != nil || c.SuggestedClass != store.ClassDrill || c.Drill != d.ID {
				t.Errorf("classification %s: %v", e.Content, err)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d drill entries in the incident's evidence, want 1", n)
	}
}

// TestLinkAfterFinish: a drill finished before the incident builder
// attached its sign-in is linked once the incident exists: the incident
// gets the pre-classification and the stored report, once each, and the
// report names the incident.
func TestLinkAfterFinish(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	ev := evaluator(cfg)
	d := plan(t, st, cfg, acctID, t0)
	a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), map[string]string{alert.LabelDrill: d.ID})
	r, err := ev.Finish(ctx, st, d.ID, nil, t0.Add(6*time.Minute))
	if err != nil || r.Measured.AlertID != a.ID || r.IncidentID != "" {
		t.Fatalf("finish before the incident: %+v, %v", r, err)
	}
	inc, _, err := st.AttachAlert(ctx, a, acctID, store.IncidentAccount, 2*time.Hour, t0.Add(7*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.Drill(ctx, d.ID)
	if ok, err := drill.Link(ctx, st, got, t0.Add(8*time.Minute)); !ok || err != nil {
		t.Fatalf("Link after finish = %v, %v", ok, err)
	}
	got, _ = st.Drill(ctx, d.ID)
	if got.IncidentID != inc.ID || got.AlertID != a.ID || got.State != store.DrillFinished || got.Result != r.Result {
		t.Errorf("linked drill %+v", got)
	}
	if ok, _ := drill.Link(ctx, st, got, t0.Add(9*time.Minute)); ok {
		t.Error("linked twice")
	}
	log, err := st.IncidentLog(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]int{}
	for _, e := range log {
		if e.Kind == drill.LogKind {
			refs[e.Ref]++
			if e.Ref == drill.ReportRef(d.ID) && !bytes.Equal(e.Content, got.Measured) {
				t.Errorf("report entry %s, want the stored report", e.Content)
			}
		}
	}
	if refs[d.ID] != 1 || refs[drill.ReportRef(d.ID)] != 1 || len(refs) != 2 {
		t.Errorf("drill entries in the incident's evidence %v, want the classification and the report once each", refs)
	}
	if rep, err := ev.Evaluate(ctx, st, got, t0.Add(time.Hour)); err != nil || rep.IncidentID != inc.ID {
		t.Errorf("report after the late link: incident %q, %v", rep.IncidentID, err)
	}
	// A finished drill that never saw a sign-in has nothing to link.
	d2 := plan(t, st, cfg, otherID, t0)
	if _, err := ev.Finish(ctx, st, d2.ID, nil, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got2, _ := st.Drill(ctx, d2.ID)
	if ok, err := drill.Link(ctx, st, got2, t0.Add(3*time.Hour)); ok || err != nil {
		t.Errorf("Link of a drill without a sign-in = %v, %v", ok, err)
	}
}

// TestAuditorsHTML: drill report without an id, as HTML, is one
// document: the accounts never drilled first, then each last passed
// drill; names are escaped.
func TestAuditorsHTML(t *testing.T) {
	rs := []drill.Report{
		{ID: "drl-000000000001", AccountUPN: "bg1@contoso.example", Result: "passed", Measured: drill.Measured{Deliveries: []drill.Delivery{}}, Checklist: []drill.Check{}, Open: []string{}},
		{ID: "drl-000000000002", AccountUPN: "bg2@contoso.example", Result: "passed", Measured: drill.Measured{Deliveries: []drill.Delivery{}}, Checklist: []drill.Check{}, Open: []string{}},
	}
	var b bytes.Buffer
	if err := drill.AuditorsHTML(&b, rs, []string{"<b>bg3@contoso.example"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, "<!DOCTYPE html>"); n != 1 || strings.Count(out, "</html>") != 1 || strings.Count(out, "<body>") != 1 {
		t.Errorf("%d documents in one page:\n%s", n, out)
	}
	for _, w := range []string{"<title>Last passed drill per account</title>", "Drill drl-000000000001 of bg1@contoso.example PASSED",
		"Drill drl-000000000002 of bg2@contoso.example PASSED", "&lt;b&gt;bg3@contoso.example: no passed drill"} {
		if !strings.Contains(out, w) {
			t.Errorf("lacks %q", w)
		}
	}
	if strings.Index(out, "no passed drill") > strings.Index(out, "drl-000000000001") {
		t.Error("the accounts never drilled are not first")
	}
	if strings.Contains(out, "<b>bg3") || strings.Contains(out, "<no value>") {
		t.Error("unescaped name or a template error")
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("mismatch with %s (run go test -update if intended)\n--- got ---\n%s", path, got)
	}
}

// TestReportGolden: the markdown and HTML reports of a passed and of a
// failed drill (drill ids fixed so the files are stable), and their JSON
// checklist; no-personal-mfa-sspr is checked from a passing posture audit
// in the first and failed by a failing one in the second.
func TestReportGolden(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		down bool
	}{{"passed", false}, {"failed", true}} {
		st := openStore(t)
		cfg := testConfig()
		d := store.Drill{ID: "drl-0123456789ab", AccountID: acctID, AccountUPN: acctUPN, State: store.DrillPlanned, At: t0, Window: time.Hour,
			By: "alice", Note: "Q1 drill, CHG-1234 <b>", Created: t0, Updated: t0}
		if err := st.AddDrill(ctx, d); err != nil {
			t.Fatal(err)
		}
		if _, err := drill.Start(ctx, st, d.ID, t0); err != nil {
			t.Fatal(err)
		}
		a := signIn(t, st, "ev-1", acctID, t0.Add(5*time.Minute), map[string]string{alert.LabelDrill: d.ID})
		if c.down {
			fail(t, st, a.ID, "oncall/webhook", "HTTP 503 Service Unavailable", t0.Add(6*time.Minute))
		} else {
			deliver(t, st, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
		}
		deliver(t, st, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
		ack(t, st, a.ID, t0.Add(9*time.Minute))
		// The posture audit before the drill: both checks passed (the
		// item is checked from it), or one failed (the item fails).
		npm := postureResult("no-personal-methods", acctID, acctUPN, posture.StatusPass, "ok")
		if c.down {
			npm = postureResult("no-personal-methods", acctID, acctUPN, posture.StatusFail, "bg1@contoso.example has Microsoft Authenticator registered")
		}
		storePosture(t, st, "", t0.Add(-3*time.Hour), npm, postureResult("phishing-resistant-credential", acctID, acctUPN, posture.StatusPass, "ok"))
		attest := map[string]string{}
		for k, v := range allAttest {
			if k != "safe-combinations" {
				attest[k] = v
			}
		}
		r, err := evaluator(cfg).Finish(ctx, st, d.ID, attest, t0.Add(20*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var md, html bytes.Buffer
		if err := r.Markdown(&md); err != nil {
			t.Fatal(err)
		}
		if err := r.HTML(&html); err != nil {
			t.Fatal(err)
		}
		js, err := json.MarshalIndent(r.Checklist, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "report_"+c.name+".md"), md.Bytes())
		golden(t, filepath.Join("testdata", "checklist_"+c.name+".json"), append(js, '\n'))
		golden(t, filepath.Join("testdata", "report_"+c.name+".html"), html.Bytes())
		if strings.Contains(html.String(), "CHG-1234 <b>") || !strings.Contains(html.String(), "CHG-1234 &lt;b&gt;") {
			t.Error("HTML report does not escape the note")
		}
	}
}

// FuzzParseAttest: any --attest values give a map of known items or a
// usage error, never a crash.
func FuzzParseAttest(f *testing.F) {
	f.Add("people-trained=bob", "safe-combinations=alice")
	f.Add("=", "x=\x00")
	f.Fuzz(func(t *testing.T, a, b string) {
		m, err := drill.ParseAttest([]string{a, b})
		if err != nil {
			if !errors.Is(err, drill.ErrUsage) {
				t.Fatalf("error without ErrUsage: %v", err)
			}
			return
		}
		for k, v := range m {
			if v == "" || !strings.Contains(strings.Join(drill.ItemIDs(), " "), k) {
				t.Fatalf("bad entry %q=%q", k, v)
			}
		}
	})
}

// TestFailedSignInNotEvidence: a failed sign-in still proves detection and
// paging, but not the account: the admin-task item stays open.
func TestFailedSignInNotEvidence(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig()
	d := plan(t, st, cfg, acctID, t0)
	a := alert.Alert{ID: "si-fail", Rule: detect.RuleSignIn, AccountID: acctID, EventID: "ev-f", EventTime: t0.Add(time.Minute),
		Detected: t0.Add(2 * time.Minute), Result: "failure 50126", Title: "sign-in"}
	act := alert.Alert{ID: "act-1", Rule: detect.RuleActivity, AccountID: acctID, EventID: "au-1", EventTime: t0.Add(3 * time.Minute),
		Detected: t0.Add(4 * time.Minute), Title: "activity"}
	for _, x := range []alert.Alert{a, act} {
		if _, err := st.AddAlert(ctx, x, store.Evidence{EventID: x.EventID, Raw: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := evaluator(cfg).Finish(ctx, st, d.ID, nil, t0.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Checklist {
		if c.ID == drill.ItemSignedInAdminTask && (c.Status != drill.CheckOpen || !strings.Contains(c.Evidence, "did not succeed (failure 50126)")) {
			t.Errorf("admin task after a failed sign-in: %+v", c)
		}
	}
	if r.Measured.SignInResult != "failure 50126" {
		t.Errorf("sign-in result %q", r.Measured.SignInResult)
	}
}

// postureResult is one posture result of account id (or upn) for check.
func postureResult(check, id, upn string, status posture.Status, msg string) posture.Result {
	return posture.Result{Check: check, Title: check, Status: status, Severity: posture.SeverityHigh, AccountID: id, AccountUPN: upn, Message: msg}
}

// storePosture stores a posture report of tenant, run at 'at'.
func storePosture(t *testing.T, st *sqlite.Store, tenant string, at time.Time, results ...posture.Result) {
	t.Helper()
	b, err := json.Marshal(posture.Report{Generated: at, Collected: at, Source: "Microsoft Graph (live)", Results: results,
		Summary: posture.Summarize(results)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPostureReport(context.Background(), tenant, at, b); err != nil {
		t.Fatal(err)
	}
}

// TestChecklistPosture: no-personal-mfa-sspr from the newest stored
// posture report at or before the drill's finish: both checks passed for
// the account checks it, either failing fails it (naming the check and its
// message), and no report, another account's, a skipped check, a report
// older than drill.interval or one newer than the finish leave it open. An
// open bg.posture drift of the account still fails it.
func TestChecklistPosture(t *testing.T) {
	ctx := context.Background()
	const (
		npm = "no-personal-methods"
		prc = "phishing-resistant-credential"
	)
	finish := t0.Add(30 * time.Minute)
	audited := t0.Add(-2 * time.Hour) // 07:00, before the drill
	pass := func(check string) posture.Result {
		return postureResult(check, acctID, acctUPN, posture.StatusPass, "ok")
	}
	type report struct {
		tenant  string
		at      time.Time
		results []posture.Result
	}
	for _, c := range []struct {
		name     string
		reports  []report
		drift    bool              // a firing bg.posture alert of the account for no-personal-methods
		attest   map[string]string // nil: none
		evaluate bool              // a running drill evaluated at finish, not finished
		status   string
		by       string
		evidence []string // each in the evidence
	}{
		{name: "both passed", reports: []report{{"", audited, []posture.Result{pass(npm), pass(prc)}}},
			status: drill.CheckEvidence, evidence: []string{"posture audit of 2026-03-03 07:00:00 UTC", npm + " passed", prc + " passed"}},
		{name: "both passed, attested too", reports: []report{{"", audited, []posture.Result{pass(npm), pass(prc)}}},
			attest: map[string]string{drill.ItemNoPersonalMFA: "erin"}, status: drill.CheckEvidence, by: "erin", evidence: []string{npm + " passed"}},
		{name: "both passed, matched by UPN in another case", reports: []report{{"", audited, []posture.Result{
			postureResult(npm, "", strings.ToUpper(acctUPN), posture.StatusPass, "ok"), postureResult(prc, "", strings.ToUpper(acctUPN), posture.StatusPass, "ok")}}},
			status: drill.CheckEvidence},
		{name: "one failed", reports: []report{{"", audited, []posture.Result{
			postureResult(npm, acctID, acctUPN, posture.StatusFail, "bg1 has a phone (SMS/voice) method registered"), pass(prc)}}},
			status: drill.CheckFailed, evidence: []string{"posture audit of 2026-03-03 07:00:00 UTC", npm + " failed: bg1 has a phone (SMS/voice) method registered"}},
		{name: "one failed, attested anyway", reports: []report{{"", audited, []posture.Result{
			pass(npm), postureResult(prc, acctID, acctUPN, posture.StatusFail, "no FIDO2 key registered")}}},
			attest: map[string]string{drill.ItemNoPersonalMFA: "erin"}, status: drill.CheckFailed, by: "erin", evidence: []string{prc + " failed: no FIDO2 key registered"}},
		{name: "no report", status: drill.CheckOpen, evidence: []string{"not checked: no stored posture audit"}},
		{name: "no report, attested", attest: map[string]string{drill.ItemNoPersonalMFA: "erin"}, status: drill.CheckAttested, by: "erin",
			evidence: []string{"not checked: no stored posture audit"}},
		{name: "stale report", reports: []report{{"", finish.Add(-91 * 24 * time.Hour), []posture.Result{pass(npm), pass(prc)}}},
			status: drill.CheckOpen, evidence: []string{"not checked", "91d old, more than drill.interval (90d)", npm + " passed"}},
		{name: "stale failing report", reports: []report{{"", finish.Add(-91 * 24 * time.Hour), []posture.Result{
			postureResult(npm, acctID, acctUPN, posture.StatusFail, "a phone")}}},
			status: drill.CheckOpen, evidence: []string{"not checked", "more than drill.interval", npm + " failed: a phone"}},
		{name: "a different account", reports: []report{{"", audited, []posture.Result{
			postureResult(npm, otherID, "bg2@contoso.example", posture.StatusPass, "ok"), postureResult(prc, otherID, "bg2@contoso.example", posture.StatusPass, "ok")}}},
			status: drill.CheckOpen, evidence: []string{"not checked: no stored posture audit"}},
		{name: "a check skipped", reports: []report{{"", audited, []posture.Result{pass(npm),
			postureResult(prc, acctID, acctUPN, posture.StatusSkip, "cannot check: authentication methods not readable")}}},
			status: drill.CheckOpen, evidence: []string{"not checked: posture audit of", npm + " passed", prc + " skip: cannot check"}},
		{name: "a check missing", reports: []report{{"", audited, []posture.Result{pass(npm)}}},
			status: drill.CheckOpen, evidence: []string{prc + " has no result for the account"}},
		{name: "report newer than the finish", reports: []report{{"", finish.Add(time.Minute), []posture.Result{pass(npm), pass(prc)}}},
			status: drill.CheckOpen, evidence: []string{"ran at 2026-03-03 09:31:00 UTC, after this drill was evaluated"}},
		{name: "the account's tenant report", reports: []report{
			{"aaaa-tenant", t0.Add(-time.Hour), []posture.Result{postureResult(npm, otherID, "", posture.StatusFail, "x"), postureResult(prc, otherID, "", posture.StatusFail, "x")}},
			{"bbbb-tenant", audited, []posture.Result{pass(npm), pass(prc)}}},
			status: drill.CheckEvidence, evidence: []string{"(tenant bbbb-tenant)"}},
		{name: "drift firing, report passed", reports: []report{{"", audited, []posture.Result{pass(npm), pass(prc)}}}, drift: true,
			status: drill.CheckFailed, evidence: []string{"posture check no-personal-methods fails since", "pos-1"}},
		{name: "drift firing, report failed", drift: true, reports: []report{{"", audited, []posture.Result{
			postureResult(npm, acctID, acctUPN, posture.StatusFail, "a phone"), pass(prc)}}},
			status: drill.CheckFailed, evidence: []string{"pos-1", npm + " failed: a phone"}},
		{name: "drift firing, no report", drift: true, status: drill.CheckFailed, evidence: []string{"pos-1"}},
		{name: "running drill, both passed", evaluate: true, reports: []report{{"", audited, []posture.Result{pass(npm), pass(prc)}}},
			status: drill.CheckEvidence, evidence: []string{npm + " passed"}},
		{name: "running drill, report after now", evaluate: true, reports: []report{{"", finish.Add(time.Second), []posture.Result{pass(npm), pass(prc)}}},
			status: drill.CheckOpen, evidence: []string{"after this drill was evaluated"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			cfg := testConfig()
			d := plan(t, st, cfg, acctID, t0)
			for _, r := range c.reports {
				storePosture(t, st, r.tenant, r.at, r.results...)
			}
			if c.drift {
				pos := alert.Alert{ID: "pos-1", Rule: detect.RulePosture, AccountID: acctID, EventID: "p-1", EventTime: t0.Add(-48 * time.Hour),
					Detected: t0.Add(-48 * time.Hour), Title: "drift", Labels: map[string]string{"check": npm}}
				if _, err := st.AddAlert(ctx, pos, store.Evidence{EventID: pos.EventID, Raw: []byte("x")}); err != nil {
					t.Fatal(err)
				}
			}
			var r drill.Report
			var err error
			if c.evaluate {
				d, err = drill.Start(ctx, st, d.ID, t0)
				if err != nil {
					t.Fatal(err)
				}
				r, err = evaluator(cfg).Evaluate(ctx, st, d, finish)
			} else {
				r, err = evaluator(cfg).Finish(ctx, st, d.ID, c.attest, finish)
			}
			if err != nil {
				t.Fatal(err)
			}
			var got drill.Check
			for _, ch := range r.Checklist {
				if ch.ID == drill.ItemNoPersonalMFA {
					got = ch
				}
			}
			if got.Status != c.status || got.By != c.by {
				t.Errorf("item = %+v; want status %q by %q", got, c.status, c.by)
			}
			for _, w := range c.evidence {
				if !strings.Contains(got.Evidence, w) {
					t.Errorf("evidence %q does not say %q", got.Evidence, w)
				}
			}
			if open := slices.Contains(r.Open, drill.ItemNoPersonalMFA); open != (c.status == drill.CheckOpen) {
				t.Errorf("open items %v (item %s)", r.Open, got.Status)
			}
		})
	}
}

// failingAppend is a store whose evidence-log appends of drill reports
// fail while fail is set.
type failingAppend struct {
	*sqlite.Store
	fail bool
}

var errDiskFull = errors.New("disk full")

func (f *failingAppend) AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error) {
	if f.fail && strings.HasSuffix(e.Ref, "/report") {
		return store.LogEntry{}, errDiskFull
	}
	return f.Store.AppendLog(ctx, e)
}

func (f *failingAppend) AppendLogOnce(ctx context.Context, e store.LogEntry) (store.LogEntry, bool, error) {
	if f.fail && strings.HasSuffix(e.Ref, "/report") {
		return store.LogEntry{}, false, errDiskFull
	}
	return f.Store.AppendLogOnce(ctx, e)
}

// reportEntries are the drill-report entries of drillID in the incident's
// evidence log.
func reportEntries(t *testing.T, st *sqlite.Store, incident, drillID string) []store.LogEntry {
	t.Helper()
	log, err := st.IncidentLog(context.Background(), incident)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.LogEntry
	for _, e := range log {
		if e.Ref == drillID+"/report" {
			out = append(out, e)
		}
	}
	return out
}

// TestFinishReportEvidence (issue 11 item 7): Finish appends the drill's
// report to the evidence log of its sign-in's incident, kind drill, ref
// "<id>/report", with the very bytes stored with the drill, exactly once:
// a second finish adds nothing, a finish whose append failed is retried
// and adds it then, and of concurrent finishes only the winner's report
// is there.
func TestFinishReportEvidence(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		failFirst  bool // the first finish's append fails
		concurrent int  // finishes at once (0: one)
	}{
		{name: "appended once"},
		{name: "append failed, retry adds it", failFirst: true},
		{name: "concurrent finishes", concurrent: 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			sq := openStore(t)
			st := &failingAppend{Store: sq}
			cfg := testConfig()
			ev := evaluator(cfg)
			d := plan(t, sq, cfg, acctID, t0)
			a := signIn(t, sq, "ev-1", acctID, t0.Add(5*time.Minute), map[string]string{alert.LabelDrill: d.ID})
			inc, _, err := sq.AttachAlert(ctx, a, acctID, store.IncidentAccount, 2*time.Hour, t0.Add(6*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			deliver(t, sq, a.ID, "oncall/webhook", t0.Add(5*time.Minute+42*time.Second))
			deliver(t, sq, a.ID, "security/email", t0.Add(5*time.Minute+50*time.Second))
			ack(t, sq, a.ID, t0.Add(9*time.Minute))
			finish := t0.Add(20 * time.Minute)

			switch {
			case c.concurrent > 0:
				var wg sync.WaitGroup
				for i := range c.concurrent {
					wg.Go(func() {
						_, _ = ev.Finish(ctx, st, d.ID, map[string]string{"people-trained": string(rune('a' + i))}, finish.Add(time.Duration(i)*time.Second))
					})
				}
				wg.Wait()
			case c.failFirst:
				st.fail = true
				_, err := ev.Finish(ctx, st, d.ID, map[string]string{"people-trained": "bob"}, finish)
				if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "is finished (passed)") || !strings.Contains(err.Error(), "drill finish "+d.ID+" again") {
					t.Fatalf("Finish with a failing append = %v; want the append's error, saying the drill is finished and to run finish again", err)
				}
				if n := len(reportEntries(t, sq, inc.ID, d.ID)); n != 0 {
					t.Fatalf("%d report entries after a failed append", n)
				}
				st.fail = false
				r, err := ev.Finish(ctx, st, d.ID, map[string]string{"people-trained": "someone else"}, finish.Add(time.Hour))
				if err != nil {
					t.Fatalf("retried Finish = %v; want it to add the report", err)
				}
				if r.Result != "passed" || r.Finished == nil || !r.Finished.Equal(finish) || r.Checklist[3].By != "bob" {
					t.Errorf("retried Finish returned %+v; want the report stored at the first finish", r)
				}
			default:
				if _, err := ev.Finish(ctx, st, d.ID, map[string]string{"people-trained": "bob"}, finish); err != nil {
					t.Fatal(err)
				}
			}
			// Every later finish is a usage error and adds nothing.
			if _, err := ev.Finish(ctx, st, d.ID, nil, finish.Add(2*time.Hour)); !errors.Is(err, drill.ErrUsage) {
				t.Errorf("finish of a finished drill = %v; want a usage error", err)
			}
			got, err := sq.Drill(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			es := reportEntries(t, sq, inc.ID, d.ID)
			if len(es) != 1 {
				t.Fatalf("%d report entries of %s in incident %s, want 1", len(es), d.ID, inc.ID)
			}
			e := es[0]
			if e.Kind != drill.LogKind || e.Ref != drill.ReportRef(d.ID) || !bytes.Equal(e.Content, got.Measured) {
				t.Errorf("report entry kind %q ref %q content\n%s\nwant kind drill, the drill's stored report\n%s", e.Kind, e.Ref, e.Content, got.Measured)
			}
			var r drill.Report
			if err := json.Unmarshal(e.Content, &r); err != nil || r.ID != d.ID || r.Result != "passed" || r.IncidentID != inc.ID || got.IncidentID != inc.ID {
				t.Errorf("report entry decodes to %+v, %v (drill's incident %q)", r, err, got.IncidentID)
			}
		})
	}
}
