package posture

import (
	"testing"

	"breakglass/internal/graph/collect"
)

var accountsCases = []fixtureCase{
	{name: "accounts-unresolved", dir: true, mutate: []mutation{func(f *fixture) {
		f.unresolve(fxBG2, "not found in the directory (deleted, or a typo in the configuration)")
	}}, check: "accounts", account: fxBG2UPN, want: StatusError, contains: "does not resolve"},
	{name: "accounts-unresolved-count", mutate: []mutation{func(f *fixture) { f.unresolve(fxBG2, "not found") }},
		check: "accounts", want: StatusFail, contains: "1 of 2"},
	{name: "accounts-disabled", mutate: []mutation{setUser(fxBG1, map[string]any{"accountEnabled": false})},
		check: "accounts", account: fxBG1UPN, want: StatusFail, contains: "is disabled"},
	{name: "accounts-disabled-count", mutate: []mutation{setUser(fxBG1, map[string]any{"accountEnabled": false})},
		check: "accounts", want: StatusFail},
	{name: "accounts-only-one", mutate: []mutation{func(f *fixture) {
		f.m.Accounts = f.m.Accounts[:1]
		f.remove(collect.DatasetBreakGlassUsers, byID(fxBG2))
	}}, check: "accounts", want: StatusFail, contains: "1 of 1"},
	{name: "accounts-none", mutate: []mutation{func(f *fixture) { f.m.Accounts = nil }},
		check: "accounts", want: StatusFail, contains: "no break-glass accounts are configured"},
	{name: "accounts-enabled-null", mutate: []mutation{setUser(fxBG1, map[string]any{"accountEnabled": nil})},
		check: "accounts", account: fxBG1UPN, want: StatusError},
	{name: "accounts-enabled-wrong-type", mutate: []mutation{setUser(fxBG1, map[string]any{"accountEnabled": "yes"})},
		check: "accounts", account: fxBG1UPN, want: StatusError, contains: "unreadable"},
	{name: "accounts-enabled-not-selected", mutate: []mutation{func(f *fixture) {
		f.deleteEverywhere(fxBG2, "accountEnabled")
	}}, check: "accounts", account: fxBG2UPN, want: StatusSkip},
	{name: "accounts-users-refused", mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetBreakGlassUsers, collect.ReasonPermission) }},
		check: "accounts", account: fxBG1UPN, want: StatusSkip, contains: "breakglass_users unavailable"},
	{name: "accounts-users-refused-count", mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetBreakGlassUsers, collect.ReasonPermission) }},
		check: "accounts", want: StatusSkip},
}

func init() { allFixtureCases = append(allFixtureCases, accountsCases...) }

func TestAccountsCheck(t *testing.T) { runFixtureCases(t, accountsCases) }
