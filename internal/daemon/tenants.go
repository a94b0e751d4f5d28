package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/auth"
	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/kqlrule"
	"breakglass/internal/membership"
	"breakglass/internal/posture"
	"breakglass/internal/watch"
)

// Annotations the daemon of several tenants adds to record alerts.
const (
	// AnnotationTenantName is the tenant's name, for people.
	AnnotationTenantName = "tenant_name"
	// AnnotationTenantAttribution says how the tenant was decided when
	// that was not plain (a shared source, a record naming no or an
	// unknown tenant, an account of another tenant).
	AnnotationTenantAttribution = "tenant_attribution"
)

// tenancy is what the daemon of tenants: keeps per tenant: which sources,
// groups and accounts are whose (attribution), and each tenant's own Graph
// client, group members, audit and drift watcher (isolation: one tenant's
// failing credentials raise that tenant's bg.source and stop nothing of
// another's).
type tenancy struct {
	cfg      *config.Config
	byID     map[string]*config.Tenant
	bySource map[string]*config.Tenant
	byGroup  map[string]*config.Tenant // lower-case group id

	mu    sync.RWMutex
	lists map[string][]entra.Account // tenant id → its accounts now (users and group members)
	owner map[string]*config.Tenant  // lower-case account id or UPN → tenant

	units []*tenantUnit
}

// tenantUnit is one tenant's monitoring of its own directory.
type tenantUnit struct {
	t       *config.Tenant
	view    *config.Config // the configuration as this tenant alone would have it
	graph   graph.Lister   // nil without the tenant's graph:
	members *membership.Watcher
	auditor Auditor
	posture *watch.Posture
}

// newTenancy indexes cfg's tenants; nil without tenants:.
func newTenancy(cfg *config.Config) *tenancy {
	if len(cfg.Tenants) == 0 {
		return nil
	}
	tn := &tenancy{cfg: cfg, byID: map[string]*config.Tenant{}, bySource: map[string]*config.Tenant{},
		byGroup: map[string]*config.Tenant{}, lists: map[string][]entra.Account{}}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		tn.byID[t.ID] = t
		for _, s := range t.Sources {
			tn.bySource[s.Name] = t
		}
		var users []entra.Account
		for _, a := range t.Accounts {
			if a.IsGroup() {
				tn.byGroup[strings.ToLower(a.Group)] = t
			} else {
				users = append(users, a)
			}
		}
		tn.lists[t.ID] = users
	}
	tn.reindex()
	return tn
}

// reindex rebuilds the account → tenant index from the lists. Config
// refuses an account listed under two tenants; a group member that is in
// two tenants' groups is owned by the first tenant, in file order.
func (tn *tenancy) reindex() {
	owner := map[string]*config.Tenant{}
	for i := range tn.cfg.Tenants {
		t := &tn.cfg.Tenants[i]
		for _, a := range tn.lists[t.ID] {
			for _, k := range []string{a.ID, a.UPN} {
				if k = strings.ToLower(k); k != "" && owner[k] == nil {
					owner[k] = t
				}
			}
		}
	}
	tn.owner = owner
}

// apply records tenant id's current accounts and returns every tenant's,
// in file order: what the pipeline watches.
func (tn *tenancy) apply(id string, list []entra.Account) []entra.Account {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.lists[id] = slices.Clone(list)
	tn.reindex()
	var all []entra.Account
	for _, t := range tn.cfg.Tenants {
		all = append(all, tn.lists[t.ID]...)
	}
	return all
}

// accounts is tenant id's accounts now.
func (tn *tenancy) accounts(id string) []entra.Account {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	return slices.Clone(tn.lists[id])
}

// ownerOf is the tenant that lists the account (by object id, else UPN).
func (tn *tenancy) ownerOf(id, upn string) *config.Tenant {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	if t := tn.owner[strings.ToLower(id)]; id != "" && t != nil {
		return t
	}
	if upn != "" {
		return tn.owner[strings.ToLower(upn)]
	}
	return nil
}

// tenantOfFunc is watch.Options.TenantOf, nil without tenants.
func (tn *tenancy) tenantOfFunc() func(source, key string) string {
	if tn == nil {
		return nil
	}
	return tn.tenantOf
}

