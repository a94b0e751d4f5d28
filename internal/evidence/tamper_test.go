package evidence

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// sqliteLog makes a real store with ten evidence entries of two incidents
// and returns its path and the published head (entry 10).
func sqliteLog(t *testing.T) (string, HeadRef) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "breakglass.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var last store.LogEntry
	for i := range 10 {
		inc := "inc-a"
		if i%4 == 3 {
			inc = "inc-b"
		}
		last, err = st.AppendLog(ctx, store.LogEntry{Incident: inc, Kind: store.LogRecord, Ref: fmt.Sprintf("ev-%d", i+1),
			At: t0.Add(time.Duration(i) * time.Minute), Content: fmt.Appendf(nil, `{"id":"ev-%d","userPrincipalName":"bg1@contoso.com"}`, i+1)})
		if err != nil {
			t.Fatal(err)
		}
	}
	return path, RefOf(last)
}

// tamper edits the store file directly with SQL, as someone with the file
// would: the append-only triggers are no obstacle to them.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range append([]string{"DROP TRIGGER IF EXISTS evidence_log_no_update", "DROP TRIGGER IF EXISTS evidence_log_no_delete"}, stmts...) {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// forged is an entry an attacker computes properly for Seq seq after prev.
func forged(seq int64, prev string) store.LogEntry {
	e := store.LogEntry{Seq: seq, Incident: "inc-a", Kind: store.LogRecord, Ref: "forged", At: t0, Content: []byte(`{"id":"forged"}`), Prev: prev}
	e.ContentSHA256 = store.ContentHash(e.Content)
	e.Hash = e.ComputeHash()
	return e
}

func hashOf(t *testing.T, path string, seq int64) string {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h string
	if err := db.QueryRow(`SELECT hash FROM evidence_log WHERE seq = ?`, seq).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTamperSQLite(t *testing.T) {
	tests := []struct {
		name   string
		sql    func(t *testing.T, path string) []string
		head   bool // check against the published head
		kind   string
		seq    int64
		ref    string
		detail string
	}{
		{"untouched", nil, true, "", 0, "", ""},
		{"edited record", func(*testing.T, string) []string {
			return []string{`UPDATE evidence_log SET content = CAST('{"id":"ev-3","userPrincipalName":"someone@contoso.com"}' AS BLOB) WHERE seq = 3`}
		}, false, BrokenContent, 3, "ev-3", "was changed"},
		{"edited record and its hash", func(*testing.T, string) []string {
			return []string{`UPDATE evidence_log SET content = CAST('{}' AS BLOB), content_sha256 = '` + store.ContentHash([]byte("{}")) + `' WHERE seq = 3`}
		}, false, BrokenHeader, 3, "ev-3", "does not match its fields"},
		{"edited header", func(*testing.T, string) []string {
			return []string{`UPDATE evidence_log SET incident = 'inc-b' WHERE seq = 6`}
		}, false, BrokenHeader, 6, "ev-6", "does not match its fields"},
		{"deleted entry", func(*testing.T, string) []string {
			return []string{`DELETE FROM evidence_log WHERE seq = 4`}
		}, false, BrokenMissing, 4, "", "entry 4 missing"},
		{"inserted entry", func(t *testing.T, path string) []string {
			f := forged(5, hashOf(t, path, 4))
			return []string{
				`UPDATE evidence_log SET seq = seq + 1000 WHERE seq >= 5`,
				`UPDATE evidence_log SET seq = seq - 999 WHERE seq >= 1000`,
				fmt.Sprintf(`INSERT INTO evidence_log (seq, incident, kind, ref, at, content, content_sha256, prev, hash) VALUES (5, 'inc-a', 'record', 'forged', '%s', CAST('%s' AS BLOB), '%s', '%s', '%s')`,
					f.At.Format("2006-01-02T15:04:05.000000000Z"), f.Content, f.ContentSHA256, f.Prev, f.Hash),
			}
		}, false, BrokenInserted, 5, "forged", "entry 5 was inserted"},
		{"inserted entry at the end", func(t *testing.T, path string) []string {
			f := forged(11, "0000")
			return []string{fmt.Sprintf(`INSERT INTO evidence_log (seq, incident, kind, ref, at, content, content_sha256, prev, hash) VALUES (11, 'inc-a', 'record', 'forged', '%s', CAST('%s' AS BLOB), '%s', '%s', '%s')`,
				f.At.Format("2006-01-02T15:04:05.000000000Z"), f.Content, f.ContentSHA256, f.Prev, f.Hash)}
		}, false, BrokenLink, 11, "forged", "does not link to entry 10"},
		{"swapped order", func(*testing.T, string) []string {
			return []string{
				`UPDATE evidence_log SET seq = -1 WHERE seq = 5`,
				`UPDATE evidence_log SET seq = 5 WHERE seq = 6`,
				`UPDATE evidence_log SET seq = 6 WHERE seq = -1`,
			}
		}, false, BrokenReordered, 5, "ev-6", "written as entry 6"},
		{"truncated tail", func(*testing.T, string) []string {
			return []string{`DELETE FROM evidence_log WHERE seq > 7`}
		}, true, BrokenTruncated, 8, "", "entries 8 to 10 deleted"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, head := sqliteLog(t)
			if tt.sql != nil {
				tamper(t, path, tt.sql(t, path)...)
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
				if !res.OK() || res.Entries != 10 || res.HeadsChecked != 1 {
					t.Fatalf("untouched store: %+v %+v", res, res.Break)
				}
				return
			}
			b := res.Break
			if b == nil {
				t.Fatalf("not detected: %+v", res)
			}
			if b.Kind != tt.kind || b.Seq != tt.seq || b.Ref != tt.ref || !strings.Contains(b.Detail, tt.detail) {
				t.Errorf("got %s at entry %d (ref %q): %s\nwant %s at entry %d (ref %q) containing %q", b.Kind, b.Seq, b.Ref, b.Detail, tt.kind, tt.seq, tt.ref, tt.detail)
			}
		})
	}
	// Without a published head a cut tail cannot be seen: that is why the
	// daemon publishes heads.
	path, _ := sqliteLog(t)
	tamper(t, path, `DELETE FROM evidence_log WHERE seq > 7`)
	st, _ := sqlite.Open(ctx, path)
	defer st.Close()
	if res, _ := Verify(ctx, st, nil); !res.OK() {
		t.Errorf("a truncated log without a head: %+v", res.Break)
	}
}
