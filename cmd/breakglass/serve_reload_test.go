package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
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
)

// pageLog records every page of two webhook groups (/a and /b).
type pageLog struct {
	mu    sync.Mutex
	pages []page
	srv   *httptest.Server
}

type page struct {
	group, alertID, rule, status, title string
}

func newPageLog(t *testing.T) *pageLog {
	p := &pageLog{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			AlertID string `json:"alert_id"`
			Rule    string `json:"rule"`
			Status  string `json:"status"`
			Title   string `json:"title"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			http.Error(w, "bad body", 400)
			return
		}
		p.mu.Lock()
		p.pages = append(p.pages, page{strings.TrimPrefix(r.URL.Path, "/"), body.AlertID, body.Rule, body.Status, body.Title})
		p.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// firing counts the firing pages of alert id to group.
func (p *pageLog) firing(group, id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pg := range p.pages {
		if pg.group == group && pg.alertID == id && pg.status == "firing" {
			n++
		}
	}
	return n
}

func (p *pageLog) find(group string, match func(page) bool) (page, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pg := range p.pages {
		if pg.group == group && match(pg) {
			return pg, true
		}
	}
	return page{}, false
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	reloadA = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	reloadB = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
)

// signIn is one Graph sign-in line for account id; its alert id is
// alert.Key(eventID, bg.signin).
func signIn(eventID, id string) string {
	return fmt.Sprintf(`{"id":%q,"createdDateTime":"2026-12-02T06:00:00Z","userId":%q,"userPrincipalName":"%s@contoso.com","appDisplayName":"Azure Portal","ipAddress":"203.0.113.7","status":{"errorCode":0}}`+"\n",
		eventID, id, id[:8])
}

func reloadConfig(dir, listen, hooks string, accounts []string, groups string) string {
	var acc strings.Builder
	for _, a := range accounts {
		fmt.Fprintf(&acc, "  - id: %s\n", a)
	}
	return fmt.Sprintf(`accounts:
%sstore:
  path: %s
server:
  listen: %s
sources:
  - type: file
    name: files
    path: %s
    poll: 20ms
notify:
  groups:
    - name: a
      channels: [{type: webhook, url: %s/a, schema: breakglass, timeout: 2s}]
    - name: b
      channels: [{type: webhook, url: %s/b, schema: breakglass, timeout: 2s}]
  routes:
    - groups: %s
log:
  level: info
`, acc.String(), filepath.Join(dir, "bg.db"), listen, filepath.Join(dir, "logs"), hooks, hooks, groups)
}

// TestServeReload is issue 15's must-show for SIGHUP, through the binary:
// a valid new configuration applies (a new account alerts, a route that
// was removed gets no more pages) while records keep arriving in a
// followed file, none lost and none paged twice; an invalid one keeps the
// old configuration alerting, logs each problem at its file:line, shows
// in breakglass_config_reload_success and raises bg.source for config,
// which the next good reload resolves.
func TestServeReload(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	pl := newPageLog(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	listen := freeAddr(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(cfgPath+".new", []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(cfgPath+".new", cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(dir, listen, pl.srv.URL, []string{reloadA}, "[a, b]"))

	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	var logs syncLog
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("serve logs:\n%s", logs.String())
		}
	}()
	d := &daemonProc{listen: listen}
	if !d.waitReady(t, 15*time.Second) {
		t.Fatal("serve not ready")
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "logs", "signins.json"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	var seq int
	var fmu sync.Mutex
	emit := func(account string) string {
		fmu.Lock()
		defer fmu.Unlock()
		seq++
		ev := fmt.Sprintf("reload-evt-%05d", seq)
		if _, err := logFile.WriteString(signIn(ev, account)); err != nil {
			t.Error(err)
		}
		return alert.Key(ev, detect.RuleSignIn)
	}
	reloads := func() int { return strings.Count(logs.String(), "configuration reloaded") }
	metric := func() string {
		resp, err := http.Get("http://" + listen + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "breakglass_config_reload_success "); ok {
				return v
			}
		}
		return ""
	}
	if m := metric(); m != "1" {
		t.Errorf("breakglass_config_reload_success at start = %q, want 1", m)
	}

	// The starting configuration: A pages both groups; B is not watched.
	first := emit(reloadA)
	waitUntil(t, "A's first sign-in paged to a and b", 10*time.Second, func() bool { return pl.firing("a", first) == 1 && pl.firing("b", first) == 1 })

	// Valid reload with records arriving all along: B is watched now, and
	// the route to b is gone.
	write(reloadConfig(dir, listen, pl.srv.URL, []string{reloadA, reloadB}, "[a]"))
	stop := make(chan struct{})
	during := make(chan []string, 1)
	go func() {
		var ids []string
		for {
			select {
			case <-stop:
				during <- ids
				return
			default:
			}
			ids = append(ids, emit(reloadA))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the reload", 15*time.Second, func() bool { return reloads() == 1 })
	time.Sleep(100 * time.Millisecond) // records after the handover too
	close(stop)
	arrived := <-during
	t.Logf("%d sign-ins of A written during the reload", len(arrived))
	newB := emit(reloadB)
	waitUntil(t, "every sign-in written during the reload paged to a", 15*time.Second, func() bool {
		for _, id := range arrived {
			if pl.firing("a", id) == 0 {
				return false
			}
		}
		return pl.firing("a", newB) == 1
	})
	if pl.firing("b", newB) != 0 {
		t.Error("group b, whose route was removed, was paged for B's sign-in after the reload")
	}
	for _, id := range append(arrived, first, newB) {
		if n := pl.firing("a", id); n != 1 {
			t.Errorf("alert %s paged to a %d times, want once", id, n)
		}
		if n := pl.firing("b", id); n > 1 {
			t.Errorf("alert %s paged to b %d times", id, n)
		}
	}
	if m := metric(); m != "1" {
		t.Errorf("breakglass_config_reload_success after a good reload = %q, want 1", m)
	}

	// Invalid reload: an unknown group on line 24; the old configuration
	// (A and B to a) keeps alerting.
	bad := reloadConfig(dir, listen, pl.srv.URL, []string{reloadA}, "[a, nosuch]")
	badLine := 0
	for i, l := range strings.Split(bad, "\n") {
		if strings.Contains(l, "nosuch") {
			badLine = i + 1
		}
	}
	write(bad)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the failed reload in the log", 15*time.Second, func() bool {
		return strings.Contains(logs.String(), "configuration reload failed")
	})
	wantProblem := fmt.Sprintf(`problem="%s:%d: notify.routes[0].groups[1]: no group \"nosuch\"`, cfgPath, badLine)
	found := false
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `level=ERROR msg="configuration reload failed; the previous configuration is still running"`) && strings.Contains(l, wantProblem) {
			found = true
		}
	}
	if !found {
		t.Errorf("no error line with %s", wantProblem)
	}
	if m := metric(); m != "0" {
		t.Errorf("breakglass_config_reload_success after a bad reload = %q, want 0", m)
	}
	stillB := emit(reloadB)
	waitUntil(t, "B's sign-in paged under the old configuration", 10*time.Second, func() bool { return pl.firing("a", stillB) == 1 })
	if pl.firing("b", stillB) != 0 {
		t.Error("the bad configuration's route applied")
	}
	cond, ok := pl.find("a", func(p page) bool {
		return p.rule == "bg.source" && p.status == "firing" && strings.Contains(p.title, `"config"`)
	})
	if !ok {
		waitUntil(t, "bg.source for config", 10*time.Second, func() bool {
			cond, ok = pl.find("a", func(p page) bool {
				return p.rule == "bg.source" && p.status == "firing" && strings.Contains(p.title, `"config"`)
			})
			return ok
		})
	}
	t.Logf("condition page: %s", cond.title)

	// Fixed: the next reload applies and resolves the condition.
	write(reloadConfig(dir, listen, pl.srv.URL, []string{reloadA, reloadB}, "[a]"))
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the second good reload", 15*time.Second, func() bool { return reloads() == 2 })
	if m := metric(); m != "1" {
		t.Errorf("breakglass_config_reload_success after the fix = %q, want 1", m)
	}
	waitUntil(t, "bg.source for config resolved", 10*time.Second, func() bool {
		_, ok := pl.find("a", func(p page) bool { return p.alertID == cond.alertID && p.status == "resolved" })
		return ok
	})

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve did not stop cleanly after the reloads: %v", err)
	}
}
