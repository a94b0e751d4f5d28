package posture

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/graph/collect"
)

// TestFromSnapshotCompliant reads every dataset of the compliant fixture
// into its Tenant field.
func TestFromSnapshotCompliant(t *testing.T) {
	tn := loadFixture(t, "compliant")
	if tn.Info.ID != fxTenant || tn.Info.DisplayName != "Contoso" || tn.Info.InitialDomain != "contoso.onmicrosoft.com" {
		t.Errorf("Info = %+v", tn.Info)
	}
	if !tn.Collected.Equal(fixtureCollected) {
		t.Errorf("Collected = %v", tn.Collected)
	}
	want := []AccountInfo{
		{Entry: "accounts[0] id " + fxBG1, ID: fxBG1, UPN: fxBG1UPN, DisplayName: "Break Glass 1", Resolved: true},
		{Entry: "accounts[1] upn " + fxBG2UPN, ID: fxBG2, UPN: fxBG2UPN, DisplayName: "Break Glass 2", Resolved: true},
	}
	if !slices.Equal(tn.Accounts, want) {
		t.Errorf("Accounts = %+v\nwant       %+v", tn.Accounts, want)
	}
	bg1 := tn.User(strings.ToUpper(fxBG1))
	if bg1 == nil {
		t.Fatal("bg1 not in Users")
	}
	if bg1.Source != collect.DatasetBreakGlassUsers || bg1.AccountEnabled == nil || !*bg1.AccountEnabled ||
		bg1.OnPremisesSyncEnabled != nil || !bg1.Present["onPremisesSyncEnabled"] || bg1.OnPremisesImmutableID != nil ||
		bg1.PasswordPolicies == nil || *bg1.PasswordPolicies != "DisablePasswordExpiration" {
		t.Errorf("bg1 = %+v", bg1)
	}
	if bg1.SignInActivity == nil || bg1.SignInActivity.LastSuccessfulSignInDateTime == nil ||
		!bg1.SignInActivity.LastSuccessfulSignInDateTime.Equal(time.Date(2026, 10, 15, 9, 12, 0, 0, time.UTC)) {
		t.Errorf("bg1 signInActivity = %+v", bg1.SignInActivity)
	}
	// Users from the other datasets: role principals, members, approvers,
	// workflow scope.
	for _, id := range []string{fxAlice, fxBob, fxCarol, fxDave, fxErin} {
		if tn.User(id) == nil {
			t.Errorf("user %s missing", id)
		}
	}
	if g := tn.Group(fxExclGroup); g == nil || g.IsAssignableToRole == nil || !*g.IsAssignableToRole ||
		g.IsManagementRestricted == nil || g.Source != DatasetCAGroups {
		t.Errorf("exclusion group = %+v", g)
	}
	if got := tn.GroupMembers[fxExclGroup]; !slices.Equal(got, []string{fxBG1, fxBG2}) {
		t.Errorf("GroupMembers = %v", got)
	}
	if got := tn.MemberOf[fxBG2]; !slices.Equal(got, []string{fxExclGroup}) {
		t.Errorf("MemberOf[bg2] = %v", got)
	}
	if got, ok := tn.MemberOf[fxCarol]; !ok || len(got) != 0 {
		t.Errorf("MemberOf[carol] = %v, %v; want collected and empty", got, ok)
	}
	if len(tn.Domains) != 2 || !tn.Domains[0].IsInitial || tn.Domains[0].AuthenticationType != "Managed" {
		t.Errorf("Domains = %+v", tn.Domains)
	}
	if len(tn.RoleAssignments) != 4 || tn.RoleAssignments[0].PrincipalType != "user" || tn.RoleAssignments[0].RoleDefinitionID != fxGA {
		t.Errorf("RoleAssignments = %+v", tn.RoleAssignments)
	}
	if len(tn.PrincipalRoles) != 2 {
		t.Errorf("PrincipalRoles = %+v", tn.PrincipalRoles)
	}
	s := tn.AssignmentSchedules
	if len(s) != 4 || s[0].ExpirationType != "noExpiration" || s[0].AssignmentType != "Assigned" || s[0].MemberType != "Direct" || s[0].StartDateTime == nil || s[0].EndDateTime != nil {
		t.Errorf("AssignmentSchedules = %+v", s)
	}
	if len(tn.AssignmentInstances) != 4 || tn.AssignmentInstances[0].StartDateTime == nil {
		t.Errorf("AssignmentInstances = %+v", tn.AssignmentInstances)
	}
	e := tn.EligibilitySchedules
	if len(e) != 2 || e[0].PrincipalID != fxBob || e[0].ExpirationType != "afterDateTime" || e[0].EndDateTime == nil {
		t.Errorf("EligibilitySchedules = %+v", e)
	}
	if len(tn.EligibilityInstances) != 2 || tn.EligibilityInstances[0].EndDateTime == nil {
		t.Errorf("EligibilityInstances = %+v", tn.EligibilityInstances)
	}
	m := tn.AuthMethods[fxBG1]
	if len(m) != 2 || m[1].Type != "fido2AuthenticationMethod" || m[1].AAGUID != "cb69481e-8ff7-4039-93ec-0a2729a154a8" || m[0].Type != "passwordAuthenticationMethod" {
		t.Errorf("AuthMethods[bg1] = %+v", m)
	}
	if bob := tn.AuthMethods[fxBob]; len(bob) != 3 || bob[2].PhoneNumber != "+1 2065550123" || bob[2].PhoneType != "mobile" {
		t.Errorf("AuthMethods[bob] = %+v", bob)
	}
	if r := tn.Registration[fxBG2]; r == nil || r.IsSsprRegistered == nil || *r.IsSsprRegistered || !slices.Equal(r.MethodsRegistered, []string{"passKeyDeviceBound"}) {
		t.Errorf("Registration[bg2] = %+v", r)
	}
	if c, ok := tn.CertificateUserIDs[fxBG1]; !ok || len(c) != 0 {
		t.Errorf("CertificateUserIDs[bg1] = %v, %v", c, ok)
	}
	if len(tn.ConditionalAccessPolicies) != 7 || len(tn.AuthStrengthPolicies) != 3 || len(tn.RoleManagementPolicies) != 2 ||
		len(tn.LifecycleWorkflows) != 2 || len(tn.AccessReviewDefinitions) != 1 || len(tn.NamedLocations) != 1 {
		t.Errorf("raw datasets: %d CA, %d strengths, %d PIM, %d LCW, %d reviews, %d locations", len(tn.ConditionalAccessPolicies),
			len(tn.AuthStrengthPolicies), len(tn.RoleManagementPolicies), len(tn.LifecycleWorkflows), len(tn.AccessReviewDefinitions), len(tn.NamedLocations))
	}
	if tn.AuthMethodsPolicy == nil || tn.SecurityDefaults == nil {
		t.Error("object datasets missing")
	}
	if got := tn.WorkflowScope[fxWorkflow]; !slices.Equal(got, []string{fxErin}) {
		t.Errorf("WorkflowScope = %v", got)
	}
	if len(tn.ApproversNotFound) != 0 {
		t.Errorf("ApproversNotFound = %v", tn.ApproversNotFound)
	}
}

