package posture

import (
	"fmt"
	"strings"
	"testing"

	"breakglass/internal/graph/collect"
)

// Adversarial cases: snapshots in Graph's shapes (mutations of the
// compliant tenant) that an earlier version judged pass although the
// account is not protected, or could not be judged.

// addMethod appends an authentication method to a user's methods.
func addMethod(uid string, m map[string]any) mutation {
	return func(f *fixture) {
		ds := collect.KeyedName(collect.DatasetAuthMethods, uid)
		f.setItems(ds, append(f.items(ds), m))
	}
}

// editPolicy edits the Conditional Access policy whose displayName starts
// with prefix (e.g. "CA001").
func editPolicy(prefix string, fn func(map[string]any)) mutation {
	return func(f *fixture) {
		f.edit(collect.DatasetConditionalAccessPolicies, func(m map[string]any) bool {
			s, _ := m["displayName"].(string)
			return len(s) >= len(prefix) && s[:len(prefix)] == prefix
		}, fn)
	}
}

var adversarialCases = []fixtureCase{
	// A PIM assignment scheduled to start next year is listed by
	// roleAssignmentSchedules as Assigned/noExpiration today.
	{name: "adv-ga-schedule-starts-in-future", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG1, fxGA), func(m map[string]any) {
			m["scheduleInfo"].(map[string]any)["startDateTime"] = "2027-06-01T00:00:00Z"
		})
		f.remove(collect.DatasetRoleAssignments, byPrincipal(fxBG1, fxGA))
		f.remove(collect.DatasetRoleAssignmentInstances, byPrincipal(fxBG1, fxGA))
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusFail, contains: "has not started"},
	{name: "adv-ga-schedule-starts-in-future-ra-stale", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG1, fxGA), func(m map[string]any) {
			m["scheduleInfo"].(map[string]any)["startDateTime"] = "2027-06-01T00:00:00Z"
		})
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusFail, contains: "has not started"},
	// A permanent schedule that roleAssignments (every active
	// assignment) does not show is not known to be in force.
	{name: "adv-ga-schedule-not-in-role-assignments", mutate: []mutation{func(f *fixture) {
		f.remove(collect.DatasetRoleAssignments, byPrincipal(fxBG1, fxGA))
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusWarn, contains: "may not be in force"},
	// A sign-in dated after the snapshot proves no drill.
	{name: "adv-last-sign-in-in-the-future", mutate: []mutation{signIn(fxBG1, map[string]any{
		"lastSignInDateTime": "2027-10-15T09:12:00Z", "lastSuccessfulSignInDateTime": "2027-10-15T09:12:00Z"})},
		check: "last-sign-in", account: fxBG1UPN, want: StatusError, contains: "later than the snapshot"},
	{name: "adv-last-sign-in-offset-and-precision", mutate: []mutation{signIn(fxBG1, map[string]any{
		"lastSuccessfulSignInDateTime": "2026-11-30T07:59:59.1234567+02:00"})},
		check: "last-sign-in", account: fxBG1UPN, want: StatusPass},
	{name: "adv-last-sign-in-offset-after-snapshot", mutate: []mutation{signIn(fxBG1, map[string]any{
		"lastSuccessfulSignInDateTime": "2026-11-30T06:30:00-02:00"})},
		check: "last-sign-in", account: fxBG1UPN, want: StatusError, contains: "later than the snapshot"},
	// @odata.type variants of a phone method must still fail.
	{name: "adv-personal-phone-type-without-hash", mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "microsoft.graph.phoneAuthenticationMethod", "id": "p1", "phoneNumber": "+1 555 0100", "phoneType": "mobile"})},
		check: "no-personal-methods", account: fxBG1UPN, want: StatusFail, contains: "phone (SMS/voice)"},
	{name: "adv-personal-phone-type-other-case", mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "#Microsoft.Graph.PhoneAuthenticationMethod", "id": "p1", "phoneNumber": "+1 555 0100", "phoneType": "mobile"})},
		check: "no-personal-methods", account: fxBG1UPN, want: StatusFail, contains: "phone (SMS/voice)"},
	{name: "adv-personal-phone-type-bare", mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "phoneAuthenticationMethod", "id": "p1", "phoneNumber": "+1 555 0100", "phoneType": "mobile"})},
		check: "no-personal-methods", account: fxBG1UPN, want: StatusFail, contains: "phone (SMS/voice)"},
	// A method type this version does not know is never read as none.
	{name: "adv-personal-unknown-method-type", mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.futureVoiceAuthenticationMethod", "id": "x1"})},
		check: "no-personal-methods", account: fxBG1UPN, want: StatusWarn, contains: "unknown type futureVoiceAuthenticationMethod"},
	{name: "adv-personal-hardware-oath", mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.hardwareOathAuthenticationMethod", "id": "h1"})},
		check: "no-personal-methods", account: fxBG1UPN, want: StatusWarn, contains: "hardware OATH token"},
	{name: "adv-personal-tap-isusable-null-window-open", mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
		"id": "t1", "isUsable": nil, "startDateTime": "2026-11-30T06:30:00Z", "lifetimeInMinutes": 480})},
		check: "no-personal-methods", account: fxBG1UPN, want: StatusFail, contains: "usable Temporary Access Pass"},
	// A break-glass user missing from breakglass_users but present as a
	// group member (accountEnabled true there) is not a resolved account.
	{name: "adv-account-only-in-group-members", mutate: []mutation{func(f *fixture) { f.remove(collect.DatasetBreakGlassUsers, byID(fxBG1)) }},
		check: "accounts", account: fxBG1UPN, want: StatusError, contains: "breakglass_users does not hold it"},
	// A second auth_methods member for bg1, its id in upper case and
	// holding a phone: the two must not silently overwrite each other.
	{name: "adv-keyed-dataset-twice-in-other-case", mutate: []mutation{func(f *fixture) {
		f.setItems(collect.KeyedName(collect.DatasetAuthMethods, strings.ToUpper(fxBG1)), []any{map[string]any{
			"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "p1", "phoneNumber": "+1 555 0100", "phoneType": "mobile"}})
	}}, check: "no-personal-methods", account: fxBG1UPN, want: StatusSkip, contains: "authentication methods"},
	// A policy whose conditions (or conditions.users) are null was read
	// as targeting no user, and skipped: its targets are unknown.
	{name: "adv-ca-policy-conditions-null", mutate: []mutation{editPolicy("CA001", func(m map[string]any) { m["conditions"] = nil })},
		check: "conditional-access", account: fxBG1UPN, want: StatusSkip, contains: "no conditions.users"},
	{name: "adv-ca-policy-users-null", mutate: []mutation{editPolicy("CA001", func(m map[string]any) { m["conditions"].(map[string]any)["users"] = nil })},
		check: "conditional-access", account: fxBG1UPN, want: StatusSkip, contains: "no conditions.users"},
	{name: "adv-ca-exclusion-by-id-in-upper-case", mutate: []mutation{editPolicy("CA002", func(m map[string]any) {
		m["conditions"].(map[string]any)["users"].(map[string]any)["excludeUsers"] = []any{strings.ToUpper(fxBG1), strings.ToUpper(fxBG2)}
	})}, check: "conditional-access", account: fxBG1UPN, want: StatusPass},
	{name: "adv-ca-exclusion-by-role-held-directly", mutate: []mutation{editPolicy("CA002", func(m map[string]any) {
		u := m["conditions"].(map[string]any)["users"].(map[string]any)
		u["excludeUsers"], u["excludeRoles"] = []any{}, []any{strings.ToUpper(fxGA)}
	})}, check: "conditional-access", account: fxBG1UPN, want: StatusPass},
	// Permanent Global Administrator schedules that start next year are
	// no safeguard: with the approver gone the tenant is locked out.
	{name: "adv-pim-lockout-safeguard-not-started", check: "pim-lockout", want: StatusFail, contains: "Lockout", mutate: []mutation{approverGone,
		func(f *fixture) {
			f.edit(collect.DatasetRoleAssignmentSchedules, func(m map[string]any) bool { return m["roleDefinitionId"] == fxGA }, func(m map[string]any) {
				m["scheduleInfo"].(map[string]any)["startDateTime"] = "2027-06-01T00:00:00Z"
			})
		}}},
	// An access review of inactive users whose scope type is written
	// without "#" (or in another case) was not recognised, and passed.
	{name: "adv-inactivity-review-scope-type-variant", check: "inactivity-cleanup", account: fxBG2UPN, want: StatusFail, contains: "auto-applies Deny",
		mutate: []mutation{addItem(collect.DatasetAccessReviewDefinitions, map[string]any{
			"id": "4e000000-0000-4000-8000-000000000009", "displayName": "Remove inactive users", "status": "InProgress",
			"scope": map[string]any{"@odata.type": "microsoft.graph.AccessReviewInactiveUsersQueryScope", "query": "/users",
				"queryType": "MicrosoftGraph", "inactiveDuration": "P90D"},
			"settings": map[string]any{"autoApplyDecisionsEnabled": true, "defaultDecisionEnabled": true, "defaultDecision": "Deny"},
		})}},
	{name: "adv-inactivity-workflow-trigger-type-variant", check: "inactivity-cleanup", account: fxBG1UPN, want: StatusFail, contains: "an inactivity trigger and runs on schedule",
		mutate: []mutation{func(f *fixture) {
			name := collect.KeyedName(DatasetWorkflowScope, fxWorkflow)
			f.setItems(name, append(f.items(name), map[string]any{"id": strings.ToUpper(fxBG1), "userPrincipalName": fxBG1UPN, "accountEnabled": true}))
			f.edit(collect.DatasetLifecycleWorkflows, byID(fxWorkflow), func(m map[string]any) {
				m["executionConditions"].(map[string]any)["trigger"].(map[string]any)["@odata.type"] = "microsoft.graph.identityGovernance.userInactivityTrigger"
			})
		}}},
	// The Global Administrator call of a role dataset failed while the
	// Privileged Role Administrator one succeeded: collect writes the
	// dataset with a partial failure. Read as complete, five eligible
	// Global Administrators vanish and a count of 9 passes as 4.
	{name: "adv-ga-count-role-dataset-partial", check: "global-admin-count", want: StatusWarn, contains: "incomplete",
		mutate: append(fiveEligibleGAs(), func(f *fixture) {
			for _, ds := range []string{collect.DatasetRoleEligibilitySchedules, collect.DatasetRoleEligibilityInstances} {
				f.remove(ds, func(m map[string]any) bool { return m["roleDefinitionId"] == fxGA })
				f.m.Failed = append(f.m.Failed, collect.Failure{Name: ds, Endpoint: "/roleManagement/directory/x?$filter=roleDefinitionId eq '{roleDefinitionId}'",
					Status: 503, Code: "ServiceUnavailable", Reason: collect.ReasonError, Partial: true})
			}
		})},
	{name: "adv-ga-count-nine", check: "global-admin-count", want: StatusFail, contains: "above the CISA maximum", mutate: fiveEligibleGAs()},
	// bg1 has a phone method, as only bob (an eligible-only Global
	// Administrator) does. With the eligibility datasets refused, bob is
	// unknown and the methods were called distinct.
	{name: "adv-distinct-eligibility-refused", check: "distinct-methods", account: fxBG1UPN, want: StatusWarn, contains: "eligible",
		mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7",
			"phoneNumber": "+1 555 0100", "phoneType": "mobile"}), func(f *fixture) {
			f.refuse(collect.DatasetRoleEligibilitySchedules, collect.ReasonPermission)
			f.refuse(collect.DatasetRoleEligibilityInstances, collect.ReasonPermission)
		}}},
	{name: "adv-distinct-shared-with-eligible-admin", check: "distinct-methods", account: fxBG1UPN, want: StatusFail, contains: "bob",
		mutate: []mutation{addMethod(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7",
			"phoneNumber": "+1 555 0100", "phoneType": "mobile"})}},
	// memberType Inherited is not a direct assignment to the account.
	{name: "adv-ga-schedule-member-type-inherited", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentSchedules, byPrincipal(fxBG1, fxGA), func(m map[string]any) { m["memberType"] = "Inherited" })
		f.remove(collect.DatasetRoleAssignments, byPrincipal(fxBG1, fxGA))
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusFail, contains: "assigned directly"},
	// Schedules and instances disagree: the schedule says noExpiration,
	// the instance in force ends next month.
	{name: "adv-ga-instance-ends-schedule-permanent", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetRoleAssignmentInstances, byPrincipal(fxBG1, fxGA), func(m map[string]any) { m["endDateTime"] = "2026-12-31T00:00:00Z" })
	}}, check: "permanent-global-admin", account: fxBG1UPN, want: StatusWarn, contains: "ends 2026-12-31"},
}

// fiveEligibleGAs makes five more users eligible Global Administrators.
func fiveEligibleGAs() []mutation {
	var out []mutation
	for i := range 5 {
		id := fmt.Sprintf("e1e00000-0000-4000-8000-00000000000%d", i)
		out = append(out, eligibleGA(id, fmt.Sprintf("elig%d@contoso.com", i))...)
	}
	return out
}

func init() { allFixtureCases = append(allFixtureCases, adversarialCases...) }

func TestAdversarialFixtures(t *testing.T) { runFixtureCases(t, adversarialCases) }
