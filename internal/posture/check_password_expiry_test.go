package posture

import (
	"testing"

	"breakglass/internal/graph/collect"
)

// domainPasswordDays sets a domain's password validity.
func domainPasswordDays(domain string, n int) mutation {
	return func(f *fixture) {
		f.edit(collect.DatasetDomains, byID(domain), func(m map[string]any) { m["passwordValidityPeriodInDays"] = n })
	}
}

var passwordExpiryCases = []fixtureCase{
	{name: "password-expiry-expires", mutate: []mutation{
		setUser(fxBG1, map[string]any{"passwordPolicies": nil}), domainPasswordDays("contoso.onmicrosoft.com", 90)},
		check: "password-expiry", account: fxBG1UPN, want: StatusFail, contains: "expires after 90 days on contoso.onmicrosoft.com"},
	{name: "password-expiry-strong-only", mutate: []mutation{
		setUser(fxBG2, map[string]any{"passwordPolicies": "DisableStrongPassword"}), domainPasswordDays("contoso.onmicrosoft.com", 90)},
		check: "password-expiry", account: fxBG2UPN, want: StatusFail, contains: "passwordPolicies DisableStrongPassword"},
	{name: "password-expiry-combined", mutate: []mutation{
		setUser(fxBG2, map[string]any{"passwordPolicies": "DisableStrongPassword, DisablePasswordExpiration"}), domainPasswordDays("contoso.onmicrosoft.com", 90)},
		check: "password-expiry", account: fxBG2UPN, want: StatusPass},
	{name: "password-expiry-domain-never", mutate: []mutation{setUser(fxBG1, map[string]any{"passwordPolicies": nil})},
		check: "password-expiry", account: fxBG1UPN, want: StatusPass, contains: "never expire"},
	{name: "password-expiry-no-password", mutate: []mutation{
		setUser(fxBG1, map[string]any{"passwordPolicies": nil}), domainPasswordDays("contoso.onmicrosoft.com", 90),
		func(f *fixture) {
			f.remove(collect.KeyedName(collect.DatasetAuthMethods, fxBG1), func(m map[string]any) bool {
				return m["@odata.type"] == "#microsoft.graph.passwordAuthenticationMethod"
			})
		}},
		check: "password-expiry", account: fxBG1UPN, want: StatusPass, contains: "no password method"},
	{name: "password-expiry-not-selected", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetBreakGlassUsers, byID(fxBG1), func(m map[string]any) { delete(m, "passwordPolicies") })
	}}, check: "password-expiry", account: fxBG1UPN, want: StatusSkip},
	{name: "password-expiry-users-refused", mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetBreakGlassUsers, collect.ReasonPermission) }},
		check: "password-expiry", account: fxBG2UPN, want: StatusSkip, contains: "breakglass_users unavailable"},
}

func init() { allFixtureCases = append(allFixtureCases, passwordExpiryCases...) }

func TestPasswordExpiryCheck(t *testing.T) { runFixtureCases(t, passwordExpiryCases) }
