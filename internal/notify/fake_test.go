package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type retryRec struct {
	ID       int64
	Attempts int
	Next     time.Time
	LastErr  string
}

// fakeOutbox is an in-memory Outbox with the semantics store.Outbox
// documents, plus channels reporting each call so tests can wait for them.
type fakeOutbox struct {
	mu        sync.Mutex
	alerts    map[string]alert.Alert
	dels      map[int64]*store.Delivery
	completed map[int64]time.Time
	retries   []retryRec
	nextID    int64
	// failComplete makes that many CompleteDelivery calls fail.
	failComplete int
	completes    int // calls, including failed ones

	fetched  chan struct{}
	complete chan int64
	retried  chan retryRec
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{
		alerts:    map[string]alert.Alert{},
		dels:      map[int64]*store.Delivery{},
		completed: map[int64]time.Time{},
		fetched:   make(chan struct{}, 1),
		complete:  make(chan int64, 1000),
		retried:   make(chan retryRec, 1000),
	}
}

// add stores the alert (if new) and enqueues a delivery due at due.
func (f *fakeOutbox) add(a alert.Alert, status, target string, due time.Time) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts[a.ID] = a
	f.nextID++
	f.dels[f.nextID] = &store.Delivery{ID: f.nextID, AlertID: a.ID, Status: status, Target: target, NextAttempt: due, Created: due}
	return f.nextID
}

func (f *fakeOutbox) DueDeliveries(_ context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	f.mu.Lock()
	var out []store.Delivery
	for _, d := range f.dels {
		if _, done := f.completed[d.ID]; !done && !d.NextAttempt.After(now) {
			out = append(out, *d)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Delivery) int { return int(a.ID - b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	select {
	case f.fetched <- struct{}{}:
	default:
	}
	return out, nil
}

func (f *fakeOutbox) CompleteDelivery(_ context.Context, id int64, at time.Time) error {
	f.mu.Lock()
	f.completes++
	if f.failComplete > 0 {
		f.failComplete--
		f.mu.Unlock()
		return errors.New("database is locked")
	}
	if _, ok := f.dels[id]; !ok {
		f.mu.Unlock()
		return store.ErrNotFound
	}
	f.completed[id] = at
	f.mu.Unlock()
	f.complete <- id
	return nil
}

func (f *fakeOutbox) RetryDelivery(_ context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	f.mu.Lock()
	d, ok := f.dels[id]
	if !ok {
		f.mu.Unlock()
		return store.ErrNotFound
	}
	d.Attempts, d.NextAttempt, d.LastError = attempts, next, lastErr
	r := retryRec{id, attempts, next, lastErr}
	f.retries = append(f.retries, r)
	f.mu.Unlock()
	f.retried <- r
	return nil
}

func (f *fakeOutbox) Alert(_ context.Context, id string) (alert.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.alerts[id]
	if !ok {
		return alert.Alert{}, store.ErrNotFound
	}
	return a, nil
}

func (f *fakeOutbox) isCompleted(id int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.completed[id]
	return ok
}

// removeAlert simulates an alert missing from the store.
func (f *fakeOutbox) removeAlert(id string) {
	f.mu.Lock()
	delete(f.alerts, id)
	f.mu.Unlock()
}

var _ Outbox = (*fakeOutbox)(nil)

// notifierFunc adapts a function to Notifier.
type notifierFunc func(ctx context.Context, n Notification) error

func (f notifierFunc) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

// recorder is a Notifier that records what it was sent.
type recorder struct {
	mu   sync.Mutex
	got  []Notification
	fail func(n Notification) error
}

func (r *recorder) Notify(_ context.Context, n Notification) error {
	r.mu.Lock()
	r.got = append(r.got, n)
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		return fail(n)
	}
	return nil
}

func (r *recorder) sent() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(t *testing.T) (*slog.Logger, *syncBuffer) {
	t.Helper()
	var buf syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// wait returns the next value from ch or fails the test.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// start runs d until the test ends and checks Run's result.
func start(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := wait(t, done, "Run to return"); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func testAlert(id string) alert.Alert {
	return alert.Alert{
		ID:         id,
		Rule:       "bg.signin",
		Severity:   alert.Sev0,
		Title:      "Break-glass account signed in",
		AccountID:  "11111111-2222-3333-4444-555555555555",
		AccountUPN: "bg1@contoso.example",
		EventID:    "evt-" + id,
		EventTime:  time.Date(2026, 7, 1, 11, 59, 58, 123000000, time.UTC),
		Category:   "SignInLogs",
		Source:     "signins.json:12",
		Detected:   time.Date(2026, 7, 1, 12, 0, 0, 500000000, time.UTC),
	}
}
