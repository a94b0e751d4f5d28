package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/collect/collecttest"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/source"
	"breakglass/internal/store"
)

// The two tenants of the tests: A (contoso) has broken Graph credentials
// (its token variable is unset), B (fabrikam) a working Graph, the
// compliant fixture tenant.
const (
	tenantA  = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f"
	tenantB  = "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	tenantX  = "99999999-8888-4777-8666-555555555555" // in no config
	accA     = "a0000000-0000-4000-8000-00000000000a"
	upnA     = "bg@contoso.example"
	accB     = "0b9f1a2c-3d4e-4f50-8a61-b7c8d9e0f101" // bg1 of the compliant snapshot
	upnB     = "bg1@contoso.onmicrosoft.com"
	groupA   = "a0000000-0000-4000-8000-0000000000e1"
	tokenEnB = "BG_TENANT_B_TOKEN"
	tokenEnA = "BG_TENANT_A_TOKEN_UNSET"
)

// signInIn is a diagnostic-settings sign-in of a user, from tenant (""
// for a record without its tenant field).
func signInIn(tenant, id, upn, eventID string) string {
	tf := ""
	if tenant != "" {
		tf = `"tenantId":"` + tenant + `",`
	}
	return `{"time":"2026-06-20T07:00:00Z",` + tf + `"category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"` + eventID +
		`","createdDateTime":"2026-06-20T07:00:00Z","userId":"` + id + `","userPrincipalName":"` + upn + `","status":{"errorCode":0}}}` + "\n"
}

// tenantsConfig is two tenants, each with its own http source, Graph and
// route to its own receiver path, a shared http source, and notify.routes
// sending what is left to /msp.
func tenantsConfig(t *testing.T, e *env, rcv *receiver, graphA, graphB string) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`store:
  path: %[1]s
server:
  listen: %[2]s
log:
  level: debug
tenants:
  - id: %[3]s
    name: contoso
    accounts:
      - id: %[5]s
        upn: %[6]s
      - group: %[9]s
        name: Contoso break-glass
    graph:
      auth: access_token
      token_env: %[12]s
      base_url: %[10]s
    sources:
      - type: http
        name: contoso-push
        listen: 127.0.0.1:0
        token: ${%[13]s}
    routes:
      - groups: [contoso]
  - id: %[4]s
    name: fabrikam
    accounts:
      - id: %[7]s
        upn: %[8]s
    graph:
      auth: access_token
      token_env: %[14]s
      base_url: %[11]s
    sources:
      - type: http
        name: fabrikam-push
        listen: 127.0.0.1:0
        token: ${%[13]s}
    routes:
      - groups: [fabrikam]
sources:
  - type: http
    name: shared
    listen: 127.0.0.1:0
    token: ${%[13]s}
notify:
  groups:
    - name: contoso
      channels:
        - type: webhook
          url: %[15]s/contoso
    - name: fabrikam
      channels:
        - type: webhook
          url: %[15]s/fabrikam
    - name: msp
      channels:
        - type: webhook
          url: %[15]s/msp
  routes:
    - groups: [msp]
`, e.db, e.listen, tenantA, tenantB, accA, upnA, accB, upnB, groupA, graphA, graphB, tokenEnA, tokenEnv, tokenEnB, rcv.srv.URL)
	path := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(tokenEnv, token)
	t.Setenv(tokenEnB, "tenant-b-token")
	os.Unsetenv(tokenEnA)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

// sourceAddr is the address of the daemon's http source name.
func (r *running) sourceAddr(t *testing.T, name string) string {
	t.Helper()
	for _, s := range r.d.Sources() {
		if h, ok := s.(*source.HTTP); ok && s.Name() == name {
			select {
			case <-h.Ready():
			case <-time.After(10 * time.Second):
				t.Fatal("http source not listening")
			}
			return h.Addr().String()
		}
	}
	t.Fatalf("no http source %s", name)
	return ""
}

// twoTenantGraphs are tenant A's Graph (never reached: its credential
// fails first) and tenant B's (the compliant fixture tenant).
func twoTenantGraphs(t *testing.T) (a, b *graphtest.Server) {
	snap, err := collect.Load(filepath.Join("..", "posture", "testdata", "snapshots", "compliant"))
	if err != nil {
		t.Fatal(err)
	}
	return graphtest.New(t), collecttest.Serve(t, snap, 0)
}

