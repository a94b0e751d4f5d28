package posture

import (
	"testing"
	"time"

	"breakglass/internal/graph/collect"
)

func signIn(id string, activity any) mutation {
	return setUser(id, map[string]any{"signInActivity": activity})
}

var lastSignInCases = []fixtureCase{
	{name: "last-sign-in-stale", mutate: []mutation{signIn(fxBG1, map[string]any{
		"lastSignInDateTime": "2026-07-01T10:00:00Z", "lastSuccessfulSignInDateTime": "2026-07-01T10:00:00Z", "lastNonInteractiveSignInDateTime": nil})},
		check: "last-sign-in", account: fxBG1UPN, want: StatusFail, contains: "on 2026-07-01, 151 days ago; the drill interval is 90 days"},
	{name: "last-sign-in-never", mutate: []mutation{signIn(fxBG2, nil)},
		check: "last-sign-in", account: fxBG2UPN, want: StatusFail, contains: "never been tested"},
	{name: "last-sign-in-attempt-only", mutate: []mutation{signIn(fxBG2, map[string]any{
		"lastSignInDateTime": "2026-11-20T10:00:00Z", "lastSuccessfulSignInDateTime": nil})},
		check: "last-sign-in", account: fxBG2UPN, want: StatusFail, contains: "no recorded successful sign-in"},
	{name: "last-sign-in-short-interval", options: func(o *Options) { o.DrillInterval = 30 * 24 * time.Hour },
		check: "last-sign-in", account: fxBG1UPN, want: StatusFail, contains: "the drill interval is 30 days"},
	{name: "last-sign-in-no-licence", dir: true, mutate: []mutation{func(f *fixture) { f.partial(collect.DatasetBreakGlassUsers, "signInActivity") }},
		check: "last-sign-in", account: fxBG1UPN, want: StatusSkip, contains: "needs a licence"},
	{name: "last-sign-in-wrong-type", mutate: []mutation{signIn(fxBG1, map[string]any{"lastSuccessfulSignInDateTime": 5})},
		check: "last-sign-in", account: fxBG1UPN, want: StatusError},
	{name: "last-sign-in-users-refused", mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetBreakGlassUsers, collect.ReasonPermission) }},
		check: "last-sign-in", account: fxBG1UPN, want: StatusSkip, contains: "breakglass_users unavailable"},
}

func init() { allFixtureCases = append(allFixtureCases, lastSignInCases...) }

func TestLastSignInCheck(t *testing.T) { runFixtureCases(t, lastSignInCases) }
