package config

import (
	"net/url"
	"slices"
	"strings"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/source"
)

// Graph connector defaults.
const (
	SourceTypeGraph      = "graph"
	DefaultGraphTokenEnv = graph.DefaultTokenEnv
	DefaultGraphOverlap  = source.DefaultGraphOverlap
	DefaultGraphPoll     = source.DefaultGraphPoll
)

// GraphAuths are the accepted graph.auth values.
var GraphAuths = []string{"client_secret", "client_certificate", "workload_identity", "managed_identity", "azure_cli", "access_token"}

// GraphClouds are the accepted graph.cloud values.
var GraphClouds = []string{"global", "usgov", "china"}

// GraphConfig says how to reach Microsoft Graph. Every permission it needs
// is read-only (see the README).
type GraphConfig struct {
	Auth                string `yaml:"auth,omitempty"` // see GraphAuths
	TenantID            string `yaml:"tenant_id,omitempty"`
	ClientID            string `yaml:"client_id,omitempty"`
	ClientSecret        Secret `yaml:"client_secret,omitempty"`
	CertificatePath     string `yaml:"certificate_path,omitempty"` // PEM or PFX
	CertificatePassword Secret `yaml:"certificate_password,omitempty"`
	// TokenEnv names the environment variable holding a bearer token, for
	// auth: access_token (e.g. from `az account get-access-token`).
	TokenEnv      string `yaml:"token_env,omitempty"`
	Cloud         string `yaml:"cloud,omitempty"`          // global (default), usgov, china
	BaseURL       string `yaml:"base_url,omitempty"`       // default from the cloud
	AuthorityHost string `yaml:"authority_host,omitempty"` // default from the cloud
}

// Configured reports whether a graph: section was given.
func (g GraphConfig) Configured() bool { return g.Auth != "" }

func (c *Config) validateGraph(d *decoder) {
	validateGraphAt(d, "graph", &c.Graph, c.Sources)
}

// validateGraphAt checks one graph: section at field (graph, or a
// tenant's), which the graph sources in sources use.
func validateGraphAt(d *decoder, field string, g *GraphConfig, sources []SourceConfig) {
	g.Auth = d.oneOf(field+".auth", g.Auth, GraphAuths)
	g.Cloud = d.oneOf(field+".cloud", g.Cloud, GraphClouds)
	usesGraph := slices.ContainsFunc(sources, func(s SourceConfig) bool { return s.Type == SourceTypeGraph })
	if _, present := d.lines[field]; !present {
		if usesGraph {
			d.errorf(d.lines[strings.TrimSuffix(field, ".graph")], field, "missing; a source of type graph needs the graph: section (auth, tenant_id, client_id, ...)")
		}
		return
	}
	if g.Auth == "" && !d.failed[field+".auth"] {
		d.errorf(d.lines[field], field+".auth", "required: one of %s", strings.Join(GraphAuths, ", "))
		return
	}
	need := func(key, value string) {
		if value == "" && !d.failed[field+"."+key] {
			d.errorf(d.lines[field], field+"."+key, "required for auth %s", g.Auth)
		}
	}
	notFor := func(key string) {
		if line, ok := d.lines[field+"."+key]; ok {
			d.errorf(line, field+"."+key, "not used by auth %s", g.Auth)
		}
	}
	switch g.Auth {
	case "client_secret":
		need("tenant_id", g.TenantID)
		need("client_id", g.ClientID)
		need("client_secret", string(g.ClientSecret))
		notFor("certificate_path")
		notFor("token_env")
	case "client_certificate":
		need("tenant_id", g.TenantID)
		need("client_id", g.ClientID)
		need("certificate_path", g.CertificatePath)
		notFor("client_secret")
		notFor("token_env")
	case "workload_identity":
		notFor("client_secret")
		notFor("certificate_path")
		notFor("token_env")
	case "managed_identity", "azure_cli":
		notFor("client_secret")
		notFor("certificate_path")
		notFor("token_env")
	case "access_token":
		notFor("client_secret")
		notFor("certificate_path")
	}
	if g.TenantID != "" {
		// One rule, owned by graph, so config check and serve agree.
		if err := validTenantID(g.TenantID); err != nil {
			d.errorf(d.lines[field+".tenant_id"], field+".tenant_id", "%v", err)
		}
	}
	if g.ClientID != "" && !entra.IsGUID(g.ClientID) {
		d.errorf(d.lines[field+".client_id"], field+".client_id", "not a GUID (the application's client id)")
	}
	for _, k := range []struct{ key, v string }{{"base_url", g.BaseURL}, {"authority_host", g.AuthorityHost}} {
		if k.v == "" {
			continue
		}
		if u, err := url.Parse(k.v); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			d.errorf(d.lines[field+"."+k.key], field+"."+k.key, "not an http(s) URL")
		}
	}
}

func (c *Config) applyGraphDefaults() {
	applyGraphDefaultsTo(&c.Graph, c.Sources)
	for i := range c.Tenants {
		applyGraphDefaultsTo(&c.Tenants[i].Graph, c.Tenants[i].Sources)
	}
}

// applyGraphDefaultsTo fills in the defaults of one graph: section and of
// the graph sources that use it.
func applyGraphDefaultsTo(g *GraphConfig, sources []SourceConfig) {
	if !g.Configured() {
		return
	}
	if g.Cloud == "" {
		g.Cloud = "global"
	}
	if g.Auth == "access_token" && g.TokenEnv == "" {
		g.TokenEnv = DefaultGraphTokenEnv
	}
	for i := range sources {
		s := &sources[i]
		if s.Type == SourceTypeGraph {
			if s.Poll == 0 {
				s.Poll = DefaultGraphPoll
			}
			if s.Overlap == 0 {
				s.Overlap = DefaultGraphOverlap
			}
		}
	}
}

// validTenantID is the tenant-id rule of the configuration (tenant_id and
// graph.tenant_id): graph's, so config and the Graph client agree.
func validTenantID(s string) error { return graph.ValidateTenantID(s) }
