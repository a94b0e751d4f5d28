package daemon

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/posture"
	"breakglass/internal/store"
)

// scriptedAuditor returns the reports (or errors) it is given, one per
// run, repeating the last.
type scriptedAuditor struct {
	mu    sync.Mutex
	steps []func() (*posture.Report, error)
	runs  int
}

func (a *scriptedAuditor) Audit(context.Context) (*posture.Report, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := min(a.runs, len(a.steps)-1)
	a.runs++
	return a.steps[i]()
}

func (a *scriptedAuditor) set(steps ...func() (*posture.Report, error)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.steps, a.runs = steps, 0
}

func cloudOnly(st posture.Status) func() (*posture.Report, error) {
	return func() (*posture.Report, error) {
		return &posture.Report{Results: []posture.Result{{Check: "cloud-only", Status: st, Severity: posture.SeverityCritical,
			AccountID: bgID, AccountUPN: bgUPN, Message: "onPremisesSyncEnabled is " + string(st),
			Remediation: posture.Remediation{Summary: "Recreate the account as cloud-only."}}}}, nil
	}
}

// TestPostureDriftInServe: serve's scheduled audit raises bg.posture
// through the webhook when a passing check fails, once per episode, and
// resolves it when it passes again; a run that cannot complete raises
// bg.source for the posture source, resolved by the next run.
func TestPostureDriftInServe(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/h
`)
	a := &scriptedAuditor{}
	a.set(cloudOnly(posture.StatusPass), cloudOnly(posture.StatusFail))
	r := start(t, cfg, Options{Auditor: a, AuditDelay: 10 * time.Millisecond, AuditInterval: 50 * time.Millisecond})
	waitFor(t, 10*time.Second, "bg.posture firing", func() bool { return rcv.rule("/h bg.posture firing") == 1 }, r.logs.String)
	as, err := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: "bg.posture"})
	if err != nil || len(as) != 1 {
		t.Fatalf("%d bg.posture alerts, %v", len(as), err)
	}
	got := as[0]
	if got.Title != "Posture drift: cloud-only now fails for "+bgUPN || got.Labels["check"] != "cloud-only" || got.AccountID != bgID ||
		got.Annotations["remediation"] != "Recreate the account as cloud-only." {
		t.Errorf("alert %+v", got)
	}
	time.Sleep(300 * time.Millisecond) // more failing runs: the same episode
	if n := rcv.rule("/h bg.posture firing"); n != 1 {
		t.Errorf("bg.posture fired %d times for one episode", n)
	}
	a.set(cloudOnly(posture.StatusPass))
	waitFor(t, 10*time.Second, "bg.posture resolved", func() bool { return rcv.rule("/h bg.posture resolved") == 1 }, r.logs.String)

	a.set(func() (*posture.Report, error) {
		return nil, errors.New("reading the tenant from Graph stopped: connection refused")
	})
	waitFor(t, 10*time.Second, "bg.source for posture", func() bool { return rcv.rule("/h bg.source firing") == 1 }, r.logs.String)
	src, _ := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: "bg.source"})
	if len(src) != 1 || !strings.Contains(src[0].Title, `"posture"`) || !strings.Contains(src[0].Title, "connection refused") {
		t.Errorf("bg.source %+v", src)
	}
	a.set(cloudOnly(posture.StatusPass))
	waitFor(t, 10*time.Second, "bg.source resolved", func() bool { return rcv.rule("/h bg.source resolved") == 1 }, r.logs.String)

	_, body := get(t, "http://"+r.d.Addr().String()+"/metrics")
	for _, want := range []string{`breakglass_posture_results{status="pass"} 1`, `breakglass_posture_results{status="fail"} 0`, "breakglass_posture_last_run_timestamp_seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestPostureDriftResolvedWhenAuditRemoved: an open drift is resolved when
// serve starts without the scheduled audit (graph: removed): nothing would
// resolve it otherwise.
func TestPostureDriftResolvedWhenAuditRemoved(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/h
`)
	a := &scriptedAuditor{}
	a.set(cloudOnly(posture.StatusPass), cloudOnly(posture.StatusFail))
	r := start(t, cfg, Options{Auditor: a, AuditDelay: 10 * time.Millisecond, AuditInterval: 50 * time.Millisecond})
	waitFor(t, 10*time.Second, "bg.posture firing", func() bool { return rcv.rule("/h bg.posture firing") == 1 }, r.logs.String)
	waitConditions(t, r, "bg.posture")
	r.stop(t)
	r = start(t, cfg, Options{})
	waitFor(t, 10*time.Second, "bg.posture resolved", func() bool { return rcv.rule("/h bg.posture resolved") == 1 }, r.logs.String)
}

