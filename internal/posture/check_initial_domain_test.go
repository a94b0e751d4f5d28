package posture

import (
	"testing"

	"breakglass/internal/graph/collect"
)

var initialDomainCases = []fixtureCase{
	{name: "initial-domain-custom", mutate: []mutation{setUser(fxBG1, map[string]any{"userPrincipalName": "bg1@contoso.com"})},
		check: "initial-domain", account: fxBG1, want: StatusFail, contains: "on contoso.com, not on the initial domain contoso.onmicrosoft.com (contoso.com is federated)"},
	{name: "initial-domain-other-onmicrosoft", mutate: []mutation{setUser(fxBG2, map[string]any{"userPrincipalName": "bg2@fabrikam.onmicrosoft.com"})},
		check: "initial-domain", account: fxBG2, want: StatusFail, contains: "fabrikam.onmicrosoft.com"},
	{name: "initial-domain-federated", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetDomains, byID("contoso.onmicrosoft.com"), func(m map[string]any) { m["authenticationType"] = "Federated" })
	}}, check: "initial-domain", account: fxBG1UPN, want: StatusFail, contains: "not Managed"},
	{name: "initial-domain-guest", mutate: []mutation{setUser(fxBG2, map[string]any{
		"userPrincipalName": "bg2_fabrikam.com#EXT#@contoso.onmicrosoft.com", "userType": "Guest"})},
		check: "initial-domain", account: fxBG2, want: StatusFail, contains: "guest"},
	{name: "initial-domain-no-initial", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetDomains, byID("contoso.onmicrosoft.com"), func(m map[string]any) { m["isInitial"] = false })
	}}, check: "initial-domain", account: fxBG1UPN, want: StatusError},
	{name: "initial-domain-domains-refused", mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetDomains, collect.ReasonPermission) }},
		check: "initial-domain", account: fxBG1UPN, want: StatusSkip, contains: "domains unavailable"},
}

func init() { allFixtureCases = append(allFixtureCases, initialDomainCases...) }

func TestInitialDomainCheck(t *testing.T) { runFixtureCases(t, initialDomainCases) }
