// Command pushbench measures the daemon under many small HTTP pushes, the
// load a Logic App or Event Grid forwarder puts on it: it starts `breakglass
// serve` from each --binary with an http source on loopback, POSTs N
// single-record bodies from C concurrent clients (most naming nobody, some a
// break-glass account), and prints one row per binary: throughput, latency
// of POST to 202 (which the daemon answers only once alerts are stored),
// and the daemon's peak RSS (VmHWM). It is not part of the product; `make
// bench` runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"breakglass/internal/simulate"
)

type binaries []string

func (b *binaries) String() string     { return strings.Join(*b, ",") }
func (b *binaries) Set(s string) error { *b = append(*b, s); return nil }

func main() {
	var bins binaries
	flag.Var(&bins, "binary", "breakglass binary to measure (repeatable)")
	n := flag.Int("n", 10000, "pushes")
	c := flag.Int("c", 8, "concurrent clients")
	share := flag.Float64("bg-share", 0.01, "fraction of records naming a break-glass account")
	flag.Parse()
	if len(bins) == 0 || *n <= 0 || *c <= 0 {
		fmt.Fprintln(os.Stderr, "usage: pushbench --binary PATH [--binary PATH...] [-n 10000] [-c 8]")
		os.Exit(2)
	}
	bodies, err := records(*n, *share)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushbench:", err)
		os.Exit(1)
	}
	fmt.Printf("\n%-28s %7s %10s %9s %9s %9s %9s %7s %6s\n", "binary", "pushes", "pushes/s", "p50", "p99", "max", "peak RSS", "alerts", "errors")
	failed := false
	for _, b := range bins {
		r, err := run(b, bodies, *c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pushbench: %s: %v\n", b, err)
			failed = true
			continue
		}
		fmt.Printf("%-28s %7d %10.0f %9s %9s %9s %7dMi %7s %6d\n", label(b), len(bodies), r.rate,
			round(r.p50), round(r.p99), round(r.max), r.rss>>20, r.alerts, r.errors)
	}
	fmt.Printf("\n%d single-record pushes, %d clients, %.1f%% naming an account, %d CPUs\n", *n, *c, 100**share, runtimeCPUs())
	if failed {
		os.Exit(1)
	}
}

func label(path string) string {
	if len(path) > 28 {
		return "…" + path[len(path)-27:]
	}
	return path
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func runtimeCPUs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\nprocessor")) + 1
}

// records returns n storage-shaped records, one per body.
func records(n int, share float64) ([][]byte, error) {
	var buf bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &buf, simulate.Options{
		Seed: 11, Count: n, Shape: simulate.ShapeStorage, BGShare: share, Accounts: simulate.DemoAccounts(),
	}, nil); err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	var out [][]byte
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("generated %d records, want %d", len(out), n)
	}
	return out, nil
}

type result struct {
	rate          float64
	p50, p99, max time.Duration
	rss           int64
	alerts        string // from the daemon's metrics: both binaries must do the same work
	errors        int
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func run(binary string, bodies [][]byte, clients int) (result, error) {
	dir, err := os.MkdirTemp("", "pushbench")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	listen, err := freeAddr()
	if err != nil {
		return result{}, err
	}
	ingest, err := freeAddr()
	if err != nil {
		return result{}, err
	}
	var acc strings.Builder
	for _, a := range simulate.DemoAccounts() {
		fmt.Fprintf(&acc, "  - id: %s\n    upn: %s\n", a.ID, a.UPN)
	}
	cfg := fmt.Sprintf(`accounts:
%sstore:
  path: %s
server:
  listen: %s
sources:
  - type: http
    name: push
    listen: %s
    token: ${PUSHBENCH_TOKEN}
notify:
  groups:
    - name: console
      channels:
        - type: console
log:
  level: error
`, acc.String(), filepath.Join(dir, "bg.db"), listen, ingest)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return result{}, err
	}
	const token = "pushbench-token"
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "PUSHBENCH_TOKEN="+token)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr // console alerts go nowhere
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	if err := waitReady("http://"+listen+"/readyz", 15*time.Second); err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	url := "http://" + ingest + "/ingest"
	lat := make([]time.Duration, len(bodies))
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rss, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	if e, ok := firstErr.Load().(error); ok && int(errs.Load()) == len(bodies) {
		return result{}, fmt.Errorf("every push failed, first: %w", e)
	}
	alerts := metricSum("http://"+listen+"/metrics", "breakglass_alerts_total")
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return result{
		rate: float64(len(bodies)) / elapsed.Seconds(),
		p50:  q(0.50), p99: q(0.99), max: lat[len(lat)-1],
		rss: rss, alerts: alerts, errors: int(errs.Load()),
	}, nil
}

func waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("daemon not ready in " + timeout.String())
}

// vmHWM reads a process's peak resident set size.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}

// metricSum adds up every series of a counter on a Prometheus text page.
func metricSum(url, name string) string {
	resp, err := http.Get(url)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return "?"
	}
	return strconv.FormatFloat(sum, 'f', -1, 64)
}
