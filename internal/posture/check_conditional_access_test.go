package posture

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/graph/collect"
)

// caPolicy is a Conditional Access policy in Graph's shape: users is the
// conditions.users object, extra any further conditions members, grant the
// grantControls object.
func caPolicy(id, name, state, users, extra, grant string) json.RawMessage {
	if extra != "" {
		extra = "," + extra
	}
	return json.RawMessage(`{"id":"` + id + `","displayName":"` + name + `","state":"` + state + `",
		"conditions":{"users":` + users + `,"applications":{"includeApplications":["All"]},"clientAppTypes":["all"]` + extra + `},
		"grantControls":` + grant + `}`)
}

const (
	caAllUsers   = `{"includeUsers":["All"]}`
	caBlock      = `{"operator":"OR","builtInControls":["block"]}`
	caMFA        = `{"operator":"OR","builtInControls":["mfa"]}`
	caPhishStrat = `{"operator":"OR","builtInControls":[],"authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004","displayName":"Phishing-resistant MFA"}}`
	caBGUsers    = `{"includeUsers":["` + hBG1 + `","` + hBG2 + `"]}`
)

func addPolicy(p json.RawMessage) func(*Tenant) {
	return func(t *Tenant) { t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, p) }
}

func both(fs ...func(*Tenant)) func(*Tenant) {
	return func(t *Tenant) {
		for _, f := range fs {
			f(t)
		}
	}
}

func TestConditionalAccessExcludeAll(t *testing.T) {
	const id = "conditional-access"
	runHandCases(t, id, Options{ConditionalAccessMode: CAModeExcludeAll}, []handCase{
		{name: "compliant", account: hBG1, want: StatusPass, contains: "skipped 1 that cannot"},
		{name: "compliant second account", account: hBG2, want: StatusPass},
		{name: "all users without exclusion", account: hBG1, want: StatusFail, contains: "includeUsers",
			mutate: addPolicy(caPolicy("p9", "Require MFA everywhere", "enabled", caAllUsers, "", caMFA))},
		{name: "report-only counts", account: hBG2, want: StatusFail, contains: "report-only",
			mutate: addPolicy(caPolicy("p9", "Block countries", "enabledForReportingButNotEnforced", caAllUsers, "", caBlock))},
		{name: "disabled policy is listed, not judged", account: hBG1, want: StatusPass, contains: "and 1 disabled",
			mutate: addPolicy(caPolicy("p9", "Old policy", "disabled", caAllUsers, "", caBlock))},
		{name: "excluded through a role", account: hBG1, want: StatusPass,
			mutate: addPolicy(caPolicy("p9", "Admins MFA", "enabled", `{"includeRoles":["`+collect.RoleGlobalAdministrator+`"],"excludeRoles":["`+collect.RoleGlobalAdministrator+`"]}`, "", caMFA))},
		{name: "included through a role", account: hBG1, want: StatusFail, contains: "includeRoles",
			mutate: addPolicy(caPolicy("p9", "Admins MFA", "enabled", `{"includeRoles":["`+collect.RoleGlobalAdministrator+`"]}`, "", caMFA))},
		{name: "excluded through a nested group", account: hBG1, want: StatusPass,
			mutate: func(t *Tenant) {
				t.MemberOf[hBG1] = append(t.MemberOf[hBG1], "9b000000-0000-4000-8000-0000000000ff") // the parent of hGroup
				addPolicy(caPolicy("p9", "MFA", "enabled", `{"includeUsers":["All"],"excludeGroups":["9b000000-0000-4000-8000-0000000000ff"]}`, "", caMFA))(t)
			}},
		{name: "not included, not excluded warns", account: hBG1, want: StatusWarn, contains: "does not exclude it either",
			mutate: addPolicy(caPolicy("p9", "Sales MFA", "enabled", `{"includeGroups":["9b000000-0000-4000-8000-000000000077"]}`, "", caMFA))},
		{name: "a user-action policy warns", account: hBG1, want: StatusWarn, contains: "not to sign-in",
			mutate: addPolicy(json.RawMessage(`{"id":"p9","displayName":"Register security info from trusted locations","state":"enabled",
				"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":[],"includeUserActions":["urn:user:registersecurityinfo"]},
				"locations":{"includeLocations":["All"],"excludeLocations":["AllTrusted"]}},"grantControls":{"operator":"OR","builtInControls":["block"]}}`))},
		{name: "an authentication-context policy warns", account: hBG1, want: StatusWarn, contains: "not to sign-in",
			mutate: addPolicy(json.RawMessage(`{"id":"p9","displayName":"PIM activation needs compliant device","state":"enabled",
				"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeAuthenticationContextClassReferences":["c1"]}},
				"grantControls":{"operator":"OR","builtInControls":["compliantDevice"]}}`))},
		{name: "a policy on no resource warns", account: hBG1, want: StatusWarn, contains: "targets no resource",
			mutate: addPolicy(json.RawMessage(`{"id":"p9","displayName":"Staged block","state":"enabled",
				"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["None"]}},"grantControls":{"operator":"OR","builtInControls":["block"]}}`))},
		{name: "guest-only policy skipped", account: hBG1, want: StatusPass, contains: "skipped 2",
			mutate: addPolicy(caPolicy("p9", "Guests MFA", "enabled", `{"includeUsers":["GuestsOrExternalUsers"]}`, "", caMFA))},
		{name: "memberships unknown", account: hBG1, want: StatusSkip, contains: "unknown",
			mutate: func(t *Tenant) {
				delete(t.MemberOf, hBG1)
				t.GroupMembers[hGroup] = []string{hBG2}
				drop(t, collect.ReasonPermission, collect.KeyedName(DatasetMemberOf, hBG1))
			}},
		{name: "an unknown policy beside a failing one fails", account: hBG1, want: StatusFail,
			mutate: func(t *Tenant) {
				delete(t.MemberOf, hBG1)
				drop(t, collect.ReasonPermission, collect.KeyedName(DatasetMemberOf, hBG1))
				t.GroupMembers[hGroup] = []string{hBG2}
				addPolicy(caPolicy("p9", "Require MFA everywhere", "enabled", caAllUsers, "", caMFA))(t)
			}},
		{name: "undecodable policy", account: hBG1, want: StatusSkip, contains: "conditional_access_policies[3]",
			mutate: addPolicy(json.RawMessage(`{"id":"p9","displayName":"Bad","state":"enabled","conditions":{"users":{"includeUsers":"All"}}}`))},
		{name: "policies refused", account: hBG1, want: StatusSkip, contains: "could not be read",
			mutate: func(t *Tenant) {
				t.ConditionalAccessPolicies = nil
				drop(t, collect.ReasonPermission, collect.DatasetConditionalAccessPolicies)
			}},
		{name: "unresolved account is skipped (the accounts check errors)", account: "", want: StatusSkip,
			mutate: func(t *Tenant) {
				t.Accounts = append(t.Accounts, AccountInfo{Entry: "accounts[2] id x", Reason: "not found"})
			}},
	})
}

