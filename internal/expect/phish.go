package expect

import (
	"slices"
	"strings"

	"breakglass/internal/entra"
)

// PhishingResistantStrengthID is the built-in "Phishing-resistant MFA"
// authentication strength.
const PhishingResistantStrengthID = "00000000-0000-0000-0000-000000000004"

// previouslySatisfied is the method Entra logs when a step was met by an
// earlier sign-in's claim (a session, a refresh token).
const previouslySatisfied = "previously satisfied"

// IsPhishingResistant reports whether an authentication method, as sign-in
// logs name it (authenticationDetails' method and detail, or
// authenticationMethodsUsed), is phishing-resistant: FIDO2 security keys,
// Windows Hello for Business, passkeys, the macOS platform credential, and
// certificate-based authentication when it is multifactor.
func IsPhishingResistant(method, detail string) bool {
	m := strings.ToLower(method)
	switch {
	case strings.Contains(m, "fido"), strings.Contains(m, "windows hello"), strings.Contains(m, "passkey"),
		strings.Contains(m, "platform credential"):
		return true
	case strings.Contains(m, "certificate") || strings.Contains(m, "x.509") || strings.Contains(m, "x509"):
		return multifactor(m) || multifactor(strings.ToLower(detail))
	}
	return false
}

func multifactor(s string) bool {
	return strings.Contains(s, "multifactor") || strings.Contains(s, "multi-factor") || strings.Contains(s, "multi factor")
}

func phishingResistant(e *entra.Expect, ev *entra.Event) Verdict {
	v := Verdict{Kind: KindPhishingResistant}
	a := ev.Auth
	var used, failed []string
	var failedPR, reused bool
	for _, st := range a.Steps {
		if st.Method == "" {
			continue
		}
		ok := st.Succeeded == nil || *st.Succeeded
		switch {
		case strings.EqualFold(st.Method, previouslySatisfied):
			reused = reused || ok
		case ok && IsPhishingResistant(st.Method, st.Detail):
			v.Status, v.Why = Held, "authenticated with "+st.Method
			return v
		case ok:
			used = appendNew(used, st.Method)
		case IsPhishingResistant(st.Method, st.Detail):
			failedPR = true
		default:
			failed = appendNew(failed, st.Method)
		}
	}
	for _, m := range a.MethodsUsed {
		switch {
		case strings.EqualFold(m, previouslySatisfied):
			reused = true
		case IsPhishingResistant(m, ""):
			v.Status, v.Why = Held, "authenticated with "+m
			return v
		default:
			used = appendNew(used, m)
		}
	}
	for _, s := range a.Strengths {
		if strings.EqualFold(s.Result, "satisfied") && prStrength(e, s) {
			v.Status, v.Why = Held, "satisfied the authentication strength "+strengthName(s)
			return v
		}
	}
	switch {
	case len(used) > 0:
		v.Status, v.Why = Broken, "authenticated with "+strings.Join(used, ", ")+", which is not phishing-resistant"
	case len(failed) > 0:
		v.Status, v.Why = Broken, "attempted with "+strings.Join(failed, ", ")+" (failed), which is not phishing-resistant"
	case reused:
		v.Status, v.Why = Unknown, "the sign-in reused an earlier session (Previously satisfied); check how the sign-in that started it authenticated"
	case failedPR:
		v.Status, v.Why = Unknown, "a phishing-resistant method was tried but no step succeeded"
	case !a.Known && !a.StrengthsKnown:
		v.Status, v.Why = Unknown, "the record has no authentication details; check the sign-in's authentication details in the Entra portal"
	default:
		// Graph v1.0 sign-ins list the applied policies but not the
		// authentication steps.
		v.Status, v.Why = Unknown, "the record names no authentication method and no satisfied phishing-resistant strength; check the sign-in's authentication details in the Entra portal"
	}
	return v
}

// prStrength: the built-in phishing-resistant strength, or one config names.
func prStrength(e *entra.Expect, s entra.AuthStrength) bool {
	if entra.CanonicalID(s.ID) == PhishingResistantStrengthID || strings.EqualFold(s.Name, "Phishing-resistant MFA") {
		return true
	}
	return slices.ContainsFunc(e.Strengths, func(n string) bool {
		return strings.EqualFold(n, s.Name) || (s.ID != "" && entra.CanonicalID(n) == entra.CanonicalID(s.ID))
	})
}

func strengthName(s entra.AuthStrength) string {
	n := s.Name
	if n == "" {
		n = s.ID
	}
	if s.Policy != "" {
		n += " (policy " + s.Policy + ")"
	}
	return n
}

func appendNew(list []string, s string) []string {
	if slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) }) {
		return list
	}
	return append(list, s)
}
