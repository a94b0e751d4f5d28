package posture

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/graph/collect"
)

// Hand-built tenants for the method, CA and governance checks: a compliant
// one (handTenant) that tests mutate, so each case shows only what it
// breaks. The fixture snapshots of fixture_test.go cover the same checks
// through FromSnapshot.

const (
	hBG1        = "0b1e0000-0000-4000-8000-000000000001"
	hBG2        = "0b1e0000-0000-4000-8000-000000000002"
	hAdmin      = "ad000000-0000-4000-8000-000000000001"
	hAdmin2     = "ad000000-0000-4000-8000-000000000002"
	hKeyBG      = "cb69481e-8ff7-4039-93ec-0a2729a154a8" // YubiKey 5 (USB-A)
	hKeyBG2     = "ee882879-721c-4913-9775-3dfcce97072a" // YubiKey 5 NFC
	hKeyAdm     = "2fc0579f-8113-47ea-b116-555a8db9202a" // YubiKey 5 NFC FIPS
	hNow        = "2026-12-01T12:00:00Z"
	hGroup      = "9b000000-0000-4000-8000-000000000001" // role-assignable CA exclusion group
	hPolMFA     = "ca000000-0000-4000-8000-000000000001"
	hPolLeg     = "ca000000-0000-4000-8000-000000000002"
	hPolWID     = "ca000000-0000-4000-8000-000000000003"
	hWFLeaver   = "1f000000-0000-4000-8000-000000000001"
	hWFInactive = "1f000000-0000-4000-8000-000000000002"
	hReview     = "a7000000-0000-4000-8000-000000000001"
	hApprover   = "ad000000-0000-4000-8000-0000000000a1"
)

var hTime, _ = time.Parse(time.RFC3339, hNow)

func bptr(b bool) *bool           { return &b }
func sptr(s string) *string       { return &s }
func tptr(t time.Time) *time.Time { return &t }

// handSnapshot is a snapshot holding the named datasets (content unused:
// the Tenant fields carry the data) and the failures.
func handSnapshot(present []string, failed ...collect.Failure) *collect.Snapshot {
	s := &collect.Snapshot{Datasets: map[string]json.RawMessage{}}
	for _, n := range present {
		s.Datasets[n] = json.RawMessage(`{"value":[]}`)
	}
	s.Manifest.Failed = failed
	return s
}

