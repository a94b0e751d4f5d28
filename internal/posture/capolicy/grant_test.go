package capolicy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func grantPolicy(t *testing.T, grant string) Policy {
	t.Helper()
	p, err := Decode(json.RawMessage(`{"id":"g","displayName":"G","state":"enabled","conditions":{"users":{"includeUsers":["All"]},
		"applications":{"includeApplications":["All"]}},"grantControls":` + grant + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRequiresPhishingResistant(t *testing.T) {
	ps := fixtures(t)
	st := strengthFixtures(t)
	const custom = "4e1b7c2d-9f3a-4b5c-8d6e-7f8a9b0c1d2e"
	tests := []struct {
		name      string
		p         Policy
		strengths map[string]Strength
		want      bool
		why       string
	}{
		{"template, embedded combinations", ps["phish-admins"], nil, true, "as embedded in the policy"},
		{"template, tenant strengths", ps["phish-admins"], st, true, "authentication_strength_policies"},
		{"id only, resolved in tenant", ps["bg-phish"], st, true, "windowsHelloForBusiness, fido2, x509CertificateMultiFactor"},
		{"id only, built-in known", ps["bg-phish"], nil, true, "built-in"},
		{"mfa control", ps["mfa-admins"], st, false, "authenticationStrength is not set"},
		{"block", ps["block-legacy"], st, false, "blocks access"},
		{"no grant", Policy{ID: "s"}, st, false, "no grant controls"},
		{"custom FIDO2 only", grantPolicy(t, `{"operator":"OR","authenticationStrength":{"id":"`+custom+`"}}`), st, true, "Break-glass FIDO2 keys only"},
		{"custom strength unknown", grantPolicy(t, `{"operator":"OR","authenticationStrength":{"id":"`+custom+`"}}`), nil, false, "cannot tell"},
		{"built-in MFA strength", grantPolicy(t, `{"operator":"OR","authenticationStrength":{"id":"`+StrengthMFA+`"}}`), st, false, "password,sms"},
		{"passwordless strength allows push", grantPolicy(t, `{"operator":"OR","authenticationStrength":{"id":"`+StrengthPasswordless+`"}}`), st, false, "deviceBasedPush"},
		{"single-factor certificate", grantPolicy(t, `{"operator":"AND","authenticationStrength":{"id":"8f9a0b1c-2d3e-4f5a-8b6c-7d8e9f0a1b2c"}}`), st, false, "x509CertificateSingleFactor"},
		{"OR with mfa alongside", grantPolicy(t, `{"operator":"OR","builtInControls":["mfa"],"authenticationStrength":{"id":"`+StrengthPhishingResistant+`"}}`), st, false, "builtInControls mfa can be satisfied instead"},
		{"OR with terms of use alongside", grantPolicy(t, `{"operator":"OR","termsOfUse":["tou"],"authenticationStrength":{"id":"`+StrengthPhishingResistant+`"}}`), st, false, "termsOfUse tou"},
		{"AND with compliant device", grantPolicy(t, `{"operator":"AND","builtInControls":["compliantDevice"],"authenticationStrength":{"id":"`+StrengthPhishingResistant+`"}}`), st, true, "requires"},
		{"no operator, nothing alongside", grantPolicy(t, `{"authenticationStrength":{"id":"`+StrengthPhishingResistant+`"}}`), st, true, "requires"},
		{"tenant definition wins over embedded", grantPolicy(t, `{"operator":"OR","authenticationStrength":{"id":"`+custom+`","allowedCombinations":["sms"]}}`), st, true, "fido2"},
		{"embedded used when tenant lacks it", grantPolicy(t, `{"operator":"OR","authenticationStrength":{"id":"`+custom+`","allowedCombinations":["fido2","sms"]}}`), nil, false, "sms"},
		{"upper-case id resolves", grantPolicy(t, `{"operator":"OR","authenticationStrength":{"id":"`+strings.ToUpper(custom)+`"}}`), st, true, "fido2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := RequiresPhishingResistant(tc.p, tc.strengths)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("RequiresPhishingResistant = %v, %q; want %v, …%q…", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestBlocksAndAllResources(t *testing.T) {
	ps := fixtures(t)
	tests := []struct {
		policy       string
		blocks       bool
		allResources bool
	}{
		{"mfa-admins", false, true},
		{"block-legacy", true, true},
		{"workload", true, true},
		{"register-info", false, false},
		{"auth-context", false, false},
		{"partner-tou", false, false},
		{"block-countries", true, true},
	}
	for _, tc := range tests {
		p := ps[tc.policy]
		if Blocks(p) != tc.blocks || AllResources(p) != tc.allResources {
			t.Errorf("%s: Blocks %v AllResources %v, want %v %v", tc.policy, Blocks(p), AllResources(p), tc.blocks, tc.allResources)
		}
	}
	excl := grantPolicy(t, `{"operator":"OR","builtInControls":["BLOCK"]}`)
	excl.Applications.ExcludeApplications = []string{"00000002-0000-0ff1-ce00-000000000000"}
	if !Blocks(excl) || AllResources(excl) {
		t.Errorf("upper-case block with an excluded app: Blocks %v AllResources %v", Blocks(excl), AllResources(excl))
	}
}

func TestRoleName(t *testing.T) {
	if got := RoleName(strings.ToUpper(RoleGlobalAdministrator)); !strings.HasPrefix(got, "Global Administrator (") {
		t.Errorf("RoleName(GA) = %q", got)
	}
	if got := RoleName("x"); got != "x" {
		t.Errorf("RoleName(x) = %q", got)
	}
}

// FuzzDecode: any input decodes or errors, and a decoded policy evaluates
// and analyses without panicking, with consistent verdicts.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"policies.json", "strengths.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		var doc struct {
			Value []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			f.Fatal(err)
		}
		for _, v := range doc.Value {
			f.Add([]byte(v))
		}
	}
	f.Add([]byte(`{"id":"x","state":"enabled","conditions":{"users":{"includeGuestsOrExternalUsers":{"guestOrExternalUserTypes":",,none,"}}}}`))
	subjects := []Subject{bgMember, b2bGuest, {ID: "u"}, {}, with(bgMember, func(s *Subject) { s.GroupsKnown, s.RolesKnown = false, false })}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(json.RawMessage(in))
		if err != nil {
			if p.ID != "" || p.Raw != nil {
				t.Fatalf("error %v with a non-zero policy", err)
			}
		} else {
			for _, s := range subjects {
				a := Evaluate(p, s)
				if a.Applies && (a.Unknown || !a.Targetable || !a.Included || a.Excluded) {
					t.Fatalf("inconsistent verdict %+v", a)
				}
				if a.Excluded && len(a.ExcludedBy) == 0 || a.Included && len(a.IncludedBy) == 0 {
					t.Fatalf("verdict without explanation %+v", a)
				}
			}
			_, _ = RequiresPhishingResistant(p, nil)
			_ = Blocks(p)
			_ = AllResources(p)
			_ = p.Name()
		}
		if s, err := DecodeStrength(json.RawMessage(in)); err == nil && s.ID == "" {
			t.Fatalf("strength without id decoded")
		}
	})
}
