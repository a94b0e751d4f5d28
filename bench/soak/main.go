// Command soak runs `breakglass serve` for a long time under steady load and
// checks that it stays healthy: background records that concern nobody
// arrive at --rate records/s, half appended to a followed file (rotated by
// rename every minute, as log shippers do) and half POSTed in batches to an
// http source, while a break-glass sign-in is injected every --probe-every,
// alternately through each path. Every --sample it records the daemon's RSS,
// goroutines, open files and outbox depth, and the record-to-webhook latency
// of the probes of that interval. At the end it waits for the outbox to
// drain and fails when a probe's alert never arrived, when one arrived
// twice, or when RSS, goroutines or open files grew beyond the bounds
// between the end of the warm-up and the end of the run.
//
// It is not part of `make test`; `make soak` runs it (SOAK_DURATION, default
// 1h). The figures it prints are what the operations guide quotes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/simulate"
)

func main() {
	o := options{}
	flag.StringVar(&o.binary, "binary", "bin/breakglass", "breakglass binary to run")
	flag.DurationVar(&o.duration, "duration", time.Hour, "how long to load the daemon")
	flag.IntVar(&o.rate, "rate", 10000, "background records per second (half file, half HTTP)")
	flag.DurationVar(&o.probeEvery, "probe-every", time.Second, "how often a break-glass sign-in is injected")
	flag.DurationVar(&o.sample, "sample", time.Minute, "how often resources and latency are recorded")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Minute, "growth is measured from the first sample after this")
	flag.Int64Var(&o.maxRSSGrowth, "max-rss-growth-mib", 64, "largest RSS growth allowed after the warm-up, MiB")
	flag.IntVar(&o.maxGoroutineGrowth, "max-goroutine-growth", 50, "largest goroutine growth allowed after the warm-up")
	flag.IntVar(&o.maxFDGrowth, "max-fd-growth", 16, "largest open-file growth allowed after the warm-up")
	flag.DurationVar(&o.maxP99, "max-p99", 5*time.Second, "largest record-to-webhook p99 allowed in any interval")
	flag.StringVar(&o.report, "report", "", "also write the samples and the verdict as JSON to this file")
	flag.StringVar(&o.dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	flag.Parse()
	if o.duration <= 0 || o.rate < 0 || o.probeEvery <= 0 || o.sample <= 0 {
		fmt.Fprintln(os.Stderr, "usage: soak [--binary bin/breakglass] [--duration 1h] [--rate 10000] [--sample 1m]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, os.Stdout)
	if o.report != "" && rep != nil {
		if b, jerr := json.MarshalIndent(rep, "", "  "); jerr == nil {
			if werr := os.WriteFile(o.report, append(b, '\n'), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "soak:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("soak: PASS")
}

type options struct {
	binary             string
	duration           time.Duration
	rate               int
	probeEvery         time.Duration
	sample             time.Duration
	warmup             time.Duration
	maxRSSGrowth       int64
	maxGoroutineGrowth int
	maxFDGrowth        int
	maxP99             time.Duration
	report             string
	dir                string
}

// sample is one row of the soak's record.
type sample struct {
	At         time.Duration `json:"at"` // since the load started
	RSS        int64         `json:"rss_bytes"`
	Goroutines int           `json:"goroutines"`
	OpenFiles  int           `json:"open_files"`
	Outbox     int           `json:"outbox_depth"`
	Records    int64         `json:"records_sent"`   // background records sent so far
	Read       float64       `json:"records_read"`   // the daemon's breakglass_records_read_total
	Probes     int           `json:"probes"`         // probes whose alert arrived in this interval
	P50        time.Duration `json:"latency_p50_ns"` // record-to-webhook, this interval
	P99        time.Duration `json:"latency_p99_ns"`
	Max        time.Duration `json:"latency_max_ns"`
}

// report is everything a run measured, and its verdict.
type report struct {
	Duration   time.Duration `json:"duration_ns"`
	Rate       int           `json:"rate"`
	Achieved   float64       `json:"achieved_rate"` // background records sent per second
	Samples    []sample      `json:"samples"`
	Expected   int           `json:"alerts_expected"`
	Delivered  int           `json:"alerts_delivered"`
	Duplicates int           `json:"alerts_duplicated"`
	Failures   []string      `json:"failures"`
}

func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "breakglass-soak")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	accounts := simulate.DemoAccounts()
	bg, err := background(accounts)
	if err != nil {
		return nil, err
	}
	rcv := newReceiver()
	defer rcv.close()
	d, err := startDaemon(dir, o.binary, accounts, rcv.url)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	fmt.Fprintf(out, "soak: %s for %s at %d records/s (half file, half HTTP), a probe every %s, pid %d\n",
		o.binary, o.duration, o.rate, o.probeEvery, d.cmd.Process.Pid)

	ld := &loader{d: d, bg: bg, accounts: accounts, rcv: rcv}
	if err := ld.openFile(); err != nil {
		return nil, err
	}
	defer ld.file.Close()
	rep := &report{Rate: o.rate}
	lctx, stopLoad := context.WithTimeout(ctx, o.duration)
	defer stopLoad()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { ld.background(lctx, o.rate) })
	wg.Go(func() { ld.probes(lctx, o.probeEvery) })

	fmt.Fprintf(out, "%8s %9s %6s %5s %6s %10s %8s %8s %8s %8s\n",
		"at", "RSS", "gorout", "fds", "outbox", "rec/s", "probes", "p50", "p99", "max")
	tick := time.NewTicker(o.sample)
	defer tick.Stop()
	var lastRecords int64
	lastAt := time.Duration(0)
sampling:
	for {
		select {
		case <-lctx.Done():
			break sampling
		case <-tick.C:
		}
		s, err := d.measure()
		if err != nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("at %s: %v", time.Since(start).Round(time.Second), err))
			break sampling
		}
		s.At = time.Since(start)
		s.Records = ld.sent.Load()
		lat := rcv.takeLatencies()
		s.Probes = len(lat)
		s.P50, s.P99, s.Max = quantiles(lat)
		rate := float64(s.Records-lastRecords) / (s.At - lastAt).Seconds()
		lastRecords, lastAt = s.Records, s.At
		rep.Samples = append(rep.Samples, s)
		fmt.Fprintf(out, "%8s %7dMi %6d %5d %6d %10.0f %8d %8s %8s %8s\n", s.At.Round(time.Second), s.RSS>>20,
			s.Goroutines, s.OpenFiles, s.Outbox, rate, s.Probes, roundLat(s.P50), roundLat(s.P99), roundLat(s.Max))
	}
	stopLoad()
	wg.Wait()
	rep.Duration = time.Since(start)
	rep.Achieved = float64(ld.sent.Load()) / rep.Duration.Seconds()
	if ctx.Err() != nil {
		rep.Failures = append(rep.Failures, "interrupted")
	}

	// Every probe's alert must arrive: give the outbox time to drain.
	want := ld.expected()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && rcv.delivered(want) < len(want) {
		time.Sleep(100 * time.Millisecond)
	}
	rep.Expected, rep.Delivered, rep.Duplicates = len(want), rcv.delivered(want), rcv.duplicates()
	if late := rcv.takeLatencies(); len(late) > 0 && len(rep.Samples) > 0 {
		last := &rep.Samples[len(rep.Samples)-1]
		last.Probes += len(late)
	}
	rep.Failures = append(rep.Failures, verdict(o, rep)...)
	fmt.Fprintf(out, "\n%s at %d records/s asked, %.0f records/s sent; alerts expected %d, delivered %d, duplicated %d\n",
		rep.Duration.Round(time.Second), o.rate, rep.Achieved, rep.Expected, rep.Delivered, rep.Duplicates)
	if n := len(rep.Samples); n > 0 {
		first, last := rep.Samples[0], rep.Samples[n-1]
		fmt.Fprintf(out, "RSS %dMi → %dMi; goroutines %d → %d; open files %d → %d; p99 %s → %s\n",
			first.RSS>>20, last.RSS>>20, first.Goroutines, last.Goroutines, first.OpenFiles, last.OpenFiles,
			roundLat(first.P99), roundLat(last.P99))
	}
	if len(rep.Failures) > 0 {
		return rep, errors.New(strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// verdict lists what the run breaks of the bounds.
func verdict(o options, r *report) []string {
	var f []string
	if r.Delivered < r.Expected {
		f = append(f, fmt.Sprintf("%d of %d alerts never reached the webhook", r.Expected-r.Delivered, r.Expected))
	}
	if r.Duplicates > 0 {
		f = append(f, fmt.Sprintf("%d alerts reached the webhook more than once", r.Duplicates))
	}
	if r.Expected == 0 {
		f = append(f, "no probe was sent: nothing was measured")
	}
	if o.rate > 0 && r.Achieved < 0.9*float64(o.rate) {
		f = append(f, fmt.Sprintf("the load reached only %.0f of %d records/s: the daemon (or this machine) could not keep up", r.Achieved, o.rate))
	}
	// Growth is measured from the first sample after the warm-up (caches,
	// pools and the page cache fill first) to the last.
	var base *sample
	for i := range r.Samples {
		if r.Samples[i].At >= o.warmup {
			base = &r.Samples[i]
			break
		}
	}
	if base == nil && len(r.Samples) > 0 {
		base = &r.Samples[0]
	}
	if base != nil {
		last := r.Samples[len(r.Samples)-1]
		if g := (last.RSS - base.RSS) >> 20; g > o.maxRSSGrowth {
			f = append(f, fmt.Sprintf("RSS grew %d MiB after the warm-up (%d → %d MiB), bound %d", g, base.RSS>>20, last.RSS>>20, o.maxRSSGrowth))
		}
		if g := last.Goroutines - base.Goroutines; g > o.maxGoroutineGrowth {
			f = append(f, fmt.Sprintf("goroutines grew by %d after the warm-up (%d → %d), bound %d", g, base.Goroutines, last.Goroutines, o.maxGoroutineGrowth))
		}
		if g := last.OpenFiles - base.OpenFiles; g > o.maxFDGrowth {
			f = append(f, fmt.Sprintf("open files grew by %d after the warm-up (%d → %d), bound %d", g, base.OpenFiles, last.OpenFiles, o.maxFDGrowth))
		}
	}
	for _, s := range r.Samples {
		if s.P99 > o.maxP99 {
			f = append(f, fmt.Sprintf("at %s the interval's p99 was %s, bound %s", s.At.Round(time.Second), roundLat(s.P99), o.maxP99))
		}
	}
	return f
}

func quantiles(l []time.Duration) (p50, p99, max time.Duration) {
	if len(l) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l)
	q := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
	return q(0.50), q(0.99), l[len(l)-1]
}

func roundLat(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

// background returns a pool of records that concern no break-glass
// account, one line each, cycled by the loader: the daemon reads every one
// of them, and none may alert.
func background(accounts []entra.Account) ([][]byte, error) {
	var buf bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &buf, simulate.Options{
		Seed: 17, Count: 100_000, Shape: simulate.ShapeStorage, BGShare: -1, Accounts: accounts,
	}, nil); err != nil {
		return nil, err
	}
	var out [][]byte
	for l := range bytes.Lines(buf.Bytes()) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// probe is a break-glass sign-in with a fresh id, and the alert it must
// raise.
func probe(n int, path string, a entra.Account) (alertID string, rec []byte) {
	id := fmt.Sprintf("50a40000-0000-4000-8000-%012d", n)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	rec = fmt.Appendf(nil, `{"time":"%[1]s","resourceId":"/tenants/x/providers/Microsoft.aadiam","operationName":"Sign-in activity","category":"SignInLogs","resultType":"0","properties":{"id":"%[2]s","createdDateTime":"%[1]s","userId":"%[3]s","userPrincipalName":"%[4]s","appDisplayName":"Azure Portal","ipAddress":"198.51.100.9","status":{"errorCode":0},"isInteractive":true,"note":"soak %[5]s"}}`+"\n",
		now, id, a.ID, a.UPN, path)
	return alert.Key(id, "bg.signin"), rec
}

// loader feeds the daemon.
type loader struct {
	d        *daemonProc
	bg       [][]byte
	accounts []entra.Account
	rcv      *receiver

	fmu     sync.Mutex
	file    *os.File
	rotated int

	sent atomic.Int64

	pmu  sync.Mutex
	want map[string]bool
}

func (l *loader) openFile() error {
	f, err := os.OpenFile(filepath.Join(l.d.logs, "PT1H.json"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	l.file = f
	return nil
}

// rotate renames the followed file out of the glob and starts a new one,
// deleting the file rotated before, so a long soak needs little disk.
func (l *loader) rotate() error {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	cur := filepath.Join(l.d.logs, "PT1H.json")
	old := filepath.Join(l.d.logs, "PT1H.json.1")
	os.Remove(old)
	if err := os.Rename(cur, old); err != nil {
		return err
	}
	l.file.Close()
	l.rotated++
	return l.openFile()
}

func (l *loader) write(b []byte) error {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	_, err := l.file.Write(b)
	return err
}

// background sends rate records/s in 10 ms steps, alternating the file and
// an HTTP batch, and rotates the file every minute.
func (l *loader) background(ctx context.Context, rate int) {
	if rate == 0 {
		return
	}
	const step = 10 * time.Millisecond
	per := max(1, rate/100)
	tick := time.NewTicker(step)
	defer tick.Stop()
	rot := time.NewTicker(time.Minute)
	defer rot.Stop()
	posts := make(chan []byte, 64)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for body := range posts {
				if err := l.d.post(ctx, body); err == nil {
					l.sent.Add(int64(bytes.Count(body, []byte("\n"))))
				}
			}
		})
	}
	defer func() { close(posts); wg.Wait() }()
	i := 0
	half := per / 2
	var chunk bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return
		case <-rot.C:
			if err := l.rotate(); err != nil {
				fmt.Fprintln(os.Stderr, "soak: rotate:", err)
			}
			continue
		case <-tick.C:
		}
		chunk.Reset()
		for range half {
			chunk.Write(l.bg[i%len(l.bg)])
			i++
		}
		if err := l.write(chunk.Bytes()); err == nil {
			l.sent.Add(int64(half))
		}
		body := make([]byte, 0, (per-half)*1200)
		for range per - half {
			body = append(body, l.bg[i%len(l.bg)]...)
			i++
		}
		select {
		case posts <- body:
		default: // the daemon is behind: the shortfall shows as a lower achieved rate
		}
	}
}

