package daemon

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/oidc"
	"breakglass/internal/oidc/oidctest"
	"breakglass/internal/store"
)

// TestOIDCSessionTenants: through serve, a person signed in by the
// provider with server.oidc.tenants granting tenant A only sees A's
// alerts in the API, not B's, as a local user limited to A would.
func TestOIDCSessionTenants(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	ga, gb := twoTenantGraphs(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port to name in the redirect URL
	if err != nil {
		t.Fatal(err)
	}
	e.listen = ln.Addr().String()
	ln.Close()
	cfg := tenantsConfig(t, e, rcv, ga.URL, gb.URL)
	p := oidctest.NewProvider(t)
	cfg.Server.OIDC = &config.OIDCConfig{Issuer: p.URL, ClientID: oidctest.ClientID, ClientSecret: config.Secret(oidctest.ClientSecret),
		RedirectURL: "http://" + e.listen + oidc.PathCallback, RoleClaim: "roles", TenantClaim: "roles",
		Roles: map[string][]string{"responder": {oidctest.AppRole}}, Tenants: map[string][]string{tenantA: {oidctest.AppRole}, tenantB: {"Fabrikam.Staff"}}}
	r := start(t, cfg, Options{AuditDelay: time.Hour, AuditInterval: time.Hour, GroupRefresh: time.Hour})
	ctx := context.Background()
	now := time.Now().UTC()
	for _, x := range []struct{ event, tenant, id string }{{"oA", tenantA, accA}, {"oB", tenantB, accB}} {
		a := alert.Alert{ID: alert.Key(x.event, "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in (success)",
			AccountID: x.id, EventID: x.event, EventTime: now, Category: "SignInLogs", Detected: now, Labels: map[string]string{alert.LabelTenant: x.tenant}}
		if _, err := r.d.st.AddAlert(ctx, a, store.Evidence{EventID: x.event, Category: "SignInLogs", Raw: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + e.listen
	resp, err := c.Get(base + oidc.PathLogin + "?next=/alerts")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Signed in as") {
		t.Fatalf("OIDC sign-in: %d\n%s\n%s", resp.StatusCode, b, r.logs.String())
	}
	resp, err = c.Get(base + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"oA"`) || strings.Contains(string(b), `"oB"`) {
		t.Errorf("the API for the session limited to tenant A: %d\n%s\nwant A's alert oA only", resp.StatusCode, b)
	}
}
