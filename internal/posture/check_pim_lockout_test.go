package posture

import (
	"encoding/json"
	"strings"
	"testing"

	"breakglass/internal/graph/collect"
)

func TestPIMLockout(t *testing.T) {
	const id = "pim-lockout"
	gaPolicy := func(old, new string) func(*Tenant) {
		return func(t *Tenant) {
			s := string(t.RoleManagementPolicies[0])
			if !strings.Contains(s, old) {
				panic("mutation does not apply: " + old)
			}
			t.RoleManagementPolicies[0] = json.RawMessage(strings.Replace(s, old, new, 1))
		}
	}
	approverSingle := `{"@odata.type":"#microsoft.graph.singleUser","userId":"` + hApprover + `"}`
	noSafeguard := func(t *Tenant) {
		// The break-glass accounts lose their permanent assignments: only
		// eligible ones remain.
		t.AssignmentSchedules = nil
		t.RoleAssignments = nil
		for _, bg := range []string{hBG1, hBG2} {
			t.EligibilitySchedules = append(t.EligibilitySchedules, RoleSchedule{RoleDefinitionID: collect.RoleGlobalAdministrator,
				PrincipalID: bg, PrincipalType: "user", DirectoryScopeID: "/", MemberType: "Direct"})
		}
	}
	approverDeleted := func(t *Tenant) {
		delete(t.Users, hApprover)
		t.ApproversNotFound = []string{hApprover}
	}
	runHandCases(t, id, Options{}, []handCase{
		{name: "compliant", want: StatusPass, contains: "bg1@contoso.onmicrosoft.com"},
		{name: "approver deleted, safeguard present", want: StatusWarn, contains: "deleted", mutate: approverDeleted},
		{name: "approver deleted, no safeguard: lockout", want: StatusFail, contains: "Lockout",
			mutate: func(t *Tenant) { approverDeleted(t); noSafeguard(t) }},
		{name: "approver disabled, no safeguard", want: StatusFail, contains: "disabled",
			mutate: func(t *Tenant) { t.Users[hApprover].AccountEnabled = bptr(false); noSafeguard(t) }},
		{name: "approver not collected", want: StatusSkip, contains: "not collected",
			mutate: func(t *Tenant) { delete(t.Users, hApprover) }},
		{name: "approver group empty, no safeguard", want: StatusFail, contains: "no enabled member",
			mutate: func(t *Tenant) {
				gaPolicy(approverSingle, `{"@odata.type":"#microsoft.graph.groupMembers","groupId":"9c000000-0000-4000-8000-000000000001"}`)(t)
				t.GroupMembers["9c000000-0000-4000-8000-000000000001"] = []string{}
				noSafeguard(t)
			}},
		{name: "approver group with an enabled member", want: StatusPass,
			mutate: func(t *Tenant) {
				gaPolicy(approverSingle, `{"@odata.type":"#microsoft.graph.groupMembers","groupId":"9c000000-0000-4000-8000-000000000001"}`)(t)
				t.GroupMembers["9c000000-0000-4000-8000-000000000001"] = []string{hApprover}
			}},
		{name: "approver group members unread", want: StatusSkip, contains: "members not read",
			mutate: func(t *Tenant) {
				gaPolicy(approverSingle, `{"@odata.type":"#microsoft.graph.groupMembers","groupId":"9c000000-0000-4000-8000-000000000001"}`)(t)
			}},
		{name: "sole eligible admin approves own request", want: StatusWarn, contains: "their own request",
			mutate: gaPolicy(hApprover, hAdmin)},
		{name: "only break-glass approvers", want: StatusWarn, contains: "only approvers left are break-glass accounts",
			mutate: gaPolicy(hApprover, hBG1)},
		{name: "no approvers chosen, only break-glass accounts active", want: StatusWarn, contains: "break-glass accounts",
			mutate: gaPolicy(approverSingle, "")},
		{name: "no approvers chosen: active admins approve", want: StatusPass,
			mutate: func(t *Tenant) {
				gaPolicy(approverSingle, "")(t)
				t.RoleAssignments = append(t.RoleAssignments, RoleAssignment{RoleDefinitionID: collect.RolePrivilegedRoleAdministrator,
					PrincipalID: hApprover, PrincipalType: "user", DirectoryScopeID: "/"})
			}},
		{name: "no approvers chosen and no active admin: lockout", want: StatusFail, contains: "no approver is chosen",
			mutate: func(t *Tenant) { gaPolicy(approverSingle, "")(t); noSafeguard(t) }},
		{name: "MFA required, no eligible admin has a method", want: StatusWarn, contains: "MFA",
			mutate: func(t *Tenant) { t.AuthMethods[hAdmin] = []AuthMethod{{Type: "passwordAuthenticationMethod"}} }},
		{name: "auth context blocked for everyone", want: StatusWarn, contains: "authentication context c1",
			mutate: func(t *Tenant) {
				gaPolicy(`"isEnabled":false,"claimValue":""`, `"isEnabled":true,"claimValue":"c1"`)(t)
				t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, json.RawMessage(`{"id":"x","displayName":"Block c1","state":"enabled",
					"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeAuthenticationContextClassReferences":["c1"]}},
					"grantControls":{"operator":"OR","builtInControls":["block"]}}`))
			}},
		{name: "auth context blocked for all but the eligible admin", want: StatusPass,
			mutate: func(t *Tenant) {
				gaPolicy(`"isEnabled":false,"claimValue":""`, `"isEnabled":true,"claimValue":"c1"`)(t)
				t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, json.RawMessage(`{"id":"x","displayName":"Block c1","state":"enabled",
					"conditions":{"users":{"includeUsers":["All"],"excludeUsers":["`+hAdmin+`"]},"applications":{"includeAuthenticationContextClassReferences":["c1"]}},
					"grantControls":{"operator":"OR","builtInControls":["block"]}}`))
			}},
		{name: "auth context block, eligible admin's groups unknown", want: StatusSkip, contains: "unknown",
			mutate: func(t *Tenant) {
				gaPolicy(`"isEnabled":false,"claimValue":""`, `"isEnabled":true,"claimValue":"c1"`)(t)
				delete(t.MemberOf, hAdmin)
				t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, json.RawMessage(`{"id":"x","displayName":"Block c1","state":"enabled",
					"conditions":{"users":{"includeUsers":["All"],"excludeGroups":["9b000000-0000-4000-8000-000000000042"]},"applications":{"includeAuthenticationContextClassReferences":["c1"]}},
					"grantControls":{"operator":"OR","builtInControls":["block"]}}`))
			}},
		{name: "auth context with an MFA policy", want: StatusPass,
			mutate: func(t *Tenant) {
				gaPolicy(`"isEnabled":false,"claimValue":""`, `"isEnabled":true,"claimValue":"c1"`)(t)
				t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, json.RawMessage(`{"id":"x","displayName":"MFA for c1","state":"enabled",
					"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeAuthenticationContextClassReferences":["c1"]}},
					"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`))
			}},
		{name: "activation works, no safeguard", want: StatusWarn, contains: "no permanent active Global Administrator", mutate: noSafeguard},
		{name: "time-bound break-glass assignment is no safeguard", want: StatusWarn, contains: "no permanent active",
			mutate: func(t *Tenant) {
				for i := range t.AssignmentSchedules {
					t.AssignmentSchedules[i].ExpirationType = "afterDateTime"
				}
			}},
		{name: "disabled break-glass accounts are no safeguard", want: StatusWarn, contains: "no permanent active",
			mutate: func(t *Tenant) {
				t.Users[hBG1].AccountEnabled = bptr(false)
				t.Users[hBG2].AccountEnabled = bptr(false)
			}},
		{name: "no PIM licence: every assignment is permanent", want: StatusPass,
			mutate: func(t *Tenant) {
				t.AssignmentSchedules = nil
				drop(t, collect.ReasonLicence, collect.DatasetRoleAssignmentSchedules)
			}},
		{name: "schedules refused: safeguard unknown", want: StatusSkip, contains: "unknown",
			mutate: func(t *Tenant) {
				t.AssignmentSchedules = nil
				drop(t, collect.ReasonPermission, collect.DatasetRoleAssignmentSchedules)
			}},
		{name: "no policy for an eligible role", want: StatusSkip, contains: "no PIM policy",
			mutate: func(t *Tenant) { t.RoleManagementPolicies = t.RoleManagementPolicies[1:] }},
		{name: "unreadable rule", want: StatusSkip, contains: "rules[0]",
			mutate: gaPolicy(`"id":"Approval_EndUser_Assignment"`, `"id":7`)},
		{name: "unreadable policy assignment", want: StatusSkip, contains: "role_management_policies[0] could not be read",
			mutate: gaPolicy(`"scopeId":"/"`, `"scopeId":7`)},
		{name: "unreadable assignment of another role is not the role's", want: StatusPass,
			mutate: func(t *Tenant) {
				t.RoleManagementPolicies = append(t.RoleManagementPolicies, json.RawMessage(`{"roleDefinitionId":"fe930be7-5e62-47db-91af-98c3a49a38b1","scopeId":7}`))
			}},
		{name: "policies refused", want: StatusSkip, contains: "could not be read",
			mutate: func(t *Tenant) {
				t.RoleManagementPolicies = nil
				drop(t, collect.ReasonPermission, collect.DatasetRoleManagementPolicies)
			}},
	})
}

