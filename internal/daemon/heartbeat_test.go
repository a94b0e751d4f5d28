package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/store"
)

// hbSecret is the check's credential in the ping path; it must never be
// logged.
const hbSecret = "5f0c9d7e-1b2a-4c3d-8e9f-a0b1c2d3e4f5"

// pingReceiver is a loopback dead-man's switch in the style of
// healthchecks.io: /ping/<uuid> and /ping/<uuid>/fail.
type pingReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	pings int
	fails int
	code  atomic.Int32
	reqs  []string // method and path of each request
}

func newPingReceiver(t *testing.T) *pingReceiver {
	r := &pingReceiver{}
	r.code.Store(http.StatusOK)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
		switch req.URL.Path {
		case "/ping/" + hbSecret:
			r.pings++
		case "/ping/" + hbSecret + "/fail":
			r.fails++
		}
		r.mu.Unlock()
		w.WriteHeader(int(r.code.Load()))
		fmt.Fprintf(w, "echo %s", req.URL.Path) // a hostile server echoes the secret
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *pingReceiver) counts() (pings, fails int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pings, r.fails
}

// heartbeatConfig is a daemon with a file source and notify.heartbeat
// pointing at r.
func heartbeatConfig(t *testing.T, e *env, r *pingReceiver) *config.Config {
	return e.config(t, `sources:
  - type: file
    path: %[1]s
notify:
  heartbeat:
    url: `+r.srv.URL+`/ping/`+hbSecret+`
    fail_url: `+r.srv.URL+`/ping/`+hbSecret+`/fail
    interval: 10s
`)
}

const hbInterval = 40 * time.Millisecond

// assertNoPings checks that no ping arrives for ten intervals.
func assertNoPings(t *testing.T, r *pingReceiver) {
	t.Helper()
	before, _ := r.counts()
	time.Sleep(10 * hbInterval)
	if after, _ := r.counts(); after != before {
		t.Errorf("%d pings arrived while serve was unhealthy", after-before)
	}
}

func assertNoSecret(t *testing.T, logs string) {
	t.Helper()
	if strings.Contains(logs, hbSecret) {
		t.Errorf("the heartbeat URL's secret is in the log:\n%s", logs)
	}
}

// TestHeartbeatFollowsSourceHealth: pings arrive while serve is healthy,
// stop (with one fail signal and one log line) while a source reports a
// part failing, and resume when it recovers.
func TestHeartbeatFollowsSourceHealth(t *testing.T) {
	rcv := newPingReceiver(t)
	e := newEnv(t)
	r := start(t, heartbeatConfig(t, e, rcv), Options{HeartbeatInterval: hbInterval})
	waitFor(t, 5*time.Second, "3 pings while healthy", func() bool { p, _ := rcv.counts(); return p >= 3 })

	ctx := context.Background()
	r.d.Pipeline().Health().Failing(ctx, "file-1", "/var/log/entra/x.json", errors.New("permission denied"))
	waitFor(t, 5*time.Second, "the fail signal", func() bool { _, f := rcv.counts(); return f == 1 })
	assertNoPings(t, rcv)
	if _, f := rcv.counts(); f != 1 {
		t.Errorf("fail signal sent %d times, want once per episode", f)
	}
	logs := r.logs.String()
	if n := strings.Count(logs, "heartbeat withheld"); n != 1 {
		t.Errorf("heartbeat withheld logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "source failing: file-1") {
		t.Errorf("the log does not say which source fails:\n%s", logs)
	}

	r.d.Pipeline().Health().Recovered(ctx, "file-1", "/var/log/entra/x.json")
	before, _ := rcv.counts()
	waitFor(t, 5*time.Second, "pings again", func() bool { p, _ := rcv.counts(); return p >= before+3 })
	waitFor(t, time.Second, "heartbeat resumed logged", func() bool { return strings.Contains(r.logs.String(), "heartbeat resumed") })
	r.stop(t)
	assertNoSecret(t, r.logs.String())
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, q := range rcv.reqs {
		if !strings.HasPrefix(q, "GET ") {
			t.Errorf("request %q, want GET (the default method)", q)
		}
	}
}

// TestHeartbeatStopsWhileStoreUnwritable: an immutable database (chattr
// +i, which binds root too) stops the pings; making it writable again
// resumes them.
func TestHeartbeatStopsWhileStoreUnwritable(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("no chattr")
	}
	rcv := newPingReceiver(t)
	e := newEnv(t)
	r := start(t, heartbeatConfig(t, e, rcv), Options{HeartbeatInterval: hbInterval})
	waitFor(t, 5*time.Second, "pings while healthy", func() bool { p, _ := rcv.counts(); return p >= 2 })
	files := []string{e.db, e.db + "-wal"}
	if out, err := exec.Command("chattr", append([]string{"+i"}, files...)...).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", append([]string{"-i"}, files...)...).Run() })
	waitFor(t, 3*writableTTL, "the fail signal", func() bool { _, f := rcv.counts(); return f == 1 })
	assertNoPings(t, rcv)
	if !strings.Contains(r.logs.String(), "store not writable") {
		t.Errorf("the log does not name the store:\n%s", r.logs.String())
	}
	exec.Command("chattr", append([]string{"-i"}, files...)...).Run()
	before, _ := rcv.counts()
	waitFor(t, 3*writableTTL, "pings again", func() bool { p, _ := rcv.counts(); return p >= before+2 })
	r.stop(t)
	assertNoSecret(t, r.logs.String())
}

