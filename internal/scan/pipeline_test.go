package scan

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/logs"
	"breakglass/internal/simulate"
)

// Tests for the long-lived pipeline: concurrent calls share one pool and
// each gets exactly its own findings in order; small inputs start no
// goroutine; memory stays bounded on hostile input; skipped input that
// names an account reaches the per-record code marked MayConcern.

// genInput returns a simulated input and the accounts it uses.
func genInput(t testing.TB, seed int64, count int, shape string) []byte {
	return genShare(t, seed, count, shape, 0.05)
}

func genShare(t testing.TB, seed int64, count int, shape string, share float64) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &out, simulate.Options{
		Seed: seed, Count: count, Shape: shape, BGShare: share, Accounts: simulate.DemoAccounts(),
	}, nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// findingsOf scans in and returns the alert ids in emitted order.
func findingsOf(t testing.TB, s *Scanner, name string, in []byte) []string {
	var ids []string
	var st Stats
	err := s.Scan(context.Background(), name, bytes.NewReader(in), &st, func(f Finding) error {
		if !strings.HasPrefix(f.Alert.Source, name+":") {
			return fmt.Errorf("finding from %s in the scan of %s", f.Alert.Source, name)
		}
		ids = append(ids, f.Alert.ID)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	return ids
}

// TestConcurrentScans: many concurrent calls on one Scanner, small and
// large inputs mixed, each get exactly the findings a lone scan of their
// input gets, in the same order.
func TestConcurrentScans(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	type input struct {
		name string
		data []byte
		want []string
	}
	accounts := entra.NewAccountSet(simulate.DemoAccounts())
	ref := New(Options{Accounts: accounts, Workers: 1})
	defer ref.Close()
	var inputs []input
	for i := range 12 {
		shape := simulate.Shapes[rng.Intn(len(simulate.Shapes))]
		count := 1 + rng.Intn(20) // one batch or less: inline
		if i%3 == 0 {
			count = 3000 + rng.Intn(3000) // many batches: the pool
		}
		name := fmt.Sprintf("in%d-%s-%d", i, shape, count)
		data := genInput(t, rng.Int63(), count, shape)
		inputs = append(inputs, input{name, data, findingsOf(t, ref, name, data)})
	}
	if len(inputs[0].want) == 0 {
		t.Fatal("the large input raised no alerts")
	}
	s := New(Options{Accounts: accounts, Workers: 4})
	defer s.Close()
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 4 {
				in := inputs[(g*5+k)%len(inputs)]
				got := findingsOf(t, s, in.name, in.data)
				if !slices.Equal(got, in.want) {
					t.Errorf("%s: %d findings, want %d, or out of order", in.name, len(got), len(in.want))
				}
			}
		}()
	}
	wg.Wait()
}

