package collect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
)

// Options configures Collect.
type Options struct {
	// Accounts is the configured break-glass list (ids and/or UPNs).
	// Group entries in it are skipped (pass them in Groups): they may be
	// left in so that the manifest's accounts[i] is the configuration's.
	Accounts []entra.Account
	// Groups are object ids of groups whose transitive user members are
	// break-glass accounts too.
	Groups []string
	// Out is the snapshot directory; it is created if missing.
	Out string
	// Progress, if set, hears "start", then "done" (with the item count) or
	// "failed", for every dataset. Calls are serialised.
	Progress func(dataset string, state string, n int)
	// Now stamps the manifest (default time.Now).
	Now         func() time.Time
	ToolVersion string
	// TenantID is the configured tenant. When it is a GUID and the
	// credentials turn out to belong to another tenant, Collect stops
	// rather than write a snapshot under the wrong name.
	TenantID string
	// Concurrency bounds the Graph requests in flight (default 4): enough
	// to overlap latency, few enough to stay clear of throttling.
	Concurrency int
}

// Collect fetches every dataset into o.Out and writes the manifest last.
// Graph refusing a dataset is recorded in the manifest, not returned; the
// error is for what stops the run: network and context errors, disk
// errors, or credentials for another tenant.
func Collect(ctx context.Context, g graph.Lister, o Options) (*Manifest, error) {
	if o.Out == "" {
		return nil, errors.New("collect: no output directory")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	// An old manifest must not survive an aborted run, or it would vouch
	// for a mix of old and new files.
	previous := readPreviousFiles(o.Out)
	if err := os.Remove(filepath.Join(o.Out, ManifestFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("collect: removing the previous manifest: %w", err)
	}
	m, err := collectInto(ctx, g, o, dirSink(o.Out))
	if err != nil {
		return nil, err
	}
	if err := writeManifest(o.Out, m); err != nil {
		return nil, err
	}
	removeStale(o.Out, previous, m)
	return m, nil
}

// CollectSnapshot is Collect in memory, for the live audit: it returns
// what Load would read back from the directory Collect writes (the same
// dataset bytes, the same Manifest), and touches no disk. o.Out is
// ignored; Snapshot.Dir is empty.
func CollectSnapshot(ctx context.Context, g graph.Lister, o Options) (*Snapshot, error) {
	mem := &memSink{data: map[string]json.RawMessage{}}
	m, err := collectInto(ctx, g, o, mem)
	if err != nil {
		return nil, err
	}
	// The manifest goes through its JSON form, as Load reads it, so that
	// the two paths cannot differ (time zones, nil and empty slices).
	data, err := encodeManifest(m)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Datasets: map[string]json.RawMessage{}}
	if err := json.Unmarshal(data, &s.Manifest); err != nil {
		return nil, fmt.Errorf("collect: decoding the manifest: %w", err)
	}
	for _, d := range s.Manifest.Datasets {
		s.Datasets[d.Name] = mem.data[d.Name]
	}
	return s, nil
}

// collectInto runs one collection, handing every dataset to out, and
// returns the finished manifest.
func collectInto(ctx context.Context, g graph.Lister, o Options, out sink) (*Manifest, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &collector{
		ctx:    ctx,
		cancel: cancel,
		g:      g,
		sem:    make(chan struct{}, o.Concurrency),
		o:      o,
		out:    out,
		groups: map[string]*groupResult{},
	}
	m := &Manifest{
		Format:      FormatVersion,
		TenantID:    o.TenantID,
		Collected:   o.Now().UTC(),
		ToolVersion: o.ToolVersion,
		Roles:       slices.Clone(Roles),
	}
	c.run()
	if err := c.abortErr(); err != nil {
		return nil, err
	}
	c.finish(m)
	return m, nil
}

const defaultConcurrency = 4

// maxFilterClauses bounds the ids in one userRegistrationDetails $filter.
// Graph limits how complex a filter may be; 15 stays well inside that,
// and a typical privileged set still takes one or two requests.
const maxFilterClauses = 15

type collector struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	g      graph.Lister
	sem    chan struct{} // bounds the requests in flight across all datasets
	o      Options
	out    sink

	mu         sync.Mutex
	fatal      error
	datasets   []Dataset
	failed     []Failure
	unres      []seqUnresolved
	resolved   []seqResolved
	privileged []string
	orgTenant  string
	groups     map[string]*groupResult
	noSignIn   bool // signInActivity was refused once; do not ask again

	progressMu sync.Mutex
}

