package evidence

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

func insertSQL(e store.LogEntry) string {
	return fmt.Sprintf(`INSERT INTO evidence_log (seq, incident, kind, ref, at, content, content_sha256, prev, hash) VALUES (%d, '%s', '%s', '%s', '%s', CAST('%s' AS BLOB), '%s', '%s', '%s')`,
		e.Seq, e.Incident, e.Kind, e.Ref, e.At.UTC().Format("2006-01-02T15:04:05.000000000Z"), e.Content, e.ContentSHA256, e.Prev, e.Hash)
}

// TestTamperSQLiteMore: tampering the other tests do not try, each named
// at the entry it broke: a Prev edited with that entry's Hash recomputed,
// an entry's time changed (to another instant, or to text that is not a
// time), and the whole tail replaced by a self-consistent forged chain
// when a head had been published.
func TestTamperSQLiteMore(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		sql    func(t *testing.T, path string) []string
		head   bool
		kind   string
		seq    int64
		detail string
	}{
		{"prev edited, its hash recomputed", func(t *testing.T, path string) []string {
			st, _ := sqlite.Open(ctx, path)
			es, _ := st.LogEntries(ctx, 4, 1)
			st.Close()
			e := es[0]
			e.Prev = strings.Repeat("0", 64)
			e.Hash = e.ComputeHash()
			return []string{fmt.Sprintf(`UPDATE evidence_log SET prev = '%s', hash = '%s' WHERE seq = 5`, e.Prev, e.Hash)}
		}, false, BrokenLink, 5, "does not link to entry 4"},
		{"time moved", func(*testing.T, string) []string {
			return []string{`UPDATE evidence_log SET at = '2026-03-14T09:00:00.000000000Z' WHERE seq = 4`}
		}, false, BrokenHeader, 4, "does not match its fields"},
		{"time unreadable", func(*testing.T, string) []string {
			return []string{`UPDATE evidence_log SET at = 'yesterday' WHERE seq = 4`}
		}, false, BrokenHeader, 4, "does not match its fields"},
		{"tail replaced by a forged chain", func(t *testing.T, path string) []string {
			prev := hashOf(t, path, 7)
			stmts := []string{`DELETE FROM evidence_log WHERE seq > 7`}
			for seq := int64(8); seq <= 11; seq++ {
				f := forged(seq, prev)
				f.Ref = fmt.Sprintf("forged-%d", seq)
				f.Hash = f.ComputeHash()
				stmts = append(stmts, insertSQL(f))
				prev = f.Hash
			}
			return stmts
		}, true, BrokenHead, 10, "was published for it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, head := sqliteLog(t)
			tamper(t, path, tc.sql(t, path)...)
			st, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var heads []HeadRef
			if tc.head {
				heads = []HeadRef{head}
			}
			res, err := Verify(ctx, st, heads)
			if err != nil {
				t.Fatal(err)
			}
			b := res.Break
			if b == nil {
				t.Fatalf("not detected: %+v", res)
			}
			if b.Kind != tc.kind || b.Seq != tc.seq || !strings.Contains(b.Detail, tc.detail) {
				t.Errorf("got %s at entry %d: %s\nwant %s at entry %d containing %q", b.Kind, b.Seq, b.Detail, tc.kind, tc.seq, tc.detail)
			}
		})
	}
}