// attributeFunc is watch.Options.Attribute, nil without tenants.
func (tn *tenancy) attributeFunc() func(*alert.Alert, []byte) {
	if tn == nil {
		return nil
	}
	return tn.attribute
}

// tenantOf is the tenant of alerts about a source: a tenant's source, a
// tenant's group (bg.source of the group members' source, keyed by group
// id), a tenant's audit (keyed "... of tenant <id>"); "" for a shared
// source, whose records attribute decides.
func (tn *tenancy) tenantOf(source, key string) string {
	if t := tn.bySource[source]; t != nil {
		return t.ID
	}
	switch source {
	case membership.Source:
		if t := tn.byGroup[strings.ToLower(key)]; t != nil {
			return t.ID
		}
	case watch.PostureSource:
		if _, id, ok := strings.Cut(key, watch.TenantKeySep); ok {
			return id
		}
	}
	return ""
}

// attribute sets a record alert's tenant, failing closed: the record is
// always alerted on (every tenant's accounts are matched), and the label
// says the tenant that is known, the annotation why.
//
//   - a tenant's source: that tenant;
//   - a shared source: the record's own tenant field when it names a
//     configured tenant;
//   - else the tenant that lists the account;
//   - else the record's tenant id as it is (no tenant's routes match it, so
//     notify.routes, or every group, get it), or none.
func (tn *tenancy) attribute(a *alert.Alert, raw []byte) {
	src := a.Labels[alert.LabelSource]
	acct := tn.ownerOf(a.AccountID, a.AccountUPN)
	var t *config.Tenant
	var why string
	if st := tn.bySource[src]; st != nil {
		t = st
		if acct != nil && acct != st {
			why = fmt.Sprintf("read from source %s of tenant %s; the account is a break-glass account of tenant %s (%s)", src, st.Name, acct.Name, acct.ID)
		}
	} else {
		rec := recordTenant(raw)
		rt := tn.byID[rec]
		switch {
		case rt != nil:
			t = rt
			if acct != nil && acct != rt {
				why = fmt.Sprintf("the record is tenant %s's; the account is a break-glass account of tenant %s (%s)", rt.Name, acct.Name, acct.ID)
			}
		case acct != nil:
			t = acct
			if rec == "" {
				why = fmt.Sprintf("the record names no tenant (no tenantId, AADTenantId or resourceId); attributed to %s, whose break-glass account it is", acct.Name)
			} else {
				why = fmt.Sprintf("the record's tenant %s is not in tenants:; attributed to %s, whose break-glass account it is", rec, acct.Name)
			}
		case rec != "":
			a.Labels[alert.LabelTenant] = rec
			why = fmt.Sprintf("the record's tenant %s is not in tenants: and its account is in no tenant's list; check which tenant it came from", rec)
		default:
			delete(a.Labels, alert.LabelTenant)
			why = "the record names no tenant and its account is in no tenant's list; check which tenant it came from"
		}
	}
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	} else {
		a.Annotations = maps.Clone(a.Annotations)
	}
	if t != nil {
		a.Labels[alert.LabelTenant] = t.ID
		a.Annotations[AnnotationTenantName] = t.Name
	}
	if why != "" {
		a.Annotations[AnnotationTenantAttribution] = why
	}
}