// seq orders entries the way the configuration lists them, whatever order
// the concurrent lookups finish in.
type seq struct{ entry, sub int }

func (a seq) compare(b seq) int {
	return cmp.Or(cmp.Compare(a.entry, b.entry), cmp.Compare(a.sub, b.sub))
}

type seqUnresolved struct {
	seq
	Unresolved
}

type seqResolved struct {
	seq
	Resolved
}

func (c *collector) run() {
	// The organization comes first: it names the tenant the credentials
	// belong to, and nothing may be collected for the wrong one.
	c.organization()
	if c.aborted() {
		return
	}
	var tenant sync.WaitGroup
	lists := make([]listed, len(tenantLists))
	for i, d := range tenantLists {
		tenant.Go(func() { lists[i].items, lists[i].ok = c.simpleList(d.name, d.v, d.path, d.q) })
	}
	for _, d := range tenantObjects {
		tenant.Go(func() { c.object(d.name, d.v, d.path, d.q) })
	}
	defer tenant.Wait()

	var wg sync.WaitGroup
	var bgUsers []string
	wg.Go(func() { bgUsers = c.breakGlass() })
	roleItems := make([][]json.RawMessage, len(roleLists))
	for i, d := range roleLists {
		wg.Go(func() { roleItems[i], _ = c.roleDataset(d) })
	}
	var policies listed
	wg.Go(func() { policies.items, policies.ok = c.roleDataset(rolePolicies) })
	wg.Wait()
	if c.aborted() {
		return
	}

	roleUsers, roleGroups := principals(roleItems)
	members := make([][]string, len(roleGroups))
	for i, gid := range roleGroups {
		wg.Go(func() {
			ms, _, _ := c.groupMembers(gid)
			for _, m := range ms {
				members[i] = append(members[i], m.ID)
			}
		})
	}
	wg.Wait()
	if c.aborted() {
		return
	}
	privileged := union(append([][]string{bgUsers, roleUsers}, members...)...)
	c.mu.Lock()
	c.privileged = privileged
	c.mu.Unlock()

	var memberOf map[string][]json.RawMessage
	wg.Go(func() { c.authMethods(privileged) })
	wg.Go(func() { c.registrationDetails(privileged) })
	wg.Go(func() { c.authorizationInfo(privileged) })
	wg.Go(func() { memberOf = c.memberOf(privileged) })
	wg.Wait()
	tenant.Wait()
	if c.aborted() {
		return
	}

	// What the checks compare the break-glass users with: the roles and
	// groups Conditional Access names, the workflows that could disable
	// them, and who can approve a Global Administrator activation.
	byName := func(name string) listed {
		return lists[slices.IndexFunc(tenantLists, func(d listSpec) bool { return d.name == name })]
	}
	wg.Go(func() { c.principalRoles(bgUsers, memberOf) })
	wg.Go(func() { c.caGroups(bgUsers, memberOf, byName(DatasetConditionalAccessPolicies)) })
	wg.Go(func() { c.workflowScopes(byName(DatasetLifecycleWorkflows)) })
	wg.Go(func() { c.roleApprovers(policies) })
	wg.Wait()
}

// listed is a list dataset's items, and whether it was written.
type listed struct {
	items []json.RawMessage
	ok    bool
}

type listSpec struct {
	name string
	v    graph.Version
	path string
	q    graph.Query
}

var tenantLists = []listSpec{
	{DatasetConditionalAccessPolicies, graph.V1, "/identity/conditionalAccess/policies", graph.Query{}},
	{DatasetNamedLocations, graph.V1, "/identity/conditionalAccess/namedLocations", graph.Query{}},
	{DatasetAuthStrengthPolicies, graph.V1, "/policies/authenticationStrengthPolicies", graph.Query{}},
	{DatasetDomains, graph.V1, "/domains", graph.Query{}},
	{DatasetLifecycleWorkflows, graph.V1, "/identityGovernance/lifecycleWorkflows/workflows", graph.Query{}},
	{DatasetAccessReviewDefinitions, graph.V1, "/identityGovernance/accessReviews/definitions", graph.Query{}},
}