func TestConditionalAccessPhishingResistant(t *testing.T) {
	const id = "conditional-access"
	dedicated := addPolicy(caPolicy("p8", "Break-glass phishing-resistant MFA", "enabled", caBGUsers, "", caPhishStrat))
	runHandCases(t, id, Options{ConditionalAccessMode: CAModePhishingResistant}, []handCase{
		{name: "no phishing-resistant policy", account: hBG1, want: StatusFail, contains: "No enabled policy requires"},
		{name: "dedicated policy", account: hBG1, want: StatusPass, contains: "Break-glass phishing-resistant MFA", mutate: dedicated},
		{name: "dedicated policy in report-only", account: hBG1, want: StatusFail, contains: "No enabled policy requires",
			mutate: addPolicy(caPolicy("p8", "Break-glass PR", "enabledForReportingButNotEnforced", caBGUsers, "", caPhishStrat))},
		{name: "strength that allows weaker methods", account: hBG1, want: StatusFail,
			mutate: addPolicy(caPolicy("p8", "Break-glass MFA", "enabled", caBGUsers, "",
				`{"operator":"OR","authenticationStrength":{"id":"00000000-0000-0000-0000-000000000002","allowedCombinations":["password,sms","fido2"]}}`))},
		{name: "another policy blocks", account: hBG1, want: StatusFail, contains: "blocks the account",
			mutate: both(dedicated, addPolicy(caPolicy("p9", "Block all", "enabled", caAllUsers, "", caBlock)))},
		{name: "a legacy-only block applies harmlessly", account: hBG1, want: StatusPass,
			mutate: both(dedicated, func(t *Tenant) {
				t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, json.RawMessage(`{"id":"p9","displayName":"Block legacy for all","state":"enabled",
					"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["All"]},"clientAppTypes":["exchangeActiveSync","other"]},
					"grantControls":{"operator":"OR","builtInControls":["block"]}}`))
			})},
		{name: "a block on no resource is harmless", account: hBG1, want: StatusPass,
			mutate: both(dedicated, addPolicy(json.RawMessage(`{"id":"p9","displayName":"Staged block","state":"enabled",
				"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["None"]}},"grantControls":{"operator":"OR","builtInControls":["block"]}}`)))},
		{name: "a location block warns", account: hBG1, want: StatusWarn, contains: "location",
			mutate: both(dedicated, addPolicy(caPolicy("p9", "Block untrusted locations", "enabled", caAllUsers,
				`"locations":{"includeLocations":["All"],"excludeLocations":["AllTrusted"]}`, caBlock)))},
		{name: "a report-only block warns", account: hBG1, want: StatusWarn, contains: "report-only",
			mutate: both(dedicated, addPolicy(caPolicy("p9", "Block all", "enabledForReportingButNotEnforced", caAllUsers, "", caBlock)))},
		{name: "a compliant-device requirement warns", account: hBG1, want: StatusWarn, contains: "managed device",
			mutate: both(dedicated, addPolicy(caPolicy("p9", "Compliant device", "enabled", caAllUsers, "", `{"operator":"OR","builtInControls":["compliantDevice"]}`)))},
		{name: "coverage for one app only warns", account: hBG1, want: StatusWarn, contains: "not for all resources",
			mutate: func(t *Tenant) {
				t.ConditionalAccessPolicies = append(t.ConditionalAccessPolicies, json.RawMessage(`{"id":"p8","displayName":"PR for Azure management","state":"enabled",
					"conditions":{"users":{"includeUsers":["`+hBG1+`"]},"applications":{"includeApplications":["797f4846-ba00-4fd7-ba43-dac1f8f63013"]},"clientAppTypes":["all"]},
					"grantControls":{"operator":"OR","authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}`))
			}},
		{name: "blocking policy of unknown applicability", account: hBG1, want: StatusSkip, contains: "may apply",
			mutate: both(dedicated, func(t *Tenant) {
				delete(t.MemberOf, hBG1)
				drop(t, collect.ReasonPermission, collect.KeyedName(DatasetMemberOf, hBG1))
				addPolicy(caPolicy("p9", "Block all but a group", "enabled", `{"includeUsers":["All"],"excludeGroups":["9b000000-0000-4000-8000-000000000055"]}`, "", caBlock))(t)
			})},
	})
}