// TestFromSnapshotLenient: an odd item or a wrong-typed field is a
// problem naming dataset, index and field; the rest still decodes, and the
// field reads as unknown (Invalid), never as absent.
func TestFromSnapshotLenient(t *testing.T) {
	tn := loadFixture(t, "compliant",
		setUser(fxBG1, map[string]any{"onPremisesSyncEnabled": "no", "accountEnabled": 1}),
		func(f *fixture) {
			items := f.items(collect.DatasetBreakGlassUsers)
			f.setItems(collect.DatasetBreakGlassUsers, append([]any{"not a user", map[string]any{"displayName": "no id"}}, items...))
		},
		func(f *fixture) {
			f.edit(collect.DatasetBreakGlassUsers, byID(fxBG2), func(m map[string]any) {
				m["signInActivity"] = map[string]any{"lastSuccessfulSignInDateTime": "yesterday"}
			})
		},
		func(f *fixture) {
			f.edit(collect.KeyedName(collect.DatasetAuthMethods, fxBG2), func(map[string]any) bool { return true }, func(m map[string]any) {
				if m["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod" {
					m["aaGuid"] = 42
				}
			})
			items := f.items(collect.KeyedName(collect.DatasetAuthMethods, fxBG1))
			f.setItems(collect.KeyedName(collect.DatasetAuthMethods, fxBG1), append(items, []any{1, 2}))
		},
		func(f *fixture) {
			f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG1, fxGA), func(m map[string]any) {
				m["scheduleInfo"].(map[string]any)["expiration"] = "forever"
			})
			items := f.items(collect.DatasetConditionalAccessPolicies)
			f.setItems(collect.DatasetConditionalAccessPolicies, append(items, "odd"))
			f.edit(collect.DatasetRoleAssignments, byPrincipal(fxAlice, fxGA), func(m map[string]any) {
				m["principal"].(map[string]any)["accountEnabled"] = "x"
			})
		},
	)
	wantProblems := []string{
		"breakglass_users[0]: \"not a user\" is not an object (string)",
		"breakglass_users[1].id: missing or not a string: the object is left out",
		"conditional_access_policies[7]: \"odd\" is not an object (string)",
		"breakglass_users[2].accountEnabled: want a boolean, got number 1",
		"breakglass_users[2].onPremisesSyncEnabled: want a boolean, got string \"no\"",
		"breakglass_users[3].signInActivity.lastSuccessfulSignInDateTime: want an RFC 3339 date-time, got string \"yesterday\"",
		"auth_methods." + fxBG1 + "[2]: [1,2] is not an object (array)",
		"auth_methods." + fxBG2 + "[1].aaGuid: want a string, got number 42",
		"role_assignment_schedules[0].scheduleInfo.expiration: want an object, got string \"forever\"",
		"role_assignments[2].principal.accountEnabled: want a boolean, got string \"x\"",
	}
	for _, w := range wantProblems {
		if !slices.Contains(tn.Problems, w) {
			t.Errorf("problem %q not reported; got:\n%s", w, strings.Join(tn.Problems, "\n"))
		}
	}
	bg1 := tn.User(fxBG1)
	if bg1 == nil || bg1.OnPremisesSyncEnabled != nil || bg1.Invalid["onPremisesSyncEnabled"] == "" || bg1.Invalid["accountEnabled"] == "" {
		t.Errorf("bg1 = %+v", bg1)
	}
	if bg1.UPN != fxBG1UPN || bg1.PasswordPolicies == nil {
		t.Errorf("bg1 lost its other fields: %+v", bg1)
	}
	if bg2 := tn.User(fxBG2); bg2 == nil || bg2.Invalid["signInActivity.lastSuccessfulSignInDateTime"] == "" {
		t.Errorf("bg2 = %+v", bg2)
	}
	if m := tn.AuthMethods[fxBG1]; len(m) != 3 || !m[2].Invalid || m[1].Invalid {
		t.Errorf("AuthMethods[bg1] = %+v: the odd item must stay, marked invalid", m)
	}
	if m := tn.AuthMethods[fxBG2]; len(m) != 2 || !m[1].Invalid {
		t.Errorf("AuthMethods[bg2] = %+v", m)
	}
	if s := tn.AssignmentSchedules; len(s) != 4 || !s[0].Invalid || s[1].Invalid {
		t.Errorf("AssignmentSchedules = %+v", s)
	}
	if len(tn.ConditionalAccessPolicies) != 8 {
		t.Errorf("%d CA policies: an odd one must be kept for the check to see", len(tn.ConditionalAccessPolicies))
	}
	if got := tn.ProblemsIn(collect.DatasetAuthMethods); len(got) != 2 {
		t.Errorf("ProblemsIn(auth_methods) = %v", got)
	}
	if rep := Run(tn, fixtureOptions()); !slices.Equal(rep.Problems, tn.Problems) {
		t.Errorf("report problems = %v", rep.Problems)
	}
}