// probes injects one break-glass sign-in every `every`, alternately through
// the file and HTTP, and records when each was written.
func (l *loader) probes(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		path := []string{"file", "http"}[n%2]
		id, rec := probe(n, path, l.accounts[n%len(l.accounts)])
		l.rcv.expect(id, time.Now())
		var err error
		if path == "file" {
			err = l.write(rec)
		} else {
			err = l.d.post(ctx, rec)
		}
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "soak: probe %d via %s: %v\n", n, path, err)
		}
		if err == nil || ctx.Err() == nil {
			l.pmu.Lock()
			if l.want == nil {
				l.want = map[string]bool{}
			}
			l.want[id] = true
			l.pmu.Unlock()
		}
	}
}

func (l *loader) expected() map[string]bool {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	return maps.Clone(l.want)
}

// receiver is the webhook: it records the first arrival of every firing
// alert and how often each arrived.
type receiver struct {
	srv  *http.Server
	ln   net.Listener
	url  string
	mu   sync.Mutex
	sent map[string]time.Time
	seen map[string]int
	lat  []time.Duration
}

func newReceiver() *receiver {
	r := &receiver{sent: map[string]time.Time{}, seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	r.ln, r.url = ln, "http://"+ln.Addr().String()+"/hook"
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r
}

func (r *receiver) close() { r.srv.Close() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	var body struct {
		AlertID string `json:"alert_id"`
		Status  string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&body); err != nil || body.AlertID == "" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	now := time.Now()
	r.mu.Lock()
	if body.Status == "firing" {
		if r.seen[body.AlertID] == 0 {
			if at, ok := r.sent[body.AlertID]; ok {
				r.lat = append(r.lat, now.Sub(at))
			}
		}
		r.seen[body.AlertID]++
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) expect(id string, at time.Time) {
	r.mu.Lock()
	r.sent[id] = at
	r.mu.Unlock()
}

func (r *receiver) takeLatencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lat
	r.lat = nil
	return l
}

func (r *receiver) delivered(want map[string]bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id := range want {
		if r.seen[id] > 0 {
			n++
		}
	}
	return n
}

func (r *receiver) duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.seen {
		if c > 1 {
			n++
		}
	}
	return n
}

