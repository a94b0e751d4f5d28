package report

import (
	"time"

	"breakglass/internal/posture"
)

// sampleReport is a realistic audit: three configured entries (one
// compliant account, one broken, one that did not resolve), tenant-wide
// results, every status, an accepted and an expired exception, and text
// that every format must escape (Markdown pipes and emphasis, XML and HTML
// specials, a terminal escape sequence, a line break).
func sampleReport() *posture.Report {
	gen := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	collected := gen.Add(-10 * time.Minute)
	expires := time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC)
	expired := time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC)
	const (
		bg1 = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
		bg2 = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
		u1  = "bg-admin1@contoso.onmicrosoft.com"
		u2  = "bg-admin2@contoso.onmicrosoft.com"
		u3  = "emergency@contoso.onmicrosoft.com"
	)
	a1 := &posture.AccountInfo{Entry: "accounts[0] id " + bg1, ID: bg1, UPN: u1, DisplayName: "Break glass 1", Resolved: true}
	a2 := &posture.AccountInfo{Entry: "accounts[1] id " + bg2, ID: bg2, UPN: u2, DisplayName: "Break glass 2", Resolved: true}
	a3 := &posture.AccountInfo{Entry: "accounts[2] upn " + u3, UPN: u3, Resolved: false, Reason: "no user with this UPN (404 Request_ResourceNotFound)"}

	cloud := posture.Info{ID: "cloud-only", Title: "Cloud-only account", Severity: posture.SeverityCritical, Requirements: []string{"R2"},
		Rationale: "A synchronised account fails with the on-premises directory it depends on (R2)."}
	ga := posture.Info{ID: "permanent-global-admin", Title: "Permanent, direct Global Administrator", Severity: posture.SeverityCritical, Requirements: []string{"R4"},
		Rationale: "An eligible or time-bound role needs PIM to work on the worst day (R4)."}
	phish := posture.Info{ID: "phishing-resistant-credential", Title: "Phishing-resistant credential", Severity: posture.SeverityHigh, Requirements: []string{"R6", "R7"},
		Rationale: "A FIDO2 key or certificate survives phishing and MFA outages (R6, R7)."}
	expiry := posture.Info{ID: "password-expiry", Title: "Password never expires", Severity: posture.SeverityMedium, Requirements: []string{"R11"},
		Rationale: "An expired password locks the account out when it is needed (R11)."}
	signin := posture.Info{ID: "last-sign-in", Title: "Sign-in drilled recently", Severity: posture.SeverityLow, Requirements: []string{"R15"},
		Rationale: "An untested account may not work (R15)."}
	accounts := posture.Info{ID: "accounts", Title: "Break-glass accounts configured and resolved", Severity: posture.SeverityCritical, Requirements: []string{"R1"},
		Rationale: "Two or more working accounts, so one lost credential is not a lockout (R1)."}
	count := posture.Info{ID: "global-admin-count", Title: "Number of Global Administrators", Severity: posture.SeverityMedium, Requirements: []string{"R18"},
		Rationale: "CIS wants 2 to 4, CISA 2 to 8 (R18)."}
	ca := posture.Info{ID: "conditional-access", Title: "Conditional Access exclusions", Severity: posture.SeverityHigh, Requirements: []string{"R8", "R9"},
		Rationale: "A policy that blocks the account blocks the way back in (R8, R9)."}

	fixCloud := posture.Remediation{
		Summary:    "Recreate the account cloud-only on the initial domain; a synchronised account cannot be converted safely.",
		Portal:     "Entra admin center > Identity > Users > All users > New user",
		Graph:      `POST https://graph.microsoft.com/v1.0/users {"accountEnabled":true,"userPrincipalName":"bg-admin3@contoso.onmicrosoft.com"}`,
		PowerShell: "New-MgUser -AccountEnabled -UserPrincipalName bg-admin3@contoso.onmicrosoft.com -DisplayName 'Break glass 3'",
	}
	fixExpiry := posture.Remediation{
		Summary:    "Set the password to never expire.",
		Portal:     "Entra admin center > Identity > Users > All users > (account) > Properties",
		Graph:      `PATCH https://graph.microsoft.com/v1.0/users/` + bg2 + ` {"passwordPolicies":"DisablePasswordExpiration"}`,
		PowerShell: "Update-MgUser -UserId " + bg2 + " -PasswordPolicies DisablePasswordExpiration",
	}

	var rs []posture.Result
	add := func(r posture.Result, ev []posture.Evidence, fix posture.Remediation) {
		if ev != nil {
			r.Evidence = ev
		}
		r.Remediation = fix
		rs = append(rs, r)
	}
	usersSrc := "breakglass_users: GET /v1.0/users/{id}"

	add(accounts.Result(nil, posture.StatusError, "1 of 3 configured entries does not resolve: accounts[2] upn %s", u3),
		[]posture.Evidence{{Object: "accounts[2] upn " + u3, Field: "resolved", Value: false, Source: "manifest.json: unresolved", Note: "no user with this UPN"}},
		posture.Remediation{Summary: "Fix the UPN in accounts[2], or remove the entry if the account was deleted on purpose."})
	add(count.Result(nil, posture.StatusWarn, "9 Global Administrators: above CIS (2–4) and CISA (2–8) bounds"),
		[]posture.Evidence{{Object: "directoryRole Global Administrator", Field: "count", Value: 9, Source: "role_assignments: GET /v1.0/roleManagement/directory/roleAssignments"}},
		posture.Remediation{Summary: "Move day-to-day admins to least-privileged roles.", Portal: "Entra admin center > Identity > Roles & admins > Global Administrator"})

	add(cloud.Result(a1, posture.StatusPass, "Cloud-only: onPremisesSyncEnabled is null and onPremisesImmutableId is empty."),
		[]posture.Evidence{{Object: "user " + u1, Field: "onPremisesSyncEnabled", Value: nil, Source: usersSrc, Note: "null: never synced"}}, posture.Remediation{})
	add(ga.Result(a1, posture.StatusPass, "Global Administrator held directly, active, no end date."),
		[]posture.Evidence{{Object: "roleAssignmentSchedule 9a1f (Global Administrator)", Field: "scheduleInfo.expiration.type", Value: "noExpiration", Source: "role_assignment_schedules: GET /v1.0/roleManagement/directory/roleAssignmentSchedules"}}, posture.Remediation{})
	add(phish.Result(a1, posture.StatusPass, "FIDO2 passkey registered (YubiKey 5 NFC)."),
		[]posture.Evidence{{Object: "fido2AuthenticationMethod YubiKey 5 NFC", Field: "aaGuid", Value: "cb69481e-8ff7-4039-93ec-0a2729a154a8", Source: "auth_methods." + bg1 + ": GET /v1.0/users/{id}/authentication/methods"}}, posture.Remediation{})
	add(expiry.Result(a1, posture.StatusPass, "passwordPolicies is DisablePasswordExpiration."),
		[]posture.Evidence{{Object: "user " + u1, Field: "passwordPolicies", Value: "DisablePasswordExpiration", Source: usersSrc}}, posture.Remediation{})
	add(signin.Result(a1, posture.StatusSkip, "signInActivity unavailable: GET /v1.0/users/{id} needs a licence the tenant lacks (403 Authentication_RequestFromNonPremiumTenantOrB2CTenant): Entra ID P1"),
		[]posture.Evidence{}, posture.Remediation{})
	add(ca.Result(a1, posture.StatusPass, "Excluded from all 4 enabled policies that can target users."),
		[]posture.Evidence{{Object: "conditionalAccessPolicy Require MFA | all users (5e1f…)", Field: "conditions.users.excludeGroups", Value: []any{"0b7e…"}, Source: "conditional_access_policies: GET /v1.0/identity/conditionalAccess/policies"}}, posture.Remediation{})

	r := cloud.Result(a2, posture.StatusFail, "Synchronised from on-premises: onPremisesSyncEnabled is true.")
	add(r, []posture.Evidence{
		{Object: "user " + u2, Field: "onPremisesSyncEnabled", Value: true, Source: usersSrc},
		{Object: "user " + u2, Field: "onPremisesImmutableId", Value: "AbC+dEf/1g==", Source: usersSrc},
	}, fixCloud)
	add(ga.Result(a2, posture.StatusFail, "Global Administrator is eligible only (PIM): it must be activated first, and activation needs MFA."),
		[]posture.Evidence{{Object: "roleEligibilitySchedule 77c0 (Global Administrator)", Field: "memberType", Value: "Direct", Source: "role_eligibility_schedules: GET /v1.0/roleManagement/directory/roleEligibilitySchedules"}},
		posture.Remediation{Summary: "Assign Global Administrator as active and permanent.", Portal: "Entra admin center > Identity Governance > Privileged Identity Management > Microsoft Entra roles > Assignments",
			Graph: `POST https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignmentScheduleRequests {"action":"adminAssign","principalId":"` + bg2 + `","roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","directoryScopeId":"/","scheduleInfo":{"expiration":{"type":"noExpiration"}}}`})
	acc := phish.Result(a2, posture.StatusAccepted, "accepted by alice@contoso.com until 2026-06-30: FIDO2 keys ordered, arrive in May")
	acc.Exception = &posture.Exception{Check: "phishing-resistant-credential", Account: u2, Reason: "FIDO2 keys ordered, arrive in May", AcceptedBy: "alice@contoso.com", Expires: expires, Where: "breakglass.yaml:31"}
	add(acc, []posture.Evidence{{Object: "user " + u2, Field: "authentication/methods", Value: []any{"passwordAuthenticationMethod", "microsoftAuthenticatorAuthenticationMethod"}, Source: "auth_methods." + bg2 + ": GET /v1.0/users/{id}/authentication/methods", Note: "no fido2AuthenticationMethod; no certificateUserIds"}},
		posture.Remediation{Summary: "Register two FIDO2 keys and store them apart.", Portal: "My Security Info > Add sign-in method > Security key"})
	exp := expiry.Result(a2, posture.StatusFail, "Password expires (passwordPolicies is null); exception expired on 2026-01-31.")
	exp.Exception = &posture.Exception{Check: "password-expiry", Account: bg2, Reason: "rotation <policy> & \"legal\" review", AcceptedBy: "bob@contoso.com", Expires: expired, Expired: true, Where: "breakglass.yaml:37"}
	add(exp, []posture.Evidence{{Object: "user " + u2, Field: "passwordPolicies", Value: nil, Source: usersSrc, Note: "null: the tenant's expiry policy applies"}}, fixExpiry)
	add(signin.Result(a2, posture.StatusSkip, "signInActivity unavailable: GET /v1.0/users/{id} needs a licence the tenant lacks (403 Authentication_RequestFromNonPremiumTenantOrB2CTenant): Entra ID P1"),
		[]posture.Evidence{}, posture.Remediation{})
	add(ca.Result(a2, posture.StatusFail, "Not excluded from 1 enabled policy: Block legacy | *all* `users` <script>\x1b[31m\nsecond line"),
		[]posture.Evidence{{Object: "conditionalAccessPolicy Block legacy | *all* `users` <script> (aa01…)", Field: "conditions.users.excludeUsers", Value: []any{}, Source: "conditional_access_policies: GET /v1.0/identity/conditionalAccess/policies"}},
		posture.Remediation{Summary: "Exclude the account (or its exclusion group) from the policy.", Portal: "Entra admin center > Protection > Conditional Access > Policies > (policy) > Users > Exclude",
			Graph: "PATCH https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/aa01 {\"conditions\":{\"users\":{\"excludeGroups\":[\"0b7e…\"]}}}", PowerShell: "```\nUpdate-MgIdentityConditionalAccessPolicy -ConditionalAccessPolicyId aa01 -BodyParameter $body\n```"})

	add(cloud.Result(a3, posture.StatusError, "accounts[2] upn %s does not resolve: no user with this UPN (404 Request_ResourceNotFound)", u3),
		[]posture.Evidence{}, posture.Remediation{Summary: "Fix the UPN in accounts[2] or remove the entry."})

	return &posture.Report{
		Tenant:                posture.TenantInfo{ID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", DisplayName: "Contoso", InitialDomain: "contoso.onmicrosoft.com"},
		Generated:             gen,
		Source:                "snapshot examples/snapshot",
		Collected:             collected,
		ConditionalAccessMode: posture.CAModeExcludeAll,
		ToolVersion:           "1.2.3",
		Accounts:              []posture.AccountInfo{*a1, *a2, *a3},
		Summary:               posture.Summarize(rs),
		Results:               rs,
		Exceptions: []posture.ExceptionUse{
			{Exception: *acc.Exception, Matched: 1},
			{Exception: *exp.Exception, Matched: 1},
			{Exception: posture.Exception{Check: "last-sign-in", Reason: "drills paused", AcceptedBy: "carol@contoso.com", Expires: expires, Where: "breakglass.yaml:43"}, Matched: 0},
		},
	}
}
