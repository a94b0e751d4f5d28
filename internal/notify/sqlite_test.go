//go:build notify_sqlite

// TODO(merge): drop the build tag once spine-store (leases, dead letters) is
// merged; until then package store/sqlite lacks the methods Outbox needs.

package notify

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
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