// TestFromSnapshotAccounts: accounts in configuration order, unresolved
// ones included where they were configured, a mismatched id/UPN entry
// unresolved, two entries naming one user one account.
func TestFromSnapshotAccounts(t *testing.T) {
	tn := loadFixture(t, "compliant", func(f *fixture) {
		f.m.Accounts = []collect.Resolved{
			{Entry: "groups[0] id g1", ID: fxBG1, UPN: fxBG1UPN},
			{Entry: "accounts[3] upn " + fxBG2UPN, ID: fxBG2, UPN: fxBG2UPN},
			{Entry: "accounts[0] id " + fxBG1, ID: fxBG1, UPN: fxBG1UPN},
			{Entry: "accounts[10] id " + fxBG2 + " upn other@contoso.onmicrosoft.com", ID: fxBG2, UPN: fxBG2UPN},
		}
		f.m.Unresolved = []collect.Unresolved{
			{Entry: "accounts[2] upn gone@contoso.onmicrosoft.com", Reason: "not found in the directory"},
			{Entry: "accounts[10] id " + fxBG2 + " upn other@contoso.onmicrosoft.com", Reason: "the id belongs to bg2"},
			{Entry: "accounts[1] id 1234", Reason: "not found in the directory"},
		}
	})
	type acct struct {
		entry    string
		resolved bool
		id, upn  string
	}
	var got []acct
	for _, a := range tn.Accounts {
		got = append(got, acct{a.Entry, a.Resolved, a.ID, a.UPN})
	}
	want := []acct{
		{"accounts[0] id " + fxBG1 + "; groups[0] id g1", true, fxBG1, fxBG1UPN},
		{"accounts[1] id 1234", false, "1234", ""},
		{"accounts[2] upn gone@contoso.onmicrosoft.com", false, "", "gone@contoso.onmicrosoft.com"},
		{"accounts[3] upn " + fxBG2UPN, true, fxBG2, fxBG2UPN},
		{"accounts[10] id " + fxBG2 + " upn other@contoso.onmicrosoft.com", false, fxBG2, "other@contoso.onmicrosoft.com"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Accounts:\n got %+v\nwant %+v", got, want)
	}
	// A mismatch entry on its own is unresolved, with collect's reason.
	const entry = "accounts[1] id " + fxBG2 + " upn someone@contoso.onmicrosoft.com"
	tn = loadFixture(t, "compliant", func(f *fixture) {
		f.m.Accounts[1].Entry = entry
		f.m.Unresolved = []collect.Unresolved{{Entry: entry, Reason: "the id belongs to someone else"}}
	})
	if a := tn.Accounts[1]; a.Resolved || a.Reason != "the id belongs to someone else" || a.ID != fxBG2 || a.UPN != "someone@contoso.onmicrosoft.com" {
		t.Errorf("mismatched account = %+v", a)
	}
}

// TestFromSnapshotMissingDatasets: datasets refused or absent leave their
// fields empty, and Missing says why.
func TestFromSnapshotMissingDatasets(t *testing.T) {
	tn := loadFixture(t, "compliant", func(f *fixture) {
		f.refuse(collect.DatasetConditionalAccessPolicies, collect.ReasonPermission)
		f.refuse(collect.DatasetAuthMethods, collect.ReasonPermission)
		f.drop(DatasetMemberOf)
	})
	if tn.ConditionalAccessPolicies != nil || len(tn.AuthMethods) != 0 || len(tn.MemberOf) != 0 {
		t.Errorf("refused datasets decoded: %d CA, %d methods, %d memberOf", len(tn.ConditionalAccessPolicies), len(tn.AuthMethods), len(tn.MemberOf))
	}
	reason, missing := tn.Missing(collect.DatasetConditionalAccessPolicies, collect.KeyedName(collect.DatasetAuthMethods, fxBG1))
	if !missing || !strings.Contains(reason, "conditional_access_policies unavailable") || !strings.Contains(reason, "auth_methods."+fxBG1+" unavailable") {
		t.Errorf("Missing = %q, %v", reason, missing)
	}
	if len(tn.Problems) != 0 {
		t.Errorf("problems: %v", tn.Problems)
	}
}

// TestFromSnapshotApprovers: an approver marked not found is listed, not a
// user.
func TestFromSnapshotApprovers(t *testing.T) {
	const gone = "DEAD0000-0000-4000-8000-000000000009"
	tn := loadFixture(t, "compliant", func(f *fixture) {
		items := f.items(DatasetRoleApprovers)
		f.setItems(DatasetRoleApprovers, append(items, map[string]any{"id": gone, NotFoundMarker: true}))
	})
	if !slices.Equal(tn.ApproversNotFound, []string{strings.ToLower(gone)}) || tn.User(gone) != nil {
		t.Errorf("ApproversNotFound = %v", tn.ApproversNotFound)
	}
}

func TestFromSnapshotNil(t *testing.T) {
	if _, err := FromSnapshot(nil); err == nil {
		t.Error("nil snapshot accepted")
	}
}

// FuzzFromSnapshot feeds hostile dataset bytes to the decoder: it must
// never panic, and Run on what it gives must not either.
func FuzzFromSnapshot(f *testing.F) {
	dir := filepath.Join("testdata", "snapshots", "compliant")
	s, err := collect.Load(dir)
	if err != nil {
		f.Fatal(err)
	}
	names := make([]string, 0, len(s.Datasets))
	for n := range s.Datasets {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		// Large seeds slow the fuzzer's mutation down to a crawl; the
		// small datasets cover every decoder shape.
		if len(s.Datasets[n]) <= 4096 {
			f.Add(uint8(i), []byte(s.Datasets[n]))
		}
	}
	f.Add(uint8(0), []byte(`{"value":[null,1,"x",[],{"id":1},{"id":"a","principal":{"@odata.type":5}}]}`))
	f.Add(uint8(3), []byte(`{"value":[{"id":"x","scheduleInfo":{"expiration":[]},"startDateTime":"x"}]}`))
	f.Add(uint8(9), []byte(`[]`))
	raw, _ := os.ReadFile(filepath.Join(dir, collect.ManifestFile))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		var m collect.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		snap := &collect.Snapshot{Dir: dir, Manifest: m, Datasets: map[string]json.RawMessage{}}
		for k, v := range s.Datasets {
			snap.Datasets[k] = v
		}
		snap.Datasets[names[int(which)%len(names)]] = data
		tn, err := FromSnapshot(snap)
		if err != nil {
			t.Fatal(err)
		}
		_ = Run(tn, fixtureOptions())
	})
}

