package evidence

import (
	"context"
	"testing"

	"breakglass/internal/store"
)

// FuzzVerifyPruned: whatever a prune entry holds and whichever entries
// claim to be pruned, Verify never panics, and it never calls a log clean
// whose pruned entries hold bytes other than their recorded content.
func FuzzVerifyPruned(f *testing.F) {
	f.Add([]byte(`{"incident":"inc-a","entries":2,"at":"2026-01-01T00:00:00Z"}`), uint8(3), []byte{})
	f.Add([]byte(`{"incident":"inc-a","entries":-1}`), uint8(1), []byte("x"))
	f.Add([]byte(`[]`), uint8(0xff), []byte(nil))
	f.Fuzz(func(t *testing.T, prune []byte, mask uint8, restored []byte) {
		ctx := context.Background()
		m := &memLog{}
		for i := range 4 {
			m.AppendLog(ctx, store.LogEntry{Incident: "inc-a", Kind: store.LogRecord, Ref: string(rune('a' + i)), At: t0, Content: []byte{byte(i)}})
		}
		m.AppendLog(ctx, store.LogEntry{Incident: "inc-a", Kind: store.LogPrune, Ref: "prune", At: t0, Content: prune})
		for i := range 5 {
			if mask&(1<<i) != 0 {
				m.entries[i].Content, m.entries[i].Pruned = restored, t0
			}
		}
		res, err := Verify(ctx, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() {
			return
		}
		for _, e := range m.entries {
			if len(e.Content) > 0 && store.ContentHash(e.Content) != e.ContentSHA256 {
				t.Fatalf("entry %d holds other bytes and verified clean", e.Seq)
			}
		}
	})
}
