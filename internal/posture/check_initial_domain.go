package posture

import (
	"strings"

	"breakglass/internal/graph/collect"
)

// initialDomainCheck: the UPN is on the tenant's initial
// *.onmicrosoft.com domain, and that domain is managed.
type initialDomainCheck struct{}

func init() { Register(initialDomainCheck{}) }

var initialDomainInfo = Info{
	ID:           "initial-domain",
	Title:        "Break-glass account is on the initial onmicrosoft.com domain",
	Severity:     SeverityHigh,
	Requirements: []string{"R3", "R13"},
	Rationale: "The initial *.onmicrosoft.com domain cannot be removed, federated or lose its DNS, so an account on it signs in " +
		"against Entra ID itself even when a custom domain's federation or DNS is broken (R3, R13).",
	PerAccount: true,
	Order:      30,
}

func (initialDomainCheck) Info() Info { return initialDomainInfo }

func (initialDomainCheck) Run(env *Env) []Result {
	t := env.Tenant
	info := initialDomainInfo
	if reason, missing := t.Missing(collect.DatasetDomains); missing {
		if len(t.Accounts) == 0 {
			return noAccounts(info)
		}
		return skipEach(info, t, reason)
	}
	var initial *Domain
	for i := range t.Domains {
		if t.Domains[i].IsInitial {
			initial = &t.Domains[i]
			break
		}
	}
	dsrc := t.Source(collect.DatasetDomains)
	return accountVerdicts(info, t, func(a *AccountInfo, u *User) Result {
		if r, unknown := fieldUnknown(info, t, a, u, "userPrincipalName"); unknown {
			return r
		}
		upnEv := Evidence{Object: userObject(u, a), Field: "userPrincipalName", Value: u.UPN, Source: t.Source(u.Source)}
		fix := Remediation{
			Summary: "Change the account's UPN to the initial domain (name@<tenant>.onmicrosoft.com), then update accounts: in the configuration.",
			Portal:  "Entra admin center > Identity > Users > All users > " + accountName(a) + " > Edit properties > Identity > User principal name",
		}
		if initial != nil {
			fix.Graph = "PATCH https://graph.microsoft.com/v1.0/users/" + psUser(a) + ` {"userPrincipalName": "` + localPart(u.UPN) + "@" + initial.ID + `"}`
			fix.PowerShell = "Update-MgUser -UserId '" + psUser(a) + "' -UserPrincipalName '" + localPart(u.UPN) + "@" + initial.ID + "'"
		}
		if initial == nil {
			r := info.Result(a, StatusError, "the domains dataset lists no initial domain (isInitial true), so %s cannot be checked", accountName(a))
			r.Evidence = []Evidence{upnEv, {Object: "domains", Field: "isInitial", Value: false, Source: dsrc, Note: "no domain has isInitial true"}}
			return r
		}
		initEv := Evidence{Object: "domain " + initial.ID, Field: "authenticationType", Value: initial.AuthenticationType, Source: dsrc, Note: "isInitial true"}
		if strings.Contains(strings.ToUpper(u.UPN), "#EXT#") {
			r := info.Result(a, StatusFail, "%s is a guest (#EXT#) account: it signs in with another organisation's identity, not on %s", accountName(a), initial.ID)
			r.Evidence, r.Remediation = []Evidence{upnEv, initEv}, fix
			r.Remediation.Summary = "Use a member account created in this tenant on " + initial.ID + "; a guest depends on its home organisation."
			return r
		}
		suffix := domainOf(u.UPN)
		if !strings.EqualFold(suffix, initial.ID) {
			r := info.Result(a, StatusFail, "%s is on %s, not on the initial domain %s", accountName(a), suffix, initial.ID)
			for _, d := range t.Domains {
				if strings.EqualFold(d.ID, suffix) {
					r.Message += " (" + suffix + " is " + strings.ToLower(d.AuthenticationType) + ")"
					r.Evidence = append(r.Evidence, Evidence{Object: "domain " + d.ID, Field: "authenticationType", Value: d.AuthenticationType, Source: dsrc})
				}
			}
			r.Evidence = append([]Evidence{upnEv, initEv}, r.Evidence...)
			r.Remediation = fix
			return r
		}
		if !strings.EqualFold(initial.AuthenticationType, "Managed") {
			r := info.Result(a, StatusFail, "%s is on the initial domain %s, but that domain's authenticationType is %q, not Managed", accountName(a), initial.ID, initial.AuthenticationType)
			r.Evidence = []Evidence{upnEv, initEv}
			r.Remediation = Remediation{
				Summary:    "Convert the initial domain back to managed authentication (it should never be federated).",
				Portal:     "Entra admin center > Identity > Settings > Domain names > " + initial.ID,
				Graph:      "GET https://graph.microsoft.com/v1.0/domains/" + initial.ID + "/federationConfiguration (then DELETE the configuration it lists)",
				PowerShell: "Update-MgDomain -DomainId '" + initial.ID + "' -AuthenticationType Managed",
			}
			return r
		}
		r := info.Result(a, StatusPass, "%s is on the initial domain %s, which is managed", accountName(a), initial.ID)
		r.Evidence = []Evidence{upnEv, initEv}
		return r
	})
}

func domainOf(upn string) string {
	if i := strings.LastIndexByte(upn, '@'); i >= 0 {
		return upn[i+1:]
	}
	return ""
}

func localPart(upn string) string {
	if i := strings.LastIndexByte(upn, '@'); i >= 0 {
		return upn[:i]
	}
	return upn
}
