package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"breakglass/internal/posture"
)

// checkDef is what a check contributes to each of its results.
type checkDef struct {
	title     string
	severity  posture.Severity
	reqs      []string
	rationale string
	fix       posture.Remediation
}

var sampleChecks = map[string]checkDef{
	"accounts": {"Break-glass accounts exist and are enabled", posture.SeverityCritical, []string{"R1"},
		"Microsoft asks for two or more emergency access accounts; an account that is missing or disabled cannot be used on the day it is needed.",
		posture.Remediation{Summary: "Create the account, or correct its id or UPN under accounts: in the configuration.", Portal: "Entra admin center > Identity > Users > All users > New user"}},
	"cloud-only": {"Cloud-only, not synchronised from on-premises", posture.SeverityHigh, []string{"R2", "R13"},
		"A synchronised account fails with the on-premises directory or the sync service, exactly when break-glass access is needed.",
		posture.Remediation{Summary: "Create a new cloud-only account on the initial domain and remove this one from the break-glass list; a synchronised account cannot be converted safely.",
			Portal: "Entra admin center > Identity > Users > All users > New user > Create new user"}},
	"initial-domain": {"UPN on the initial onmicrosoft.com domain", posture.SeverityHigh, []string{"R3", "R13"},
		"A federated or custom domain depends on an identity provider or DNS that may be the thing that failed.", posture.Remediation{}},
	"permanent-global-admin": {"Permanent, direct Global Administrator", posture.SeverityHigh, []string{"R4", "R5"},
		"An eligible or time-bound assignment needs PIM activation, which can itself be what is broken.",
		posture.Remediation{Summary: "Assign Global Administrator directly, active, with no end date.",
			Portal:     "Entra admin center > Identity governance > Privileged Identity Management > Microsoft Entra roles > Roles > Global Administrator > Add assignments (Active, Permanently assigned)",
			Graph:      `POST https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments {"principalId":"{id}","roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","directoryScopeId":"/"}`,
			PowerShell: `New-MgRoleManagementDirectoryRoleAssignment -PrincipalId "{id}" -RoleDefinitionId "62e90394-69f5-4237-9190-012177145e10" -DirectoryScopeId "/"`}},
	"phishing-resistant-credential": {"Phishing-resistant credential registered", posture.SeverityHigh, []string{"R6"},
		"Passwords can be phished and sprayed; a FIDO2 passkey or certificate keeps the account usable and safe.",
		posture.Remediation{Summary: "Register a FIDO2 security key for the account (keep it in the safe with the account's record).",
			Portal: "Entra admin center > Identity > Users > All users > (account) > Authentication methods > Add authentication method > Passkey (FIDO2)"}},
	"no-personal-methods": {"No methods tied to a person", posture.SeverityHigh, []string{"R10", "R11"},
		"A phone or mailbox of one employee makes the account unusable when that person is away and lets them use it alone.",
		posture.Remediation{Summary: "Delete the phone method.",
			Graph:      "DELETE https://graph.microsoft.com/v1.0/users/7a1e2c44-90b1-4f0e-9a55-3be1c2d4e5f6/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7",
			PowerShell: `Remove-MgUserAuthenticationPhoneMethod -UserId "7a1e2c44-90b1-4f0e-9a55-3be1c2d4e5f6" -PhoneAuthenticationMethodId "3179e48a-750b-4051-897c-87b9720928f7"`}},
	"distinct-methods": {"Credentials differ from other admins'", posture.SeverityMedium, []string{"R8"},
		"If the break-glass keys are the same model as everyday admin keys, one vendor flaw or recall locks everybody out.", posture.Remediation{}},
	"conditional-access": {"Conditional Access (exclude-all)", posture.SeverityHigh, []string{"R7", "R19"},
		"A policy that blocks or demands a device the break-glass account does not have locks the tenant out when the policy is wrong.",
		posture.Remediation{Summary: "Add the break-glass exclusion group to the policy's excluded users.",
			Portal:     "Entra admin center > Protection > Conditional Access > Policies > Require compliant device for admins > Users > Exclude",
			Graph:      `PATCH https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/5e1f0b7a-2c3d-4e5f-8a9b-0c1d2e3f4a5b {"conditions":{"users":{"excludeGroups":["9b8c7d6e-5f4a-4b3c-a2d1-e0f9a8b7c6d5"]}}}`,
			PowerShell: `Update-MgIdentityConditionalAccessPolicy -ConditionalAccessPolicyId "5e1f0b7a-2c3d-4e5f-8a9b-0c1d2e3f4a5b" -BodyParameter @{ conditions = @{ users = @{ excludeGroups = @("9b8c7d6e-5f4a-4b3c-a2d1-e0f9a8b7c6d5") } } }`}},
	"exclusion-group": {"Exclusion group is protected", posture.SeverityHigh, []string{"R19"},
		"Whoever can edit the exclusion group can exclude any account from Conditional Access.", posture.Remediation{}},
	"inactivity-cleanup": {"Not in scope of inactivity cleanup", posture.SeverityMedium, []string{"R9"},
		"A break-glass account is inactive by design; a cleanup workflow would disable it.",
		posture.Remediation{Summary: "Grant LifecycleWorkflows.Read.All and AccessReview.Read.All to the audit app, or check the workflows by hand."}},
	"password-expiry": {"Password never expires", posture.SeverityLow, []string{"R9"},
		"An expired password is discovered at the worst moment.",
		posture.Remediation{Summary: "Set the password to never expire.",
			Graph:      `PATCH https://graph.microsoft.com/v1.0/users/7a1e2c44-90b1-4f0e-9a55-3be1c2d4e5f6 {"passwordPolicies":"DisablePasswordExpiration"}`,
			PowerShell: `Update-MgUser -UserId "7a1e2c44-90b1-4f0e-9a55-3be1c2d4e5f6" -PasswordPolicies "DisablePasswordExpiration"`}},
	"pim-lockout": {"PIM activation cannot lock the tenant out", posture.SeverityMedium, []string{"R5"},
		"Approval with no approver left means nobody can become Global Administrator.",
		posture.Remediation{Summary: "License Entra ID P2 or Governance, or review the Global Administrator activation settings by hand.",
			Portal: "Entra admin center > Identity governance > Privileged Identity Management > Microsoft Entra roles > Settings > Global Administrator"}},
	"last-sign-in": {"Signed in within the drill interval", posture.SeverityMedium, []string{"R17"},
		"Microsoft asks to validate the accounts at least every 90 days; an untested account may not work.",
		posture.Remediation{Summary: "Run a break-glass drill: sign in with the account, check access, record the drill."}},
	"global-admin-count": {"Number of Global Administrators", posture.SeverityInfo, nil,
		"CIS asks for 2 to 4 Global Administrators, CISA for 2 to 8: more is more attack surface.",
		posture.Remediation{Summary: "Move Global Administrators who do not need it to a least-privileged role."}},
}