// handTenant is a compliant tenant: two break-glass accounts with their own
// FIDO2 key models, one other Global Administrator using Authenticator and
// a third key model.
func handTenant() *Tenant {
	t := &Tenant{
		Info:      TenantInfo{ID: "tenant", InitialDomain: "contoso.onmicrosoft.com"},
		Collected: hTime,
		Accounts: []AccountInfo{
			{Entry: "accounts[0] upn bg1@contoso.onmicrosoft.com", ID: hBG1, UPN: "bg1@contoso.onmicrosoft.com", Resolved: true},
			{Entry: "accounts[1] upn bg2@contoso.onmicrosoft.com", ID: hBG2, UPN: "bg2@contoso.onmicrosoft.com", Resolved: true},
		},
		Users: map[string]*User{
			hBG1:      {ID: hBG1, UPN: "bg1@contoso.onmicrosoft.com", UserType: "Member", AccountEnabled: bptr(true)},
			hBG2:      {ID: hBG2, UPN: "bg2@contoso.onmicrosoft.com", UserType: "Member", AccountEnabled: bptr(true)},
			hAdmin:    {ID: hAdmin, UPN: "alice@contoso.com", UserType: "Member", AccountEnabled: bptr(true)},
			hApprover: {ID: hApprover, UPN: "carol@contoso.com", UserType: "Member", AccountEnabled: bptr(true), Source: "role_approvers"},
		},
		Groups: map[string]*Group{hGroup: {ID: hGroup, DisplayName: "CA exclusion: break-glass", IsAssignableToRole: bptr(true),
			IsManagementRestricted: bptr(false), SecurityEnabled: bptr(true), Source: "ca_groups"}},
		GroupMembers: map[string][]string{hGroup: {hBG1, hBG2}},
		MemberOf:     map[string][]string{hBG1: {hGroup}, hBG2: {hGroup}, hAdmin: {}},
		ConditionalAccessPolicies: []json.RawMessage{
			json.RawMessage(`{"id":"` + hPolMFA + `","displayName":"Require MFA for all users","state":"enabled",
				"conditions":{"users":{"includeUsers":["All"],"excludeUsers":[],"includeGroups":[],"excludeGroups":["` + hGroup + `"],"includeRoles":[],"excludeRoles":[]},
				"applications":{"includeApplications":["All"]},"clientAppTypes":["all"]},
				"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`),
			json.RawMessage(`{"id":"` + hPolLeg + `","displayName":"Block legacy authentication","state":"enabledForReportingButNotEnforced",
				"conditions":{"users":{"includeUsers":["All"],"excludeUsers":["` + hBG1 + `","` + hBG2 + `"],"includeGroups":[],"excludeGroups":[],"includeRoles":[],"excludeRoles":[]},
				"applications":{"includeApplications":["All"]},"clientAppTypes":["exchangeActiveSync","other"]},
				"grantControls":{"operator":"OR","builtInControls":["block"]}}`),
			json.RawMessage(`{"id":"` + hPolWID + `","displayName":"Block workload identities outside named locations","state":"enabled",
				"conditions":{"users":{"includeUsers":["None"],"excludeUsers":[],"includeGroups":[],"excludeGroups":[],"includeRoles":[],"excludeRoles":[]},
				"clientApplications":{"includeServicePrincipals":["ServicePrincipalsInMyTenant"],"excludeServicePrincipals":[]},
				"applications":{"includeApplications":["All"]},"locations":{"includeLocations":["All"],"excludeLocations":["AllTrusted"]}},
				"grantControls":{"operator":"OR","builtInControls":["block"]}}`),
		},
		RoleAssignments: []RoleAssignment{
			{ID: "ra1", RoleDefinitionID: collect.RoleGlobalAdministrator, PrincipalID: hBG1, PrincipalType: "user", DirectoryScopeID: "/"},
			{ID: "ra2", RoleDefinitionID: collect.RoleGlobalAdministrator, PrincipalID: hBG2, PrincipalType: "user", DirectoryScopeID: "/"},
		},
		AssignmentSchedules: []RoleSchedule{
			{ID: "s1", RoleDefinitionID: collect.RoleGlobalAdministrator, PrincipalID: hBG1, PrincipalType: "user", DirectoryScopeID: "/",
				AssignmentType: "Assigned", MemberType: "Direct", ExpirationType: "noExpiration"},
			{ID: "s2", RoleDefinitionID: collect.RoleGlobalAdministrator, PrincipalID: hBG2, PrincipalType: "user", DirectoryScopeID: "/",
				AssignmentType: "Assigned", MemberType: "Direct", ExpirationType: "noExpiration"},
		},
		EligibilitySchedules: []RoleSchedule{
			{ID: "e1", RoleDefinitionID: collect.RoleGlobalAdministrator, PrincipalID: hAdmin, PrincipalType: "user", DirectoryScopeID: "/",
				MemberType: "Direct", ExpirationType: "noExpiration"},
		},
		AuthMethods: map[string][]AuthMethod{
			hBG1: {{Type: "passwordAuthenticationMethod", ID: "p1"}, {Type: "fido2AuthenticationMethod", ID: "k1", Model: "YubiKey 5", AAGUID: hKeyBG}},
			hBG2: {{Type: "passwordAuthenticationMethod", ID: "p2"}, {Type: "fido2AuthenticationMethod", ID: "k2", Model: "YubiKey 5 NFC", AAGUID: hKeyBG2}},
			hAdmin: {{Type: "passwordAuthenticationMethod", ID: "p3"}, {Type: "microsoftAuthenticatorAuthenticationMethod", ID: "m3", DisplayName: "iPhone"},
				{Type: "fido2AuthenticationMethod", ID: "k3", Model: "YubiKey 5 NFC FIPS", AAGUID: hKeyAdm}},
		},
		Registration: map[string]*RegistrationDetails{
			hBG1: {ID: hBG1, IsSsprRegistered: bptr(false), MethodsRegistered: []string{"passKeyDeviceBound"}},
			hBG2: {ID: hBG2, IsSsprRegistered: bptr(false), MethodsRegistered: []string{"passKeyDeviceBound"}},
		},
		CertificateUserIDs: map[string][]string{},
		AuthMethodsPolicy: json.RawMessage(`{"id":"authenticationMethodsPolicy","authenticationMethodConfigurations":[
			{"@odata.type":"#microsoft.graph.fido2AuthenticationMethodConfiguration","id":"Fido2","state":"enabled",
			 "includeTargets":[{"targetType":"group","id":"all_users","isRegistrationRequired":false}],"excludeTargets":[],
			 "keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]}},
			{"@odata.type":"#microsoft.graph.x509CertificateAuthenticationMethodConfiguration","id":"X509Certificate","state":"disabled",
			 "includeTargets":[{"targetType":"group","id":"all_users"}],"excludeTargets":[]}]}`),
		LifecycleWorkflows: []json.RawMessage{
			json.RawMessage(`{"id":"` + hWFLeaver + `","displayName":"Offboard leavers","category":"leaver","isEnabled":true,"isSchedulingEnabled":true,
				"executionConditions":{"@odata.type":"#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions",
				"scope":{"@odata.type":"#microsoft.graph.identityGovernance.ruleBasedSubjectSet","rule":"(department eq 'Sales')"},
				"trigger":{"@odata.type":"#microsoft.graph.identityGovernance.timeBasedAttributeTrigger","timeBasedAttribute":"employeeLeaveDateTime","offsetInDays":0}}}`),
			json.RawMessage(`{"id":"` + hWFInactive + `","displayName":"Disable inactive contractors","category":"leaver","isEnabled":true,"isSchedulingEnabled":true,
				"executionConditions":{"@odata.type":"#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions",
				"scope":{"@odata.type":"#microsoft.graph.identityGovernance.ruleBasedSubjectSet","rule":"(employeeType eq 'Contractor')"},
				"trigger":{"@odata.type":"#microsoft.graph.identityGovernance.userInactivityTrigger","inactivityPeriodInDays":90}}}`),
		},
		WorkflowScope: map[string][]string{hWFInactive: {hAdmin2}},
		RoleManagementPolicies: []json.RawMessage{
			json.RawMessage(`{"id":"Directory_tenant_ga","policyId":"Directory_tenant_ga_policy","scopeId":"/","scopeType":"DirectoryRole",
				"roleDefinitionId":"` + collect.RoleGlobalAdministrator + `","policy":{"id":"Directory_tenant_ga_policy","rules":[
				{"@odata.type":"#microsoft.graph.unifiedRoleManagementPolicyApprovalRule","id":"Approval_EndUser_Assignment",
				 "target":{"caller":"EndUser","operations":["All"],"level":"Assignment"},
				 "setting":{"isApprovalRequired":true,"isApprovalRequiredForExtension":false,"isRequestorJustificationRequired":true,"approvalMode":"SingleStage",
				  "approvalStages":[{"approvalStageTimeOutInDays":1,"isApproverJustificationRequired":true,"escalationTimeInMinutes":0,"isEscalationEnabled":false,
				   "primaryApprovers":[{"@odata.type":"#microsoft.graph.singleUser","userId":"` + hApprover + `"}],"escalationApprovers":[]}]}},
				{"@odata.type":"#microsoft.graph.unifiedRoleManagementPolicyEnablementRule","id":"Enablement_EndUser_Assignment","enabledRules":["MultiFactorAuthentication","Justification"]},
				{"@odata.type":"#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule","id":"AuthenticationContext_EndUser_Assignment","isEnabled":false,"claimValue":""}]}}`),
			json.RawMessage(`{"id":"Directory_tenant_pra","policyId":"Directory_tenant_pra_policy","scopeId":"/","scopeType":"DirectoryRole",
				"roleDefinitionId":"` + collect.RolePrivilegedRoleAdministrator + `","policy":{"id":"Directory_tenant_pra_policy","rules":[
				{"@odata.type":"#microsoft.graph.unifiedRoleManagementPolicyApprovalRule","id":"Approval_EndUser_Assignment",
				 "setting":{"isApprovalRequired":false,"approvalStages":[]}}]}}`),
		},
		AccessReviewDefinitions: []json.RawMessage{
			json.RawMessage(`{"id":"` + hReview + `","displayName":"Inactive guests","status":"InProgress",
				"scope":{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":"/users?$filter=(userType eq 'Guest')","queryType":"MicrosoftGraph","inactiveDuration":"P90D"},
				"settings":{"autoApplyDecisionsEnabled":true,"defaultDecisionEnabled":true,"defaultDecision":"Deny","applyActions":[{"@odata.type":"#microsoft.graph.disableAndDeleteUserApplyAction"}]}}`),
		},
	}
	present := []string{
		collect.DatasetBreakGlassUsers, collect.DatasetRoleAssignments, collect.DatasetRoleAssignmentSchedules,
		collect.DatasetRoleAssignmentInstances, collect.DatasetRoleEligibilitySchedules, collect.DatasetRoleEligibilityInstances,
		collect.DatasetRoleManagementPolicies, collect.DatasetUserRegistrationDetails, collect.DatasetUserAuthorizationInfo,
		collect.DatasetConditionalAccessPolicies, collect.DatasetAuthStrengthPolicies, collect.DatasetAuthMethodsPolicy,
		collect.DatasetLifecycleWorkflows, collect.DatasetAccessReviewDefinitions,
		"principal_role_assignments", DatasetCAGroups, "role_approvers",
	}
	for _, id := range []string{hBG1, hBG2, hAdmin} {
		present = append(present, collect.KeyedName(collect.DatasetAuthMethods, id), collect.KeyedName(DatasetMemberOf, id))
	}
	present = append(present, collect.KeyedName(collect.DatasetGroupMembers, hGroup), collect.KeyedName(DatasetWorkflowScope, hWFInactive))
	t.Snapshot = handSnapshot(present)
	return t
}

