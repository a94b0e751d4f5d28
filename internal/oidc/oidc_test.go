package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/oidc"
	"breakglass/internal/oidc/oidctest"
)

// app is breakglass's side: the flow, and a page that says who signed in.
type app struct {
	srv      *httptest.Server
	signedIn []oidc.Identity
}

func newApp(t *testing.T, issuer string) *app { return newAppWith(t, issuer, nil) }

// newAppWith is newApp with its provider's configuration changed by mod.
func newAppWith(t *testing.T, issuer string, mod func(*oidc.Config)) *app {
	a := &app{}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	cfg := oidc.Config{Issuer: issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret, RedirectURL: a.srv.URL + oidc.PathCallback,
		RoleClaim: "roles", Roles: map[string][]string{"admin": {"BreakGlass.Admin"}, "responder": {"BreakGlass.Responder"}, "viewer": {"BreakGlass.Viewer"}}}
	if mod != nil {
		mod(&cfg)
	}
	f := &oidc.Flow{Provider: oidc.Lazy(context.Background(), cfg), Key: []byte("0123456789abcdef0123456789abcdef"),
		SignIn: func(w http.ResponseWriter, r *http.Request, id oidc.Identity) error {
			a.signedIn = append(a.signedIn, id)
			return nil
		}}
	f.Register(mux)
	mux.HandleFunc("GET /alerts", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "alerts page") })
	return a
}

func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// signIn goes through the flow as a browser would, following the
// redirects and then the signed-in page's link (its meta refresh).
func signIn(t *testing.T, a *app) (int, string) {
	t.Helper()
	c := browser()
	resp, err := c.Get(a.srv.URL + oidc.PathLogin + "?next=/alerts")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `http-equiv="refresh" content="0;url=/alerts"`) {
		return resp.StatusCode, string(b)
	}
	resp, err = c.Get(a.srv.URL + "/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSignIn(t *testing.T) {
	p := oidctest.NewProvider(t)
	a := newApp(t, p.URL)
	status, body := signIn(t, a)
	if status != 200 || body != "alerts page" || len(a.signedIn) != 1 {
		t.Fatalf("sign-in: %d %q, signed in %v", status, body, a.signedIn)
	}
	if id := a.signedIn[0]; id.Name != oidctest.Username || id.Role != "responder" || id.Subject != "u-1" {
		t.Errorf("identity %+v", id)
	}
	// ES256 keys work too.
	p.SetAlg("ES256", "k2")
	if status, body := signIn(t, a); status != 200 || len(a.signedIn) != 2 {
		t.Errorf("ES256 sign-in: %d %s", status, body)
	}
}

func TestRefusals(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(p *oidctest.Provider)
		want  string
	}{
		{"wrong audience", func(p *oidctest.Provider) { p.Mutate(func(c map[string]any) { c["aud"] = "other-app" }) }, "another application"},
		{"expired", func(p *oidctest.Provider) {
			p.Mutate(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })
		}, "expired"},
		{"wrong issuer", func(p *oidctest.Provider) { p.Mutate(func(c map[string]any) { c["iss"] = "https://evil.example" }) }, "issued by"},
		{"wrong nonce", func(p *oidctest.Provider) { p.Mutate(func(c map[string]any) { c["nonce"] = "replayed" }) }, "nonce"},
		{"no role", func(p *oidctest.Provider) { p.Mutate(func(c map[string]any) { c["roles"] = []any{"Other"} }) }, "no role is granted"},
		{"forged signature", func(p *oidctest.Provider) { k, _ := rsa.GenerateKey(rand.Reader, 2048); p.Forge(k) }, "does not verify"},
		{"unknown key", func(p *oidctest.Provider) { p.SetAlg("RS256", "k9") }, "does not publish"},
		{"alg confusion", func(p *oidctest.Provider) { p.SetAlg("HS256", "k1") }, "RS256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := oidctest.NewProvider(t)
			a := newApp(t, p.URL)
			tt.setup(p)
			status, body := signIn(t, a)
			if status == 200 || len(a.signedIn) != 0 || !strings.Contains(body, tt.want) || !strings.Contains(body, "local account") {
				t.Errorf("%d, signed in %v:\n%s\nwant it refused saying %q", status, a.signedIn, body, tt.want)
			}
		})
	}
}