var checkOrder = []string{"accounts", "cloud-only", "initial-domain", "permanent-global-admin", "phishing-resistant-credential",
	"no-personal-methods", "distinct-methods", "conditional-access", "exclusion-group", "inactivity-cleanup", "password-expiry",
	"pim-lockout", "last-sign-in", "global-admin-count"}

func mkResult(check string, a *posture.AccountInfo, st posture.Status, msg string, ev ...posture.Evidence) posture.Result {
	d, ok := sampleChecks[check]
	if !ok {
		panic("unknown sample check " + check)
	}
	info := posture.Info{ID: check, Title: d.title, Severity: d.severity, Requirements: d.reqs, Rationale: d.rationale}
	r := info.Result(a, st, "%s", msg)
	r.Evidence = append(r.Evidence, ev...)
	r.Remediation = d.fix
	return r
}

func ev(object, field string, value any, source string) posture.Evidence {
	return posture.Evidence{Object: object, Field: field, Value: value, Source: source}
}

// htmlSampleReport is a realistic audit: one compliant account, one broken
// with an expired exception, one that does not resolve, one from a group
// that warns, tenant-wide checks with every status, and an unused
// exception.
func htmlSampleReport() *posture.Report {
	gen := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	good := posture.AccountInfo{Entry: "accounts[0] upn bg-admin01@contoso.onmicrosoft.com", ID: "0d3c9a51-6f2e-4b7d-9c1a-52e8f0b4a7d3",
		UPN: "bg-admin01@contoso.onmicrosoft.com", DisplayName: "Break Glass 01", Resolved: true}
	bad := posture.AccountInfo{Entry: "accounts[1] id 7a1e2c44-90b1-4f0e-9a55-3be1c2d4e5f6", ID: "7a1e2c44-90b1-4f0e-9a55-3be1c2d4e5f6",
		UPN: "emergency.access.second.account.for.contoso.headquarters@contoso.onmicrosoft.com", DisplayName: "Emergency Access (second)", Resolved: true}
	gone := posture.AccountInfo{Entry: "accounts[2] upn bg-admin03@contoso.onmicrosoft.com", UPN: "bg-admin03@contoso.onmicrosoft.com",
		Resolved: false, Reason: "no user with this UPN in breakglass_users (deleted, renamed, or a typo in the configuration)"}
	grp := posture.AccountInfo{Entry: "accounts[3] group 9b8c7d6e-5f4a-4b3c-a2d1-e0f9a8b7c6d5", ID: "c4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70",
		UPN: "bg-ops@contoso.onmicrosoft.com", DisplayName: "Break Glass Ops", Resolved: true}

	usersSrc := "breakglass_users: GET /v1.0/users/{id}"
	var rs []posture.Result
	add := func(r posture.Result) { rs = append(rs, r) }

	for _, a := range []*posture.AccountInfo{&good, &bad, &grp} {
		add(mkResult("accounts", a, posture.StatusPass, "The account resolves and is enabled.",
			ev("user "+a.UPN, "accountEnabled", true, usersSrc)))
	}
	add(mkResult("accounts", &gone, posture.StatusError, "accounts[2] names no existing user: bg-admin03@contoso.onmicrosoft.com was not found.",
		ev("configuration", "accounts[2].upn", "bg-admin03@contoso.onmicrosoft.com", "breakglass.yaml:14")))

	// The compliant account.
	add(mkResult("cloud-only", &good, posture.StatusPass, "Cloud-only: never synchronised.",
		ev("user bg-admin01@contoso.onmicrosoft.com", "onPremisesSyncEnabled", nil, usersSrc),
		posture.Evidence{Object: "user bg-admin01@contoso.onmicrosoft.com", Field: "onPremisesImmutableId", Source: usersSrc, Note: "absent: never synced"}))
	add(mkResult("initial-domain", &good, posture.StatusPass, "On contoso.onmicrosoft.com, the initial managed domain.",
		ev("domain contoso.onmicrosoft.com", "authenticationType", "Managed", "domains: GET /v1.0/domains")))
	add(mkResult("permanent-global-admin", &good, posture.StatusPass, "Global Administrator, direct, active, permanent.",
		ev("roleAssignmentSchedule 4f1c…", "scheduleInfo.expiration.type", "noExpiration", "role_assignment_schedules: GET /v1.0/roleManagement/directory/roleAssignmentSchedules")))
	add(mkResult("phishing-resistant-credential", &good, posture.StatusPass, "A FIDO2 passkey is registered (YubiKey 5 NFC).",
		ev("fido2AuthenticationMethod 9d2e…", "aaGuid", "2fc0579f-8113-47ea-b116-bb5a8db9202a", "auth_methods.0d3c9a51: GET /v1.0/users/{id}/authentication/methods")))
	add(mkResult("no-personal-methods", &good, posture.StatusPass, "Only the password and a FIDO2 passkey are registered.",
		ev("user bg-admin01@contoso.onmicrosoft.com", "methods", []string{"password", "fido2"}, "auth_methods.0d3c9a51")))
	add(mkResult("distinct-methods", &good, posture.StatusAccepted, "The passkey model (AAGUID 2fc0579f…) is also used by 3 other Global Administrators.",
		ev("fido2AuthenticationMethod 9d2e…", "aaGuid", "2fc0579f-8113-47ea-b116-bb5a8db9202a", "auth_methods.0d3c9a51")))
	rs[len(rs)-1].Exception = &posture.Exception{Check: "distinct-methods", Account: "bg-admin01@contoso.onmicrosoft.com",
		Reason: "Second key model on order (PO 4471), due January", AcceptedBy: "j.doe@contoso.com",
		Expires: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), Where: "breakglass.yaml:31"}
	add(mkResult("conditional-access", &good, posture.StatusPass, "Excluded from all 23 enabled or report-only policies that can target users (through group BG-Exclusions).",
		ev("conditionalAccessPolicy Require MFA for all users (1a2b…)", "conditions.users.excludeGroups", []string{"9b8c7d6e-5f4a-4b3c-a2d1-e0f9a8b7c6d5"}, "conditional_access_policies: GET /v1.0/identity/conditionalAccess/policies")))
	add(mkResult("password-expiry", &good, posture.StatusPass, "The password never expires.",
		ev("user bg-admin01@contoso.onmicrosoft.com", "passwordPolicies", "DisablePasswordExpiration", usersSrc)))
	add(mkResult("last-sign-in", &good, posture.StatusPass, "Last successful sign-in 2026-10-14, 48 days ago (drill interval 90 days).",
		ev("user bg-admin01@contoso.onmicrosoft.com", "signInActivity.lastSuccessfulSignInDateTime", "2026-10-14T09:12:44Z", usersSrc)))

	// The broken account.
	add(mkResult("cloud-only", &bad, posture.StatusFail, "Synchronised from on-premises Active Directory: onPremisesSyncEnabled is true.",
		ev("user "+bad.UPN+" ("+bad.ID+")", "onPremisesSyncEnabled", true, usersSrc),
		ev("user "+bad.UPN+" ("+bad.ID+")", "onPremisesImmutableId", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==", usersSrc)))
	add(mkResult("initial-domain", &bad, posture.StatusPass, "On contoso.onmicrosoft.com, the initial managed domain.",
		ev("domain contoso.onmicrosoft.com", "authenticationType", "Managed", "domains: GET /v1.0/domains")))
	add(mkResult("permanent-global-admin", &bad, posture.StatusFail, "Global Administrator is eligible only (PIM): it must be activated, which needs PIM to work.",
		ev("roleEligibilitySchedule 8e7d…", "memberType", "Direct", "role_eligibility_schedules: GET /v1.0/roleManagement/directory/roleEligibilitySchedules"),
		ev("roleEligibilitySchedule 8e7d…", "scheduleInfo.expiration", map[string]any{"type": "afterDateTime", "endDateTime": "2027-03-01T00:00:00Z"}, "role_eligibility_schedules")))
	add(mkResult("phishing-resistant-credential", &bad, posture.StatusFail, "No FIDO2 passkey and no certificate-based authentication evidence: only password and phone.",
		ev("user "+bad.UPN, "methods", []string{"password", "phone"}, "auth_methods.7a1e2c44")))
	add(mkResult("no-personal-methods", &bad, posture.StatusFail, "A mobile phone (+1 555 01xx) is registered: it belongs to one person.",
		ev("phoneAuthenticationMethod 3179e48a…", "phoneType", "mobile", "auth_methods.7a1e2c44"),
		ev("userRegistrationDetails "+bad.UPN, "isSsprRegistered", true, "user_registration_details: GET /v1.0/reports/authenticationMethods/userRegistrationDetails")))
	add(mkResult("distinct-methods", &bad, posture.StatusPass, "No FIDO2 key to compare; the phone method is judged by no-personal-methods."))
	add(mkResult("conditional-access", &bad, posture.StatusFail, "Not excluded from 1 of 23 policies: Require compliant device for admins (enabled, grant: compliantDevice).",
		ev("conditionalAccessPolicy Require compliant device for admins (5e1f0b7a…)", "conditions.users.includeRoles", []string{"62e90394-69f5-4237-9190-012177145e10"}, "conditional_access_policies"),
		ev("conditionalAccessPolicy Require compliant device for admins (5e1f0b7a…)", "conditions.users.excludeGroups", []string{}, "conditional_access_policies")))
	add(mkResult("password-expiry", &bad, posture.StatusFail, "The password expires: passwordPolicies does not contain DisablePasswordExpiration.",
		posture.Evidence{Object: "user " + bad.UPN, Field: "passwordPolicies", Value: nil, Source: usersSrc, Note: "null: the tenant's expiry policy applies (90 days)"}))
	rs[len(rs)-1].Exception = &posture.Exception{Check: "password-expiry", Account: bad.ID,
		Reason: "Rotated by hand every quarter until the new account replaces it", AcceptedBy: "a.smith@contoso.com",
		Expires: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Expired: true, Where: "breakglass.yaml:37"}
	rs[len(rs)-1].Message += " The exception for it expired on 2026-11-01."
	add(mkResult("last-sign-in", &bad, posture.StatusFail, "Never signed in successfully: no drill on record.",
		posture.Evidence{Object: "user " + bad.UPN, Field: "signInActivity.lastSuccessfulSignInDateTime", Value: nil, Source: usersSrc, Note: "absent: never"}))

	// The group member.
	add(mkResult("cloud-only", &grp, posture.StatusPass, "Cloud-only: never synchronised.",
		ev("user bg-ops@contoso.onmicrosoft.com", "onPremisesSyncEnabled", false, usersSrc)))
	add(mkResult("permanent-global-admin", &grp, posture.StatusPass, "Global Administrator, direct, active, permanent."))
	add(mkResult("phishing-resistant-credential", &grp, posture.StatusPass, "Certificate-based authentication: 1 certificate user id.",
		ev("user bg-ops@contoso.onmicrosoft.com", "authorizationInfo.certificateUserIds", []string{"X509:<SKI>4b1f9e…"}, "certificate_user_ids (beta)")))
	add(mkResult("conditional-access", &grp, posture.StatusPass, "Excluded from all 23 policies that can target users."))
	add(mkResult("last-sign-in", &grp, posture.StatusWarn, "Last successful sign-in 2026-09-08, 84 days ago: the 90-day drill is due within a week.",
		ev("user bg-ops@contoso.onmicrosoft.com", "signInActivity.lastSuccessfulSignInDateTime", "2026-09-08T21:03:10Z", usersSrc)))
	add(mkResult("last-sign-in", &gone, posture.StatusSkip, "Not checked: the account does not resolve (see accounts)."))

	// Tenant-wide.
	add(mkResult("accounts", nil, posture.StatusPass, "4 accounts are configured (3 resolve); at least 2 are required.",
		ev("configuration", "accounts", 4, "breakglass.yaml")))
	add(mkResult("exclusion-group", nil, posture.StatusFail, "Group BG-Exclusions is not role-assignable and not in a restricted management administrative unit: any Groups Administrator can add members.",
		ev("group BG-Exclusions (9b8c7d6e-5f4a-4b3c-a2d1-e0f9a8b7c6d5)", "isAssignableToRole", false, "groups: GET /v1.0/groups/{id}"),
		ev("group BG-Exclusions (9b8c7d6e-5f4a-4b3c-a2d1-e0f9a8b7c6d5)", "members", 3, "group_members.9b8c7d6e")))
	add(mkResult("inactivity-cleanup", nil, posture.StatusSkip,
		"lifecycle_workflows unavailable: GET /beta/identityGovernance/lifecycleWorkflows/workflows needs a licence the tenant lacks (403 AuthorizationFailed): Entra ID Governance"))
	add(mkResult("pim-lockout", nil, posture.StatusSkip,
		"role_management_policies unavailable: GET /v1.0/policies/roleManagementPolicyAssignments was refused (403 Authorization_RequestDenied): grant Policy.Read.All"))
	add(mkResult("global-admin-count", nil, posture.StatusWarn, "9 Global Administrators: above the CISA bound (2–8) and the CIS bound (2–4).",
		ev("directoryRole Global Administrator", "members", 9, "role_assignments: GET /v1.0/roleManagement/directory/roleAssignments")))

	rep := &posture.Report{
		Tenant:                posture.TenantInfo{ID: "3f6a1b2c-4d5e-4f60-8a7b-9c0d1e2f3a4b", DisplayName: "Contoso Ltd", InitialDomain: "contoso.onmicrosoft.com"},
		Generated:             gen,
		Source:                "snapshot /var/lib/breakglass/snapshots/2026-12-01T0542Z",
		Collected:             gen.Add(-18 * time.Minute),
		ConditionalAccessMode: posture.CAModeExcludeAll,
		ToolVersion:           "v0.9.0",
		Accounts:              []posture.AccountInfo{good, bad, gone, grp},
		Results:               rs,
		Exceptions: []posture.ExceptionUse{
			{Exception: *rs[slices.IndexFunc(rs, func(r posture.Result) bool { return r.Check == "distinct-methods" && r.Exception != nil })].Exception, Matched: 1},
			{Exception: *rs[slices.IndexFunc(rs, func(r posture.Result) bool { return r.Check == "password-expiry" && r.Exception != nil })].Exception, Matched: 1},
			{Exception: posture.Exception{Check: "global-admin-count", Reason: "Merger: two admin teams until Q1", AcceptedBy: "ciso@contoso.com",
				Expires: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), Where: "breakglass.yaml:43"}, Matched: 0},
		},
	}
	rep.Summary = posture.Summarize(rep.Results)
	return rep
}

// htmlAllPassReport is a tenant with nothing to fix.
func htmlAllPassReport() *posture.Report {
	a := posture.AccountInfo{Entry: "accounts[0] upn bg1@fabrikam.onmicrosoft.com", ID: "11111111-2222-4333-8444-555555555555", UPN: "bg1@fabrikam.onmicrosoft.com", Resolved: true}
	b := posture.AccountInfo{Entry: "accounts[1] upn bg2@fabrikam.onmicrosoft.com", ID: "66666666-7777-4888-9999-000000000000", UPN: "bg2@fabrikam.onmicrosoft.com", Resolved: true}
	var rs []posture.Result
	for _, acc := range []*posture.AccountInfo{&a, &b} {
		rs = append(rs, mkResult("accounts", acc, posture.StatusPass, "The account resolves and is enabled."),
			mkResult("cloud-only", acc, posture.StatusPass, "Cloud-only: never synchronised."))
	}
	rs = append(rs, mkResult("global-admin-count", nil, posture.StatusPass, "3 Global Administrators: within the CIS (2–4) and CISA (2–8) bounds."))
	rep := &posture.Report{
		Tenant:    posture.TenantInfo{ID: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", DisplayName: "Fabrikam"},
		Generated: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC), Collected: time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC),
		Source: "Microsoft Graph (live)", ConditionalAccessMode: posture.CAModeBoth,
		Accounts: []posture.AccountInfo{a, b}, Results: rs,
	}
	rep.Summary = posture.Summarize(rs)
	return rep
}

