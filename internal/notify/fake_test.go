package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
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

type deadRec struct {
	ID     int64
	At     time.Time
	Reason string
}

var errStore = errors.New("attempt to write a readonly database")

// fakeOutbox is an in-memory Outbox with the semantics the store documents
// (leases, dead letters, AddAlertNotify enqueuing per (alert, firing,
// target) even for an existing alert), plus channels reporting each call so
// tests can wait for them.
type fakeOutbox struct {
	mu        sync.Mutex
	alerts    map[string]alert.Alert
	evidence  map[string]store.Evidence
	dels      map[int64]*store.Delivery
	completed map[int64]time.Time
	dead      map[int64]deadRec
	retries   []retryRec
	nextID    int64
	// failComplete makes that many CompleteDelivery calls fail.
	failComplete int
	completes    int // calls, including failed ones
	// readOnly makes every call that writes fail, as a read-only database.
	readOnly bool
	claims   int // ClaimDeliveries calls, including failed ones
	releases int // successful ReleaseDelivery calls

	fetched  chan struct{}
	complete chan int64
	retried  chan retryRec
	deadCh   chan deadRec
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{
		alerts:    map[string]alert.Alert{},
		evidence:  map[string]store.Evidence{},
		dels:      map[int64]*store.Delivery{},
		completed: map[int64]time.Time{},
		dead:      map[int64]deadRec{},
		fetched:   make(chan struct{}, 1),
		complete:  make(chan int64, 1000),
		retried:   make(chan retryRec, 1000),
		deadCh:    make(chan deadRec, 100),
	}
}

// add stores the alert (if new) and enqueues a delivery due at due.
func (f *fakeOutbox) add(a alert.Alert, status, target string, due time.Time) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts[a.ID] = a
	return f.enqueueLocked(a.ID, status, target, due)
}

func (f *fakeOutbox) enqueueLocked(alertID, status, target string, due time.Time) int64 {
	f.nextID++
	f.dels[f.nextID] = &store.Delivery{ID: f.nextID, AlertID: alertID, Status: status, Target: target, NextAttempt: due, Created: due}
	return f.nextID
}

func (f *fakeOutbox) setReadOnly(ro bool) {
	f.mu.Lock()
	f.readOnly = ro
	f.mu.Unlock()
}

func (f *fakeOutbox) ClaimDeliveries(_ context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	f.mu.Lock()
	f.claims++
	if f.readOnly {
		f.mu.Unlock()
		return nil, errStore
	}
	var out []*store.Delivery
	for _, d := range f.dels {
		_, done := f.completed[d.ID]
		_, dead := f.dead[d.ID]
		if done || dead || d.NextAttempt.After(now) {
			continue
		}
		if d.LeaseOwner != "" && now.Before(d.LeaseUntil) {
			continue
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *store.Delivery) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	res := make([]store.Delivery, 0, len(out))
	for _, d := range out {
		d.LeaseOwner, d.LeaseUntil = owner, now.Add(lease)
		res = append(res, *d)
	}
	f.mu.Unlock()
	select {
	case f.fetched <- struct{}{}:
	default:
	}
	return res, nil
}

func (f *fakeOutbox) CompleteDelivery(_ context.Context, id int64, at time.Time) error {
	f.mu.Lock()
	f.completes++
	if f.failComplete > 0 || f.readOnly {
		if f.failComplete > 0 {
			f.failComplete--
		}
		f.mu.Unlock()
		return errors.New("database is locked")
	}
	d, ok := f.dels[id]
	if !ok {
		f.mu.Unlock()
		return store.ErrNotFound
	}
	d.LeaseOwner, d.LeaseUntil = "", time.Time{}
	f.completed[id] = at
	f.mu.Unlock()
	f.complete <- id
	return nil
}

func (f *fakeOutbox) RetryDelivery(_ context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	f.mu.Lock()
	if f.readOnly {
		f.mu.Unlock()
		return errStore
	}
	d, ok := f.dels[id]
	if !ok {
		f.mu.Unlock()
		return store.ErrNotFound
	}
	d.Attempts, d.NextAttempt, d.LastError = attempts, next, lastErr
	d.LeaseOwner, d.LeaseUntil = "", time.Time{}
	r := retryRec{id, attempts, next, lastErr}
	f.retries = append(f.retries, r)
	f.mu.Unlock()
	f.retried <- r
	return nil
}

func (f *fakeOutbox) ReleaseDelivery(_ context.Context, id int64, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readOnly {
		return errStore
	}
	d, ok := f.dels[id]
	if !ok || d.LeaseOwner != owner {
		return store.ErrNotFound
	}
	d.LeaseOwner, d.LeaseUntil = "", time.Time{}
	f.releases++
	return nil
}

func (f *fakeOutbox) DeadLetter(_ context.Context, id int64, at time.Time, reason string) error {
	f.mu.Lock()
	if f.readOnly {
		f.mu.Unlock()
		return errStore
	}
	d, ok := f.dels[id]
	if !ok {
		f.mu.Unlock()
		return store.ErrNotFound
	}
	d.DeadAt, d.DeadReason = at, reason
	d.LeaseOwner, d.LeaseUntil = "", time.Time{}
	r := deadRec{id, at, reason}
	f.dead[id] = r
	f.mu.Unlock()
	f.deadCh <- r
	return nil
}

func (f *fakeOutbox) AddAlertNotify(_ context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readOnly {
		return false, errStore
	}
	_, exists := f.alerts[a.ID]
	if !exists {
		f.alerts[a.ID] = a
	}
	if _, ok := f.evidence[ev.EventID]; !ok {
		f.evidence[ev.EventID] = ev
	}
	for _, t := range targets {
		dup := false
		for _, d := range f.dels {
			if d.AlertID == a.ID && d.Status == store.StatusFiring && d.Target == t {
				dup = true
				break
			}
		}
		if !dup {
			f.enqueueLocked(a.ID, store.StatusFiring, t, a.Detected)
		}
	}
	return !exists, nil
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

func (f *fakeOutbox) isDead(id int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.dead[id]
	return ok
}

// deliveriesFor lists the deliveries of one alert, by id.
func (f *fakeOutbox) deliveriesFor(alertID string) []store.Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Delivery
	for _, d := range f.dels {
		if d.AlertID == alertID {
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(a, b store.Delivery) int { return int(a.ID - b.ID) })
	return out
}

func (f *fakeOutbox) alertsByRule(rule string) []alert.Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []alert.Alert
	for _, a := range f.alerts {
		if a.Rule == rule {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b alert.Alert) int { return strings.Compare(a.ID, b.ID) })
	return out
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

// DueDeliveries is the pre-lease read (for the Legacy adapter): due,
// undelivered, not dead-lettered rows, leases ignored.
func (f *fakeOutbox) DueDeliveries(_ context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readOnly {
		return nil, errStore
	}
	var out []store.Delivery
	for _, d := range f.dels {
		_, done := f.completed[d.ID]
		_, dead := f.dead[d.ID]
		if !done && !dead && !d.NextAttempt.After(now) {
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(a, b store.Delivery) int { return int(a.ID - b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
