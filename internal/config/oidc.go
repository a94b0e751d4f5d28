package config

import (
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// DefaultOIDCRoleClaim is the claim mapped to roles by default: Entra ID
// puts an application's app roles in "roles".
const DefaultOIDCRoleClaim = "roles"

// OIDCRoles are the roles server.oidc.roles may grant, most privileged first.
var OIDCRoles = []string{"admin", "responder", "viewer"}

// OIDCConfig is server.oidc: sign-in to the dashboard through an OpenID
// Connect provider (Entra ID or another). Local users keep working
// without it, and when it is down.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document says (Entra: https://login.microsoftonline.com/<tenant>/v2.0).
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecret (or ClientSecretFile) for a confidential client; none
	// for a public one (PKCE only).
	ClientSecret     Secret `yaml:"client_secret,omitempty"`
	ClientSecretFile string `yaml:"client_secret_file,omitempty"`
	// RedirectURL is https://<the dashboard>/oidc/callback, registered at
	// the provider.
	RedirectURL string   `yaml:"redirect_url"`
	Scopes      []string `yaml:"scopes,omitempty"`
	// RoleClaim names the claim whose values grant roles (default roles).
	RoleClaim string `yaml:"role_claim,omitempty"`
	// Roles maps admin, responder and viewer to the claim values that
	// grant them; the highest granted wins; someone granted none is refused.
	Roles map[string][]string `yaml:"roles"`
	// Tenants limits a session to tenants, as a local user's --tenant:
	// each key names a tenant of tenants: (its name or id; validation
	// turns it into the id), each value lists the TenantClaim values that
	// grant it. A session sees the tenants its claims grant; someone
	// granted none is refused. Without it a session sees every tenant.
	Tenants map[string][]string `yaml:"tenants,omitempty"`
	// TenantClaim names the claim Tenants reads (default RoleClaim).
	TenantClaim string `yaml:"tenant_claim,omitempty"`
}

// validateOIDC checks server.oidc and reads client_secret_file.
func (c *Config) validateOIDC(d *decoder) {
	o := c.Server.OIDC
	const f = "server.oidc"
	if o == nil || d.failed[f] {
		return
	}
	line := func(k string) int {
		for k != "" {
			if l, ok := d.lines[f+"."+k]; ok {
				return l
			}
			// roles.viewer[0] falls back to roles.viewer, then roles
			i := strings.LastIndexAny(k, ".[")
			if i < 0 {
				break
			}
			k = k[:i]
		}
		return d.lines[f]
	}
	o.Issuer = strings.TrimSpace(o.Issuer)
	o.ClientID = strings.TrimSpace(o.ClientID)
	o.RedirectURL = strings.TrimSpace(o.RedirectURL)
	if msg := checkOIDCURL(o.Issuer); msg != "" {
		d.errorf(line("issuer"), f+".issuer", "%s (Entra ID: https://login.microsoftonline.com/<tenant id>/v2.0)", msg)
	}
	if o.ClientID == "" {
		d.errorf(line("client_id"), f+".client_id", "required: the application (client) id registered at the provider")
	}
	if msg := checkOIDCURL(o.RedirectURL); msg != "" {
		d.errorf(line("redirect_url"), f+".redirect_url", "%s (https://<the dashboard's address>/oidc/callback, registered at the provider)", msg)
	} else if u, _ := url.Parse(o.RedirectURL); u.Path != "/oidc/callback" {
		d.errorf(line("redirect_url"), f+".redirect_url", "the path must be /oidc/callback, where breakglass takes the answer, not %q", u.Path)
	}
	switch {
	case o.ClientSecretFile != "" && o.ClientSecret != "":
		d.errorf(line("client_secret_file"), f+".client_secret_file", "give client_secret or client_secret_file, not both")
	case o.ClientSecretFile != "":
		b, err := os.ReadFile(o.ClientSecretFile)
		switch {
		case err != nil:
			d.errorf(line("client_secret_file"), f+".client_secret_file", "cannot read: %v", err)
		case strings.TrimSpace(string(b)) == "":
			d.errorf(line("client_secret_file"), f+".client_secret_file", "%s is empty", o.ClientSecretFile)
		default:
			o.ClientSecret = Secret(strings.TrimSpace(string(b)))
		}
	}
	if o.RoleClaim = strings.TrimSpace(o.RoleClaim); o.RoleClaim == "" {
		o.RoleClaim = DefaultOIDCRoleClaim
	}
	if len(o.Scopes) > 0 && !slices.Contains(o.Scopes, "openid") {
		d.errorf(line("scopes"), f+".scopes", "must include openid (an OpenID Connect sign-in needs it)")
	}
	granted := 0
	keys := make([]string, 0, len(o.Roles))
	for k := range o.Roles {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(OIDCRoles, k) {
			d.errorf(line("roles."+k), f+".roles."+k, "unknown role (roles: %s)", strings.Join(OIDCRoles, ", "))
			continue
		}
		for i, v := range o.Roles[k] {
			if strings.TrimSpace(v) == "" {
				key := "roles." + k + "[" + strconv.Itoa(i) + "]"
				d.errorf(line(key), f+"."+key, "empty claim value")
			}
		}
		granted += len(o.Roles[k])
	}
	if granted == 0 {
		d.errorf(line("roles"), f+".roles", "required: which %s claim values grant admin, responder or viewer (e.g. Entra app roles BreakGlass.Responder); without it nobody could sign in this way", o.RoleClaim)
	}
	c.validateOIDCTenants(d, line)
}

