// Package collecttest serves a collect snapshot as a Microsoft Graph
// look-alike and builds large synthetic tenants, so that collection and
// the audit can be tested, compared and timed against a whole tenant on
// loopback. It lives beside collect rather than in graphtest because
// graphtest is imported by the tests of graph, which collect imports.
package collecttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/graphtest"
)

// DefaultPageSize is the page size Serve uses when given none: Graph's
// usual 100.
const DefaultPageSize = 100

// Tenant answers Graph requests from a snapshot: every endpoint collect
// calls, with the $filter and $select forms it sends. What the snapshot
// lacks is answered as the snapshot's manifest says Graph answered (the
// recorded failure), or as a Graph 404. It is also a graph.Lister, for
// in-process collection without HTTP.
type Tenant struct {
	s        *collect.Snapshot
	pageSize int
	names    map[string]string // lower-case dataset name -> name

	users, approvers, authInfo map[string]json.RawMessage // by lower-case id (and UPN for users)
	groupsV1, groupsBeta       map[string]json.RawMessage
	approverSelect             string
	fails                      map[string]collect.Failure // own failures of absent datasets, by name
	signIn                     *collect.Failure           // signInActivity refused
}

// plain are the datasets served at one fixed path.
var plain = map[string]struct {
	v      graph.Version
	path   string
	object bool
}{
	collect.DatasetOrganization:              {graph.V1, "/organization", false},
	collect.DatasetConditionalAccessPolicies: {graph.V1, "/identity/conditionalAccess/policies", false},
	collect.DatasetNamedLocations:            {graph.V1, "/identity/conditionalAccess/namedLocations", false},
	collect.DatasetAuthStrengthPolicies:      {graph.V1, "/policies/authenticationStrengthPolicies", false},
	collect.DatasetDomains:                   {graph.V1, "/domains", false},
	collect.DatasetLifecycleWorkflows:        {graph.V1, "/identityGovernance/lifecycleWorkflows/workflows", false},
	collect.DatasetAccessReviewDefinitions:   {graph.V1, "/identityGovernance/accessReviews/definitions", false},
	collect.DatasetAuthMethodsPolicy:         {graph.V1, "/policies/authenticationMethodsPolicy", true},
	collect.DatasetSecurityDefaults:          {graph.V1, "/policies/identitySecurityDefaultsEnforcementPolicy", true},
}