func renderPage(t testing.TB, rep *posture.Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := renderHTML(&buf, rep); err != nil {
		t.Fatalf("renderHTML: %v", err)
	}
	return buf.Bytes()
}

func TestHTMLGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *posture.Report
	}{
		{"sample", htmlSampleReport()},
		{"allpass", htmlAllPassReport()},
		{"empty", &posture.Report{}},
		// The report every other format's golden uses, with text each
		// format must escape.
		{"shared", sampleReport()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderPage(t, tc.rep)
			path := filepath.Join("testdata", "html-"+tc.name+".golden.html")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update if intended); first difference at byte %d", path, firstDiff(got, want))
			}
			// Deterministic: a second rendering is byte for byte the same.
			if again := renderPage(t, tc.rep); !bytes.Equal(got, again) {
				t.Errorf("two renderings differ at byte %d", firstDiff(got, again))
			}
		})
	}
}

// TestHTMLRegistered: --format html reaches this renderer.
func TestHTMLRegistered(t *testing.T) {
	if _, ok := Lookup("html"); !ok {
		t.Fatalf("html is not registered: %v", Names())
	}
	rep := htmlSampleReport()
	var b bytes.Buffer
	if err := Render(&b, "html", rep, Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), renderPage(t, rep)) {
		t.Error("Render(html) differs from renderHTML")
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// page is the parsed document: elements with their attributes and text.
type page struct{ root *html.Node }

func parsePage(t testing.TB, b []byte) page {
	t.Helper()
	n, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return page{n}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func (p page) each(fn func(*html.Node)) {
	for n := range p.root.Descendants() {
		if n.Type == html.ElementNode {
			fn(n)
		}
	}
}

func (p page) byID(id string) *html.Node {
	var found *html.Node
	p.each(func(n *html.Node) {
		if v, ok := attr(n, "id"); ok && v == id && found == nil {
			found = n
		}
	})
	return found
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// TestHTMLCounts: the page shows the report's summary, every result is on
// the page exactly once, and the failing counts by severity add up.
func TestHTMLCounts(t *testing.T) {
	rep := htmlSampleReport()
	p := parsePage(t, renderPage(t, rep))
	for _, st := range posture.Statuses {
		n := p.byID("count-" + string(st))
		if n == nil {
			t.Fatalf("no #count-%s", st)
		}
		if got, want := text(n), itoa(rep.Summary.Count(st)); got != want {
			t.Errorf("#count-%s = %q, want %s", st, got, want)
		}
	}
	if got := text(p.byID("count-total")); got != itoa(rep.Summary.Total) {
		t.Errorf("#count-total = %q, want %d", got, rep.Summary.Total)
	}
	rendered := map[string]int{}
	anchors := map[string]int{}
	p.each(func(n *html.Node) {
		if st, ok := attr(n, "data-result-status"); ok {
			rendered[st]++
			id, _ := attr(n, "id")
			anchors[id]++
		}
	})
	for _, st := range posture.Statuses {
		if rendered[string(st)] != rep.Summary.Count(st) {
			t.Errorf("%d results rendered with status %s, summary says %d", rendered[string(st)], st, rep.Summary.Count(st))
		}
	}
	for id, n := range anchors {
		if n != 1 {
			t.Errorf("anchor %s used %d times", id, n)
		}
	}
	if len(anchors) != len(rep.Results) {
		t.Errorf("%d result anchors, %d results", len(anchors), len(rep.Results))
	}
	want := map[posture.Severity]int{}
	for _, r := range rep.Results {
		if r.Failing() {
			want[r.Severity]++
		}
	}
	for _, s := range posture.Severities {
		if got := text(p.byID("failing-" + string(s))); got != itoa(want[s]) {
			t.Errorf("#failing-%s = %q, want %d", s, got, want[s])
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestHTMLContent pins what a reader must find: the loud expired exception,
// the unresolved account, skip reasons, fixes in code blocks, the accounts
// worst first, the tenant-wide checks apart.
func TestHTMLContent(t *testing.T) {
	rep := htmlSampleReport()
	out := renderPage(t, rep)
	p := parsePage(t, out)
	s := strings.ReplaceAll(string(out), "<wbr>", "")
	for _, want := range []string{
		"ACTION NEEDED: 9 failing results",
		"EXCEPTION EXPIRED</strong> (2026-11-01, expired 30 days before this audit): this finding is reported again",
		"1 exception has expired: the finding it accepted is reported again.",
		"no longer accepts 1 finding: reported again",
		"NOT RESOLVED:",
		"no user with this UPN in breakglass_users",
		"MATCHED NOTHING",
		"EXPIRES SOON",
		"grant Policy.Read.All",
		"Entra ID Governance",
		"Accepted by j.doe@contoso.com until 2026-12-10",
		"expires in 8 days",
		"expired 30 days before this audit",
		"data 18 minutes old at the audit",
		"Contoso Ltd",
		"2026-12-01 06:00 UTC",
		"2026-12-01 05:42 UTC",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Fix commands are in code blocks.
	var codes []string
	p.each(func(n *html.Node) {
		if c, _ := attr(n, "class"); n.Data == "pre" && c == "code" {
			codes = append(codes, text(n))
		}
	})
	if !slices.ContainsFunc(codes, func(c string) bool { return strings.HasPrefix(c, "PATCH https://graph.microsoft.com/v1.0/users/") }) ||
		!slices.ContainsFunc(codes, func(c string) bool { return strings.HasPrefix(c, "Update-MgUser ") }) {
		t.Errorf("the Graph and PowerShell fixes are not in code blocks: %q", codes)
	}
	// Cards: the order is worst first; the compliant account (an accepted
	// finding) comes last.
	var cards []string
	p.each(func(n *html.Node) {
		if a, ok := attr(n, "data-account"); ok {
			cards = append(cards, a)
		}
	})
	wantCards := []string{
		"emergency.access.second.account.for.contoso.headquarters@contoso.onmicrosoft.com",
		"bg-admin03@contoso.onmicrosoft.com",
		"bg-ops@contoso.onmicrosoft.com",
		"bg-admin01@contoso.onmicrosoft.com",
	}
	if !slices.Equal(cards, wantCards) {
		t.Errorf("cards %q, want %q", cards, wantCards)
	}
	// The first needs-action item is the critical error.
	var first string
	p.each(func(n *html.Node) {
		if c, _ := attr(n, "class"); n.Data == "ol" && c == "action" && first == "" {
			for li := range n.ChildNodes() {
				if li.Type == html.ElementNode {
					first = text(li)
					break
				}
			}
		}
	})
	if !strings.HasPrefix(first, "ERROR CRITICAL Break-glass accounts exist") {
		t.Errorf("first needs-action item %q, want the critical error", first)
	}
	// Tenant-wide results are in their section, not on a card.
	tenant := p.byID("tenant")
	n := 0
	for d := range tenant.Descendants() {
		if _, ok := attr(d, "data-result-status"); ok && d.Type == html.ElementNode {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d results in the tenant-wide section, want 5", n)
	}
}

func TestHTMLVerdicts(t *testing.T) {
	warnOnly := htmlAllPassReport()
	warnOnly.Results[0].Status = posture.StatusSkip
	warnOnly.Summary = posture.Summarize(warnOnly.Results)
	accepted := htmlAllPassReport()
	accepted.Results[1].Status = posture.StatusAccepted
	for _, tc := range []struct {
		name string
		rep  *posture.Report
		want string
	}{
		{"empty", &posture.Report{}, "NO CHECKS RAN"},
		{"pass", htmlAllPassReport(), "ALL CHECKS PASS"},
		{"accepted", accepted, "ALL CHECKS PASS"},
		{"skip", warnOnly, "NO FAILURES, REVIEW THE REST"},
		{"fail", htmlSampleReport(), "ACTION NEEDED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parsePage(t, renderPage(t, tc.rep))
			if got := text(p.byID("verdict")); !strings.Contains(got, tc.want) {
				t.Errorf("verdict %q lacks %q", got, tc.want)
			}
		})
	}
	if got := text(parsePage(t, renderPage(t, accepted)).byID("verdict")); !strings.Contains(got, "1 finding is accepted") {
		t.Errorf("accepted verdict %q does not say a finding is accepted", got)
	}
}

// TestHTMLOddInput: odd but possible reports render without a crash and
// fail closed: an unknown status is counted and shown as such, a result for
// an account the list lacks gets a card, values that are not JSON are
// shown, huge values are cut.
func TestHTMLOddInput(t *testing.T) {
	cycle := map[string]any{}
	cycle["self"] = cycle
	rep := &posture.Report{
		Accounts: []posture.AccountInfo{{Entry: "accounts[0] upn x@y", UPN: "X@y", Resolved: true}},
		Results: []posture.Result{
			{Check: "c1", Status: "maybe", Severity: "urgent", AccountUPN: "x@Y"},
			{Check: "c2", Status: posture.StatusPass, AccountID: "not-listed"},
			{Check: "c3", Status: posture.StatusFail, Severity: posture.SeverityHigh, Evidence: []posture.Evidence{
				{Object: "o", Value: math.NaN()},
				{Object: "o", Value: func() {}},
				{Object: "o", Value: strings.Repeat("é", 5000)},
				{Object: "o", Value: json.RawMessage(`{"a": 1}`)},
				{Object: "o", Value: string([]byte{0xff, 0xfe})},
				{Object: "o", Value: cycle},
				{Object: "o", Value: "<b>&"},
			}},
			{Check: "c4", Status: posture.StatusError, Severity: "", Exception: &posture.Exception{Expired: true}},
		},
		Exceptions: []posture.ExceptionUse{{}},
	}
	out := renderPage(t, rep)
	p := parsePage(t, out)
	s := strings.ReplaceAll(string(out), "<wbr>", "")
	if got := text(p.byID("count-unknown")); got != "1" {
		t.Errorf("#count-unknown = %q, want 1", got)
	}
	for _, want := range []string{`UNKNOWN STATUS &#34;maybe&#34;`, `SEVERITY &#34;urgent&#34;`, "NO SEVERITY", "not JSON", "map[string]interface {} that is not JSON", `&#34;&lt;b&gt;&amp;&#34;`, "more bytes: see the JSON report",
		`{&#34;a&#34;:1}`, "Not in the report's account list", "no expiry date", "every account", "ACTION NEEDED: 3 failing results"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	var cards []string
	p.each(func(n *html.Node) {
		if a, ok := attr(n, "data-account"); ok {
			cards = append(cards, a)
		}
	})
	// x@y (case folded) holds c1, the unknown status, so it is first.
	if !slices.Equal(cards, []string{"X@y", "not-listed"}) {
		t.Errorf("cards %q", cards)
	}
}

func TestHTMLErrors(t *testing.T) {
	if err := renderHTML(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil report: no error")
	}
	w := &failWriter{}
	err := renderHTML(w, htmlSampleReport())
	if !errors.Is(err, errWrite) {
		t.Errorf("failing writer: err %v, want %v", err, errWrite)
	}
}

var errWrite = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

// hostileReport puts s into every string the page shows.
func hostileReport(s string) *posture.Report {
	ex := posture.Exception{Check: s, Account: s, Reason: s, AcceptedBy: s, Expires: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Where: s}
	exExpired := ex
	exExpired.Expired = true
	res := func(st posture.Status, e *posture.Exception) posture.Result {
		return posture.Result{Check: s, Title: s, Status: st, Severity: posture.SeverityHigh, AccountID: s, AccountUPN: s, Message: s, Rationale: s,
			Requirements: []string{s}, Evidence: []posture.Evidence{{Object: s, Field: s, Value: s, Source: s, Note: s}},
			Remediation: posture.Remediation{Summary: s, Portal: s, Graph: s, PowerShell: s}, Exception: e}
	}
	tenantWide := res(posture.StatusWarn, nil)
	tenantWide.AccountID, tenantWide.AccountUPN = "", ""
	rep := &posture.Report{
		Tenant:    posture.TenantInfo{ID: s, DisplayName: s, InitialDomain: s},
		Generated: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Collected: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		Source: s, ConditionalAccessMode: s, ToolVersion: s,
		Accounts: []posture.AccountInfo{{Entry: s, ID: s, UPN: s, DisplayName: s, Reason: s}},
		Results: []posture.Result{res(posture.StatusFail, &exExpired), res(posture.StatusAccepted, &ex), res(posture.StatusSkip, nil),
			res(posture.StatusPass, nil), tenantWide},
		Exceptions: []posture.ExceptionUse{{Exception: ex, Matched: 1}, {Exception: exExpired, Matched: 1}},
	}
	rep.Summary = posture.Summarize(rep.Results)
	return rep
}

// structure lists the page's element names and attribute names in order:
// what a string could change if it escaped into markup.
func structure(t testing.TB, b []byte) []string {
	t.Helper()
	var out []string
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, more := z.TagName()
			tag := string(name)
			if tag == "wbr" {
				continue // break opportunities follow the content
			}
			for more {
				var k []byte
				k, _, more = z.TagAttr()
				tag += " " + string(k)
			}
			out = append(out, tag)
		}
	}
}

// TestHTMLEscapes: markup in any field stays text. The page's structure is
// the same as with a harmless string, and nothing the string says appears
// as a tag.
func TestHTMLEscapes(t *testing.T) {
	base := structure(t, renderPage(t, hostileReport("x")))
	for _, s := range []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`' onmouseover='alert(1)`,
		`</style><style>body{display:none}</style>`,
		`]]><!-- --><x-evil>`,
		`javascript:alert(1)`,
		"{{.CSP}}",
	} {
		out := renderPage(t, hostileReport(s))
		if got := structure(t, out); !slices.Equal(got, base) {
			t.Errorf("%q changes the page structure", s)
		}
		if bytes.Contains(out, []byte(s)) && strings.ContainsAny(s, `<>"'`) {
			t.Errorf("%q appears unescaped", s)
		}
	}
}

// noControls fails when the page carries a control character, a bidi
// override or invalid UTF-8.
func noControls(t testing.TB, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Error("the page is not valid UTF-8")
	}
	if i := bytes.IndexFunc(out, isHTMLControl); i >= 0 {
		t.Errorf("control character %q at byte %d", []rune(string(out[i:]))[0], i)
	}
}

// TestHTMLControls: a terminal escape, a bidi override, NUL and invalid
// UTF-8 in the data are spelled out, not passed to the reader.
func TestHTMLControls(t *testing.T) {
	out := renderPage(t, hostileReport("bg\x1b[2J\x1b]8;;evil\x07 \u202eeert\u2066 \x00 \xff \u009b"))
	noControls(t, out)
	for _, want := range []string{`bg\x1b[2J\x1b]8;;evil\x07`, `\u202eeert\u2066`, "\uFFFD", `\x9b`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Tabs and line breaks of the data stay (they are whitespace in HTML).
	if out := renderPage(t, hostileReport("a\tb\nc")); !bytes.Contains(out, []byte("a\tb\nc")) {
		t.Error("tab and line break changed")
	}
}

func FuzzHTMLEscapes(f *testing.F) {
	base := structure(f, renderPage(f, hostileReport("x")))
	for _, s := range []string{"<b>", `"'&`, "</script>", "\x00", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Empty strings leave optional parts out, which changes the
		// structure on purpose; a prefix keeps every part present.
		out := renderPage(t, hostileReport("x"+s))
		if got := structure(t, out); !slices.Equal(got, base) {
			t.Errorf("%q changes the page structure", s)
		}
		noControls(t, out)
	})
}

// TestHTMLSelfContained: the page refers to nothing outside itself, and its
// Content-Security-Policy allows exactly its own style and script.
func TestHTMLSelfContained(t *testing.T) {
	out := renderPage(t, htmlSampleReport())
	p := parsePage(t, out)
	p.each(func(n *html.Node) {
		for _, a := range n.Attr {
			switch a.Key {
			case "src", "srcset", "action", "formaction", "poster", "data":
				t.Errorf("<%s %s=%q>: the report must load nothing", n.Data, a.Key, a.Val)
			case "href":
				if !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s href=%q>: only in-page links", n.Data, a.Val)
				}
			}
		}
		if n.Data == "link" {
			t.Errorf("<link> in the report")
		}
	})
	if bytes.Contains(out, []byte("@import")) || bytes.Contains(out, []byte("url(")) {
		t.Error("the CSS loads something")
	}
	var csp, style, script string
	p.each(func(n *html.Node) {
		switch n.Data {
		case "meta":
			if v, _ := attr(n, "http-equiv"); v == "Content-Security-Policy" {
				csp, _ = attr(n, "content")
			}
		case "style":
			style = n.FirstChild.Data
		case "script":
			script = n.FirstChild.Data
		}
	})
	for _, want := range []string{"default-src 'none'", "'" + cspHash(style) + "'", "'" + cspHash(script) + "'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if style != htmlCSS || script != htmlJS {
		t.Error("the inline style or script is not the embedded file as it is (its CSP hash would not match)")
	}
}

// TestHTMLExceptionNotes: what the page says about expired and unused
// exceptions, per case.
func TestHTMLExceptionNotes(t *testing.T) {
	gen := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	past, future := gen.Add(-72*time.Hour), gen.Add(24*time.Hour)
	use := func(exp time.Time, expired bool, matched int) posture.ExceptionUse {
		return posture.ExceptionUse{Exception: posture.Exception{Check: "c", Reason: "r", AcceptedBy: "a", Expires: exp, Expired: expired}, Matched: matched}
	}
	for _, tc := range []struct {
		name string
		uses []posture.ExceptionUse
		want []string
		not  []string
	}{
		{"expired, matched nothing", []posture.ExceptionUse{use(past, true, 0)},
			[]string{"1 exception has expired and accepts nothing now", "matches nothing", "expired 3 days before this audit"}, []string{"reported again"}},
		{"two expired, three findings", []posture.ExceptionUse{use(past, true, 1), use(past, true, 2)},
			[]string{"2 exceptions have expired: the 3 findings they accepted are reported again", "no longer accepts 2 findings"}, nil},
		{"in force, soon", []posture.ExceptionUse{use(future, false, 1)},
			[]string{"accepts 1 finding", "EXPIRES SOON", "expires in 24 hours"}, []string{"EXPIRED<", `id="expired-note"`}},
		{"unused", []posture.ExceptionUse{use(future.Add(60*24*time.Hour), false, 0)},
			[]string{"MATCHED NOTHING", "expires in 61 days"}, []string{"EXPIRES SOON"}},
		{"clock skew", []posture.ExceptionUse{use(future, true, 1)},
			[]string{"check the clocks", "1 exception has expired"}, nil},
		{"no expiry", []posture.ExceptionUse{use(time.Time{}, true, 1)},
			[]string{"no expiry date"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &posture.Report{Generated: gen, Exceptions: tc.uses}
			s := strings.ReplaceAll(string(renderPage(t, rep)), "<wbr>", "")
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(s, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
}
