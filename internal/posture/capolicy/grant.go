package capolicy

import (
	"fmt"
	"strings"
)

// Built-in authentication strength ids; they are the same in every tenant.
const (
	StrengthMFA               = "00000000-0000-0000-0000-000000000002"
	StrengthPasswordless      = "00000000-0000-0000-0000-000000000003"
	StrengthPhishingResistant = "00000000-0000-0000-0000-000000000004"
)

// phishingResistantModes are the authentication method modes that resist
// phishing: what the built-in "Phishing-resistant MFA" strength allows.
// x509CertificateSingleFactor is not among them: it is one factor.
var phishingResistantModes = map[string]bool{
	"windowsHelloForBusiness":    true,
	"fido2":                      true,
	"x509CertificateMultiFactor": true,
}

// builtInStrengths is the built-in phishing-resistant strength as
// Microsoft defines it, used when a policy names it by id and the tenant's
// authentication_strength_policies were not collected.
var builtInStrengths = map[string]Strength{
	StrengthPhishingResistant: {
		ID: StrengthPhishingResistant, DisplayName: "Phishing-resistant MFA", PolicyType: "builtIn",
		AllowedCombinations: []string{"windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"},
	},
}

// Blocks reports whether the policy blocks access (builtInControls has
// block).
func Blocks(p Policy) bool {
	return p.Grant != nil && containsFold(p.Grant.BuiltInControls, "block")
}

// AllResources reports whether the policy covers every resource:
// includeApplications "All" with no excluded application. A policy on user
// actions or an authentication context covers no application.
func AllResources(p Policy) bool {
	ap := p.Applications
	return containsFold(ap.IncludeApplications, All) && len(ap.ExcludeApplications) == 0 &&
		len(ap.IncludeUserActions) == 0 && len(ap.IncludeAuthenticationContextClassReferences) == 0 &&
		ap.ApplicationFilter == ""
}

// RequiresPhishingResistant reports whether satisfying the policy's grant
// needs phishing-resistant authentication: an authentication strength
// whose every allowed combination is phishing-resistant, required (operator
// AND, or OR with no other control that could be satisfied instead).
// strengths maps lower-case strength ids to the tenant's
// authentication_strength_policies; a policy's embedded strength is
// resolved there by id, because Graph may omit its allowedCombinations.
// why explains the verdict either way. false means "not shown to require
// it", which includes "could not tell".
func RequiresPhishingResistant(p Policy, strengths map[string]Strength) (bool, string) {
	g := p.Grant
	if g == nil {
		return false, "the policy has no grant controls"
	}
	if Blocks(p) {
		return false, "the policy blocks access (builtInControls: block)"
	}
	emb := g.AuthenticationStrength
	if emb == nil {
		return false, "grantControls.authenticationStrength is not set (builtInControls: " + list(g.BuiltInControls) + ")"
	}
	st, how, ok := resolveStrength(emb, strengths)
	if !ok {
		return false, "grantControls.authenticationStrength " + emb.ID + " lists no allowedCombinations and is not among the tenant's authentication strengths; cannot tell what it allows"
	}
	name := strengthName(st)
	var weak []string
	for _, c := range st.AllowedCombinations {
		if !phishingResistantCombination(c) {
			weak = append(weak, c)
		}
	}
	if len(weak) > 0 {
		return false, fmt.Sprintf("authentication strength %s also allows %s, which is not phishing-resistant", name, strings.Join(weak, "; "))
	}
	var others []string
	for _, c := range g.BuiltInControls {
		others = append(others, "builtInControls "+c)
	}
	for _, c := range g.CustomAuthenticationFactors {
		others = append(others, "customAuthenticationFactors "+c)
	}
	for _, c := range g.TermsOfUse {
		others = append(others, "termsOfUse "+c)
	}
	if len(others) > 0 && !strings.EqualFold(g.Operator, "AND") {
		return false, fmt.Sprintf("grantControls.operator is %q: %s can be satisfied instead of authentication strength %s", g.Operator, strings.Join(others, ", "), name)
	}
	return true, fmt.Sprintf("requires authentication strength %s (%s): %s", name, how, strings.Join(st.AllowedCombinations, ", "))
}

// phishingResistantCombination reports whether every mode of one allowed
// combination ("fido2", or "password,sms" for two) is phishing-resistant.
func phishingResistantCombination(c string) bool {
	modes := strings.Split(c, ",")
	for _, m := range modes {
		if !phishingResistantModes[strings.TrimSpace(m)] {
			return false
		}
	}
	return len(modes) > 0
}

func resolveStrength(emb *Strength, strengths map[string]Strength) (Strength, string, bool) {
	id := strings.ToLower(emb.ID)
	if s, ok := strengths[id]; ok && len(s.AllowedCombinations) > 0 {
		return s, "as defined in authentication_strength_policies", true
	}
	if len(emb.AllowedCombinations) > 0 {
		return *emb, "as embedded in the policy", true
	}
	if s, ok := builtInStrengths[id]; ok {
		return s, "built-in", true
	}
	return Strength{}, "", false
}

func strengthName(s Strength) string {
	if s.DisplayName != "" {
		return fmt.Sprintf("%q (%s)", s.DisplayName, s.ID)
	}
	return s.ID
}
