package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedNow = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

// options configures the standard collection of the test tenant: two
// accounts that resolve, one that does not, and a break-glass group whose
// only member sits in a nested group.
func options(dir string) Options {
	return Options{
		Accounts: []entra.Account{
			{ID: id(1), Name: "bg1"},
			{UPN: "bg2@contoso.onmicrosoft.com"},
			{UPN: "gone@contoso.onmicrosoft.com"},
		},
		Groups:      []string{id(901)},
		Out:         dir,
		Now:         fixedNow,
		ToolVersion: "test",
		TenantID:    tenantID,
	}
}

// progressLog records progress reports; Collect serialises them, and the
// race detector checks that it does.
type progressLog struct{ states map[string][]string }

func (p *progressLog) report(name, state string, n int) {
	if p.states == nil {
		p.states = map[string][]string{}
	}
	p.states[name] = append(p.states[name], state)
}

func TestCollectFull(t *testing.T) {
	tn := newTenant(t, 20)
	tn.fail("/identityGovernance/lifecycleWorkflows/workflows", 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	dir := t.TempDir()
	o := options(dir)
	var prog progressLog
	o.Progress = prog.report
	m, err := Collect(context.Background(), tn.client(), o)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("golden manifest", func(t *testing.T) {
		got, err := os.ReadFile(filepath.Join(dir, ManifestFile))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "manifest.golden.json")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("manifest differs from %s (go test -update to accept):\n%s", golden, got)
		}
	})

	t.Run("failing dataset recorded, the rest written", func(t *testing.T) {
		want := Failure{
			Name: DatasetLifecycleWorkflows, Endpoint: "/identityGovernance/lifecycleWorkflows/workflows",
			Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation.",
			Hint:   "grant the application permission LifecycleWorkflows.Read.All, and admin-consent it",
			Reason: ReasonPermission,
		}
		if !slices.Contains(m.Failed, want) {
			t.Errorf("Failed = %+v, want it to contain %+v", m.Failed, want)
		}
		if len(own(m.Failed)) != 1 {
			t.Errorf("Failed has %d entries of its own, want 1: %+v", len(own(m.Failed)), m.Failed)
		}
		derived := Failure{Name: DatasetWorkflowScope, Endpoint: want.Endpoint, Status: 403, Code: want.Code,
			Message: "the workflows are unknown: lifecycle_workflows is unavailable", Hint: want.Hint, Reason: ReasonPermission, From: DatasetLifecycleWorkflows}
		if !slices.Contains(m.Failed, derived) {
			t.Errorf("Failed = %+v, want the derived %+v", m.Failed, derived)
		}
		if _, err := os.Stat(filepath.Join(dir, DatasetLifecycleWorkflows+".json")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("failed dataset has a file: %v", err)
		}
		for _, name := range []string{
			DatasetOrganization, DatasetBreakGlassUsers, DatasetBreakGlassGroups, KeyedName(DatasetGroupMembers, id(901)),
			KeyedName(DatasetGroupMembers, id(903)), DatasetRoleAssignments, DatasetRoleAssignmentSchedules,
			DatasetRoleAssignmentInstances, DatasetRoleEligibilitySchedules, DatasetRoleEligibilityInstances,
			DatasetRoleManagementPolicies, DatasetUserRegistrationDetails, DatasetUserAuthorizationInfo,
			DatasetConditionalAccessPolicies, DatasetNamedLocations, DatasetAuthStrengthPolicies, DatasetAuthMethodsPolicy,
			DatasetSecurityDefaults, DatasetDomains, DatasetAccessReviewDefinitions,
		} {
			if !slices.ContainsFunc(m.Datasets, func(d Dataset) bool { return d.Name == name }) {
				t.Errorf("dataset %s missing", name)
			}
		}
	})

	t.Run("unresolved entry reported", func(t *testing.T) {
		want := []Unresolved{{Entry: "accounts[2] upn gone@contoso.onmicrosoft.com", Reason: unresolvedNotFound}}
		if !slices.Equal(m.Unresolved, want) {
			t.Errorf("Unresolved = %+v, want %+v", m.Unresolved, want)
		}
	})

	t.Run("nested break-glass group resolved", func(t *testing.T) {
		want := Resolved{Entry: "groups[0] id " + id(901), ID: id(3), UPN: "bg-nested@contoso.onmicrosoft.com"}
		if !slices.Contains(m.Accounts, want) {
			t.Errorf("Accounts = %+v, want it to contain %+v", m.Accounts, want)
		}
		users := items(t, dir, DatasetBreakGlassUsers)
		var ids []string
		for _, u := range users {
			var v struct{ ID string }
			json.Unmarshal(u, &v)
			ids = append(ids, v.ID)
		}
		if want := []string{id(1), id(2), id(3)}; !slices.Equal(ids, want) {
			t.Errorf("breakglass_users ids = %v, want %v", ids, want)
		}
	})

	t.Run("privileged set", func(t *testing.T) {
		// Break-glass users, then direct role holders (service principal
		// and User Administrator left out), then the GA group's member.
		want := []string{id(1), id(2), id(3), id(12), id(10), id(11)}
		if !slices.Equal(m.Privileged, want) {
			t.Errorf("Privileged = %v, want %v", m.Privileged, want)
		}
		for _, u := range want {
			if !slices.ContainsFunc(m.Datasets, func(d Dataset) bool { return d.Name == KeyedName(DatasetAuthMethods, u) && d.Count == 2 }) {
				t.Errorf("auth_methods for %s missing or wrong count", u)
			}
		}
		if n := len(items(t, dir, DatasetUserRegistrationDetails)); n != len(want) {
			t.Errorf("user_registration_details has %d items, want %d", n, len(want))
		}
		if n := len(items(t, dir, DatasetUserAuthorizationInfo)); n != len(want) {
			t.Errorf("user_authorization_info has %d items, want %d", n, len(want))
		}
	})

	t.Run("items byte for byte as Graph sent them, all pages", func(t *testing.T) {
		got := items(t, dir, DatasetConditionalAccessPolicies)
		want := tn.lists["/identity/conditionalAccess/policies"]
		if len(got) != len(want) {
			t.Fatalf("%d policies, want %d (paging with %d per page)", len(got), len(want), tn.pageSize)
		}
		for i := range want {
			w, _ := json.Marshal(want[i])
			if !bytes.Equal(got[i], w) {
				t.Errorf("policy %d = %s, want %s", i, got[i], w)
			}
		}
		for _, u := range items(t, dir, DatasetBreakGlassUsers) {
			if bytes.Contains(u, []byte("jobTitle")) || !bytes.Contains(u, []byte(`"signInActivity"`)) {
				t.Errorf("user not fetched with $select: %s", u)
			}
		}
		obj, err := os.ReadFile(filepath.Join(dir, DatasetAuthMethodsPolicy+".json"))
		if err != nil || !bytes.HasPrefix(obj, []byte(`{"authenticationMethodConfigurations":`)) {
			t.Errorf("object dataset = %s, %v", obj, err)
		}
	})

	t.Run("progress per dataset", func(t *testing.T) {
		for _, d := range m.Datasets {
			if got := prog.states[d.Name]; !slices.Equal(got, []string{"start", "done"}) {
				t.Errorf("progress of %s = %v", d.Name, got)
			}
		}
		if got := prog.states[DatasetLifecycleWorkflows]; !slices.Equal(got, []string{"start", "failed"}) {
			t.Errorf("progress of the failed dataset = %v", got)
		}
	})

	t.Run("Load round-trips", func(t *testing.T) {
		s, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(s.Manifest)
		if !bytes.Equal(a, b) {
			t.Errorf("loaded manifest differs:\n%s\n%s", b, a)
		}
		if len(s.Datasets) != len(m.Datasets) {
			t.Errorf("%d datasets loaded, manifest lists %d", len(s.Datasets), len(m.Datasets))
		}
		for _, d := range m.Datasets {
			raw, _ := os.ReadFile(filepath.Join(dir, d.File))
			if !bytes.Equal(s.Datasets[d.Name], raw) {
				t.Errorf("dataset %s differs from its file", d.Name)
			}
		}
		ca, ok, err := s.Items(DatasetConditionalAccessPolicies)
		if !ok || err != nil || len(ca) != 5 {
			t.Errorf("Items(ca) = %d, %v, %v", len(ca), ok, err)
		}
		if _, ok, _ := s.Items(DatasetLifecycleWorkflows); ok {
			t.Error("failed dataset loaded")
		}
		if f, ok := s.Failure(DatasetLifecycleWorkflows); !ok || f.Reason != ReasonPermission {
			t.Errorf("Failure(lifecycle) = %+v, %v", f, ok)
		}
		if got := len(s.Keyed(DatasetAuthMethods)); got != 6 {
			t.Errorf("Keyed(auth_methods) has %d users, want 6", got)
		}
		if _, ok := s.Keyed(DatasetGroupMembers)[id(903)]; !ok {
			t.Error("Keyed(group_members) lacks the GA group")
		}
	})
}