var tenantObjects = []listSpec{
	{DatasetAuthMethodsPolicy, graph.V1, "/policies/authenticationMethodsPolicy", graph.Query{}},
	{DatasetSecurityDefaults, graph.V1, "/policies/identitySecurityDefaultsEnforcementPolicy", graph.Query{}},
}

// roleLists are filtered per role; the filter is added per call.
var roleLists = []listSpec{
	{DatasetRoleAssignments, graph.V1, "/roleManagement/directory/roleAssignments", graph.Query{Expand: "principal"}},
	{DatasetRoleAssignmentSchedules, graph.V1, "/roleManagement/directory/roleAssignmentSchedules", graph.Query{Expand: "principal"}},
	{DatasetRoleAssignmentInstances, graph.V1, "/roleManagement/directory/roleAssignmentScheduleInstances", graph.Query{Expand: "principal"}},
	{DatasetRoleEligibilitySchedules, graph.V1, "/roleManagement/directory/roleEligibilitySchedules", graph.Query{Expand: "principal"}},
	{DatasetRoleEligibilityInstances, graph.V1, "/roleManagement/directory/roleEligibilityScheduleInstances", graph.Query{Expand: "principal"}},
}

var rolePolicies = listSpec{DatasetRoleManagementPolicies, graph.V1, "/policies/roleManagementPolicyAssignments",
	graph.Query{Filter: "scopeId eq '/' and scopeType eq 'DirectoryRole'", Expand: "policy($expand=rules)"}}

// userSelect is what the audit reads from a break-glass user. Most of it
// is returned only when asked for by $select.
var userSelect = []string{
	"id", "userPrincipalName", "displayName", "accountEnabled", "userType",
	"onPremisesSyncEnabled", "onPremisesImmutableId", "createdDateTime",
	"passwordPolicies", "lastPasswordChangeDateTime", "mail", "otherMails",
	"mobilePhone", "businessPhones", "assignedLicenses", signInActivity,
}

const signInActivity = "signInActivity"

var groupSelect = []string{
	"id", "displayName", "isAssignableToRole", "securityEnabled", "mailEnabled",
	"groupTypes", "membershipRule", "membershipRuleProcessingState",
	"onPremisesSyncEnabled", "visibility",
}

var memberSelect = []string{"id", "userPrincipalName", "displayName", "accountEnabled", "userType", "onPremisesSyncEnabled"}

// call is one request of a dataset. get fetches a single object and adds
// it as one item.
type call struct {
	v    graph.Version
	path string
	q    graph.Query
	get  bool
}

// fetched is the outcome of a dataset's calls.
type fetched struct {
	items   []json.RawMessage
	errs    []*graph.Error      // in call order
	byCall  []*graph.Error      // per call: Graph's refusal, or nil
	results [][]json.RawMessage // per call: the items it returned
	ok      int                 // calls that succeeded
	skipped bool                // calls left out after a permission or licence refusal
}

