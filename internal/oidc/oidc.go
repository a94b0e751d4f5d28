// Package oidc signs people in to the dashboard through an OpenID Connect
// provider (Entra ID or any other): discovery, the authorization-code flow
// with PKCE, and verification of the ID token (signature against the
// provider's keys, issuer, audience, expiry, nonce), then the mapping of
// a claim (roles or groups) to a breakglass role.
//
// It is the convenient way in, never the only one: local users keep
// working when the provider is down, which is the point of a break-glass
// tool. Every failure here says so.
package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config is one provider.
type Config struct {
	Issuer       string // e.g. https://login.microsoftonline.com/<tenant>/v2.0
	ClientID     string
	ClientSecret string // empty: a public client (PKCE only)
	RedirectURL  string // https://breakglass.example/oidc/callback
	Scopes       []string
	// RoleClaim names the claim whose values map to roles ("roles" for
	// Entra app roles, "groups" for group object ids).
	RoleClaim string
	// Roles maps a breakglass role to the claim values that grant it; the
	// highest role granted wins. A user granted none is refused.
	Roles map[string][]string
	// Tenants, when set, limits a session to tenants: tenant id → the
	// TenantClaim values that grant it. Someone granted none is refused.
	// Nil: sessions see every tenant.
	Tenants map[string][]string
	// TenantClaim names the claim Tenants reads (default RoleClaim).
	TenantClaim string
	// Client is the HTTP client (timeouts; tests). Nil: 10 s timeout.
	Client *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// RoleOrder lists the roles from the most to the least privileged.
var RoleOrder = []string{"admin", "responder", "viewer"}

// Leeway is the clock skew tolerated on exp, iat and nbf.
const Leeway = 2 * time.Minute

// maxBody bounds what is read from the provider.
const maxBody = 1 << 20

// ErrUnavailable wraps every failure to reach the provider.
var ErrUnavailable = errors.New("the identity provider cannot be reached; sign in with a local account instead (breakglass users add)")

// Provider is a discovered provider.
type Provider struct {
	c        Config
	authURL  string
	tokenURL string
	jwksURL  string

	mu   sync.Mutex
	keys map[string]crypto.PublicKey
	last time.Time // last JWKS fetch
}

// Discover reads the provider's metadata (/.well-known/openid-configuration).
func Discover(ctx context.Context, c Config) (*Provider, error) {
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RoleClaim == "" {
		c.RoleClaim = "roles"
	}
	if c.TenantClaim == "" {
		c.TenantClaim = c.RoleClaim
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email"}
	}
	var meta struct {
		Issuer   string `json:"issuer"`
		AuthURL  string `json:"authorization_endpoint"`
		TokenURL string `json:"token_endpoint"`
		JWKSURL  string `json:"jwks_uri"`
	}
	u := strings.TrimSuffix(c.Issuer, "/") + "/.well-known/openid-configuration"
	if err := getJSON(ctx, c.Client, u, &meta); err != nil {
		return nil, err
	}
	if meta.Issuer != c.Issuer {
		return nil, fmt.Errorf("oidc: the provider at %s says its issuer is %q, not %q: set server.oidc.issuer to exactly the issuer", u, meta.Issuer, c.Issuer)
	}
	for name, v := range map[string]string{"authorization_endpoint": meta.AuthURL, "token_endpoint": meta.TokenURL, "jwks_uri": meta.JWKSURL} {
		if pu, err := url.Parse(v); err != nil || pu.Host == "" {
			return nil, fmt.Errorf("oidc: the provider's %s %q is not a URL", name, v)
		}
	}
	return &Provider{c: c, authURL: meta.AuthURL, tokenURL: meta.TokenURL, jwksURL: meta.JWKSURL}, nil
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return fmt.Errorf("oidc: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error // it repeats the URL, query and all
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w (GET %s: %v)", ErrUnavailable, redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w (GET %s: HTTP %d)", ErrUnavailable, redact(u), resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		return fmt.Errorf("oidc: GET %s: not the JSON expected: %w", redact(u), err)
	}
	return nil
}

// redact keeps a URL's scheme, host and path: a query may hold secrets.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(a URL)"
	}
	return pu.Scheme + "://" + pu.Host + pu.Path
}