// TestTwoTenants is issue 14's two-tenant test in-process: alerts are
// routed per tenant (A's route to A's receiver, B's to B's), a shared
// source attributes each record by its tenant field (else by the account),
// and A's broken Graph credentials raise A's bg.source (its groups, its
// audit) routed to A only, while B's sign-ins keep flowing and B's audit
// runs.
func TestTwoTenants(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	ga, gb := twoTenantGraphs(t)
	cfg := tenantsConfig(t, e, rcv, ga.URL, gb.URL)
	r := start(t, cfg, Options{AuditDelay: 10 * time.Millisecond, AuditInterval: time.Hour, GroupRefresh: time.Hour})
	debug := func() string { return fmt.Sprint(rcv.rules, "\n", r.logs.String()) }

	// Tenant A's credentials fail: its groups and its audit cannot be
	// read, each a bg.source of tenant A, paged to A's group only.
	waitFor(t, 15*time.Second, "A's bg.source for its group and its audit", func() bool { return rcv.rule("/contoso bg.source firing") >= 2 }, debug)
	if n := len(ga.Requests()); n != 0 {
		t.Errorf("tenant A's Graph got %d requests without a token", n)
	}
	// B's audit ran through B's Graph despite A's failure.
	waitFor(t, 15*time.Second, "B's audit", func() bool {
		_, ok, err := r.d.st.Condition(context.Background(), "posture.state", "verdicts of tenant "+tenantB)
		return ok && err == nil
	}, debug)

	// Each tenant's source: its sign-in goes to its tenant's route.
	if code := post(t, r.sourceAddr(t, "contoso-push"), []byte(signInIn("", accA, upnA, "tA-1"))); code != 202 {
		t.Fatalf("POST A = %d", code)
	}
	if code := post(t, r.sourceAddr(t, "fabrikam-push"), []byte(signInIn("", accB, upnB, "tB-1"))); code != 202 {
		t.Fatalf("POST B = %d", code)
	}
	// The shared source: B's record by its tenantId; A's account in a
	// record without a tenant (by the account); A's account in a record
	// of a tenant nobody configured (by the account, saying so).
	shared := signInIn(tenantB, accB, upnB, "tS-1") + signInIn("", accA, upnA, "tS-2") + signInIn(tenantX, accA, upnA, "tS-3")
	if code := post(t, r.sourceAddr(t, "shared"), []byte(shared)); code != 202 {
		t.Fatalf("POST shared = %d", code)
	}
	waitFor(t, 15*time.Second, "A's sign-ins at A", func() bool { return rcv.rule("/contoso bg.signin firing") == 3 }, debug)
	waitFor(t, 15*time.Second, "B's sign-ins at B", func() bool { return rcv.rule("/fabrikam bg.signin firing") == 2 }, debug)
	time.Sleep(300 * time.Millisecond)
	for _, k := range []string{"/fabrikam bg.source firing", "/msp bg.signin firing", "/msp bg.source firing", "/contoso bg.posture firing"} {
		if n := rcv.rule(k); n != 0 {
			t.Errorf("%s: %d deliveries, want none\n%s", k, n, debug())
		}
	}

	ctx := context.Background()
	want := map[string]struct{ tenant, name, why string }{
		"tA-1": {tenantA, "contoso", ""},
		"tB-1": {tenantB, "fabrikam", ""},
		"tS-1": {tenantB, "fabrikam", ""},
		"tS-2": {tenantA, "contoso", "names no tenant"},
		"tS-3": {tenantA, "contoso", tenantX + " is not in tenants:"},
	}
	as, err := r.d.st.Alerts(ctx, store.AlertFilter{Rule: "bg.signin"})
	if err != nil || len(as) != len(want) {
		t.Fatalf("%d sign-in alerts, %v", len(as), err)
	}
	for _, a := range as {
		w, ok := want[a.EventID]
		if !ok {
			t.Errorf("unexpected alert %s", a.EventID)
			continue
		}
		if a.Labels["tenant"] != w.tenant || a.Annotations[AnnotationTenantName] != w.name || !strings.Contains(a.Annotations[AnnotationTenantAttribution], w.why) || (w.why == "") != (a.Annotations[AnnotationTenantAttribution] == "") {
			t.Errorf("%s: tenant %q name %q attribution %q; want %+v", a.EventID, a.Labels["tenant"], a.Annotations[AnnotationTenantName], a.Annotations[AnnotationTenantAttribution], w)
		}
	}
	src, err := r.d.st.Alerts(ctx, store.AlertFilter{Rule: "bg.source"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range src {
		if a.Labels["tenant"] != tenantA {
			t.Errorf("bg.source %q has tenant %q, want A's", a.Title, a.Labels["tenant"])
		}
		t.Logf("bg.source: %s", a.Title)
	}
}
