package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/simulate"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// receiver is a webhook endpoint on loopback that counts notifications.
type receiver struct {
	mu    sync.Mutex
	seen  map[string]int       // alert_id -> deliveries
	first map[string]time.Time // alert_id -> first arrival
	srv   *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{seen: map[string]int{}, first: map[string]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			ID      string `json:"id"`
			AlertID string `json:"alert_id"`
			Status  string `json:"status"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil || body.AlertID == "" {
			http.Error(w, "bad body", 400)
			return
		}
		r.mu.Lock()
		if body.Status == "firing" {
			if r.seen[body.AlertID] == 0 {
				r.first[body.AlertID] = time.Now()
			}
			r.seen[body.AlertID]++
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count(ids map[string]bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id := range ids {
		if r.seen[id] > 0 {
			n++
		}
	}
	return n
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type daemonProc struct {
	dir, cfg, listen, ingest string
	token                    string
}

func newDaemon(t *testing.T, webhook string, accounts []entra.Account, extra string) *daemonProc {
	d := &daemonProc{dir: t.TempDir(), listen: freeAddr(t), ingest: freeAddr(t), token: "e2e-token"}
	if err := os.MkdirAll(filepath.Join(d.dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
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
    poll: 50ms
  - type: http
    name: push
    listen: %s
    token: ${E2E_TOKEN}
notify:
  groups:
    - name: hook
      channels:
        - type: webhook
          url: %s
          schema: breakglass
          timeout: 2s
log:
  level: warn
%s`, acc.String(), filepath.Join(d.dir, "bg.db"), d.listen, filepath.Join(d.dir, "logs"), d.ingest, webhook, extra)
	d.cfg = filepath.Join(d.dir, "config.yaml")
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *daemonProc) start(t *testing.T) *exec.Cmd {
	cmd := exec.Command(binary, "serve", "--config", d.cfg)
	cmd.Env = append(os.Environ(), "E2E_TOKEN="+d.token)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitReady polls /readyz.
func (d *daemonProc) waitReady(t *testing.T, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + d.listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// post pushes a body until the daemon acknowledges it with 202.
func (d *daemonProc) post(ctx context.Context, body []byte) error {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+d.ingest+"/ingest", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+d.token)
		resp, err := http.DefaultClient.Do(req)
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
		time.Sleep(30 * time.Millisecond)
	}
	return ctx.Err()
}