// validateOIDCTenants checks server.oidc.tenants and tenant_claim, and
// turns each tenant name into its id.
func (c *Config) validateOIDCTenants(d *decoder, line func(string) int) {
	o := c.Server.OIDC
	const f = "server.oidc"
	o.TenantClaim = strings.TrimSpace(o.TenantClaim)
	if o.Tenants == nil || d.failed[f+".tenants"] {
		if o.TenantClaim != "" && !d.failed[f+".tenants"] {
			d.errorf(line("tenant_claim"), f+".tenant_claim", "has no effect without server.oidc.tenants; add tenants: (tenant → claim values) or remove it")
		}
		return
	}
	if o.TenantClaim == "" {
		o.TenantClaim = o.RoleClaim
	}
	if len(c.Tenants) == 0 {
		d.errorf(line("tenants"), f+".tenants", "there is no tenants: section to limit sessions to; remove server.oidc.tenants")
		return
	}
	keys := make([]string, 0, len(o.Tenants))
	for k := range o.Tenants {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byID := map[string][]string{}
	from := map[string]string{} // tenant id → the key that named it
	granted := 0
	for _, k := range keys {
		kf := f + ".tenants." + k
		var t *Tenant
		for i := range c.Tenants {
			if strings.EqualFold(c.Tenants[i].ID, strings.TrimSpace(k)) || strings.EqualFold(c.Tenants[i].Name, strings.TrimSpace(k)) {
				t = &c.Tenants[i]
				break
			}
		}
		if t == nil {
			d.errorf(line("tenants."+k), kf, "no such tenant (tenants: %s)", strings.Join(c.tenantNames(), ", "))
			continue
		}
		if prev, ok := from[t.ID]; ok {
			d.errorf(line("tenants."+k), kf, "names tenant %s again (as %s): list its claim values once", t.Name, quoteShort(prev))
			continue
		}
		from[t.ID] = k
		for i, v := range o.Tenants[k] {
			if strings.TrimSpace(v) == "" {
				key := "tenants." + k + "[" + strconv.Itoa(i) + "]"
				d.errorf(line(key), f+"."+key, "empty claim value")
			}
		}
		granted += len(o.Tenants[k])
		byID[t.ID] = o.Tenants[k]
	}
	if granted == 0 && len(from) == len(keys) {
		d.errorf(line("tenants"), f+".tenants", "lists no claim values: give, per tenant, the %s claim values that grant it (e.g. Entra groups or app roles), or remove tenants to let sessions see every tenant", o.TenantClaim)
	}
	o.Tenants = byID
}

// checkOIDCURL says what is wrong with an issuer or redirect URL, or "":
// https, or http to a loopback host (a provider or dashboard on this
// machine).
func checkOIDCURL(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "not a URL"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return ""
		}
		return "must be https (http only to this machine): the answer carries a sign-in code"
	}
	return "must be an https URL"
}