// daemonProc is the serve process under test.
type daemonProc struct {
	cmd            *exec.Cmd
	dir, logs      string
	listen, ingest string
	token          string
	stderr         *tail
	client         *http.Client
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startDaemon(dir, binary string, accounts []entra.Account, hook string) (*daemonProc, error) {
	d := &daemonProc{dir: dir, logs: filepath.Join(dir, "logs"), token: "soak-token",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: time.Minute}}
	if err := os.MkdirAll(d.logs, 0o755); err != nil {
		return nil, err
	}
	var err error
	if d.listen, err = freeAddr(); err != nil {
		return nil, err
	}
	if d.ingest, err = freeAddr(); err != nil {
		return nil, err
	}
	var acc strings.Builder
	for _, a := range accounts {
		fmt.Fprintf(&acc, "  - id: %s\n    upn: %s\n", a.ID, a.UPN)
	}
	cfg := fmt.Sprintf(`accounts:
%sstore:
  path: %s
server:
  listen: %s
sources:
  - type: file
    name: files
    path: %s
  - type: http
    name: push
    listen: %s
    token: ${SOAK_TOKEN}
notify:
  groups:
    - name: hook
      channels:
        - type: webhook
          url: %s
          schema: breakglass
          timeout: 5s
log:
  level: warn
`, acc.String(), filepath.Join(dir, "bg.db"), d.listen, filepath.Join(d.logs, "*.json"), d.ingest, hook)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	d.cmd = exec.Command(binary, "serve", "--config", path)
	d.cmd.Env = append(os.Environ(), "SOAK_TOKEN="+d.token)
	d.stderr = &tail{}
	d.cmd.Stdout, d.cmd.Stderr = d.stderr, d.stderr
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + d.listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop()
	return nil, fmt.Errorf("daemon not ready in 30s:\n%s", d.stderr.String())
}

