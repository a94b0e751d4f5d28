package posture

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"breakglass/internal/graph/collect"
)

// Ids of the hand-written tenant.
const (
	dBG1      = "0d3c5a41-7f7e-4c2e-9b1a-1f0e2d3c4b5a"
	dBG2      = "1e4d6b52-8a8f-4d3f-8c2b-2a1f3e4d5c6b"
	dAlice    = "2a2a2a2a-0000-4000-8000-00000000000a"
	dBob      = "3b3b3b3b-0000-4000-8000-00000000000b"
	dCarol    = "4c4c4c4c-0000-4000-8000-00000000000c"
	dOldBG    = "5d5d5d5d-0000-4000-8000-00000000000d"
	dSvc      = "6e6e6e6e-0000-4000-8000-00000000000e"
	dDeleted  = "7f7f7f7f-0000-4000-8000-00000000000f"
	dDave     = "8a8a8a8a-0000-4000-8000-0000000000da"
	dBGGroup  = "9b9b9b9b-0000-4000-8000-0000000000b9"
	dSvcGroup = "acacacac-0000-4000-8000-0000000000ac"
	dBigGroup = "bdbdbdbd-0000-4000-8000-0000000000bd"
	dGAGroup  = "cececece-0000-4000-8000-0000000000ce"
	gaID      = RoleGlobalAdministrator
)

func bp(b bool) *bool              { return &b }
func sp(s string) *string          { return &s }
func raw(s string) json.RawMessage { return json.RawMessage(s) }

func dUser(id, upn, name string, synced *bool) *User {
	return &User{ID: id, UPN: upn, DisplayName: name, UserType: "Member", AccountEnabled: bp(true), OnPremisesSyncEnabled: synced,
		Present: map[string]bool{"onPremisesSyncEnabled": true, "accountEnabled": true, "userType": true}}
}

func permanentGA(principal string) RoleSchedule {
	return RoleSchedule{ID: "s-" + principal, RoleDefinitionID: gaID, PrincipalID: principal, PrincipalType: "user", DirectoryScopeID: "/",
		AssignmentType: "Assigned", MemberType: "Direct", ExpirationType: "noExpiration"}
}

