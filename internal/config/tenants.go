package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/route"
)

// MaxTenantName bounds tenants[].name, which labels pages and names the
// tenant's unnamed sources.
const MaxTenantName = 64

// Tenant is one entry of tenants: a tenant watched by this daemon (an MSP
// watches many), with its own break-glass accounts, Graph credentials,
// sources and routes. The sub-schemas are the top level's.
//
// How the top level and tenants: combine:
//   - accounts:, tenant_id and graph: belong to a tenant: with tenants:
//     they are errors at the top level.
//   - Top-level sources: are shared: one Event Hub or file may carry the
//     logs of several tenants, and each record is attributed by its own
//     tenant field (tenantId, TenantId, AADTenantId). A graph source reads
//     one tenant, so it is only allowed under a tenant.
//   - A tenant's routes see only that tenant's alerts (an implied
//     tenant="<id>" matcher) and are tried before notify.routes, which
//     apply to every tenant after its own (and to alerts whose tenant is
//     unknown). notify.groups are shared: a tenant's routes name them.
//   - expect:, exceptions:, rules:, canary: and everything else stay global.
//   - Ids, names, accounts and source names are unique across tenants: an
//     account listed in two tenants is an error.
type Tenant struct {
	// ID is the tenant's id (a GUID, lower-cased): the tenant label of its
	// alerts.
	ID string `yaml:"id"`
	// Name is for people: shown with the id in pages and the dashboard.
	Name     string          `yaml:"name"`
	Accounts []entra.Account `yaml:"accounts"`
	Graph    GraphConfig     `yaml:"graph,omitempty"`
	Sources  []SourceConfig  `yaml:"sources,omitempty"`
	Routes   []RouteConfig   `yaml:"routes,omitempty"`
}

// tenantField is the field path of tenants[i].
func tenantField(i int) string { return "tenants[" + strconv.Itoa(i) + "]" }

// tenantOfField is the tenants[i] a field path lies in, or "" for the top
// level.
func tenantOfField(path string) string {
	if !strings.HasPrefix(path, "tenants[") {
		return ""
	}
	if i := strings.IndexByte(path, ']'); i > 0 {
		return path[:i+1]
	}
	return path
}

// AllAccounts is accounts: followed by every tenant's accounts, in order.
func (c *Config) AllAccounts() []entra.Account {
	out := slices.Clone(c.Accounts)
	for _, t := range c.Tenants {
		out = append(out, t.Accounts...)
	}
	return out
}

// accountEntry is one configured account and its field path.
type accountEntry struct {
	field string
	entra.Account
}

// accountEntries lists every account with its field path (accounts[i], or
// tenants[j].accounts[i]).
func (c *Config) accountEntries() []accountEntry {
	var out []accountEntry
	for i, a := range c.Accounts {
		out = append(out, accountEntry{"accounts[" + strconv.Itoa(i) + "]", a})
	}
	for j, t := range c.Tenants {
		for i, a := range t.Accounts {
			out = append(out, accountEntry{tenantField(j) + ".accounts[" + strconv.Itoa(i) + "]", a})
		}
	}
	return out
}

// TenantSource is one configured source and the tenant it belongs to
// (nil: a top-level source, shared by every tenant).
type TenantSource struct {
	SourceConfig
	Tenant *Tenant
}

// AllSources is sources: followed by every tenant's sources, in order.
func (c *Config) AllSources() []TenantSource {
	var out []TenantSource
	for _, s := range c.Sources {
		out = append(out, TenantSource{SourceConfig: s})
	}
	for i := range c.Tenants {
		for _, s := range c.Tenants[i].Sources {
			out = append(out, TenantSource{SourceConfig: s, Tenant: &c.Tenants[i]})
		}
	}
	return out
}

// Tenant returns the tenant with this id (compared ignoring case), or nil.
func (c *Config) Tenant(id string) *Tenant {
	for i := range c.Tenants {
		if strings.EqualFold(c.Tenants[i].ID, id) {
			return &c.Tenants[i]
		}
	}
	return nil
}

// TenantIDs are the ids of tenants:, in order.
func (c *Config) TenantIDs() []string {
	var out []string
	for _, t := range c.Tenants {
		if entra.IsGUID(t.ID) {
			out = append(out, t.ID)
		}
	}
	return out
}

// EffectiveRoutes is the route list the router tries: each tenant's routes,
// each limited to the tenant's alerts by a tenant matcher, then
// notify.routes. Without tenants it is notify.routes.
func (c *Config) EffectiveRoutes() []RouteConfig {
	var out []RouteConfig
	for _, t := range c.Tenants {
		for _, r := range t.Routes {
			r.Matchers = append([]string{alert.LabelTenant + `="` + t.ID + `"`}, r.Matchers...)
			out = append(out, r)
		}
	}
	return append(out, c.Notify.Routes...)
}