// attributeRule gives a scheduled KQL rule's alert its tenant: the tenant
// that lists its account, else the one tenant its result rows name
// (AADTenantId, tenantId or resourceId of each row, as for records). Rows
// of several tenants, or none, leave it without one, saying why, so it
// goes to notify.routes (every tenant's) rather than to one tenant.
func (tn *tenancy) attributeRule(a *alert.Alert) {
	if tn == nil {
		return
	}
	var t *config.Tenant
	why := ""
	if a.AccountID != "" || a.AccountUPN != "" {
		t = tn.ownerOf(a.AccountID, a.AccountUPN)
	}
	if t == nil {
		var rows []json.RawMessage
		_ = json.Unmarshal([]byte(a.Annotations[kqlrule.AnnRows]), &rows)
		seen := map[string]*config.Tenant{}
		var unknown []string
		for _, r := range rows {
			id := recordTenant(r)
			if id == "" {
				continue
			}
			if rt := tn.byID[id]; rt != nil {
				seen[rt.ID] = rt
			} else if !slices.Contains(unknown, id) {
				unknown = append(unknown, id)
			}
		}
		switch {
		case len(seen) == 1 && len(unknown) == 0:
			for _, rt := range seen {
				t = rt
			}
		case len(seen)+len(unknown) == 0:
			why = "the rule's result names no account of a tenant and no tenant (AADTenantId) in its rows; it goes to every tenant's routes"
		default:
			var names []string
			for _, rt := range seen {
				names = append(names, rt.Name)
			}
			slices.Sort(names)
			why = fmt.Sprintf("the rule's rows are from several tenants (%s); it goes to every tenant's routes", strings.Join(append(names, unknown...), ", "))
		}
	}
	a.Labels = maps.Clone(a.Labels)
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	a.Annotations = maps.Clone(a.Annotations)
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	}
	if t != nil {
		a.Labels[alert.LabelTenant] = t.ID
		a.Annotations[AnnotationTenantName] = t.Name
	} else {
		a.Annotations[AnnotationTenantAttribution] = why
	}
}

// tenantRE finds a tenant id in a record that could not be decoded.
var tenantRE = regexp.MustCompile(`(?i)"(aadtenantid|tenantid)"\s*:\s*"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"`)

// recordTenant is the Entra tenant a record says it is from, lower-cased,
// or "". Log Analytics rows carry AADTenantId (their TenantId is the
// workspace's id), diagnostic-settings records tenantId and a resourceId
// /tenants/<id>/providers/Microsoft.aadiam; keys compare ignoring case.
// triggerTenant is the tenant of a key change (a drill trigger): its
// source's tenant, else the configured tenant its record names; "" when
// neither is known, and then every tenant's drills fall due.
func (tn *tenancy) triggerTenant(source string, raw []byte) string {
	if tn == nil {
		return ""
	}
	if t := tn.bySource[source]; t != nil {
		return t.ID
	}
	if t := tn.byID[recordTenant(raw)]; t != nil {
		return t.ID
	}
	return ""
}

func recordTenant(raw []byte) string {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		// Unreadable (the alert is bg.unparsed): the first id-shaped value
		// of a tenant key, if any.
		if m := tenantRE.FindSubmatch(raw); m != nil {
			return strings.ToLower(string(m[2]))
		}
		return ""
	}
	var aad, tid, res string
	for k, v := range top {
		var s string
		if json.Unmarshal(v, &s) != nil {
			continue
		}
		s = strings.TrimSpace(s)
		switch strings.ToLower(k) {
		case "aadtenantid":
			aad = s
		case "tenantid":
			tid = s
		case "resourceid":
			if rest, ok := strings.CutPrefix(strings.ToLower(s), "/tenants/"); ok {
				res, _, _ = strings.Cut(rest, "/")
			}
		}
	}
	for _, s := range []string{aad, tid, res} {
		if entra.IsGUID(s) {
			return strings.ToLower(s)
		}
	}
	return ""
}

// allSources are the configured sources, the tenants' included.
func allSources(cfg *config.Config) []config.SourceConfig {
	var out []config.SourceConfig
	for _, s := range cfg.AllSources() {
		out = append(out, s.SourceConfig)
	}
	return out
}

// tenantInternal are the daemon's own sources the tenants use (group
// members, posture audit): their bg.source episodes must survive
// ResolveRemoved.
func tenantInternal(cfg *config.Config) []string {
	var groups, audit bool
	for _, t := range cfg.Tenants {
		groups = groups || slices.ContainsFunc(t.Accounts, entra.Account.IsGroup)
		audit = audit || t.Graph.Configured()
	}
	var out []string
	if groups {
		out = append(out, membership.Source)
	}
	if audit {
		out = append(out, watch.PostureSource)
	}
	return out
}

