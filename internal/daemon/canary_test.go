package daemon

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/canary"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/notify"
	"breakglass/internal/store"
)

const (
	canaryID  = "c0ffee00-1111-4222-8333-444455556666"
	canaryUPN = "canary@contoso.com"
)

// jumpClock runs at wall time plus an offset the test moves forward: the
// dispatcher keeps working (deliveries queued at wall time are due), and
// days pass in a jump.
type jumpClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *jumpClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// canaryConfig has a real group (oncall, webhook /real) and the canary's
// test group (canary-test, webhook /test). With no notify.routes every
// real alert goes to every group, the canary group excepted.
func canaryConfig(t *testing.T, e *env, rcv *receiver) string {
	return `sources:
  - type: file
    name: files
    path: %[1]s
notify:
  groups:
    - name: oncall
      channels:
        - type: webhook
          url: ` + rcv.srv.URL + `/real
    - name: canary-test
      channels:
        - type: webhook
          url: ` + rcv.srv.URL + `/test
canary:
  identity:
    id: ` + canaryID + `
    upn: ` + canaryUPN + `
  group: canary-test
  every: 24h
  timeout: 30s
`
}

func canaryOptions(c *jumpClock) Options {
	return Options{Now: c.now, CanaryPoll: 20 * time.Millisecond, CanaryDelay: time.Millisecond}
}

// waitCanary waits until the canary has finished n runs in all (counted by
// its alerts) and its last result is want.
func waitCanary(t *testing.T, r *running, n int, want string) canary.State {
	t.Helper()
	var st canary.State
	waitFor(t, 20*time.Second, fmt.Sprintf("canary run %d %s", n, want), func() bool {
		st = r.d.canary.State()
		return st.Result == want && countRule(t, r.d.st, detect.RuleCanary) == n
	}, func() string { return fmt.Sprintf("state %+v\n%s", r.d.canary.State(), r.logs.String()) })
	return st
}

