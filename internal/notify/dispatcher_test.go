package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/store"
)

func TestDispatcherDelivers(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	a, b := testAlert("a1"), testAlert("a2")
	ids := []int64{
		ob.add(a, store.StatusFiring, "ops/1-webhook", clk.Now()),
		ob.add(a, store.StatusFiring, "ops/2-console", clk.Now()),
		ob.add(b, store.StatusResolved, "ops/1-webhook", clk.Now().Add(-time.Minute)),
	}
	later := ob.add(testAlert("a3"), store.StatusFiring, "ops/1-webhook", clk.Now().Add(time.Hour))
	hook, cons := &recorder{}, &recorder{}
	var observed sync.Map
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"ops/1-webhook": hook, "ops/2-console": cons}, Options{
		Now: clk.Now, Logger: log,
		Observe: func(target, result string, _ time.Duration) { observed.Store(target+" "+result, true) },
	})
	start(t, d)
	for range ids {
		wait(t, ob.complete, "completion")
	}
	for _, id := range ids {
		if !ob.isCompleted(id) {
			t.Errorf("delivery %d not completed", id)
		}
	}
	if ob.isCompleted(later) {
		t.Errorf("delivery due in an hour was completed")
	}

	want := map[string]Notification{
		"a1":          {ID: "a1", Status: store.StatusFiring, Attempt: 1},
		"a2-resolved": {ID: "a2-resolved", Status: store.StatusResolved, Attempt: 1},
	}
	got := append(hook.sent(), cons.sent()...)
	if len(got) != 3 {
		t.Fatalf("sent %d notifications, want 3: %+v", len(got), got)
	}
	for _, n := range got {
		w, ok := want[n.ID]
		if !ok {
			t.Errorf("unexpected notification id %q", n.ID)
			continue
		}
		if n.Status != w.Status || n.Attempt != w.Attempt || n.Alert.ID != strings.TrimSuffix(n.ID, "-resolved") || !n.Sent.Equal(clk.Now()) {
			t.Errorf("notification %q = status %q attempt %d alert %q sent %v; want %q, %d, sent %v",
				n.ID, n.Status, n.Attempt, n.Alert.ID, n.Sent, w.Status, w.Attempt, clk.Now())
		}
	}
	for _, k := range []string{"ops/1-webhook success", "ops/2-console success"} {
		if _, ok := observed.Load(k); !ok {
			t.Errorf("Observe not called with %q", k)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	d := NewDispatcher(newFakeOutbox(), nil, Options{MinBackoff: time.Second, MaxBackoff: 5 * time.Minute})
	tests := []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{1, 1 * time.Second, 2 * time.Second},
		{2, 2 * time.Second, 4 * time.Second},
		{3, 4 * time.Second, 8 * time.Second},
		{8, 128 * time.Second, 256 * time.Second},
		{9, 150 * time.Second, 5 * time.Minute},
		{50, 150 * time.Second, 5 * time.Minute},
		{1 << 20, 150 * time.Second, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				got := d.backoff(tt.attempt)
				if got < tt.lo || got > tt.hi {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.attempt, got, tt.lo, tt.hi)
				}
				seen[got] = true
			}
			if len(seen) < 2 {
				t.Errorf("backoff(%d) is not jittered: %v", tt.attempt, seen)
			}
		})
	}
	// MaxBackoff below 2×MinBackoff: never under MinBackoff, never over Max.
	d = NewDispatcher(newFakeOutbox(), nil, Options{MinBackoff: 3 * time.Second, MaxBackoff: 4 * time.Second})
	for attempt := 1; attempt < 5; attempt++ {
		if got := d.backoff(attempt); got < 3*time.Second || got > 4*time.Second {
			t.Errorf("backoff(%d) = %v, want within [3s, 4s]", attempt, got)
		}
	}
}