// FuzzFromSnapshotManifest feeds hostile manifests (account entries,
// unresolved entries, failures) to the decoder and the checks.
func FuzzFromSnapshotManifest(f *testing.F) {
	dir := filepath.Join("testdata", "snapshots", "compliant")
	s, err := collect.Load(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"accounts":[{"entry":"accounts[0] id x","id":"x"}],"unresolved":[{"entry":"accounts[0] id x","reason":"r"}]}`))
	f.Add([]byte(`{"accounts":[{"entry":"groups[99999999999999999999] id","id":""},{"entry":"[","id":"` + fxBG1 + `"}],"unresolved":[{"entry":"accounts[-1] upn"}]}`))
	f.Add([]byte(`{"failed":[{"name":"breakglass_users","partial":true,"field":"signInActivity"},{"name":"auth_methods","reason":"permission"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m collect.Manifest
		if json.Unmarshal(data, &m) != nil {
			return
		}
		snap := &collect.Snapshot{Dir: dir, Manifest: m, Datasets: s.Datasets}
		tn, err := FromSnapshot(snap)
		if err != nil {
			t.Fatal(err)
		}
		rep := Run(tn, fixtureOptions())
		if rep.Summary.Total != len(rep.Results) {
			t.Fatalf("summary %d of %d results", rep.Summary.Total, len(rep.Results))
		}
	})
}