// drop removes datasets from the tenant's snapshot and records why, as
// collect does for a refused dataset.
func drop(t *Tenant, reason string, names ...string) {
	for _, n := range names {
		delete(t.Snapshot.Datasets, n)
		t.Snapshot.Manifest.Failed = append(t.Snapshot.Manifest.Failed, collect.Failure{
			Name: n, Endpoint: "/test/" + n, Status: 403, Code: "Authorization_RequestDenied", Reason: reason, Hint: "grant the permission"})
	}
}

func runHandCheck(t *testing.T, id string, tn *Tenant, o Options) []Result {
	t.Helper()
	c, ok := Lookup(id)
	if !ok {
		t.Fatalf("check %s not registered", id)
	}
	if o.Now.IsZero() {
		o.Now = hTime
	}
	res := c.Run(&Env{Tenant: tn, Options: o})
	for _, r := range res {
		if r.Check != id || r.Title == "" || r.Rationale == "" || len(r.Requirements) == 0 || r.Message == "" {
			t.Errorf("%s: result lacks id, title, rationale, requirements or message: %+v", id, r)
		}
		if r.Status != StatusPass && r.Status != StatusSkip && r.Remediation.Summary == "" {
			t.Errorf("%s: %s result without remediation: %s", id, r.Status, r.Message)
		}
		if len(r.Evidence) == 0 {
			t.Errorf("%s: result without evidence: %s", id, r.Message)
		}
	}
	return res
}