// fetch runs calls within the request limit and concatenates what they
// return in call order. After a permission or licence refusal the calls
// not yet started are skipped: the others would be refused the same way,
// and on a large privileged set that is many pointless requests. skip, if
// set, is asked the same just before each call. fetch returns false when
// the run was aborted.
func (c *collector) fetch(calls []call, skip func() bool) (fetched, bool) {
	results := make([][]json.RawMessage, len(calls))
	errs := make([]*graph.Error, len(calls))
	done := make([]bool, len(calls))
	var refused atomic.Bool
	var wg sync.WaitGroup
	for i, cl := range calls {
		wg.Go(func() {
			err := c.slot(func() error {
				// Asked only once a slot is free, so that a refusal seen
				// while waiting still saves the request.
				if refused.Load() || skip != nil && skip() {
					return errSkipped
				}
				if cl.get {
					var raw json.RawMessage
					err := c.g.Get(c.ctx, cl.v, cl.path, cl.q, &raw)
					if err == nil {
						results[i] = []json.RawMessage{raw}
					}
					return err
				}
				return c.g.List(c.ctx, cl.v, cl.path, cl.q, func(items []json.RawMessage) error {
					results[i] = append(results[i], items...)
					return nil
				})
			})
			if errors.Is(err, errSkipped) {
				return
			}
			ge, fatal := c.graphError(err)
			switch {
			case fatal:
				return
			case ge != nil:
				errs[i] = ge
				if r := reason(ge); r == ReasonPermission || r == ReasonLicence {
					refused.Store(true)
				}
			default:
				done[i] = true
			}
		})
	}
	wg.Wait()
	if c.aborted() {
		return fetched{}, false
	}
	f := fetched{byCall: errs, results: results}
	for i := range calls {
		switch {
		case done[i]:
			f.ok++
			f.items = append(f.items, results[i]...)
		case errs[i] != nil:
			f.errs = append(f.errs, errs[i])
		default:
			f.skipped = true
		}
	}
	return f, true
}

// listDataset fetches and writes one list dataset. It is written unless
// every call failed; failures are recorded under failName (the dataset's
// own name, or its family's for keyed datasets).
func (c *collector) listDataset(name, failName, endpoint string, v graph.Version, calls []call) (fetched, bool) {
	c.progress(name, "start", 0)
	f, ok := c.fetch(calls, nil)
	if !ok {
		return f, false
	}
	written := f.ok > 0 || len(calls) == 0
	for _, ge := range f.errs {
		c.fail(failureOf(failName, endpoint, ge, written))
	}
	if !written {
		c.progress(name, "failed", 0)
		return f, false
	}
	if !c.writeList(name, endpoint, v, f.items) {
		return f, false
	}
	c.progress(name, "done", len(f.items))
	return f, true
}

func (c *collector) simpleList(name string, v graph.Version, path string, q graph.Query) ([]json.RawMessage, bool) {
	f, ok := c.listDataset(name, name, endpointOf(path, q), v, []call{{v: v, path: path, q: q}})
	return f.items, ok
}

func (c *collector) object(name string, v graph.Version, path string, q graph.Query) {
	c.progress(name, "start", 0)
	endpoint := endpointOf(path, q)
	var raw json.RawMessage
	ge, fatal := c.graphError(c.slot(func() error { return c.g.Get(c.ctx, v, path, q, &raw) }))
	switch {
	case fatal:
		return
	case ge != nil:
		c.fail(failureOf(name, endpoint, ge, false))
		c.progress(name, "failed", 0)
		return
	}
	if c.write(name, raw) {
		c.addDataset(Dataset{Name: name, File: fileOf(name), Endpoint: endpoint, Version: v, Count: 1, Object: true})
		c.progress(name, "done", 1)
	}
}

func (c *collector) organization() {
	items, ok := c.simpleList(DatasetOrganization, graph.V1, "/organization", graph.Query{})
	if !ok || len(items) == 0 {
		return
	}
	var org struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(items[0], &org) != nil || org.ID == "" {
		return
	}
	if entra.IsGUID(c.o.TenantID) && !strings.EqualFold(org.ID, c.o.TenantID) {
		c.abort(fmt.Errorf("collect: the Graph credentials belong to tenant %s, not the configured tenant %s", org.ID, c.o.TenantID))
		return
	}
	c.mu.Lock()
	c.orgTenant = org.ID
	c.mu.Unlock()
}

// roleDataset fetches one role dataset, one call per role so that each
// role's filter stays a plain equality (the form every endpoint supports).
func (c *collector) roleDataset(d listSpec) ([]json.RawMessage, bool) {
	var calls []call
	for _, role := range Roles {
		q := d.q
		clause := "roleDefinitionId eq '" + role + "'"
		if q.Filter != "" {
			q.Filter += " and " + clause
		} else {
			q.Filter = clause
		}
		calls = append(calls, call{v: d.v, path: d.path, q: q})
	}
	tq := d.q
	tq.Filter = strings.TrimPrefix(tq.Filter+" and roleDefinitionId eq '{roleDefinitionId}'", " and ")
	f, ok := c.listDataset(d.name, d.name, endpointOf(d.path, tq), d.v, calls)
	return f.items, ok
}

