package membership

import (
	"context"
	"encoding/json"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// FuzzMembers: whatever Graph (or a snapshot file) holds, decoding keeps
// only unique users with a GUID id, and never panics.
func FuzzMembers(f *testing.F) {
	f.Add([]byte(`[{"id":"00000000-0000-4000-8000-000000000001","userPrincipalName":"a@b.c"},{"id":"00000000-0000-4000-8000-000000000001"}]`))
	f.Add([]byte(`[{"id":7},"x",null,{"id":" 00000000-0000-4000-8000-00000000000A "}]`))
	f.Add([]byte(`{"id":"{00000000-0000-4000-8000-000000000001}"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			items = []json.RawMessage{data}
		}
		ms, err := Members(items)
		if err != nil && len(ms) > 0 {
			t.Fatalf("members and an error: %v %v", ms, err)
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if !entra.IsGUID(m.ID) || seen[m.ID] {
				t.Fatalf("bad or duplicate member %+v", m)
			}
			seen[m.ID] = true
		}
	})
}

// FuzzLoad: a persisted member list that is unreadable is an error that
// names the group, never a panic; the group id stays watched.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"group":"g","members":[{"id":"00000000-0000-4000-8000-000000000001"}]}`))
	f.Add([]byte(`{"members":"nope"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		state := watch.NewMemConditions()
		_ = state.SetCondition(context.Background(), store.Condition{Rule: StateRule, Key: groupID, Data: data})
		var got []entra.Account
		w := New(Options{Groups: []Group{{ID: groupID}}, State: state, Health: &health{}, Apply: func(l []entra.Account) { got = l }})
		_ = w.Load(context.Background())
		if _, ok := entra.NewAccountSet(got).MatchAny(groupID); !ok {
			t.Fatal("group id not watched")
		}
	})
}