// checkTenantGroups refuses a tenant's group entries without that
// tenant's graph: (their members are read through it).
func checkTenantGroups(cfg *config.Config) error {
	var errs []error
	for i, t := range cfg.Tenants {
		if t.Graph.Configured() {
			continue
		}
		for j, a := range t.Accounts {
			if a.IsGroup() {
				errs = append(errs, fmt.Errorf("%s: tenants[%d].accounts[%d].group: group %s: serve reads a group's members through Microsoft Graph; add tenants[%d].graph (auth and credentials, GroupMember.Read.All), or list the members by id/upn", cfg.Path, i, j, a.Group, i))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ConfigError{errors.Join(errs...)}
}

// sourceGraph is the Graph client of a graph source and the accounts it
// asks about: its tenant's (nil tenant: the top level's).
func (d *Daemon) sourceGraph(t *config.Tenant) (graph.Lister, func() []entra.Account, error) {
	if t == nil {
		g, err := d.graphClient()
		return g, d.currentAccounts, err
	}
	g, err := d.tenantGraph(t)
	if err != nil {
		return nil, nil, err
	}
	if g == nil {
		return nil, nil, configErrorf("%s: tenant %s: a graph source needs the tenant's graph: section", d.cfg.Path, t.Name)
	}
	id, fixed := t.ID, slices.DeleteFunc(slices.Clone(t.Accounts), entra.Account.IsGroup)
	users := func() []entra.Account {
		if d.ten == nil {
			return fixed
		}
		return slices.DeleteFunc(d.ten.accounts(id), entra.Account.IsGroup)
	}
	return g, users, nil
}

// tenantGraph is tenant t's Graph client: the test's (Options.TenantGraph),
// else the one setupTenants built, else one built now; nil without the
// tenant's graph:.
func (d *Daemon) tenantGraph(t *config.Tenant) (graph.Lister, error) {
	if g, ok := d.o.TenantGraph[t.ID]; ok {
		return g, nil
	}
	if u := d.ten.unit(t.ID); u != nil {
		return u.graph, nil
	}
	if !t.Graph.Configured() {
		return nil, nil
	}
	c, err := NewGraphClient(d.cfg.TenantView(t), d.log.With("tenant", t.Name))
	if err != nil {
		return nil, configErrorf("tenant %s (%s): %v", t.Name, t.ID, err)
	}
	return c, nil
}

func (tn *tenancy) unit(id string) *tenantUnit {
	if tn == nil {
		return nil
	}
	for _, u := range tn.units {
		if u.t.ID == id {
			return u
		}
	}
	return nil
}

// setupTenants builds each tenant's Graph client, group-member watcher,
// audit and drift watcher. A credential that cannot even be built (a
// certificate file that cannot be read) is a configuration error, as for
// the top-level graph:; one that fails at run time is that tenant's
// bg.source only.
func (d *Daemon) setupTenants(ctx context.Context) error {
	tn := d.ten
	if tn == nil {
		return nil
	}
	for i := range d.cfg.Tenants {
		t := &d.cfg.Tenants[i]
		u := &tenantUnit{t: t, view: d.cfg.TenantView(t), posture: d.pipeline.TenantPosture(t.ID)}
		g, err := d.tenantGraph(t)
		if err != nil {
			return err
		}
		u.graph = g
		if u.graph != nil {
			u.auditor = &liveAuditor{d: d, g: u.graph, cfg: u.view}
		}
		var groups []membership.Group
		var users []entra.Account
		for _, a := range t.Accounts {
			if a.IsGroup() {
				groups = append(groups, membership.Group{ID: strings.ToLower(a.Group), Name: a.Name, Expect: a.Expect})
			} else {
				users = append(users, a)
			}
		}
		if len(groups) > 0 && u.graph != nil {
			id := t.ID
			u.members = membership.New(membership.Options{
				Users: users, Groups: groups, Graph: u.graph, State: d.st, Health: d.pipeline,
				Apply:   func(list []entra.Account) { d.applyAccounts(tn.apply(id, list)) },
				Refresh: d.o.GroupRefresh, Logger: d.log.With("tenant", t.Name), Now: d.o.Now,
			})
			if err := u.members.Load(ctx); err != nil {
				d.log.Error("reading the last known group members", "tenant", t.Name, "error", err)
			}
		}
		tn.units = append(tn.units, u)
	}
	return nil
}

// runTenants starts each tenant's group refresh (a first read bounded by
// groupStartTimeout, before the sources start) and scheduled audit.
func (d *Daemon) runTenants(ctx context.Context, loops *sync.WaitGroup) {
	if d.ten == nil {
		return
	}
	var first sync.WaitGroup
	for _, u := range d.ten.units {
		if u.members == nil {
			continue
		}
		// In parallel: one tenant's Graph outage must not hold back
		// another's first read.
		first.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, groupStartTimeout)
			defer cancel()
			u.members.Refresh(rctx)
		})
	}
	first.Wait()
	for _, u := range d.ten.units {
		// Under the scheduler lease, as the top level's (leader.go): one
		// replica reads each tenant's groups from Graph and audits it; the
		// others apply the members it stored.
		if u.members != nil {
			loops.Go(func() { d.scheduledWatcher(ctx, u.members) })
		}
		if u.auditor != nil {
			d.log.Info("posture audit scheduled", "tenant", u.t.Name, "first_in", d.o.AuditDelay, "every", d.o.AuditInterval)
			loops.Go(func() { d.scheduled(ctx, func(ctx context.Context) { d.tenantAuditLoop(ctx, u) }) })
		}
	}
}