// TestServeSurvivesSIGKILL is the crash-safety test: records arrive through
// a followed file and HTTP pushes while the daemon is killed with SIGKILL at
// random moments, 20+ times. Afterwards every expected alert has reached the
// webhook, each is stored exactly once, and none is missing.
func TestServeSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	accounts := simulate.DemoAccounts()
	var logs, truth bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &logs, simulate.Options{
		Seed: 99, Count: 3000, Shape: simulate.ShapeStorage, BGShare: 0.03, Accounts: accounts,
	}, &truth); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	sc := bufio.NewScanner(&truth)
	for sc.Scan() {
		var tr simulate.Truth
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		for _, r := range tr.Rules {
			want[alert.Key(tr.EventID, r)] = true
		}
	}
	lines := strings.SplitAfter(logs.String(), "\n")
	if len(want) < 30 {
		t.Fatalf("only %d expected alerts", len(want))
	}

	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", accounts, "")
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	t.Logf("%d records, %d expected alerts", len(lines), len(want))

	// Feed: half the lines appended to two files in small bursts, the other
	// half posted in batches, concurrently with the killing below.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	feedDone := make(chan error, 1)
	feedRng := rand.New(rand.NewSource(rng.Int63())) // rand.Rand is not safe for concurrent use
	go func() {
		var files [2]*os.File
		for i := range files {
			f, err := os.OpenFile(filepath.Join(d.dir, "logs", fmt.Sprintf("PT1H-%d.json", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				feedDone <- err
				return
			}
			defer f.Close()
			files[i] = f
		}
		for i := 0; i < len(lines); i += 50 {
			batch := lines[i:min(i+50, len(lines))]
			if (i/50)%2 == 0 {
				// Write a batch in two pieces, splitting a line, so the
				// follower sees half-written records.
				blob := strings.Join(batch, "")
				cut := len(blob) / 2
				f := files[(i/100)%2]
				f.WriteString(blob[:cut])
				time.Sleep(time.Duration(feedRng.Intn(20)) * time.Millisecond)
				f.WriteString(blob[cut:])
			} else if err := d.post(ctx, []byte(strings.Join(batch, ""))); err != nil {
				feedDone <- err
				return
			}
			time.Sleep(time.Duration(feedRng.Intn(40)) * time.Millisecond)
		}
		feedDone <- nil
	}()

	kills := 0
	feeding := true
	for feeding || kills < 20 {
		cmd := d.start(t)
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
		select {
		case err := <-feedDone:
			if err != nil {
				t.Fatalf("feeding: %v", err)
			}
			feeding = false
		default:
		}
	}

	// Final run: everything must arrive; then a graceful stop exits 0.
	cmd := d.start(t)
	if !d.waitReady(t, 10*time.Second) {
		t.Fatal("daemon not ready")
	}
	deadline := time.Now().Add(30 * time.Second)
	for rcv.count(want) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	t.Logf("killed %d times", kills)
	if got := rcv.count(want); got != len(want) {
		t.Errorf("webhook received %d of %d expected alerts", got, len(want))
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(d.dir, "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	perID := map[string]int{}
	for _, a := range stored {
		if a.Rule == detect.RuleDrillDue || a.Rule == detect.RuleDrillOverdue {
			continue // the drill schedule's (its accounts were never drilled), not a record's
		}
		perID[a.ID]++
		if !want[a.ID] {
			t.Errorf("unexpected alert %s (%s %s)", a.ID, a.Rule, a.EventID)
		}
		if _, err := st.Evidence(context.Background(), a.EventID); err != nil {
			t.Errorf("alert %s without evidence: %v", a.ID, err)
		}
	}
	for id := range want {
		if perID[id] != 1 {
			t.Errorf("alert %s stored %d times", id, perID[id])
		}
	}
	if n, _ := st.OutboxDepth(context.Background()); n != 0 {
		t.Errorf("outbox still holds %d deliveries", n)
	}
	// No record lost, alerting or not: each followed file was read to its end.
	cps, err := st.Checkpoints(context.Background(), "files")
	if err != nil {
		t.Fatal(err)
	}
	done := map[string]int64{}
	for _, c := range cps {
		path, _, _ := strings.Cut(c.Key, "#")
		done[path] = max(done[path], c.Offset)
	}
	for i := range 2 {
		path := filepath.Join(d.dir, "logs", fmt.Sprintf("PT1H-%d.json", i))
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if done[path] != fi.Size() {
			t.Errorf("%s read to %d of %d bytes", path, done[path], fi.Size())
		}
	}
}

// TestServeEndpoints: health, readiness and every metric family the
// daemon promises; SIGINT stops it with exit 0.
func TestServeEndpoints(t *testing.T) {
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL, simulate.DemoAccounts(), "")
	cmd := d.start(t)
	if !d.waitReady(t, 10*time.Second) {
		cmd.Process.Kill()
		t.Fatal("not ready")
	}
	// One record through the HTTP source so per-source series exist.
	var logs bytes.Buffer
	simulate.Generate(context.Background(), &logs, simulate.Options{Seed: 1, Count: 20, BGShare: 0.5}, nil)
	logs.WriteString("not json\n") // one skipped record, for the skipped counter
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.post(ctx, logs.Bytes()); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + d.listen + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		_, body = get("/metrics")
		if strings.Contains(body, `breakglass_notifications_total{channel="hook/webhook",result="success"}`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range []string{
		`breakglass_records_read_total{category=`, `breakglass_records_skipped_total`, `breakglass_records_alerted_total{source="push"}`,
		`breakglass_alerts_total{rule="bg.signin"}`, `breakglass_notifications_total{channel="hook/webhook",result="success"}`,
		`breakglass_notification_duration_seconds_bucket`, `breakglass_source_lag_seconds{source="files"}`, `breakglass_outbox_depth`,
	} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGINT: %v", err)
	}
}

// TestServeGraphSource: the graph source polls a Graph-shaped server on
// loopback (auth: access_token) and its sign-ins take the same detection and
// notification path as every other source.
func TestServeGraphSource(t *testing.T) {
	accounts := simulate.DemoAccounts()
	gs := graphtest.New(t)
	signIn := map[string]any{
		"id": "9e1d0000-0000-4000-8000-000000000001", "createdDateTime": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		"userId": accounts[0].ID, "userPrincipalName": accounts[0].UPN, "appDisplayName": "Azure Portal",
		"status": map[string]any{"errorCode": 50126}, "isInteractive": true,
	}
	gs.Collection("/v1.0/auditLogs/signIns", []any{signIn}, 10)
	gs.Collection("/beta/auditLogs/signIns", nil, 10)
	gs.Collection("/v1.0/auditLogs/directoryAudits", nil, 10)
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL, accounts, fmt.Sprintf(`graph:
  auth: access_token
  token_env: E2E_GRAPH_TOKEN
  base_url: %s
`, gs.URL))
	cfg, _ := os.ReadFile(d.cfg)
	cfg = bytes.Replace(cfg, []byte("sources:\n"), []byte("sources:\n  - type: graph\n    name: tenant\n    poll: 1s\n"), 1)
	os.WriteFile(d.cfg, cfg, 0o600)
	cmd := exec.Command(binary, "serve", "--config", d.cfg)
	cmd.Env = append(os.Environ(), "E2E_TOKEN="+d.token, "E2E_GRAPH_TOKEN=test-token")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{alert.Key("9e1d0000-0000-4000-8000-000000000001", "bg.signin"): true}
	deadline := time.Now().Add(15 * time.Second)
	for rcv.count(want) < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if rcv.count(want) != 1 {
		t.Fatalf("graph sign-in did not reach the webhook; daemon output:\n%s", out.String())
	}
	for _, r := range gs.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("daemon sent %s %s to Graph", r.Method, r.Path)
		}
	}
}
