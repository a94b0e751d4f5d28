package evidence

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

// prunedLog makes a real store whose log is: incident A's entries 1-3,
// incident B's 4-6, A's prune entry 7 (A pruned: 1-3 keep their headers
// only), B's 8-10. It returns the path, the published head (entry 10) and
// the content entry 2 had.
func prunedLog(t *testing.T) (string, HeadRef, []byte) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "breakglass.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	incOf := func(event string) store.Incident {
		a := storetest.Alert(event, "bg.signin", t0)
		if _, err := st.AddAlert(ctx, a, storetest.Evidence(a, []byte("{}"))); err != nil {
			t.Fatal(err)
		}
		inc, _, err := st.AttachAlert(ctx, a, "key-"+event, store.IncidentAccount, time.Hour, t0)
		if err != nil {
			t.Fatal(err)
		}
		return inc
	}
	appendN := func(inc string, from, n int) {
		for i := range n {
			if _, err := st.AppendLog(ctx, store.LogEntry{Incident: inc, Kind: store.LogRecord, Ref: fmt.Sprintf("ev-%d", from+i),
				At: t0.Add(time.Duration(from+i) * time.Minute), Content: fmt.Appendf(nil, `{"id":"ev-%d","userPrincipalName":"bg1@contoso.com"}`, from+i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, b := incOf("evt-a"), incOf("evt-b")
	appendN(a.ID, 1, 3)
	appendN(b.ID, 4, 3)
	if err := st.SetReview(ctx, a.ID, store.Review{Class: store.ClassDrill, By: "Dana", At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetIncidentState(ctx, a.ID, store.IncidentClosed, "Dana", "", t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PruneIncident(ctx, store.PruneRequest{Incident: a.ID, Reason: store.PruneExpired, At: t0.Add(500 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	appendN(b.ID, 8, 3)
	head, _, err := st.LogHead(ctx)
	if err != nil || head.Seq != 10 {
		t.Fatalf("head %d, %v", head.Seq, err)
	}
	return path, RefOf(head), []byte(`{"id":"ev-2","userPrincipalName":"bg1@contoso.com"}`)
}

// TestTamperAfterPrune: a pruned log verifies clean, and every kind of
// tampering is still detected after a prune, including the two a prune
// makes possible: a pruned entry's header edited, and content "restored"
// with different bytes.
func TestTamperAfterPrune(t *testing.T) {
	const marker = "2027-01-01T00:00:00.000000000Z"
	tests := []struct {
		name   string
		sql    func(t *testing.T, path string, orig []byte) []string
		head   bool
		kind   string
		seq    int64
		detail string
	}{
		{"untouched", nil, true, "", 0, ""},
		{"content restored byte for byte", func(_ *testing.T, _ string, orig []byte) []string {
			return []string{fmt.Sprintf(`UPDATE evidence_log SET content = CAST('%s' AS BLOB), pruned = NULL WHERE seq = 2`, orig)}
		}, true, "", 0, ""},
		{"pruned entry's header edited", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET ref = 'ev-99' WHERE seq = 2`}
		}, false, BrokenHeader, 2, "does not match its fields"},
		{"pruned entry's time edited", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET at = '2020-01-01T00:00:00.000000000Z' WHERE seq = 3`}
		}, false, BrokenHeader, 3, "does not match its fields"},
		{"content restored with other bytes", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET content = CAST('{"id":"ev-2","userPrincipalName":"someone@contoso.com"}' AS BLOB) WHERE seq = 2`}
		}, false, BrokenContent, 2, "was changed"},
		{"content restored with other bytes, marker cleared", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET content = CAST('{}' AS BLOB), pruned = NULL WHERE seq = 1`}
		}, false, BrokenContent, 1, "was changed"},
		{"content deleted behind a prune marker", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET content = X'', pruned = '` + marker + `' WHERE seq = 5`}
		}, false, BrokenPruned, 5, "no prune entry records it"},
		{"content deleted without a marker", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET content = X'' WHERE seq = 9`}
		}, false, BrokenContent, 9, "was changed"},
		{"prune entry edited", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET content = CAST('{"incident":"x","entries":9}' AS BLOB) WHERE seq = 7`}
		}, false, BrokenContent, 7, "was changed"},
		{"prune entry's content removed", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET content = X'', pruned = '` + marker + `' WHERE seq = 7`}
		}, false, BrokenPruned, 7, "prune entries are never pruned"},
		{"edited record after the prune", func(*testing.T, string, []byte) []string {
			return []string{`UPDATE evidence_log SET content = CAST('{}' AS BLOB) WHERE seq = 9`}
		}, false, BrokenContent, 9, "was changed"},
		{"deleted pruned entry", func(*testing.T, string, []byte) []string {
			return []string{`DELETE FROM evidence_log WHERE seq = 2`}
		}, false, BrokenMissing, 2, "entry 2 missing"},
		{"deleted prune entry", func(*testing.T, string, []byte) []string {
			return []string{`DELETE FROM evidence_log WHERE seq = 7`}
		}, false, BrokenMissing, 7, "entry 7 missing"},
		{"inserted entry", func(t *testing.T, path string, _ []byte) []string {
			f := forged(5, hashOf(t, path, 4))
			return []string{
				`UPDATE evidence_log SET seq = seq + 1000 WHERE seq >= 5`,
				`UPDATE evidence_log SET seq = seq - 999 WHERE seq >= 1000`,
				fmt.Sprintf(`INSERT INTO evidence_log (seq, incident, kind, ref, at, content, content_sha256, prev, hash) VALUES (5, 'inc-a', 'record', 'forged', '%s', CAST('%s' AS BLOB), '%s', '%s', '%s')`,
					f.At.Format("2006-01-02T15:04:05.000000000Z"), f.Content, f.ContentSHA256, f.Prev, f.Hash),
			}
		}, false, BrokenInserted, 5, "entry 5 was inserted"},
		{"swapped pruned entries", func(*testing.T, string, []byte) []string {
			return []string{
				`UPDATE evidence_log SET seq = -1 WHERE seq = 1`,
				`UPDATE evidence_log SET seq = 1 WHERE seq = 2`,
				`UPDATE evidence_log SET seq = 2 WHERE seq = -1`,
			}
		}, false, BrokenReordered, 1, "written as entry 2"},
		{"truncated tail", func(*testing.T, string, []byte) []string {
			return []string{`DELETE FROM evidence_log WHERE seq > 7`}
		}, true, BrokenTruncated, 8, "entries 8 to 10 deleted"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, head, orig := prunedLog(t)
			if tt.sql != nil {
				tamper(t, path, tt.sql(t, path, orig)...)
			}
			st, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var heads []HeadRef
			if tt.head {
				heads = []HeadRef{head}
			}
			res, err := Verify(ctx, st, heads)
			if err != nil {
				t.Fatal(err)
			}
			if tt.kind == "" {
				if !res.OK() || res.Entries != 10 || res.HeadsChecked != 1 || res.Pruned == nil || res.Pruned.Incidents != 1 {
					t.Fatalf("intact pruned store: %+v %+v %+v", res, res.Break, res.Pruned)
				}
				want := int64(3)
				if tt.name != "untouched" {
					want = 2 // one content is back
				}
				if res.Pruned.Entries != want || !res.Pruned.Last.Equal(t0.Add(500*24*time.Hour)) {
					t.Errorf("pruned summary %+v, want %d entries", res.Pruned, want)
				}
				if s := res.Pruned.String(); !strings.Contains(s, "1 incident pruned (2027-07-27)") {
					t.Errorf("summary reads %q", s)
				}
				return
			}
			b := res.Break
			if b == nil {
				t.Fatalf("not detected: %+v", res)
			}
			if b.Kind != tt.kind || b.Seq != tt.seq || !strings.Contains(b.Detail, tt.detail) {
				t.Errorf("got %s at entry %d: %s\nwant %s at entry %d containing %q", b.Kind, b.Seq, b.Detail, tt.kind, tt.seq, tt.detail)
			}
		})
	}
}

// TestPruneCountChecked: more emptied entries of an incident than its
// prune entry records is a deletion (memLog, where anything can be
// forged).
func TestPruneCountChecked(t *testing.T) {
	m := &memLog{}
	ctx := context.Background()
	for i := range 3 {
		m.AppendLog(ctx, store.LogEntry{Incident: "inc-a", Kind: store.LogRecord, Ref: fmt.Sprint(i), At: t0, Content: []byte("x")})
	}
	m.AppendLog(ctx, store.LogEntry{Incident: "inc-a", Kind: store.LogPrune, Ref: "prune", At: t0, Content: []byte(`{"incident":"inc-a","entries":2,"at":"2026-01-01T00:00:00Z"}`)})
	for i := range 3 {
		m.entries[i].Content, m.entries[i].Pruned = []byte{}, t0
	}
	res, err := Verify(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Break == nil || res.Break.Kind != BrokenPruned || res.Break.Seq != 1 || !strings.Contains(res.Break.Detail, "records 2 dropped") {
		t.Fatalf("got %+v", res.Break)
	}
	m.entries[0].Content, m.entries[0].Pruned = []byte("x"), time.Time{}
	if res, _ := Verify(ctx, m, nil); !res.OK() || res.Pruned.Entries != 2 {
		t.Fatalf("with the count matching: %+v %+v", res.Break, res.Pruned)
	}
	m.entries[3].Incident = "inc-b"
	m.entries[3].Hash = m.entries[3].ComputeHash()
	if res, _ := Verify(ctx, m, nil); res.Break == nil || res.Break.Kind != BrokenPruned || !strings.Contains(res.Break.Detail, `says it pruned incident "inc-a"`) {
		t.Fatalf("prune entry of another incident: %+v", res.Break)
	}
}
