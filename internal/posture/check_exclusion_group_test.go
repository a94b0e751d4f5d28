package posture

import (
	"encoding/json"
	"testing"

	"breakglass/internal/graph/collect"
)

func TestExclusionGroup(t *testing.T) {
	const id = "exclusion-group"
	group := func(f func(g *Group)) func(*Tenant) { return func(t *Tenant) { f(t.Groups[hGroup]) } }
	runHandCases(t, id, Options{}, []handCase{
		{name: "compliant", account: hBG1, want: StatusPass, contains: "CA exclusion: break-glass"},
		{name: "compliant second account", account: hBG2, want: StatusPass},
		{name: "ordinary security group", account: hBG1, want: StatusFail, contains: "neither role-assignable nor restricted-management",
			mutate: group(func(g *Group) { g.IsAssignableToRole = bptr(false) })},
		{name: "restricted-management group", account: hBG1, want: StatusPass,
			mutate: group(func(g *Group) { g.IsAssignableToRole, g.IsManagementRestricted = bptr(false), bptr(true) })},
		{name: "restriction unknown", account: hBG1, want: StatusWarn, contains: "unknown",
			mutate: group(func(g *Group) { g.IsAssignableToRole, g.IsManagementRestricted = bptr(false), nil })},
		{name: "dynamic membership", account: hBG1, want: StatusFail, contains: "dynamic membership",
			mutate: group(func(g *Group) {
				g.GroupTypes = []string{"DynamicMembership"}
				g.MembershipRule = sptr(`user.department -eq "IT"`)
			})},
		{name: "synced from on-premises", account: hBG1, want: StatusFail, contains: "on-premises",
			mutate: group(func(g *Group) { g.OnPremisesSyncEnabled = bptr(true) })},
		{name: "member outside the list", account: hBG2, want: StatusFail, contains: "alice@contoso.com",
			mutate: func(t *Tenant) { t.GroupMembers[hGroup] = append(t.GroupMembers[hGroup], hAdmin) }},
		{name: "too many members for the configured limit", account: hBG1, want: StatusFail, contains: "more than 1",
			mutate: func(t *Tenant) { t.Accounts[1].Resolved = false }},
		{name: "membership unknown, a collected group fails", account: hBG1, want: StatusFail,
			mutate: func(t *Tenant) { delete(t.MemberOf, hBG1); t.Groups[hGroup].IsAssignableToRole = bptr(false) }},
		{name: "members unknown", account: hBG1, want: StatusSkip, contains: "members not read",
			mutate: func(t *Tenant) {
				delete(t.GroupMembers, hGroup)
				drop(t, collect.ReasonPermission, collect.KeyedName(collect.DatasetGroupMembers, hGroup))
			}},
		{name: "group object unknown", account: hBG1, want: StatusSkip, contains: "group object not read",
			mutate: func(t *Tenant) { delete(t.Groups, hGroup) }},
		{name: "direct exclusions only", account: hBG1, want: StatusPass, contains: "through a group",
			mutate: func(t *Tenant) { t.MemberOf[hBG1] = nil; t.GroupMembers[hGroup] = []string{hBG2} }},
		{name: "membership unknown", account: hBG1, want: StatusSkip, contains: "memberships were not collected",
			mutate: func(t *Tenant) {
				delete(t.MemberOf, hBG1)
				t.GroupMembers[hGroup] = []string{hBG2}
				drop(t, collect.ReasonPermission, collect.KeyedName(DatasetMemberOf, hBG1))
			}},
		{name: "membership unknown but a collected group shows it", account: hBG1, want: StatusSkip, contains: "checks out",
			mutate: func(t *Tenant) { delete(t.MemberOf, hBG1) }},
		{name: "policies refused", account: hBG1, want: StatusSkip, contains: "could not be read",
			mutate: func(t *Tenant) {
				t.ConditionalAccessPolicies = nil
				drop(t, collect.ReasonPermission, collect.DatasetConditionalAccessPolicies)
			}},
		{name: "an unreadable policy", account: hBG1, want: StatusWarn, contains: "could not be read",
			mutate: func(t *Tenant) {
				t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, json.RawMessage(`{"id":"x","conditions":{"users":{"excludeGroups":"oops"}}}`))
			}},
		{name: "unresolved account is skipped (the accounts check errors)", account: "", want: StatusSkip,
			mutate: func(t *Tenant) {
				t.Accounts = append(t.Accounts, AccountInfo{Entry: "accounts[2] id x", Reason: "not found"})
			}},
	})
	// The configured limit applies when set.
	tn := handTenant()
	r := statusOf(t, runHandCheck(t, id, tn, Options{MaxExclusionGroupMembers: 1}), hBG1)
	if r.Status != StatusFail {
		t.Errorf("limit 1 with 2 members: %s, want fail: %s", r.Status, r.Message)
	}
}

const fxExclGroupMembers = "group_members." + fxExclGroup

var exclusionFixtureCases = []fixtureCase{
	{name: "exclusion-group-not-protected", check: "exclusion-group", account: fxBG1UPN, want: StatusFail, contains: "neither role-assignable", dir: true,
		mutate: []mutation{func(f *fixture) {
			f.edit(DatasetCAGroups, byID(fxExclGroup), func(m map[string]any) { m["isAssignableToRole"] = false })
		}}},
	{name: "exclusion-group extra member", check: "exclusion-group", account: fxBG2UPN, want: StatusFail, contains: "outside the break-glass list",
		mutate: []mutation{func(f *fixture) {
			f.setItems(fxExclGroupMembers, append(f.items(fxExclGroupMembers),
				map[string]any{"@odata.type": "#microsoft.graph.user", "id": fxAlice, "userPrincipalName": "alice@contoso.com", "displayName": "Alice Admin"}))
		}}},
	// Without ca_groups the group's role-assignability still comes from
	// member_of, but isManagementRestricted (beta) is unknown.
	{name: "exclusion-group groups refused", check: "exclusion-group", account: fxBG1UPN, want: StatusWarn, contains: "unknown",
		mutate: []mutation{func(f *fixture) {
			f.refuse(DatasetCAGroups, collect.ReasonPermission)
			for _, u := range []string{fxBG1, fxBG2} {
				f.edit(collect.KeyedName(DatasetMemberOf, u), byID(fxExclGroup), func(m map[string]any) { m["isAssignableToRole"] = false })
			}
		}}},
	{name: "exclusion-group members refused", check: "exclusion-group", account: fxBG2UPN, want: StatusSkip, contains: "members not read",
		mutate: []mutation{func(f *fixture) { f.refuse(fxExclGroupMembers, collect.ReasonPermission) }}},
}

func init() { allFixtureCases = append(allFixtureCases, exclusionFixtureCases...) }

func TestExclusionGroupFixtures(t *testing.T) { runFixtureCases(t, exclusionFixtureCases) }