// tenantAuditLoop is auditLoop for one tenant; it runs only while this
// replica holds the scheduler lease (runTenants).
func (d *Daemon) tenantAuditLoop(ctx context.Context, u *tenantUnit) {
	t := time.NewTimer(d.o.AuditDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.tenantAuditOnce(ctx, u)
		t.Reset(d.o.AuditInterval)
	}
}

// tenantAuditOnce runs one audit of a tenant; a failure raises bg.source
// for the posture source keyed to that tenant, labelled with it.
func (d *Daemon) tenantAuditOnce(ctx context.Context, u *tenantUnit) {
	start := time.Now()
	log := d.log.With("tenant", u.t.Name, "tenant_id", u.t.ID)
	auditor := u.auditor
	if d.lead != nil { // as the top-level audit: no stale verdicts after a takeover (leader.go)
		auditor = fencedAuditor{auditor, d.lead.el}
	}
	rep, err := d.runAuditWith(ctx, auditor)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		log.Error("scheduled posture audit failed; drift in this tenant cannot be seen until it runs again", "error", err, "next_in", d.o.AuditInterval)
		u.posture.AuditFailed(ctx, err)
		return
	}
	if rep.Tenant.ID == "" {
		rep.Tenant.ID = u.t.ID
	}
	d.savePosture(ctx, u.t.ID, rep) // posture_store.go
	if err := u.posture.Record(ctx, rep); err != nil {
		log.Error("recording the posture audit; bg.source raised for the posture source", "error", err)
	}
	s := posture.Summarize(rep.Results)
	log.Info("scheduled posture audit done", "took", time.Since(start).Round(time.Millisecond),
		"pass", s.Pass, "fail", s.Fail, "error", s.Error, "next_in", d.o.AuditInterval)
}

// tenantAPIOptions gives the API the tenants: the ids ?tenant= may name,
// whose account is whose (incidents and drills carry their account's
// tenant), and the caller's tenant limit (auth.TenantsOf).
func (d *Daemon) tenantAPIOptions(ao *api.Options) {
	ao.Scope = auth.TenantsOf
	if d.ten == nil {
		return
	}
	ao.Tenants = d.cfg.TenantIDs()
	ao.TenantNames = map[string]string{}
	for _, t := range d.cfg.Tenants {
		ao.TenantNames[t.ID] = t.Name
	}
	ao.AccountTenant = d.ten.accountTenantFunc()
}

// accountTenantFunc is the tenant id that lists an account, for what is
// raised per account outside the pipeline (drill reminders); nil without
// tenants.
func (tn *tenancy) accountTenantFunc() func(id, upn string) string {
	if tn == nil {
		return nil
	}
	return func(id, upn string) string {
		if t := tn.ownerOf(id, upn); t != nil {
			return t.ID
		}
		return ""
	}
}
