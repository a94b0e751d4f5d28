package notify

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var _ Outbox = (*sqlite.Store)(nil)

// TestSQLiteTwoDispatchers: two dispatchers (as two processes) on one
// SQLite store, with leases short against the queueing: each delivery is
// sent exactly once, and a dead letter raises bg.notify through the real
// store.
func TestSQLiteTwoDispatchers(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const n = 60
	targets := []string{"ops/a", "ops/b"}
	var (
		mu    sync.Mutex
		calls = map[string]int{}
	)
	// Counts the sends that completed within the dispatcher's deadline:
	// leases promise that those never overlap (a process stalled past its
	// lease, as on a loaded machine under -race, is at-least-once).
	rec := notifierFunc(func(ctx context.Context, nt Notification) error {
		time.Sleep(time.Millisecond)
		if err := ctx.Err(); err != nil {
			return err
		}
		mu.Lock()
		calls[nt.ID+" "+nt.Alert.Rule]++
		mu.Unlock()
		return nil
	})
	log, _ := testLogger(t)
	var ds []*Dispatcher
	for range 2 {
		d := NewDispatcher(st, map[string]Notifier{"ops/a": rec, "ops/b": rec}, Options{
			// The margin must cover a claim's own latency (a SQLite write,
			// slow under -race) plus recording: a send starts only while
			// half of it is left.
			Logger: log, Poll: 5 * time.Millisecond, SendTimeout: 50 * time.Millisecond, LeaseMargin: 400 * time.Millisecond,
		})
		ds = append(ds, d)
		start(t, d)
	}
	for i := range n {
		a := testAlert(fmt.Sprint("sq", i))
		a.Detected = time.Now()
		if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte(`{}`)}, targets); err != nil {
			t.Fatal(err)
		}
		ds[i%2].Wake()
	}
	// One delivery for a target nobody has any more.
	gone := testAlert("sq-gone")
	gone.Detected = time.Now()
	if _, err := st.AddAlertNotify(ctx, gone, store.Evidence{EventID: gone.EventID, Raw: []byte(`{}`)}, []string{"old/webhook"}); err != nil {
		t.Fatal(err)
	}
	ds[0].Wake()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		depth, err := st.OutboxDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		done := calls[NotifyAlertID("sq-gone", "old/webhook")+" "+RuleNotify] == len(targets)
		mu.Unlock()
		if depth == 0 && done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != n+1 {
		t.Errorf("%d distinct notifications, want %d", len(calls), n+1)
	}
	// Each alert went to two targets: one send of its ID per target.
	for i := range n {
		if c := calls[fmt.Sprint("sq", i)+" bg.signin"]; c != len(targets) {
			t.Errorf("sq%d sent %d times, want %d (once per target)", i, c, len(targets))
		}
	}
	if c := calls[NotifyAlertID("sq-gone", "old/webhook")+" "+RuleNotify]; c != len(targets) {
		t.Errorf("bg.notify sent %d times, want once to each of %v", c, targets)
	}
	dead, err := st.DeadLetters(ctx, 10)
	if err != nil || len(dead) != 1 || dead[0].Target != "old/webhook" {
		t.Errorf("dead letters %+v, %v", dead, err)
	}
}

// TestSQLiteRestartReclaimsOwnLeases: a daemon killed mid-send leaves its
// leases in the store. Restarted under the same stable owner name, it sends
// those deliveries at once instead of after the lease expires; another
// owner's leases stay untouched.
func TestSQLiteRestartReclaimsOwnLeases(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, id := range []string{"mine", "theirs"} {
		a := testAlert(id)
		a.Detected = time.Now()
		if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte(`{}`)}, []string{"ops/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	// The previous run (owner "host:/data/bg.db") claimed ops/mine with an
	// hour-long lease and died; another replica holds ops/theirs.
	for _, owner := range []string{"host:/data/bg.db", "other-replica"} { // oldest first: mine, then theirs
		ds, err := st.ClaimDeliveries(ctx, owner, time.Now(), time.Hour, 1)
		if err != nil || len(ds) != 1 {
			t.Fatalf("ClaimDeliveries(%s) = %v, %v", owner, ds, err)
		}
	}
	var (
		mu   sync.Mutex
		sent = map[string]int{}
	)
	rec := notifierFunc(func(ctx context.Context, nt Notification) error {
		mu.Lock()
		sent[nt.Alert.EventID]++
		mu.Unlock()
		return nil
	})
	log, _ := testLogger(t)
	d := NewDispatcher(st, map[string]Notifier{"ops/mine": rec, "ops/theirs": rec}, Options{
		Logger: log, Poll: 5 * time.Millisecond, Owner: "host:/data/bg.db",
	})
	start(t, d)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := sent[testAlert("mine").EventID]
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if got := sent[testAlert("mine").EventID]; got != 1 {
		t.Errorf("delivery leased by our previous run sent %d times within 5s, want 1 (at once, not after the hour-long lease)", got)
	}
	if got := sent[testAlert("theirs").EventID]; got != 0 {
		t.Errorf("delivery leased by another replica sent %d times, want 0", got)
	}
}

// countingNotifier accepts everything and counts each delivery once.
type countingNotifier struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *countingNotifier) Notify(_ context.Context, n Notification) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[n.ID]++
	return nil
}

// TestSQLiteBurstBeyondQueue: a burst to one healthy target larger than
// its in-memory queue (maxQueue) drains at the target's pace. Rows claimed
// beyond the queue used to stay leased until their lease expired (a minute
// with the defaults), so an attacker's flood of audit events would have
// paged minutes late; parked rows now join the queue as it drains.
func TestSQLiteBurstBeyondQueue(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const burst = 4*maxQueue + 37
	items := make([]store.AlertWithEvidence, burst)
	for i := range items {
		a := testAlert(fmt.Sprintf("burst-%05d", i))
		items[i] = store.AlertWithEvidence{Alert: a, Evidence: store.Evidence{EventID: a.EventID, Raw: []byte(`{}`)}}
	}
	if _, err := st.AddAlertsNotify(ctx, items, []string{"g/fast"}); err != nil {
		t.Fatal(err)
	}
	n := &countingNotifier{seen: map[string]int{}}
	var delivered atomic.Int64
	done := make(chan struct{})
	d := NewDispatcher(st, map[string]Notifier{"g/fast": n}, Options{
		Logger: slog.New(slog.DiscardHandler),
		Observe: func(_, result string, _ time.Duration) {
			if result == ResultSuccess && delivered.Add(1) == burst {
				close(done)
			}
		},
	})
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	began := time.Now()
	go func() { ran <- d.Run(runCtx) }()
	// The lease is SendTimeout + LeaseMargin = 60 s: draining within a
	// fraction of it proves no row waited for its lease to expire.
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Errorf("after 20 s only %d of %d deliveries were sent: rows beyond the queue waited for their lease", delivered.Load(), burst)
	}
	took := time.Since(began)
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.seen) != burst {
		t.Errorf("%d distinct notifications, want %d", len(n.seen), burst)
	}
	for id, c := range n.seen {
		if c != 1 {
			t.Errorf("%s sent %d times", id, c)
		}
	}
	if depth, err := st.OutboxDepth(ctx); err != nil || depth != 0 {
		t.Errorf("outbox depth after the drain = %d, %v; want 0", depth, err)
	}
	t.Logf("%d deliveries in %s (%.0f/s)", burst, took.Round(time.Millisecond), float64(burst)/took.Seconds())
}
