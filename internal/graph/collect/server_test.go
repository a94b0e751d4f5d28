package collect

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"breakglass/internal/graph"
)

// tenant is a Graph-shaped test server for one small tenant: the
// endpoints collect calls, with paging, $select, the $filter forms collect
// sends, and Graph error bodies. Everything it does not know is a Graph
// 404, so an unexpected request shows up as a failure in the manifest.
type tenant struct {
	t        *testing.T
	srv      *httptest.Server
	pageSize int

	users   []obj               // in creation order
	groups  map[string]obj      // by id
	members map[string][]string // group id -> direct member ids (users or groups)
	methods map[string][]obj    // user id -> authentication methods
	lists   map[string][]obj    // fixed collections by path
	objects map[string]obj      // fixed objects by path
	roles   map[string][]obj    // role collections by path, filtered by roleDefinitionId
	regs    []obj               // userRegistrationDetails, one per user
	scopes  map[string][]string // workflow id -> user ids in its execution scope

	mu       sync.Mutex
	fails    map[string]failure // by path (no version), or "select:<field>"
	requests []string           // "GET /v1.0/path?query"
}

type obj = map[string]any

type failure struct {
	status        int
	code, message string
}

const tenantID = "11111111-2222-3333-4444-555555555555"

func id(n int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", n) }

// newTenant builds the standard test tenant plus filler ordinary users,
// who must cost nothing.
func newTenant(t *testing.T, filler int) *tenant {
	tn := &tenant{
		t: t, pageSize: 2,
		groups: map[string]obj{}, members: map[string][]string{}, methods: map[string][]obj{},
		lists: map[string][]obj{}, objects: map[string]obj{}, roles: map[string][]obj{},
		fails: map[string]failure{},
	}
	user := func(n int, upn string) obj {
		u := obj{
			"id": id(n), "userPrincipalName": upn, "displayName": strings.Split(upn, "@")[0],
			"accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": nil,
			"createdDateTime": "2024-01-02T03:04:05Z", "passwordPolicies": "DisablePasswordExpiration",
			"signInActivity":    obj{"lastSuccessfulSignInDateTime": "2026-01-01T00:00:00Z"},
			"authorizationInfo": obj{"certificateUserIds": []string{}},
			"jobTitle":          "never selected",
		}
		tn.users = append(tn.users, u)
		tn.regs = append(tn.regs, obj{"id": id(n), "userPrincipalName": upn, "methodsRegistered": []string{"fido2SecurityKey"}, "isAdmin": n < 100})
		tn.methods[id(n)] = []obj{
			{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490"},
			{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "fido-" + id(n), "aaGuid": "2fc0579f-8113-47ea-b116-555a8db9202a", "model": "NFC key"},
		}
		return u
	}
	user(1, "bg1@contoso.onmicrosoft.com")
	user(2, "bg2@contoso.onmicrosoft.com")
	user(3, "bg-nested@contoso.onmicrosoft.com")
	user(10, "admin1@contoso.com")
	user(11, "admin2@contoso.com")
	user(12, "admin3@contoso.com")
	for i := range filler {
		user(1000+i, fmt.Sprintf("user%05d@contoso.com", i))
	}

	// Break-glass group 901 holds group 902, which holds bg-nested.
	tn.groups[id(901)] = obj{"id": id(901), "displayName": "Break glass", "isAssignableToRole": true, "isManagementRestricted": true, "securityEnabled": true}
	tn.groups[id(902)] = obj{"id": id(902), "displayName": "Break glass (nested)", "securityEnabled": true}
	tn.members[id(901)] = []string{id(902)}
	tn.members[id(902)] = []string{id(3)}
	// Group 903 holds Global Administrator; admin2 is in it.
	tn.groups[id(903)] = obj{"id": id(903), "displayName": "GA holders", "isAssignableToRole": true}
	tn.members[id(903)] = []string{id(11)}
	// An empty break-glass group.
	tn.groups[id(904)] = obj{"id": id(904), "displayName": "Empty"}

	principal := func(n int) obj {
		if g, ok := tn.groups[id(n)]; ok {
			return obj{"@odata.type": "#microsoft.graph.group", "id": g["id"], "displayName": g["displayName"]}
		}
		u := tn.user(id(n))
		return obj{"@odata.type": "#microsoft.graph.user", "id": u["id"], "userPrincipalName": u["userPrincipalName"]}
	}
	assign := func(path string, n int, role string, extra obj) {
		a := obj{"id": fmt.Sprintf("a-%d-%s", n, role[:8]), "principalId": id(n), "roleDefinitionId": role, "directoryScopeId": "/", "principal": principal(n)}
		for k, v := range extra {
			a[k] = v
		}
		tn.roles[path] = append(tn.roles[path], a)
	}
	const rm = "/roleManagement/directory/"
	noExp := obj{"assignmentType": "Assigned", "memberType": "Direct", "scheduleInfo": obj{"expiration": obj{"type": "noExpiration"}}}
	assign(rm+"roleAssignments", 1, RoleGlobalAdministrator, nil)
	assign(rm+"roleAssignments", 903, RoleGlobalAdministrator, nil)
	assign(rm+"roleAssignments", 12, RolePrivilegedRoleAdministrator, nil)
	assign(rm+"roleAssignments", 2000, RoleGlobalAdministrator, nil) // a service principal, below
	tn.roles[rm+"roleAssignments"][3]["principal"] = obj{"@odata.type": "#microsoft.graph.servicePrincipal", "id": id(2000)}
	assign(rm+"roleAssignments", 77, "fe930be7-5e62-47db-91af-98c3a49a38b1", nil) // User Administrator: not collected
	// The break-glass group holds Security Reader: only principal_role_assignments sees it.
	assign(rm+"roleAssignments", 901, "5d6b6bb7-de71-4623-b4af-96380a352509", nil)
	assign(rm+"roleAssignmentSchedules", 1, RoleGlobalAdministrator, noExp)
	assign(rm+"roleAssignmentSchedules", 903, RoleGlobalAdministrator, noExp)
	assign(rm+"roleAssignmentScheduleInstances", 1, RoleGlobalAdministrator, obj{"startDateTime": "2024-01-01T00:00:00Z", "endDateTime": nil})
	assign(rm+"roleEligibilitySchedules", 10, RoleGlobalAdministrator, nil)
	assign(rm+"roleEligibilityScheduleInstances", 10, RoleGlobalAdministrator, nil)
	for _, r := range Roles {
		tn.roles["/policies/roleManagementPolicyAssignments"] = append(tn.roles["/policies/roleManagementPolicyAssignments"], obj{
			"id": "Directory_" + tenantID + "_" + r, "scopeId": "/", "scopeType": "DirectoryRole", "roleDefinitionId": r,
			"policy": obj{"id": "pol-" + r[:8], "rules": []obj{{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": "Approval_EndUser_Assignment", "setting": obj{
				"isApprovalRequired": true,
				"approvalStages": []obj{{
					// admin1, a deleted user, and the empty group.
					"primaryApprovers":    []obj{{"@odata.type": "#microsoft.graph.singleUser", "userId": id(10)}, {"@odata.type": "#microsoft.graph.singleUser", "userId": id(555)}},
					"escalationApprovers": []obj{{"@odata.type": "#microsoft.graph.groupMembers", "groupId": id(904)}},
				}},
			}}}},
		})
	}

	tn.lists["/organization"] = []obj{{"id": tenantID, "displayName": "Contoso"}}
	for i := range 5 {
		tn.lists["/identity/conditionalAccess/policies"] = append(tn.lists["/identity/conditionalAccess/policies"], obj{
			"id": fmt.Sprintf("ca-%d", i), "displayName": fmt.Sprintf("Policy %d", i), "state": "enabled",
			"conditions": obj{"users": obj{"includeUsers": []string{"All"}, "excludeUsers": []string{id(1), id(2)}}},
		})
	}
	// One policy excludes the break-glass groups (bg-nested is in both)
	// and a group no break-glass user is in.
	tn.lists["/identity/conditionalAccess/policies"][4]["conditions"].(obj)["users"].(obj)["excludeGroups"] = []string{id(901), id(902), id(903)}
	tn.lists["/identity/conditionalAccess/namedLocations"] = []obj{{"@odata.type": "#microsoft.graph.ipNamedLocation", "id": "loc-1", "displayName": "HQ", "isTrusted": true}}
	tn.lists["/policies/authenticationStrengthPolicies"] = []obj{
		{"id": "00000000-0000-0000-0000-000000000002", "displayName": "Multifactor authentication", "policyType": "builtIn"},
		{"id": "00000000-0000-0000-0000-000000000003", "displayName": "Passwordless MFA", "policyType": "builtIn"},
		{"id": "00000000-0000-0000-0000-000000000004", "displayName": "Phishing-resistant MFA", "policyType": "builtIn", "allowedCombinations": []string{"windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"}},
	}
	tn.lists["/domains"] = []obj{
		{"id": "contoso.onmicrosoft.com", "authenticationType": "Managed", "isInitial": true, "isDefault": false},
		{"id": "contoso.com", "authenticationType": "Federated", "isInitial": false, "isDefault": true},
	}
	tn.lists["/identityGovernance/lifecycleWorkflows/workflows"] = []obj{
		{"id": "wf-1", "displayName": "Inactive users", "executionConditions": obj{"@odata.type": "#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions", "trigger": obj{"@odata.type": "#microsoft.graph.identityGovernance.userInactivityTrigger", "inactivityPeriodInDays": 90}}},
		{"id": "wf-2", "displayName": "Joiners", "executionConditions": obj{"@odata.type": "#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions", "trigger": obj{"@odata.type": "#microsoft.graph.identityGovernance.timeBasedAttributeTrigger", "timeBasedAttribute": "employeeHireDate"}}},
		{"id": "wf-3", "displayName": "Conditions not returned"},
	}
	tn.scopes = map[string][]string{"wf-1": {id(3), id(10)}}
	tn.lists["/identityGovernance/accessReviews/definitions"] = []obj{{"id": "ar-1", "displayName": "GA review", "settings": obj{"autoApplyDecisionsEnabled": true, "defaultDecision": "Deny"}}}
	tn.objects["/policies/authenticationMethodsPolicy"] = obj{"id": "authenticationMethodsPolicy", "authenticationMethodConfigurations": []obj{{"id": "Fido2", "state": "enabled"}}}
	tn.objects["/policies/identitySecurityDefaultsEnforcementPolicy"] = obj{"id": "00000000-0000-0000-0000-000000000005", "isEnabled": false}

	tn.srv = httptest.NewServer(http.HandlerFunc(tn.serve))
	t.Cleanup(tn.srv.Close)
	return tn
}

// client is the real Graph client pointed at the server, without retries
// so that failures answer at once.
func (tn *tenant) client() graph.Lister {
	c, err := graph.New(graph.Options{BaseURL: tn.srv.URL, Tokens: graph.StaticToken("test-token"), MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		tn.t.Fatal(err)
	}
	return c
}

func (tn *tenant) fail(key string, status int, code, message string) {
	tn.mu.Lock()
	tn.fails[key] = failure{status, code, message}
	tn.mu.Unlock()
}

func (tn *tenant) requestLog() []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return slices.Clone(tn.requests)
}

func (tn *tenant) user(key string) obj {
	for _, u := range tn.users {
		if strings.EqualFold(u["id"].(string), key) || strings.EqualFold(u["userPrincipalName"].(string), key) {
			return u
		}
	}
	return nil
}

var (
	roleFilter      = regexp.MustCompile(`roleDefinitionId eq '([^']*)'`)
	idFilter        = regexp.MustCompile(`id eq '([^']*)'`)
	principalFilter = regexp.MustCompile(`^principalId eq '([^']*)'$`)
)

func (tn *tenant) serve(w http.ResponseWriter, r *http.Request) {
	tn.mu.Lock()
	tn.requests = append(tn.requests, r.Method+" "+r.URL.RequestURI())
	fails := tn.fails
	tn.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer test-token" {
		graphError(w, 401, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	version, path, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || version != "v1.0" && version != "beta" {
		graphError(w, 400, "BadRequest", "Invalid version.")
		return
	}
	path = "/" + path
	q := r.URL.Query()
	tn.mu.Lock()
	f, failed := fails[path]
	for k, sf := range fails {
		if suffix, ok := strings.CutPrefix(k, "suffix:"); ok && strings.HasSuffix(path, suffix) && !failed {
			f, failed = sf, true
		}
	}
	for _, field := range strings.Split(q.Get("$select"), ",") {
		if sf, ok := fails["select:"+field]; ok && !failed {
			f, failed = sf, true
		}
	}
	tn.mu.Unlock()
	if failed {
		graphError(w, f.status, f.code, f.message)
		return
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case tn.lists[path] != nil:
		tn.page(w, r, tn.lists[path])
	case tn.objects[path] != nil:
		writeJSON(w, tn.objects[path])
	case tn.roles[path] != nil:
		m := roleFilter.FindStringSubmatch(q.Get("$filter"))
		p := principalFilter.FindStringSubmatch(q.Get("$filter"))
		var out []obj
		for _, a := range tn.roles[path] {
			if m != nil && a["roleDefinitionId"] == m[1] || p != nil && strings.EqualFold(a["principalId"].(string), p[1]) {
				out = append(out, a)
			}
		}
		tn.page(w, r, out)
	case path == "/reports/authenticationMethods/userRegistrationDetails":
		var out []obj
		ids := idFilter.FindAllStringSubmatch(q.Get("$filter"), -1)
		for _, reg := range tn.regs {
			if q.Get("$filter") == "" || slices.ContainsFunc(ids, func(m []string) bool { return strings.EqualFold(m[1], reg["id"].(string)) }) {
				out = append(out, reg)
			}
		}
		tn.page(w, r, out)
	case len(seg) == 2 && seg[0] == "users":
		key := seg[1]
		if k, ok := strings.CutPrefix(key, "('"); ok {
			key = strings.ReplaceAll(strings.TrimSuffix(k, "')"), "''", "'")
		}
		u := tn.user(key)
		if u == nil {
			graphError(w, 404, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key))
			return
		}
		writeJSON(w, project(u, q.Get("$select")))
	case len(seg) == 4 && seg[0] == "users" && seg[2] == "authentication" && seg[3] == "methods":
		if tn.user(seg[1]) == nil {
			graphError(w, 404, "Request_ResourceNotFound", "not found")
			return
		}
		tn.page(w, r, tn.methods[tn.user(seg[1])["id"].(string)])
	case len(seg) == 4 && seg[0] == "users" && seg[2] == "transitiveMemberOf" && seg[3] == "microsoft.graph.group":
		if tn.user(seg[1]) == nil {
			graphError(w, 404, "Request_ResourceNotFound", "not found")
			return
		}
		var out []obj
		for _, gid := range slices.Sorted(maps.Keys(tn.groups)) {
			if slices.Contains(tn.transitive(gid, map[string]bool{}), tn.user(seg[1])["id"].(string)) {
				out = append(out, project(tn.groups[gid], q.Get("$select")))
			}
		}
		tn.page(w, r, out)
	case len(seg) == 5 && path == "/identityGovernance/lifecycleWorkflows/workflows/"+seg[3]+"/executionScope":
		var out []obj
		for _, u := range tn.scopes[seg[3]] {
			out = append(out, project(tn.user(u), q.Get("$select")))
		}
		tn.page(w, r, out)
	case len(seg) == 2 && seg[0] == "groups" && tn.groups[seg[1]] != nil:
		writeJSON(w, project(tn.groups[seg[1]], q.Get("$select")))
	case len(seg) == 4 && seg[0] == "groups" && seg[2] == "transitiveMembers" && seg[3] == "microsoft.graph.user" && tn.groups[seg[1]] != nil:
		var out []obj
		for _, m := range tn.transitive(seg[1], map[string]bool{}) {
			out = append(out, project(tn.user(m), q.Get("$select")))
		}
		tn.page(w, r, out)
	default:
		graphError(w, 404, "Request_ResourceNotFound", "Resource not found for the segment '"+seg[len(seg)-1]+"'.")
	}
}

func (tn *tenant) transitive(gid string, seen map[string]bool) []string {
	var out []string
	for _, m := range tn.members[gid] {
		if seen[m] {
			continue
		}
		seen[m] = true
		if _, isGroup := tn.groups[m]; isGroup {
			out = append(out, tn.transitive(m, seen)...)
		} else {
			out = append(out, m)
		}
	}
	return out
}

// page serves items pageSize at a time with an absolute @odata.nextLink,
// as Graph does.
func (tn *tenant) page(w http.ResponseWriter, r *http.Request, items []obj) {
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("$skiptoken"))
	end := min(start+tn.pageSize, len(items))
	body := obj{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#collection", "value": append([]obj{}, items[start:end]...)}
	if end < len(items) {
		q.Set("$skiptoken", strconv.Itoa(end))
		body["@odata.nextLink"] = tn.srv.URL + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, body)
}

func project(o obj, sel string) obj {
	if sel == "" {
		return o
	}
	out := obj{}
	for _, f := range strings.Split(sel, ",") {
		if v, ok := o[f]; ok {
			out[f] = v
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func graphError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(obj{"error": obj{"code": code, "message": message, "innerError": obj{"request-id": "req-1", "date": "2026-01-01T00:00:00"}}})
}

// pathOf returns the path of a logged request without version or query.
func pathOf(req string) (path string, query url.Values) {
	_, uri, _ := strings.Cut(req, " ")
	u, _ := url.Parse(uri)
	_, p, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	return "/" + p, u.Query()
}
