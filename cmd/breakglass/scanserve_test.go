package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
)

// TestScanThenServeNotifiesOnce is item 5 of issue 7: `scan` into the
// daemon's store must not silence the daemon. The binary scans logs into
// the store; the daemon, started in-process on the same store and fed the
// same logs, then notifies every target of every alert exactly once.
func TestScanThenServeNotifiesOnce(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{} // "target alert status"
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			AlertID string `json:"alert_id"`
			Status  string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad", 400)
			return
		}
		mu.Lock()
		got[r.URL.Path+" "+body.AlertID+" "+body.Status]++
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer rcv.Close()

	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(logsDir, "PT1H.json")
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`accounts:
  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70
    upn: bg-admin1@contoso.onmicrosoft.com
  - id: 1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d
    upn: bg-admin2@contoso.onmicrosoft.com
store:
  path: %s
server:
  listen: 127.0.0.1:0
sources:
  - type: file
    name: files
    path: %s
    poll: 50ms
notify:
  groups:
    - name: ops
      channels:
        - type: webhook
          url: %s/a
          schema: breakglass
        - type: webhook
          url: %s/b
          schema: breakglass
log:
  level: warn
`, filepath.Join(dir, "bg.db"), logs, rcv.URL, rcv.URL)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}

	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "scan", "-c", cfgPath, "--format", "json", input)
	if r.code != 0 {
		t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var a struct{ ID string }
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("scan output %q: %v", line, err)
		}
		ids = append(ids, a.ID)
	}
	if len(ids) == 0 {
		t.Fatal("scan raised no alerts")
	}

	// The daemon follows the same logs: it sees every alert as known.
	if err := os.WriteFile(filepath.Join(logs, "PT1H.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logbuf strings.Builder
	d, err := daemon.New(cfg, daemon.Options{Stdout: &strings.Builder{}, Stderr: &logbuf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	want := 2 * len(ids)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // room for a duplicate to show
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		for _, target := range []string{"/a", "/b"} {
			if n := got[target+" "+id+" firing"]; n != 1 {
				t.Errorf("target %s got alert %s %d times, want exactly once", target, id, n)
			}
		}
	}
	if len(got) != want {
		t.Errorf("%d distinct notifications, want %d: %v\n%s", len(got), want, got, logbuf.String())
	}
}
