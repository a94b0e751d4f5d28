package main

import (
	"context"
	"testing"
	"time"
)

// TestReplicasRebalance is issue 14's consumer-group rebalance test: two
// `serve` replicas read the topic, a third joins mid-stream, one leaves
// cleanly (SIGTERM) and comes back, all while messages are produced.
// Nothing is lost (every alert one scan raises is delivered), nothing is
// sent twice (no replica is killed, so any repeated Idempotency-Key is a
// steady-state duplicate and fails), and a replica that leaves commits what
// it stored: once every replica has stopped cleanly, the group's committed
// offsets are at the end of every partition.
func TestReplicasRebalance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three daemons")
	}
	const partitions = 6
	g := newReplicaRig(t, partitions)
	w := newWorkload(t, 14, 4000, 0.03)
	t.Logf("workload: %d messages, %d records, %d break-glass events, %d expected alerts", len(w.msgs), w.records, w.bg, len(w.expected))
	for range 3 {
		g.add()
	}
	r0, r1, r2 := g.reps[0], g.reps[1], g.reps[2]
	g.start(r0)
	g.start(r1)
	g.ready(r0, 30*time.Second)
	g.ready(r1, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const produceFor = 16 * time.Second
	prodErr := make(chan error, 1)
	go func() { prodErr <- g.produce(ctx, w.msgs, float64(len(w.msgs))/produceFor.Seconds()) }()

	time.Sleep(4 * time.Second)
	g.start(r2) // joins
	g.ready(r2, 30*time.Second)
	t.Logf("r2 joined at +%.2fs, %d alerts delivered so far", time.Since(g.t0).Seconds(), len(g.rcv.firing()))
	time.Sleep(4 * time.Second)
	g.term(r0) // leaves
	t.Logf("r0 left at +%.2fs, %d alerts delivered so far", time.Since(g.t0).Seconds(), len(g.rcv.firing()))
	time.Sleep(3 * time.Second)
	g.start(r0) // and comes back
	g.ready(r0, 30*time.Second)
	if err := <-prodErr; err != nil {
		t.Fatal(err)
	}
	if missing := g.waitDelivered(w, 45*time.Second); len(missing) > 0 {
		t.Errorf("%d alerts not delivered 45 s after the last message", len(missing))
	}
	time.Sleep(time.Second) // a steady-state duplicate would arrive now
	for _, r := range []*replicaProc{r1, r2, r0} {
		g.term(r)
	}
	left, err := g.uncommitted(ctx, partitions)
	if err != nil {
		t.Fatal(err)
	}
	for p, n := range left {
		if n != 0 {
			t.Errorf("partition %d: %d messages after the committed offset once every replica stopped cleanly", p, n)
		}
	}
	if len(left) != partitions {
		t.Errorf("offsets of %d partitions, want %d: %v", len(left), partitions, left)
	}
	g.report(w)
}
