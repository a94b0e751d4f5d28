package leader_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/leader"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// manualClock is a Clock that moves only when the test says so.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waitIdle waits until the elector sleeps on the clock again (it registers
// one timer per round).
func (c *manualClock) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := len(c.waiters)
		c.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the elector never waited on its clock")
}

// step advances the clock by d once the elector is waiting, and waits for
// it to wait again: one round of the elector.
func (c *manualClock) step(t *testing.T, d time.Duration) {
	t.Helper()
	c.waitIdle(t)
	c.Advance(d)
	c.waitIdle(t)
}

// flaky is the real store with AcquireLease failing on demand.
type flaky struct {
	*sqlite.Store
	fail     atomic.Bool
	acquires atomic.Int32
}

func (f *flaky) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	f.acquires.Add(1)
	if f.fail.Load() {
		return false, errors.New("database is locked (injected)")
	}
	return f.Store.AcquireLease(ctx, name, owner, ttl)
}

func openStore(t *testing.T) *flaky {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &flaky{Store: st}
}

// syncBuf is a log sink safe for the elector's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// job counts the starts of its work and tells whether it is running.
type job struct {
	starts, stops atomic.Int32
	running       atomic.Bool
	started       chan struct{}
	stopped       chan struct{}
}

func newJob() *job {
	return &job{started: make(chan struct{}, 16), stopped: make(chan struct{}, 16)}
}

func (j *job) work(ctx context.Context) {
	if !j.running.CompareAndSwap(false, true) {
		panic("work started while it was running")
	}
	j.starts.Add(1)
	j.started <- struct{}{}
	<-ctx.Done()
	j.running.Store(false)
	j.stops.Add(1)
	j.stopped <- struct{}{}
}

