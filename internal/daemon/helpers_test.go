package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/source"
)

const (
	bgID     = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	bgUPN    = "bg-admin1@contoso.onmicrosoft.com"
	token    = "daemon-test-token"
	tokenEnv = "BG_DAEMON_TEST_TOKEN"
)

// signIn is a diagnostic-settings sign-in by the break-glass account.
func signIn(id string) string {
	return `{"time":"2026-06-20T07:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"` + id +
		`","createdDateTime":"2026-06-20T07:00:00Z","userId":"` + bgID + `","userPrincipalName":"` + bgUPN + `","status":{"errorCode":0}}}` + "\n"
}

// receiver is a webhook endpoint on loopback; each path is one target.
type receiver struct {
	mu    sync.Mutex
	got   map[string]int // "path alert_id status" -> deliveries
	rules map[string]int // "path rule status" -> deliveries
	delay time.Duration
	code  int
	codes map[string]int // per path, overriding code
	srv   *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string]int{}, rules: map[string]int{}, code: http.StatusNoContent}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		type fields struct {
			AlertID string `json:"alert_id"`
			Status  string `json:"status"`
			Rule    string `json:"rule"`
		}
		var common struct {
			SchemaID string `json:"schemaId"`
			Data     struct {
				AlertContext fields `json:"alertContext"`
			} `json:"data"`
		}
		var body fields
		data, _ := io.ReadAll(req.Body)
		// The default body is the Common Alert Schema, which carries
		// breakglass's fields in data.alertContext; schema: breakglass
		// sends them at the top level.
		err := json.Unmarshal(data, &common)
		if err == nil && common.SchemaID == "azureMonitorCommonAlertSchema" {
			body = common.Data.AlertContext
		} else if err == nil {
			err = json.Unmarshal(data, &body)
		}
		if err != nil || body.AlertID == "" {
			http.Error(w, "bad body", 400)
			return
		}
		r.mu.Lock()
		delay, code := r.delay, r.code
		if c, ok := r.codes[req.URL.Path]; ok {
			code = c
		}
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		r.mu.Lock()
		if code < 300 {
			r.got[req.URL.Path+" "+body.AlertID+" "+body.Status]++
			r.rules[req.URL.Path+" "+body.Rule+" "+body.Status]++
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func (r *receiver) rule(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rules[key]
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, debug ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, d := range debug {
		t.Log(d())
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// env is one test daemon's directory and addresses.
type env struct {
	dir, listen, ingest, logs, db string
}

func newEnv(t *testing.T) *env {
	// Port 0 everywhere: a port picked free and released could be taken by
	// another process on a busy machine before the daemon binds it.
	e := &env{dir: t.TempDir(), listen: "127.0.0.1:0", ingest: "127.0.0.1:0"}
	e.logs = filepath.Join(e.dir, "logs")
	e.db = filepath.Join(e.dir, "bg.db")
	if err := os.MkdirAll(e.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// config renders a configuration with the test accounts, store and server;
// body adds sources, notify and anything else (use %[1]s for the log dir,
// %[2]s for the ingest address).
func (e *env) config(t *testing.T, body string) *config.Config {
	t.Helper()
	if strings.Contains(body, "%[") {
		body = fmt.Sprintf(body, e.logs, e.ingest)
	}
	text := fmt.Sprintf("accounts:\n  - id: %s\n    upn: %s\nstore:\n  path: %s\nserver:\n  listen: %s\nlog:\n  level: debug\n", bgID, bgUPN, e.db, e.listen) + body
	path := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(tokenEnv, token)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

// running is a daemon run in-process.
type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
	out    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the daemon of cfg in-process until the test ends.
func start(t *testing.T, cfg *config.Config, o Options) *running {
	t.Helper()
	r := &running{logs: &syncBuffer{}, out: &syncBuffer{}, done: make(chan error, 1)}
	o.Stderr, o.Stdout = r.logs, r.out
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 3 * time.Second
	}
	d, err := New(cfg, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.d = d
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-r.done:
		t.Fatalf("Run ended at start: %v\n%s", err, r.logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("daemon not ready")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("daemon did not stop")
	}
}

// ingest is the address the daemon's (first) http source listens on.
func (r *running) ingest(t *testing.T) string {
	t.Helper()
	for _, s := range r.d.Sources() {
		if h, ok := s.(*source.HTTP); ok {
			select {
			case <-h.Ready():
			case <-time.After(10 * time.Second):
				t.Fatal("http source not listening")
			}
			return h.Addr().String()
		}
	}
	t.Fatal("no http source")
	return ""
}

// post sends body to the http source and returns the status.
func post(t *testing.T, addr string, body []byte) int {
	t.Helper()
	var resp *http.Response
	var err error
	for range 100 {
		req, _ := http.NewRequest("POST", "http://"+addr+"/ingest", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // the listener may still be starting
	}
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func loadCfg(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