// TestHeartbeatOutboxStuck: a delivery waiting past the bound for its
// first attempt makes serve unhealthy; one merely due is fine. The daemon
// is built but not run, so no dispatcher takes the delivery; the clock is
// moved instead of waiting.
func TestHeartbeatOutboxStuck(t *testing.T) {
	rcv := newPingReceiver(t)
	e := newEnv(t)
	var offset atomic.Int64
	// No sources: none runs without Run.
	cfg := e.config(t, "notify:\n  heartbeat:\n    url: "+rcv.srv.URL+"/ping/"+hbSecret+"\n")
	d, err := New(cfg, Options{
		Stderr: io.Discard, Stdout: io.Discard,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.healthy(ctx); err != nil {
		t.Fatalf("empty outbox: %v", err)
	}
	a := alert.Alert{ID: "a1", Rule: "bg.signin", Severity: alert.Sev0, Title: "signed in", AccountID: bgID,
		EventID: "evt-1", EventTime: time.Now(), Category: "SignInLogs", Source: "test", Detected: time.Now()}
	if _, err := d.st.AddAlertNotify(ctx, a, store.Evidence{}, d.targets); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		late  time.Duration
		stuck bool
	}{{0, false}, {d.stuckAfter - time.Minute, false}, {d.stuckAfter + time.Minute, true}} {
		offset.Store(int64(tc.late))
		err := d.healthy(ctx)
		t.Logf("due %v ago: %v", tc.late, err)
		if (err != nil) != tc.stuck {
			t.Errorf("due %v ago (bound %v): healthy() = %v, want stuck %v", tc.late, d.stuckAfter, err, tc.stuck)
		}
		if tc.stuck && err != nil && !strings.Contains(err.Error(), "outbox stuck") {
			t.Errorf("error %q does not say the outbox is stuck", err)
		}
	}
}

// TestHeartbeatPing: what counts as a delivered ping, and that no error
// text carries the URL's secret, even when the server echoes it back.
func TestHeartbeatPing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   int
		method string
		ok     bool
		want   string
	}{
		{"200", 200, "GET", true, ""},
		{"204 post", 204, "POST", true, ""},
		{"404 unknown check", 404, "GET", false, "HTTP 404"},
		{"500", 500, "POST", false, "HTTP 500"},
		{"redirect not followed", 302, "GET", false, "redirect, not followed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				got = req.Method + " " + req.Header.Get("Authorization")
				if tc.code == 302 {
					w.Header().Set("Location", "/elsewhere/"+hbSecret)
				}
				w.WriteHeader(tc.code)
				fmt.Fprintf(w, "no such check %s (key %s)", req.URL.Path, req.Header.Get("Authorization"))
			}))
			defer srv.Close()
			hc := config.HeartbeatConfig{URL: config.Secret(srv.URL + "/ping/" + hbSecret), Method: tc.method,
				Timeout: 2 * time.Second, Headers: map[string]config.Secret{"Authorization": "GenieKey very-secret-key"}}
			h := newHeartbeat(hc, time.Second, slog.New(slog.DiscardHandler), nil, nil)
			err := h.ping(context.Background(), hc.URL.Reveal())
			if got != tc.method+" GenieKey very-secret-key" {
				t.Errorf("server saw %q", got)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("ping = %v, want ok %v", err, tc.ok)
			}
			if err == nil {
				return
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, s := range []string{hbSecret, "very-secret-key"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks %q", err, s)
				}
			}
		})
	}
	// A refused connection names the host, never the path.
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/ping/" + hbSecret
	srv.Close()
	h := newHeartbeat(config.HeartbeatConfig{URL: config.Secret(u), Method: "GET", Timeout: time.Second}, time.Second, slog.New(slog.DiscardHandler), nil, nil)
	err := h.ping(context.Background(), u)
	if err == nil || strings.Contains(err.Error(), hbSecret) {
		t.Errorf("ping of a closed server = %v", err)
	}
	t.Logf("error: %v", err)
}

