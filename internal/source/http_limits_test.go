package source

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// repeatReader yields b over and over, so that a test can send a large
// body without holding it in memory.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

// gzipBomb returns a multi-member gzip stream that unpacks to size bytes
// of '[' (the splitter's worst case), built from one compressed member.
func gzipBomb(t testing.TB, size int64) []byte {
	t.Helper()
	const member = 16 << 20
	var one bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&one, gzip.BestCompression)
	chunk := bytes.Repeat([]byte("["), 1<<20)
	for range member / len(chunk) {
		zw.Write(chunk)
	}
	zw.Close()
	return bytes.Repeat(one.Bytes(), int(size/member))
}

func TestHTTPDecompressedLimit(t *testing.T) {
	const maxBody = 4096
	pt1h := readTestdata(t, "PT1H.json")
	small := gzipped(t, pt1h[:bytes.LastIndexByte(pt1h[:maxBody], '\n')+1])
	big := gzipped(t, bytes.Repeat(pt1h, maxBody/len(pt1h)+2)) // compresses far below maxBody
	if len(big) > maxBody {
		t.Fatalf("test body compresses to %d bytes, want < %d", len(big), maxBody)
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		header map[string]string
		status int
		errSub string
	}{
		{"within the limit", small, nil, http.StatusAccepted, ""},
		{"unpacks past the limit, sniffed", big, nil, http.StatusRequestEntityTooLarge, "decompressed body larger than 4096"},
		{"unpacks past the limit, declared", big, map[string]string{"Content-Encoding": "gzip"}, http.StatusRequestEntityTooLarge, "decompressed body"},
		{"gzip in gzip", gzipped(t, small), nil, http.StatusAccepted, ""},
		{"gzip in gzip past the limit", gzipped(t, big), nil, http.StatusRequestEntityTooLarge, "decompressed"},
		{"gzip four deep", gzipped(t, gzipped(t, gzipped(t, small))), nil, http.StatusBadRequest, "nested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newHTTPFixture(t, maxBody)
			hd := auth()
			for k, v := range tc.header {
				hd[k] = v
			}
			r := post(t, fx.srv.URL+"/ingest", http.MethodPost, hd, bytes.NewReader(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.raw, tc.status)
			}
			if msg, _ := r.body["error"].(string); !strings.Contains(msg, tc.errSub) {
				t.Errorf("error %q, want %q", msg, tc.errSub)
			}
			if tc.status == http.StatusRequestEntityTooLarge && fx.sink.ingests() != 0 {
				t.Error("a body over the limit reached the sink")
			}
		})
	}
}

// TestHTTPCorruptGzipStillAlerts: a gzip body cut off after its first
// records still raises their alerts (fail closed) and is answered 400.
func TestHTTPCorruptGzipStillAlerts(t *testing.T) {
	lines := pt1h(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(join(lines[:2])) // two alerting records
	zw.Flush()
	cut := buf.Len()
	zw.Write(join(lines[2:]))
	zw.Close()
	fx := newHTTPFixture(t, 0)
	r := post(t, fx.srv.URL+"/ingest", http.MethodPost, auth(), bytes.NewReader(buf.Bytes()[:cut+3]))
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d %s, want 400", r.status, r.raw)
	}
	if _, alerts := fx.sink.counts(); alerts != 2 {
		t.Errorf("%d alerts from the readable part, want 2", alerts)
	}
	if msg, _ := r.body["error"].(string); !strings.Contains(msg, "2 records before it were scanned") {
		t.Errorf("error %q", msg)
	}
}

