package collecttest

import (
	"context"
	"encoding/json"
	"testing"

	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
)

// FuzzTenant: a snapshot with any content in its object-by-object
// datasets and any manifest entries is refused with an error or served;
// never a crash.
func FuzzTenant(f *testing.F) {
	for _, seed := range []struct{ data, entry string }{
		{`{"value":[{"id":"u1","userPrincipalName":"bg@x"}]}`, "accounts[0] id u1 (upn bg@x)"},
		{`{"value":[{"id":"a","@breakglass.notFound":true}]}`, "groups[3] id g"},
		{`{"value":[1,"x",null]}`, "accounts[99999999999999999999] upn y"},
		{`{"value":null}`, ""},
		{`[]`, "accounts[0]"},
	} {
		f.Add([]byte(seed.data), seed.entry)
	}
	f.Fuzz(func(t *testing.T, data []byte, entry string) {
		s := &collect.Snapshot{Datasets: map[string]json.RawMessage{}}
		for _, name := range []string{collect.DatasetBreakGlassUsers, collect.DatasetRoleApprovers, collect.DatasetCAGroups,
			collect.DatasetRoleAssignments, collect.KeyedName(collect.DatasetMemberOf, "u1"), collect.DatasetAuthMethodsPolicy} {
			s.Datasets[name] = data
		}
		s.Manifest.Accounts = []collect.Resolved{{Entry: entry}}
		s.Manifest.Unresolved = []collect.Unresolved{{Entry: entry}}
		_ = Options(s)
		tn, err := NewTenant(s, 1)
		if err != nil {
			return
		}
		ctx := context.Background()
		var out json.RawMessage
		_ = tn.Get(ctx, graph.V1, "/users/u1", graph.Query{}, &out)
		_ = tn.Get(ctx, graph.Beta, "/groups/u1", graph.Query{}, &out)
		_ = tn.Get(ctx, graph.V1, "/policies/authenticationMethodsPolicy", graph.Query{}, &out)
		for _, p := range []string{"/users/u1/transitiveMemberOf/microsoft.graph.group", "/roleManagement/directory/roleAssignments"} {
			_ = tn.List(ctx, graph.V1, p, graph.Query{Filter: "roleDefinitionId eq 'x'"}, func([]json.RawMessage) error { return nil })
		}
	})
}