// statusOf returns the status of the result for account id ("" for a
// tenant-wide result); it fails the test when there is no such result.
func statusOf(t *testing.T, res []Result, account string) Result {
	t.Helper()
	for _, r := range res {
		if strings.EqualFold(r.AccountID, account) {
			return r
		}
	}
	t.Fatalf("no result for account %q in %d results", account, len(res))
	return Result{}
}

type handCase struct {
	name    string
	mutate  func(t *Tenant)
	account string
	want    Status
	// contains is a substring the message must have.
	contains string
}

func runHandCases(t *testing.T, id string, o Options, cases []handCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn := handTenant()
			if tc.mutate != nil {
				tc.mutate(tn)
			}
			res := runHandCheck(t, id, tn, o)
			r := statusOf(t, res, tc.account)
			t.Logf("%s: %s", r.Status, r.Message)
			if r.Status != tc.want {
				t.Errorf("status %s, want %s: %s", r.Status, tc.want, r.Message)
			}
			if tc.contains != "" && !strings.Contains(r.Message, tc.contains) {
				t.Errorf("message %q does not say %q", r.Message, tc.contains)
			}
		})
	}
}

func TestPhishingResistantCredential(t *testing.T) {
	const id = "phishing-resistant-credential"
	setPolicy := func(js string) func(*Tenant) { return func(t *Tenant) { t.AuthMethodsPolicy = json.RawMessage(js) } }
	cbaOn := `{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"targetType":"group","id":"all_users"}]},
		{"id":"X509Certificate","state":"enabled","includeTargets":[{"targetType":"group","id":"all_users"}],
		 "authenticationModeConfiguration":{"x509CertificateAuthenticationDefaultMode":"x509CertificateMultiFactor","rules":[]}}]}`
	onlyPassword := func(t *Tenant) { t.AuthMethods[hBG1] = []AuthMethod{{Type: "passwordAuthenticationMethod"}} }
	runHandCases(t, id, Options{}, []handCase{
		{name: "compliant", account: hBG1, want: StatusPass, contains: "YubiKey 5"},
		{name: "compliant second account", account: hBG2, want: StatusPass},
		{name: "password only", mutate: onlyPassword, account: hBG1, want: StatusFail, contains: "only a password"},
		{name: "authenticator only", account: hBG1, want: StatusFail, contains: "microsoftAuthenticator",
			mutate: func(t *Tenant) {
				t.AuthMethods[hBG1] = []AuthMethod{{Type: "passwordAuthenticationMethod"}, {Type: "microsoftAuthenticatorAuthenticationMethod"}}
			}},
		{name: "windows hello only", account: hBG1, want: StatusFail, contains: "live on one device",
			mutate: func(t *Tenant) {
				t.AuthMethods[hBG1] = []AuthMethod{{Type: "passwordAuthenticationMethod"}, {Type: "windowsHelloForBusinessAuthenticationMethod", DisplayName: "PAW-01"}}
			}},
		{name: "fido2 disabled in policy", account: hBG1, want: StatusFail, contains: "disabled",
			mutate: setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"disabled"}]}`)},
		{name: "fido2 not configured", account: hBG1, want: StatusFail, contains: "not configured",
			mutate: setPolicy(`{"authenticationMethodConfigurations":[]}`)},
		{name: "fido2 model blocked", account: hBG1, want: StatusFail, contains: "block",
			mutate: setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"id":"all_users"}],
				"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + strings.ToUpper(hKeyBG) + `"]}}]}`)},
		{name: "fido2 model not in allow list", account: hBG1, want: StatusFail, contains: "allow only",
			mutate: setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"id":"all_users"}],
				"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyAdm + `"]}}]}`)},
		{name: "fido2 in allow list", account: hBG1, want: StatusPass,
			mutate: setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"id":"all_users"}],
				"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyBG + `"]}}]}`)},
		{name: "passkey profile allows other models only", account: hBG1, want: StatusFail, contains: "Default passkey profile",
			mutate: func(t *Tenant) {
				extraTarget := ""
				setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","defaultPasskeyProfile":"00000000-0000-0000-0000-000000000001",
				"includeTargets":[{"targetType":"group","id":"all_users","allowedPasskeyProfiles":[]}` + extraTarget + `],
				"keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]},
				"passkeyProfiles":[{"id":"00000000-0000-0000-0000-000000000001","name":"Default passkey profile","passkeyTypes":"deviceBound,synced",
				  "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyAdm + `"]}},
				 {"id":"7e000000-0000-4000-8000-000000000002","name":"Break-glass keys","passkeyTypes":"deviceBound",
				  "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyBG + `","` + hKeyBG2 + `"]}}]}]}`)(t)
			}},
		{name: "passkey profile for the break-glass group", account: hBG1, want: StatusPass,
			mutate: func(t *Tenant) {
				extraTarget := `,{"targetType":"group","id":"` + hGroup + `","allowedPasskeyProfiles":["7e000000-0000-4000-8000-000000000002"]}`
				setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","defaultPasskeyProfile":"00000000-0000-0000-0000-000000000001",
				"includeTargets":[{"targetType":"group","id":"all_users","allowedPasskeyProfiles":[]}` + extraTarget + `],
				"keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]},
				"passkeyProfiles":[{"id":"00000000-0000-0000-0000-000000000001","name":"Default passkey profile","passkeyTypes":"deviceBound,synced",
				  "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyAdm + `"]}},
				 {"id":"7e000000-0000-4000-8000-000000000002","name":"Break-glass keys","passkeyTypes":"deviceBound",
				  "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyBG + `","` + hKeyBG2 + `"]}}]}]}`)(t)
			}},
		{name: "passkey profile by group, memberships unknown", account: hBG1, want: StatusWarn, contains: "passkey profiles are granted per group",
			mutate: func(t *Tenant) {
				delete(t.MemberOf, hBG1)
				extraTarget := `,{"targetType":"group","id":"` + hGroup + `","allowedPasskeyProfiles":["7e000000-0000-4000-8000-000000000002"]}`
				setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","defaultPasskeyProfile":"00000000-0000-0000-0000-000000000001",
				"includeTargets":[{"targetType":"group","id":"all_users","allowedPasskeyProfiles":[]}` + extraTarget + `],
				"keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]},
				"passkeyProfiles":[{"id":"00000000-0000-0000-0000-000000000001","name":"Default passkey profile","passkeyTypes":"deviceBound,synced",
				  "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyAdm + `"]}},
				 {"id":"7e000000-0000-4000-8000-000000000002","name":"Break-glass keys","passkeyTypes":"deviceBound",
				  "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + hKeyBG + `","` + hKeyBG2 + `"]}}]}]}`)(t)
			}},
		{name: "fido2 targets another group", account: hBG1, want: StatusFail, contains: "includeTargets",
			mutate: setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"id":"11111111-0000-0000-0000-000000000000"}]}]}`)},
		{name: "fido2 targets a group the account is in", account: hBG1, want: StatusPass,
			mutate: func(t *Tenant) {
				t.MemberOf[hBG1] = []string{"11111111-0000-0000-0000-000000000000"}
				setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"id":"11111111-0000-0000-0000-000000000000"}]}]}`)(t)
			}},
		{name: "fido2 group target, memberships unknown", account: hBG1, want: StatusWarn, contains: "memberships were not collected",
			mutate: func(t *Tenant) {
				delete(t.MemberOf, hBG1)
				setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"id":"11111111-0000-0000-0000-000000000000"}]}]}`)(t)
			}},
		{name: "fido2 excluded", account: hBG1, want: StatusFail, contains: "excludes the account",
			mutate: setPolicy(`{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{"id":"all_users"}],
				"excludeTargets":[{"id":"` + hBG1 + `"}]}]}`)},
		{name: "methods policy refused", account: hBG1, want: StatusWarn, contains: "could not be confirmed",
			mutate: func(t *Tenant) {
				t.AuthMethodsPolicy = nil
				drop(t, collect.ReasonPermission, collect.DatasetAuthMethodsPolicy)
			}},
		{name: "methods policy unreadable", account: hBG1, want: StatusWarn,
			mutate: setPolicy(`{"authenticationMethodConfigurations":{"oops":1}}`)},
		{name: "cba bound and enabled", account: hBG1, want: StatusPass, contains: "Certificate-based",
			mutate: func(t *Tenant) {
				onlyPassword(t)
				t.CertificateUserIDs[hBG1] = []string{"X509:<PN>bg1@contoso.onmicrosoft.com"}
				setPolicy(cbaOn)(t)
			}},
		{name: "cba single-factor", account: hBG1, want: StatusFail, contains: "single-factor",
			mutate: func(t *Tenant) {
				onlyPassword(t)
				t.CertificateUserIDs[hBG1] = []string{"X509:<PN>bg1@contoso.onmicrosoft.com"}
				setPolicy(strings.Replace(cbaOn, "x509CertificateAuthenticationDefaultMode\":\"x509CertificateMultiFactor", "x509CertificateAuthenticationDefaultMode\":\"x509CertificateSingleFactor", 1))(t)
			}},
		{name: "cba multifactor by rule only", account: hBG1, want: StatusWarn, contains: "rule",
			mutate: func(t *Tenant) {
				onlyPassword(t)
				t.CertificateUserIDs[hBG1] = []string{"X509:<PN>bg1@contoso.onmicrosoft.com"}
				setPolicy(strings.Replace(cbaOn, `"x509CertificateAuthenticationDefaultMode":"x509CertificateMultiFactor","rules":[]`,
					`"x509CertificateAuthenticationDefaultMode":"x509CertificateSingleFactor","rules":[{"x509CertificateRuleType":"policyOID","identifier":"1.2.3","x509CertificateAuthenticationMode":"x509CertificateMultiFactor"}]`, 1))(t)
			}},
		{name: "cba bound but x509 disabled", account: hBG1, want: StatusFail, contains: "disabled",
			mutate: func(t *Tenant) {
				onlyPassword(t)
				t.CertificateUserIDs[hBG1] = []string{"X509:<PN>bg1@contoso.onmicrosoft.com"}
			}},
		{name: "cba bound, methods policy unknown", account: hBG1, want: StatusWarn,
			mutate: func(t *Tenant) {
				onlyPassword(t)
				t.CertificateUserIDs[hBG1] = []string{"X509:<PN>bg1@contoso.onmicrosoft.com"}
				t.AuthMethodsPolicy = nil
				drop(t, collect.ReasonPermission, collect.DatasetAuthMethodsPolicy)
			}},
		{name: "methods refused", account: hBG1, want: StatusSkip, contains: "not read",
			mutate: func(t *Tenant) {
				delete(t.AuthMethods, hBG1)
				drop(t, collect.ReasonPermission, collect.KeyedName(collect.DatasetAuthMethods, hBG1))
			}},
		{name: "methods family refused", account: hBG2, want: StatusSkip, contains: "refused",
			mutate: func(t *Tenant) {
				t.AuthMethods = map[string][]AuthMethod{}
				for _, id := range []string{hBG1, hBG2, hAdmin} {
					delete(t.Snapshot.Datasets, collect.KeyedName(collect.DatasetAuthMethods, id))
				}
				drop(t, collect.ReasonPermission, collect.DatasetAuthMethods)
			}},
		{name: "no fido2, cba evidence unread", account: hBG1, want: StatusSkip, contains: "certificateUserIds not read",
			mutate: func(t *Tenant) {
				onlyPassword(t)
				drop(t, collect.ReasonLicence, collect.DatasetUserAuthorizationInfo)
			}},
		{name: "unreadable method may be the passkey", account: hBG1, want: StatusSkip, contains: "could not be read",
			mutate: func(t *Tenant) {
				t.AuthMethods[hBG1] = []AuthMethod{{Type: "passwordAuthenticationMethod"}, {Type: "fido2AuthenticationMethod", Invalid: true}}
			}},
		{name: "unresolved account is skipped (the accounts check errors)", account: "", want: StatusSkip, contains: "did not resolve",
			mutate: func(t *Tenant) {
				t.Accounts = append(t.Accounts, AccountInfo{Entry: "accounts[2] upn gone@contoso.onmicrosoft.com", Reason: "404 Request_ResourceNotFound"})
			}},
	})
}

