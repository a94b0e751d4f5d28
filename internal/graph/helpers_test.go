package graph

import (
	"context"
	"sync"
	"testing"
	"time"

	"breakglass/internal/graph/graphtest"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// fakeClock moves only when the client sleeps, and records each wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	return nil
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// newTestClient returns a client for srv with a fake clock and no jitter,
// so every wait is exact.
func newTestClient(t *testing.T, srv *graphtest.Server, mod func(*Options)) (*Client, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	o := Options{BaseURL: srv.URL, Tokens: StaticToken("test-token"), Now: clk.Now, Sleep: clk.Sleep}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.jitter = func() float64 { return 0 }
	return c, clk
}