// TestHTTPBusy: with every decoding slot taken, a request waits QueueWait
// and is then answered 503 with Retry-After; it is served once a slot is
// free.
func TestHTTPBusy(t *testing.T) {
	sink := newTestSink()
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	sink.after = func(int) {
		once.Do(func() { close(entered); <-release })
	}
	h, err := NewHTTP(HTTPOptions{Name: "push", Listen: "127.0.0.1:0", Token: testToken, MaxConcurrent: 1, QueueWait: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptestServer(t, h.Handler(sink))
	body := readTestdata(t, "PT1H.json")
	first := make(chan response, 1)
	go func() { first <- post(t, srv+"/ingest", http.MethodPost, auth(), bytes.NewReader(body)) }()
	<-entered
	start := time.Now()
	r := post(t, srv+"/ingest", http.MethodPost, auth(), bytes.NewReader(body))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q) while busy, want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("answered after %v, want after QueueWait", d)
	}
	if msg, _ := r.body["error"].(string); !strings.Contains(msg, "busy") {
		t.Errorf("error %q", msg)
	}
	close(release)
	if r := <-first; r.status != http.StatusAccepted {
		t.Fatalf("first request: %d", r.status)
	}
	if r := post(t, srv+"/ingest", http.MethodPost, auth(), bytes.NewReader(body)); r.status != http.StatusAccepted {
		t.Fatalf("after the slot was freed: %d", r.status)
	}
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestHTTPRunAlive: a listening http source reports itself alive while
// nobody pushes, and a listener that cannot be opened is not alive.
func TestHTTPRunAlive(t *testing.T) {
	sink := newTestSink()
	h, err := NewHTTP(HTTPOptions{Name: "push", Listen: "127.0.0.1:0", Token: testToken, AliveInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, sink) }()
	waitFor(t, "three Alive calls without traffic", func() bool { return sink.aliveCount("push") >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n := sink.aliveCount("push")
	time.Sleep(20 * time.Millisecond)
	if sink.aliveCount("push") != n {
		t.Error("Alive after Run returned")
	}

	// The port is taken: Run fails, and never claimed to be alive.
	busy, _ := NewHTTP(HTTPOptions{Name: "push2", Listen: h.Addr().String(), Token: testToken, Logger: slog.New(slog.DiscardHandler)})
	ln := listenOn(t, h.Addr().String())
	defer ln.Close()
	if err := busy.Run(t.Context(), sink); err == nil {
		t.Fatal("Run on a taken port succeeded")
	}
	if sink.aliveCount("push2") != 0 {
		t.Error("a source that could not listen was alive")
	}
}

// memScenarioEnv selects the scenario TestHTTPMemoryChild runs in a child
// process, so that its peak RSS (VmHWM) is its own.
const memScenarioEnv = "BREAKGLASS_TEST_MEM_SCENARIO"

// TestHTTPMemoryBounded: the hostile inputs of issue 7, each in a fresh
// process whose peak RSS is asserted. Before the limits, 100 parallel
// 10 MiB posts reached 1.6 GB and a 1 MB gzip unpacking to 1 GiB took the
// daemon to 4 GB.
func TestHTTPMemoryBounded(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector multiplies memory use; run without -race")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc for peak RSS")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scenario string
		maxMiB   int64
	}{
		{"parallel", 300}, // 100 parallel posts of 10 MiB
		{"bomb", 120},     // 1 MB of gzip that unpacks to 1 GiB
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestHTTPMemoryChild$", "-test.v")
			cmd.Env = append(os.Environ(), memScenarioEnv+"="+tc.scenario)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var peak int64 = -1
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "PEAK_RSS_KB "); ok {
					peak, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			if peak < 0 {
				t.Fatalf("child reported no peak RSS:\n%s", out)
			}
			t.Logf("%s: peak RSS %d MiB (bound %d MiB)", tc.scenario, peak>>10, tc.maxMiB)
			if peak>>10 >= tc.maxMiB {
				t.Errorf("%s: peak RSS %d MiB, want < %d MiB\n%s", tc.scenario, peak>>10, tc.maxMiB, out)
			}
		})
	}
}

// TestHTTPMemoryChild is the child of TestHTTPMemoryBounded.
func TestHTTPMemoryChild(t *testing.T) {
	scenario := os.Getenv(memScenarioEnv)
	if scenario == "" {
		t.Skip("run by TestHTTPMemoryBounded")
	}
	sink := newTestSink()
	// QueueWait is long: on a loaded machine the hundredth post waits
	// for 96 others, and this test measures memory, not patience (the
	// 503 after QueueWait has TestHTTPBusy).
	h, err := NewHTTP(HTTPOptions{Name: "push", Listen: "127.0.0.1:0", Token: testToken, QueueWait: 10 * time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go h.Run(ctx, sink)
	<-h.Ready()
	url := "http://" + h.Addr().String() + "/ingest"
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 100}}
	send := func(body io.Reader, n int64, hd map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url, body)
		req.ContentLength = n
		req.Header.Set("Authorization", "Bearer "+testToken)
		for k, v := range hd {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	switch scenario {
	case "parallel":
		const posts, size = 100, DefaultMaxBody
		lines := join(pt1h(t))
		var wg sync.WaitGroup
		errs := make(chan string, posts)
		for range posts {
			wg.Go(func() {
				n := int64(size / len(lines) * len(lines))
				if st, msg := send(io.LimitReader(&repeatReader{b: lines}, n), n, nil); st != http.StatusAccepted {
					errs <- fmt.Sprintf("%d %s", st, msg)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		if _, alerts := sink.counts(); alerts != pt1hAlerts {
			t.Errorf("%d alerts, want %d", alerts, pt1hAlerts)
		}
	case "bomb":
		bomb := gzipBomb(t, 1<<30)
		t.Logf("bomb: %d bytes of gzip", len(bomb))
		st, msg := send(bytes.NewReader(bomb), int64(len(bomb)), map[string]string{"Content-Encoding": "gzip"})
		if st != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "decompressed body larger") {
			t.Errorf("bomb: %d %s, want 413", st, msg)
		}
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Println("PEAK_RSS_KB", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}