// --- failure fixtures: mutations of the compliant snapshot (fixture_test.go) ---

// withMethods replaces or edits a user's auth_methods.<id> items.
func withMethods(user string, fn func(items []any) []any) mutation {
	return func(f *fixture) {
		name := collect.KeyedName(collect.DatasetAuthMethods, user)
		f.setItems(name, fn(f.items(name)))
	}
}

// addMethodItem appends a method, in Graph's shape, to a user's methods.
func addMethodItem(user string, m map[string]any) mutation {
	return withMethods(user, func(items []any) []any { return append(items, m) })
}

// dropMethodType removes every method of the type from a user's methods.
func dropMethodType(user, typ string) mutation {
	return withMethods(user, func(items []any) []any {
		var out []any
		for _, it := range items {
			if m, _ := it.(map[string]any); m["@odata.type"] != "#microsoft.graph."+typ {
				out = append(out, it)
			}
		}
		return out
	})
}

// editMethodsPolicy edits the configuration with the id in
// authentication_methods_policy.
func editMethodsPolicy(id string, fn func(map[string]any)) mutation {
	return func(f *fixture) {
		o := f.object(collect.DatasetAuthMethodsPolicy)
		cs, _ := o["authenticationMethodConfigurations"].([]any)
		n := 0
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok && strings.EqualFold(fmt.Sprint(m["id"]), id) {
				fn(m)
				n++
			}
		}
		if n == 0 {
			f.t.Fatalf("fixture: no method configuration %s", id)
		}
		f.setObject(collect.DatasetAuthMethodsPolicy, o)
	}
}

