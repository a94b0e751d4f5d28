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
	// A passed drill is evidence too (Options.Drills, from the store).
	{name: "last-sign-in-stale-drilled", mutate: []mutation{staleSignIn(fxBG1)}, options: drills(PassedDrill{ID: "d-1", AccountID: fxBG1, At: fixtureNow.Add(-10 * drillDay)}),
		check: "last-sign-in", account: fxBG1UPN, want: StatusPass, contains: "passed drill d-1 on " + fixtureNow.Add(-10*drillDay).Format(time.DateOnly) + " (10 days ago"},
	{name: "last-sign-in-never-drilled-by-upn", mutate: []mutation{signIn(fxBG2, nil)}, options: drills(PassedDrill{ID: "d-2", AccountID: "BG2@contoso.onmicrosoft.com", At: fixtureNow.Add(-drillDay)}),
		check: "last-sign-in", account: fxBG2UPN, want: StatusPass, contains: "passed drill d-2"},
	{name: "last-sign-in-no-licence-drilled", mutate: []mutation{func(f *fixture) { f.partial(collect.DatasetBreakGlassUsers, "signInActivity") }},
		options: drills(PassedDrill{ID: "d-3", AccountID: fxBG1, AccountUPN: fxBG1UPN, At: fixtureNow.Add(-drillDay)}),
		check:   "last-sign-in", account: fxBG1UPN, want: StatusPass, contains: "passed drill d-3"},
	{name: "last-sign-in-drill-too-old", mutate: []mutation{staleSignIn(fxBG1)}, options: drills(PassedDrill{ID: "d-4", AccountID: fxBG1, At: fixtureNow.Add(-120 * drillDay)}),
		check: "last-sign-in", account: fxBG1UPN, want: StatusFail, contains: "151 days ago"},
	{name: "last-sign-in-drill-after-audit", mutate: []mutation{staleSignIn(fxBG1)}, options: drills(PassedDrill{ID: "d-5", AccountID: fxBG1, At: fixtureNow.Add(drillDay)}),
		check: "last-sign-in", account: fxBG1UPN, want: StatusFail, contains: "151 days ago"},
	{name: "last-sign-in-other-account-drilled", mutate: []mutation{staleSignIn(fxBG1)}, options: drills(PassedDrill{ID: "d-6", AccountID: fxBG2, AccountUPN: fxBG2UPN, At: fixtureNow.Add(-drillDay)}),
		check: "last-sign-in", account: fxBG1UPN, want: StatusFail, contains: "151 days ago"},
}

const drillDay = 24 * time.Hour

func staleSignIn(id string) mutation {
	return signIn(id, map[string]any{"lastSignInDateTime": "2026-07-01T10:00:00Z", "lastSuccessfulSignInDateTime": "2026-07-01T10:00:00Z"})
}

func drills(ds ...PassedDrill) func(*Options) { return func(o *Options) { o.Drills = ds } }

// TestLastSignInDrillEvidence: the drill is named in the evidence, both
// when it passes the check and when it is too old to.
func TestLastSignInDrillEvidence(t *testing.T) {
	a := &AccountInfo{ID: fxBG1, UPN: fxBG1UPN}
	for _, tc := range []struct {
		ds   []PassedDrill
		want string
	}{
		{[]PassedDrill{{ID: "old", AccountID: fxBG1, At: fixtureNow.Add(-200 * drillDay)}, {ID: "new", AccountID: fxBG1, At: fixtureNow.Add(-2 * drillDay)}}, "new"},
		{[]PassedDrill{{ID: "late", AccountID: fxBG1, At: fixtureNow.Add(time.Hour)}}, ""},
		{nil, ""},
	} {
		d, ok := lastDrill(tc.ds, a, fixtureNow)
		if ok != (tc.want != "") || d.ID != tc.want {
			t.Errorf("lastDrill(%v) = %q %v, want %q", tc.ds, d.ID, ok, tc.want)
		}
	}
	ev := drillEvidence(PassedDrill{ID: "d-9", At: fixtureNow.Add(-3 * drillDay)}, 3*drillDay)
	if ev.Object != "drill d-9" || ev.Value != "passed" || ev.Note == "" {
		t.Errorf("evidence %+v", ev)
	}
}

func init() { allFixtureCases = append(allFixtureCases, lastSignInCases...) }

func TestLastSignInCheck(t *testing.T) { runFixtureCases(t, lastSignInCases) }