const fxGoneApprover = "dead0000-0000-4000-8000-000000000009"

// approverGone points the Global Administrator approval rule at an
// approver Graph answered 404 for.
func approverGone(f *fixture) {
	f.edit(collect.DatasetRoleManagementPolicies, func(m map[string]any) bool { return m["roleDefinitionId"] == fxGA }, func(m map[string]any) {
		rules := m["policy"].(map[string]any)["rules"].([]any)
		for _, r := range rules {
			rule := r.(map[string]any)
			if rule["id"] != "Approval_EndUser_Assignment" {
				continue
			}
			for _, st := range rule["setting"].(map[string]any)["approvalStages"].([]any) {
				st.(map[string]any)["primaryApprovers"] = []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": fxGoneApprover,
					"isBackup": false, "description": "Former admin"}}
			}
		}
	})
	f.setItems(DatasetRoleApprovers, []any{map[string]any{"id": fxGoneApprover, NotFoundMarker: true}})
}

// noPermanentGA makes every Global Administrator assignment time-bound.
func noPermanentGA(f *fixture) {
	f.edit(collect.DatasetRoleAssignmentSchedules, func(m map[string]any) bool { return m["roleDefinitionId"] == fxGA }, func(m map[string]any) {
		m["scheduleInfo"].(map[string]any)["expiration"] = map[string]any{"type": "afterDateTime", "endDateTime": "2027-01-31T00:00:00Z", "duration": nil}
	})
}