// TestSmallScansStartNoGoroutines: 1,000 small scans cost no goroutine,
// before and after the pool has started; the pool is the same pool
// throughout, and Close stops it.
func TestSmallScansStartNoGoroutines(t *testing.T) {
	small, err := os.ReadFile(filepath.Join("..", "logs", "testdata", "graph-signin-single.json"))
	if err != nil {
		t.Fatal(err)
	}
	large := genInput(t, 2, 5000, "storage")
	base := runtime.NumGoroutine()
	s := New(Options{Accounts: testAccounts(), Workers: 3})
	// During a small scan, emit runs on the caller's goroutine and no
	// other goroutine exists for it.
	during := -1
	scanN := func(in []byte, n int) {
		for range n {
			var st Stats
			if err := s.Scan(context.Background(), "x", bytes.NewReader(in), &st, func(Finding) error {
				during = max(during, runtime.NumGoroutine())
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if st.Alerts == 0 && bytes.Equal(in, small) {
				t.Fatal("no alert: the test would prove nothing")
			}
		}
	}
	// A per-call pipeline would add Workers+1 goroutines; allow one for
	// the test runtime's own coming and going.
	scanN(small, 1000)
	if during > base+1 {
		t.Errorf("during small scans: up to %d goroutines, want %d", during, base)
	}
	if n := runtime.NumGoroutine(); n > base+1 {
		t.Errorf("after 1,000 small scans: %d goroutines, want %d", n, base)
	}
	scanN(large, 1)
	withPool := runtime.NumGoroutine()
	if withPool < base+2 || withPool > base+4 {
		t.Errorf("with the pool: %d goroutines, want %d", withPool, base+3)
	}
	during = -1
	scanN(small, 1000)
	if during > withPool+1 {
		t.Errorf("during small scans with the pool: up to %d goroutines, want %d", during, withPool)
	}
	scanN(large, 3)
	if n := runtime.NumGoroutine(); n > withPool+1 {
		t.Errorf("after more scans: %d goroutines, want %d (one pool for the Scanner's lifetime)", n, withPool)
	}
	s.Close()
	if n := runtime.NumGoroutine(); n > base+1 {
		t.Errorf("after Close: %d goroutines, want %d", n, base)
	}
	scanN(large, 1) // usable again after Close
	s.Close()
}

// TestSmallScanAllocs: a one-record body costs a bounded few allocations,
// not a pipeline.
func TestSmallScanAllocs(t *testing.T) {
	s := New(Options{Accounts: entra.NewAccountSet(simulate.DemoAccounts())})
	defer s.Close()
	body := genInput(t, 3, 1, "storage")
	var st Stats
	allocs := testing.AllocsPerRun(200, func() {
		st = Stats{}
		s.Scan(context.Background(), "body", bytes.NewReader(body), &st, func(Finding) error { return nil })
	})
	t.Logf("%d-byte body: %.0f allocations per scan", len(body), allocs)
	if allocs > 60 {
		t.Errorf("%.0f allocations per small scan, want at most 60", allocs)
	}
}

// TestScanEmitErrorAndCancel: an error from emit, or a cancelled context,
// stops a large scan promptly and leaves the Scanner usable.
func TestScanEmitErrorAndCancel(t *testing.T) {
	accounts := entra.NewAccountSet(simulate.DemoAccounts())
	large := genInput(t, 4, 20000, "mixed")
	s := New(Options{Accounts: accounts, Workers: 2})
	defer s.Close()
	stop := errors.New("stop")
	var st Stats
	n := 0
	err := s.Scan(context.Background(), "x", bytes.NewReader(large), &st, func(Finding) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("emit error: err %v after %d findings", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Scan(ctx, "x", bytes.NewReader(large), &st, func(Finding) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
	ref := New(Options{Accounts: accounts, Workers: 1})
	defer ref.Close()
	if got, want := findingsOf(t, s, "x", large), findingsOf(t, ref, "x", large); !slices.Equal(got, want) {
		t.Errorf("after a stopped scan: %d findings, want %d", len(got), len(want))
	}
}

// TestTooLargeRecordMayConcern: a record over the size limit that names an
// account reaches the per-record code as a RecordError with MayConcern set
// (record.go turns it into bg.unparsed), and one naming nobody does not.
func TestTooLargeRecordMayConcern(t *testing.T) {
	pad := strings.Repeat("x", 300<<10)
	rec := func(id string) string {
		return `{"category":"SignInLogs","properties":{"userId":"` + pad[:1000] + `","pad":"` + pad + id + pad + `"}}` + "\n"
	}
	for _, tt := range []struct {
		name, id string
		want     bool
	}{{"names an account", strings.ToUpper(bg1), true}, {"names nobody", "00000000-1111-2222-3333-444444444444", false}} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Accounts: testAccounts(), MaxRecord: 64 << 10})
			defer s.Close()
			sp, err := logs.NewSplitter(strings.NewReader(`{"id":"before"}` + "\n" + rec(tt.id) + `{"id":"after"}` + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			sp.SetMaxRecord(s.opts.MaxRecord)
			sp.SetMatcher(s.pre.Match, s.overlap)
			var errs []*logs.RecordError
			records := 0
			s.produce(context.Background(), sp, func(b *batch, last bool) bool {
				for _, it := range b.items {
					if it.rerr != nil {
						errs = append(errs, it.rerr)
					} else {
						records++
					}
				}
				return true
			})
			if records != 2 || len(errs) != 1 || errs[0].Reason != logs.ReasonTooLarge {
				t.Fatalf("%d records, errors %v", records, errs)
			}
			if errs[0].MayConcern != tt.want || len(errs[0].Head) == 0 || len(errs[0].Head) > logs.MaxHead {
				t.Errorf("MayConcern %v (want %v), Head %d bytes", errs[0].MayConcern, tt.want, len(errs[0].Head))
			}
			// And through Scan: the skip is reported with its place.
			var problems []Problem
			s.opts.Problem = func(p Problem) { problems = append(problems, p) }
			var st Stats
			s.Scan(context.Background(), "in", strings.NewReader(rec(tt.id)), &st, func(Finding) error { return nil })
			if st.Skipped[logs.ReasonTooLarge] != 1 || len(problems) != 1 || problems[0].Source != "in:1" {
				t.Errorf("skipped %v, problems %v", st.Skipped, problems)
			}
		})
	}
}

// Memory: hostile inputs through Scan in a child process (this test
// binary, re-executed) that reports its peak RSS.

const scanChildEnv = "BREAKGLASS_SCAN_CHILD"

type repeatReader struct {
	pat []byte
	n   int64
	i   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n))
	for j := range k {
		p[j] = r.pat[r.i]
		r.i = (r.i + 1) % len(r.pat)
	}
	r.n -= int64(k)
	return k, nil
}

