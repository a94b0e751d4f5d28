package collecttest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph/collect"
)

// SynthOptions sizes a synthetic tenant. Zero fields take the defaults of
// the speed figure issue 8 asks for.
type SynthOptions struct {
	// Seed makes the tenant; the same seed gives the same snapshot, byte
	// for byte. Log it.
	Seed uint64
	// Policies is the number of Conditional Access policies (default 300).
	Policies int
	// PrivilegedUsers is the number of Global and Privileged Role
	// Administrators besides the break-glass accounts (default 500).
	PrivilegedUsers int
	// Nesting is the depth of the group chain that holds the break-glass
	// accounts; its top group is the Conditional Access exclusion group
	// (default 10).
	Nesting int
}

func (o SynthOptions) withDefaults() SynthOptions {
	if o.Policies <= 0 {
		o.Policies = 300
	}
	if o.PrivilegedUsers <= 0 {
		o.PrivilegedUsers = 500
	}
	if o.Nesting <= 0 {
		o.Nesting = 10
	}
	return o
}

// SynthCollected is the collection time stamped on every synthetic
// snapshot, so that equal seeds give equal snapshots.
var SynthCollected = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// Role template ids the synthetic tenant uses besides the two collected.
const (
	roleSecurityReader = "5d6b6bb7-de71-4623-b4af-96380a352509"
	roleUserAdmin      = "fe930be7-5e62-47db-91af-98c3a49a38b1"
)

type obj = map[string]any

// Synth builds a realistic large tenant and returns the snapshot collect
// takes of it: two compliant break-glass accounts (bg1, bg2: cloud-only,
// permanent Global Administrators with FIDO2 keys, in a group chain
// Nesting deep whose top, role-assignable, group every Conditional Access
// policy of the "exclude" kinds excludes); PrivilegedUsers administrators
// with methods, registration details, PIM schedules (direct, eligible,
// through a role-assignable group); Conditional Access policies that
// include and exclude users, groups and roles, report-only and disabled
// ones, guest and workload-identity ones; PIM approval rules with a
// deleted approver; lifecycle workflows, one on inactivity. The snapshot
// is made by collect itself, in process, from the generated objects, so
// it is exactly what collect writes for that tenant.
func Synth(o SynthOptions) (*collect.Snapshot, error) {
	o = o.withDefaults()
	g := &synth{o: o, r: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), data: map[string][]any{}, objects: map[string]any{}}
	base := g.build()
	tn, err := NewTenant(base, DefaultPageSize)
	if err != nil {
		return nil, err
	}
	s, err := collect.CollectSnapshot(context.Background(), tn, collect.Options{
		Accounts:    []entra.Account{{ID: g.bg[0]}, {ID: g.bg[1]}},
		Now:         func() time.Time { return SynthCollected },
		ToolVersion: "synth",
		TenantID:    g.tenant,
		Concurrency: 8,
	})
	if err != nil {
		return nil, fmt.Errorf("collecttest: collecting the synthetic tenant (seed %d): %w", o.Seed, err)
	}
	return s, nil
}

type synth struct {
	o       SynthOptions
	r       *rand.Rand
	tenant  string
	bg      []string
	data    map[string][]any // list datasets of the base snapshot
	objects map[string]any   // object datasets
}

func (g *synth) guid() string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", g.r.Uint32(), g.r.Uint32()&0xffff, g.r.Uint32()&0xfff,
		0x8000|g.r.Uint32()&0x3fff, g.r.Uint64()&0xffffffffffff)
}

func (g *synth) add(name string, items ...any) { g.data[name] = append(g.data[name], items...) }

type synthUser struct {
	id, upn string
	groups  []string // transitive, for member_of
}

