package posture

import (
	"encoding/json"
	"fmt"
	"strings"

	"breakglass/internal/graph/collect"
)

// passwordExpiryCheck: if the account has a password, it never expires.
type passwordExpiryCheck struct{}

func init() { Register(passwordExpiryCheck{}) }

// neverExpires is passwordValidityPeriodInDays for "passwords never
// expire" on a domain (Int32 max, as Graph reports it).
const neverExpires = 2147483647

var passwordExpiryInfo = Info{
	ID:           "password-expiry",
	Title:        "Break-glass password never expires",
	Severity:     SeverityLow,
	Requirements: []string{"R9"},
	Rationale: "A credential of an emergency account must not expire (R9): an expired password found during an outage " +
		"forces a reset that may need the very access that is missing. The account's passwordPolicies should hold " +
		"DisablePasswordExpiration, unless its domain's passwords never expire at all.",
	PerAccount: true,
	Order:      110,
}

func (passwordExpiryCheck) Info() Info { return passwordExpiryInfo }

func (passwordExpiryCheck) Run(env *Env) []Result {
	t := env.Tenant
	info := passwordExpiryInfo
	return accountVerdicts(info, t, func(a *AccountInfo, u *User) Result {
		if r, unknown := fieldUnknown(info, t, a, u, "passwordPolicies"); unknown {
			return r
		}
		name := accountName(a)
		pol := Evidence{Object: userObject(u, a), Field: "passwordPolicies", Value: ptrValue(u.PasswordPolicies), Source: t.Source(u.Source)}
		if u.PasswordPolicies != nil && hasPolicy(*u.PasswordPolicies, "DisablePasswordExpiration") {
			r := info.Result(a, StatusPass, "%s: the password never expires (passwordPolicies %s)", name, *u.PasswordPolicies)
			r.Evidence = []Evidence{pol}
			return r
		}
		if u.PasswordPolicies == nil {
			pol.Note = "null: the tenant's password expiry applies"
		}
		// No password at all (passwordless-only): nothing can expire.
		if methods, ok := t.AuthMethods[strings.ToLower(a.ID)]; ok && !hasMethodType(methods, "passwordAuthenticationMethod") && !anyInvalid(methods) {
			r := info.Result(a, StatusPass, "%s has no password method, so no password can expire", name)
			r.Evidence = []Evidence{pol, {Object: userObject(u, a), Field: "authentication methods", Value: typesOf(methods),
				Source: t.Source(collect.KeyedName(collect.DatasetAuthMethods, a.ID)), Note: "no passwordAuthenticationMethod"}}
			return r
		}
		dom := domainOf(u.UPN)
		var domEv *Evidence
		for _, d := range t.Domains {
			if !strings.EqualFold(d.ID, dom) {
				continue
			}
			var p struct {
				Days *int64 `json:"passwordValidityPeriodInDays"`
			}
			if json.Unmarshal(d.Raw, &p) == nil && p.Days != nil {
				domEv = &Evidence{Object: "domain " + d.ID, Field: "passwordValidityPeriodInDays", Value: *p.Days, Source: t.Source(collect.DatasetDomains)}
				if *p.Days >= neverExpires {
					domEv.Note = "passwords on this domain never expire"
					r := info.Result(a, StatusPass, "%s: passwords on %s never expire (passwordValidityPeriodInDays %d); DisablePasswordExpiration on the account would keep it so if the domain policy changes", name, d.ID, *p.Days)
					r.Evidence = []Evidence{pol, *domEv}
					return r
				}
			}
		}
		after := ""
		ev := []Evidence{pol}
		if domEv != nil {
			after = fmt.Sprintf(" after %v days on %s", domEv.Value, dom)
			ev = append(ev, *domEv)
		}
		r := info.Result(a, StatusFail, "%s: the password expires%s (passwordPolicies %s); an expired break-glass password blocks the emergency sign-in",
			name, after, policyText(u.PasswordPolicies))
		r.Evidence = ev
		r.Remediation = Remediation{
			Summary:    "Set DisablePasswordExpiration on the account (keep any other policy it has, such as DisableStrongPassword).",
			Portal:     "Not in the admin center: use Graph or PowerShell (Entra admin center > Identity > Users > " + name + " shows the account).",
			Graph:      "PATCH https://graph.microsoft.com/v1.0/users/" + psUser(a) + ` {"passwordPolicies": "DisablePasswordExpiration"}`,
			PowerShell: "Update-MgUser -UserId '" + psUser(a) + "' -PasswordPolicies DisablePasswordExpiration",
		}
		return r
	})
}

// hasPolicy reads passwordPolicies, a comma-separated list.
func hasPolicy(policies, want string) bool {
	for _, p := range strings.Split(policies, ",") {
		if strings.EqualFold(strings.TrimSpace(p), want) {
			return true
		}
	}
	return false
}

func policyText(p *string) string {
	if p == nil || *p == "" {
		return "not set"
	}
	return *p
}

func hasMethodType(methods []AuthMethod, typ string) bool {
	for _, m := range methods {
		if m.Type == typ {
			return true
		}
	}
	return false
}

func anyInvalid(methods []AuthMethod) bool {
	for _, m := range methods {
		if m.Invalid {
			return true
		}
	}
	return false
}

func typesOf(methods []AuthMethod) []string {
	out := make([]string, 0, len(methods))
	for _, m := range methods {
		out = append(out, m.Type)
	}
	return out
}