// NewTenant indexes s. pageSize <= 0 means DefaultPageSize.
func NewTenant(s *collect.Snapshot, pageSize int) (*Tenant, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	tn := &Tenant{
		s: s, pageSize: pageSize, names: map[string]string{},
		users: map[string]json.RawMessage{}, approvers: map[string]json.RawMessage{}, authInfo: map[string]json.RawMessage{},
		groupsV1: map[string]json.RawMessage{}, groupsBeta: map[string]json.RawMessage{},
		fails: map[string]collect.Failure{},
	}
	for name := range s.Datasets {
		tn.names[strings.ToLower(name)] = name
	}
	index := func(name string, into map[string]json.RawMessage, byUPN bool) error {
		items, ok, err := s.Items(name)
		if err != nil || !ok {
			return err
		}
		for i, raw := range items {
			var o struct {
				ID       string `json:"id"`
				UPN      string `json:"userPrincipalName"`
				NotFound bool   `json:"@breakglass.notFound"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				return fmt.Errorf("%s[%d]: %w", name, i, err)
			}
			if o.NotFound {
				continue // Graph answered 404, and so does the server
			}
			into[strings.ToLower(o.ID)] = raw
			if byUPN && o.UPN != "" {
				into[strings.ToLower(o.UPN)] = raw
			}
		}
		return nil
	}
	for _, ix := range []struct {
		name  string
		into  map[string]json.RawMessage
		byUPN bool
	}{
		{collect.DatasetBreakGlassUsers, tn.users, true},
		{collect.DatasetRoleApprovers, tn.approvers, false},
		{collect.DatasetUserAuthorizationInfo, tn.authInfo, false},
		{collect.DatasetBreakGlassGroups, tn.groupsV1, false},
		{collect.DatasetCAGroups, tn.groupsBeta, false},
	} {
		if err := index(ix.name, ix.into, ix.byUPN); err != nil {
			return nil, fmt.Errorf("collecttest: %w", err)
		}
	}
	for _, d := range s.Manifest.Datasets {
		if d.Name == collect.DatasetRoleApprovers {
			tn.approverSelect = selectOf(d.Endpoint)
		}
	}
	for _, f := range s.Manifest.Failed {
		switch {
		case f.From != "":
		case f.Name == collect.DatasetBreakGlassUsers && f.Field == "signInActivity":
			tn.signIn = &f
		case !f.Partial:
			tn.fails[f.Name] = f
		}
	}
	return tn, nil
}

func selectOf(endpoint string) string {
	_, q, _ := strings.Cut(endpoint, "?")
	for part := range strings.SplitSeq(q, "&") {
		if v, ok := strings.CutPrefix(part, "$select="); ok {
			return v
		}
	}
	return ""
}

// answer is what Graph says to one request.
type answer struct {
	items  []json.RawMessage
	object json.RawMessage
	list   bool
	fail   *collect.Failure // a recorded refusal, or a 404 when Status is 404
}

func notFound(what string) answer {
	return answer{fail: &collect.Failure{Status: 404, Code: "Request_ResourceNotFound",
		Message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", what)}}
}

var (
	roleIDFilter      = regexp.MustCompile(`roleDefinitionId eq '([^']*)'`)
	principalIDFilter = regexp.MustCompile(`principalId eq '([^']*)'`)
	idFilter          = regexp.MustCompile(`(?:^|[ (])id eq '([^']*)'`)
)

// resolve answers GET version path with the query options sel, filter.
func (tn *Tenant) resolve(v graph.Version, path, sel, filter string) answer {
	for name, p := range plain {
		if v == p.v && strings.EqualFold(path, p.path) {
			if p.object {
				return tn.object(name)
			}
			return tn.list(name, nil)
		}
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	lower := strings.ToLower(path)
	switch {
	case len(seg) == 2 && seg[0] == "users":
		key := seg[1]
		if k, ok := strings.CutPrefix(key, "('"); ok {
			key = strings.ReplaceAll(strings.TrimSuffix(k, "')"), "''", "'")
		}
		key = strings.ToLower(key)
		switch {
		case v == graph.Beta:
			return tn.one(collect.DatasetUserAuthorizationInfo, tn.authInfo, key)
		case tn.approvers[key] != nil && (tn.users[key] == nil || sel == tn.approverSelect):
			// An approver, unless the request is the break-glass user's.
			return tn.one(collect.DatasetRoleApprovers, tn.approvers, key)
		case tn.signIn != nil && slices.Contains(strings.Split(sel, ","), "signInActivity"):
			return answer{fail: tn.signIn}
		}
		return tn.one(collect.DatasetBreakGlassUsers, tn.users, key)
	case len(seg) == 4 && seg[0] == "users" && strings.EqualFold(seg[2]+"/"+seg[3], "authentication/methods"):
		return tn.keyed(collect.DatasetAuthMethods, seg[1])
	case len(seg) == 4 && seg[0] == "users" && strings.EqualFold(seg[2]+"/"+seg[3], "transitiveMemberOf/microsoft.graph.group"):
		return tn.keyed(collect.DatasetMemberOf, seg[1])
	case len(seg) == 2 && seg[0] == "groups":
		if v == graph.Beta {
			return tn.one(collect.DatasetCAGroups, tn.groupsBeta, strings.ToLower(seg[1]))
		}
		return tn.one(collect.DatasetBreakGlassGroups, tn.groupsV1, strings.ToLower(seg[1]))
	case len(seg) == 4 && seg[0] == "groups" && strings.EqualFold(seg[2]+"/"+seg[3], "transitiveMembers/microsoft.graph.user"):
		return tn.keyed(collect.DatasetGroupMembers, seg[1])
	case len(seg) == 5 && strings.HasPrefix(lower, "/identitygovernance/lifecycleworkflows/workflows/") && strings.EqualFold(seg[4], "executionScope"):
		return tn.keyed(collect.DatasetWorkflowScope, seg[3])
	case strings.HasPrefix(lower, "/rolemanagement/directory/") && len(seg) == 3:
		if m := principalIDFilter.FindStringSubmatch(filter); m != nil && strings.EqualFold(seg[2], "roleAssignments") {
			return tn.list(collect.DatasetPrincipalRoleAssignments, field("principalId", m[1]))
		}
		name, ok := roleDatasets[strings.ToLower(seg[2])]
		if !ok {
			return notFound(path)
		}
		return tn.list(name, roleFilter(filter))
	case lower == "/policies/rolemanagementpolicyassignments":
		return tn.list(collect.DatasetRoleManagementPolicies, roleFilter(filter))
	case lower == "/reports/authenticationmethods/userregistrationdetails":
		var ids []string
		for _, m := range idFilter.FindAllStringSubmatch(filter, -1) {
			ids = append(ids, strings.ToLower(m[1]))
		}
		return tn.list(collect.DatasetUserRegistrationDetails, func(raw json.RawMessage) bool {
			return filter == "" || slices.Contains(ids, strings.ToLower(str(raw, "id")))
		})
	}
	return notFound(path)
}

var roleDatasets = map[string]string{
	"roleassignments":                  collect.DatasetRoleAssignments,
	"roleassignmentschedules":          collect.DatasetRoleAssignmentSchedules,
	"roleassignmentscheduleinstances":  collect.DatasetRoleAssignmentInstances,
	"roleeligibilityschedules":         collect.DatasetRoleEligibilitySchedules,
	"roleeligibilityscheduleinstances": collect.DatasetRoleEligibilityInstances,
}

func roleFilter(filter string) func(json.RawMessage) bool {
	m := roleIDFilter.FindStringSubmatch(filter)
	if m == nil {
		return nil
	}
	return field("roleDefinitionId", m[1])
}

func field(name, want string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool { return strings.EqualFold(str(raw, name), want) }
}

func str(raw json.RawMessage, name string) string {
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil {
		return ""
	}
	var s string
	_ = json.Unmarshal(o[name], &s)
	return s
}

// absent answers for a dataset the snapshot lacks: its recorded failure,
// its family's, or a 404.
func (tn *Tenant) absent(name, what string) answer {
	if f, ok := tn.fails[name]; ok {
		return answer{fail: &f}
	}
	if family, _, keyed := strings.Cut(name, "."); keyed {
		if f, ok := tn.fails[family]; ok {
			return answer{fail: &f}
		}
	}
	return notFound(what)
}

func (tn *Tenant) list(name string, keep func(json.RawMessage) bool) answer {
	items, ok, err := tn.s.Items(name)
	if !ok || err != nil {
		return tn.absent(name, name)
	}
	if keep != nil {
		items = slices.DeleteFunc(slices.Clone(items), func(raw json.RawMessage) bool { return !keep(raw) })
	}
	return answer{items: items, list: true}
}

func (tn *Tenant) object(name string) answer {
	raw, ok := tn.s.Datasets[name]
	if !ok {
		return tn.absent(name, name)
	}
	return answer{object: raw}
}

func (tn *Tenant) keyed(family, key string) answer {
	if name, ok := tn.names[strings.ToLower(collect.KeyedName(family, key))]; ok {
		return tn.list(name, nil)
	}
	return tn.absent(collect.KeyedName(family, key), key)
}

// one answers a GET of one object of a dataset fetched object by object.
func (tn *Tenant) one(name string, objs map[string]json.RawMessage, key string) answer {
	if raw, ok := objs[key]; ok {
		return answer{object: raw}
	}
	if _, ok := tn.s.Datasets[name]; ok {
		return notFound(key)
	}
	return tn.absent(name, key)
}

func (tn *Tenant) graphError(a answer) *graph.Error {
	return &graph.Error{Status: cmpOr(a.fail.Status, 500), Code: a.fail.Code, Message: a.fail.Message}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// Get implements graph.Lister in process.
func (tn *Tenant) Get(ctx context.Context, v graph.Version, path string, q graph.Query, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a := tn.resolve(v, path, strings.Join(q.Select, ","), q.Filter)
	switch {
	case a.fail != nil:
		return tn.graphError(a)
	case a.list:
		return fmt.Errorf("collecttest: GET %s is a collection", path)
	}
	return json.Unmarshal(a.object, out)
}

// List implements graph.Lister in process, in pages of the page size.
func (tn *Tenant) List(ctx context.Context, v graph.Version, path string, q graph.Query, fn func([]json.RawMessage) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a := tn.resolve(v, path, strings.Join(q.Select, ","), q.Filter)
	switch {
	case a.fail != nil:
		return tn.graphError(a)
	case !a.list:
		return fmt.Errorf("collecttest: GET %s is not a collection", path)
	}
	for chunk := range slices.Chunk(a.items, tn.pageSize) {
		if err := fn(chunk); err != nil {
			return err
		}
	}
	return nil
}

// Serve starts a Graph look-alike on loopback serving s at every endpoint
// collect calls, pageSize items a page (DefaultPageSize if <= 0), with
// @odata.nextLink paging. Collecting from it gives s again (see the
// package tests); its routes, Fail and Requests work as usual.
func Serve(t testing.TB, s *collect.Snapshot, pageSize int) *graphtest.Server {
	t.Helper()
	tn, err := NewTenant(s, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	srv := graphtest.New(t)
	srv.Fallback(func(w http.ResponseWriter, r *http.Request) { tn.serveHTTP(srv.URL, w, r) })
	return srv
}

func (tn *Tenant) serveHTTP(base string, w http.ResponseWriter, r *http.Request) {
	version, path, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || version != string(graph.V1) && version != string(graph.Beta) {
		writeError(w, 400, "BadRequest", "Invalid version.")
		return
	}
	q := r.URL.Query()
	a := tn.resolve(graph.Version(version), "/"+path, q.Get("$select"), q.Get("$filter"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case a.fail != nil:
		writeError(w, cmpOr(a.fail.Status, 500), a.fail.Code, a.fail.Message)
		return
	case !a.list:
		w.Write(a.object)
		return
	}
	start := 0
	if tok := q.Get("$skiptoken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(a.items) {
			writeError(w, 400, "Request_BadRequest", "Invalid $skiptoken.")
			return
		}
		start = n
	}
	end := min(start+tn.pageSize, len(a.items))
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"@odata.context":%q,"value":[`, base+"/"+version+"/$metadata#collection")
	for i, raw := range a.items[start:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteByte(']')
	if end < len(a.items) {
		q.Set("$skiptoken", strconv.Itoa(end))
		next, _ := json.Marshal(base + r.URL.EscapedPath() + "?" + q.Encode())
		b.WriteString(`,"@odata.nextLink":`)
		b.Write(next)
	}
	b.WriteString("}\n")
	w.Write(b.Bytes())
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(graphtest.GraphError(code, message))
}

var (
	accountEntry = regexp.MustCompile(`^accounts\[(\d+)\] (id|upn) (\S+)(?: \(upn (\S+)\))?$`)
	groupEntry   = regexp.MustCompile(`^groups\[(\d+)\] id (\S+)`)
)

// Options rebuilds the collect options a snapshot was taken with (the
// accounts and groups of its manifest entries, its tenant, tool version
// and time), so that collecting from Serve(s) repeats that collection.
func Options(s *collect.Snapshot) collect.Options {
	accounts := map[int]entra.Account{}
	groups := map[int]string{}
	var entries []string
	for _, a := range s.Manifest.Accounts {
		entries = append(entries, a.Entry)
	}
	for _, u := range s.Manifest.Unresolved {
		entries = append(entries, u.Entry)
	}
	for _, e := range entries {
		if m := accountEntry.FindStringSubmatch(e); m != nil {
			i, _ := strconv.Atoi(m[1])
			a := entra.Account{UPN: m[4]}
			if m[2] == "id" {
				a.ID = m[3]
			} else {
				a.UPN = m[3]
			}
			accounts[i] = a
		} else if m := groupEntry.FindStringSubmatch(e); m != nil {
			i, _ := strconv.Atoi(m[1])
			groups[i] = m[2]
		}
	}
	o := collect.Options{TenantID: s.Manifest.TenantID, ToolVersion: s.Manifest.ToolVersion}
	collected := s.Manifest.Collected
	o.Now = func() time.Time { return collected }
	for _, i := range slices.Sorted(maps.Keys(accounts)) {
		o.Accounts = append(o.Accounts, accounts[i])
	}
	for _, i := range slices.Sorted(maps.Keys(groups)) {
		o.Groups = append(o.Groups, groups[i])
	}
	return o
}

var _ graph.Lister = (*Tenant)(nil)