func (g *synth) build() *collect.Snapshot {
	o := g.o
	g.tenant = g.guid()
	const initial = "contoso.onmicrosoft.com"
	g.add(collect.DatasetOrganization, obj{"id": g.tenant, "displayName": "Contoso (synthetic)", "verifiedDomains": []obj{
		{"name": initial, "isInitial": true, "type": "Managed"}, {"name": "contoso.com", "isDefault": true, "type": "Federated"}}})
	g.add(collect.DatasetDomains,
		obj{"id": initial, "authenticationType": "Managed", "isInitial": true, "isDefault": false, "isVerified": true},
		obj{"id": "contoso.com", "authenticationType": "Federated", "isInitial": false, "isDefault": true, "isVerified": true})

	// The group chain: chain[0] is the exclusion group, chain[last] holds
	// the break-glass accounts.
	chain := make([]string, o.Nesting)
	groupObj := map[string]obj{}
	for i := range chain {
		chain[i] = g.guid()
		groupObj[chain[i]] = obj{"id": chain[i], "displayName": fmt.Sprintf("Break glass exclusion level %d", i),
			"isAssignableToRole": i == 0, "securityEnabled": true, "mailEnabled": false, "groupTypes": []string{},
			"membershipRule": nil, "onPremisesSyncEnabled": nil}
	}
	holders := g.guid() // role-assignable group holding Global Administrator
	groupObj[holders] = obj{"id": holders, "displayName": "Global Administrators (group)", "isAssignableToRole": true,
		"securityEnabled": true, "mailEnabled": false, "groupTypes": []string{}, "membershipRule": nil, "onPremisesSyncEnabled": nil}
	approverGroup := g.guid()
	adminGroups := make([]string, 20)
	for i := range adminGroups {
		adminGroups[i] = g.guid()
		groupObj[adminGroups[i]] = obj{"id": adminGroups[i], "displayName": fmt.Sprintf("Admins team %02d", i),
			"isAssignableToRole": false, "securityEnabled": true, "mailEnabled": false, "groupTypes": []string{}, "membershipRule": nil, "onPremisesSyncEnabled": nil}
	}

	var users []synthUser
	for i := range 2 {
		u := synthUser{id: g.guid(), upn: fmt.Sprintf("bg%d@%s", i+1, initial), groups: chain}
		g.bg = append(g.bg, u.id)
		users = append(users, u)
		g.add(collect.DatasetBreakGlassUsers, obj{
			"id": u.id, "userPrincipalName": u.upn, "displayName": fmt.Sprintf("Break glass %d", i+1), "accountEnabled": true,
			"userType": "Member", "onPremisesSyncEnabled": nil, "onPremisesImmutableId": nil, "createdDateTime": "2024-02-01T09:00:00Z",
			"passwordPolicies": "DisablePasswordExpiration", "lastPasswordChangeDateTime": "2024-02-01T09:00:00Z",
			"mail": nil, "otherMails": []string{}, "mobilePhone": nil, "businessPhones": []string{}, "assignedLicenses": []obj{},
			"signInActivity": obj{"lastSignInDateTime": "2026-05-02T10:00:00Z", "lastSuccessfulSignInDateTime": "2026-05-02T10:00:00Z", "lastNonInteractiveSignInDateTime": nil},
		})
	}
	principal := func(id, upn string) obj {
		return obj{"@odata.type": "#microsoft.graph.user", "id": id, "userPrincipalName": upn}
	}
	groupPrincipal := func(id string) obj {
		return obj{"@odata.type": "#microsoft.graph.group", "id": id, "displayName": groupObj[id]["displayName"]}
	}
	permanent := obj{"expiration": obj{"type": "noExpiration", "endDateTime": nil}, "startDateTime": "2024-01-01T00:00:00Z"}
	active := func(p obj, pid, role string) {
		aid := g.guid()
		g.add(collect.DatasetRoleAssignments, obj{"id": aid, "principalId": pid, "roleDefinitionId": role, "directoryScopeId": "/", "principal": p})
		g.add(collect.DatasetPrincipalRoleAssignments, obj{"id": aid, "principalId": pid, "roleDefinitionId": role, "directoryScopeId": "/", "principal": p})
		g.add(collect.DatasetRoleAssignmentSchedules, obj{"id": g.guid(), "principalId": pid, "roleDefinitionId": role, "directoryScopeId": "/",
			"assignmentType": "Assigned", "memberType": "Direct", "status": "Provisioned", "scheduleInfo": permanent, "principal": p})
		g.add(collect.DatasetRoleAssignmentInstances, obj{"id": g.guid(), "principalId": pid, "roleDefinitionId": role, "directoryScopeId": "/",
			"assignmentType": "Assigned", "memberType": "Direct", "startDateTime": "2024-01-01T00:00:00Z", "endDateTime": nil, "principal": p})
	}
	for i, id := range g.bg {
		active(principal(id, users[i].upn), id, collect.RoleGlobalAdministrator)
	}
	active(groupPrincipal(holders), holders, collect.RoleGlobalAdministrator)
	// The exclusion group holds a harmless role: only
	// principal_role_assignments sees it.
	g.add(collect.DatasetPrincipalRoleAssignments, obj{"id": g.guid(), "principalId": chain[0], "roleDefinitionId": roleSecurityReader, "directoryScopeId": "/", "principal": groupPrincipal(chain[0])})

	methodsOf := []func(id string) []obj{
		func(string) []obj {
			return []obj{{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": g.guid(), "displayName": "iPhone", "deviceTag": "SoftwareTokenActivated"}}
		},
		func(string) []obj {
			return []obj{{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": fmt.Sprintf("+1 425555%04d", g.r.IntN(10000)), "phoneType": "mobile"}}
		},
		func(string) []obj {
			return []obj{{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": g.guid(), "displayName": "YubiKey 5", "aaGuid": "cb69481e-8ff7-4039-93ec-0a2729a154a8", "model": "YubiKey 5 Series"}}
		},
		func(string) []obj {
			return []obj{{"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": g.guid()}}
		},
	}
	registered := [][]string{{"microsoftAuthenticatorPush"}, {"mobilePhone"}, {"passKeyDeviceBound"}, {"softwareOneTimePasscode"}}
	password := obj{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490"}
	for i, id := range g.bg {
		g.add(collect.KeyedName(collect.DatasetAuthMethods, id), password,
			obj{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": g.guid(), "displayName": fmt.Sprintf("bg%d key", i+1), "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a", "model": "YubiKey 5 FIPS Series"})
		g.add(collect.DatasetUserRegistrationDetails, obj{"id": id, "userPrincipalName": users[i].upn, "isAdmin": true, "isMfaRegistered": true,
			"isPasswordlessCapable": true, "isSsprRegistered": false, "isSsprEnabled": false, "methodsRegistered": []string{"passKeyDeviceBound"},
			"systemPreferredAuthenticationMethods": []string{"Fido2"}, "userPreferredMethodForSecondaryAuthentication": "none"})
	}

	var approverUsers []string
	for i := range o.PrivilegedUsers {
		u := synthUser{id: g.guid(), upn: fmt.Sprintf("admin%04d@contoso.com", i)}
		role := collect.RoleGlobalAdministrator
		if i%5 == 4 {
			role = collect.RolePrivilegedRoleAdministrator
		}
		p := principal(u.id, u.upn)
		switch i % 4 {
		case 0: // eligible through PIM
			for _, name := range []string{collect.DatasetRoleEligibilitySchedules, collect.DatasetRoleEligibilityInstances} {
				g.add(name, obj{"id": g.guid(), "principalId": u.id, "roleDefinitionId": role, "directoryScopeId": "/", "memberType": "Direct",
					"status": "Provisioned", "scheduleInfo": obj{"expiration": obj{"type": "afterDateTime", "endDateTime": "2027-01-01T00:00:00Z"}}, "principal": p})
			}
		case 1: // through the role-assignable group
			u.groups = append(u.groups, holders)
		default:
			active(p, u.id, role)
		}
		u.groups = append(u.groups, adminGroups[g.r.IntN(len(adminGroups))])
		if i < 3 {
			approverUsers = append(approverUsers, u.id)
			g.add(collect.DatasetRoleApprovers, obj{"id": u.id, "userPrincipalName": u.upn, "displayName": fmt.Sprintf("Admin %04d", i), "accountEnabled": true})
		}
		if i >= 3 && i < 6 {
			g.add(collect.KeyedName(collect.DatasetGroupMembers, approverGroup), obj{"id": u.id, "userPrincipalName": u.upn, "displayName": fmt.Sprintf("Admin %04d", i), "accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": true})
		}
		users = append(users, u)
		k := g.r.IntN(len(methodsOf))
		g.add(collect.KeyedName(collect.DatasetAuthMethods, u.id), append([]any{password}, anys(methodsOf[k](u.id))...)...)
		g.add(collect.DatasetUserRegistrationDetails, obj{"id": u.id, "userPrincipalName": u.upn, "isAdmin": true, "isMfaRegistered": true,
			"isPasswordlessCapable": k == 2, "isSsprRegistered": k == 1, "isSsprEnabled": true, "methodsRegistered": registered[k],
			"systemPreferredAuthenticationMethods": []string{}, "userPreferredMethodForSecondaryAuthentication": "push"})
	}
	for _, u := range users {
		certs := []string{}
		if g.r.IntN(20) == 0 {
			certs = []string{"X509:<PN>" + u.upn}
		}
		g.add(collect.DatasetUserAuthorizationInfo, obj{"id": u.id, "userPrincipalName": u.upn, "authorizationInfo": obj{"certificateUserIds": certs}})
		var groups []any
		for _, gid := range u.groups {
			groups = append(groups, groupObj[gid])
		}
		g.data[collect.KeyedName(collect.DatasetMemberOf, u.id)] = append([]any{}, groups...)
		if _, ok := g.data[collect.KeyedName(collect.DatasetAuthMethods, u.id)]; !ok {
			g.data[collect.KeyedName(collect.DatasetAuthMethods, u.id)] = []any{}
		}
	}
	for _, u := range users {
		for _, gid := range u.groups {
			if gid == holders || gid == chain[0] {
				g.add(collect.KeyedName(collect.DatasetGroupMembers, gid), obj{"id": u.id, "userPrincipalName": u.upn, "displayName": u.upn, "accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": nil})
			}
		}
	}
	beta := obj{}
	for k, v := range groupObj[chain[0]] {
		beta[k] = v
	}
	beta["isManagementRestricted"] = true
	beta["visibility"] = "Private"
	g.add(collect.DatasetCAGroups, beta)

	deleted := g.guid()
	for _, role := range collect.Roles {
		g.add(collect.DatasetRoleManagementPolicies, obj{
			"id": "Directory_" + g.tenant + "_" + g.guid(), "scopeId": "/", "scopeType": "DirectoryRole", "roleDefinitionId": role,
			"policyId": "Directory_" + g.tenant + "_" + role,
			"policy": obj{"id": "Directory_" + g.tenant + "_" + role, "rules": []obj{
				{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": "Approval_EndUser_Assignment",
					"target": obj{"caller": "EndUser", "operations": []string{"All"}, "level": "Assignment"},
					"setting": obj{"isApprovalRequired": role == collect.RolePrivilegedRoleAdministrator, "approvalMode": "SingleStage", "approvalStages": []obj{{
						"approvalStageTimeOutInDays": 1, "isApproverJustificationRequired": true, "escalationTimeInMinutes": 0, "isEscalationEnabled": false,
						"primaryApprovers": append(subjects(approverUsers), obj{"@odata.type": "#microsoft.graph.singleUser", "userId": deleted, "description": "left the company"},
							obj{"@odata.type": "#microsoft.graph.groupMembers", "groupId": approverGroup, "description": "Approvers"}),
						"escalationApprovers": []obj{},
					}}}},
				{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule", "id": "Enablement_EndUser_Assignment",
					"enabledRules": []string{"MultiFactorAuthentication", "Justification"}, "target": obj{"caller": "EndUser", "level": "Assignment"}},
				{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_EndUser_Assignment",
					"isExpirationRequired": true, "maximumDuration": "PT8H", "target": obj{"caller": "EndUser", "level": "Assignment"}},
			}},
		})
	}

	locations := make([]string, 10)
	for i := range locations {
		locations[i] = g.guid()
		g.add(collect.DatasetNamedLocations, obj{"@odata.type": "#microsoft.graph.ipNamedLocation", "id": locations[i], "displayName": fmt.Sprintf("Office %d", i),
			"isTrusted": i < 3, "ipRanges": []obj{{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": fmt.Sprintf("203.0.113.%d/32", i)}}})
	}
	g.add(collect.DatasetAuthStrengthPolicies,
		obj{"id": "00000000-0000-0000-0000-000000000002", "displayName": "Multifactor authentication", "policyType": "builtIn", "allowedCombinations": []string{"password,microsoftAuthenticatorPush", "fido2"}},
		obj{"id": "00000000-0000-0000-0000-000000000003", "displayName": "Passwordless MFA", "policyType": "builtIn", "allowedCombinations": []string{"windowsHelloForBusiness", "fido2", "microsoftAuthenticatorPasswordless"}},
		obj{"id": "00000000-0000-0000-0000-000000000004", "displayName": "Phishing-resistant MFA", "policyType": "builtIn", "allowedCombinations": []string{"windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"}})
	states := []string{"enabled", "enabled", "enabled", "enabled", "enabled", "enabled", "enabled", "enabledForReportingButNotEnforced", "enabledForReportingButNotEnforced", "disabled"}
	for i := range o.Policies {
		users := obj{"includeUsers": []string{}, "excludeUsers": []string{}, "includeGroups": []string{}, "excludeGroups": []string{},
			"includeRoles": []string{}, "excludeRoles": []string{}, "includeGuestsOrExternalUsers": nil, "excludeGuestsOrExternalUsers": nil}
		grant := obj{"operator": "OR", "builtInControls": []string{"mfa"}, "authenticationStrength": nil}
		var clientApps obj
		switch i % 6 {
		case 0:
			users["includeUsers"] = []string{"All"}
			users["excludeUsers"] = g.bg
			users["excludeGroups"] = []string{chain[0]}
		case 1:
			users["includeRoles"] = []string{collect.RoleGlobalAdministrator, collect.RolePrivilegedRoleAdministrator, roleUserAdmin}
			users["excludeGroups"] = []string{chain[0]}
			grant = obj{"operator": "OR", "builtInControls": []string{}, "authenticationStrength": obj{"id": "00000000-0000-0000-0000-000000000004", "displayName": "Phishing-resistant MFA"}}
		case 2:
			users["includeGroups"] = []string{adminGroups[g.r.IntN(len(adminGroups))], adminGroups[g.r.IntN(len(adminGroups))]}
			users["excludeGroups"] = []string{chain[0]}
		case 3:
			users["includeUsers"] = []string{"All"}
			users["excludeGroups"] = []string{chain[0], adminGroups[g.r.IntN(len(adminGroups))]}
			users["excludeRoles"] = []string{roleSecurityReader}
			grant = obj{"operator": "OR", "builtInControls": []string{"block"}}
		case 4:
			users["includeUsers"] = []string{"None"}
			clientApps = obj{"includeServicePrincipals": []string{"ServicePrincipalsInMyTenant"}, "excludeServicePrincipals": []string{}}
			grant = obj{"operator": "OR", "builtInControls": []string{"block"}}
		case 5:
			users["includeGuestsOrExternalUsers"] = obj{"guestOrExternalUserTypes": "b2bCollaborationGuest,b2bCollaborationMember", "externalTenants": obj{"membershipKind": "all"}}
		}
		g.add(collect.DatasetConditionalAccessPolicies, obj{
			"id": g.guid(), "displayName": fmt.Sprintf("CA%03d", i), "state": states[i%len(states)],
			"createdDateTime": "2025-01-01T00:00:00Z", "modifiedDateTime": "2026-01-01T00:00:00Z",
			"conditions": obj{"users": users, "clientApplications": clientApps,
				"applications":   obj{"includeApplications": []string{"All"}, "excludeApplications": []string{}},
				"clientAppTypes": []string{"all"}, "locations": obj{"includeLocations": []string{"All"}, "excludeLocations": []string{locations[i%len(locations)]}},
				"userRiskLevels": []string{}, "signInRiskLevels": []string{}},
			"grantControls": grant, "sessionControls": nil,
		})
	}

	wfInactive := g.guid()
	g.add(collect.DatasetLifecycleWorkflows,
		obj{"id": wfInactive, "category": "leaver", "displayName": "Disable inactive users", "isEnabled": true, "isSchedulingEnabled": true,
			"executionConditions": obj{"@odata.type": "#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions",
				"scope":   obj{"@odata.type": "#microsoft.graph.identityGovernance.ruleBasedSubjectSet", "rule": "(department ne 'IT')"},
				"trigger": obj{"@odata.type": "#microsoft.graph.identityGovernance.userInactivityTrigger", "inactivityPeriodInDays": 90}}},
		obj{"id": g.guid(), "category": "joiner", "displayName": "New hires", "isEnabled": true, "isSchedulingEnabled": true,
			"executionConditions": obj{"@odata.type": "#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions",
				"scope":   obj{"@odata.type": "#microsoft.graph.identityGovernance.ruleBasedSubjectSet", "rule": "(department eq 'Sales')"},
				"trigger": obj{"@odata.type": "#microsoft.graph.identityGovernance.timeBasedAttributeTrigger", "timeBasedAttribute": "employeeHireDate", "offsetInDays": 0}}},
		obj{"id": g.guid(), "category": "leaver", "displayName": "Leavers", "isEnabled": true, "isSchedulingEnabled": false,
			"executionConditions": obj{"@odata.type": "#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions",
				"scope":   obj{"@odata.type": "#microsoft.graph.identityGovernance.ruleBasedSubjectSet", "rule": "(department eq 'Sales')"},
				"trigger": obj{"@odata.type": "#microsoft.graph.identityGovernance.timeBasedAttributeTrigger", "timeBasedAttribute": "employeeLeaveDateTime", "offsetInDays": 7}}})
	scope := collect.KeyedName(collect.DatasetWorkflowScope, wfInactive)
	g.data[scope] = []any{}
	for _, u := range users[2:min(len(users), 27)] {
		g.add(scope, obj{"id": u.id, "userPrincipalName": u.upn, "displayName": u.upn, "accountEnabled": true})
	}
	g.add(collect.DatasetAccessReviewDefinitions, obj{"id": g.guid(), "displayName": "Inactive Global Administrators", "status": "InProgress",
		"scope": obj{"@odata.type": "#microsoft.graph.principalResourceMembershipsScope",
			"principalScopes": []obj{{"@odata.type": "#microsoft.graph.accessReviewInactiveUsersQueryScope", "query": "/users", "queryType": "MicrosoftGraph", "inactiveDuration": "P90D"}},
			"resourceScopes":  []obj{{"@odata.type": "#microsoft.graph.accessReviewQueryScope", "query": "/roleManagement/directory/roleDefinitions/" + collect.RoleGlobalAdministrator, "queryType": "MicrosoftGraph"}}},
		"settings": obj{"autoApplyDecisionsEnabled": true, "defaultDecision": "Deny", "defaultDecisionEnabled": true}})
	g.objects[collect.DatasetAuthMethodsPolicy] = obj{"id": "authenticationMethodsPolicy", "policyVersion": "1.5", "authenticationMethodConfigurations": []obj{
		{"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "id": "Fido2", "state": "enabled", "isAttestationEnforced": true},
		{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration", "id": "MicrosoftAuthenticator", "state": "enabled"},
		{"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration", "id": "TemporaryAccessPass", "state": "disabled"}}}
	g.objects[collect.DatasetSecurityDefaults] = obj{"id": "00000000-0000-0000-0000-000000000005", "displayName": "Security Defaults", "isEnabled": false}

	s := &collect.Snapshot{Datasets: map[string]json.RawMessage{}}
	for name, items := range g.data {
		if items == nil {
			items = []any{}
		}
		b, _ := json.Marshal(obj{"value": items}) // maps and strings only: cannot fail
		s.Datasets[name] = b
	}
	for name, o := range g.objects {
		b, _ := json.Marshal(o)
		s.Datasets[name] = b
	}
	return s
}

func subjects(users []string) []obj {
	out := []obj{}
	for _, u := range users {
		out = append(out, obj{"@odata.type": "#microsoft.graph.singleUser", "userId": u})
	}
	return out
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