// TestForgedCallback: a callback not started here, with a forged state,
// or replayed, signs nobody in.
func TestForgedCallback(t *testing.T) {
	p := oidctest.NewProvider(t)
	a := newApp(t, p.URL)
	c := browser()
	for _, u := range []string{
		oidc.PathCallback + "?code=x&state=y", // no flow cookie
		oidc.PathCallback + "?error=access_denied&error_description=user+cancelled",
	} {
		resp, err := c.Get(a.srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 || len(a.signedIn) != 0 {
			t.Errorf("GET %s: %d, signed in %v", u, resp.StatusCode, a.signedIn)
		}
	}
	// Start a real attempt but answer with another state.
	noFollow := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(a.srv.URL + oidc.PathLogin)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(a.srv.URL + oidc.PathCallback + "?code=abc&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "state") || len(a.signedIn) != 0 {
		t.Errorf("forged state: %d %s", resp.StatusCode, b)
	}
}

// TestProviderDown: with the provider stopped, the sign-in page says so
// and points at local accounts.
func TestProviderDown(t *testing.T) {
	p := oidctest.NewProvider(t)
	a := newApp(t, p.URL)
	p.Stop() // down before the first use
	status, body := signIn(t, a)
	if status != 503 || !strings.Contains(body, "cannot be reached") || !strings.Contains(body, "local account") {
		t.Errorf("provider down: %d\n%s", status, body)
	}
}

// TestProviderDownAfterUse: a provider that signed people in and then
// went down is reported as down at the start of the next sign-in, instead
// of the browser being sent to its dead authorize page.
func TestProviderDownAfterUse(t *testing.T) {
	p := oidctest.NewProvider(t)
	a := newApp(t, p.URL)
	if status, body := signIn(t, a); status != 200 || len(a.signedIn) != 1 {
		t.Fatalf("sign-in while up: %d %s", status, body)
	}
	p.Stop()
	c := browser()
	resp, err := c.Get(a.srv.URL + oidc.PathLogin + "?next=/alerts")
	if err != nil {
		t.Fatalf("the login step left this site for the stopped provider: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "cannot be reached") || !strings.Contains(string(b), "local account") {
		t.Errorf("provider down after use: %d\n%s", resp.StatusCode, b)
	}
}

// TestTenants: with Config.Tenants, a session gets the tenants its claim
// values grant (from TenantClaim, else the role claim), and someone granted
// none is refused; without it, no limit.
func TestTenants(t *testing.T) {
	const tA, tB = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	grants := map[string][]string{tA: {"grp-contoso"}, tB: {"grp-fabrikam", "grp-msp"}}
	for _, tt := range []struct {
		name    string
		claim   string // TenantClaim
		tenants map[string][]string
		claims  map[string]any // set on the ID token
		want    []string
		refused string
	}{
		{name: "no limit configured", claims: map[string]any{"groups": []any{"grp-contoso"}}, want: nil},
		{name: "one tenant by groups", claim: "groups", tenants: grants, claims: map[string]any{"groups": []any{"grp-contoso", "other"}}, want: []string{tA}},
		{name: "two tenants", claim: "groups", tenants: grants, claims: map[string]any{"groups": []any{"grp-msp", "grp-contoso"}}, want: []string{tB, tA}},
		{name: "a single string claim", claim: "groups", tenants: grants, claims: map[string]any{"groups": "grp-fabrikam"}, want: []string{tB}},
		{name: "from the role claim by default", tenants: map[string][]string{tA: {"BreakGlass.Responder"}}, want: []string{tA}},
		{name: "none granted", claim: "groups", tenants: grants, claims: map[string]any{"groups": []any{"other"}}, refused: "no tenant is granted"},
		{name: "claim missing", claim: "groups", tenants: grants, refused: "no tenant is granted"},
		{name: "claim of the wrong type", claim: "groups", tenants: grants, claims: map[string]any{"groups": map[string]any{"x": "grp-contoso"}}, refused: "no tenant is granted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := oidctest.NewProvider(t)
			a := newAppWith(t, p.URL, func(c *oidc.Config) { c.Tenants, c.TenantClaim = tt.tenants, tt.claim })
			p.Mutate(func(c map[string]any) {
				for k, v := range tt.claims {
					c[k] = v
				}
			})
			status, body := signIn(t, a)
			if tt.refused != "" {
				if status == 200 || len(a.signedIn) != 0 || !strings.Contains(body, tt.refused) {
					t.Errorf("%d, signed in %v:\n%s\nwant it refused saying %q", status, a.signedIn, body, tt.refused)
				}
				return
			}
			if status != 200 || len(a.signedIn) != 1 {
				t.Fatalf("sign-in: %d %s", status, body)
			}
			got := a.signedIn[0].Tenants
			slices.Sort(tt.want)
			if !slices.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("tenants %v, want %v", got, tt.want)
			}
		})
	}
}