func vmHWM() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// TestScanMemoryHostile: 256 MiB of '[', and a flood of a million junk
// lines, stay under 100 MiB of peak RSS through Scan.
func TestScanMemoryHostile(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("without -race or -short: it streams 256 MiB")
	}
	if c := os.Getenv(scanChildEnv); c != "" {
		var r io.Reader
		switch c {
		case "brackets":
			r = &repeatReader{pat: []byte("["), n: 256 << 20}
		case "junk":
			r = &repeatReader{pat: []byte("x\n"), n: 2 << 20}
		default:
			return
		}
		s := New(Options{Accounts: testAccounts()})
		var st Stats
		err := s.Scan(context.Background(), c, r, &st, func(Finding) error { return nil })
		fmt.Printf("CHILD %d %v err=%v\n", vmHWM(), nonZero(st.Skipped), err)
		return
	}
	if vmHWM() < 0 {
		t.Skip("no /proc/self/status VmHWM")
	}
	const bound = 100 << 20
	for _, c := range []struct{ name, want string }{
		{"brackets", "too_deep:1"},
		{"junk", "invalid_json:1048576"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestScanMemoryHostile$", "-test.v")
		cmd.Env = append(os.Environ(), scanChildEnv+"="+c.name)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, out)
		}
		var rss int64
		var got string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "CHILD" {
				rss, _ = strconv.ParseInt(f[1], 10, 64)
				got = strings.Join(f[2:], " ")
			}
		}
		t.Logf("%s: peak RSS %d MiB; %s", c.name, rss>>20, got)
		if rss <= 0 || rss > bound {
			t.Errorf("%s: peak RSS %d MiB, want under %d MiB", c.name, rss>>20, bound>>20)
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: child saw %q, want %q", c.name, got, c.want)
		}
	}
}

