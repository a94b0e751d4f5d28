package main

import (
	"bytes"
	"context"
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
	"testing"
	"time"

	"breakglass/internal/graph/graphtest"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// TestServeTwoTenants is issue 14's two-tenant test through the binary:
// tenant A's alerts reach A's webhook and B's reach B's, and A's broken
// Graph credentials (its token variable is unset, so its break-glass group
// cannot be read) raise A's bg.source at A while B's sign-ins keep
// flowing to B.
func TestServeTwoTenants(t *testing.T) {
	const (
		tenantA, tenantB = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
		accA, accB       = "a0000000-0000-4000-8000-00000000000a", "b0000000-0000-4000-8000-00000000000b"
		groupA           = "a0000000-0000-4000-8000-0000000000e1"
	)
	var mu sync.Mutex
	got := map[string]int{} // "path rule" -> firing deliveries
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			AlertID string `json:"alert_id"`
			Status  string `json:"status"`
			Rule    string `json:"rule"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil || body.AlertID == "" {
			http.Error(w, "bad body", 400)
			return
		}
		if body.Status == "firing" {
			mu.Lock()
			got[r.URL.Path+" "+body.Rule]++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hooks.Close()
	count := func(k string) int { mu.Lock(); defer mu.Unlock(); return got[k] }
	ga := graphtest.New(t) // never reached: A's token cannot be had

	dir := t.TempDir()
	listen, inA, inB := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf(`store:
  path: %s
server:
  listen: %s
log:
  level: warn
tenants:
  - id: %s
    name: contoso
    accounts:
      - id: %s
      - group: %s
    graph:
      auth: access_token
      token_env: E2E_TENANT_A_TOKEN_UNSET
      base_url: %s
    sources:
      - type: http
        name: contoso-push
        listen: %s
        token: ${E2E_TOKEN}
    routes:
      - groups: [contoso]
  - id: %s
    name: fabrikam
    accounts:
      - id: %s
    sources:
      - type: http
        name: fabrikam-push
        listen: %s
        token: ${E2E_TOKEN}
    routes:
      - groups: [fabrikam]
notify:
  groups:
    - name: contoso
      channels:
        - type: webhook
          url: %s/contoso
          schema: breakglass
    - name: fabrikam
      channels:
        - type: webhook
          url: %s/fabrikam
          schema: breakglass
`, filepath.Join(dir, "bg.db"), listen, tenantA, accA, groupA, ga.URL, inA, tenantB, accB, inB, hooks.URL, hooks.URL)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, []string{"E2E_TOKEN=x"}, "config", "check", "--config", path); r.code != 0 || !strings.Contains(r.stderr, "config OK: 3 accounts in 2 tenants") {
		t.Fatalf("config check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A command about one tenant needs --tenant, and then reads that
	// tenant's accounts only.
	snap := filepath.Join("..", "..", "examples", "snapshot")
	if r := runBinary(t, []string{"E2E_TOKEN=x"}, "audit", "--config", path, "--snapshot", snap); r.code != 2 ||
		!strings.Contains(r.stderr, "has 2 tenants: name the one to read with --tenant (contoso ("+tenantA+"), fabrikam ("+tenantB+"))") {
		t.Errorf("audit without --tenant: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBinary(t, []string{"E2E_TOKEN=x"}, "audit", "--config", path, "--snapshot", snap, "--tenant", "northwind"); r.code != 2 || !strings.Contains(r.stderr, `no tenant "northwind"`) {
		t.Errorf("audit --tenant unknown: exit %d\n%s", r.code, r.stderr)
	}
	// With --tenant the audit is fabrikam's (by name, any case): the
	// example snapshot is another tenant's, which it refuses, naming B.
	if r := runBinary(t, []string{"E2E_TOKEN=x"}, "audit", "--config", path, "--snapshot", snap, "--tenant", "FABRIKAM"); r.code != 2 ||
		!strings.Contains(r.stderr, "is for tenant "+tenantB) {
		t.Errorf("audit --tenant fabrikam: exit %d, want the snapshot refused as not tenant %s\n%s", r.code, tenantB, r.stderr)
	}
	// scan cannot read the tenants' groups: it refuses rather than miss
	// their members' records; accounts export refuses a merged list.
	if r := runBinary(t, []string{"E2E_TOKEN=x"}, "scan", "--config", path, filepath.Join(dir, "config.yaml")); r.code != 2 || !strings.Contains(r.stderr, "tenants list group entries") {
		t.Errorf("scan with tenants' groups: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBinary(t, []string{"E2E_TOKEN=x"}, "accounts", "export", "--config", path, "--format", "maester"); r.code != 2 || !strings.Contains(r.stderr, "one tenant's list") {
		t.Errorf("accounts export with tenants: exit %d\n%s", r.code, r.stderr)
	}
	// A user limited to contoso (it creates the store), a token limited
	// to fabrikam, and a typo refused with exit 2.
	t.Setenv("E2E_TOKEN", "e2e-token")
	if r := runBinaryIn(t, "correct horse battery staple\n", "users", "add", "--config", path, "dana", "--role", "responder", "--tenant", tenantA); r.code != 0 || !strings.Contains(r.stdout, "limited to tenants "+tenantA) {
		t.Fatalf("users add --tenant: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, nil, "users", "list", "--config", path, "--format", "json"); r.code != 0 || !strings.Contains(r.stdout, tenantA) {
		t.Errorf("users list does not show the tenant: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, []string{"E2E_TOKEN=x"}, "tokens", "create", "--config", path, "--name", "bad", "--role", "viewer", "--tenant", "fabrkam"); r.code != 2 || !strings.Contains(r.stderr, "no such tenant") {
		t.Fatalf("tokens create --tenant fabrkam: exit %d\n%s", r.code, r.stderr)
	}
	tr := runBinary(t, []string{"E2E_TOKEN=x"}, "tokens", "create", "--config", path, "--name", "fab-ci", "--role", "responder", "--tenant", "Fabrikam")
	if tr.code != 0 {
		t.Fatalf("tokens create: exit %d\n%s", tr.code, tr.stderr)
	}
	fabToken := strings.TrimSpace(tr.stdout)
	cmd := exec.Command(binary, "serve", "--config", path)
	cmd.Env = append(os.Environ(), "E2E_TOKEN=e2e-token")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	d := &daemonProc{listen: listen, token: "e2e-token"}
	if !d.waitReady(t, 60*time.Second) {
		t.Fatalf("not ready\n%s", logs.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signIn := func(addr, acc, id string) {
		t.Helper()
		d.ingest = addr
		rec := `{"time":"2026-06-20T07:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"` + id +
			`","createdDateTime":"2026-06-20T07:00:00Z","userId":"` + acc + `","status":{"errorCode":0}}}` + "\n"
		if err := d.post(ctx, []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	signIn(inB, accB, "e2e-b-1")
	signIn(inA, accA, "e2e-a-1")
	signIn(inB, accB, "e2e-b-2")
	want := map[string]int{"/contoso bg.signin": 1, "/fabrikam bg.signin": 2, "/contoso bg.source": 1}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for k, n := range want {
			if count(k) != n {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("deliveries %v, want %v\n%s", got, want, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for k, n := range got {
		if want[k] != n {
			t.Errorf("%s: %d deliveries, want %d (all: %v)", k, n, want[k], got)
		}
	}
	if n := len(ga.Requests()); n != 0 {
		t.Errorf("tenant A's Graph got %d requests without a token", n)
	}

	// The token limited to fabrikam sees fabrikam's alerts only, and
	// contoso's alert is 404 to it.
	apiGet := func(path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+listen+path, nil)
		req.Header.Set("Authorization", "Bearer "+fabToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b
	}
	code, body := apiGet("/api/v1/alerts")
	var list struct {
		Alerts []struct {
			ID     string            `json:"id"`
			Rule   string            `json:"rule"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if code != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("GET /api/v1/alerts = %d %s", code, body)
	}
	if len(list.Alerts) != 2 {
		t.Errorf("the fabrikam token sees %d alerts, want fabrikam's 2: %s", len(list.Alerts), body)
	}
	for _, a := range list.Alerts {
		if a.Labels["tenant"] != tenantB {
			t.Errorf("the fabrikam token sees alert %s of tenant %q", a.ID, a.Labels["tenant"])
		}
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	as, err := st.Alerts(ctx, store.AlertFilter{Labels: map[string]string{"tenant": tenantA}})
	if err != nil || len(as) == 0 {
		t.Fatalf("contoso's alerts: %d, %v", len(as), err)
	}
	if code, body := apiGet("/api/v1/alerts/" + as[0].ID); code != 404 {
		t.Errorf("the fabrikam token reads contoso's alert: %d %s", code, body)
	}
}