// discoverTenant: two real break-glass accounts (bg1 excluded through the
// break-glass group, bg2 by id and configured), an ordinary synced admin
// (alice), an eligible-only admin (bob), a time-bound admin (carol) who is
// only in a big exempt group, a disabled former break-glass account, a
// service account excluded everywhere through its group but holding no
// privileged role, a deleted Global Administrator, and dave who holds
// Global Administrator only through a group.
func discoverTenant() *Tenant {
	end := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	t := &Tenant{
		Snapshot: &collect.Snapshot{Datasets: map[string]json.RawMessage{
			"role_assignments": nil, "role_assignment_schedules": nil, "role_eligibility_schedules": nil,
			"conditional_access_policies": nil, "principal_role_assignments": nil,
		}},
		Accounts: []AccountInfo{{Entry: "accounts[0] id " + dBG2, ID: dBG2, UPN: "bg2@contoso.onmicrosoft.com", Resolved: true}},
		Users: map[string]*User{
			dBG1:   dUser(dBG1, "bg1@contoso.onmicrosoft.com", "Break Glass 1", nil),
			dBG2:   dUser(dBG2, "bg2@contoso.onmicrosoft.com", "Emergency Access 2", nil),
			dAlice: dUser(dAlice, "alice@contoso.com", "Alice Admin", bp(true)),
			dBob:   dUser(dBob, "bob@contoso.com", "Bob", nil),
			dCarol: dUser(dCarol, "carol@contoso.com", "Carol", nil),
			dOldBG: dUser(dOldBG, "oldbg@contoso.onmicrosoft.com", "Old break glass", nil),
			dSvc:   dUser(dSvc, "svc-sync@contoso.com", "Sync service", nil),
			dDave:  dUser(dDave, "dave@contoso.com", "Dave", nil),
		},
		GroupMembers: map[string][]string{dGAGroup: {dDave}},
		MemberOf: map[string][]string{
			dBG1: {dBGGroup}, dBG2: {}, dAlice: {}, dBob: {}, dCarol: {dBigGroup}, dOldBG: {dBGGroup}, dSvc: {dSvcGroup}, dDave: {dGAGroup},
		},
		RoleAssignments: []RoleAssignment{
			{ID: "a1", RoleDefinitionID: gaID, PrincipalID: dBG1, PrincipalType: "user", DirectoryScopeID: "/"},
			{ID: "a2", RoleDefinitionID: gaID, PrincipalID: dBG2, PrincipalType: "user", DirectoryScopeID: "/"},
			{ID: "a3", RoleDefinitionID: gaID, PrincipalID: dAlice, PrincipalType: "user", DirectoryScopeID: "/"},
			{ID: "a4", RoleDefinitionID: gaID, PrincipalID: dCarol, PrincipalType: "user", DirectoryScopeID: "/"},
			{ID: "a5", RoleDefinitionID: gaID, PrincipalID: dOldBG, PrincipalType: "user", DirectoryScopeID: "/"},
			{ID: "a6", RoleDefinitionID: gaID, PrincipalID: dDeleted, PrincipalType: "user", DirectoryScopeID: "/"},
			{ID: "a7", RoleDefinitionID: gaID, PrincipalID: dGAGroup, PrincipalType: "group", DirectoryScopeID: "/"},
		},
		AssignmentSchedules: []RoleSchedule{
			permanentGA(dBG1), permanentGA(dBG2), permanentGA(dAlice), permanentGA(dOldBG), permanentGA(dDeleted),
			{ID: "s-carol", RoleDefinitionID: gaID, PrincipalID: dCarol, PrincipalType: "user", DirectoryScopeID: "/",
				AssignmentType: "Assigned", MemberType: "Direct", ExpirationType: "afterDateTime", EndDateTime: &end},
			func() RoleSchedule { s := permanentGA(dGAGroup); s.PrincipalType = "group"; return s }(),
		},
		EligibilitySchedules: []RoleSchedule{{ID: "e-bob", RoleDefinitionID: gaID, PrincipalID: dBob, PrincipalType: "user", DirectoryScopeID: "/", MemberType: "Direct"}},
		AuthMethods: map[string][]AuthMethod{
			dBG1:   {{Type: "passwordAuthenticationMethod"}, {Type: "fido2AuthenticationMethod", AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8"}},
			dBG2:   {{Type: "passwordAuthenticationMethod"}, {Type: "fido2AuthenticationMethod"}, {Type: "fido2AuthenticationMethod"}},
			dAlice: {{Type: "passwordAuthenticationMethod"}, {Type: "phoneAuthenticationMethod", PhoneNumber: "+1 5550100"}, {Type: "microsoftAuthenticatorAuthenticationMethod"}},
			dOldBG: {{Type: "fido2AuthenticationMethod"}},
		},
	}
	t.Users[dOldBG].AccountEnabled = bp(false)
	big := make([]string, 500)
	for i := range big {
		big[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	t.GroupMembers[dBigGroup] = append(big, dCarol)
	t.ConditionalAccessPolicies = []json.RawMessage{
		raw(`{"id":"p1","displayName":"Block legacy authentication","state":"enabled","conditions":{"users":{"includeUsers":["All"],"excludeUsers":["` + dBG2 + `","` + dDeleted + `"],"excludeGroups":["` + dBGGroup + `","` + dSvcGroup + `"]},"clientAppTypes":["exchangeActiveSync","other"],"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["block"]}}`),
		raw(`{"id":"p2","displayName":"Require MFA for admins","state":"enabled","conditions":{"users":{"includeRoles":["` + gaID + `"],"excludeUsers":["` + dBG2 + `"],"excludeGroups":["` + dBGGroup + `","` + dSvcGroup + `","` + dBigGroup + `"]},"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`),
		raw(`{"id":"p3","displayName":"Require MFA for everyone","state":"enabledForReportingButNotEnforced","conditions":{"users":{"includeUsers":["All"],"excludeUsers":["` + dBG2 + `"],"excludeGroups":["` + dBGGroup + `","` + dSvcGroup + `","` + dBigGroup + `"]},"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`),
		raw(`{"id":"p4","displayName":"Block workload identities","state":"enabled","conditions":{"users":{"includeUsers":["None"]},"clientApplications":{"includeServicePrincipals":["ServicePrincipalsInMyTenant"]},"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["block"]}}`),
		raw(`{"id":"p5","displayName":"Old policy","state":"disabled","conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["block"]}}`),
		raw(`{"id":"p6","displayName":"Security info registration","state":"enabled","conditions":{"users":{"includeUsers":["All"],"excludeRoles":["` + gaID + `"]},"applications":{"includeUserActions":["urn:user:registersecurityinfo"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`),
	}
	return t
}

func find(cs []Candidate, id string) (Candidate, bool) {
	for _, c := range cs {
		if strings.EqualFold(c.ID, id) {
			return c, true
		}
	}
	return Candidate{}, false
}

func TestDiscover(t *testing.T) {
	cs := Discover(discoverTenant())
	for _, c := range cs {
		t.Logf("%3d likely=%-5v configured=%-5v %s %v %+v", c.Score, c.Likely, c.Configured, c.UPN, c.Reasons, c.Policies)
	}
	tests := []struct {
		id         string
		present    bool
		likely     bool
		configured bool
		reasons    []string // substrings, each in some reason
		policies   *CandidatePolicies
	}{
		{id: dBG1, present: true, likely: true, reasons: []string{
			"+ permanent active Global Administrator, assigned directly", "+ cloud-only", "+ excluded from 3 of 4 enabled or report-only policies",
			"- excluded from 1 only through excludeRoles", "+ 1 FIDO2 passkey registered", "+ no phone", "+ UPN on a *.onmicrosoft.com domain", "+ the name suggests"},
			policies: &CandidatePolicies{Targetable: 4, Excluded: 3, ExcludedByRole: 1}},
		{id: dBG2, present: true, likely: true, configured: true, reasons: []string{"+ excluded from 3 of 4", "+ 2 FIDO2 passkeys registered", "emergency"}},
		{id: dAlice, present: true, reasons: []string{"- synced from on-premises", "- excluded from 0 of 4", "- has methods tied to a person: phone, Microsoft Authenticator"},
			policies: &CandidatePolicies{Targetable: 4, Applies: 3, ExcludedByRole: 1}},
		{id: dBob, present: true, reasons: []string{"- Global Administrator is eligible only", "? authentication methods unknown"}},
		{id: dCarol, present: true, reasons: []string{"- Global Administrator is time-bound (expires 2027-01-31)", "- excluded from 2 only through groups of more than 20 members"},
			policies: &CandidatePolicies{Targetable: 4, Applies: 1, ExcludedByRole: 1, ExcludedByLargeGroup: 2}},
		{id: dOldBG, present: true, reasons: []string{"- account is disabled"}},
		{id: dDave, present: true, reasons: []string{"- Global Administrator only through group " + dGAGroup}},
		// The traps: a service account excluded everywhere but holding no
		// privileged role, and a deleted Global Administrator still excluded.
		{id: dSvc, present: false},
		{id: dDeleted, present: false},
	}
	for _, tc := range tests {
		c, ok := find(cs, tc.id)
		if ok != tc.present {
			t.Errorf("%s: present %v, want %v", tc.id, ok, tc.present)
			continue
		}
		if !ok {
			continue
		}
		if c.Likely != tc.likely || c.Configured != tc.configured {
			t.Errorf("%s: likely %v configured %v, want %v %v (score %d, %v)", c.UPN, c.Likely, c.Configured, tc.likely, tc.configured, c.Score, c.Reasons)
		}
		joined := strings.Join(c.Reasons, "\n")
		for _, r := range tc.reasons {
			if !strings.Contains(joined, r) {
				t.Errorf("%s: reasons lack %q:\n%s", c.UPN, r, joined)
			}
		}
		if tc.policies != nil && c.Policies != *tc.policies {
			t.Errorf("%s: policies %+v, want %+v", c.UPN, c.Policies, *tc.policies)
		}
		if c.Score < 0 || c.Score > 100 {
			t.Errorf("%s: score %d out of range", c.UPN, c.Score)
		}
		if tc.likely && c.Score < LikelyScore || !tc.likely && c.Likely {
			t.Errorf("%s: score %d likely %v", c.UPN, c.Score, c.Likely)
		}
		if strings.Contains(joined, "5550100") {
			t.Errorf("%s: a phone number is printed: %s", c.UPN, joined)
		}
	}
	// Best first: the two break-glass accounts lead.
	if len(cs) < 2 || !cs[0].Likely || !cs[1].Likely {
		t.Fatalf("the likely candidates are not first: %+v", cs)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].Score > cs[i-1].Score {
			t.Errorf("not sorted by score: %d after %d", cs[i].Score, cs[i-1].Score)
		}
	}
}

// TestDiscoverMissingData: what was not collected is said, never read as
// a fact in the account's favour.
func TestDiscoverMissingData(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Tenant)
		id      string
		likely  bool
		reasons []string
	}{
		{"no PIM licence: active assignments are permanent", func(t *Tenant) {
			delete(t.Snapshot.Datasets, "role_assignment_schedules")
			t.AssignmentSchedules = nil
			t.Snapshot.Manifest.Failed = []collect.Failure{{Name: "role_assignment_schedules", Endpoint: "/roleManagement/directory/roleAssignmentSchedules", Status: 403, Reason: collect.ReasonLicence}}
		}, dBG1, true, []string{"no PIM licence: active assignments are permanent"}},
		{"PIM refused: permanence unknown, not likely", func(t *Tenant) {
			delete(t.Snapshot.Datasets, "role_assignment_schedules")
			t.AssignmentSchedules = nil
			t.Snapshot.Manifest.Failed = []collect.Failure{{Name: "role_assignment_schedules", Endpoint: "/roleManagement/directory/roleAssignmentSchedules", Status: 403, Reason: collect.ReasonPermission, Hint: "grant RoleManagement.Read.Directory"}}
		}, dBG1, true, []string{"? active Global Administrator, assigned directly; permanence unknown", "RoleManagement.Read.Directory"}},
		{"active assignment without a schedule", func(t *Tenant) {
			t.AssignmentSchedules = t.AssignmentSchedules[1:]
		}, dBG1, true, []string{"? active Global Administrator, assigned directly (roleAssignments), but no roleAssignmentSchedule"}},
		{"Conditional Access refused", func(t *Tenant) {
			delete(t.Snapshot.Datasets, "conditional_access_policies")
			t.ConditionalAccessPolicies = nil
			t.Snapshot.Manifest.Failed = []collect.Failure{{Name: "conditional_access_policies", Endpoint: "/identity/conditionalAccess/policies", Status: 403, Reason: collect.ReasonPermission}}
		}, dBG1, true, []string{"? Conditional Access exclusions unknown", "was refused (403)"}},
		// Without exclusions to go by, the other signals still make bg1
		// likely: in phishing-resistant mode a break-glass account is
		// covered, not excluded.
		{"groups unknown", func(t *Tenant) { delete(t.MemberOf, dBG1) }, dBG1, true, []string{"- excluded from 0 of 4", "? 3 policies could not be judged"}},
		{"a policy that does not decode", func(t *Tenant) {
			t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, raw(`{"id":"bad","state":"enabled","conditions":{"users":{"includeUsers":"All"}}}`))
		}, dBG1, true, []string{"? 1 Conditional Access policy could not be read"}},
		{"dedicated phishing-resistant policy", func(t *Tenant) {
			t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, raw(`{"id":"p7","displayName":"Break-glass: phishing-resistant","state":"enabled","conditions":{"users":{"includeUsers":["`+dBG1+`"]},"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}`))
		}, dBG1, true, []string{`+ named in an enabled policy requiring phishing-resistant authentication: "Break-glass: phishing-resistant" (p7)`}},
		{"sync state not collected", func(t *Tenant) {
			t.Users[dBG1].Present = map[string]bool{}
		}, dBG1, true, []string{"? onPremisesSyncEnabled was not collected"}},
		{"immutable id set", func(t *Tenant) {
			t.Users[dBG1].OnPremisesImmutableID = sp("aGVsbG8=")
		}, dBG1, false, []string{"- has an onPremisesImmutableId"}},
		{"no user-targetable policy", func(t *Tenant) { t.ConditionalAccessPolicies = t.ConditionalAccessPolicies[3:5] }, dBG1, true,
			[]string{"? no enabled or report-only Conditional Access policy can target users"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ten := discoverTenant()
			tc.edit(ten)
			c, ok := find(Discover(ten), tc.id)
			if !ok {
				t.Fatalf("%s not a candidate", tc.id)
			}
			joined := strings.Join(c.Reasons, "\n")
			for _, r := range tc.reasons {
				if !strings.Contains(joined, r) {
					t.Errorf("reasons lack %q:\n%s", r, joined)
				}
			}
			if c.Likely != tc.likely {
				t.Errorf("likely %v, want %v (score %d)\n%s", c.Likely, tc.likely, c.Score, joined)
			}
		})
	}
	if Discover(nil) != nil || len(Discover(&Tenant{})) != 0 {
		t.Errorf("an empty tenant has candidates")
	}
}

