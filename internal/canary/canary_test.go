package canary

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

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

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// ingestInto is an ingest path that scans with the canary rule and stores
// each alert queued for route's targets, as the pipeline does.
func ingestInto(st *sqlite.Store, route func(alert.Alert) []string) func(context.Context, string, io.Reader) error {
	return func(ctx context.Context, name string, r io.Reader) error {
		bg := entra.NewAccountSet([]entra.Account{testBG})
		s := scan.New(scan.Options{Accounts: bg, Rules: append(detect.Builtins(bg), NewRule(testIdentity))})
		defer s.Close()
		var stats scan.Stats
		return s.Scan(ctx, name, r, &stats, func(f scan.Finding) error {
			a := f.Alert
			a.Labels = a.StandardLabels()
			_, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: f.Raw}, route(a))
			return err
		})
	}
}

func newCanary(st *sqlite.Store, c *clock, ingest func(context.Context, string, io.Reader) error) *Canary {
	return New(Options{
		Identity: testIdentity, Every: 24 * time.Hour, Timeout: time.Minute, Group: "test",
		Targets: []string{"test/webhook"}, FailTargets: []string{"oncall/sms", "oncall/mail"},
		Store: st, Ingest: ingest, Now: c.now, Poll: time.Millisecond, FirstDelay: time.Minute,
	})
}

func failedAlerts(t *testing.T, st *sqlite.Store) []alert.Alert {
	t.Helper()
	as, err := st.Alerts(context.Background(), store.AlertFilter{Rule: detect.RuleCanaryFailed})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// TestRunFailsAtEachStep: each step that can fail is named, raises
// bg.canary_failed to the real groups once per episode, and a pass
// resolves it there.
func TestRunFailsAtEachStep(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, step, detail string
		ingest             func(*sqlite.Store) func(context.Context, string, io.Reader) error
		breakGlass         bool
	}{
		{name: "identity is break-glass", step: StepIdentity, detail: "is now a break-glass account", breakGlass: true,
			ingest: func(*sqlite.Store) func(context.Context, string, io.Reader) error {
				return func(context.Context, string, io.Reader) error { panic("pushed a record of a break-glass account") }
			}},
		{name: "ingest refused", step: StepIngest, detail: "did not take the synthetic record: store is read-only",
			ingest: func(*sqlite.Store) func(context.Context, string, io.Reader) error {
				return func(context.Context, string, io.Reader) error { return errors.New("store is read-only") }
			}},
		{name: "not detected", step: StepDetect, detail: "raised no bg.canary alert",
			ingest: func(*sqlite.Store) func(context.Context, string, io.Reader) error {
				return func(_ context.Context, _ string, r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
			}},
		{name: "queued for a real group", step: StepRoute, detail: "queued for oncall/sms, outside the canary group",
			ingest: func(st *sqlite.Store) func(context.Context, string, io.Reader) error {
				return ingestInto(st, func(alert.Alert) []string { return []string{"test/webhook", "oncall/sms"} })
			}},
		{name: "never delivered", step: StepDeliver, detail: "not delivered within 1m0s to test/webhook after 0 attempts",
			ingest: func(st *sqlite.Store) func(context.Context, string, io.Reader) error {
				return ingestInto(st, func(alert.Alert) []string { return []string{"test/webhook"} })
			}},
		{name: "never queued", step: StepDeliver, detail: "test/webhook: never queued",
			ingest: func(st *sqlite.Store) func(context.Context, string, io.Reader) error {
				return ingestInto(st, func(alert.Alert) []string { return nil })
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, filepath.Join(t.TempDir(), "bg.db"))
			c := &clock{t: testAt}
			k := newCanary(st, c, tc.ingest(st))
			k.o.IsBreakGlass = func(Identity) bool { return tc.breakGlass }
			res := runPassingTime(ctx, k, c)
			if res.Passed || res.Step != tc.step || !strings.Contains(res.Detail, tc.detail) {
				t.Fatalf("result %+v, want step %s with %q", res, tc.step, tc.detail)
			}
			if s := k.State(); s.Result != ResultFailed || s.Step != tc.step {
				t.Errorf("state %+v", s)
			}
			fails := failedAlerts(t, st)
			if len(fails) != 1 || fails[0].Severity != alert.Sev1 || !strings.Contains(fails[0].Annotations["detail"], tc.detail) {
				t.Fatalf("bg.canary_failed: %+v", fails)
			}
			ds, _ := st.AlertDeliveries(ctx, fails[0].ID)
			var targets []string
			for _, d := range ds {
				targets = append(targets, d.Target)
			}
			if strings.Join(targets, ",") != "oncall/mail,oncall/sms" && strings.Join(targets, ",") != "oncall/sms,oncall/mail" {
				t.Errorf("bg.canary_failed queued for %v, want the real groups' channels only", targets)
			}
			// A second failure in the same episode pages nobody again.
			c.add(24 * time.Hour)
			runPassingTime(ctx, k, c)
			if n := len(failedAlerts(t, st)); n != 1 {
				t.Errorf("%d bg.canary_failed after a second failure, want 1", n)
			}
		})
	}
}