// TestCanaryDeliveredToTestGroupOnly: the canary runs, its synthetic
// sign-in is detected as bg.canary and delivered to the test group's
// webhook, never to the real group's; a real break-glass sign-in goes to
// the real group and never to the test group; the canary identity is in
// no account list and no account incident.
func TestCanaryDeliveredToTestGroupOnly(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	clock := &jumpClock{}
	cfg := e.config(t, canaryConfig(t, e, rcv))
	r := start(t, cfg, canaryOptions(clock))
	st := waitCanary(t, r, 1, canary.ResultPassed)
	if st.LastSuccess.IsZero() || st.Step != "" {
		t.Errorf("state after a pass: %+v", st)
	}
	if n := rcv.rule("/test bg.canary firing"); n != 1 {
		t.Errorf("test group got bg.canary %d times, want 1", n)
	}
	a, err := r.d.st.Alert(context.Background(), st.AlertID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Rule != detect.RuleCanary || a.Severity != alert.Sev4 || !strings.HasPrefix(a.Title, "CANARY TEST") ||
		a.Labels[canary.Label] != "true" || a.Labels[notify.LabelTest] == "" || a.Labels[alert.LabelSource] != canary.Source {
		t.Errorf("canary alert not marked as one: %+v", a)
	}
	if a.State != alert.StateResolved {
		t.Errorf("canary alert state %q after its run, want resolved (nothing acts on it any more)", a.State)
	}

	// A real break-glass sign-in, through the same pipeline.
	if _, err := r.d.Pipeline().Ingest(context.Background(), "files", "real.json", strings.NewReader(signIn("66666666-0000-4000-8000-000000000001"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the real sign-in delivered", func() bool { return rcv.rule("/real bg.signin firing") == 1 })
	time.Sleep(200 * time.Millisecond) // room for a wrong delivery to land
	for k, v := range rcv.rules {
		if strings.HasPrefix(k, "/real bg.canary") || strings.HasPrefix(k, "/test bg.signin") || strings.Contains(k, "bg.canary_failed") {
			t.Errorf("wrong delivery %q (%d)", k, v)
		}
	}

	// The canary identity is no break-glass account anywhere.
	if _, ok := r.d.Pipeline().Accounts().Match(canaryID, canaryUPN); ok {
		t.Error("the canary identity is in the break-glass account list")
	}
	for _, acct := range r.d.currentAccounts() {
		if strings.EqualFold(acct.ID, canaryID) || strings.EqualFold(acct.UPN, canaryUPN) {
			t.Errorf("watched accounts list the canary identity: %+v", acct)
		}
	}
	waitFor(t, 15*time.Second, "incidents attached", func() bool {
		incs, err := r.d.st.Incidents(context.Background(), store.IncidentFilter{})
		return err == nil && len(incs) >= 2
	})
	incs, err := r.d.st.Incidents(context.Background(), store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range incs {
		if inc.Kind == store.IncidentAccount && strings.Contains(strings.ToLower(inc.Key), canaryID) {
			t.Errorf("the canary opened an account incident: %+v", inc)
		}
	}
	if !slicesHasKind(incs, store.IncidentCanary) {
		t.Errorf("no canary incident among %+v", incs)
	}

	// The metric says when it last got through.
	if got := lastSuccessMetric(t, r); got != st.LastSuccess.Unix() {
		t.Errorf("last success metric %d, want %d", got, st.LastSuccess.Unix())
	}
}

func lastSuccessMetric(t *testing.T, r *running) int64 {
	t.Helper()
	_, body := get(t, "http://"+r.d.Addr().String()+"/metrics")
	m := regexp.MustCompile(`(?m)^breakglass_canary_last_success_timestamp_seconds (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no breakglass_canary_last_success_timestamp_seconds")
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

func slicesHasKind(incs []store.Incident, kind string) bool {
	for _, inc := range incs {
		if inc.Kind == kind {
			return true
		}
	}
	return false
}

// TestCanaryChannelDown: the test group's webhook fails, so the run fails
// at the delivery step once canary.timeout has passed: bg.canary_failed
// goes to the real group (never the test group), naming the channel and
// its last error. A restart keeps the failure open and does not run
// early; the next run, due a day later, passes and resolves it.
func TestCanaryChannelDown(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	rcv.codes = map[string]int{"/test": http.StatusServiceUnavailable}
	clock := &jumpClock{}
	cfg := e.config(t, canaryConfig(t, e, rcv))
	r := start(t, cfg, canaryOptions(clock))

	// Wait for the run to be under way and the channel tried, then let
	// the timeout pass.
	waitFor(t, 20*time.Second, "a failed attempt at the test channel", func() bool {
		st := r.d.canary.State()
		if st.Result != canary.ResultRunning || st.AlertID == "" {
			return false
		}
		ds, _ := r.d.st.AlertDeliveries(context.Background(), st.AlertID)
		return len(ds) == 1 && ds[0].Attempts >= 1 && ds[0].LastError != ""
	}, func() string { return r.logs.String() })
	clock.jump(31 * time.Second)
	st := waitCanary(t, r, 1, canary.ResultFailed)
	if st.Step != canary.StepDeliver || !strings.Contains(st.Detail, "canary-test/webhook") || !strings.Contains(st.Detail, "503") {
		t.Errorf("failed state %+v, want step deliver naming canary-test/webhook and its HTTP 503", st)
	}
	waitFor(t, 10*time.Second, "bg.canary_failed at the real group", func() bool { return rcv.rule("/real bg.canary_failed firing") == 1 },
		func() string { return fmt.Sprint(rcv.rules, "\n", r.logs.String()) })
	fails, _ := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: detect.RuleCanaryFailed})
	if len(fails) != 1 || fails[0].Severity != alert.Sev1 || !strings.Contains(fails[0].Title, "not delivered") ||
		!strings.Contains(fails[0].Title, "canary-test/webhook") || fails[0].Labels[canary.Label] != "" {
		t.Errorf("bg.canary_failed alert: %+v", fails)
	}
	if rcv.rule("/test bg.canary_failed firing") != 0 || rcv.rule("/real bg.canary firing") != 0 {
		t.Errorf("wrong deliveries: %v", rcv.rules)
	}
	// The test channel recovers; its pending delivery goes out (no
	// give-up, no bg.notify) before the day passes.
	rcv.mu.Lock()
	rcv.codes = nil
	rcv.mu.Unlock()
	clock.jump(10 * time.Minute) // past the retry's backoff
	waitFor(t, 20*time.Second, "the late canary delivery", func() bool { return rcv.rule("/test bg.canary firing") == 1 })
	r.stop(t)

	// Restart: the failure is remembered, and no run comes early.
	r2 := start(t, cfg, canaryOptions(clock))
	time.Sleep(300 * time.Millisecond) // many canary polls
	if n := countRule(t, r2.d.st, detect.RuleCanary); n != 1 {
		t.Fatalf("%d canary runs after the restart, want still 1 (the next is due a day after the first)", n)
	}
	if st := r2.d.canary.State(); st.Result != canary.ResultFailed {
		t.Errorf("state after restart %+v, want the failure remembered", st)
	}
	clock.jump(24 * time.Hour)
	waitCanary(t, r2, 2, canary.ResultPassed)
	waitFor(t, 10*time.Second, "bg.canary_failed resolved at the real group", func() bool { return rcv.rule("/real bg.canary_failed resolved") == 1 },
		func() string { return fmt.Sprint(rcv.rules, "\n", r2.logs.String()) })
	if n := countRule(t, r2.d.st, detect.RuleCanaryFailed); n != 1 {
		t.Errorf("%d bg.canary_failed alerts, want 1 (one episode)", n)
	}
	if rcv.rule("/test bg.canary firing") != 2 || rcv.rule("/real bg.canary firing") != 0 || rcv.rule("/test bg.canary_failed resolved") != 0 {
		t.Errorf("deliveries: %v", rcv.rules)
	}
}

// TestCanarySchedule: a run every canary.every on the daemon's clock, none
// early, and a restart neither repeats the last run nor forgets when it
// was.
func TestCanarySchedule(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	clock := &jumpClock{}
	cfg := e.config(t, canaryConfig(t, e, rcv))
	r := start(t, cfg, canaryOptions(clock))
	first := waitCanary(t, r, 1, canary.ResultPassed)
	clock.jump(23 * time.Hour)
	time.Sleep(300 * time.Millisecond)
	if n := countRule(t, r.d.st, detect.RuleCanary); n != 1 {
		t.Fatalf("%d runs 23h after the first, want 1", n)
	}
	clock.jump(time.Hour)
	second := waitCanary(t, r, 2, canary.ResultPassed)
	if got := second.LastRun.Sub(first.LastRun); got < 24*time.Hour {
		t.Errorf("second run %v after the first, want at least 24h", got)
	}
	r.stop(t)

	r2 := start(t, cfg, canaryOptions(clock))
	time.Sleep(300 * time.Millisecond)
	if n := countRule(t, r2.d.st, detect.RuleCanary); n != 2 {
		t.Fatalf("%d runs right after a restart, want still 2", n)
	}
	if got := r2.d.canary.State(); !got.LastRun.Equal(second.LastRun) || !got.LastSuccess.Equal(second.LastSuccess) {
		t.Errorf("state after restart %+v, want %+v", got, second)
	}
	if got := lastSuccessMetric(t, r2); got != second.LastSuccess.Unix() {
		t.Errorf("last success metric after restart %d, want %d", got, second.LastSuccess.Unix())
	}
	clock.jump(24 * time.Hour)
	waitCanary(t, r2, 3, canary.ResultPassed)
	if n := rcv.rule("/test bg.canary firing"); n != 3 {
		t.Errorf("%d canary deliveries, want 3", n)
	}
}

// TestCanaryRouting: withCanaryRoute on a router with routes. The canary
// alert goes to the test group whatever the routes say; a real alert
// that no route matches goes to every group but the test group; the label
// alone diverts nothing.
func TestCanaryRouting(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, `notify:
  groups:
    - name: oncall
      channels: [{type: console}]
    - name: managers
      channels: [{type: console}]
    - name: canary-test
      channels: [{type: console}]
  routes:
    - matchers: ['category="SignInLogs"']
      groups: [managers]
canary:
  identity: {upn: `+canaryUPN+`}
  group: canary-test
`)
	fn, err := RouteFunc(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"rule": "bg.canary", "canary": "true", "category": "SignInLogs", "severity": "Sev4"}, "canary-test/console"},
		{map[string]string{"rule": "bg.signin", "canary": "true", "category": "SignInLogs", "severity": "Sev0"}, "managers/console"},
		{map[string]string{"rule": "bg.silence", "category": "Source", "severity": "Sev1"}, "oncall/console,managers/console"},
		{map[string]string{"rule": "bg.canary", "category": "SignInLogs", "severity": "Sev4"}, "managers/console"},
	} {
		if got := strings.Join(fn(tc.labels), ","); got != tc.want {
			t.Errorf("route(%v) = %s, want %s", tc.labels, got, tc.want)
		}
	}
	reach, err := Reach(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"bg.canary (Sev4): the canary's test group canary-test only",
		"bg.canary_failed (Sev1): every channel of every group except the canary's test group canary-test",
		"bg.silence (Sev1): every group now (oncall, managers; no route matches)",
	} {
		if !strings.Contains(reach, want) {
			t.Errorf("reach lacks %q:\n%s", want, reach)
		}
	}
}

// TestCanaryMessageSaysTest: the label the canary sets is the one that
// makes every message form say first that it is a test.
func TestCanaryMessageSaysTest(t *testing.T) {
	if canary.LabelTest != notify.LabelTest {
		t.Fatalf("canary.LabelTest %q != notify.LabelTest %q", canary.LabelTest, notify.LabelTest)
	}
}

// TestCanaryNeverEscalated: a route that matches every alert and
// escalates to a second group does not take the canary's alert there,
// even while it is still firing (its channel failing) past escalate_after.
func TestCanaryNeverEscalated(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	rcv.codes = map[string]int{"/test": http.StatusServiceUnavailable}
	clock := &jumpClock{}
	cfg := e.config(t, `notify:
  groups:
    - name: oncall
      escalate_after: 1s
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/real
    - name: managers
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/managers
    - name: canary-test
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/test
  routes:
    - matchers: ['severity=~"Sev[0-4]"']
      groups: [oncall, managers]
canary:
  identity: {id: `+canaryID+`}
  group: canary-test
  timeout: 30s
`)
	o := canaryOptions(clock)
	o.EscalateInterval = 20 * time.Millisecond
	r := start(t, cfg, o)
	var id string
	waitFor(t, 20*time.Second, "the canary's alert firing, its channel failing", func() bool {
		st := r.d.canary.State()
		ds, _ := r.d.st.AlertDeliveries(context.Background(), st.AlertID)
		id = st.AlertID
		return st.Result == canary.ResultRunning && len(ds) == 1 && ds[0].Attempts >= 1
	}, func() string { return r.logs.String() })
	clock.jump(5 * time.Second) // past escalate_after, within canary.timeout
	time.Sleep(400 * time.Millisecond)
	ds, err := r.d.st.AlertDeliveries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Target != "canary-test/webhook" {
			t.Errorf("canary alert queued for %s (escalated to a real group)", d.Target)
		}
	}
	plans, err := EscalationPlans(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.d.st.Alert(context.Background(), id)
	if p := plans(a); len(p.Steps) != 1 || strings.Join(p.Steps[0].Groups, ",") != "canary-test" {
		t.Errorf("alerts show would print the canary's plan as %+v", p)
	}
}

// TestCanaryIdentityBecomesBreakGlass: when the break-glass list (group
// members, read from Graph) comes to include the canary identity, no
// synthetic record is pushed, which would page everyone with a Sev0, and
// the run fails at the identity step, told to the real group.
func TestCanaryIdentityBecomesBreakGlass(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	clock := &jumpClock{}
	cfg := e.config(t, canaryConfig(t, e, rcv))
	o := canaryOptions(clock)
	o.CanaryDelay = time.Hour
	r := start(t, cfg, o)
	waitFor(t, 10*time.Second, "the canary scheduled", func() bool { return strings.Contains(r.logs.String(), "canary scheduled") })
	r.d.Pipeline().SetAccounts(append(configUsers(cfg), entra.Account{ID: canaryID, Name: "now a member of the break-glass group"}))
	clock.jump(2 * time.Hour)
	st := waitCanary(t, r, 0, canary.ResultFailed)
	if st.Step != canary.StepIdentity {
		t.Errorf("state %+v, want the identity step", st)
	}
	waitFor(t, 10*time.Second, "bg.canary_failed at the real group", func() bool { return rcv.rule("/real bg.canary_failed firing") == 1 })
	if n := countRule(t, r.d.st, detect.RuleSignIn); n != 0 {
		t.Errorf("%d bg.signin alerts: a synthetic record of a break-glass account was pushed", n)
	}
}