func TestCASubject(t *testing.T) {
	ten := discoverTenant()
	ten.PrincipalRoles = []RoleAssignment{
		{RoleDefinitionID: RolePrivilegedRoleAdministrator, PrincipalID: dBG2, DirectoryScopeID: "/"},
		{RoleDefinitionID: "fe930be7-5e62-47db-91af-98c3a49a38b1", PrincipalID: dBG2, DirectoryScopeID: "/administrativeUnits/x"},
	}
	s := ten.CASubject(strings.ToUpper(dBG2))
	if s.ID != dBG2 || s.UserType != "Member" || !s.ExternalKnown || s.External || !s.GroupsKnown {
		t.Errorf("bg2 subject %+v", s)
	}
	if !s.RolesKnown || len(s.Roles) != 2 {
		t.Errorf("bg2 (configured): roles %v known %v, want GA and PRA (the unit-scoped role does not count)", s.Roles, s.RolesKnown)
	}
	if a := ten.CASubject(dAlice); a.RolesKnown || len(a.Roles) != 1 {
		t.Errorf("alice (not configured): roles %v known %v, want GA only and not known to be complete", a.Roles, a.RolesKnown)
	}
	if d := ten.CASubject(dDave); len(d.Roles) != 1 || d.Roles[0] != gaID {
		t.Errorf("dave: roles %v, want GA through his group", d.Roles)
	}
	ten.Users[dBob].UPN = "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"
	ten.Users[dBob].UserType = "Guest"
	if b := ten.CASubject(dBob); !b.External || !b.ExternalKnown {
		t.Errorf("guest subject %+v", b)
	}
	if u := ten.CASubject(dDeleted); u.UserType != "" || u.GroupsKnown || u.RolesKnown || u.ExternalKnown {
		t.Errorf("unknown user subject %+v", u)
	}
}