var phishingFixtureCases = []fixtureCase{
	{name: "phishing-resistant-credential-password-only", check: "phishing-resistant-credential", account: fxBG1UPN, want: StatusFail,
		contains: "only a password", dir: true, mutate: []mutation{dropMethodType(fxBG1, "fido2AuthenticationMethod")}},
	{name: "phishing-resistant fido2 disabled", check: "phishing-resistant-credential", account: fxBG2UPN, want: StatusFail, contains: "disabled",
		mutate: []mutation{editMethodsPolicy("Fido2", func(m map[string]any) { m["state"] = "disabled" })}},
	{name: "phishing-resistant key model blocked", check: "phishing-resistant-credential", account: fxBG1UPN, want: StatusFail, contains: "block",
		mutate: []mutation{editMethodsPolicy("Fido2", func(m map[string]any) {
			m["keyRestrictions"] = map[string]any{"isEnforced": true, "enforcementType": "block", "aaGuids": []any{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}}
		})}},
	{name: "phishing-resistant methods refused", check: "phishing-resistant-credential", account: fxBG1UPN, want: StatusSkip, contains: "refused",
		mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetAuthMethods, collect.ReasonPermission) }}},
}

func init() { allFixtureCases = append(allFixtureCases, phishingFixtureCases...) }