// TestLargeScanReusesBatches: a warm Scanner scans a large input without
// allocating batches afresh: out-of-order batches waiting to be handed out
// count against the call's bound, so the circulating set is reused.
func TestLargeScanReusesBatches(t *testing.T) {
	for _, shape := range []string{"storage", "eventhub"} { // records; one-line payloads up to ~700 KB
		in := genShare(t, 5, 20000, shape, -1) // decoding would dominate
		s := New(Options{Accounts: entra.NewAccountSet(simulate.DemoAccounts()), Workers: 2})
		scan := func() {
			var st Stats
			if err := s.Scan(context.Background(), "x", bytes.NewReader(in), &st, func(Finding) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		scan()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		scan()
		runtime.ReadMemStats(&after)
		s.Close()
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s, %d MB: %d KB allocated by a warm scan", shape, len(in)>>20, alloc>>10)
		if alloc > uint64(len(in))/10 {
			t.Errorf("%s: a warm scan of %d bytes allocated %d bytes: batches are not reused", shape, len(in), alloc)
		}
	}
}

// TestMaxInput: the bound on an input's decompressed size, from Options or
// per call from the context, ends the scan with logs.ErrInputTooLarge after
// the records before it; a gzip bomb is cut off there.
func TestMaxInput(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(genShare(t, 6, 2000, "storage", -1))
	zw.Close()
	for _, tt := range []struct {
		name string
		opt  int64
		ctx  int64 // 0: not set
		cut  bool
	}{
		{"unbounded", 0, 0, false},
		{"option", 1 << 20, 0, true},
		{"context", 0, 1 << 20, true},
		{"context lifts the option", 1 << 20, -1, false},
	} {
		s := New(Options{Accounts: testAccounts(), MaxInput: tt.opt})
		ctx := context.Background()
		if tt.ctx != 0 {
			ctx = WithMaxInput(ctx, tt.ctx)
		}
		var st Stats
		err := s.Scan(ctx, "body", bytes.NewReader(gz.Bytes()), &st, func(Finding) error { return nil })
		s.Close()
		if tt.cut {
			if !errors.Is(err, logs.ErrInputTooLarge) || !strings.Contains(err.Error(), "1048576") {
				t.Errorf("%s: err %v, want ErrInputTooLarge naming 1048576", tt.name, err)
			}
			if n := st.TotalRecords(); n == 0 || n >= 2000 {
				t.Errorf("%s: %d records before the cut", tt.name, n)
			}
		} else if err != nil || st.TotalRecords() != 2000 {
			t.Errorf("%s: err %v, %d records", tt.name, err, st.TotalRecords())
		}
	}
}

// TestHugeInputDoesNotStarve: while a huge input keeps the pool busy, a
// medium input (a few batches, through the pool) and small ones (inline)
// finish long before it.
func TestHugeInputDoesNotStarve(t *testing.T) {
	// Nearly every record names an account: decoded, so slow to scan.
	huge := genShare(t, 7, 20000, "storage", 0.9)
	medium := genShare(t, 8, 600, "storage", -1)
	small, _ := os.ReadFile(filepath.Join("..", "logs", "testdata", "graph-signin-single.json"))
	s := New(Options{Accounts: entra.NewAccountSet(simulate.DemoAccounts()), Workers: 2})
	defer s.Close()
	hugeDone := make(chan time.Time, 1)
	busy := make(chan struct{})
	go func() {
		var st Stats
		var once sync.Once
		s.Scan(context.Background(), "huge", bytes.NewReader(huge), &st, func(Finding) error {
			once.Do(func() { close(busy) }) // the pool is at work on it
			return nil
		})
		hugeDone <- time.Now()
	}()
	<-busy
	var st Stats
	t0 := time.Now()
	if err := s.Scan(context.Background(), "medium", bytes.NewReader(medium), &st, func(Finding) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		s.Scan(context.Background(), "small", bytes.NewReader(small), &st, func(Finding) error { return nil })
	}
	done := time.Now()
	end := <-hugeDone
	t.Logf("medium and 20 small scans: %v; the huge scan ended %v after them", done.Sub(t0), end.Sub(done))
	if !done.Before(end) {
		t.Errorf("the medium and small scans finished after the huge one: starved")
	}
}
