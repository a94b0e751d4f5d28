package notify

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/store"
)

// TestRetryLogAfterRecovery: a target that fails, recovers and fails again
// is logged each time it starts failing. Before, the second failure (a
// webhook gone down 20 s after it recovered) was held back for the rest of
// the minute and only summarised at shutdown, without naming the target.
func TestRetryLogAfterRecovery(t *testing.T) {
	ob := newFakeOutbox()
	var calls atomic.Int32
	// a1 fails once, then is delivered; a2 fails once (a new episode),
	// then is delivered.
	n := notifierFunc(func(_ context.Context, nt Notification) error {
		if calls.Add(1)%2 == 1 {
			return errors.New("connection refused")
		}
		return nil
	})
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"ops/hook": n}, Options{
		Logger: log, Poll: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	})
	start(t, d)
	id1 := ob.add(testAlert("a1"), store.StatusFiring, "ops/hook", time.Now())
	if got := wait(t, ob.complete, "first completion"); got != id1 {
		t.Fatalf("completed %d, want %d", got, id1)
	}
	id2 := ob.add(testAlert("a2"), store.StatusFiring, "ops/hook", time.Now())
	if got := wait(t, ob.complete, "second completion"); got != id2 {
		t.Fatalf("completed %d, want %d", got, id2)
	}
	out := logs.String()
	if got := strings.Count(out, `msg="notify: send failed, retrying"`); got != 2 {
		t.Errorf("%d retry lines, want 2 (one per failure episode):\n%s", got, out)
	}
	if !strings.Contains(out, "alert=a2") || !strings.Contains(out, "connection refused") {
		t.Errorf("the second episode's failure is not logged:\n%s", out)
	}
}

// TestLogLimiterSummaryNamesKind: a summary says what was held back (the
// target), not only how many lines.
func TestLogLimiterSummaryNamesKind(t *testing.T) {
	log, logs := testLogger(t)
	l := newLogLimiter(log, time.Minute)
	for range 3 {
		l.log(1, "notify: send failed, retrying", "retry:ops/hook")
	}
	l.flushAll()
	out := logs.String()
	if !strings.Contains(out, "(2 more like this") || !strings.Contains(out, "kind=retry:ops/hook") {
		t.Errorf("summary does not name the target:\n%s", out)
	}
}