// own drops the failures carried over to derived datasets.
func own(fs []Failure) []Failure {
	return slices.DeleteFunc(slices.Clone(fs), func(f Failure) bool { return f.From != "" })
}

func items(t *testing.T, dir, name string) []json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := listItems(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return l
}

// TestFailuresAreRecorded: whatever Graph refuses is recorded with its
// reason and hint, and collection goes on.
func TestFailuresAreRecorded(t *testing.T) {
	tests := []struct {
		name      string
		key       string // what the server fails: a path, "select:<field>" or "suffix:<path end>"
		status    int
		code, msg string
		want      Failure // Endpoint and Message are not compared
		hint      string  // substring of Hint
		written   bool    // the dataset is still written (partial)
	}{
		{
			name: "permission", key: "/identity/conditionalAccess/policies", status: 403, code: "Authorization_RequestDenied", msg: "Insufficient privileges to complete the operation.",
			want: Failure{Name: DatasetConditionalAccessPolicies, Status: 403, Code: "Authorization_RequestDenied", Reason: ReasonPermission},
			hint: "Policy.Read.All",
		},
		{
			name: "token rejected", key: "/domains", status: 401, code: "InvalidAuthenticationToken", msg: "Access token validation failure.",
			want: Failure{Name: DatasetDomains, Status: 401, Code: "InvalidAuthenticationToken", Reason: ReasonPermission},
			hint: "token rejected",
		},
		{
			name: "PIM without P2", key: "/roleManagement/directory/roleEligibilitySchedules", status: 400, code: "AadPremiumLicenseRequired", msg: "The tenant needs an AAD Premium 2 license.",
			want: Failure{Name: DatasetRoleEligibilitySchedules, Status: 400, Code: "AadPremiumLicenseRequired", Reason: ReasonLicence},
			hint: "P1 or P2",
		},
		{
			name: "not found", key: "/identityGovernance/accessReviews/definitions", status: 404, code: "ResourceNotFound", msg: "Not found.",
			want: Failure{Name: DatasetAccessReviewDefinitions, Status: 404, Code: "ResourceNotFound", Reason: ReasonNotFound},
		},
		{
			name: "server error", key: "/identity/conditionalAccess/namedLocations", status: 500, code: "InternalServerError", msg: "Oops.",
			want: Failure{Name: DatasetNamedLocations, Status: 500, Code: "InternalServerError", Reason: ReasonError},
		},
		{
			name: "object endpoint", key: "/policies/authenticationMethodsPolicy", status: 403, code: "Authorization_RequestDenied", msg: "Insufficient privileges.",
			want: Failure{Name: DatasetAuthMethodsPolicy, Status: 403, Code: "Authorization_RequestDenied", Reason: ReasonPermission},
		},
		{
			name: "signInActivity without P1", key: "select:signInActivity", status: 403, code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant", msg: "Neither tenant is B2C or tenant doesn't have premium license",
			want:    Failure{Name: DatasetBreakGlassUsers, Status: 403, Code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant", Reason: ReasonLicence, Field: "signInActivity", Partial: true},
			hint:    "AuditLog.Read.All",
			written: true,
		},
		{
			name: "authentication methods refused", key: "suffix:/authentication/methods", status: 403, code: "Authorization_RequestDenied", msg: "Insufficient privileges.",
			want: Failure{Name: DatasetAuthMethods, Status: 403, Code: "Authorization_RequestDenied", Reason: ReasonPermission},
			hint: "UserAuthenticationMethod.Read.All",
		},
		{
			name: "registration report refused", key: "/reports/authenticationMethods/userRegistrationDetails", status: 403, code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant", msg: "Tenant does not have a SKU required for this feature",
			want: Failure{Name: DatasetUserRegistrationDetails, Status: 403, Code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant", Reason: ReasonLicence},
		},
		{
			name: "role group members", key: "/groups/" + id(903) + "/transitiveMembers/microsoft.graph.user", status: 403, code: "Authorization_RequestDenied", msg: "Insufficient privileges.",
			want: Failure{Name: KeyedName(DatasetGroupMembers, id(903)), Status: 403, Code: "Authorization_RequestDenied", Reason: ReasonPermission},
			hint: "GroupMember.Read.All",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTenant(t, 0)
			tn.fail(tc.key, tc.status, tc.code, tc.msg)
			dir := t.TempDir()
			m, err := Collect(context.Background(), tn.client(), options(dir))
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if len(own(m.Failed)) != 1 {
				t.Fatalf("Failed = %+v, want one failure (and those derived from it)", m.Failed)
			}
			got := own(m.Failed)[0]
			if !strings.Contains(got.Hint, tc.hint) {
				t.Errorf("Hint = %q, want it to mention %q", got.Hint, tc.hint)
			}
			if got.Message != tc.msg {
				t.Errorf("Message = %q, want Graph's %q", got.Message, tc.msg)
			}
			got.Endpoint, got.Message, got.Hint = "", "", ""
			if got != tc.want {
				t.Errorf("Failure = %+v\nwant      %+v", got, tc.want)
			}
			_, err = os.Stat(filepath.Join(dir, fileOf(tc.want.Name)))
			if written := err == nil; written != tc.written {
				t.Errorf("dataset %s written = %v, want %v", tc.want.Name, written, tc.written)
			}
			if _, err := Load(dir); err != nil {
				t.Errorf("Load: %v", err)
			}
			// Everything else is still collected.
			if n := len(m.Datasets); n < 20 {
				t.Errorf("only %d datasets written", n)
			}
		})
	}
}

func TestSignInActivityAskedOnce(t *testing.T) {
	tn := newTenant(t, 0)
	tn.fail("select:signInActivity", 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license")
	o := options(t.TempDir())
	o.Concurrency = 1 // so the first refusal is known before the next user is asked
	if _, err := Collect(context.Background(), tn.client(), o); err != nil {
		t.Fatal(err)
	}
	var asked int
	for _, r := range tn.requestLog() {
		if _, q := pathOf(r); strings.Contains(q.Get("$select"), "signInActivity") {
			asked++
		}
	}
	if asked != 1 {
		t.Errorf("signInActivity asked %d times, want once", asked)
	}
	for _, u := range items(t, o.Out, DatasetBreakGlassUsers) {
		if bytes.Contains(u, []byte("signInActivity")) {
			t.Errorf("user has signInActivity: %s", u)
		}
	}
}

func TestAuthMethodsStopAfterRefusal(t *testing.T) {
	tn := newTenant(t, 0)
	tn.fail("suffix:/authentication/methods", 403, "Authorization_RequestDenied", "Insufficient privileges.")
	o := options(t.TempDir())
	o.Concurrency = 1
	if _, err := Collect(context.Background(), tn.client(), o); err != nil {
		t.Fatal(err)
	}
	var asked int
	for _, r := range tn.requestLog() {
		if p, _ := pathOf(r); strings.HasSuffix(p, "/authentication/methods") {
			asked++
		}
	}
	// Other calls may be in flight when the first refusal arrives, but
	// not one per privileged user.
	if asked > 2 {
		t.Errorf("authentication methods asked %d times after a refusal", asked)
	}
}

func TestUnresolved(t *testing.T) {
	tests := []struct {
		name     string
		accounts []entra.Account
		groups   []string
		want     []Unresolved
		resolved []Resolved
	}{
		{
			name:     "deleted user by id",
			accounts: []entra.Account{{ID: id(1)}, {ID: id(555)}},
			want:     []Unresolved{{Entry: "accounts[1] id " + id(555), Reason: unresolvedNotFound}},
			resolved: []Resolved{{Entry: "accounts[0] id " + id(1), ID: id(1), UPN: "bg1@contoso.onmicrosoft.com"}},
		},
		{
			name:     "typo in upn",
			accounts: []entra.Account{{UPN: "bg1@contoso.onmicrosoft.con"}},
			want:     []Unresolved{{Entry: "accounts[0] upn bg1@contoso.onmicrosoft.con", Reason: unresolvedNotFound}},
			resolved: []Resolved{},
		},
		{
			name:     "id and upn name different users",
			accounts: []entra.Account{{ID: id(1), UPN: "bg2@contoso.onmicrosoft.com"}},
			want: []Unresolved{{Entry: "accounts[0] id " + id(1) + " (upn bg2@contoso.onmicrosoft.com)",
				Reason: "the id belongs to bg1@contoso.onmicrosoft.com, not to the configured upn bg2@contoso.onmicrosoft.com; fix the configuration so both name the same account"}},
			resolved: []Resolved{{Entry: "accounts[0] id " + id(1) + " (upn bg2@contoso.onmicrosoft.com)", ID: id(1), UPN: "bg1@contoso.onmicrosoft.com"}},
		},
		{
			name:     "id and upn agree but for case",
			accounts: []entra.Account{{ID: id(1), UPN: "BG1@Contoso.onmicrosoft.com"}},
			want:     []Unresolved{},
			resolved: []Resolved{{Entry: "accounts[0] id " + id(1) + " (upn BG1@Contoso.onmicrosoft.com)", ID: id(1), UPN: "bg1@contoso.onmicrosoft.com"}},
		},
		{
			name:     "missing and empty groups, nested group",
			accounts: []entra.Account{{ID: id(2)}},
			groups:   []string{id(999), id(904), id(901)},
			want: []Unresolved{
				{Entry: "groups[0] id " + id(999), Reason: unresolvedNotFound},
				{Entry: "groups[1] id " + id(904), Reason: unresolvedNoMembers},
			},
			resolved: []Resolved{
				{Entry: "accounts[0] id " + id(2), ID: id(2), UPN: "bg2@contoso.onmicrosoft.com"},
				{Entry: "groups[2] id " + id(901), ID: id(3), UPN: "bg-nested@contoso.onmicrosoft.com"},
			},
		},
		{
			name:     "upn starting with $",
			accounts: []entra.Account{{UPN: "$admin@contoso.onmicrosoft.com"}},
			want:     []Unresolved{{Entry: "accounts[0] upn $admin@contoso.onmicrosoft.com", Reason: unresolvedNotFound}},
			resolved: []Resolved{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTenant(t, 0)
			o := options(t.TempDir())
			o.Accounts, o.Groups = tc.accounts, tc.groups
			m, err := Collect(context.Background(), tn.client(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Unresolved, tc.want) {
				t.Errorf("Unresolved = %+v\nwant         %+v", m.Unresolved, tc.want)
			}
			if !slices.Equal(m.Accounts, tc.resolved) {
				t.Errorf("Accounts = %+v\nwant       %+v", m.Accounts, tc.resolved)
			}
			if len(m.Failed) != 0 {
				t.Errorf("a 404 is not a failed dataset: %+v", m.Failed)
			}
		})
	}
}

// TestRequestsIndependentOfTenantSize: a tenant of 100,000 users must not
// cost 100,000 calls. Only the privileged set costs per-user requests.
func TestRequestsIndependentOfTenantSize(t *testing.T) {
	var counts []int
	for _, filler := range []int{0, 50, 5000} {
		tn := newTenant(t, filler)
		if _, err := Collect(context.Background(), tn.client(), options(t.TempDir())); err != nil {
			t.Fatal(err)
		}
		log := tn.requestLog()
		counts = append(counts, len(log))
		for _, r := range log {
			p, q := pathOf(r)
			if p == "/reports/authenticationMethods/userRegistrationDetails" && q.Get("$filter") == "" {
				t.Errorf("unfiltered registration report: %s", r)
			}
			for i := range filler {
				if strings.Contains(r, id(1000+i)) {
					t.Fatalf("request about an ordinary user: %s", r)
				}
			}
		}
	}
	if counts[0] != counts[1] || counts[1] != counts[2] {
		t.Errorf("requests by tenant size 0/50/5000 ordinary users: %v, want equal", counts)
	}

	// And it grows with the privileged set.
	tn := newTenant(t, 0)
	o := options(t.TempDir())
	o.Accounts = append(o.Accounts, entra.Account{ID: id(1000)}, entra.Account{ID: id(1001)})
	tn.users = append(tn.users, obj{"id": id(1000), "userPrincipalName": "x@contoso.com"}, obj{"id": id(1001), "userPrincipalName": "y@contoso.com"})
	if _, err := Collect(context.Background(), tn.client(), o); err != nil {
		t.Fatal(err)
	}
	// Per extra break-glass user: the user, its methods, its
	// authorizationInfo, its groups and its roles. The registration report
	// still takes one call.
	if got, want := len(tn.requestLog()), counts[0]+2*5; got != want {
		t.Errorf("two more break-glass users: %d requests, want %d", got, want)
	}
}

func TestRegistrationDetailsChunked(t *testing.T) {
	tn := newTenant(t, 40)
	o := options(t.TempDir())
	for i := range 40 {
		o.Accounts = append(o.Accounts, entra.Account{ID: id(1000 + i)})
	}
	m, err := Collect(context.Background(), tn.client(), o)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	for _, r := range tn.requestLog() {
		if p, q := pathOf(r); p == "/reports/authenticationMethods/userRegistrationDetails" && q.Get("$skiptoken") == "" {
			calls++
			if n := strings.Count(q.Get("$filter"), " eq "); n > maxFilterClauses {
				t.Errorf("filter with %d clauses", n)
			}
		}
	}
	if want := (len(m.Privileged) + maxFilterClauses - 1) / maxFilterClauses; calls != want {
		t.Errorf("%d registration report calls for %d users, want %d", calls, len(m.Privileged), want)
	}
	if n := len(items(t, o.Out, DatasetUserRegistrationDetails)); n != len(m.Privileged) {
		t.Errorf("%d registration details, want %d", n, len(m.Privileged))
	}
}

// faultLister wraps a Lister and fails one path with a given error.
type faultLister struct {
	graph.Lister
	path string
	err  error
}

func (f faultLister) Get(ctx context.Context, v graph.Version, path string, q graph.Query, out any) error {
	if path == f.path {
		return f.err
	}
	return f.Lister.Get(ctx, v, path, q, out)
}

func (f faultLister) List(ctx context.Context, v graph.Version, path string, q graph.Query, fn func([]json.RawMessage) error) error {
	if path == f.path {
		return f.err
	}
	return f.Lister.List(ctx, v, path, q, fn)
}

// TestAbort: what is not Graph's answer stops the run, and no manifest
// vouches for a half-written snapshot.
func TestAbort(t *testing.T) {
	netErr := errors.New("read tcp 127.0.0.1:1234: connection reset by peer")
	tests := []struct {
		name   string
		lister func(tn *tenant) graph.Lister
		ctx    func() context.Context
		opts   func(o *Options)
		want   error  // errors.Is target, if any
		text   string // error text substring
	}{
		{
			name:   "network error",
			lister: func(tn *tenant) graph.Lister { return faultLister{tn.client(), "/domains", netErr} },
			want:   netErr,
		},
		{
			name: "network error in a per-user call",
			lister: func(tn *tenant) graph.Lister {
				return faultLister{tn.client(), "/users/" + id(12) + "/authentication/methods", netErr}
			},
			want: netErr,
		},
		{
			name: "server gone",
			lister: func(tn *tenant) graph.Lister {
				c := tn.client()
				tn.srv.Close()
				return c
			},
			text: "connect",
		},
		{
			name: "cancelled",
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			want: context.Canceled,
		},
		{
			name: "credentials for another tenant",
			opts: func(o *Options) { o.TenantID = "99999999-2222-3333-4444-555555555555" },
			text: "belong to tenant " + tenantID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTenant(t, 0)
			dir := t.TempDir()
			// A manifest from an earlier run must not survive either.
			if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"format":1}`), 0o644); err != nil {
				t.Fatal(err)
			}
			g := graph.Lister(nil)
			if tc.lister != nil {
				g = tc.lister(tn)
			} else {
				g = tn.client()
			}
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			o := options(dir)
			if tc.opts != nil {
				tc.opts(&o)
			}
			m, err := Collect(ctx, g, o)
			if err == nil {
				t.Fatalf("Collect succeeded: %+v", m)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v does not wrap %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
			if _, err := os.Stat(filepath.Join(dir, ManifestFile)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("manifest left behind after an abort: %v", err)
			}
		})
	}
}

func TestRecollectRemovesStaleDatasets(t *testing.T) {
	tn := newTenant(t, 0)
	dir := t.TempDir()
	if _, err := Collect(context.Background(), tn.client(), options(dir)); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, fileOf(KeyedName(DatasetAuthMethods, id(2))))
	if _, err := os.Stat(stale); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "notes.json")
	os.WriteFile(mine, []byte("{}"), 0o644)

	o := options(dir)
	o.Accounts, o.Groups = o.Accounts[:1], nil
	if _, err := Collect(context.Background(), tn.client(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dataset of the previous snapshot left behind: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a file the snapshot never wrote was removed: %v", err)
	}
	if _, err := Load(dir); err != nil {
		t.Error(err)
	}
}

// fakeLister serves canned pages without HTTP: the contract alone.
type fakeLister struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeLister) count(path string) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[path]++
	f.mu.Unlock()
}

func (f *fakeLister) Get(ctx context.Context, v graph.Version, path string, q graph.Query, out any) error {
	f.count(path)
	if strings.HasPrefix(path, "/users/") {
		return json.Unmarshal([]byte(`{"id":"`+strings.TrimPrefix(path, "/users/")+`","userPrincipalName":"a@b"}`), out)
	}
	return json.Unmarshal([]byte(`{"id":"x"}`), out)
}

func (f *fakeLister) List(ctx context.Context, v graph.Version, path string, q graph.Query, fn func([]json.RawMessage) error) error {
	f.count(path)
	if err := fn([]json.RawMessage{json.RawMessage(`{"n":1}`)}); err != nil {
		return err
	}
	return fn([]json.RawMessage{json.RawMessage(`{"n":2}`), json.RawMessage(`{"n":3}`)})
}

func TestFakeListerPagesConcatenated(t *testing.T) {
	f := &fakeLister{}
	dir := t.TempDir()
	m, err := Collect(context.Background(), f, Options{Accounts: []entra.Account{{ID: id(1)}}, Out: dir, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, DatasetDomains+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"value\":[\n{\"n\":1},\n{\"n\":2},\n{\"n\":3}\n]}\n"; string(raw) != want {
		t.Errorf("domains.json = %q, want %q", raw, want)
	}
	if m.TenantID != "" {
		t.Errorf("TenantID = %q from an organization without id", m.TenantID)
	}
	// Once per role, and once for the break-glass user's own roles
	// (principal_role_assignments).
	if n := f.calls["/roleManagement/directory/roleAssignments"]; n != len(Roles)+1 {
		t.Errorf("role assignments listed %d times, want once per role and once for the user", n)
	}
}
