package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// TestServeRulesAndQueryAPI runs serve with a KQL rule and drives the
// routes the rules and drills pages read, through the daemon's real
// wiring: GET /api/v1/rules lists the configured rule, POST /api/v1/query
// reads the evidence record the store keeps, and GET /api/v1/accounts
// says a drill is due (never drilled).
func TestServeRulesAndQueryAPI(t *testing.T) {
	dir := t.TempDir()
	dbPath, listen := filepath.Join(dir, "bg.db"), freeAddr(t)
	y := fmt.Sprintf(`accounts:
  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70
    upn: bg1@contoso.example
store:
  path: %s
server:
  listen: %s
rules:
  - name: many-signins
    query: |
      SigninLogs
      | summarize n = count() by UserPrincipalName
    frequency: 5m
    period: 10m
    threshold: {column: n, operator: GreaterThan, value: 3}
    severity: 2
`, dbPath, listen)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	raw := fmt.Sprintf(`{"Type":"SigninLogs","TimeGenerated":%q,"Id":"ev-1","UserPrincipalName":"bg1@contoso.example","IPAddress":"203.0.113.44","ResultType":"0"}`, now.Add(-time.Minute).Format(time.RFC3339))
	a := alert.Alert{ID: "0123456789abcdef0123456789abcdef", Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass sign-in",
		AccountID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", EventID: "ev-1", EventTime: now.Add(-time.Minute), Detected: now}
	if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: "ev-1", Category: "SignInLogs", Source: "test", Raw: []byte(raw)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := runBinaryIn(t, "", "tokens", "create", "--name", "reader", "--role", "viewer", "-c", cfg)
	if r.code != 0 {
		t.Fatalf("tokens create: %s", r.stderr)
	}
	token := strings.TrimSpace(r.stdout)

	cmd := exec.Command(binary, "serve", "-c", cfg)
	logs := &serveLog{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	base := "http://" + listen
	c := &http.Client{Timeout: 15 * time.Second}
	send := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, logs.String())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ready := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := c.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		t.Fatalf("serve not ready:\n%s", logs.String())
	}

	status, body := send("GET", "/api/v1/rules", "")
	var rules struct {
		Rules []struct {
			ID, Kind, Frequency, Period, Threshold, Query string
			Severity                                      int
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(body), &rules); status != 200 || err != nil || len(rules.Rules) != 1 {
		t.Fatalf("GET /api/v1/rules: %d %v\n%s", status, err, body)
	}
	if got := rules.Rules[0]; got.ID != "kql.many-signins" || got.Kind != "scheduled" || got.Frequency != "5m" || got.Period != "10m" ||
		got.Threshold != "n > 3" || got.Severity != 2 || !strings.Contains(got.Query, "summarize") {
		t.Errorf("the rule: %+v", got)
	}

	status, body = send("POST", "/api/v1/query", `{"query": "SigninLogs | project IPAddress, UserPrincipalName"}`)
	if status != 200 || !strings.Contains(body, `"IPAddress": "203.0.113.44"`) {
		t.Errorf("POST /api/v1/query: %d\n%s", status, body)
	}
	status, body = send("POST", "/api/v1/query", `{"query": "SigninLogs | where Nope"}`)
	if status != 400 || !strings.Contains(body, `"code": "bad_query"`) || !strings.Contains(body, `"line": 1`) {
		t.Errorf("a bad query: %d\n%s", status, body)
	}

	status, body = send("GET", "/api/v1/accounts", "")
	if status != 200 || !strings.Contains(body, `"drill_overdue": true`) {
		t.Errorf("GET /api/v1/accounts does not say a drill is due: %d\n%s", status, body)
	}
	if strings.Contains(logs.String(), token) {
		t.Error("the token is in serve's log")
	}
}