// TestPostureDriftSurvivesRestart: the verdicts and the open drift are in
// the store: a restart while the check still fails raises nothing new, and
// the pass after it resolves the drift raised before the restart.
func TestPostureDriftSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/h
`)
	a := &scriptedAuditor{}
	a.set(cloudOnly(posture.StatusPass), cloudOnly(posture.StatusFail))
	o := Options{Auditor: a, AuditDelay: 10 * time.Millisecond, AuditInterval: 50 * time.Millisecond}
	r := start(t, cfg, o)
	waitFor(t, 10*time.Second, "bg.posture firing", func() bool { return rcv.rule("/h bg.posture firing") == 1 }, r.logs.String)
	waitConditions(t, r, "bg.posture")
	r.stop(t)

	a.set(cloudOnly(posture.StatusFail))
	r = start(t, cfg, o)
	waitFor(t, 10*time.Second, "runs after the restart", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.runs >= 3
	}, r.logs.String)
	a.set(cloudOnly(posture.StatusPass))
	waitFor(t, 10*time.Second, "bg.posture resolved", func() bool { return rcv.rule("/h bg.posture resolved") == 1 }, r.logs.String)
	if n := rcv.rule("/h bg.posture firing"); n != 1 {
		t.Errorf("bg.posture fired %d times across a restart, want 1", n)
	}
}

// TestScheduledAuditPanicsOrHangs: an audit that panics must not take
// serve (and every watcher in it) down, and one that never returns must
// not stop the schedule for good: both raise bg.source for the posture
// source, and the next good run resolves it and still sees drift.
func TestScheduledAuditPanicsOrHangs(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/h
`)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	a := &ctxAuditor{}
	a.set(func(context.Context) (*posture.Report, error) { return cloudOnly(posture.StatusPass)() },
		func(context.Context) (*posture.Report, error) { panic("decoding a hostile Graph answer") })
	r := start(t, cfg, Options{Auditor: a, AuditDelay: 10 * time.Millisecond, AuditInterval: 50 * time.Millisecond, AuditTimeout: 200 * time.Millisecond})
	waitFor(t, 10*time.Second, "bg.source after a panicking audit", func() bool { return rcv.rule("/h bg.source firing") == 1 }, r.logs.String)
	if code, _ := get(t, "http://"+r.d.Addr().String()+"/metrics"); code != 200 {
		t.Fatal("serve is down after a panicking audit")
	}
	a.set(func(context.Context) (*posture.Report, error) { return cloudOnly(posture.StatusPass)() })
	waitFor(t, 10*time.Second, "bg.source resolved", func() bool { return rcv.rule("/h bg.source resolved") == 1 }, r.logs.String)

	a.set(func(ctx context.Context) (*posture.Report, error) {
		select {
		case <-hang: // never, unless the audit is given up on
		case <-ctx.Done():
		}
		return nil, ctx.Err()
	})
	waitFor(t, 10*time.Second, "bg.source after a hanging audit", func() bool { return rcv.rule("/h bg.source firing") == 2 }, r.logs.String)
	a.set(func(context.Context) (*posture.Report, error) { return cloudOnly(posture.StatusFail)() })
	waitFor(t, 10*time.Second, "bg.posture after the hang", func() bool { return rcv.rule("/h bg.posture firing") == 1 }, r.logs.String)
}

// ctxAuditor runs the functions it is given, one per run, repeating the
// last; each sees the run's context.
type ctxAuditor struct {
	mu    sync.Mutex
	steps []func(context.Context) (*posture.Report, error)
	runs  int
}

func (a *ctxAuditor) Audit(ctx context.Context) (*posture.Report, error) {
	a.mu.Lock()
	f := a.steps[min(a.runs, len(a.steps)-1)]
	a.runs++
	a.mu.Unlock()
	return f(ctx)
}

func (a *ctxAuditor) set(steps ...func(context.Context) (*posture.Report, error)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.steps, a.runs = steps, 0
}