// TestDiscoverCompliantFixture runs Discover on the Graph-shaped compliant
// snapshot: bg1 and bg2 lead and are likely; no other admin is.
func TestDiscoverCompliantFixture(t *testing.T) {
	for _, configured := range []bool{true, false} {
		ten := loadFixture(t, "compliant")
		if !configured {
			// As if accounts: named nobody yet: the accounts are still
			// found, as role holders, and none says it is configured.
			ten.Accounts = nil
		}
		cs := Discover(ten)
		for _, c := range cs {
			t.Logf("configured=%v: %3d likely=%-5v %s %v", configured, c.Score, c.Likely, c.UPN, c.Reasons)
		}
		if len(cs) != 6 {
			t.Fatalf("configured=%v: %d candidates, want the 6 privileged users", configured, len(cs))
		}
		for i, c := range cs {
			bg := strings.EqualFold(c.ID, fxBG1) || strings.EqualFold(c.ID, fxBG2)
			if bg != (i < 2) || c.Likely != bg || c.Configured != (bg && configured) {
				t.Errorf("configured=%v: candidate %d %s: likely %v configured %v score %d", configured, i, c.UPN, c.Likely, c.Configured, c.Score)
			}
			if bg && c.Policies.Unknown != 0 {
				t.Errorf("%s: %d policies unknown on a complete snapshot: %v", c.UPN, c.Policies.Unknown, c.Reasons)
			}
		}
	}
}
