package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/watch"
)

type kqlClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *kqlClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *kqlClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestScheduledRuleThroughServe: a scheduled rule (count of sign-ins by
// account over a threshold) in a running daemon: the records pushed to the
// HTTP source are kept by the observer, the window is evaluated on the
// injected clock, and the alert reaches the routed webhook with the rule's
// id, once, with the label routes match on; the filter rule beside it fires
// per record at once.
func TestScheduledRuleThroughServe(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: kql
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/kql
          schema: breakglass
    - name: rest
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/rest
          schema: breakglass
  routes:
    - matchers: ['team="identity"']
      groups: [kql]
    - groups: [rest]
rules:
  - name: many-signins
    query: |
      SigninLogs
      | summarize n = count() by UserPrincipalName
    frequency: 1m
    threshold: {operator: ">", value: 1, column: n}
    dimensions: [UserPrincipalName]
    labels: {team: identity}
  - name: any-signin
    query: SigninLogs | where UserId == "`+bgID+`"
    labels: {team: identity}
  - name: muted-signin
    query: SigninLogs | where UserId == "`+bgID+`"
    mute_for: 10m
`)
	// Ahead of the real clock: the store dates deliveries by the real one.
	clk := &kqlClock{t: time.Now().UTC().Truncate(time.Minute).Add(2*time.Minute + 10*time.Second)}
	r := start(t, cfg, Options{Now: clk.Now})
	addr := r.ingest(t)
	if r.d.kql.sched == nil || len(r.d.kql.sched.Rules()) != 1 {
		t.Fatalf("scheduled rules = %v", r.d.kql.sched)
	}
	ctx := context.Background()
	if err := r.d.kql.sched.Tick(ctx); err != nil { // starts the rule's windows
		t.Fatal(err)
	}
	body := signIn("kql-1") + signIn("kql-2")
	if code := post(t, addr, []byte(body)); code != 202 {
		t.Fatalf("post: %d", code)
	}
	// The filter rule fires per record, no timer.
	waitFor(t, 5*time.Second, "the filter rule's alerts", func() bool { return rcv.rule("/kql kql.any-signin firing") == 2 }, r.logs.String, func() string { return fmt.Sprint(rcv.rules) })
	if n := rcv.rule("/kql kql.many-signins firing"); n != 0 {
		t.Fatalf("scheduled rule fired before its window ended: %d", n)
	}
	// mute_for on a filter rule mutes per account: the second sign-in's
	// alert is stored but pages nobody.
	waitFor(t, 5*time.Second, "the muted rule's first alert", func() bool { return rcv.rule("/rest kql.muted-signin firing") == 1 }, r.logs.String)
	time.Sleep(200 * time.Millisecond)
	if n := rcv.rule("/rest kql.muted-signin firing"); n != 1 {
		t.Errorf("mute_for: %d deliveries, want 1", n)
	}
	stored, err := r.d.st.Alerts(ctx, store.AlertFilter{Rule: "kql.muted-signin"})
	if err != nil {
		t.Fatal(err)
	}
	muted := 0
	for _, a := range stored {
		if a.Annotations[watch.AnnMuted] != "" {
			muted++
		}
	}
	if len(stored) != 2 || muted != 1 {
		t.Errorf("mute_for: %d alerts stored, %d muted; want 2 and 1", len(stored), muted)
	}
	clk.Add(time.Minute)
	if err := r.d.kql.sched.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the scheduled rule's alert", func() bool { return rcv.rule("/kql kql.many-signins firing") == 1 }, r.logs.String)
	clk.Add(time.Minute)
	if err := r.d.kql.sched.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := rcv.rule("/kql kql.many-signins firing"); n != 1 {
		t.Errorf("scheduled rule fired %d times; the next window has no records", n)
	}
	if n := rcv.rule("/rest kql.many-signins firing"); n != 0 {
		t.Errorf("routed to the wrong group %d times", n)
	}
	if !strings.Contains(r.logs.String(), "KQL rules scheduled") {
		t.Error("the daemon does not say it scheduled the rules")
	}
}
