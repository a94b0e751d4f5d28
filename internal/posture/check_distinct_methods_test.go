package posture

import (
	"testing"

	"breakglass/internal/graph/collect"
)

func TestDistinctMethods(t *testing.T) {
	const id = "distinct-methods"
	bgMethod := func(m AuthMethod) func(*Tenant) {
		return func(t *Tenant) { t.AuthMethods[hBG1] = append(t.AuthMethods[hBG1], m) }
	}
	sameKeyAsAdmin := func(t *Tenant) {
		t.AuthMethods[hBG1] = []AuthMethod{{Type: "passwordAuthenticationMethod"}, {Type: "fido2AuthenticationMethod", Model: "YubiKey 5 NFC FIPS", AAGUID: hKeyAdm}}
	}
	groupAdmin := func(t *Tenant) {
		// alice's eligibility goes; a second admin holds the role through a
		// group, with the break-glass key model.
		t.EligibilitySchedules = nil
		t.RoleAssignments = append(t.RoleAssignments, RoleAssignment{ID: "ra3", RoleDefinitionID: collect.RoleGlobalAdministrator,
			PrincipalID: "9a000000-0000-4000-8000-000000000001", PrincipalType: "group", DirectoryScopeID: "/"})
		t.GroupMembers["9a000000-0000-4000-8000-000000000001"] = []string{hAdmin2}
		t.Users[hAdmin2] = &User{ID: hAdmin2, UPN: "bob@contoso.com"}
		t.AuthMethods[hAdmin2] = []AuthMethod{{Type: "fido2AuthenticationMethod", AAGUID: hKeyBG}}
	}
	runHandCases(t, id, Options{}, []handCase{
		{name: "compliant", account: hBG1, want: StatusPass, contains: "Distinct from the 1 other"},
		{name: "compliant second account", account: hBG2, want: StatusPass},
		{name: "shares authenticator with an eligible admin", account: hBG1, want: StatusFail, contains: "alice@contoso.com",
			mutate: bgMethod(AuthMethod{Type: "microsoftAuthenticatorAuthenticationMethod"})},
		{name: "same key model warns", account: hBG1, want: StatusWarn, contains: "Same FIDO2 key model", mutate: sameKeyAsAdmin},
		{name: "same key model through a group-held role", account: hBG1, want: StatusWarn, contains: "bob@contoso.com", mutate: groupAdmin},
		{name: "other break-glass account's model is not an admin's", account: hBG1, want: StatusPass,
			mutate: func(t *Tenant) { t.AuthMethods[hBG2] = t.AuthMethods[hBG1] }},
		{name: "key without aaguid warns", account: hBG1, want: StatusWarn, contains: "model unknown",
			mutate: func(t *Tenant) { t.AuthMethods[hBG1] = []AuthMethod{{Type: "fido2AuthenticationMethod"}} }},
		{name: "password only has nothing to compare", account: hBG1, want: StatusSkip,
			mutate: func(t *Tenant) { t.AuthMethods[hBG1] = []AuthMethod{{Type: "passwordAuthenticationMethod"}} }},
		{name: "no other admins", account: hBG1, want: StatusPass, contains: "No other Global Administrator",
			mutate: func(t *Tenant) { t.EligibilitySchedules = nil }},
		{name: "an admin's methods unread", account: hBG1, want: StatusWarn, contains: "could not be read",
			mutate: func(t *Tenant) {
				delete(t.AuthMethods, hAdmin)
				drop(t, collect.ReasonPermission, collect.KeyedName(collect.DatasetAuthMethods, hAdmin))
			}},
		{name: "admin group members unknown", account: hBG1, want: StatusWarn, contains: "could not be read",
			mutate: func(t *Tenant) {
				t.RoleAssignments = append(t.RoleAssignments, RoleAssignment{RoleDefinitionID: collect.RoleGlobalAdministrator,
					PrincipalID: "9a000000-0000-4000-8000-000000000009", PrincipalType: "group"})
			}},
		{name: "own unreadable method warns", account: hBG1, want: StatusWarn, contains: "own methods",
			mutate: bgMethod(AuthMethod{Type: "microsoftAuthenticatorAuthenticationMethod", Invalid: true})},
		{name: "role data refused", account: hBG1, want: StatusSkip, contains: "Global Administrators are",
			mutate: func(t *Tenant) { drop(t, collect.ReasonPermission, collect.DatasetRoleAssignments) }},
		{name: "own methods refused", account: hBG1, want: StatusSkip,
			mutate: func(t *Tenant) {
				delete(t.AuthMethods, hBG1)
				drop(t, collect.ReasonPermission, collect.KeyedName(collect.DatasetAuthMethods, hBG1))
			}},
		{name: "unresolved account is skipped (the accounts check errors)", account: "", want: StatusSkip,
			mutate: func(t *Tenant) {
				t.Accounts = append(t.Accounts, AccountInfo{Entry: "accounts[2] id x", Reason: "not found"})
			}},
	})
}

var distinctFixtureCases = []fixtureCase{
	{name: "distinct-methods-shared-authenticator", check: "distinct-methods", account: fxBG1UPN, want: StatusFail, contains: "alice@contoso.com", dir: true,
		mutate: []mutation{addMethodItem(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
			"id": "b1e00000-0000-4000-8000-0000000000a1", "displayName": "Shared iPad", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.8.7"})}},
	{name: "distinct-methods same key model as an eligible admin", check: "distinct-methods", account: fxBG2UPN, want: StatusWarn, contains: "bob@contoso.com",
		mutate: []mutation{addMethodItem(fxBob, map[string]any{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
			"id": "b0b0f1d0-0000-4000-8000-000000000001", "displayName": "Bob's key", "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a", "model": "YubiKey 5 NFC"})}},
	// Carol is Privileged Role Administrator, not Global Administrator: her
	// key model is not compared.
	{name: "distinct-methods PRA key model is not compared", check: "distinct-methods", account: fxBG1UPN, want: StatusPass,
		mutate: []mutation{withMethods(fxBG1, func(items []any) []any {
			for _, it := range items {
				if m, _ := it.(map[string]any); m["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod" {
					m["aaGuid"] = "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3"
				}
			}
			return items
		})}},
}

func init() { allFixtureCases = append(allFixtureCases, distinctFixtureCases...) }

func TestDistinctMethodsFixtures(t *testing.T) { runFixtureCases(t, distinctFixtureCases) }