func TestConditionalAccessBoth(t *testing.T) {
	const id = "conditional-access"
	dedicated := addPolicy(caPolicy("p8", "Break-glass phishing-resistant MFA", "enabled", caBGUsers, "", caPhishStrat))
	runHandCases(t, id, Options{ConditionalAccessMode: CAModeBoth}, []handCase{
		{name: "excluded everywhere but no coverage", account: hBG1, want: StatusFail, contains: "No enabled policy requires"},
		{name: "dedicated policy and excluded elsewhere", account: hBG1, want: StatusPass, contains: "excluded from every other policy", mutate: dedicated},
		{name: "dedicated policy but another applies", account: hBG2, want: StatusFail, contains: "Require MFA everywhere",
			mutate: both(dedicated, addPolicy(caPolicy("p9", "Require MFA everywhere", "enabled", caAllUsers, "", caMFA)))},
	})
	// No mode configured: exclude-all, so a policy applying to the account
	// fails although nothing requires phishing resistance.
	tn := handTenant()
	addPolicy(caPolicy("p9", "Require MFA everywhere", "enabled", caAllUsers, "", caMFA))(tn)
	if r := statusOf(t, runHandCheck(t, id, tn, Options{}), hBG1); r.Status != StatusFail || !strings.Contains(r.Message, "Require MFA everywhere") {
		t.Errorf("default mode: %s, want the exclude-all failure: %s", r.Status, r.Message)
	}
	tn = handTenant()
	r := statusOf(t, runHandCheck(t, id, tn, Options{ConditionalAccessMode: "exclude-some"}), hBG1)
	if r.Status != StatusError {
		t.Errorf("unknown mode: %s, want error: %s", r.Status, r.Message)
	}
}

