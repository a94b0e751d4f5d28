package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvidenceVerifyTableBinary: the incidents table (state, review) is not
// in the hash chain. A review rewritten there with SQL (misuse becomes a
// drill, or the review is taken away and the incident reopened) left
// evidence verify clean and exported a bundle whose report said so. Now
// verify names the incident and the field and exits 1, and export refuses.
func TestEvidenceVerifyTableBinary(t *testing.T) {
	for _, tc := range []struct{ name, sql, field string }{
		{"class rewritten", `UPDATE incidents SET review = json_set(review, '$.class', 'drill')`, "review"},
		{"reopened", `UPDATE incidents SET state = 'open', review = NULL`, "state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, storePath, id := evidenceEnv(t, "")
			if r := runBinary(t, nil, "incidents", "review", "-c", cfg, id, "--as", "emergency", "--by", "carol", "--note", "outage"); r.code != 0 {
				t.Fatalf("review: %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if r := runBinary(t, nil, "evidence", "verify", "-c", cfg); r.code != 0 {
				t.Fatalf("untouched store: %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			db, err := sql.Open("sqlite", "file:"+storePath)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tc.sql+` WHERE id = ?`, id); err != nil {
				t.Fatal(err)
			}
			db.Close()
			for _, args := range [][]string{{"evidence", "verify", "-c", cfg}, {"evidence", "verify", "-c", cfg, "--incident", id}} {
				r := runBinary(t, nil, args...)
				if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "incident "+id) || !strings.Contains(r.stdout+r.stderr, "store's "+tc.field) {
					t.Errorf("%v after %s: exit %d\n%s%s", args, tc.name, r.code, r.stdout, r.stderr)
				}
			}
			if r := runBinary(t, nil, "incidents", "show", "-c", cfg, id); r.code != 1 || !strings.Contains(r.stderr, "NOT what the evidence log recorded") {
				t.Errorf("incidents show of a rewritten incident: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			out := filepath.Join(t.TempDir(), "b.zip")
			if r := runBinary(t, nil, "incidents", "export", "-c", cfg, id, "--out", out); r.code != 1 || !strings.Contains(r.stderr, "not exporting") {
				t.Errorf("export of a rewritten incident: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