// runPassingTime runs k once while its clock moves on, so that the
// timeout passes on the canary's clock.
func runPassingTime(ctx context.Context, k *Canary, c *clock) Result {
	done := make(chan Result, 1)
	go func() { done <- k.RunOnce(ctx) }()
	for {
		select {
		case res := <-done:
			return res
		case <-time.After(5 * time.Millisecond):
			c.add(10 * time.Second)
		}
	}
}

// TestNoChannelsNeverPasses: a canary group without channels (config
// forbids it) fails rather than pass having delivered nothing.
func TestNoChannelsNeverPasses(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "bg.db"))
	c := &clock{t: testAt}
	k := newCanary(st, c, ingestInto(st, func(alert.Alert) []string { return nil }))
	k.o.Targets = nil
	if res := runPassingTime(context.Background(), k, c); res.Passed || res.Step != StepDeliver {
		t.Fatalf("result %+v, want a delivery failure", res)
	}
}

// TestPassResolvesFailure: the next pass resolves an open failure, its
// resolution queued where the failure went.
func TestPassResolvesFailure(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "bg.db"))
	c := &clock{t: testAt}
	broken := true
	ingest := ingestInto(st, func(alert.Alert) []string { return []string{"test/webhook"} })
	k := newCanary(st, c, func(ctx context.Context, name string, r io.Reader) error {
		if broken {
			return errors.New("down")
		}
		return ingest(ctx, name, r)
	})
	if res := k.RunOnce(ctx); res.Step != StepIngest {
		t.Fatalf("first run %+v", res)
	}
	broken = false
	c.add(24 * time.Hour)
	done := make(chan Result, 1)
	go func() { done <- k.RunOnce(ctx) }()
	// Deliver the canary's alert as the dispatcher would.
	id := alert.Key(EventID(c.now().UTC().Format("20060102T150405.000000000Z")), detect.RuleCanary)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, _ := st.AlertDeliveries(ctx, id)
		if len(ds) == 1 {
			if err := st.CompleteDelivery(ctx, ds[0].ID, c.now()); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the canary's alert was never queued")
		}
		time.Sleep(time.Millisecond)
	}
	res := <-done
	if !res.Passed || res.Delivered["test/webhook"].IsZero() {
		t.Fatalf("second run %+v, want passed with the delivery time", res)
	}
	fails := failedAlerts(t, st)
	if len(fails) != 1 || fails[0].State != alert.StateResolved {
		t.Fatalf("bg.canary_failed after a pass: %+v", fails)
	}
	ds, _ := st.AlertDeliveries(ctx, fails[0].ID)
	resolved := 0
	for _, d := range ds {
		if d.Status == store.StatusResolved {
			resolved++
		}
	}
	if resolved != 2 {
		t.Errorf("%d resolutions queued, want 2 (where the failure went)", resolved)
	}
	if _, open, _ := st.Condition(ctx, detect.RuleCanaryFailed, failKey); open {
		t.Error("failure condition still open")
	}
	if a, _ := st.Alert(ctx, id); a.State != alert.StateResolved {
		t.Errorf("canary alert state %q, want resolved", a.State)
	}
}

// TestNextAfterRestart: Load restores the schedule; a run cut short (the
// state says running) runs again soon after start; an unreadable state is
// an error, and the canary runs soon.
func TestNextAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	st := openStore(t, path)
	c := &clock{t: testAt}
	k := newCanary(st, c, func(context.Context, string, io.Reader) error { return errors.New("down") })
	if got := k.Next(testAt); !got.Equal(testAt.Add(time.Minute)) {
		t.Errorf("Next with no state = %v, want FirstDelay after start", got)
	}
	k.RunOnce(ctx)
	var success time.Time
	k2 := newCanary(st, c, nil)
	k2.o.OnSuccess = func(t time.Time) { success = t }
	if err := k2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	later := testAt.Add(5 * time.Hour)
	if got := k2.Next(later); !got.Equal(testAt.Add(24 * time.Hour)) {
		t.Errorf("Next after restart = %v, want a day after the last run", got)
	}
	if !success.IsZero() {
		t.Errorf("OnSuccess(%v) with no success recorded", success)
	}
	running := State{RunID: "x", LastRun: testAt, Result: ResultRunning}
	if err := k2.save(ctx, running); err != nil {
		t.Fatal(err)
	}
	k3 := newCanary(st, c, nil)
	if err := k3.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := k3.Next(later); !got.Equal(later.Add(time.Minute)) {
		t.Errorf("Next after a cut-short run = %v, want soon after start", got)
	}
	if err := st.SetCondition(ctx, store.Condition{Rule: detect.RuleCanary, Key: stateKey, Data: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	if err := newCanary(st, c, nil).Load(ctx); err == nil {
		t.Error("unreadable state accepted")
	}
}

// FuzzLoad: whatever the stored state holds, Load errs or succeeds and
// Next is defined; it never panics.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"run_id":"x","last_run":"2026-12-02T03:00:00Z","result":"passed","last_success":"2026-12-02T03:00:01Z"}`))
	f.Add([]byte(`{"last_run":"not a time"}`))
	f.Add([]byte(`null`))
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "bg.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		if err := st.SetCondition(ctx, store.Condition{Rule: detect.RuleCanary, Key: stateKey, Data: bytes.Clone(data)}); err != nil {
			t.Skip()
		}
		k := newCanary(st, &clock{t: testAt}, nil)
		_ = k.Load(ctx)
		_ = k.Next(testAt)
	})
}