// editPolicy edits the users condition of a compliant-fixture policy.
func editPolicyUsers(id string, fn func(users map[string]any)) mutation {
	return func(f *fixture) {
		f.edit(collect.DatasetConditionalAccessPolicies, byID(id), func(m map[string]any) {
			fn(m["conditions"].(map[string]any)["users"].(map[string]any))
		})
	}
}

var caFixtureCases = []fixtureCase{
	{name: "conditional-access-not-excluded", check: "conditional-access", account: fxBG1UPN, want: StatusFail, contains: "CA001", dir: true,
		mutate: []mutation{editPolicyUsers("5ca00000-0000-4000-8000-000000000001", func(u map[string]any) { u["excludeGroups"] = []any{} })}},
	{name: "conditional-access report-only not excluded", check: "conditional-access", account: fxBG2UPN, want: StatusFail, contains: "report-only",
		mutate: []mutation{editPolicyUsers("5ca00000-0000-4000-8000-000000000004", func(u map[string]any) { u["excludeGroups"] = []any{} })}},
	{name: "conditional-access memberships refused", check: "conditional-access", account: fxBG1UPN, want: StatusSkip, contains: "not collected",
		mutate: []mutation{func(f *fixture) { f.refuse(DatasetMemberOf, collect.ReasonPermission) }}},
	{name: "conditional-access policies refused", check: "conditional-access", account: fxBG1UPN, want: StatusSkip, contains: "refused",
		mutate: []mutation{func(f *fixture) {
			f.refuse(collect.DatasetConditionalAccessPolicies, collect.ReasonPermission)
		}}},
	// phishing-resistant mode: CA003 covers the accounts once they are no
	// longer excluded from it, and nothing blocks them.
	{name: "conditional-access phishing-resistant coverage", check: "conditional-access", account: fxBG1UPN, want: StatusPass, contains: "CA003",
		options: func(o *Options) { o.ConditionalAccessMode = CAModePhishingResistant },
		mutate:  []mutation{editPolicyUsers("5ca00000-0000-4000-8000-000000000003", func(u map[string]any) { u["excludeGroups"] = []any{} })}},
	{name: "conditional-access both modes", check: "conditional-access", account: fxBG2UPN, want: StatusPass, contains: "excluded from every other policy",
		options: func(o *Options) { o.ConditionalAccessMode = CAModeBoth },
		mutate:  []mutation{editPolicyUsers("5ca00000-0000-4000-8000-000000000003", func(u map[string]any) { u["excludeGroups"] = []any{} })}},
}

func init() { allFixtureCases = append(allFixtureCases, caFixtureCases...) }

func TestConditionalAccessFixtures(t *testing.T) {
	runFixtureCases(t, caFixtureCases)
	// The compliant tenant excludes the accounts everywhere, so in
	// phishing-resistant mode nothing covers them.
	for _, mode := range []string{CAModePhishingResistant, CAModeBoth} {
		o := fixtureOptions()
		o.ConditionalAccessMode = mode
		c, _ := Lookup("conditional-access")
		r := resultFor(t, run(loadFixture(t, "compliant"), o, []Check{c}), "conditional-access", fxBG1UPN)
		if r.Status != StatusFail {
			t.Errorf("%s mode on the compliant (excluded everywhere) tenant: %s, want fail: %s", mode, r.Status, r.Message)
		}
	}
}

// TestMethodAndGovernanceGolden pins the full results (message, evidence,
// remediation) of these checks on the compliant snapshot and on each
// failure directory they own, in all three Conditional Access modes for
// the compliant one. go test -run TestMethodAndGovernanceGolden -update
// rewrites testdata/golden/checks.<fixture>.json.
func TestMethodAndGovernanceGolden(t *testing.T) {
	fixtures := []string{"compliant"}
	for _, c := range allFixtureCases {
		if c.dir && slices.Contains(myChecks, c.check) {
			fixtures = append(fixtures, c.name)
		}
	}
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			tn := loadFixture(t, name)
			out := map[string][]Result{}
			modes := []string{CAModeExcludeAll}
			if name == "compliant" {
				modes = CAModes
			}
			for _, mode := range modes {
				o := fixtureOptions()
				o.ConditionalAccessMode = mode
				for _, id := range myChecks {
					c, _ := Lookup(id)
					out[mode] = append(out[mode], c.Run(&Env{Tenant: tn, Options: o})...)
				}
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", "checks."+name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the results (run go test -run TestMethodAndGovernanceGolden -update and review the diff)", path)
			}
		})
	}
}
