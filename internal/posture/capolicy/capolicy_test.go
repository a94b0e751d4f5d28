package capolicy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Object ids used by the fixtures.
const (
	bg1         = "0d3c5a41-7f7e-4c2e-9b1a-1f0e2d3c4b5a"
	bg2         = "1e4d6b52-8a8f-4d3f-8c2b-2a1f3e4d5c6b"
	admin       = "2f5e7c63-9b0a-4e4a-9d3c-3b2a4f5e6d70"
	bgGroup     = "5f0e7c63-9b9a-4e4a-9d3c-3b2a4f5e6d7c"
	parentGroup = "6a1f8d74-acab-4f5b-8e4d-4c3b5a6f7e8d"
	fabrikam    = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"
	ga          = RoleGlobalAdministrator
)

// Fixture policies by short name.
var fixtureIDs = map[string]string{
	"mfa-admins":      "a1b2c3d4-0001-4a5b-8c9d-000000000001",
	"block-legacy":    "a1b2c3d4-0002-4a5b-8c9d-000000000002",
	"phish-admins":    "a1b2c3d4-0003-4a5b-8c9d-000000000003",
	"workload":        "a1b2c3d4-0004-4a5b-8c9d-000000000004",
	"mfa-all-off":     "a1b2c3d4-0005-4a5b-8c9d-000000000005",
	"mfa-guests":      "a1b2c3d4-0006-4a5b-8c9d-000000000006",
	"register-info":   "a1b2c3d4-0007-4a5b-8c9d-000000000007",
	"auth-context":    "a1b2c3d4-0008-4a5b-8c9d-000000000008",
	"agent":           "a1b2c3d4-0009-4a5b-8c9d-000000000009",
	"block-countries": "a1b2c3d4-0010-4a5b-8c9d-000000000010",
	"bg-phish":        "a1b2c3d4-0011-4a5b-8c9d-000000000011",
	"partner-tou":     "a1b2c3d4-0012-4a5b-8c9d-000000000012",
}

func readValue(t testing.TB, name string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc.Value
}

func fixtures(t testing.TB) map[string]Policy {
	t.Helper()
	byID := map[string]Policy{}
	for i, raw := range readValue(t, "policies.json") {
		p, err := Decode(raw)
		if err != nil {
			t.Fatalf("policies.json value[%d]: %v", i, err)
		}
		byID[p.ID] = p
	}
	out := map[string]Policy{}
	for name, id := range fixtureIDs {
		p, ok := byID[id]
		if !ok {
			t.Fatalf("fixture %s (%s) missing from policies.json", name, id)
		}
		out[name] = p
	}
	if len(byID) != len(fixtureIDs) {
		t.Fatalf("policies.json has %d policies, the test names %d", len(byID), len(fixtureIDs))
	}
	return out
}

func strengthFixtures(t testing.TB) map[string]Strength {
	t.Helper()
	out := map[string]Strength{}
	for i, raw := range readValue(t, "strengths.json") {
		s, err := DecodeStrength(raw)
		if err != nil {
			t.Fatalf("strengths.json value[%d]: %v", i, err)
		}
		out[strings.ToLower(s.ID)] = s
	}
	return out
}