// validateTenants checks tenants: and how it combines with the top level
// (see Tenant). listens holds the listen addresses taken so far. Accounts
// and their expect: are checked with the top level's (config.go,
// expect.go), routes with notify.routes (routes.go).
func (c *Config) validateTenants(d *decoder, listens map[string]string) {
	line, present := d.lines["tenants"]
	if !present {
		return
	}
	if len(c.Tenants) == 0 {
		if !d.failed["tenants"] {
			d.errorf(line, "tenants", "empty; list each tenant (id, name, accounts, ...) or remove tenants:")
		}
		return
	}
	if len(c.Accounts) == 0 {
		c.Accounts = nil // "accounts: []" (how the effective config shows it) is no accounts
	}
	const where = "with tenants:, each tenant has its own; move it under the tenant it belongs to"
	if l, ok := d.lines["accounts"]; ok && len(c.Accounts) > 0 {
		d.errorf(l, "accounts", "%s (tenants[].accounts)", where)
	}
	if l, ok := d.lines["tenant_id"]; ok {
		d.errorf(l, "tenant_id", "%s (tenants[].id)", where)
	}
	if l, ok := d.lines["graph"]; ok {
		d.errorf(l, "graph", "%s (tenants[].graph)", where)
	}
	// Source names label checkpoints, metrics and alerts: unique across
	// the whole file.
	names := map[string]string{}
	for i, s := range c.Sources {
		f := "sources[" + strconv.Itoa(i) + "]"
		if s.Name != "" {
			names[s.Name] = f
		}
		if s.Type == SourceTypeGraph {
			d.errorf(d.lines[f+".type"], f+".type", "a graph source reads one tenant with its credentials; with tenants:, move it under that tenant's sources:")
		}
	}
	ids := map[string]string{}
	tnames := map[string]string{}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		f := tenantField(i)
		if d.failed[f] {
			continue
		}
		t.ID = strings.ToLower(strings.TrimSpace(t.ID))
		t.Name = strings.TrimSpace(t.Name)
		switch {
		case d.failed[f+".id"]:
		case t.ID == "":
			d.errorf(d.lines[f], f+".id", "required: the tenant's id (a GUID, Entra admin center > Overview > Tenant ID)")
		case d.checkGUID(f+".id", t.ID, "the tenant id"):
			if prev, dup := ids[t.ID]; dup {
				d.errorf(d.lines[f+".id"], f+".id", "duplicate of %s.id (line %d)", prev, d.lines[prev+".id"])
			} else {
				ids[t.ID] = f
			}
		}
		switch {
		case d.failed[f+".name"]:
		case t.Name == "":
			d.errorf(d.lines[f], f+".name", "required: a short name for people, shown with the tenant's alerts")
		case len(t.Name) > MaxTenantName || strings.ContainsAny(t.Name, "/\"") || !isPrintable(t.Name):
			d.errorf(d.lines[f+".name"], f+".name", "must be at most %d printable characters, without / or \"", MaxTenantName)
		default:
			key := strings.ToLower(t.Name)
			if prev, dup := tnames[key]; dup {
				d.errorf(d.lines[f+".name"], f+".name", "duplicate of %s.name (line %d), ignoring case", prev, d.lines[prev+".name"])
			} else {
				tnames[key] = f
			}
		}
		if len(t.Accounts) == 0 && !d.failed[f+".accounts"] {
			d.errorf(lineOr(d, f+".accounts", d.lines[f]), f+".accounts", "list at least one break-glass account of this tenant (id: and/or upn: for a user, group: for a group)")
		}
		prefix := ""
		if t.Name != "" {
			prefix = t.Name + "-"
		}
		validateSourceList(d, f+".sources", prefix, t.Sources, listens) // serve.go
		for j, s := range t.Sources {
			sf := f + ".sources[" + strconv.Itoa(j) + "]"
			if s.Name == "" || d.failed[sf] {
				continue
			}
			if prev, dup := names[s.Name]; dup && tenantOfField(prev) != f {
				d.errorf(lineOr(d, sf+".name", d.lines[sf]), sf+".name", "%q is also the name of %s (line %d); source names are unique across tenants", s.Name, prev, d.lines[prev])
				continue
			}
			names[s.Name] = sf
		}
		validateGraphAt(d, f+".graph", &t.Graph, t.Sources) // graph.go
		if gt := t.Graph.TenantID; gt != "" && t.ID != "" && entra.IsGUID(gt) && !strings.EqualFold(gt, t.ID) {
			d.errorf(d.lines[f+".graph.tenant_id"], f+".graph.tenant_id", "is %s but the tenant's id is %s: these would be another tenant's credentials", gt, t.ID)
		}
	}
}