func (d *daemonProc) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

// post pushes a body until the daemon acknowledges it with 202 (it answers
// only once the alerts are stored), retrying what it answers 503.
func (d *daemonProc) post(ctx context.Context, body []byte) error {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.ingest+"/ingest", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+d.token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := d.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return nil
			}
			if resp.StatusCode < 500 {
				return fmt.Errorf("ingest: %s", resp.Status)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ctx.Err()
}

// measure reads the daemon's resources from /proc and its metrics.
func (d *daemonProc) measure() (sample, error) {
	var s sample
	pid := d.cmd.Process.Pid
	if d.cmd.ProcessState != nil {
		return s, fmt.Errorf("the daemon exited: %s\n%s", d.cmd.ProcessState, d.stderr.String())
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s, fmt.Errorf("the daemon is gone: %w\n%s", err, d.stderr.String())
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			s.RSS = kb << 10
		}
	}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return s, err
	}
	s.OpenFiles = len(fds)
	m, err := d.metrics()
	if err != nil {
		return s, err
	}
	s.Goroutines = int(m["go_goroutines"])
	s.Outbox = int(m["breakglass_outbox_depth"])
	s.Read = m["breakglass_records_read_total"]
	return s, nil
}

// metrics sums each series of the daemon's /metrics by name.
func (d *daemonProc) metrics() (map[string]float64, error) {
	resp, err := http.Get("http://" + d.listen + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[0], "{")
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// tail keeps the last 64 KiB of the daemon's output, for failure messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if n := len(t.buf); n > 64<<10 {
		t.buf = append(t.buf[:0:0], t.buf[n-64<<10:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
