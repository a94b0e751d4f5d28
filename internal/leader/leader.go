// Package leader runs a piece of work on exactly one of the processes that
// share a store: the serve replica that holds the work's lease
// (store.Leases). An Elector campaigns for the lease, runs the work while
// it holds it, renews it at a third of its TTL, and stops the work (cancels
// its context) before the lease can expire under it, so that a replica
// that froze, lost the store or was killed hands the work to another
// within one TTL, and two replicas never run it at once.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"breakglass/internal/store"
)

// DefaultTTL is how long a lease lasts without renewal: how long the work
// may stand still after its holder dies.
const DefaultTTL = 15 * time.Second

// releaseTimeout bounds the release at a clean stop; a release that does
// not happen only means the next holder waits for the TTL.
const releaseTimeout = 2 * time.Second

// Leases is what an Elector needs of the store.
type Leases interface {
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	Lease(ctx context.Context, name string) (store.LeaseInfo, error)
}

// Clock is the Elector's time: when to renew, and when its hold on the
// lease ends. Tests inject a manual one; Real is the default.
type Clock interface {
	Now() time.Time
	// After is time.After: a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Real is the wall clock (with Go's monotonic reading, so a clock step does
// not shorten or stretch a hold).
var Real Clock = realClock{}

// Options tune an Elector; zero values take the defaults.
type Options struct {
	// TTL is the lease's time to live (default DefaultTTL). It is renewed
	// every TTL/3.
	TTL   time.Duration
	Clock Clock
	// Logger gets "became leader for X" and "lost leadership for X".
	Logger *slog.Logger
	// OnChange is called with true when this process becomes the holder
	// and false when it stops being it (for a metric).
	OnChange func(held bool)
	// KeepOnStop leaves the lease held when Run's context ends, as a crash
	// would: tests use it to show that another takes over after the TTL.
	KeepOnStop bool
}

// Elector holds one named lease for one owner.
type Elector struct {
	st          Leases
	name, owner string
	o           Options

	mu    sync.Mutex
	held  bool
	epoch int64
	since time.Time
	// abort ends the current term's work (Fence, on finding the lease
	// gone); nil while not leading.
	abort context.CancelFunc
	// failingSince is when the current run of failed store calls began
	// (zero after a call the store answered), and lastErr the last one.
	failingSince time.Time
	lastErr      error
}

// New returns an Elector for lease name on behalf of owner (a name unique
// to this process among those sharing the store, stable across its
// restarts).
func New(st Leases, name, owner string, o Options) *Elector {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Clock == nil {
		o.Clock = Real
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{st: st, name: name, owner: owner, o: o}
}

// Name is the lease's name.
func (e *Elector) Name() string { return e.name }

// Status says whether this process holds the lease now, in which term
// (the lease's epoch, 0 when it could not be read), and since when.
func (e *Elector) Status() (held bool, epoch int64, since time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held, e.epoch, e.since
}

// Held reports whether this process holds the lease now.
func (e *Elector) Held() bool {
	held, _, _ := e.Status()
	return held
}

// Trouble reports since when every call to take or renew the lease has
// failed (the store did not answer, or refused with an error), and the
// last error; zero and nil while the store answers, whoever holds the
// lease. A replica that cannot reach the lease cannot know whether anyone
// does the work, which is its own trouble to report (readiness).
func (e *Elector) Trouble() (since time.Time, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failingSince, e.lastErr
}

// ErrNotLeader is returned by Fence when the lease is no longer this
// process's, in the term it took it.
var ErrNotLeader = errors.New("not the leader")

// Fence checks in the store that the lease is still this owner's, in the
// same term as when it was taken (no one held it in between), before a
// write a stale leader must not make. When it is not, Fence ends the
// term's work (its context is cancelled before Fence returns) and returns
// an error wrapping ErrNotLeader. It does not replace stopping at the
// context's end; it narrows the window of a holder that froze and woke up
// after its lease had passed to another. An error reading the lease is
// returned as it is, and ends nothing.
func (e *Elector) Fence(ctx context.Context) error {
	e.mu.Lock()
	held, epoch, abort := e.held, e.epoch, e.abort
	e.mu.Unlock()
	if !held {
		return fmt.Errorf("lease %s: %w", e.name, ErrNotLeader)
	}
	li, err := e.st.Lease(ctx, e.name)
	if errors.Is(err, store.ErrNotFound) {
		li, err = store.LeaseInfo{}, nil
	}
	if err != nil {
		return fmt.Errorf("lease %s: checking the holder: %w", e.name, err)
	}
	if li.Owner != e.owner || (epoch != 0 && li.Epoch != epoch) {
		if abort != nil {
			abort()
		}
		holder := li.Owner
		if holder == "" {
			holder = "nobody"
		}
		return fmt.Errorf("lease %s is held by %s in term %d, not by this replica in term %d: %w", e.name, holder, li.Epoch, epoch, ErrNotLeader)
	}
	return nil
}

// Run campaigns for the lease until ctx ends. Each time it takes the lease
// it calls work with a context that ends when the lease is lost, when it
// cannot be renewed before it would expire, or when ctx ends; it waits for
// work to return before campaigning again, so work never runs twice at
// once in this process. work should run until its context ends; if it
// returns early the lease is given up and work is started again on the
// next acquisition. At a clean stop (ctx ends) Run releases the lease, so
// another replica takes over at once, unless KeepOnStop.
//
// The first acquisition is tried at once, so a single replica starts its
// work without delay.
func (e *Elector) Run(ctx context.Context, work func(ctx context.Context)) {
	ttl := e.o.TTL
	renew := ttl / 3
	// A hold ends at the send time of the last successful renewal plus
	// most of the TTL: the store granted at least send time + TTL by a
	// clock that runs at the same rate, and work gets the rest to stop.
	hold := ttl - ttl/6
	var (
		cur      *term // nil while not leading
		deadline time.Time
		failures int
	)
	end := func(why string) {
		if cur == nil {
			return
		}
		cur.stop()
		cur = nil
		e.set(false, 0, time.Time{})
		e.o.Logger.Warn("lost leadership for "+e.name, "lease", e.name, "owner", e.owner, "why", why)
	}
	for ctx.Err() == nil {
		now := e.o.Clock.Now()
		if cur != nil && !now.Before(deadline) {
			end("the lease could not be renewed before it would expire")
		}
		// The call is bounded by its own timeout, not cut by ctx: a
		// stop waits for it (milliseconds), so its transaction ends
		// before the store is closed, and a lease it took is released.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.callTimeout(cur != nil, now, deadline, renew))
		sent := e.o.Clock.Now()
		held, err := e.st.AcquireLease(callCtx, e.name, e.owner, ttl)
		cancel()
		if ctx.Err() != nil {
			if held && cur == nil && !e.o.KeepOnStop {
				e.release()
			}
			break
		}
		e.noteCall(sent, err)
		switch {
		case err != nil:
			failures++
			// Without an answer the holder keeps working until deadline:
			// a short store outage must not stop the work everywhere.
			if failures == 1 || failures%10 == 0 {
				e.o.Logger.Warn("lease "+e.name+": cannot reach the store to take or renew it", "error", err, "leading", cur != nil, "failures", failures)
			}
		case held:
			failures = 0
			deadline = sent.Add(hold)
			if cur == nil {
				epoch := e.readEpoch(ctx)
				e.o.Logger.Info("became leader for "+e.name, "lease", e.name, "owner", e.owner, "epoch", epoch, "ttl", ttl)
				cur = e.startTerm(ctx, epoch, sent, work)
			}
		default:
			failures = 0
			end("another replica holds the lease")
		}
		wait := renew
		var workDone <-chan struct{}
		if cur != nil {
			wait = min(wait, max(deadline.Sub(e.o.Clock.Now()), 0))
			workDone = cur.done
		}
		// Work that has already returned is seen before a timer is set:
		// a select with both ready picks at random, and the renewal it
		// might pick instead would only postpone giving the lease up.
		returned := false
		select {
		case <-workDone:
			returned = true
		default:
			select {
			case <-ctx.Done():
			case <-e.o.Clock.After(wait):
			case <-workDone:
				returned = true
			}
		}
		// Work that returned because ctx ended is a shutdown, not work
		// that stopped on its own: it is handled after the loop, which
		// keeps the lease under KeepOnStop (the two are ready together,
		// and a select picks either).
		if returned && ctx.Err() == nil {
			// work returned on its own: give the lease up for now, and
			// start it again on a later acquisition.
			end("its work stopped, or a fence found the lease gone")
			e.release()
			select {
			case <-ctx.Done():
			case <-e.o.Clock.After(renew):
			}
		}
	}
	if cur != nil {
		cur.stop()
		e.set(false, 0, time.Time{})
		if !e.o.KeepOnStop {
			e.release()
		}
		e.o.Logger.Info("gave up leadership for "+e.name+" at shutdown", "lease", e.name, "released", !e.o.KeepOnStop)
	}
}

// term is one run of the work while this process holds the lease.
type term struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startTerm records that this process holds the lease and starts work.
func (e *Elector) startTerm(ctx context.Context, epoch int64, since time.Time, work func(context.Context)) *term {
	wctx, cancel := context.WithCancel(ctx)
	t := &term{cancel: cancel, done: make(chan struct{})}
	e.mu.Lock()
	e.abort = cancel
	e.mu.Unlock()
	e.set(true, epoch, since)
	go func() {
		defer close(t.done)
		work(wctx)
	}()
	return t
}

// stop cancels the work and waits for it to return.
func (t *term) stop() {
	t.cancel()
	<-t.done
}

// callTimeout bounds one AcquireLease: never past the hold's deadline, so
// a store that hangs cannot keep work running beyond it.
func (e *Elector) callTimeout(leading bool, now, deadline time.Time, renew time.Duration) time.Duration {
	t := renew
	if leading {
		if left := deadline.Sub(now); left < t {
			t = left
		}
	}
	return max(t, time.Millisecond)
}

func (e *Elector) readEpoch(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	li, err := e.st.Lease(ctx, e.name)
	if err != nil || li.Owner != e.owner {
		return 0
	}
	return li.Epoch
}

func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := e.st.ReleaseLease(ctx, e.name, e.owner); err != nil {
		e.o.Logger.Warn("lease "+e.name+": releasing it failed; another replica takes over when it expires", "error", err, "ttl", e.o.TTL)
	}
}

func (e *Elector) noteCall(at time.Time, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		e.failingSince, e.lastErr = time.Time{}, nil
		return
	}
	if e.failingSince.IsZero() {
		e.failingSince = at
	}
	e.lastErr = err
}

func (e *Elector) set(held bool, epoch int64, since time.Time) {
	e.mu.Lock()
	changed := e.held != held
	e.held, e.epoch, e.since = held, epoch, since
	if !held {
		e.abort = nil
	}
	e.mu.Unlock()
	if changed && e.o.OnChange != nil {
		e.o.OnChange(held)
	}
}