// validateTenantRoutes checks each tenant's routes like notify.routes,
// adding to follows, and reports whether any tenant has routes.
func (c *Config) validateTenantRoutes(d *decoder, follows map[string]bool) bool {
	any := false
	for i := range c.Tenants {
		if len(c.Tenants[i].Routes) > 0 {
			any = true
		}
		c.validateRouteList(d, tenantField(i)+".routes", c.Tenants[i].Routes, follows)
	}
	return any
}

// checkMatcherIn is checkMatcher for a matcher of the route list at field:
// a tenant's routes carry the tenant matcher themselves.
func (c *Config) checkMatcherIn(field string, m route.Matcher) string {
	if tenantOfField(field) != "" && m.Name == alert.LabelTenant {
		return "a tenant's routes see only that tenant's alerts (tenant=\"<its id>\" is implied); remove this matcher, or move the route to notify.routes"
	}
	return c.checkMatcher(m)
}

// checkTenantMatcher checks a tenant matcher of notify.routes when
// tenants: is set: it must name (or, negated or a regular expression,
// match) a configured tenant id. ok is false without tenants.
func (c *Config) checkTenantMatcher(m route.Matcher) (msg string, ok bool) {
	if len(c.Tenants) == 0 {
		return "", false
	}
	return checkDomain(m, "tenant id", c.TenantIDs(), func(v string) string {
		for _, t := range c.Tenants {
			if strings.EqualFold(v, t.Name) {
				return "; the label is the tenant's id: write tenant=\"" + t.ID + "\" for " + t.Name
			}
		}
		return ""
	}), true
}

// tenantSourceNames are the names of every tenant's sources.
func (c *Config) tenantSourceNames() []string {
	var out []string
	for _, t := range c.Tenants {
		for _, s := range t.Sources {
			if s.Name != "" {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// EffectiveRouteFields names each route of EffectiveRoutes where the file
// has it: tenants[i].routes[j], or notify.routes[j].
func (c *Config) EffectiveRouteFields() []string {
	var out []string
	for i, t := range c.Tenants {
		for j := range t.Routes {
			out = append(out, tenantField(i)+".routes["+strconv.Itoa(j)+"]")
		}
	}
	for j := range c.Notify.Routes {
		out = append(out, "notify.routes["+strconv.Itoa(j)+"]")
	}
	return out
}

// ForTenant is the configuration as one tenant alone would have it: that
// tenant's accounts, Graph and sources (named by id or name, ignoring
// case), everything else shared. It is how the commands that read one
// tenant (audit, collect, discover: --tenant) and serve's per-tenant Graph
// work see a file with tenants:. An unknown name is an error listing the
// tenants there are.
func (c *Config) ForTenant(idOrName string) (*Config, error) {
	var t *Tenant
	for i := range c.Tenants {
		if strings.EqualFold(c.Tenants[i].ID, idOrName) || strings.EqualFold(c.Tenants[i].Name, idOrName) {
			t = &c.Tenants[i]
			break
		}
	}
	if t == nil {
		if len(c.Tenants) == 0 {
			return nil, fmt.Errorf("%s has no tenants: section; drop the tenant choice", c.Path)
		}
		return nil, fmt.Errorf("%s: no tenant %q; the tenants are %s", c.Path, idOrName, strings.Join(c.tenantNames(), ", "))
	}
	return c.TenantView(t), nil
}

// TenantView is ForTenant for a tenant of c already in hand.
func (c *Config) TenantView(t *Tenant) *Config {
	v := *c
	v.Accounts, v.Graph, v.Sources, v.TenantID, v.Tenants = t.Accounts, t.Graph, t.Sources, t.ID, nil
	return &v
}

// tenantNames lists the tenants as "name (id)", in file order.
func (c *Config) tenantNames() []string {
	var out []string
	for _, t := range c.Tenants {
		out = append(out, t.Name+" ("+t.ID+")")
	}
	return out
}

// OneTenant is the configuration a command about one tenant reads: c
// itself without tenants: (and with tenant ""), else the tenant named,
// which such a file requires.
func (c *Config) OneTenant(tenant string) (*Config, error) {
	switch {
	case tenant != "":
		return c.ForTenant(tenant)
	case len(c.Tenants) > 0:
		return nil, fmt.Errorf("%s has %d tenants: name the one to read with --tenant (%s)", c.Path, len(c.Tenants), strings.Join(c.tenantNames(), ", "))
	}
	return c, nil
}