// AuthCodeURL is where the browser goes to sign in: state and nonce are
// random per attempt, verifier the PKCE secret (its S256 challenge is sent).
func (p *Provider) AuthCodeURL(state, nonce, verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {p.c.ClientID},
		"redirect_uri":          {p.c.RedirectURL},
		"scope":                 {strings.Join(p.c.Scopes, " ")},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(p.authURL, "?") {
		sep = "&"
	}
	return p.authURL + sep + q.Encode()
}

// Identity is who signed in, and the role the claims grant.
type Identity struct {
	Subject string
	Name    string // preferred_username, email or name
	Role    string
	// Tenants are the tenant ids the claims grant (Config.Tenants), in
	// order; nil when Config.Tenants is nil: every tenant.
	Tenants []string
	Claims  map[string]any
}

// Exchange trades the code for tokens and verifies the ID token: it must
// be signed by one of the provider's keys (RS256 or ES256), issued by the
// issuer for this client, current, and carry nonce.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (Identity, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {p.c.RedirectURL},
		"client_id": {p.c.ClientID}, "code_verifier": {verifier}}
	if p.c.ClientSecret != "" {
		form.Set("client_secret", p.c.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", p.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Identity{}, fmt.Errorf("oidc: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.c.Client.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("%w (token endpoint %s: %v)", ErrUnavailable, redact(p.tokenURL), err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
		Desc    string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&tok); err != nil {
		return Identity{}, fmt.Errorf("oidc: the token endpoint answered HTTP %d without JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || tok.Error != "" {
		// The error code is the provider's; its description may echo the
		// request, so only its first line, clipped, is kept.
		return Identity{}, fmt.Errorf("oidc: the provider refused the sign-in (HTTP %d, %s: %s)", resp.StatusCode, clip(tok.Error, 60), clip(tok.Desc, 120))
	}
	claims, err := p.Verify(ctx, tok.IDToken)
	if err != nil {
		return Identity{}, err
	}
	if n, _ := claims["nonce"].(string); n == "" || n != nonce {
		return Identity{}, errors.New("oidc: the ID token's nonce is not this sign-in's: start again from the sign-in page")
	}
	id := Identity{Claims: claims}
	id.Subject, _ = claims["sub"].(string)
	for _, k := range []string{"preferred_username", "email", "name", "sub"} {
		if v, _ := claims[k].(string); v != "" {
			id.Name = v
			break
		}
	}
	id.Role = p.roleOf(claims)
	if id.Role == "" {
		return id, fmt.Errorf("oidc: %s signed in, but no role is granted: none of the %q claim's values is in server.oidc.roles", clip(id.Name, 80), p.c.RoleClaim)
	}
	if p.c.Tenants != nil {
		id.Tenants = p.tenantsOf(claims)
		if len(id.Tenants) == 0 {
			return id, fmt.Errorf("oidc: %s signed in, but no tenant is granted: none of the %q claim's values is in server.oidc.tenants; ask an admin to add you to a tenant's group", clip(id.Name, 80), p.c.TenantClaim)
		}
	}
	return id, nil
}

// claimValues are a claim's string values (one string or a list).
func claimValues(claims map[string]any, name string) []string {
	var vals []string
	switch v := claims[name].(type) {
	case string:
		vals = []string{v}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				vals = append(vals, s)
			}
		}
	}
	return vals
}

