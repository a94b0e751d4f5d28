package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/store"
)

// The lease cases run on the store's own clock (the database server's
// now() on PostgreSQL), which no test can move; expiry is therefore shown
// with short real TTLs, polling until the takeover happens and checking it
// never happened before the TTL ran out.

// leaseTTL is long enough that no case's steps outlast it by accident.
const leaseTTL = time.Minute

func (s suite) leaseFree(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	if _, err := st.Lease(ctx, "audit"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lease of a lease never taken = %v, want ErrNotFound", err)
	}
	before := time.Now()
	held, err := st.AcquireLease(ctx, "audit", "a", leaseTTL)
	if err != nil || !held {
		t.Fatalf("AcquireLease of a free lease = %v, %v; want true", held, err)
	}
	li := lease(t, st, "audit")
	if li.Name != "audit" || li.Owner != "a" || li.Epoch != 1 {
		t.Errorf("Lease = %+v, want owner a, epoch 1", li)
	}
	if d := li.Until.Sub(li.Acquired); d != leaseTTL {
		t.Errorf("Until - Acquired = %v, want the ttl %v", d, leaseTTL)
	}
	if li.Until.Location() != time.UTC || li.Acquired.Location() != time.UTC {
		t.Errorf("Lease times in %v, %v; want UTC", li.Until.Location(), li.Acquired.Location())
	}
	// The store's clock is this host's, or a database on loopback: within
	// a few seconds of the test's.
	if off := li.Acquired.Sub(before); off < -5*time.Second || off > 5*time.Second {
		t.Errorf("Acquired = %v, %v from the test's clock", li.Acquired, off)
	}
	if held, err := st.AcquireLease(ctx, "audit", "b", leaseTTL); err != nil || held {
		t.Fatalf("AcquireLease by b while a holds it = %v, %v; want false, nil", held, err)
	}
	if got := lease(t, st, "audit"); got != li {
		t.Errorf("a refused acquisition changed the lease: %+v, was %+v", got, li)
	}
	// Names are independent.
	if held, err := st.AcquireLease(ctx, "prune", "b", leaseTTL); err != nil || !held {
		t.Fatalf("AcquireLease of another name = %v, %v; want true", held, err)
	}
	for _, c := range []struct {
		name, owner string
		ttl         time.Duration
	}{{"", "a", leaseTTL}, {"audit", "", leaseTTL}, {"audit", "a", 0}, {"audit", "a", -time.Second}} {
		if held, err := st.AcquireLease(ctx, c.name, c.owner, c.ttl); err == nil || held {
			t.Errorf("AcquireLease(%q, %q, %v) = %v, %v; want an error", c.name, c.owner, c.ttl, held, err)
		}
	}
	if err := st.ReleaseLease(ctx, "", "a"); err == nil {
		t.Error("ReleaseLease with an empty name: no error")
	}
	if err := st.ReleaseLease(ctx, "audit", ""); err == nil {
		t.Error("ReleaseLease with an empty owner: no error")
	}
}

func (s suite) leaseRenew(t *testing.T) {
	st, path := s.fresh(t)
	acquire(t, st, "audit", "a", leaseTTL, true)
	first := lease(t, st, "audit")
	waitStoreTick(t, first.Acquired)
	acquire(t, st, "audit", "a", 2*leaseTTL, true)
	got := lease(t, st, "audit")
	if got.Owner != "a" || got.Epoch != first.Epoch || !got.Acquired.Equal(first.Acquired) {
		t.Errorf("after renewal Lease = %+v, want owner, epoch and acquired of %+v", got, first)
	}
	if !got.Until.After(first.Until) {
		t.Errorf("renewal did not move Until: %v, was %v", got.Until, first.Until)
	}
	// A renewal with a shorter ttl shortens the lease: Until is always
	// the last renewal's now+ttl.
	acquire(t, st, "audit", "a", time.Second, true)
	if short := lease(t, st, "audit"); !short.Until.Before(got.Until) {
		t.Errorf("renewal with ttl 1s left Until at %v (was %v)", short.Until, got.Until)
	}
	acquire(t, st, "audit", "a", leaseTTL, true)
	// It survives reopening.
	want := lease(t, st, "audit")
	if got := lease(t, s.reopen(t, path), "audit"); got != want {
		t.Errorf("after reopen Lease = %+v, want %+v", got, want)
	}
}

func (s suite) leaseRelease(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	if err := st.ReleaseLease(ctx, "audit", "a"); err != nil {
		t.Fatalf("ReleaseLease of a lease never taken = %v, want nil", err)
	}
	acquire(t, st, "audit", "a", leaseTTL, true)
	// Someone else's release changes nothing.
	if err := st.ReleaseLease(ctx, "audit", "b"); err != nil {
		t.Fatalf("ReleaseLease by a non-holder = %v, want nil", err)
	}
	if li := lease(t, st, "audit"); li.Owner != "a" {
		t.Fatalf("after a non-holder's release Lease = %+v, want a still holding", li)
	}
	acquire(t, st, "audit", "b", leaseTTL, false)
	if err := st.ReleaseLease(ctx, "audit", "a"); err != nil {
		t.Fatal(err)
	}
	if li, err := st.Lease(ctx, "audit"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lease after release = %+v, %v; want ErrNotFound", li, err)
	}
	// Handed over at once, in a new term.
	acquire(t, st, "audit", "b", leaseTTL, true)
	li := lease(t, st, "audit")
	if li.Owner != "b" || li.Epoch != 2 {
		t.Errorf("after release and takeover Lease = %+v, want owner b, epoch 2", li)
	}
	acquire(t, st, "audit", "a", leaseTTL, false)
	// The former holder coming back after a release is a new term too.
	if err := st.ReleaseLease(ctx, "audit", "b"); err != nil {
		t.Fatal(err)
	}
	acquire(t, st, "audit", "b", leaseTTL, true)
	if li := lease(t, st, "audit"); li.Epoch != 3 {
		t.Errorf("re-acquired after its own release: epoch %d, want 3", li.Epoch)
	}
}

