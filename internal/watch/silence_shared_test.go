package watch

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/store"
)

// TestSilenceSharedAcrossReplicas: two replicas (two pipelines on two
// handles of one SQLite store) watch one feed, which only one of them reads
// at a time (a consumer group gives a partition to one member). The one
// that reads nothing raises no false silence; a feed silent for both raises
// one alert, whichever checks first, and both know it; life seen by either
// resolves it, and the other follows without a second alert or resolution.
func TestSilenceSharedAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "bg.db")
	stA, stB := openStore(t, path), openStore(t, path)
	defer stA.Close()
	defer stB.Close()
	pipe := func(st store.Store) *Silence {
		p := New(Options{Accounts: entra.NewAccountSet(nil), Store: st, Conditions: st, Route: To("ops/webhook"), Now: c.now})
		if err := p.Silence().Watch(ctx, "hub", time.Minute); err != nil {
			t.Fatal(err)
		}
		return p.Silence()
	}
	a, b := pipe(stA), pipe(stB)
	silences := func() []string {
		as, err := stA.Alerts(ctx, store.AlertFilter{Rule: RuleSilence})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range as {
			ids = append(ids, x.ID)
		}
		return ids
	}

	// A reads the feed, B owns nothing: no silence anywhere.
	for range 20 {
		c.add(15 * time.Second)
		a.alive(ctx, "hub")
		b.Check(ctx)
		a.Check(ctx)
	}
	if ids := silences(); len(ids) != 0 {
		t.Fatalf("silence raised while one replica reads the feed: %v", ids)
	}

	// The feed stops for both: one alert, known to both.
	c.add(61 * time.Second)
	b.Check(ctx)
	a.Check(ctx)
	c.add(5 * time.Second)
	a.Check(ctx)
	b.Check(ctx)
	ids := silences()
	if len(ids) != 1 {
		t.Fatalf("%d silence alerts for one silent feed, want 1: %v", len(ids), ids)
	}
	for name, s := range map[string]*Silence{"A": a, "B": b} {
		if got, ok := s.Firing("hub"); !ok || got != ids[0] {
			t.Errorf("replica %s: Firing = %q %v, want %q", name, got, ok, ids[0])
		}
	}

	// B gets the partition and reads: resolved once, A follows.
	c.add(time.Second)
	b.alive(ctx, "hub")
	c.add(time.Second)
	a.Check(ctx)
	b.Check(ctx)
	if _, open, _ := stA.Condition(ctx, RuleSilence, "hub"); open {
		t.Error("the silence condition is still open after life")
	}
	for name, s := range map[string]*Silence{"A": a, "B": b} {
		if got, ok := s.Firing("hub"); ok {
			t.Errorf("replica %s still firing %q after B saw life", name, got)
		}
	}
	ds, err := stA.AlertDeliveries(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	resolved := 0
	for _, d := range ds {
		if d.Status == store.StatusResolved {
			resolved++
		}
	}
	if resolved != 1 {
		t.Errorf("%d resolved deliveries, want 1: %+v", resolved, ds)
	}
	if ids := silences(); len(ids) != 1 {
		t.Errorf("silence alerts after the resolution: %v", ids)
	}
}