// tenantsOf is the tenants the claims grant, sorted.
func (p *Provider) tenantsOf(claims map[string]any) []string {
	vals := claimValues(claims, p.c.TenantClaim)
	var out []string
	for t, want := range p.c.Tenants {
		for _, w := range want {
			if w != "" && slices.Contains(vals, w) {
				out = append(out, t)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

func clip(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (p *Provider) roleOf(claims map[string]any) string {
	vals := claimValues(claims, p.c.RoleClaim)
	for _, role := range RoleOrder {
		for _, want := range p.c.Roles[role] {
			if slices.Contains(vals, want) {
				return role
			}
		}
	}
	return ""
}

// Verify checks a JWT's signature, issuer, audience and times, and returns
// its claims.
func (p *Provider) Verify(ctx context.Context, raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("oidc: the ID token is not a signed JWT")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("oidc: the ID token's header: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("oidc: the ID token's signature is not base64url")
	}
	key, err := p.key(ctx, hdr.Kid)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := key.(type) {
	case *rsa.PublicKey:
		if hdr.Alg != "RS256" {
			return nil, fmt.Errorf("oidc: the ID token is signed with %q; an RSA key wants RS256", clip(hdr.Alg, 20))
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
			return nil, errors.New("oidc: the ID token's signature does not verify: it was not issued by this provider")
		}
	case *ecdsa.PublicKey:
		if hdr.Alg != "ES256" || len(sig) != 64 {
			return nil, fmt.Errorf("oidc: the ID token is signed with %q; an EC key wants ES256", clip(hdr.Alg, 20))
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return nil, errors.New("oidc: the ID token's signature does not verify: it was not issued by this provider")
		}
	default:
		return nil, errors.New("oidc: unsupported key type")
	}
	var claims map[string]any
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("oidc: the ID token's claims: %w", err)
	}
	if iss, _ := claims["iss"].(string); iss != p.c.Issuer {
		return nil, fmt.Errorf("oidc: the ID token was issued by %q, not %q", clip(iss, 100), p.c.Issuer)
	}
	if !audienceHas(claims["aud"], p.c.ClientID) {
		return nil, errors.New("oidc: the ID token is for another application (aud is not server.oidc.client_id)")
	}
	if azp, ok := claims["azp"].(string); ok && azp != "" && azp != p.c.ClientID {
		return nil, errors.New("oidc: the ID token was requested by another application (azp)")
	}
	now := p.c.Now()
	exp, ok := numericTime(claims["exp"])
	if !ok {
		return nil, errors.New("oidc: the ID token has no expiry")
	}
	if now.After(exp.Add(Leeway)) {
		return nil, fmt.Errorf("oidc: the ID token expired at %s (this host's clock says %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if nbf, ok := numericTime(claims["nbf"]); ok && now.Add(Leeway).Before(nbf) {
		return nil, errors.New("oidc: the ID token is not valid yet: check this host's clock")
	}
	if iat, ok := numericTime(claims["iat"]); ok && now.Add(Leeway).Before(iat) {
		return nil, errors.New("oidc: the ID token was issued in the future: check this host's clock")
	}
	return claims, nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errors.New("not base64url")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("not JSON")
	}
	return nil
}

func audienceHas(aud any, id string) bool {
	switch v := aud.(type) {
	case string:
		return v == id
	case []any:
		for _, e := range v {
			if s, _ := e.(string); s == id {
				return true
			}
		}
	}
	return false
}

func numericTime(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// key returns the provider key kid, fetching the JWKS when it is not
// known (keys rotate), at most once a minute.
func (p *Provider) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.keys[kid]; ok {
		return k, nil
	}
	if !p.last.IsZero() && p.c.Now().Sub(p.last) < time.Minute {
		return nil, fmt.Errorf("oidc: the ID token names key %q, which the provider does not publish", clip(kid, 60))
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Use, N, E, Crv, X, Y string
		} `json:"keys"`
	}
	if err := getJSON(ctx, p.c.Client, p.jwksURL, &set); err != nil {
		return nil, err
	}
	p.last = p.c.Now()
	keys := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
				continue // a key under 2048 bits, or unreadable: not trusted
			}
			keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				continue
			}
			pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				continue // not a point on the curve
			}
			keys[k.Kid] = pk
		}
	}
	p.keys = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("oidc: the ID token names key %q, which the provider does not publish", clip(kid, 60))
}

// probeTimeout bounds the check that a discovered provider still answers.
const probeTimeout = 3 * time.Second

// Lazy returns a Flow.Provider that discovers c on first use and keeps
// the result; after a failure it tries again on the next sign-in (at most
// every 10 s), so a provider that was down at start is used once it is up.
// Once discovered, each use first checks that the provider still answers.
func Lazy(ctx context.Context, c Config) func() (*Provider, error) {
	var mu sync.Mutex
	var p *Provider
	var lastErr error
	var lastTry time.Time
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return func() (*Provider, error) {
		mu.Lock()
		defer mu.Unlock()
		if p != nil {
			// A provider found once may be down now. Sending the
			// person to its dead sign-in page helps nobody at 3 a.m.:
			// check that it still answers (sign-ins are rare) and say
			// so, pointing at local accounts, when it does not.
			dctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			var meta map[string]any
			if err := getJSON(dctx, p.c.Client, strings.TrimSuffix(c.Issuer, "/")+"/.well-known/openid-configuration", &meta); err != nil {
				return nil, err
			}
			return p, nil
		}
		if lastErr != nil && now().Sub(lastTry) < 10*time.Second {
			return nil, lastErr
		}
		lastTry = now()
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		p, lastErr = Discover(dctx, c)
		return p, lastErr
	}
}
