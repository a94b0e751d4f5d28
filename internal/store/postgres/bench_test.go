package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/storetest"
)

// run numbers the calls of a benchmark function, which share a schema, so
// each stores alerts of its own.
var run atomic.Int64

// BenchmarkAddAlertsNotify stores batches of 500 alerts with a delivery
// each, as the pipeline does: alerts/s is the store's share of ingest.
func BenchmarkAddAlertsNotify(b *testing.B) {
	ctx := context.Background()
	s := open(b, pgtest.SchemaDSN(b, b.Name()))
	const n = 500
	r := run.Add(1)
	b.ResetTimer()
	for i := range b.N {
		items := make([]store.AlertWithEvidence, n)
		for j := range items {
			a := storetest.Alert(fmt.Sprintf("evt-%d-%d-%d", r, i, j), "bg.signin", time.Now())
			items[j] = store.AlertWithEvidence{Alert: a, Evidence: storetest.Evidence(a, []byte(`{"id":"x"}`))}
		}
		if _, err := s.AddAlertsNotify(ctx, items, []string{"hook"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkClaimComplete claims due deliveries 100 at a time and completes
// each, as a dispatcher does: deliveries/s is the outbox's ceiling.
func BenchmarkClaimComplete(b *testing.B) {
	ctx := context.Background()
	s := open(b, pgtest.SchemaDSN(b, b.Name()))
	const n = 100
	r := run.Add(1)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		items := make([]store.AlertWithEvidence, n)
		for j := range items {
			items[j] = store.AlertWithEvidence{Alert: storetest.Alert(fmt.Sprintf("evt-%d-%d-%d", r, i, j), "bg.signin", time.Now())}
		}
		if _, err := s.AddAlertsNotify(ctx, items, []string{"hook"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ds, err := s.ClaimDeliveries(ctx, "bench", time.Now().Add(time.Second), time.Minute, n)
		if err != nil || len(ds) != n {
			b.Fatalf("claimed %d, %v", len(ds), err)
		}
		for _, d := range ds {
			if err := s.CompleteDelivery(ctx, d.ID, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
}
