package posture

import (
	"encoding/json"
	"strings"
	"testing"

	"breakglass/internal/graph/collect"
)

func TestInactivityCleanup(t *testing.T) {
	const id = "inactivity-cleanup"
	inScope := func(t *Tenant) { t.WorkflowScope[hWFInactive] = append(t.WorkflowScope[hWFInactive], hBG1) }
	setWorkflow := func(old, new string) func(*Tenant) {
		return func(t *Tenant) {
			t.LifecycleWorkflows[1] = json.RawMessage(strings.Replace(string(t.LifecycleWorkflows[1]), old, new, 1))
		}
	}
	addReview := func(scope, settings string) func(*Tenant) {
		return func(t *Tenant) {
			t.AccessReviewDefinitions = append(t.AccessReviewDefinitions, json.RawMessage(`{"id":"a7000000-0000-4000-8000-000000000009",
				"displayName":"Inactive admins","status":"InProgress","scope":`+scope+`,"settings":`+settings+`}`))
		}
	}
	const autoDeny = `{"autoApplyDecisionsEnabled":true,"defaultDecisionEnabled":true,"defaultDecision":"Recommendation"}`
	const allUsersInactive = `{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":"/users","queryType":"MicrosoftGraph","inactiveDuration":"P30D"}`
	roleScope := `{"@odata.type":"#microsoft.graph.principalResourceMembershipsScope",
		"principalScopes":[{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":"/users","queryType":"MicrosoftGraph","inactiveDuration":"P30D"}],
		"resourceScopes":[{"query":"/roleManagement/directory/roleDefinitions/` + collect.RoleGlobalAdministrator + `","queryType":"MicrosoftGraph"}]}`
	groupScope := `{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":"/groups/` + hGroup + `/transitiveMembers","queryType":"MicrosoftGraph","inactiveDuration":"P60D"}`
	runHandCases(t, id, Options{}, []handCase{
		{name: "compliant", account: hBG1, want: StatusPass},
		{name: "compliant second account", account: hBG2, want: StatusPass},
		{name: "in an inactivity workflow's scope", account: hBG1, want: StatusFail, contains: "Disable inactive contractors", mutate: inScope},
		{name: "other account unaffected", account: hBG2, want: StatusPass, mutate: inScope},
		{name: "in scope of a disabled workflow warns", account: hBG1, want: StatusWarn, contains: "one switch away",
			mutate: func(t *Tenant) {
				inScope(t)
				setWorkflow(`"isEnabled":true,"isSchedulingEnabled":true`, `"isEnabled":false,"isSchedulingEnabled":false`)(t)
			}},
		{name: "workflow scope unread", account: hBG1, want: StatusWarn, contains: "could not be read",
			mutate: func(t *Tenant) {
				delete(t.WorkflowScope, hWFInactive)
				drop(t, collect.ReasonPermission, collect.KeyedName(DatasetWorkflowScope, hWFInactive))
			}},
		{name: "unknown trigger in scope warns", account: hBG1, want: StatusWarn, contains: "cannot read",
			mutate: func(t *Tenant) { inScope(t); setWorkflow("userInactivityTrigger", "someFutureTrigger")(t) }},
		{name: "all-users inactive review auto-denies", account: hBG1, want: StatusFail, contains: "auto-applies Recommendation",
			mutate: addReview(allUsersInactive, autoDeny)},
		{name: "GA role inactive review auto-denies", account: hBG2, want: StatusFail, contains: "Global Administrator",
			mutate: addReview(roleScope, autoDeny)},
		{name: "review of another role", account: hBG1, want: StatusPass,
			mutate: addReview(strings.Replace(roleScope, collect.RoleGlobalAdministrator, "fe930be7-5e62-47db-91af-98c3a49a38b1", 1), autoDeny)},
		{name: "group inactive review auto-denies", account: hBG1, want: StatusFail, contains: "member of group",
			mutate: addReview(groupScope, autoDeny)},
		{name: "group review, memberships unknown", account: hBG1, want: StatusWarn, contains: "may cover",
			mutate: func(t *Tenant) {
				delete(t.MemberOf, hBG1)
				t.GroupMembers[hGroup] = []string{hBG2}
				addReview(groupScope, autoDeny)(t)
			}},
		{name: "review without auto-apply warns", account: hBG1, want: StatusWarn, contains: "reviewers will be asked",
			mutate: addReview(allUsersInactive, `{"autoApplyDecisionsEnabled":false}`)},
		{name: "auto-apply without a deny default warns", account: hBG1, want: StatusWarn, contains: "reviewer's deny",
			mutate: addReview(allUsersInactive, `{"autoApplyDecisionsEnabled":true,"defaultDecisionEnabled":false}`)},
		{name: "completed review ignored", account: hBG1, want: StatusPass,
			mutate: func(t *Tenant) {
				addReview(allUsersInactive, autoDeny)(t)
				last := len(t.AccessReviewDefinitions) - 1
				t.AccessReviewDefinitions[last] = json.RawMessage(strings.Replace(string(t.AccessReviewDefinitions[last]), "InProgress", "Completed", 1))
			}},
		{name: "review of all Microsoft 365 groups, account in none", account: hBG1, want: StatusPass,
			mutate: func(t *Tenant) {
				t.Groups[hGroup].GroupTypes = []string{}
				t.Groups[hGroup].Present = map[string]bool{"groupTypes": true}
				addReview(`{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":"./members","inactiveDuration":"P30D"}`, autoDeny)(t)
				last := len(t.AccessReviewDefinitions) - 1
				t.AccessReviewDefinitions[last] = json.RawMessage(strings.Replace(string(t.AccessReviewDefinitions[last]), `"settings"`,
					`"instanceEnumerationScope":{"@odata.type":"#microsoft.graph.accessReviewQueryScope","query":"/groups?$filter=(groupTypes/any(c:c+eq+'Unified'))","queryType":"MicrosoftGraph"},"settings"`, 1))
			}},
		{name: "review of all Microsoft 365 groups, account in one", account: hBG1, want: StatusWarn, contains: "may cover",
			mutate: func(t *Tenant) {
				t.Groups[hGroup].GroupTypes = []string{"Unified"}
				addReview(`{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":"./members","inactiveDuration":"P30D"}`, autoDeny)(t)
				last := len(t.AccessReviewDefinitions) - 1
				t.AccessReviewDefinitions[last] = json.RawMessage(strings.Replace(string(t.AccessReviewDefinitions[last]), `"settings"`,
					`"instanceEnumerationScope":{"@odata.type":"#microsoft.graph.accessReviewQueryScope","query":"/groups?$filter=(groupTypes/any(c:c+eq+'Unified'))","queryType":"MicrosoftGraph"},"settings"`, 1))
			}},
		{name: "unevaluable scope warns", account: hBG1, want: StatusWarn, contains: "cannot be evaluated",
			mutate: addReview(`{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":"/users?$filter=department eq 'IT'"}`, autoDeny)},
		{name: "workflows unlicensed", account: hBG1, want: StatusSkip, contains: "needs a licence",
			mutate: func(t *Tenant) {
				t.LifecycleWorkflows = nil
				drop(t, collect.ReasonLicence, collect.DatasetLifecycleWorkflows)
			}},
		{name: "workflows unlicensed, review fails", account: hBG1, want: StatusFail, contains: "Not read",
			mutate: func(t *Tenant) {
				t.LifecycleWorkflows = nil
				drop(t, collect.ReasonLicence, collect.DatasetLifecycleWorkflows)
				addReview(allUsersInactive, autoDeny)(t)
			}},
		{name: "reviews refused", account: hBG1, want: StatusSkip, contains: "access reviews",
			mutate: func(t *Tenant) {
				t.AccessReviewDefinitions = nil
				drop(t, collect.ReasonPermission, collect.DatasetAccessReviewDefinitions)
			}},
		{name: "unreadable workflow warns", account: hBG1, want: StatusWarn, contains: "could not be read",
			mutate: func(t *Tenant) { t.LifecycleWorkflows = append(t.LifecycleWorkflows, json.RawMessage(`{"id":7}`)) }},
		{name: "unresolved account is skipped (the accounts check errors)", account: "", want: StatusSkip,
			mutate: func(t *Tenant) {
				t.Accounts = append(t.Accounts, AccountInfo{Entry: "accounts[2] id x", Reason: "not found"})
			}},
	})
}

