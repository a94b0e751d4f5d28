package capolicy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Subjects as the checks build them.
var (
	// bgMember is a break-glass account: cloud member, direct member of
	// the break-glass group, which is nested in parentGroup; permanent
	// Global Administrator.
	bgMember = Subject{ID: bg1, UserType: "Member", ExternalKnown: true,
		Groups: []string{bgGroup, parentGroup}, DirectGroups: []string{bgGroup}, GroupsKnown: true,
		Roles: []string{ga}, RolesKnown: true}
	// bg2Member is the second account: excluded only by id, in no group.
	bg2Member = Subject{ID: bg2, UserType: "Member", ExternalKnown: true, GroupsKnown: true, Roles: []string{ga}, RolesKnown: true}
	// adminMember is an ordinary Global Administrator.
	adminMember = Subject{ID: admin, UserType: "Member", ExternalKnown: true, GroupsKnown: true, Roles: []string{ga}, RolesKnown: true}
	// plainMember holds no role.
	plainMember = Subject{ID: admin, UserType: "Member", ExternalKnown: true, GroupsKnown: true, RolesKnown: true}
	// b2bGuest is a B2B collaboration guest from Fabrikam.
	b2bGuest = Subject{ID: "9e8d7c6b-5a49-4837-a625-14f3e2d1c0b9", UserType: "Guest", External: true, ExternalKnown: true,
		HomeTenantID: fabrikam, GroupsKnown: true, RolesKnown: true}
)

func with(s Subject, f func(*Subject)) Subject { f(&s); return s }

type want struct {
	verdict    string   // Applicability.Verdict()
	includedBy []string // substrings, each must appear in some IncludedBy entry
	excludedBy []string
	reason     string // substring of Reason (not targetable) or UnknownReason
}

