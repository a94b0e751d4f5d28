package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/notify/notifytest"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// BenchmarkOutboxThroughput measures how fast the outbox drains a burst of
// alerts to a healthy webhook on loopback, through the real SQLite store
// and the dispatcher with the daemon's defaults: alone (the baseline), next
// to a second healthy channel (the same work, every alert sent twice), next
// to a channel that always answers HTTP 500, and next to one that never
// answers (each send runs into its 1 s timeout). A failing or slow channel
// must not slow the healthy one more than a healthy one does: compare
// deliveries/s within one run. Each
// operation is one drain of a fresh store holding the burst (queued
// first, as alerts arriving while the daemon was busy); reported are
// deliveries/s to the healthy channel, the other channel's attempts per
// drain, and peak heap in use (sampled every 20 ms); -benchmem adds the
// allocations per drain.
//
// The last case is a burst four times the dispatcher's per-target queue
// (maxQueue), with the daemon's lease: rows claimed beyond the queue are
// parked and join it as it drains, so it must drain at about the rate of
// the others, not a queue per lease (60 s).
func BenchmarkOutboxThroughput(b *testing.B) {
	for _, c := range []struct {
		other string
		burst int
	}{
		{"none", 200}, {"healthy", 200}, {"http-500", 200}, {"hanging", 200},
		{"none", 4 * maxQueue},
	} {
		name := fmt.Sprintf("burst=%d/other=%s", c.burst, c.other)
		b.Run(name, func(b *testing.B) { benchOutbox(b, c.other, c.burst) })
	}
}

func benchOutbox(b *testing.B, other string, burst int) {
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	var sampled sync.WaitGroup
	sampled.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	defer func() { close(stopSampling); sampled.Wait() }()

	b.ReportAllocs()
	var drained time.Duration
	badAttempts := 0
	for range b.N {
		b.StopTimer()
		took, bad := drainOnce(b, other, burst)
		drained += took
		badAttempts += bad
	}
	b.ReportMetric(float64(burst*b.N)/drained.Seconds(), "deliveries/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	if other != "none" {
		b.ReportMetric(float64(badAttempts)/float64(b.N), "other-attempts/op")
	}
}

// drainOnce queues burst alerts for the healthy target (and the other
// one) in a fresh store and times the dispatcher delivering all of them
// to the healthy one. The timer runs during the drain only.
func drainOnce(b *testing.B, other string, burst int) (time.Duration, int) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bg.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	good := notifytest.NewReceiver(notifytest.Webhook)
	defer good.Close()
	healthy, err := NewWebhook("bench/good", good.URL+"/hook", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	targets := map[string]Notifier{"bench/good": healthy}
	o := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var bad *notifytest.Receiver
	if other != "none" {
		bad = notifytest.NewReceiver(notifytest.Webhook)
		defer bad.Close()
		switch other {
		case "hanging":
			bad.Hold()
		case "http-500":
			bad.FailNext(1<<30, http.StatusInternalServerError, "")
		}
		hook, err := NewWebhook("bench/bad", bad.URL+"/hook", nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		hook.Timeout = time.Second
		targets["bench/bad"] = hook
	}
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	for i := range burst {
		a := testAlert(fmt.Sprintf("bench-%07d", i))
		if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte(`{}`)}, names); err != nil {
			b.Fatal(err)
		}
	}
	var delivered atomic.Int64
	done := make(chan struct{})
	o.Observe = func(target, result string, _ time.Duration) {
		if target == "bench/good" && result == ResultSuccess && delivered.Add(1) == int64(burst) {
			close(done)
		}
	}
	d := NewDispatcher(st, targets, o)
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	b.StartTimer()
	began := time.Now()
	go func() { ran <- d.Run(runCtx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("drained %d of %d deliveries to the healthy channel", delivered.Load(), burst)
	}
	took := time.Since(began)
	b.StopTimer()
	cancel()
	<-ran
	if got := countKeys(good.Requests()); got != burst {
		b.Fatalf("healthy receiver saw %d distinct notifications, want %d", got, burst)
	}
	attempts := 0
	if bad != nil {
		attempts = len(bad.Requests())
	}
	return took, attempts
}

func countKeys(reqs []notifytest.Request) int {
	seen := map[string]bool{}
	for _, r := range reqs {
		if r.Processed {
			seen[r.Key] = true
		}
	}
	return len(seen)
}
