package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/source"
)

// supervise runs a Supervisor of the configuration file at path until the
// test ends.
func supervise(t *testing.T, path string) (*Supervisor, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	load := func() (*config.Config, error) { return config.Load(path) }
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	sup, err := NewSupervisor(cfg, Options{Stderr: logs, Stdout: &syncBuffer{}, ShutdownGrace: 3 * time.Second}, load)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	<-sup.Current().Ready()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("supervisor did not stop")
		}
	})
	return sup, logs
}

func ingestAddr(t *testing.T, d *Daemon) string {
	t.Helper()
	for _, s := range d.Sources() {
		if h, ok := s.(*source.HTTP); ok {
			<-h.Ready()
			return h.Addr().String()
		}
	}
	t.Fatal("no http source")
	return ""
}

// TestReloadKeepsSockets: HTTP pushes and /readyz probes run throughout
// several reloads; no connection is refused or dropped, every push is
// acknowledged with 202, and each of its alerts is delivered exactly once.
func TestReloadKeepsSockets(t *testing.T) {
	rcv := newReceiver(t)
	e := newEnv(t)
	body := fmt.Sprintf(`sources:
  - type: http
    name: push
    listen: %s
    token: ${%s}
notify:
  groups:
    - name: hook
      channels: [{type: webhook, url: %s/hook, schema: breakglass, timeout: 2s}]
`, e.ingest, tokenEnv, rcv.srv.URL)
	e.config(t, body)
	path := filepath.Join(e.dir, "config.yaml")
	sup, logs := supervise(t, path)
	addr := ingestAddr(t, sup.Current())
	listen := sup.Addr().String()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var (
		mu       sync.Mutex
		ids      []string
		failures []string
		probes   atomic.Int64
		notReady atomic.Int64
		retried  atomic.Int64
		// firstNotReady is the first unready answer's status and body.
		firstNotReady string
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ev := fmt.Sprintf("push-%d-%05d", w, i)
				var resp *http.Response
				var err error
				for range 3 {
					req, _ := http.NewRequest("POST", "http://"+addr+"/ingest", strings.NewReader(signIn(ev)))
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err = client.Do(req)
					// A kept-alive connection closed by the stopping
					// daemon as the request went out: not answered, so
					// a sender sends it again, as after any restart.
					if err == nil || !errors.Is(err, io.EOF) {
						break
					}
					retried.Add(1)
				}
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.StatusCode != http.StatusAccepted:
					failures = append(failures, resp.Status)
				default:
					ids = append(ids, alert.Key(ev, detect.RuleSignIn))
				}
				mu.Unlock()
				if resp != nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get("http://" + listen + "/readyz")
			if err != nil && errors.Is(err, io.EOF) { // as for pushes above
				retried.Add(1)
				resp, err = client.Get("http://" + listen + "/readyz")
			}
			probes.Add(1)
			if err != nil {
				mu.Lock()
				failures = append(failures, "readyz: "+err.Error())
				mu.Unlock()
				continue
			}
			if resp.StatusCode != http.StatusOK {
				if notReady.Add(1) == 1 {
					b, _ := io.ReadAll(resp.Body)
					mu.Lock()
					firstNotReady = fmt.Sprintf("%s: %s", resp.Status, b)
					mu.Unlock()
				}
			}
			resp.Body.Close()
			time.Sleep(2 * time.Millisecond)
		}
	})
	for i := range 3 {
		time.Sleep(150 * time.Millisecond)
		if err := sup.Reload(context.Background()); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
	}
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d pushes acknowledged (%d requests sent again after EOF on a kept-alive connection), %d readyz probes (%d not ready) across 3 reloads",
		len(ids), retried.Load(), probes.Load(), notReady.Load())
	if notReady.Load() > 0 {
		t.Errorf("/readyz answered not ready %d times during reloads, first: %s", notReady.Load(), firstNotReady)
	}
	if len(failures) > 0 {
		t.Errorf("%d requests failed during reloads, first: %s", len(failures), failures[0])
	}
	if n := strings.Count(logs.String(), "configuration reloaded"); n != 3 {
		t.Errorf("%d reloads logged, want 3", n)
	}
	waitFor(t, 15*time.Second, "every acknowledged push delivered", func() bool {
		got := rcv.snapshot()
		for _, id := range ids {
			if got["/hook "+id+" firing"] == 0 {
				return false
			}
		}
		return true
	})
	got := rcv.snapshot()
	for _, id := range ids {
		if n := got["/hook "+id+" firing"]; n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
}

// TestReloadRefused: a file that does not load, or that changes
// server.listen, changes nothing and says why; the daemon keeps running
// the old configuration.
func TestReloadRefused(t *testing.T) {
	rcv := newReceiver(t)
	e := newEnv(t)
	body := fmt.Sprintf(`sources:
  - type: file
    name: files
    path: %s
    poll: 20ms
notify:
  groups:
    - name: hook
      channels: [{type: webhook, url: %s/hook, schema: breakglass, timeout: 2s}]
`, e.logs, rcv.srv.URL)
	e.config(t, body)
	path := filepath.Join(e.dir, "config.yaml")
	good, _ := os.ReadFile(path)
	sup, logs := supervise(t, path)
	first := sup.Current()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	withPush := strings.Replace(string(good), "sources:\n", fmt.Sprintf("sources:\n  - type: http\n    name: push\n    listen: %s\n    token: ${%s}\n", busy.Addr(), tokenEnv), 1)

	for _, tc := range []struct {
		name, text string
		want       string
		restart    bool
	}{
		{"syntax", string(good) + "bogus_key: 1\n", "config.yaml:", false},
		{"listen", strings.Replace(string(good), "listen: 127.0.0.1:0", "listen: 127.0.0.1:1", 1), "server.listen changed", true},
		{"store", strings.Replace(string(good), e.db, e.db+"2", 1), "store.path changed", true},
		{"port in use", withPush, "sources: listen " + busy.Addr().String(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(path, []byte(tc.text), 0o600)
			err := sup.Reload(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload: %v, want %q", err, tc.want)
			}
			var rr *RestartRequiredError
			if errors.As(err, &rr) != tc.restart {
				t.Errorf("RestartRequiredError: %v, want %v", errors.As(err, &rr), tc.restart)
			}
			if sup.Current() != first {
				t.Error("the daemon was replaced")
			}
			if !strings.Contains(logs.String(), "configuration reload failed") {
				t.Error("the failure was not logged")
			}
		})
	}
	// The old configuration still alerts, and the condition was raised.
	if err := os.WriteFile(filepath.Join(e.logs, "a.json"), []byte(signIn("after-bad-reload")), 0o644); err != nil {
		t.Fatal(err)
	}
	id := alert.Key("after-bad-reload", detect.RuleSignIn)
	waitFor(t, 10*time.Second, "the old configuration alerting", func() bool { return rcv.snapshot()["/hook "+id+" firing"] == 1 })
	waitFor(t, 10*time.Second, "bg.source for config", func() bool { return rcv.rule("/hook bg.source firing") == 1 })
	os.WriteFile(path, good, 0o600)
	if err := sup.Reload(context.Background()); err != nil {
		t.Fatalf("reload of the good file: %v", err)
	}
	waitFor(t, 10*time.Second, "bg.source for config resolved", func() bool { return rcv.rule("/hook bg.source resolved") == 1 })
}
