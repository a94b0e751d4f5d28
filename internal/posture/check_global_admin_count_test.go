package posture

import (
	"fmt"
	"testing"

	"breakglass/internal/graph/collect"
)

// extraEligibleGAs adds n users eligible for Global Administrator.
func extraEligibleGAs(n int) []mutation {
	var out []mutation
	for i := range n {
		id := fmt.Sprintf("ee000000-0000-4000-8000-%012d", i+1)
		out = append(out, eligibleGA(id, fmt.Sprintf("admin%d@contoso.com", i+1))...)
	}
	return out
}

var globalAdminCountCases = []fixtureCase{
	{name: "global-admin-count-above-cisa", mutate: extraEligibleGAs(5),
		check: "global-admin-count", want: StatusFail, contains: "9 Global Administrators: above the CISA maximum of 8"},
	{name: "global-admin-count-above-cis", mutate: extraEligibleGAs(2),
		check: "global-admin-count", want: StatusWarn, contains: "6 Global Administrators: within CISA's 2 to 8, above CIS's maximum of 4"},
	{name: "global-admin-count-one", mutate: []mutation{dropActiveGA(fxBG2), dropActiveGA(fxAlice), func(f *fixture) {
		f.remove(collect.DatasetRoleEligibilitySchedules, byPrincipal(fxBob, fxGA))
		f.remove(collect.DatasetRoleEligibilityInstances, byPrincipal(fxBob, fxGA))
	}}, check: "global-admin-count", want: StatusFail, contains: "1 Global Administrator(s)"},
	{name: "global-admin-count-group-counted-once", mutate: []mutation{func(f *fixture) {
		grp := map[string]any{"@odata.type": "#microsoft.graph.group", "id": fxGAGroup, "displayName": "Tier 0 admins"}
		f.setItems(collect.DatasetRoleAssignments, append(f.items(collect.DatasetRoleAssignments), map[string]any{
			"id": "ra-group", "principalId": fxGAGroup, "roleDefinitionId": fxGA, "directoryScopeId": "/", "principal": grp}))
		f.setItems(collect.KeyedName(collect.DatasetGroupMembers, fxGAGroup), []any{
			map[string]any{"id": fxBG1}, map[string]any{"id": fxCarol}, map[string]any{"id": fxDave}})
	}}, check: "global-admin-count", want: StatusWarn, contains: "6 Global Administrators"},
	{name: "global-admin-count-group-members-unknown", mutate: []mutation{func(f *fixture) {
		grp := map[string]any{"@odata.type": "#microsoft.graph.group", "id": fxGAGroup, "displayName": "Tier 0 admins"}
		f.setItems(collect.DatasetRoleAssignments, append(f.items(collect.DatasetRoleAssignments), map[string]any{
			"id": "ra-group", "principalId": fxGAGroup, "roleDefinitionId": fxGA, "directoryScopeId": "/", "principal": grp}))
	}}, check: "global-admin-count", want: StatusWarn, contains: "incomplete"},
	{name: "global-admin-count-eligible-refused", mutate: []mutation{func(f *fixture) {
		f.refuse(collect.DatasetRoleEligibilitySchedules, collect.ReasonPermission)
		f.refuse(collect.DatasetRoleEligibilityInstances, collect.ReasonPermission)
	}}, check: "global-admin-count", want: StatusWarn, contains: "eligible assignments are unknown"},
	{name: "global-admin-count-no-pim", mutate: []mutation{func(f *fixture) {
		for _, ds := range roleDatasets[1:] {
			f.refuse(ds, collect.ReasonLicence)
		}
	}}, check: "global-admin-count", want: StatusPass, contains: "3 Global Administrators"},
	{name: "global-admin-count-unreadable-item", mutate: []mutation{addItem(collect.DatasetRoleAssignments, map[string]any{"id": "ra-odd", "roleDefinitionId": fxGA})},
		check: "global-admin-count", want: StatusWarn, contains: "1 item(s) of role_assignments could not be read"},
	{name: "global-admin-count-refused", mutate: []mutation{func(f *fixture) {
		f.refuse(collect.DatasetRoleAssignments, collect.ReasonPermission)
		f.refuse(collect.DatasetRoleAssignmentSchedules, collect.ReasonPermission)
	}}, check: "global-admin-count", want: StatusSkip, contains: "role_assignments unavailable"},
}

func init() { allFixtureCases = append(allFixtureCases, globalAdminCountCases...) }

func TestGlobalAdminCountCheck(t *testing.T) { runFixtureCases(t, globalAdminCountCases) }