// TestHeartbeatPingFailureLoggedOnce: a service that refuses pings is
// logged once however many intervals it lasts (with the status, never the
// secret), and its recovery once; POST sends a body.
func TestHeartbeatPingFailureLoggedOnce(t *testing.T) {
	rcv := newPingReceiver(t)
	rcv.code.Store(http.StatusServiceUnavailable)
	e := newEnv(t)
	cfg := e.config(t, "notify:\n  heartbeat:\n    url: "+rcv.srv.URL+"/ping/"+hbSecret+"\n    method: post\n")
	r := start(t, cfg, Options{HeartbeatInterval: hbInterval})
	waitFor(t, 5*time.Second, "10 refused pings", func() bool { p, _ := rcv.counts(); return p >= 10 })
	rcv.code.Store(http.StatusOK)
	waitFor(t, 5*time.Second, "ping delivered again logged", func() bool {
		return strings.Contains(r.logs.String(), "heartbeat ping delivered again")
	})
	r.stop(t)
	logs := r.logs.String()
	if n := strings.Count(logs, "heartbeat ping failed"); n != 1 {
		t.Errorf("ping failure logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "HTTP 503") {
		t.Errorf("the log does not give the status:\n%s", logs)
	}
	if strings.Contains(logs, "heartbeat withheld") {
		t.Errorf("a healthy daemon withheld its heartbeat:\n%s", logs)
	}
	assertNoSecret(t, logs)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if q := rcv.reqs[0]; q != "POST /ping/"+hbSecret {
		t.Errorf("first request %q, want POST", q)
	}
}

// TestHeartbeatPingSecretCutByExcerpt: a service that echoes the header
// right where the 120-character excerpt is cut must not show the first
// half of the credential.
func TestHeartbeatPingSecretCutByExcerpt(t *testing.T) {
	const key = "GenieKey very-secret-key-0123456789"
	for _, at := range []int{105, 110, 115} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, "%s%s and more", strings.Repeat("x", at), req.Header.Get("Authorization"))
		}))
		hc := config.HeartbeatConfig{URL: config.Secret(srv.URL + "/ping/" + hbSecret), Method: "GET",
			Timeout: 2 * time.Second, Headers: map[string]config.Secret{"Authorization": key}}
		h := newHeartbeat(hc, time.Second, slog.New(slog.DiscardHandler), nil, nil)
		err := h.ping(context.Background(), hc.URL.Reveal())
		srv.Close()
		if err == nil {
			t.Fatalf("cut at %d: ping succeeded", at)
		}
		if strings.Contains(err.Error(), "GenieKey") || strings.Contains(err.Error(), "very") {
			t.Errorf("cut at %d: error shows part of the header: %v", at, err)
		}
	}
}