func check(t *testing.T, a Applicability, w want) {
	t.Helper()
	if got := a.Verdict(); got != w.verdict {
		t.Errorf("verdict %s, want %s (%+v)", got, w.verdict, a)
	}
	if a.Applies != (w.verdict == "applies") {
		t.Errorf("Applies %v with verdict %s", a.Applies, a.Verdict())
	}
	if a.Applies != (a.Targetable && a.Included && !a.Excluded && !a.Unknown) {
		t.Errorf("Applies %v is not Targetable && Included && !Excluded: %+v", a.Applies, a)
	}
	if a.Unknown && (a.Applies || a.UnknownReason == "") {
		t.Errorf("unknown verdict applies or has no reason: %+v", a)
	}
	if !a.Targetable && a.Reason == "" {
		t.Errorf("not targetable without a reason: %+v", a)
	}
	has := func(list []string, sub string) bool {
		for _, s := range list {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
	for _, s := range w.includedBy {
		if !has(a.IncludedBy, s) {
			t.Errorf("IncludedBy %q lacks %q", a.IncludedBy, s)
		}
	}
	for _, s := range w.excludedBy {
		if !has(a.ExcludedBy, s) {
			t.Errorf("ExcludedBy %q lacks %q", a.ExcludedBy, s)
		}
	}
	if len(a.IncludedMatches) != len(a.IncludedBy) || len(a.ExcludedMatches) != len(a.ExcludedBy) {
		t.Errorf("matches and explanations differ: %+v", a)
	}
	for i, m := range a.ExcludedMatches {
		if !strings.HasPrefix(a.ExcludedBy[i], m.Field+": ") || !strings.Contains(a.ExcludedBy[i], m.Value) {
			t.Errorf("ExcludedMatches[%d] %+v does not match %q", i, m, a.ExcludedBy[i])
		}
	}
	for i, m := range a.IncludedMatches {
		if !strings.HasPrefix(a.IncludedBy[i], m.Field+": ") || !strings.Contains(a.IncludedBy[i], m.Value) {
			t.Errorf("IncludedMatches[%d] %+v does not match %q", i, m, a.IncludedBy[i])
		}
	}
	if a.Included != (len(a.IncludedBy) > 0) || a.Excluded != (len(a.ExcludedBy) > 0) {
		t.Errorf("Included/Excluded disagree with their explanations: %+v", a)
	}
	if w.reason != "" && !strings.Contains(a.Reason+" "+a.UnknownReason, w.reason) {
		t.Errorf("reason %q / unknown %q lacks %q", a.Reason, a.UnknownReason, w.reason)
	}
}

// TestEvaluateFixtures runs the real-shaped policies of testdata against
// the accounts a tenant has.
func TestEvaluateFixtures(t *testing.T) {
	ps := fixtures(t)
	tests := []struct {
		policy  string
		subject Subject
		name    string
		want    want
	}{
		// Microsoft's "Require MFA for admins": roles in, break-glass out by id.
		{"mfa-admins", adminMember, "admin", want{verdict: "applies", includedBy: []string{"includeRoles: Global Administrator"}}},
		{"mfa-admins", bgMember, "bg1 excluded by id", want{verdict: "excluded", includedBy: []string{"includeRoles: Global Administrator"}, excludedBy: []string{"excludeUsers: " + bg1}}},
		{"mfa-admins", plainMember, "no role", want{verdict: "not-included"}},
		{"mfa-admins", with(adminMember, func(s *Subject) { s.RolesKnown, s.Roles = false, nil }), "roles unknown", want{verdict: "unknown", reason: "includeRoles lists 14 role(s)"}},
		{"mfa-admins", with(bgMember, func(s *Subject) { s.RolesKnown, s.Roles = false, nil }), "roles unknown but excluded by id", want{verdict: "excluded", excludedBy: []string{"excludeUsers"}}},
		// "Block legacy authentication": All users, break-glass group out.
		{"block-legacy", adminMember, "admin", want{verdict: "applies", includedBy: []string{"includeUsers: All"}}},
		{"block-legacy", bgMember, "bg1 via group", want{verdict: "excluded", excludedBy: []string{"excludeGroups: " + bgGroup + " (direct member)"}}},
		{"block-legacy", bg2Member, "bg2 not in the group", want{verdict: "applies"}},
		{"block-legacy", with(bgMember, func(s *Subject) { s.GroupsKnown, s.Groups, s.DirectGroups = false, nil, nil }), "groups unknown", want{verdict: "unknown", reason: "excludeGroups lists 1 group(s)"}},
		// Phishing-resistant for admins, report-only: state is reported, not judged.
		{"phish-admins", adminMember, "admin, report-only", want{verdict: "applies", includedBy: []string{"Global Administrator"}}},
		{"phish-admins", bgMember, "bg1 excluded", want{verdict: "excluded", excludedBy: []string{bgGroup}}},
		// Workload and agent identity policies cannot target users.
		{"workload", bgMember, "workload", want{verdict: "not-targetable", reason: "workload identity policy"}},
		{"workload", with(bgMember, func(s *Subject) { s.GroupsKnown, s.RolesKnown = false, false }), "workload, nothing known", want{verdict: "not-targetable", reason: "includeServicePrincipals"}},
		{"agent", bgMember, "agent", want{verdict: "not-targetable", reason: "agent identity policy"}},
		// Disabled: evaluated like any other; the caller reads State.
		{"mfa-all-off", bgMember, "disabled", want{verdict: "applies", includedBy: []string{"includeUsers: All"}}},
		// Guest-only template.
		{"mfa-guests", bgMember, "member", want{verdict: "not-targetable", reason: "internal member"}},
		{"mfa-guests", b2bGuest, "guest", want{verdict: "applies", includedBy: []string{"includeGuestsOrExternalUsers: b2bCollaborationGuest"}}},
		{"mfa-guests", with(bgMember, func(s *Subject) { s.UserType = "" }), "user type unknown", want{verdict: "unknown", reason: "user type"}},
		{"mfa-guests", with(bgMember, func(s *Subject) { s.ExternalKnown = false }), "member, external unknown", want{verdict: "unknown", reason: "user type"}},
		// User actions: All users minus guests minus Global Administrators.
		{"register-info", plainMember, "plain member", want{verdict: "applies", includedBy: []string{"includeUsers: All"}}},
		{"register-info", bgMember, "GA excluded by role", want{verdict: "excluded", excludedBy: []string{"excludeRoles: Global Administrator"}}},
		{"register-info", b2bGuest, "guest excluded", want{verdict: "excluded", excludedBy: []string{"excludeUsers: GuestsOrExternalUsers (the account is b2bCollaborationGuest)"}}},
		// Authentication context.
		{"auth-context", bgMember, "auth context", want{verdict: "applies", includedBy: []string{"includeUsers: All"}}},
		// Nested group exclusion: bg1 is in bgGroup, which is in parentGroup.
		{"block-countries", bgMember, "nested", want{verdict: "excluded", excludedBy: []string{"excludeGroups: " + parentGroup + " (via nested membership)"}}},
		{"block-countries", with(bgMember, func(s *Subject) { s.DirectGroups = nil }), "nested, direct unknown", want{verdict: "excluded", excludedBy: []string{parentGroup + " (member, directly or through nested groups)"}}},
		{"block-countries", bg2Member, "bg2", want{verdict: "applies"}},
		// The dedicated break-glass policy includes them by id.
		{"bg-phish", bgMember, "bg1 included by id", want{verdict: "applies", includedBy: []string{"includeUsers: " + bg1}}},
		{"bg-phish", adminMember, "other admin", want{verdict: "not-included"}},
		// Enumerated external tenants.
		{"partner-tou", b2bGuest, "Fabrikam guest", want{verdict: "applies", includedBy: []string{"from tenant " + fabrikam}}},
		{"partner-tou", with(b2bGuest, func(s *Subject) { s.HomeTenantID = "00000000-1111-2222-3333-444444444444" }), "other tenant", want{verdict: "not-targetable", reason: "this account (b2bCollaborationGuest, home tenant 00000000-1111-2222-3333-444444444444) is not among them"}},
		{"partner-tou", with(b2bGuest, func(s *Subject) { s.HomeTenantID = "" }), "home tenant unknown", want{verdict: "unknown", reason: "home tenant"}},
		{"partner-tou", bgMember, "member", want{verdict: "not-targetable", reason: "internal member"}},
	}
	for _, tc := range tests {
		t.Run(tc.policy+"/"+tc.name, func(t *testing.T) {
			p := ps[tc.policy]
			a := Evaluate(p, tc.subject)
			if a.PolicyID != p.ID || a.DisplayName != p.DisplayName || a.State != p.State {
				t.Errorf("policy identity not carried: %+v", a)
			}
			check(t, a, tc.want)
		})
	}
}

func TestEvaluateResourceAndConditions(t *testing.T) {
	ps := fixtures(t)
	tests := []struct {
		policy      string
		resource    string
		userActions bool
		authContext bool
		condition   string
	}{
		{"mfa-admins", "all resources", false, false, ""},
		{"block-legacy", "all resources", false, false, "clientAppTypes: exchangeActiveSync, other"},
		{"register-info", "user actions: urn:user:registersecurityinfo", true, false, "locations: include [All], exclude [AllTrusted]"},
		{"auth-context", "authentication context: c1", false, true, "platforms: include [all], exclude [iOS]"},
		{"partner-tou", "applications: 00000003-0000-0ff1-ce00-000000000000", false, false, ""},
	}
	for _, tc := range tests {
		a := Evaluate(ps[tc.policy], bgMember)
		if a.Resource != tc.resource || a.UserActions != tc.userActions || a.AuthContext != tc.authContext {
			t.Errorf("%s: resource %q userActions %v authContext %v", tc.policy, a.Resource, a.UserActions, a.AuthContext)
		}
		got := strings.Join(a.Conditions, "; ")
		if (tc.condition == "") != (got == "") || !strings.Contains(got, tc.condition) {
			t.Errorf("%s: conditions %q, want %q", tc.policy, got, tc.condition)
		}
	}
}

// policyWithUsers builds a policy around one users condition.
func policyWithUsers(t *testing.T, users string) Policy {
	t.Helper()
	p, err := Decode(json.RawMessage(`{"id":"p","displayName":"T","state":"enabled",
		"conditions":{"applications":{"includeApplications":["All"]},"users":` + users + `},
		"grantControls":{"operator":"OR","builtInControls":["block"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEvaluateUsers covers each users dimension on its own.
func TestEvaluateUsers(t *testing.T) {
	upper := strings.ToUpper(bg1)
	tests := []struct {
		name    string
		users   string
		subject Subject
		want    want
	}{
		{"All with user exclusion", `{"includeUsers":["All"],"excludeUsers":["` + bg1 + `"]}`, bgMember,
			want{verdict: "excluded", includedBy: []string{"All"}, excludedBy: []string{"the account itself"}}},
		{"All with exclusion of someone else", `{"includeUsers":["All"],"excludeUsers":["` + bg2 + `"]}`, bgMember, want{verdict: "applies"}},
		{"ids compare without case", `{"includeUsers":["all"],"excludeUsers":["` + upper + `"]}`, bgMember, want{verdict: "excluded"}},
		{"None", `{"includeUsers":["None"],"excludeUsers":[]}`, bgMember, want{verdict: "not-targetable", reason: "includeUsers is None"}},
		{"empty users condition", `{"includeUsers":[],"includeGroups":[]}`, bgMember, want{verdict: "not-targetable", reason: "includes no user"}},
		{"no users condition", `null`, bgMember, want{verdict: "unknown", reason: "no conditions.users"}},
		{"included group, nested", `{"includeGroups":["` + parentGroup + `"]}`, bgMember, want{verdict: "applies", includedBy: []string{"includeGroups: " + parentGroup + " (via nested membership)"}}},
		{"included group, not a member", `{"includeGroups":["` + parentGroup + `"]}`, bg2Member, want{verdict: "not-included"}},
		{"included group, groups unknown", `{"includeGroups":["` + parentGroup + `"]}`, with(bgMember, func(s *Subject) { s.GroupsKnown, s.Groups = false, nil }), want{verdict: "unknown", reason: "group memberships were not collected"}},
		{"excluded group wins over All", `{"includeUsers":["All"],"excludeGroups":["` + parentGroup + `"]}`, bgMember, want{verdict: "excluded"}},
		{"role include, role exclude", `{"includeRoles":["` + ga + `"],"excludeRoles":["` + ga + `"]}`, adminMember,
			want{verdict: "excluded", includedBy: []string{"includeRoles: Global Administrator"}, excludedBy: []string{"excludeRoles: Global Administrator"}}},
		{"role exclusion of another role", `{"includeUsers":["All"],"excludeRoles":["` + RolePrivilegedRoleAdministrator + `"]}`, adminMember, want{verdict: "applies"}},
		{"role exclusion, roles unknown", `{"includeUsers":["All"],"excludeRoles":["` + ga + `"]}`, with(adminMember, func(s *Subject) { s.RolesKnown, s.Roles = false, nil }), want{verdict: "unknown", reason: "active role assignments were not collected"}},
		{"unknown role id shown as is", `{"includeRoles":["11111111-2222-3333-4444-555555555555"]}`, with(adminMember, func(s *Subject) { s.Roles = []string{"11111111-2222-3333-4444-555555555555"} }),
			want{verdict: "applies", includedBy: []string{"includeRoles: 11111111-2222-3333-4444-555555555555"}}},
		{"unknown include, known exclusion", `{"includeGroups":["` + parentGroup + `"],"excludeUsers":["` + bg1 + `"]}`, with(bgMember, func(s *Subject) { s.GroupsKnown, s.Groups = false, nil }), want{verdict: "excluded"}},
		{"known include, unknown exclusion", `{"includeUsers":["` + bg1 + `"],"excludeGroups":["` + bgGroup + `"]}`, with(bgMember, func(s *Subject) { s.GroupsKnown, s.Groups = false, nil }), want{verdict: "unknown", reason: "excludeGroups"}},
		{"known non-inclusion, unknown exclusion", `{"includeUsers":["` + bg2 + `"],"excludeGroups":["` + bgGroup + `"]}`, with(bgMember, func(s *Subject) { s.GroupsKnown, s.Groups = false, nil }), want{verdict: "not-included"}},
		{"legacy GuestsOrExternalUsers include, member", `{"includeUsers":["GuestsOrExternalUsers"]}`, bgMember, want{verdict: "not-targetable", reason: "includeUsers: GuestsOrExternalUsers"}},
		{"legacy GuestsOrExternalUsers include, guest", `{"includeUsers":["GuestsOrExternalUsers"]}`, b2bGuest, want{verdict: "applies", includedBy: []string{"GuestsOrExternalUsers (the account is b2bCollaborationGuest)"}}},
		{"guests plus a group, member in the group", `{"includeUsers":["GuestsOrExternalUsers"],"includeGroups":["` + bgGroup + `"]}`, bgMember, want{verdict: "applies", includedBy: []string{"includeGroups"}}},
		{"exclude guests, member unaffected", `{"includeUsers":["All"],"excludeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"internalGuest,b2bCollaborationGuest"}}`, bgMember, want{verdict: "applies"}},
		{"exclude guests, user type unknown", `{"includeUsers":["All"],"excludeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"internalGuest"}}`, with(bgMember, func(s *Subject) { s.UserType = "" }), want{verdict: "unknown", reason: "user type"}},
		{"no subject id", `{"includeUsers":["All"]}`, Subject{}, want{verdict: "unknown", reason: "no object id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, Evaluate(policyWithUsers(t, tc.users), tc.subject), tc.want)
		})
	}
}

// TestEvaluateGuestTypes checks every guest or external user type against
// include and exclude, and the type derived from userType.
func TestEvaluateGuestTypes(t *testing.T) {
	types := []string{GuestInternal, GuestB2BCollaboration, MemberB2BCollaboration, B2BDirectConnectUser, OtherExternalUser, ServiceProvider}
	for _, typ := range types {
		s := Subject{ID: "g-" + typ, GuestType: typ, HomeTenantID: fabrikam, GroupsKnown: true, RolesKnown: true}
		for _, other := range types {
			inc := policyWithUsers(t, `{"includeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"`+other+`","externalTenants":{"membershipKind":"all"}}}`)
			exc := policyWithUsers(t, `{"includeUsers":["All"],"excludeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"`+other+`"}}`)
			t.Run(typ+"/"+other, func(t *testing.T) {
				if typ == other {
					check(t, Evaluate(inc, s), want{verdict: "applies", includedBy: []string{"includeGuestsOrExternalUsers: " + typ}})
					check(t, Evaluate(exc, s), want{verdict: "excluded", excludedBy: []string{"excludeGuestsOrExternalUsers: " + typ}})
				} else {
					check(t, Evaluate(inc, s), want{verdict: "not-targetable", reason: "this account (" + typ})
					check(t, Evaluate(exc, s), want{verdict: "applies"})
				}
			})
		}
	}
	// An internal guest is not subject to externalTenants.
	enumerated := policyWithUsers(t, `{"includeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"internalGuest,b2bCollaborationGuest","externalTenants":{"membershipKind":"enumerated","members":["`+fabrikam+`"]}}}`)
	check(t, Evaluate(enumerated, Subject{ID: "ig", UserType: "Guest", ExternalKnown: true}), want{verdict: "applies", includedBy: []string{"internalGuest"}})

	derived := []struct {
		userType string
		external bool
		want     string
	}{
		{"Guest", false, GuestInternal},
		{"Guest", true, GuestB2BCollaboration},
		{"Member", true, MemberB2BCollaboration},
		{"member", false, ""},
	}
	for _, d := range derived {
		s := Subject{ID: "x", UserType: d.userType, External: d.external, ExternalKnown: true}
		got, ok := s.guestType()
		if !ok || got != d.want {
			t.Errorf("userType %s external %v: guest type %q (%v), want %q", d.userType, d.external, got, ok, d.want)
		}
	}
	if _, ok := (Subject{ID: "x", UserType: "Member"}).guestType(); ok {
		t.Errorf("a member whose external flag is unknown has a known guest type")
	}
	if _, ok := (Subject{ID: "x", UserType: "Robot", ExternalKnown: true}).guestType(); ok {
		t.Errorf("an unknown userType gives a known guest type")
	}
}

// TestEvaluatePartialKnowledge: a membership or role that is known counts
// even when the list is incomplete; its absence does not.
func TestEvaluatePartialKnowledge(t *testing.T) {
	partial := Subject{ID: admin, UserType: "Member", ExternalKnown: true, Groups: []string{bgGroup}, Roles: []string{ga}}
	tests := []struct {
		name  string
		users string
		want  want
	}{
		{"known role includes", `{"includeRoles":["` + ga + `"]}`, want{verdict: "applies", includedBy: []string{"Global Administrator"}}},
		{"other role unknown", `{"includeRoles":["` + RolePrivilegedRoleAdministrator + `"]}`, want{verdict: "unknown", reason: "role assignments were not collected"}},
		{"known group excludes", `{"includeUsers":["All"],"excludeGroups":["` + parentGroup + `","` + bgGroup + `"]}`, want{verdict: "excluded", excludedBy: []string{bgGroup}}},
		{"other group unknown", `{"includeUsers":["All"],"excludeGroups":["` + parentGroup + `"]}`, want{verdict: "unknown", reason: "group memberships were not collected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, Evaluate(policyWithUsers(t, tc.users), partial), tc.want)
		})
	}
}

// BenchmarkEvaluate: one account against 300 policies, each excluding 20
// groups, the account in 50 groups (nesting flattened by member_of). Ids
// are spread like real GUIDs (guid(i)), not sharing long prefixes.
func BenchmarkEvaluate(b *testing.B) {
	guid := func(i int) string {
		h := uint64(i+1) * 0x9e3779b97f4a7c15
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(h>>32), uint16(h>>16), h&0xfff, (h>>12)&0xfff, h*31&0xffffffffffff)
	}
	var groups, excl []string
	for i := range 50 {
		groups = append(groups, guid(i))
	}
	for i := range 20 {
		excl = append(excl, guid(1000+i))
	}
	ej, _ := json.Marshal(excl)
	var ps []Policy
	for i := range 300 {
		p, err := Decode(json.RawMessage(fmt.Sprintf(`{"id":"p%d","state":"enabled","conditions":{"users":{"includeUsers":["All"],"excludeGroups":%s,"includeRoles":["%s"]},"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`, i, ej, ga)))
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	s := Subject{ID: bg1, UserType: "Member", ExternalKnown: true, Groups: groups, GroupsKnown: true, Roles: []string{ga}, RolesKnown: true}
	b.ResetTimer()
	for range b.N {
		for _, p := range ps {
			Evaluate(p, s)
		}
	}
}