func TestDispatcherRetriesWithGrowingBackoff(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
	rec := &recorder{fail: func(Notification) error { return errors.New("connection refused") }}
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"t": rec}, Options{
		Now: clk.Now, Logger: log, MinBackoff: time.Second, MaxBackoff: 20 * time.Second, Poll: time.Hour,
	})
	start(t, d)
	// Ceilings: 2s, 4s, 8s, 16s, then capped at 20s.
	ceilings := []time.Duration{2, 4, 8, 16, 20, 20}
	var prevLo time.Duration
	for i, c := range ceilings {
		c *= time.Second
		r := wait(t, ob.retried, "retry")
		now := clk.Now()
		delay := r.Next.Sub(now)
		lo := max(c/2, time.Second)
		if r.ID != id || r.Attempts != i+1 || delay < lo || delay > c {
			t.Fatalf("retry %d: id %d attempts %d delay %v; want id %d attempts %d delay in [%v, %v]", i+1, r.ID, r.Attempts, delay, id, i+1, lo, c)
		}
		if r.LastErr != "connection refused" {
			t.Errorf("last error %q", r.LastErr)
		}
		if lo < prevLo {
			t.Errorf("backoff shrank")
		}
		prevLo = lo
		// Not due before next: a wake must not resend it.
		clk.Set(r.Next.Add(-time.Nanosecond))
		d.Wake()
		wait(t, ob.fetched, "fetch")
		clk.Set(r.Next)
		d.Wake()
	}
	wait(t, ob.retried, "retry")
	if n := len(rec.sent()); n != len(ceilings)+1 {
		t.Errorf("sent %d times, want %d", n, len(ceilings)+1)
	}
	for i, n := range rec.sent() {
		if n.Attempt != i+1 || n.ID != "a1" {
			t.Errorf("send %d: attempt %d id %q", i, n.Attempt, n.ID)
		}
	}
}

func TestDispatcherRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		wantIn time.Duration
	}{
		{"honoured", WithRetryAfter(errors.New("HTTP 429"), 7*time.Second), 7 * time.Second},
		{"capped at MaxBackoff", WithRetryAfter(errors.New("HTTP 503"), time.Hour), 5 * time.Minute},
		{"wrapped", fmt.Errorf("outer: %w", WithRetryAfter(errors.New("HTTP 429"), 90*time.Second)), 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			ob := newFakeOutbox()
			ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
			log, _ := testLogger(t)
			d := NewDispatcher(ob, map[string]Notifier{"t": &recorder{fail: func(Notification) error { return tt.err }}},
				Options{Now: clk.Now, Logger: log, MinBackoff: 10 * time.Millisecond, MaxBackoff: 5 * time.Minute})
			start(t, d)
			r := wait(t, ob.retried, "retry")
			if got := r.Next.Sub(clk.Now()); got != tt.wantIn {
				t.Errorf("next attempt in %v, want %v", got, tt.wantIn)
			}
		})
	}
}

func TestDispatcherKeepsPermanentFailures(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
	rec := &recorder{fail: func(Notification) error { return Permanent(errors.New("HTTP 400 Bad Request")) }}
	var results []string
	var mu sync.Mutex
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"t": rec}, Options{
		Now: clk.Now, Logger: log, MaxBackoff: 5 * time.Minute, Poll: time.Hour,
		Observe: func(_, result string, _ time.Duration) { mu.Lock(); results = append(results, result); mu.Unlock() },
	})
	start(t, d)
	for i := 1; i <= 3; i++ {
		r := wait(t, ob.retried, "retry")
		if r.ID != id || r.Attempts != i || r.Next.Sub(clk.Now()) != 5*time.Minute {
			t.Fatalf("retry %d = %+v; want attempts %d next in 5m", i, r, i)
		}
		clk.Set(r.Next)
		d.Wake()
	}
	wait(t, ob.retried, "retry")
	if ob.isCompleted(id) {
		t.Fatal("a permanently failing delivery was completed (dropped)")
	}
	// One error line, then the limiter holds back the identical ones.
	if got := strings.Count(logs.String(), "target rejected the alert"); got != 1 {
		t.Errorf("%d error-level log lines, want 1 (rate-limited):\n%s", got, logs)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range results {
		if r != ResultPermanent {
			t.Errorf("observed %q, want %q", r, ResultPermanent)
		}
	}
}