func waitCh(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

type running struct {
	el     *leader.Elector
	cancel context.CancelFunc
	done   chan struct{}
}

func run(t *testing.T, st leader.Leases, owner string, clk leader.Clock, j *job, logs *syncBuf, o leader.Options) *running {
	t.Helper()
	o.Clock = clk
	o.TTL = cmpOr(o.TTL, 15*time.Second)
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	el := leader.New(st, "scheduler", owner, o)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{el: el, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); el.Run(ctx, j.work) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

func lease(t *testing.T, st leader.Leases) store.LeaseInfo {
	t.Helper()
	li, err := st.Lease(context.Background(), "scheduler")
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	return li
}

// TestFirstAcquisitionImmediate: a single replica starts its work without
// waiting for any timer, and says so.
func TestFirstAcquisitionImmediate(t *testing.T) {
	st := openStore(t)
	j, logs := newJob(), &syncBuf{}
	var changes []bool
	var mu sync.Mutex
	r := run(t, st, "a", newClock(), j, logs, leader.Options{OnChange: func(h bool) { mu.Lock(); changes = append(changes, h); mu.Unlock() }})
	waitCh(t, j.started, "the work to start") // the clock never moved
	if li := lease(t, st); li.Owner != "a" || li.Epoch != 1 {
		t.Errorf("Lease = %+v, want a in term 1", li)
	}
	if held, epoch, _ := r.el.Status(); !held || epoch != 1 {
		t.Errorf("Status = %v, %d; want held in term 1", held, epoch)
	}
	if err := r.el.Fence(context.Background()); err != nil {
		t.Errorf("Fence while leading: %v", err)
	}
	if !strings.Contains(logs.String(), "became leader for scheduler") {
		t.Errorf("log lacks the election:\n%s", logs)
	}
	r.stop()
	if j.running.Load() {
		t.Error("work still running after Run returned")
	}
	// A clean stop hands over at once.
	if li, err := st.Lease(context.Background(), "scheduler"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a clean stop Lease = %+v, %v; want released", li, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Errorf("OnChange calls = %v, want [true false]", changes)
	}
}

// TestRenewsAtThirdOfTTL: the holder renews every TTL/3, in the same term.
func TestRenewsAtThirdOfTTL(t *testing.T) {
	st := openStore(t)
	clk, j := newClock(), newJob()
	run(t, st, "a", clk, j, nil, leader.Options{TTL: 30 * time.Second})
	waitCh(t, j.started, "the work to start")
	clk.waitIdle(t)
	n := st.acquires.Load()
	for range 5 {
		clk.step(t, 10*time.Second)
	}
	if got := st.acquires.Load() - n; got != 5 {
		t.Errorf("%d renewals in 5 thirds of the TTL, want 5", got)
	}
	if li := lease(t, st); li.Owner != "a" || li.Epoch != 1 {
		t.Errorf("Lease = %+v, want a still in term 1", li)
	}
	if j.starts.Load() != 1 || !j.running.Load() {
		t.Errorf("work started %d times, running %v; want once, running", j.starts.Load(), j.running.Load())
	}
}

// TestLostToAnother: when renewal finds another owner holding the lease
// (this replica froze past its TTL and was replaced), the work's context
// ends at once and the loss is logged.
func TestLostToAnother(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk, j, logs := newClock(), newJob(), &syncBuf{}
	r := run(t, st, "a", clk, j, logs, leader.Options{})
	waitCh(t, j.started, "the work to start")
	// Another replica takes the lease behind a's back.
	if err := st.ReleaseLease(ctx, "scheduler", "a"); err != nil {
		t.Fatal(err)
	}
	if held, err := st.AcquireLease(ctx, "scheduler", "b", time.Minute); err != nil || !held {
		t.Fatalf("b AcquireLease = %v, %v", held, err)
	}
	clk.step(t, 5*time.Second)
	waitCh(t, j.stopped, "the work to stop")
	if r.el.Held() {
		t.Error("Held after losing the lease")
	}
	if !strings.Contains(logs.String(), "lost leadership for scheduler") {
		t.Errorf("log lacks the loss:\n%s", logs)
	}
	// b's lease is left alone, and a does not start again while b holds it.
	for range 3 {
		clk.step(t, 5*time.Second)
	}
	if li := lease(t, st); li.Owner != "b" || j.starts.Load() != 1 {
		t.Errorf("Lease = %+v, starts %d; want b's lease and one start", li, j.starts.Load())
	}
	// When b lets go, a takes over in a new term on its next try.
	if err := st.ReleaseLease(ctx, "scheduler", "b"); err != nil {
		t.Fatal(err)
	}
	clk.step(t, 5*time.Second)
	waitCh(t, j.started, "the work to start again")
	if li := lease(t, st); li.Owner != "a" || li.Epoch != 3 {
		t.Errorf("Lease = %+v, want a in term 3", li)
	}
}

// TestRenewalFailsStopsBeforeExpiry: a holder that cannot reach the store
// stops its work before the lease it was last granted expires, though no
// one told it that it lost, and takes up again once the store answers.
func TestRenewalFailsStopsBeforeExpiry(t *testing.T) {
	st := openStore(t)
	clk, j, logs := newClock(), newJob(), &syncBuf{}
	const ttl = 30 * time.Second
	r := run(t, st, "a", clk, j, logs, leader.Options{TTL: ttl})
	waitCh(t, j.started, "the work to start")
	start := clk.Now()
	st.fail.Store(true)
	// Renewals fail at 10s and 20s: still leading (a short outage must
	// not stop the work everywhere).
	clk.step(t, 10*time.Second)
	clk.step(t, 10*time.Second)
	if !j.running.Load() || !r.el.Held() {
		t.Fatal("work stopped after two failed renewals, within the TTL")
	}
	// The hold ends at 25s (TTL less a sixth, for the work to stop),
	// before the store's 30s.
	clk.step(t, 5*time.Second)
	waitCh(t, j.stopped, "the work to stop")
	if at := clk.Now().Sub(start); at >= ttl {
		t.Errorf("work stopped %v after the last renewal, at or past the TTL %v", at, ttl)
	}
	if !strings.Contains(logs.String(), "could not be renewed before it would expire") {
		t.Errorf("log lacks why:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "database is locked (injected)") {
		t.Errorf("log lacks the store's error:\n%s", logs)
	}
	st.fail.Store(false)
	clk.step(t, 10*time.Second)
	waitCh(t, j.started, "the work to start again")
}

// TestTwoElectors: of two replicas only one runs the work; a clean stop of
// the holder hands it over on the other's next try.
func TestTwoElectors(t *testing.T) {
	st := openStore(t)
	clkA, clkB := newClock(), newClock()
	ja, jb := newJob(), newJob()
	a := run(t, st, "a", clkA, ja, nil, leader.Options{})
	waitCh(t, ja.started, "a's work to start")
	b := run(t, st, "b", clkB, jb, nil, leader.Options{})
	for range 4 {
		clkA.step(t, 5*time.Second)
		clkB.step(t, 5*time.Second)
	}
	if jb.starts.Load() != 0 || b.el.Held() {
		t.Fatal("b runs the work while a holds the lease")
	}
	a.stop()
	clkB.step(t, 5*time.Second)
	waitCh(t, jb.started, "b's work to start")
	if li := lease(t, st); li.Owner != "b" || li.Epoch != 2 {
		t.Errorf("Lease = %+v, want b in term 2", li)
	}
	if ja.running.Load() {
		t.Error("a's work still running")
	}
}

// TestKeepOnStop: a crash-like stop leaves the lease to expire.
func TestKeepOnStop(t *testing.T) {
	st := openStore(t)
	j := newJob()
	r := run(t, st, "a", newClock(), j, nil, leader.Options{KeepOnStop: true})
	waitCh(t, j.started, "the work to start")
	r.stop()
	if li := lease(t, st); li.Owner != "a" {
		t.Errorf("Lease after a crash-like stop = %+v, want still a's", li)
	}
}

// TestWorkReturnsEarly: work that ends by itself gives the lease up and is
// started again later, never twice at once.
func TestWorkReturnsEarly(t *testing.T) {
	st := openStore(t)
	clk := newClock()
	var starts atomic.Int32
	started := make(chan struct{}, 8)
	el := leader.New(st, "scheduler", "a", leader.Options{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); el.Run(ctx, func(context.Context) { starts.Add(1); started <- struct{}{} }) }()
	defer func() { cancel(); <-done }()
	waitCh(t, started, "the first run")
	// The elector may set a timer it then abandons (work returned while
	// it was choosing), so step the clock until the work starts again,
	// within a few rounds: the pause after giving up is one renewal.
	again := false
	for round := 0; round < 6 && !again; round++ {
		clk.step(t, 5*time.Second)
		select {
		case <-started:
			again = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !again {
		t.Fatal("the work was not started again within 6 renewals of returning")
	}
	if n := starts.Load(); n < 2 {
		t.Errorf("work started %d times, want again after returning", n)
	}
}

// TestFenceEndsWork: a holder that finds, at a fence, that the lease has
// passed to another (it froze past the TTL) stops its work before Fence
// returns, without waiting for its next renewal.
func TestFenceEndsWork(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	j := newJob()
	r := run(t, st, "a", newClock(), j, nil, leader.Options{})
	waitCh(t, j.started, "the work to start")
	if err := st.ReleaseLease(ctx, "scheduler", "a"); err != nil {
		t.Fatal(err)
	}
	// Released and not yet taken: no one's, so not a's either.
	if err := r.el.Fence(ctx); !errors.Is(err, leader.ErrNotLeader) {
		t.Fatalf("Fence after the lease was released = %v, want ErrNotLeader", err)
	}
	waitCh(t, j.stopped, "the work to stop") // the clock never moved
	if err := r.el.Fence(ctx); !errors.Is(err, leader.ErrNotLeader) {
		t.Errorf("Fence after the term ended = %v, want ErrNotLeader", err)
	}
}

// TestTrouble: failed calls are reported from the first of a run of
// failures until the store answers again, whether or not this process
// holds the lease.
func TestTrouble(t *testing.T) {
	st := openStore(t)
	clk, j := newClock(), newJob()
	r := run(t, st, "a", clk, j, nil, leader.Options{})
	waitCh(t, j.started, "the work to start")
	if since, err := r.el.Trouble(); !since.IsZero() || err != nil {
		t.Fatalf("Trouble while the store answers = %v, %v", since, err)
	}
	st.fail.Store(true)
	clk.step(t, 5*time.Second)
	first := clk.Now()
	clk.step(t, 5*time.Second)
	since, err := r.el.Trouble()
	if !since.Equal(first) || err == nil || !strings.Contains(err.Error(), "injected") {
		t.Errorf("Trouble = %v, %v; want since the first failure (%v) and its error", since, err, first)
	}
	st.fail.Store(false)
	clk.step(t, 5*time.Second)
	if since, err := r.el.Trouble(); !since.IsZero() || err != nil {
		t.Errorf("Trouble after the store answered = %v, %v; want none", since, err)
	}
}
