package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestReplicasReadyz: /readyz reflects the replica's own state. With one
// partition and two replicas, the one that owns no partition is still
// ready. A replica whose store becomes unreachable (its own connections to
// PostgreSQL cut, the server and the other replica fine) is not ready, says
// it is the store, and is ready again once the store is back. Meanwhile it
// must not hold its partition hostage: the messages produced while its
// store is cut are delivered by the other replica.
func TestReplicasReadyz(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two daemons")
	}
	g := newReplicaRig(t, 1)
	px := newPGProxy(t, g.dsn)
	w := newWorkload(t, 12, 600, 0.2)
	cut, kept := g.add(), g.add()
	cut.dsn = px.dsn(g.dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The replica to be cut starts first and reads a message: it owns the
	// partition, and the sticky balancer leaves it there when the other
	// joins.
	g.start(cut)
	g.ready(cut, 30*time.Second)
	if err := g.produce(ctx, w.msgs[:1], 100); err != nil {
		t.Fatal(err)
	}
	for len(g.rcv.firing()) == 0 {
		if ctx.Err() != nil {
			t.Fatal("the first message's alerts were not delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.start(kept)
	g.ready(kept, 30*time.Second)
	time.Sleep(2 * time.Second) // the rebalance that gives kept nothing
	for _, r := range []*replicaProc{cut, kept} {
		if code, body := r.readyz(); code != 200 {
			t.Errorf("r%d (of two on one partition) /readyz: %d %q, want 200", r.idx, code, body)
		}
	}

	px.cut()
	cutAt := time.Now()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := cut.readyz()
		if code == 503 {
			if !strings.Contains(body, "store") {
				t.Errorf("/readyz with the store cut off: %q, want it to name the store", body)
			}
			t.Logf("r%d unready %.1fs after its store was cut: %q", cut.idx, time.Since(cutAt).Seconds(), body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("r%d still %d %q 15 s after its store was cut", cut.idx, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := kept.readyz(); code != 200 {
		t.Errorf("r%d, whose store is fine, /readyz: %d %q", kept.idx, code, body)
	}
	if err := g.produce(ctx, w.msgs[1:], 200); err != nil {
		t.Fatal(err)
	}
	if missing := g.waitDelivered(w, 20*time.Second); len(missing) > 0 {
		t.Errorf("%d of %d alerts not delivered 20 s after their messages while one replica's store is cut off: its partition is held hostage", len(missing), len(w.expected))
	}
	t.Logf("delivered %.1fs after the cut", time.Since(cutAt).Seconds())

	px.restore()
	g.ready(cut, 20*time.Second)
	if missing := g.waitDelivered(w, 20*time.Second); len(missing) > 0 {
		t.Errorf("%d alerts not delivered after the store came back", len(missing))
	}
	for _, r := range g.reps {
		g.term(r)
	}
	g.report(w)
}
