package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/notify/notifytest"
	"breakglass/internal/simulate"
)

// TestNotifyLatencyBench measures, per channel type, the time from a
// break-glass record's arrival (appended to a followed file, or POSTed) to
// its notification reaching that channel's loopback receiver, with a
// channel of every type configured and 10,000 records/s that concern no
// break-glass account arriving in the background. It prints p50, p99 and
// max per channel and path. It runs only with BREAKGLASS_BENCH_LATENCY=1
// (make bench).
//
// Per-recipient rate limits would coalesce 100 SMS to one number into a
// few: the configuration switches them off (rateLimitsOff) where the build
// has them.
func TestNotifyLatencyBench(t *testing.T) {
	if os.Getenv("BREAKGLASS_BENCH_LATENCY") == "" {
		t.Skip("set BREAKGLASS_BENCH_LATENCY=1 (make bench)")
	}
	const (
		rate    = 10000 // background records per second
		probes  = 100   // per path
		every   = 100 * time.Millisecond
		seconds = 2*probes*int(every/time.Millisecond)/1000 + 5
		goal    = time.Second
	)
	accounts := simulate.DemoAccounts()
	var bg bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &bg, simulate.Options{
		Seed: 5, Count: rate * seconds, Shape: simulate.ShapeStorage, BGShare: -1, Accounts: accounts,
	}, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(bg.String(), "\n")

	rs := newReceivers(t)
	d := newNotifyDaemon(t, rs, accounts)
	srv := startNotify(t, d, rs)
	defer func() {
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}()
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

	var sent []probe
	at := map[string]time.Time{}
	path := map[string]string{}
	for i := range 2 * probes {
		time.Sleep(every)
		via := []string{"file", "http"}[i%2]
		p := newProbe(i, accounts[0], via)
		sent = append(sent, p)
		at[p.alertID], path[p.alertID] = time.Now(), via
		if via == "file" {
			fmu.Lock()
			f.Write(p.record)
			fmu.Unlock()
		} else if err := d.post(ctx, p.record); err != nil {
			t.Fatal(err)
		}
	}
	match := matcher(sent)
	tallies := func() map[string]map[string]*notifytest.Tally {
		out := map[string]map[string]*notifytest.Tally{}
		for _, name := range channelNames {
			out[name] = notifytest.Count(rs.requests(t, name), match)
		}
		return out
	}
	complete := func() bool {
		for _, tl := range tallies() {
			for _, p := range sent {
				if c := tl[p.alertID]; c == nil || c.First.IsZero() {
					return false
				}
			}
		}
		return true
	}
	pollUntil(context.Background(), 20*time.Second, complete)
	cancel()

	fmt.Printf("\nlatency, record in -> channel's loopback receiver, %d background records/s, %d probes per path, every channel type configured\n", rate, probes)
	fmt.Printf("%-15s %9s %9s %9s   %9s %9s %9s\n", "channel", "http p50", "p99", "max", "file p50", "p99", "max")
	all := tallies()
	for _, name := range channelNames {
		lat := map[string][]time.Duration{}
		missing := 0
		for _, p := range sent {
			c := all[name][p.alertID]
			if c == nil || c.First.IsZero() {
				missing++
				continue
			}
			lat[path[p.alertID]] = append(lat[path[p.alertID]], c.First.Sub(at[p.alertID]))
		}
		row := fmt.Sprintf("%-15s", name)
		for _, via := range []string{"http", "file"} {
			l := lat[via]
			slices.Sort(l)
			if len(l) == 0 {
				row += fmt.Sprintf(" %9s %9s %9s  ", "-", "-", "-")
				continue
			}
			// Nearest rank: of 100 samples, p99 is the 99th.
			q := func(p float64) time.Duration { return l[max(0, int(math.Ceil(p*float64(len(l))))-1)] }
			row += fmt.Sprintf(" %9s %9s %9s  ", q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), l[len(l)-1].Round(time.Millisecond))
			if q(0.99) > goal {
				t.Errorf("%s via %s: p99 %s exceeds the %s goal", name, via, q(0.99), goal)
			}
		}
		fmt.Println(strings.TrimRight(row, " "))
		if missing > 0 {
			t.Errorf("%s: %d of %d probes never arrived", name, missing, len(sent))
		}
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", srv.stderr)
	}
}