// TestDispatcherMissingAlert: a delivery whose alert is not in the store
// is retried at MaxBackoff (until the give-up time), and does not hold up
// the deliveries queued behind it.
func TestDispatcherMissingAlert(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
	ob.removeAlert("a1")
	good := ob.add(testAlert("ok"), store.StatusFiring, "t", clk.Now())
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"t": &recorder{}}, Options{Now: clk.Now, Logger: log, MaxBackoff: time.Minute})
	start(t, d)
	r := wait(t, ob.retried, "retry")
	if r.ID != id || r.Next.Sub(clk.Now()) != time.Minute || r.Attempts != 1 {
		t.Errorf("retry = %+v, want delivery %d in 1m", r, id)
	}
	if got := wait(t, ob.complete, "completion"); got != good {
		t.Errorf("completed %d, want %d", got, good)
	}
	if ob.isCompleted(id) || ob.isDead(id) {
		t.Error("delivery of a missing alert was dropped before the give-up time")
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "missing alert") {
		t.Errorf("no error log about the missing alert:\n%s", logs)
	}
}

func TestDispatcherWake(t *testing.T) {
	const poll = time.Hour
	clk := newClock()
	ob := newFakeOutbox()
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"t": &recorder{}}, Options{Now: clk.Now, Logger: log, Poll: poll})
	start(t, d)
	wait(t, ob.fetched, "first fetch") // Run is now idle until the poll or a wake
	began := time.Now()
	id := ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
	d.Wake()
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d, want %d", got, id)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("delivery after Wake took %v (poll %v)", took, poll)
	} else {
		t.Logf("delivered %v after Wake", took)
	}
}

// TestDispatcherNoDuplicateDelivery hammers the dispatcher with wakes and a
// tiny poll interval while sends are in flight: every delivery must be sent
// exactly once, and the concurrency limits must hold.
func TestDispatcherNoDuplicateDelivery(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	const n = 150
	targets := []string{"a", "b", "c"}
	for i := range n {
		ob.add(testAlert(fmt.Sprint("al", i)), store.StatusFiring, targets[i%len(targets)], clk.Now())
	}
	var (
		mu        sync.Mutex
		calls     = map[string]int{}
		perTarget = map[string]int{}
		total     int
		maxTarget int
		maxTotal  int
	)
	notifier := func(target string) Notifier {
		return notifierFunc(func(ctx context.Context, nt Notification) error {
			mu.Lock()
			calls[nt.ID]++
			perTarget[target]++
			total++
			maxTarget = max(maxTarget, perTarget[target])
			maxTotal = max(maxTotal, total)
			mu.Unlock()
			time.Sleep(100 * time.Microsecond) // let sends overlap
			mu.Lock()
			perTarget[target]--
			total--
			mu.Unlock()
			return nil
		})
	}
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"a": notifier("a"), "b": notifier("b"), "c": notifier("c")},
		Options{Now: clk.Now, Logger: log, Poll: time.Millisecond, PerTarget: 2})
	stopWaking := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopWaking:
				return
			default:
				d.Wake()
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	defer close(stopWaking)
	start(t, d)
	for range n {
		wait(t, ob.complete, "completion")
	}
	mu.Lock()
	defer mu.Unlock()
	for id, c := range calls {
		if c != 1 {
			t.Errorf("%s sent %d times", id, c)
		}
	}
	if len(calls) != n {
		t.Errorf("%d distinct notifications, want %d", len(calls), n)
	}
	if maxTarget > 2 || maxTotal > 2*len(targets) {
		t.Errorf("max in flight: %d per target (limit 2), %d total (limit %d)", maxTarget, maxTotal, 2*len(targets))
	}
}

// TestDispatcherSlowSendNotDuplicated: while one send hangs, repeated
// fetches return its row again; it must not be started a second time.
func TestDispatcherSlowSendNotDuplicated(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
	release := make(chan struct{})
	var calls atomic.Int32
	entered := make(chan struct{}, 1)
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"t": notifierFunc(func(ctx context.Context, n Notification) error {
		calls.Add(1)
		entered <- struct{}{}
		<-release
		return nil
	})}, Options{Now: clk.Now, Logger: log, Poll: time.Millisecond})
	start(t, d)
	wait(t, entered, "send")
	for range 20 { // each fetch sees the in-flight row
		d.Wake()
		wait(t, ob.fetched, "fetch")
	}
	close(release)
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d", got)
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("sent %d times, want 1", c)
	}
}