var inactivityFixtureCases = []fixtureCase{
	{name: "inactivity-cleanup-in-workflow-scope", check: "inactivity-cleanup", account: fxBG1UPN, want: StatusFail, contains: "Sales: disable accounts inactive", dir: true,
		mutate: []mutation{func(f *fixture) {
			name := collect.KeyedName(DatasetWorkflowScope, fxWorkflow)
			f.setItems(name, append(f.items(name), map[string]any{"id": fxBG1, "userPrincipalName": fxBG1UPN, "displayName": "Break Glass 1", "accountEnabled": true}))
		}}},
	{name: "inactivity-cleanup access review of inactive users", check: "inactivity-cleanup", account: fxBG2UPN, want: StatusFail, contains: "auto-applies Deny",
		mutate: []mutation{func(f *fixture) {
			f.setItems(collect.DatasetAccessReviewDefinitions, append(f.items(collect.DatasetAccessReviewDefinitions), map[string]any{
				"id": "4e000000-0000-4000-8000-000000000009", "displayName": "Remove inactive users", "status": "InProgress",
				"scope": map[string]any{"@odata.type": "#microsoft.graph.accessReviewInactiveUsersQueryScope", "query": "/users",
					"queryType": "MicrosoftGraph", "inactiveDuration": "P90D"},
				"settings": map[string]any{"autoApplyDecisionsEnabled": true, "defaultDecisionEnabled": true, "defaultDecision": "Deny",
					"applyActions": []any{map[string]any{"@odata.type": "#microsoft.graph.disableAndDeleteUserApplyAction"}}},
			}))
		}}},
	{name: "inactivity-cleanup workflows unlicensed", check: "inactivity-cleanup", account: fxBG1UPN, want: StatusSkip, contains: "licence",
		mutate: []mutation{func(f *fixture) {
			f.refuse(collect.DatasetLifecycleWorkflows, collect.ReasonLicence)
			f.drop(DatasetWorkflowScope)
		}}},
}

func init() { allFixtureCases = append(allFixtureCases, inactivityFixtureCases...) }

func TestInactivityCleanupFixtures(t *testing.T) { runFixtureCases(t, inactivityFixtureCases) }