// principals picks the users and groups holding a role out of the role
// datasets, in order of first appearance. Service principals are left
// out: they have no sign-in methods to audit.
func principals(datasets [][]json.RawMessage) (users, groups []string) {
	seenU, seenG := map[string]bool{}, map[string]bool{}
	for _, items := range datasets {
		for _, raw := range items {
			var a struct {
				PrincipalID string `json:"principalId"`
				Principal   *struct {
					Type string `json:"@odata.type"`
					ID   string `json:"id"`
				} `json:"principal"`
			}
			if json.Unmarshal(raw, &a) != nil || a.Principal == nil {
				continue
			}
			id := cmp.Or(a.Principal.ID, a.PrincipalID)
			k := strings.ToLower(id)
			switch a.Principal.Type {
			case "#microsoft.graph.user":
				if !seenU[k] {
					seenU[k] = true
					users = append(users, id)
				}
			case "#microsoft.graph.group":
				if !seenG[k] {
					seenG[k] = true
					groups = append(groups, id)
				}
			}
		}
	}
	return users, groups
}

// authMethods writes auth_methods.<id> per privileged user.
func (c *collector) authMethods(users []string) {
	c.keyedLists(DatasetAuthMethods, "/users/{id}/authentication/methods", graph.Query{}, users)
}