func TestDispatcherRecordsCompletionWithoutResending(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	ob.failComplete = 1
	id := ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
	rec := &recorder{}
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"t": rec}, Options{Now: clk.Now, Logger: log, Poll: time.Millisecond})
	start(t, d)
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d", got)
	}
	if n := len(rec.sent()); n != 1 {
		t.Errorf("sent %d times, want 1 (the store failure must not cause a resend)", n)
	}
}

func TestDispatcherShutdown(t *testing.T) {
	tests := []struct {
		name string
		// finish decides how the blocked send ends once shutdown began.
		grace         time.Duration
		release       bool
		wantCompleted bool
	}{
		{"drains in-flight sends", 5 * time.Second, true, true},
		{"grace expires: cancelled, stays queued", 20 * time.Millisecond, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			ob := newFakeOutbox()
			id := ob.add(testAlert("a1"), store.StatusFiring, "t", clk.Now())
			entered := make(chan struct{})
			release := make(chan struct{})
			log, _ := testLogger(t)
			d := NewDispatcher(ob, map[string]Notifier{"t": notifierFunc(func(ctx context.Context, n Notification) error {
				close(entered)
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})}, Options{Now: clk.Now, Logger: log, ShutdownGrace: tt.grace})
			stop := start(t, d)
			wait(t, entered, "send")
			if tt.release {
				go func() {
					time.Sleep(10 * time.Millisecond) // after cancellation
					close(release)
				}()
			}
			began := time.Now()
			stop()
			if took := time.Since(began); took > tt.grace+2*time.Second {
				t.Errorf("Run took %v to return", took)
			}
			if got := ob.isCompleted(id); got != tt.wantCompleted {
				t.Errorf("completed = %v, want %v", got, tt.wantCompleted)
			}
			ob.mu.Lock()
			defer ob.mu.Unlock()
			if len(ob.retries) != 0 {
				t.Errorf("shutdown recorded retries %+v; an interrupted send must stay due", ob.retries)
			}
		})
	}
}

func TestDispatcherRunTwice(t *testing.T) {
	log, _ := testLogger(t)
	d := NewDispatcher(newFakeOutbox(), nil, Options{Logger: log})
	ob := d.ob.(*fakeOutbox)
	start(t, d)
	wait(t, ob.fetched, "fetch")
	if err := d.Run(context.Background()); err == nil {
		t.Error("second concurrent Run succeeded")
	}
}

// TestDispatcherBusyTargetDoesNotBlockOthers: more deliveries for one hung
// target than the claim batch and than its in-memory queue and parking
// hold must not hide a delivery for another target queued behind them
// until the next poll, and cost bounded memory.
func TestDispatcherBusyTargetDoesNotBlockOthers(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	for i := range maxQueue + maxParked + 2*batchSize {
		ob.add(testAlert(fmt.Sprint("slow", i)), store.StatusFiring, "slow", clk.Now())
	}
	fast := ob.add(testAlert("fast"), store.StatusFiring, "fast", clk.Now())
	release := make(chan struct{})
	defer close(release) // before stop (cleanups run after deferred calls)
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{
		"slow": notifierFunc(func(ctx context.Context, n Notification) error { <-release; return nil }),
		"fast": &recorder{},
	}, Options{Now: clk.Now, Logger: log, Poll: time.Hour})
	start(t, d)
	if got := wait(t, ob.complete, "completion"); got != fast {
		t.Fatalf("completed %d, want the fast target's delivery %d", got, fast)
	}
	d.mu.Lock()
	held := 0
	for _, it := range d.held {
		if it.del.Target == "slow" {
			held++
		}
	}
	d.mu.Unlock()
	if bound := maxQueue + maxParked + DefaultPerTarget; held > bound {
		t.Errorf("%d deliveries held in memory for one hung target, want at most %d", held, bound)
	}
}
