package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/simulate"
)

// TestLatencyBench measures detection latency end to end: from a break-glass
// record being appended to a followed file, or POSTed, to the webhook
// receiving the notification, while background records that concern no
// break-glass account arrive at 10,000 records/s. It runs only with
// BREAKGLASS_BENCH_LATENCY=1 (make bench) and prints p50, p99 and max.
func TestLatencyBench(t *testing.T) {
	if os.Getenv("BREAKGLASS_BENCH_LATENCY") == "" {
		t.Skip("set BREAKGLASS_BENCH_LATENCY=1 (make bench)")
	}
	const (
		rate    = 10000 // background records per second
		probes  = 100   // per path
		every   = 100 * time.Millisecond
		seconds = 2*probes*int(every/time.Millisecond)/1000 + 3
	)
	accounts := simulate.DemoAccounts()
	var bg bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &bg, simulate.Options{
		Seed: 5, Count: rate * seconds, Shape: simulate.ShapeStorage, BGShare: -1, Accounts: accounts,
	}, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(bg.String(), "\n")

	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL, accounts, "")
	// The benchmark runs the file source at its default poll interval.
	cfg, _ := os.ReadFile(d.cfg)
	os.WriteFile(d.cfg, bytes.Replace(cfg, []byte("    poll: 50ms\n"), nil, 1), 0o600)
	cmd := d.start(t)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	if !d.waitReady(t, 10*time.Second) {
		t.Fatal("daemon not ready")
	}
	f, err := os.OpenFile(filepath.Join(d.dir, "logs", "PT1H.json"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fmu sync.Mutex

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Background load: 100 records every 10 ms.
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i += rate / 100 {
			<-tick.C
			chunk := strings.Join(lines[i%len(lines):min(i%len(lines)+rate/100, len(lines))], "")
			fmu.Lock()
			f.WriteString(chunk)
			fmu.Unlock()
		}
	}()

	probe := func(n int, path string) (string, []byte) {
		id := fmt.Sprintf("1a7e0000-0000-4000-8000-%012d", n)
		rec := fmt.Sprintf(`{"time":"%[1]s","resourceId":"/tenants/x/providers/Microsoft.aadiam","operationName":"Sign-in activity","category":"SignInLogs","resultType":"0","properties":{"id":"%[2]s","createdDateTime":"%[1]s","userId":"%[3]s","userPrincipalName":"%[4]s","appDisplayName":"Azure Portal","ipAddress":"198.51.100.9","status":{"errorCode":0},"isInteractive":true,"note":"%[5]s"}}`+"\n",
			time.Now().UTC().Format(time.RFC3339Nano), id, accounts[0].ID, accounts[0].UPN, path)
		return alert.Key(id, "bg.signin"), []byte(rec)
	}
	sent := map[string]time.Time{}
	kind := map[string]string{}
	for i := range 2 * probes {
		time.Sleep(every)
		path := []string{"file", "http"}[i%2]
		id, rec := probe(i, path)
		sent[id], kind[id] = time.Now(), path
		if path == "file" {
			fmu.Lock()
			f.Write(rec)
			fmu.Unlock()
		} else if err := d.post(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rcv.mu.Lock()
		n := 0
		for id := range sent {
			if _, ok := rcv.first[id]; ok {
				n++
			}
		}
		rcv.mu.Unlock()
		if n == len(sent) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	lat := map[string][]time.Duration{}
	missing := 0
	for id, at := range sent {
		got, ok := rcv.first[id]
		if !ok {
			missing++
			continue
		}
		lat[kind[id]] = append(lat[kind[id]], got.Sub(at))
	}
	fmt.Printf("\nlatency, record in -> webhook received, %d background records/s, %d probes per path\n", rate, probes)
	fmt.Printf("%-6s %10s %10s %10s\n", "path", "p50", "p99", "max")
	for _, k := range []string{"file", "http"} {
		l := lat[k]
		slices.Sort(l)
		if len(l) == 0 {
			continue
		}
		q := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
		fmt.Printf("%-6s %10s %10s %10s\n", k, q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), l[len(l)-1].Round(time.Millisecond))
		if q(0.99) > time.Second {
			t.Errorf("%s p99 %s exceeds the 1 s goal", k, q(0.99))
		}
	}
	if missing > 0 {
		t.Errorf("%d probes never reached the webhook", missing)
	}
}