func TestDecodeFixtures(t *testing.T) {
	ps := fixtures(t)

	p := ps["mfa-admins"]
	if p.DisplayName != "Require multifactor authentication for admins" || !p.Enabled() || p.ReportOnly() || p.Disabled() {
		t.Errorf("mfa-admins: name %q state %q", p.DisplayName, p.State)
	}
	if len(p.Users.IncludeRoles) != 14 || !slices.Equal(p.Users.ExcludeUsers, []string{bg1, bg2}) || !p.Users.Present {
		t.Errorf("mfa-admins users: %+v", p.Users)
	}
	if p.Grant == nil || p.Grant.Operator != "OR" || !slices.Equal(p.Grant.BuiltInControls, []string{"mfa"}) || p.Grant.AuthenticationStrength != nil {
		t.Errorf("mfa-admins grant: %+v", p.Grant)
	}
	if p.SessionControls || p.ClientApplications != nil || len(p.Raw) == 0 {
		t.Errorf("mfa-admins: session %v clientApplications %+v raw %d bytes", p.SessionControls, p.ClientApplications, len(p.Raw))
	}

	if g := ps["mfa-guests"].Users.IncludeGuestsOrExternalUsers; g == nil || len(g.Types) != 6 || g.Types[0] != GuestInternal || g.MembershipKind != "all" {
		t.Errorf("mfa-guests: guestOrExternalUserTypes not split: %+v", g)
	}
	if g := ps["partner-tou"].Users.IncludeGuestsOrExternalUsers; g == nil || g.MembershipKind != "enumerated" || !slices.Equal(g.Members, []string{fabrikam}) {
		t.Errorf("partner-tou external tenants: %+v", g)
	}
	if ps["partner-tou"].Grant == nil || !slices.Equal(ps["partner-tou"].Grant.TermsOfUse, []string{"7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"}) {
		t.Errorf("partner-tou termsOfUse: %+v", ps["partner-tou"].Grant)
	}

	w := ps["workload"]
	if w.ClientApplications == nil || !slices.Equal(w.ClientApplications.IncludeServicePrincipals, []string{"ServicePrincipalsInMyTenant"}) || len(w.ClientApplications.ExcludeServicePrincipals) != 1 {
		t.Errorf("workload clientApplications: %+v", w.ClientApplications)
	}
	if w.Locations == nil || !slices.Equal(w.Locations.Include, []string{"All"}) || !slices.Equal(w.Locations.Exclude, []string{"AllTrusted"}) {
		t.Errorf("workload locations: %+v", w.Locations)
	}
	if a := ps["agent"].ClientApplications; a == nil || !slices.Equal(a.IncludeAgentIDServicePrincipals, []string{"All"}) {
		t.Errorf("agent clientApplications: %+v", a)
	}

	ph := ps["phish-admins"]
	if !ph.ReportOnly() || ph.Grant == nil || ph.Grant.AuthenticationStrength == nil {
		t.Fatalf("phish-admins: %+v", ph)
	}
	if s := ph.Grant.AuthenticationStrength; s.ID != StrengthPhishingResistant || len(s.AllowedCombinations) != 3 || s.PolicyType != "builtIn" {
		t.Errorf("phish-admins strength: %+v", s)
	}
	if s := ps["bg-phish"].Grant.AuthenticationStrength; s == nil || s.ID != StrengthPhishingResistant || len(s.AllowedCombinations) != 0 {
		t.Errorf("bg-phish strength (id only): %+v", s)
	}
	if !ps["mfa-all-off"].Disabled() {
		t.Errorf("mfa-all-off state %q", ps["mfa-all-off"].State)
	}
	ac := ps["auth-context"]
	if !ac.SessionControls || !slices.Equal(ac.Applications.IncludeAuthenticationContextClassReferences, []string{"c1"}) || ac.Platforms == nil || !slices.Equal(ac.Platforms.Exclude, []string{"iOS"}) {
		t.Errorf("auth-context: session %v apps %+v platforms %+v", ac.SessionControls, ac.Applications, ac.Platforms)
	}
	if ri := ps["register-info"]; !slices.Equal(ri.Applications.IncludeUserActions, []string{"urn:user:registersecurityinfo"}) {
		t.Errorf("register-info user actions: %+v", ri.Applications)
	}
	if !slices.Equal(ps["block-legacy"].ClientAppTypes, []string{"exchangeActiveSync", "other"}) {
		t.Errorf("block-legacy clientAppTypes: %v", ps["block-legacy"].ClientAppTypes)
	}
	for name, p := range ps {
		if len(p.Notes) > 0 {
			t.Errorf("%s: unexpected notes %v", name, p.Notes)
		}
	}

	st := strengthFixtures(t)
	if s := st["4e1b7c2d-9f3a-4b5c-8d6e-7f8a9b0c1d2e"]; s.PolicyType != "custom" || !slices.Equal(s.AllowedCombinations, []string{"fido2"}) || len(s.Raw) == 0 {
		t.Errorf("custom strength: %+v", s)
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = `"id":"p1","displayName":"Bad policy","state":"enabled"`
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error, all required
	}{
		{"not an object", `["x"]`, []string{"not a JSON object"}},
		{"null", `null`, []string{"not a JSON object"}},
		{"empty", ``, []string{"not a JSON object"}},
		{"invalid JSON", `{"id":"p1",`, []string{"(without id)", "invalid JSON"}},
		{"missing id", `{"displayName":"No id","state":"enabled"}`, []string{`"No id"`, "id is missing"}},
		{"missing state", `{"id":"p1","displayName":"Bad policy"}`, []string{`"Bad policy" (p1)`, "state is missing"}},
		{"state a number", `{"id":"p1","displayName":"Bad policy","state":1}`, []string{`"Bad policy" (p1)`, "state", "want a string"}},
		{"includeUsers a string", `{` + head + `,"conditions":{"users":{"includeUsers":"All"}}}`,
			[]string{`"Bad policy" (p1)`, "conditions.users.includeUsers", "an array of strings"}},
		{"excludeGroups of numbers", `{` + head + `,"conditions":{"users":{"excludeGroups":[1]}}}`,
			[]string{"conditions.users.excludeGroups"}},
		{"excludeRoles an object", `{` + head + `,"conditions":{"users":{"excludeRoles":{}}}}`,
			[]string{"conditions.users.excludeRoles"}},
		{"guest types an array", `{` + head + `,"conditions":{"users":{"includeGuestsOrExternalUsers":{"guestOrExternalUserTypes":["internalGuest"]}}}}`,
			[]string{"conditions.users.includeGuestsOrExternalUsers.guestOrExternalUserTypes", "a string"}},
		{"users a list", `{` + head + `,"conditions":{"users":[]}}`, []string{"conditions.users", "an object"}},
		{"grantControls a string", `{` + head + `,"grantControls":"block"}`, []string{"grantControls", "an object"}},
		{"builtInControls a string", `{` + head + `,"grantControls":{"operator":"OR","builtInControls":"block"}}`,
			[]string{"grantControls.builtInControls"}},
		{"operator a bool", `{` + head + `,"grantControls":{"operator":true}}`, []string{"grantControls.operator"}},
		{"strength combos a string", `{` + head + `,"grantControls":{"authenticationStrength":{"id":"x","allowedCombinations":"fido2"}}}`,
			[]string{"grantControls.authenticationStrength.allowedCombinations"}},
		{"includeServicePrincipals a string", `{` + head + `,"conditions":{"clientApplications":{"includeServicePrincipals":"All"}}}`,
			[]string{"conditions.clientApplications.includeServicePrincipals"}},
		{"includeApplications a string", `{` + head + `,"conditions":{"applications":{"includeApplications":"All"}}}`,
			[]string{"conditions.applications.includeApplications"}},
		{"hostile name is clipped", `{"id":"` + strings.Repeat("x", 500) + `","state":1}`, []string{"…", "state"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(json.RawMessage(tc.in))
			if err == nil {
				t.Fatalf("Decode(%s): no error", tc.in)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	in := `{"id":"p1","displayName":"Odd","state":"enabled","futureField":{"x":1},
		"conditions":{"users":{"includeUsers":["All"],"futureUsers":[1]},
		"locations":"everywhere","platforms":{"includePlatforms":"all"},"clientAppTypes":{},
		"signInRiskLevels":["high"],"devices":[]},
		"sessionControls":{"@odata.type":"x","cloudAppSecurity":null}}`
	p, err := Decode(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Users.IncludeUsers, []string{"All"}) || !slices.Equal(p.SignInRiskLevels, []string{"high"}) {
		t.Errorf("decoded %+v", p)
	}
	if p.SessionControls {
		t.Errorf("sessionControls with only nulls counted as present")
	}
	joined := strings.Join(p.Notes, "\n")
	for _, w := range []string{"conditions.locations", "conditions.platforms.includePlatforms", "conditions.clientAppTypes", "conditions.devices"} {
		if !strings.Contains(joined, w) {
			t.Errorf("notes %q lack %s", joined, w)
		}
	}
	a := Evaluate(p, Subject{ID: bg1, UserType: "Member", ExternalKnown: true})
	if !a.Applies || !strings.Contains(strings.Join(a.Conditions, "\n"), "conditions.locations") {
		t.Errorf("lenient policy: %+v", a)
	}
}

func TestStrengthDecodeErrors(t *testing.T) {
	for _, in := range []string{`[]`, `{"displayName":"x"}`, `{"id":"s","allowedCombinations":"fido2"}`, `{"id":5}`} {
		if _, err := DecodeStrength(json.RawMessage(in)); err == nil {
			t.Errorf("DecodeStrength(%s): no error", in)
		}
	}
}

// TestDecodeBetaShape: the beta endpoint's extra conditions are kept (or
// reported) and do not disturb the users condition.
func TestDecodeBetaShape(t *testing.T) {
	in := `{"@odata.context":"https://graph.microsoft.com/beta/$metadata#identity/conditionalAccess/policies/$entity",
		"id":"b1","displayName":"Session only, beta","state":"enabled","partialEnablementStrategy":null,
		"conditions":{"users":{"includeUsers":["All"],"excludeUsers":[],"includeGroups":[],"excludeGroups":[],"includeRoles":[],"excludeRoles":[],
			"includeGuestsOrExternalUsers":null,"excludeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"b2bCollaborationGuest, serviceProvider","externalTenants":null}},
		"applications":{"includeApplications":[],"excludeApplications":[],"includeUserActions":[],"includeAuthenticationContextClassReferences":[],
			"applicationFilter":{"mode":"include","rule":"CustomSecurityAttribute.Engineering_Project -eq \"Baker\""},"networkAccess":null,"globalSecureAccess":null},
		"devices":{"includeDevices":[],"excludeDevices":[],"deviceFilter":{"mode":"exclude","rule":"device.isCompliant -eq True"}},
		"authenticationFlows":{"transferMethods":"deviceCodeFlow,authenticationTransfer"},
		"insiderRiskLevels":"elevated","clientAppTypes":["browser","mobileAppsAndDesktopClients"],"times":null,"deviceStates":null},
		"grantControls":null,
		"sessionControls":{"disableResilienceDefaults":null,"applicationEnforcedRestrictions":null,"cloudAppSecurity":null,
			"persistentBrowser":{"mode":"never","isEnabled":true},"signInFrequency":null,"continuousAccessEvaluation":null,"secureSignInSession":null}}`
	p, err := Decode(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	if p.Grant != nil || !p.SessionControls || Blocks(p) {
		t.Errorf("grant %+v session %v", p.Grant, p.SessionControls)
	}
	if ok, why := RequiresPhishingResistant(p, nil); ok || !strings.Contains(why, "no grant controls") {
		t.Errorf("RequiresPhishingResistant = %v %q", ok, why)
	}
	if g := p.Users.ExcludeGuestsOrExternalUsers; g == nil || !slices.Equal(g.Types, []string{GuestB2BCollaboration, ServiceProvider}) || g.MembershipKind != "" {
		t.Errorf("exclude guests: %+v", g)
	}
	if p.Applications.ApplicationFilterMode != "include" || !strings.Contains(p.Applications.ApplicationFilter, "Baker") || AllResources(p) {
		t.Errorf("application filter: %+v", p.Applications)
	}
	a := Evaluate(p, b2bGuest)
	if a.Verdict() != "excluded" || a.Resource != "applications matching filter: "+p.Applications.ApplicationFilter {
		t.Errorf("guest: %+v", a)
	}
	a = Evaluate(p, bgMember)
	want := []string{"clientAppTypes: browser, mobileAppsAndDesktopClients", "insiderRiskLevels: elevated",
		"authenticationFlows: deviceCodeFlow,authenticationTransfer", "deviceFilter (exclude): device.isCompliant -eq True"}
	if !a.Applies || !slices.Equal(a.Conditions, want) {
		t.Errorf("member: applies %v conditions %q, want %q", a.Applies, a.Conditions, want)
	}
}
