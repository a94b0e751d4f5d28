// Package oidctest is a loopback OpenID Connect provider for tests:
// discovery, a JWKS with an RSA and an EC key, an authorize endpoint that
// signs the user in at once (no page), and a token endpoint that checks
// the code, the PKCE verifier and the client secret. The oidc package's
// tests and the end-to-end tests of serve share it, so the provider the
// dashboard is tested against is the same everywhere.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// The client the provider knows.
const (
	ClientID     = "bg-client"
	ClientSecret = "s3cret"
)

// The identity the default claims sign in.
const (
	Subject  = "u-1"
	Username = "dana@contoso.example"
	AppRole  = "BreakGlass.Responder"
)

// Provider is a running loopback provider. URL is its issuer.
type Provider struct {
	URL string

	srv   *httptest.Server
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	mu    sync.Mutex
	codes map[string]grant
	// what the next ID token says, how it is signed (tests change them
	// through the methods, under mu, while the server runs)
	claims func(nonce string) map[string]any
	alg    string
	kid    string
	forge  *rsa.PrivateKey // signs instead of rsa when set (not published)
}

type grant struct{ nonce, challenge string }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// NewProvider starts a provider on 127.0.0.1, stopped when t ends. Its ID
// tokens are RS256 (key k1) for Username with the app role AppRole in the
// "roles" claim, valid for an hour.
func NewProvider(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{codes: map[string]grant{}, alg: "RS256", kid: "k1"}
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
	p.URL = iss
	p.claims = func(nonce string) map[string]any {
		now := time.Now()
		return map[string]any{"iss": iss, "aud": ClientID, "sub": Subject, "preferred_username": Username,
			"nonce": nonce, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": []any{AppRole}}
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		x, y := p.ec.X.FillBytes(make([]byte, 32)), p.ec.Y.FillBytes(make([]byte, 32))
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{
			map[string]any{"kty": "RSA", "kid": "k1", "use": "sig", "n": b64(p.rsa.N.Bytes()), "e": b64(big.NewInt(int64(p.rsa.E)).Bytes())},
			map[string]any{"kty": "EC", "kid": "k2", "crv": "P-256", "x": b64(x), "y": b64(y)},
		}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != ClientID || q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		code := b64([]byte(q.Get("state")))[:16]
		p.mu.Lock()
		p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		g, ok := p.codes[r.Form.Get("code")]
		delete(p.codes, r.Form.Get("code"))
		claims := p.claims
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if !ok || b64(sum[:]) != g.challenge || r.Form.Get("client_secret") != ClientSecret {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_grant", "error_description": "bad code or verifier"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id_token": p.Sign(claims(g.nonce)), "token_type": "Bearer"})
	})
	return p
}

// Claims returns what the next ID token says for nonce.
func (p *Provider) Claims(nonce string) map[string]any {
	p.mu.Lock()
	f := p.claims
	p.mu.Unlock()
	return f(nonce)
}

// Mutate changes what the following ID tokens say.
func (p *Provider) Mutate(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	orig := p.claims
	p.claims = func(n string) map[string]any { c := orig(n); f(c); return c }
}

// SetAlg signs the following ID tokens with alg ("RS256" with key k1,
// "ES256" with k2, anything else as RS256 under that name) naming kid.
func (p *Provider) SetAlg(alg, kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alg, p.kid = alg, kid
}

// Forge signs the following RS256 tokens with key, which is not published.
func (p *Provider) Forge(key *rsa.PrivateKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forge = key
}

// Sign makes a JWT of claims with the current algorithm and key.
func (p *Provider) Sign(claims map[string]any) string {
	p.mu.Lock()
	alg, kid, forge := p.alg, p.kid, p.forge
	p.mu.Unlock()
	h, _ := json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	in := b64(h) + "." + b64(c)
	d := sha256.Sum256([]byte(in))
	var sig []byte
	if alg == "ES256" {
		r, s, _ := ecdsa.Sign(rand.Reader, p.ec, d[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	} else {
		key := p.rsa
		if forge != nil {
			key = forge
		}
		sig, _ = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	}
	return in + "." + b64(sig)
}

// Stop takes the provider down: it refuses connections from now on, as a
// provider that is unreachable does.
func (p *Provider) Stop() {
	p.srv.Listener.Close()
	p.srv.CloseClientConnections()
}