// keyedLists writes family.<key> per key, from GET pathTmpl with {id}
// replaced by the key, and returns the items of those written by key. A
// permission or licence refusal is recorded once under the family name
// and covers every key whose dataset is missing; the calls not yet
// started are then skipped, since they would be refused the same way.
func (c *collector) keyedLists(family, pathTmpl string, q graph.Query, keys []string) map[string][]json.RawMessage {
	var refused atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	out := map[string][]json.RawMessage{}
	endpoint := endpointOf(pathTmpl, q)
	for _, key := range keys {
		wg.Go(func() {
			name := KeyedName(family, key)
			path := strings.Replace(pathTmpl, "{id}", key, 1)
			c.progress(name, "start", 0)
			f, ok := c.fetch([]call{{v: graph.V1, path: path, q: q}}, refused.Load)
			switch {
			case !ok:
				return
			case f.skipped:
				c.progress(name, "failed", 0)
				return
			}
			if len(f.errs) > 0 {
				ge := f.errs[0]
				failName := name
				if r := reason(ge); r == ReasonPermission || r == ReasonLicence {
					refused.Store(true)
					failName = family
				}
				c.fail(failureOf(failName, endpoint, ge, false))
				c.progress(name, "failed", 0)
				return
			}
			if c.writeList(name, endpointOf(path, q), graph.V1, f.items) {
				c.progress(name, "done", len(f.items))
				mu.Lock()
				out[strings.ToLower(key)] = f.items
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// registrationDetails reads the bulk report for the privileged users only,
// a few ids per request, never the whole tenant.
func (c *collector) registrationDetails(users []string) {
	const path = "/reports/authenticationMethods/userRegistrationDetails"
	var calls []call
	for chunk := range slices.Chunk(users, maxFilterClauses) {
		clauses := make([]string, len(chunk))
		for i, id := range chunk {
			clauses[i] = "id eq '" + quote(id) + "'"
		}
		calls = append(calls, call{v: graph.V1, path: path, q: graph.Query{Filter: strings.Join(clauses, " or ")}})
	}
	c.listDataset(DatasetUserRegistrationDetails, DatasetUserRegistrationDetails,
		endpointOf(path, graph.Query{Filter: "id eq '{id}' or …"}), graph.V1, calls)
}

// authorizationInfo reads certificateUserIds, the evidence that a user can
// sign in with a certificate; only beta has it.
func (c *collector) authorizationInfo(users []string) {
	q := graph.Query{Select: []string{"id", "userPrincipalName", "authorizationInfo"}}
	var calls []call
	for _, id := range users {
		calls = append(calls, call{v: graph.Beta, path: "/users/" + id, q: q, get: true})
	}
	c.listDataset(DatasetUserAuthorizationInfo, DatasetUserAuthorizationInfo, endpointOf("/users/{id}", q), graph.Beta, calls)
}

// graphError sorts the error of one Graph call. Graph's own answer is
// returned for the caller to record; anything else (network, context,
// decoding) aborts the run and reports fatal.
func (c *collector) graphError(err error) (ge *graph.Error, fatal bool) {
	if err == nil {
		return nil, false
	}
	if errors.As(err, &ge) && c.ctx.Err() == nil {
		return ge, false
	}
	c.abort(err)
	return nil, true
}

func (c *collector) abort(err error) {
	c.mu.Lock()
	if c.fatal == nil {
		c.fatal = err
	}
	c.mu.Unlock()
	c.cancel(err)
}

func (c *collector) aborted() bool { return c.ctx.Err() != nil }

func (c *collector) abortErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fatal != nil {
		return c.fatal
	}
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("collect: %w", context.Cause(c.ctx))
	}
	return nil
}

// reason classifies Graph's refusal. A missing licence is recognised
// first because Graph reports it with 400 or 403 depending on the API.
func reason(ge *graph.Error) string {
	text := strings.ToLower(ge.Code + " " + ge.Message)
	for _, w := range []string{"licen", "premium", "sku"} {
		if strings.Contains(text, w) {
			return ReasonLicence
		}
	}
	switch ge.Status {
	case 401, 403:
		return ReasonPermission
	case 404:
		return ReasonNotFound
	}
	return ReasonError
}

func failureOf(name, endpoint string, ge *graph.Error, partial bool) Failure {
	return Failure{
		Name: name, Endpoint: endpoint,
		Status: ge.Status, Code: ge.Code, Message: ge.Message, Hint: ge.Hint,
		Reason: reason(ge), Partial: partial,
	}
}

// fail records a failure once: the same refusal repeated for every user or
// role says nothing new.
func (c *collector) fail(f Failure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.failed {
		if g.Name == f.Name && g.Field == f.Field && g.Status == f.Status && g.Code == f.Code && g.From == f.From {
			return
		}
	}
	c.failed = append(c.failed, f)
}

func (c *collector) unresolved(s seq, entry, why string) {
	c.mu.Lock()
	c.unres = append(c.unres, seqUnresolved{s, Unresolved{Entry: entry, Reason: why}})
	c.mu.Unlock()
}

func (c *collector) addResolved(s seq, r Resolved) {
	c.mu.Lock()
	c.resolved = append(c.resolved, seqResolved{s, r})
	c.mu.Unlock()
}

func (c *collector) addDataset(d Dataset) {
	c.mu.Lock()
	c.datasets = append(c.datasets, d)
	c.mu.Unlock()
}

func (c *collector) progress(name, state string, n int) {
	if c.o.Progress == nil {
		return
	}
	c.progressMu.Lock()
	defer c.progressMu.Unlock()
	c.o.Progress(name, state, n)
}

// endpointOf renders a request for the manifest, unescaped so it reads
// like Graph's documentation.
func endpointOf(path string, q graph.Query) string {
	var opts []string
	if len(q.Select) > 0 {
		opts = append(opts, "$select="+strings.Join(q.Select, ","))
	}
	if q.Filter != "" {
		opts = append(opts, "$filter="+q.Filter)
	}
	if q.Expand != "" {
		opts = append(opts, "$expand="+q.Expand)
	}
	if len(opts) == 0 {
		return path
	}
	return path + "?" + strings.Join(opts, "&")
}

func quote(s string) string { return strings.ReplaceAll(s, "'", "''") }

// union concatenates id lists, keeping the first of ids equal but for
// case.
func union(lists ...[]string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, l := range lists {
		for _, id := range l {
			if k := strings.ToLower(id); id != "" && !seen[k] {
				seen[k] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// errSkipped marks a call left out after a refusal.
var errSkipped = errors.New("skipped")

// slot runs fn while holding one of the request slots, or returns the
// abort cause if the run ends first.
func (c *collector) slot(fn func() error) error {
	select {
	case c.sem <- struct{}{}:
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
	defer func() { <-c.sem }()
	return fn()
}