func TestPhishingResistantCredentialFixtures(t *testing.T) { runFixtureCases(t, phishingFixtureCases) }

// myChecks are the checks of this file family.
var myChecks = []string{"phishing-resistant-credential", "no-personal-methods", "distinct-methods", "conditional-access",
	"exclusion-group", "inactivity-cleanup", "pim-lockout"}

// FuzzMethodAndGovernanceChecks feeds hostile JSON to every raw dataset
// these checks decode themselves (methods policy, Conditional Access,
// workflows, access reviews, PIM rules, strengths): no panic, and every
// result has a known status.
func FuzzMethodAndGovernanceChecks(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `[]`, `"x"`, `{"authenticationMethodConfigurations":[{"id":"Fido2","state":"enabled","includeTargets":[{}],"keyRestrictions":{"isEnforced":true,"aaGuids":null}}]}`,
		`{"id":"x","conditions":{"users":{"includeUsers":["All"],"excludeGroups":[1]}},"grantControls":{"builtInControls":"block"}}`,
		`{"executionConditions":{"trigger":{"@odata.type":"#microsoft.graph.identityGovernance.userInactivityTrigger"}},"id":"1f000000-0000-4000-8000-000000000002"}`,
		`{"scope":{"@odata.type":"#microsoft.graph.accessReviewInactiveUsersQueryScope","query":["/users"]},"settings":{"autoApplyDecisionsEnabled":"yes"}}`,
		`{"roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","policy":{"rules":[{"id":"Approval_EndUser_Assignment","setting":{"isApprovalRequired":true,"approvalStages":[{"primaryApprovers":[{"@odata.type":"#microsoft.graph.groupMembers"}]}]}}]}}`} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, where uint8) {
		tn := handTenant()
		raw := json.RawMessage(data)
		switch where % 6 {
		case 0:
			tn.AuthMethodsPolicy = raw
		case 1:
			tn.ConditionalAccessPolicies = append(tn.ConditionalAccessPolicies, raw)
		case 2:
			tn.LifecycleWorkflows = append(tn.LifecycleWorkflows, raw)
		case 3:
			tn.AccessReviewDefinitions = append(tn.AccessReviewDefinitions, raw)
		case 4:
			tn.RoleManagementPolicies = []json.RawMessage{raw}
		case 5:
			tn.AuthStrengthPolicies = []json.RawMessage{raw}
		}
		for _, mode := range CAModes {
			for _, id := range myChecks {
				c, _ := Lookup(id)
				for _, r := range c.Run(&Env{Tenant: tn, Options: Options{Now: hTime, ConditionalAccessMode: mode}}) {
					if !slices.Contains(Statuses, r.Status) || r.Message == "" {
						t.Fatalf("%s: status %q, message %q", id, r.Status, r.Message)
					}
				}
			}
		}
	})
}
