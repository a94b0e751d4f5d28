package main

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"breakglass/internal/store/postgres"
)

// replicaSeed is the seed of a randomized replica test: $BREAKGLASS_REPLICA_SEED
// to replay one, else the clock. It is logged either way.
func replicaSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BREAKGLASS_REPLICA_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("BREAKGLASS_REPLICA_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with BREAKGLASS_REPLICA_SEED=%d)", seed, seed)
	return seed
}

// TestReplicasSIGKILL is issue 14's replica test: three `serve` binaries
// share one PostgreSQL and one consumer group on a kfake topic (SASL
// PLAIN, six partitions). While Event Hubs messages with break-glass
// activity among many benign records are produced, a random replica is
// SIGKILLed at random moments, at least ten times, and restarted each time.
// Afterwards every alert one scan of the same records raises was delivered
// to the webhook, each notification (Idempotency-Key) is there after
// dedupe exactly once, nothing is left in the outbox or dead-lettered, and
// every repeated POST is one a kill explains: its earlier copy was sent by
// the replica killed before the repeat (killed between send and recording
// the delivery). A repeat without such a kill fails the test.
func TestReplicasSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three daemons and kills them")
	}
	seed := replicaSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := newReplicaRig(t, 6)
	var dmu sync.Mutex
	g.rcv.delay = func() time.Duration {
		dmu.Lock()
		defer dmu.Unlock()
		return time.Duration(rng.IntN(150)) * time.Millisecond
	}
	w := newWorkload(t, int64(seed%1000003), 6000, 0.03)
	t.Logf("workload: %d messages, %d records, %d break-glass events, %d expected alerts", len(w.msgs), w.records, w.bg, len(w.expected))

	for range 3 {
		g.start(g.add())
	}
	for _, r := range g.reps {
		g.ready(r, 30*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const produceFor = 30 * time.Second
	prodErr := make(chan error, 1)
	go func() { prodErr <- g.produce(ctx, w.msgs, float64(len(w.msgs))/produceFor.Seconds()) }()

	const kills = 12
	for i := range kills {
		// Kills land during production and the drain after it.
		dmu.Lock()
		pause, pick, down := time.Duration(1000+rng.IntN(2000))*time.Millisecond, rng.IntN(len(g.reps)), time.Duration(rng.IntN(400))*time.Millisecond
		dmu.Unlock()
		time.Sleep(pause)
		r := g.reps[pick]
		g.kill(r)
		time.Sleep(down)
		g.start(r)
		g.ready(r, 30*time.Second)
		t.Logf("kill %d: r%d at +%.2fs, %d firing alerts delivered so far", i+1, r.idx, time.Since(g.t0).Seconds(), len(g.rcv.firing()))
	}
	if err := <-prodErr; err != nil {
		t.Fatal(err)
	}
	t.Logf("produced by +%.2fs", time.Since(g.t0).Seconds())
	if missing := g.waitDelivered(w, 45*time.Second); len(missing) > 0 {
		t.Errorf("%d alerts not delivered 45 s after the last message", len(missing))
	}
	t.Logf("delivered by +%.2fs", time.Since(g.t0).Seconds())
	// Settle: a steady-state duplicate would arrive now, and the outbox
	// must drain to nothing.
	st, err := postgres.Open(ctx, g.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		depth, err := st.OutboxDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d deliveries still pending after the drain", depth)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if n, err := st.DeadLetterCount(ctx); err != nil || n != 0 {
		t.Errorf("dead letters: %d, %v", n, err)
	}
	for _, r := range g.reps {
		g.term(r)
	}
	g.report(w)
}