func (s suite) leaseExpiry(t *testing.T) {
	st, _ := s.fresh(t)
	const ttl = 300 * time.Millisecond
	start := time.Now()
	acquire(t, st, "audit", "a", ttl, true)
	acquire(t, st, "audit", "b", leaseTTL, false)
	took := pollAcquire(t, st, "audit", "b", leaseTTL)
	// a's Until is the store's now at its acquisition plus ttl, which is
	// not before start+ttl on a shared clock.
	if took.Sub(start) < ttl {
		t.Errorf("b took the lease %v after a acquired it for %v", took.Sub(start), ttl)
	}
	li := lease(t, st, "audit")
	if li.Owner != "b" || li.Epoch != 2 {
		t.Errorf("after expiry takeover Lease = %+v, want owner b, epoch 2", li)
	}
	if !li.Acquired.After(li.Until.Add(-leaseTTL - time.Millisecond)) {
		t.Errorf("takeover kept the old Acquired: %+v", li)
	}
	// The dead holder's renewal now fails: it has lost the lease.
	acquire(t, st, "audit", "a", leaseTTL, false)

	// A holder whose own lease expired while nobody took it renews in the
	// same term.
	acquire(t, st, "drill", "a", ttl, true)
	e := lease(t, st, "drill").Epoch
	waitExpired(t, st, "drill")
	acquire(t, st, "drill", "a", leaseTTL, true)
	if li := lease(t, st, "drill"); li.Epoch != e {
		t.Errorf("renewal after an unclaimed expiry: epoch %d, want %d", li.Epoch, e)
	}
}

// leaseConcurrent starts many acquirers of one free lease at once, over
// handles stores (two: as two processes would): exactly one wins each
// round, and the epoch counts the rounds' owners.
func (s suite) leaseConcurrent(t *testing.T, handles int) {
	ctx := context.Background()
	st, path := s.fresh(t)
	stores := []store.Store{st}
	for len(stores) < handles {
		stores = append(stores, s.reopen(t, path))
	}
	const acquirers, rounds = 16, 5
	for r := range rounds {
		var wins atomic.Int32
		var winner atomic.Value
		var start, done sync.WaitGroup
		start.Add(1)
		errs := make(chan error, acquirers)
		for i := range acquirers {
			done.Add(1)
			go func() {
				defer done.Done()
				owner := fmt.Sprintf("owner-%02d", i)
				start.Wait()
				held, err := stores[i%len(stores)].AcquireLease(ctx, "scheduler", owner, leaseTTL)
				if err != nil {
					errs <- err
					return
				}
				if held {
					wins.Add(1)
					winner.Store(owner)
				}
			}()
		}
		start.Done()
		done.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: AcquireLease: %v", r, err)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d acquirers hold the lease, want exactly 1", r, n)
		}
		w := winner.Load().(string)
		li := lease(t, st, "scheduler")
		if li.Owner != w || li.Epoch != int64(r+1) {
			t.Errorf("round %d: Lease = %+v, want owner %s (the winner), epoch %d", r, li, w, r+1)
		}
		if err := st.ReleaseLease(ctx, "scheduler", w); err != nil {
			t.Fatal(err)
		}
	}
}

func acquire(t *testing.T, st store.Store, name, owner string, ttl time.Duration, want bool) {
	t.Helper()
	held, err := st.AcquireLease(context.Background(), name, owner, ttl)
	if err != nil || held != want {
		t.Fatalf("AcquireLease(%q, %q, %v) = %v, %v; want %v, nil", name, owner, ttl, held, err, want)
	}
}

func lease(t *testing.T, st store.Store, name string) store.LeaseInfo {
	t.Helper()
	li, err := st.Lease(context.Background(), name)
	if err != nil {
		t.Fatalf("Lease(%q): %v", name, err)
	}
	return li
}

// pollAcquire retries AcquireLease until owner holds name, and returns
// when it first did.
func pollAcquire(t *testing.T, st store.Store, name, owner string, ttl time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		held, err := st.AcquireLease(context.Background(), name, owner, ttl)
		if err != nil {
			t.Fatalf("AcquireLease(%q, %q): %v", name, owner, err)
		}
		if held {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never got lease %q: it did not expire", owner, name)
	return time.Time{}
}

// waitExpired waits until the lease's Until has passed on the test's
// clock (with a margin for a database clock a little ahead of it).
func waitExpired(t *testing.T, st store.Store, name string) {
	t.Helper()
	time.Sleep(time.Until(lease(t, st, name).Until) + 50*time.Millisecond)
}

// waitStoreTick makes sure the store's clock moved past at, so a later
// renewal gets a later Until even on a clock with coarse ticks.
func waitStoreTick(t *testing.T, at time.Time) {
	t.Helper()
	time.Sleep(time.Until(at) + 2*time.Millisecond)
}