var pimFixtureCases = []fixtureCase{
	{name: "pim-lockout-approver-deleted", check: "pim-lockout", want: StatusWarn, contains: "deleted", dir: true, mutate: []mutation{approverGone}},
	{name: "pim-lockout approver deleted and no permanent GA", check: "pim-lockout", want: StatusFail, contains: "Lockout",
		mutate: []mutation{approverGone, noPermanentGA}},
	{name: "pim-lockout no permanent GA", check: "pim-lockout", want: StatusWarn, contains: "no permanent active", mutate: []mutation{noPermanentGA}},
	{name: "pim-lockout policies refused", check: "pim-lockout", want: StatusSkip, contains: "refused",
		mutate: []mutation{func(f *fixture) {
			f.refuse(collect.DatasetRoleManagementPolicies, collect.ReasonPermission)
			f.drop(DatasetRoleApprovers)
		}}},
}

func init() { allFixtureCases = append(allFixtureCases, pimFixtureCases...) }

func TestPIMLockoutFixtures(t *testing.T) { runFixtureCases(t, pimFixtureCases) }

// TestChecksWithoutSnapshot: a Tenant built without a snapshot (every
// dataset unknown) gives skips and errors, never a pass or a panic.
func TestChecksWithoutSnapshot(t *testing.T) {
	for _, tn := range []*Tenant{
		{Accounts: []AccountInfo{{Entry: "accounts[0] id x", ID: hBG1, Resolved: true}}},
		{},
	} {
		for _, id := range myChecks {
			c, _ := Lookup(id)
			for _, r := range c.Run(&Env{Tenant: tn}) {
				if r.Status == StatusPass {
					t.Errorf("%s passes on a tenant with no data: %s", id, r.Message)
				}
			}
		}
	}
}

// TestMyChecksDeterministic: the same snapshot gives byte-identical
// results every run (map iteration must not leak into messages or
// evidence order), so a live audit and an audit of its snapshot agree.
func TestMyChecksDeterministic(t *testing.T) {
	tn := loadFixture(t, "compliant", editPolicyUsers("5ca00000-0000-4000-8000-000000000001", func(u map[string]any) { u["excludeGroups"] = []any{} }),
		addMethodItem(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": "m1"}))
	var first []byte
	for i := 0; i < 10; i++ {
		var all []Result
		for _, mode := range CAModes {
			for _, id := range myChecks {
				c, _ := Lookup(id)
				all = append(all, c.Run(&Env{Tenant: tn, Options: Options{Now: fixtureNow, ConditionalAccessMode: mode}})...)
			}
		}
		b, err := json.Marshal(all)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b
		} else if string(b) != string(first) {
			t.Fatalf("run %d differs from run 0", i)
		}
	}
}
