package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// observed collects Observe calls.
type observed struct {
	mu  sync.Mutex
	got map[string]int // "target result" → count
}

func (o *observed) observe(target, result string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.got == nil {
		o.got = map[string]int{}
	}
	o.got[target+" "+result]++
}

func (o *observed) count(k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got[k]
}

// TestDispatcherResolvesTargetsAtDispatch: the notifier is looked up by the
// delivery's target name when it is sent, so SetTargets (a config reload)
// changes where an already queued delivery goes, also for its retries.
func TestDispatcherResolvesTargetsAtDispatch(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "ops/webhook", clk.Now())
	old := &recorder{fail: func(Notification) error { return errors.New("connection refused") }}
	repl := &recorder{}
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"ops/webhook": old}, Options{Now: clk.Now, Logger: log, Poll: time.Hour})
	start(t, d)
	r := wait(t, ob.retried, "first attempt to fail")
	if len(old.sent()) != 1 {
		t.Fatalf("old notifier got %d sends, want 1", len(old.sent()))
	}
	d.SetTargets(map[string]Notifier{"ops/webhook": repl})
	clk.Set(r.Next)
	d.Wake()
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d, want %d", got, id)
	}
	if n := len(old.sent()); n != 1 {
		t.Errorf("old notifier got %d sends after SetTargets, want still 1", n)
	}
	if got := repl.sent(); len(got) != 1 || got[0].ID != "a1" || got[0].Attempt != 2 {
		t.Errorf("replacement got %+v, want a1 attempt 2", got)
	}

	// Queued before the dispatcher ever ran: the target is what it is at
	// send time, not at NewDispatcher.
	ob2 := newFakeOutbox()
	ob2.add(testAlert("a2"), store.StatusFiring, "ops/webhook", clk.Now())
	first, second := &recorder{}, &recorder{}
	d2 := NewDispatcher(ob2, map[string]Notifier{"ops/webhook": first}, Options{Now: clk.Now, Logger: log})
	d2.SetTargets(map[string]Notifier{"ops/webhook": second})
	start(t, d2)
	wait(t, ob2.complete, "completion")
	if len(first.sent()) != 0 || len(second.sent()) != 1 {
		t.Errorf("sends: first %d, second %d; want 0, 1", len(first.sent()), len(second.sent()))
	}
}

// TestDispatcherDeadLetters: a delivery whose target is gone, or that still
// fails after GiveUpAfter (transient or Permanent errors alike), is
// dead-lettered, counted, and raises one bg.notify alert to every other
// target, carrying the delivery as evidence.
func TestDispatcherDeadLetters(t *testing.T) {
	const giveUp = time.Hour
	tests := []struct {
		name string
		// target of the failing delivery, and its notifier (nil: not
		// configured at all).
		target     string
		fail       error
		wantReason string
	}{
		{"target no longer configured", "old/1-webhook", nil, `target "old/1-webhook" is no longer configured`},
		{"transient failures past give-up", "ops/webhook", errors.New("HTTP 503 Service Unavailable"), "still failing after"},
		{"permanent failures past give-up", "ops/webhook", Permanent(errors.New("HTTP 404 Not Found")), "HTTP 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			ob := newFakeOutbox()
			orig := testAlert("orig")
			id := ob.add(orig, store.StatusFiring, tt.target, clk.Now())
			pager, chat := &recorder{}, &recorder{}
			targets := map[string]Notifier{"ops/pager": pager, "sec/chat": chat}
			var failing *recorder
			if tt.fail != nil {
				failing = &recorder{fail: func(Notification) error { return tt.fail }}
				targets[tt.target] = failing
			}
			var obs observed
			log, logs := testLogger(t)
			d := NewDispatcher(ob, targets, Options{
				Now: clk.Now, Logger: log, Poll: time.Hour, GiveUpAfter: giveUp,
				MinBackoff: time.Minute, MaxBackoff: 20 * time.Minute, Observe: obs.observe,
			})
			start(t, d)
			if failing != nil {
				// Retried, never dropped, until the give-up time; the last
				// retry is scheduled exactly at it.
				giveUpAt := clk.Now().Add(giveUp)
				for {
					r := wait(t, ob.retried, "retry")
					if r.ID != id || r.Next.After(giveUpAt) {
						t.Fatalf("retry %+v; want delivery %d, next no later than %v", r, id, giveUpAt)
					}
					if ob.isDead(id) {
						t.Fatal("dead-lettered before the give-up time")
					}
					clk.Set(r.Next)
					d.Wake()
					if r.Next.Equal(giveUpAt) {
						break
					}
				}
			}
			dl := wait(t, ob.deadCh, "dead letter")
			if dl.ID != id || !strings.Contains(dl.Reason, tt.wantReason) {
				t.Fatalf("dead letter %+v, want delivery %d with reason containing %q", dl, id, tt.wantReason)
			}
			if ob.isCompleted(id) {
				t.Error("dead letter also completed")
			}
			// bg.notify to each other target.
			for range 2 {
				wait(t, ob.complete, "bg.notify delivery")
			}
			raised := ob.alertsByRule(RuleNotify)
			if len(raised) != 1 {
				t.Fatalf("%d bg.notify alerts, want 1", len(raised))
			}
			na := raised[0]
			t.Logf("bg.notify title: %s", na.Title)
			if na.ID != NotifyAlertID("orig", tt.target) || na.Severity != SeverityNotify || na.AccountUPN != orig.AccountUPN {
				t.Errorf("bg.notify alert %+v", na)
			}
			for _, s := range []string{tt.target, orig.Title, orig.AccountUPN, "since 2026-07-01 12:00 UTC", tt.wantReason} {
				if !strings.Contains(na.Title, s) {
					t.Errorf("title %q does not say %q", na.Title, s)
				}
			}
			if na.Labels[LabelTarget] != tt.target || na.Labels["rule"] != RuleNotify {
				t.Errorf("labels %v", na.Labels)
			}
			for name, r := range map[string]*recorder{"ops/pager": pager, "sec/chat": chat} {
				if got := r.sent(); len(got) != 1 || got[0].Alert.Rule != RuleNotify {
					t.Errorf("%s got %+v, want one bg.notify", name, got)
				}
			}
			if failing != nil {
				for _, n := range failing.sent() {
					if n.Alert.Rule == RuleNotify {
						t.Error("bg.notify sent to the target that cannot be reached")
					}
				}
			}
			ob.mu.Lock()
			ev, ok := ob.evidence[na.EventID]
			ob.mu.Unlock()
			var rec deadLetterRecord
			if !ok || json.Unmarshal(ev.Raw, &rec) != nil || rec.Delivery != id || rec.Target != tt.target || rec.AlertID != "orig" {
				t.Errorf("evidence %q: %+v", ev.Raw, rec)
			}
			if n := obs.count(tt.target + " " + ResultDeadLetter); n != 1 {
				t.Errorf("Observe(%s, dead_letter) called %d times, want 1", tt.target, n)
			}
			if !strings.Contains(logs.String(), "dead-lettered") {
				t.Errorf("no dead-letter log line:\n%s", logs)
			}
		})
	}
}

