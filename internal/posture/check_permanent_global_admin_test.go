package posture

import (
	"testing"

	"breakglass/internal/graph/collect"
)

// roleDatasets are the datasets that can hold a Global Administrator.
var roleDatasets = []string{collect.DatasetRoleAssignments, collect.DatasetRoleAssignmentSchedules, collect.DatasetRoleAssignmentInstances,
	collect.DatasetRoleEligibilitySchedules, collect.DatasetRoleEligibilityInstances}

// dropActiveGA removes a user's active Global Administrator assignment
// from every active role dataset.
func dropActiveGA(id string) mutation {
	return func(f *fixture) {
		for _, ds := range roleDatasets[:3] {
			f.remove(ds, byPrincipal(id, fxGA))
		}
	}
}

// addItem appends an item to a list dataset.
func addItem(ds string, item map[string]any) mutation {
	return func(f *fixture) { f.setItems(ds, append(f.items(ds), item)) }
}

func userPrincipal(id, upn string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.user", "id": id, "userPrincipalName": upn, "accountEnabled": true}
}

func eligibleGA(id, upn string) []mutation {
	return []mutation{
		addItem(collect.DatasetRoleEligibilitySchedules, map[string]any{"id": "elig-" + id, "principalId": id, "roleDefinitionId": fxGA,
			"directoryScopeId": "/", "memberType": "Direct", "status": "Provisioned",
			"scheduleInfo": map[string]any{"startDateTime": "2026-01-01T00:00:00Z", "expiration": map[string]any{"type": "noExpiration", "endDateTime": nil}},
			"principal":    userPrincipal(id, upn)}),
		addItem(collect.DatasetRoleEligibilityInstances, map[string]any{"id": "einst-" + id, "principalId": id, "roleDefinitionId": fxGA,
			"directoryScopeId": "/", "memberType": "Direct", "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": nil,
			"principal": userPrincipal(id, upn)}),
	}
}

// fxGAGroup is a role-assignable group that holds Global Administrator.
const fxGAGroup = "9a000000-0000-4000-8000-0000000000e9"

var permanentGACases = []fixtureCase{
	{name: "permanent-global-admin-eligible", dir: true, mutate: append([]mutation{dropActiveGA(fxBG1)}, eligibleGA(fxBG1, fxBG1UPN)...),
		check: "permanent-global-admin", account: fxBG1UPN, want: StatusFail, contains: "only eligible"},
	{name: "permanent-global-admin-time-bound", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG2, fxGA), func(m map[string]any) {
			m["scheduleInfo"].(map[string]any)["expiration"] = map[string]any{"type": "afterDateTime", "endDateTime": "2027-02-12T09:45:00Z", "duration": nil}
		})
		f.edit(collect.DatasetRoleAssignmentInstances, byPrincipal(fxBG2, fxGA), func(m map[string]any) { m["endDateTime"] = "2027-02-12T09:45:00Z" })
	}}, check: "permanent-global-admin", account: fxBG2UPN, want: StatusFail, contains: "ends 2027-02-12"},
	{name: "permanent-global-admin-activated", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG2, fxGA), func(m map[string]any) { m["assignmentType"] = "Activated" })
	}}, check: "permanent-global-admin", account: fxBG2UPN, want: StatusFail, contains: "activation"},
	{name: "permanent-global-admin-group-only", mutate: []mutation{dropActiveGA(fxBG1), func(f *fixture) {
		grp := map[string]any{"@odata.type": "#microsoft.graph.group", "id": fxGAGroup, "displayName": "Tier 0 admins", "isAssignableToRole": true}
		f.setItems(collect.DatasetRoleAssignments, append(f.items(collect.DatasetRoleAssignments), map[string]any{
			"id": "ra-group", "principalId": fxGAGroup, "roleDefinitionId": fxGA, "directoryScopeId": "/", "principal": grp}))
		f.setItems(collect.DatasetRoleAssignmentSchedules, append(f.items(collect.DatasetRoleAssignmentSchedules), map[string]any{
			"id": "sch-group", "principalId": fxGAGroup, "roleDefinitionId": fxGA, "directoryScopeId": "/", "assignmentType": "Assigned",
			"memberType": "Direct", "status": "Provisioned", "principal": grp,
			"scheduleInfo": map[string]any{"startDateTime": "2024-01-01T00:00:00Z", "expiration": map[string]any{"type": "noExpiration"}}}))
		f.setItems(collect.KeyedName(collect.DatasetGroupMembers, fxGAGroup), []any{map[string]any{"id": fxBG1, "userPrincipalName": fxBG1UPN}})
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusFail, contains: "only through group Tier 0 admins"},
	{name: "permanent-global-admin-none", mutate: []mutation{dropActiveGA(fxBG2)},
		check: "permanent-global-admin", account: fxBG2UPN, want: StatusFail, contains: "does not hold Global Administrator"},
	{name: "permanent-global-admin-no-pim", mutate: []mutation{func(f *fixture) {
		for _, ds := range roleDatasets[1:] {
			f.refuse(ds, collect.ReasonLicence)
		}
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusPass, contains: "no PIM"},
	{name: "permanent-global-admin-pim-refused", mutate: []mutation{func(f *fixture) {
		for _, ds := range roleDatasets[1:] {
			f.refuse(ds, collect.ReasonPermission)
		}
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusWarn, contains: "unknown"},
	{name: "permanent-global-admin-schedule-unreadable", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG1, fxGA), func(m map[string]any) { m["scheduleInfo"] = "forever" })
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusError},
	{name: "permanent-global-admin-no-expiration", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG1, fxGA), func(m map[string]any) { delete(m, "scheduleInfo") })
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusError, contains: "no expiration"},
	{name: "permanent-global-admin-refused", mutate: []mutation{func(f *fixture) {
		f.refuse(collect.DatasetRoleAssignments, collect.ReasonPermission)
		f.refuse(collect.DatasetRoleAssignmentSchedules, collect.ReasonPermission)
	}}, check: "permanent-global-admin", account: fxBG2UPN, want: StatusSkip, contains: "role_assignments unavailable"},
}

func init() { allFixtureCases = append(allFixtureCases, permanentGACases...) }

func TestPermanentGlobalAdminCheck(t *testing.T) { runFixtureCases(t, permanentGACases) }
