package oidc_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/oidc"
)

// provider is a loopback OpenID Connect provider written for these tests:
// discovery, JWKS, an authorize endpoint that signs the user in at once,
// and a token endpoint that checks the code and the PKCE verifier.
type provider struct {
	srv   *httptest.Server
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	mu    sync.Mutex
	codes map[string]grant
	// what the next ID token says (tests change it)
	claims func(nonce string) map[string]any
	alg    string
	kid    string
	forge  *rsa.PrivateKey // signs instead of rsa when set (not published)
}

type grant struct{ nonce, challenge string }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newProvider(t testing.TB) *provider {
	t.Helper()
	p := &provider{codes: map[string]grant{}, alg: "RS256", kid: "k1"}
	var err error
	if p.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if p.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	iss := p.srv.URL
	p.claims = func(nonce string) map[string]any {
		now := time.Now()
		return map[string]any{"iss": iss, "aud": "bg-client", "sub": "u-1", "preferred_username": "dana@contoso.example",
			"nonce": nonce, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": []any{"BreakGlass.Responder"}}
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		x, y := p.ec.X.FillBytes(make([]byte, 32)), p.ec.Y.FillBytes(make([]byte, 32))
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{
			map[string]any{"kty": "RSA", "kid": "k1", "use": "sig", "n": b64(p.rsa.N.Bytes()), "e": b64(big.NewInt(int64(p.rsa.E)).Bytes())},
			map[string]any{"kty": "EC", "kid": "k2", "crv": "P-256", "x": b64(x), "y": b64(y)},
		}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "bg-client" || q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
			http.Error(w, "bad request", 400)
			return
		}
		code := b64([]byte(q.Get("state")))[:16]
		p.mu.Lock()
		p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		p.mu.Lock()
		g, ok := p.codes[r.Form.Get("code")]
		delete(p.codes, r.Form.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if !ok || b64(sum[:]) != g.challenge || r.Form.Get("client_secret") != "s3cret" {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]any{"error": "invalid_grant", "error_description": "bad code or verifier"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id_token": p.sign(p.claims(g.nonce)), "token_type": "Bearer"})
	})
	return p
}

func (p *provider) sign(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": p.alg, "kid": p.kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	in := b64(h) + "." + b64(c)
	d := sha256.Sum256([]byte(in))
	var sig []byte
	if p.alg == "ES256" {
		r, s, _ := ecdsa.Sign(rand.Reader, p.ec, d[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	} else {
		key := p.rsa
		if p.forge != nil {
			key = p.forge
		}
		sig, _ = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	}
	return in + "." + b64(sig)
}

// app is breakglass's side: the flow, and a page that says who signed in.
type app struct {
	srv      *httptest.Server
	signedIn []oidc.Identity
}

func newApp(t *testing.T, issuer string) *app {
	a := &app{}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	cfg := oidc.Config{Issuer: issuer, ClientID: "bg-client", ClientSecret: "s3cret", RedirectURL: a.srv.URL + oidc.PathCallback,
		RoleClaim: "roles", Roles: map[string][]string{"admin": {"BreakGlass.Admin"}, "responder": {"BreakGlass.Responder"}, "viewer": {"BreakGlass.Viewer"}}}
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
	p := newProvider(t)
	a := newApp(t, p.srv.URL)
	status, body := signIn(t, a)
	if status != 200 || body != "alerts page" || len(a.signedIn) != 1 {
		t.Fatalf("sign-in: %d %q, signed in %v", status, body, a.signedIn)
	}
	if id := a.signedIn[0]; id.Name != "dana@contoso.example" || id.Role != "responder" || id.Subject != "u-1" {
		t.Errorf("identity %+v", id)
	}
	// ES256 keys work too.
	p.alg, p.kid = "ES256", "k2"
	if status, body := signIn(t, a); status != 200 || len(a.signedIn) != 2 {
		t.Errorf("ES256 sign-in: %d %s", status, body)
	}
}

func TestRefusals(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(p *provider)
		want  string
	}{
		{"wrong audience", func(p *provider) { p.mutate(func(c map[string]any) { c["aud"] = "other-app" }) }, "another application"},
		{"expired", func(p *provider) {
			p.mutate(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })
		}, "expired"},
		{"wrong issuer", func(p *provider) { p.mutate(func(c map[string]any) { c["iss"] = "https://evil.example" }) }, "issued by"},
		{"wrong nonce", func(p *provider) { p.mutate(func(c map[string]any) { c["nonce"] = "replayed" }) }, "nonce"},
		{"no role", func(p *provider) { p.mutate(func(c map[string]any) { c["roles"] = []any{"Other"} }) }, "no role is granted"},
		{"forged signature", func(p *provider) { p.forge, _ = rsa.GenerateKey(rand.Reader, 2048) }, "does not verify"},
		{"unknown key", func(p *provider) { p.kid = "k9" }, "does not publish"},
		{"alg confusion", func(p *provider) { p.alg = "HS256" }, "RS256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			a := newApp(t, p.srv.URL)
			tt.setup(p)
			status, body := signIn(t, a)
			if status == 200 || len(a.signedIn) != 0 || !strings.Contains(body, tt.want) || !strings.Contains(body, "local account") {
				t.Errorf("%d, signed in %v:\n%s\nwant it refused saying %q", status, a.signedIn, body, tt.want)
			}
		})
	}
}

func (p *provider) mutate(f func(map[string]any)) {
	orig := p.claims
	p.claims = func(n string) map[string]any { c := orig(n); f(c); return c }
}

// TestForgedCallback: a callback not started here, with a forged state,
// or replayed, signs nobody in.
func TestForgedCallback(t *testing.T) {
	p := newProvider(t)
	a := newApp(t, p.srv.URL)
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
	p := newProvider(t)
	a := newApp(t, p.srv.URL)
	p.srv.Listener.Close() // down before the first use
	p.srv.CloseClientConnections()
	status, body := signIn(t, a)
	if status != 503 || !strings.Contains(body, "cannot be reached") || !strings.Contains(body, "local account") {
		t.Errorf("provider down: %d\n%s", status, body)
	}
}