// TestDispatcherDeadLetterNoCascade: a bg.notify alert that cannot be
// delivered either is dead-lettered without raising another, and a second
// dead letter for the same (alert, target) raises no second bg.notify.
func TestDispatcherDeadLetterNoCascade(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	orig := testAlert("orig")
	fired := ob.add(orig, store.StatusFiring, "gone/webhook", clk.Now())
	resolved := ob.add(orig, store.StatusResolved, "gone/webhook", clk.Now())
	broken := &recorder{fail: func(Notification) error { return Permanent(errors.New("HTTP 410 Gone")) }}
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"ops/broken": broken}, Options{
		Now: clk.Now, Logger: log, Poll: time.Hour, GiveUpAfter: time.Hour, MaxBackoff: 10 * time.Minute,
	})
	start(t, d)
	seen := map[int64]bool{}
	for range 2 {
		seen[wait(t, ob.deadCh, "dead letter").ID] = true
	}
	if !seen[fired] || !seen[resolved] {
		t.Fatalf("dead letters %v, want %d and %d", seen, fired, resolved)
	}
	if n := len(ob.alertsByRule(RuleNotify)); n != 1 {
		t.Fatalf("%d bg.notify alerts for one (alert, target), want 1", n)
	}
	na := ob.alertsByRule(RuleNotify)[0]
	dels := ob.deliveriesFor(na.ID)
	if len(dels) != 1 || dels[0].Target != "ops/broken" {
		t.Fatalf("bg.notify deliveries %+v, want one to ops/broken", dels)
	}
	// The bg.notify delivery fails until its own give-up time.
	deadline := time.Now().Add(5 * time.Second)
	for !ob.isDead(dels[0].ID) && time.Now().Before(deadline) {
		select {
		case r := <-ob.retried:
			clk.Set(r.Next)
			d.Wake()
		case <-ob.deadCh:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !ob.isDead(dels[0].ID) {
		t.Fatal("undeliverable bg.notify was not dead-lettered")
	}
	time.Sleep(20 * time.Millisecond) // a cascade would show now
	if n := len(ob.alertsByRule(RuleNotify)); n != 1 {
		t.Errorf("%d bg.notify alerts, want 1: a dead bg.notify must not raise another", n)
	}
	if !strings.Contains(logs.String(), "without raising another") {
		t.Errorf("no log line for the undeliverable bg.notify:\n%s", logs)
	}
}

// TestDispatcherDeadLetterStoreFailure: when the bg.notify alert cannot be
// stored, the delivery is not dead-lettered (that would be silent); it is
// handled again once the store recovers.
func TestDispatcherDeadLetterStoreFailure(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("orig"), store.StatusFiring, "gone", clk.Now())
	var calls int
	var mu sync.Mutex
	failing := &failingRaise{fakeOutbox: ob, fail: func() bool { mu.Lock(); defer mu.Unlock(); calls++; return calls == 1 }}
	log, _ := testLogger(t)
	d := NewDispatcher(failing, map[string]Notifier{"ok": &recorder{}}, Options{
		Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond, LeaseMargin: time.Millisecond, SendTimeout: time.Millisecond,
	})
	start(t, d)
	wait(t, ob.fetched, "claim")
	time.Sleep(20 * time.Millisecond)
	if ob.isDead(id) {
		t.Fatal("dead-lettered although its bg.notify could not be stored")
	}
	// The lease (3ms on the fake clock) expires; the row is claimed again.
	clk.Set(clk.Now().Add(time.Second))
	d.Wake()
	if got := wait(t, ob.deadCh, "dead letter"); got.ID != id {
		t.Fatalf("dead letter %d", got.ID)
	}
	if n := len(ob.alertsByRule(RuleNotify)); n != 1 {
		t.Errorf("%d bg.notify alerts, want 1", n)
	}
}

type failingRaise struct {
	*fakeOutbox
	fail func() bool
}

func (f *failingRaise) AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error) {
	if f.fail() {
		return false, errStore
	}
	return f.fakeOutbox.AddAlertNotify(ctx, a, ev, targets)
}
