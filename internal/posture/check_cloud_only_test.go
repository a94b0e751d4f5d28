package posture

import (
	"testing"

	"breakglass/internal/graph/collect"
)

var cloudOnlyCases = []fixtureCase{
	{name: "cloud-only-synced", dir: true, mutate: []mutation{setUser(fxBG1, map[string]any{
		"onPremisesSyncEnabled": true, "onPremisesImmutableId": "bWFyaWEuZ2FyY2lhQGNvbnRvc28uY29t"})},
		check: "cloud-only", account: fxBG1UPN, want: StatusFail, contains: "synchronised from on-premises"},
	{name: "cloud-only-sync-only", mutate: []mutation{setUser(fxBG1, map[string]any{"onPremisesSyncEnabled": true})},
		check: "cloud-only", account: fxBG1UPN, want: StatusFail},
	{name: "cloud-only-immutable-id", mutate: []mutation{setUser(fxBG2, map[string]any{"onPremisesImmutableId": "Zm9vYmFy"})},
		check: "cloud-only", account: fxBG2UPN, want: StatusFail, contains: "tied to an on-premises object"},
	{name: "cloud-only-was-synced", mutate: []mutation{setUser(fxBG2, map[string]any{"onPremisesSyncEnabled": false})},
		check: "cloud-only", account: fxBG2UPN, want: StatusPass, contains: "synchronised once"},
	{name: "cloud-only-not-selected", mutate: []mutation{func(f *fixture) {
		f.edit(collect.DatasetBreakGlassUsers, byID(fxBG1), func(m map[string]any) { delete(m, "onPremisesImmutableId") })
	}}, check: "cloud-only", account: fxBG1UPN, want: StatusSkip, contains: "onPremisesImmutableId is not in the snapshot"},
	{name: "cloud-only-wrong-type", mutate: []mutation{setUser(fxBG1, map[string]any{"onPremisesSyncEnabled": "false"})},
		check: "cloud-only", account: fxBG1UPN, want: StatusError},
	{name: "cloud-only-users-refused", mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetBreakGlassUsers, collect.ReasonPermission) }},
		check: "cloud-only", account: fxBG1UPN, want: StatusSkip, contains: "breakglass_users unavailable"},
	{name: "cloud-only-unresolved", mutate: []mutation{func(f *fixture) { f.unresolve(fxBG2, "not found") }},
		check: "cloud-only", account: fxBG2UPN, want: StatusSkip, contains: "did not resolve"},
}

func init() { allFixtureCases = append(allFixtureCases, cloudOnlyCases...) }

func TestCloudOnlyCheck(t *testing.T) { runFixtureCases(t, cloudOnlyCases) }
