package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

var pruneT0 = time.Date(2025, 1, 10, 3, 0, 0, 0, time.UTC)

func TestPruneConformance(t *testing.T) {
	storetest.RunPrune(t, func(t *testing.T, path string) storetest.PruneStore { return open(t, path) })
}

func allEntries(t *testing.T, s *sqlite.Store) []store.LogEntry {
	t.Helper()
	es, err := s.LogEntries(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestPruneTrigger checks the append-only triggers after 0007: only the
// prune's own update (content emptied, pruned set, nothing else) passes.
func TestPruneTrigger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	inc := storetest.ClosedIncident(t, s, "evt-1", true)
	if _, err := s.AppendLog(context.Background(), store.LogEntry{Kind: store.LogNotify, Ref: "no-incident", Content: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	const when = "2026-01-01T00:00:00.000000000Z"
	refused := []string{
		`UPDATE evidence_log SET content = CAST('other' AS BLOB) WHERE seq = 2`,
		`UPDATE evidence_log SET content = CAST('other' AS BLOB), pruned = '` + when + `' WHERE seq = 2`,
		`UPDATE evidence_log SET content = X'', pruned = '` + when + `', ref = 'x' WHERE seq = 2`,
		`UPDATE evidence_log SET content = X'', pruned = '` + when + `', hash = 'x' WHERE seq = 2`,
		`UPDATE evidence_log SET content = X'', pruned = '` + when + `', content_sha256 = 'x' WHERE seq = 2`,
		`UPDATE evidence_log SET content = X'', pruned = '` + when + `', seq = 99 WHERE seq = 2`,
		`UPDATE evidence_log SET pruned = '` + when + `' WHERE seq = 2`,
		`UPDATE evidence_log SET content = X'', pruned = '` + when + `' WHERE seq = 4`, // no incident
		`DELETE FROM evidence_log WHERE seq = 2`,
	}
	for _, q := range refused {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused", q, err)
		}
	}
	if _, err := db.Exec(`UPDATE evidence_log SET content = X'', pruned = ? WHERE seq = 2`, when); err != nil {
		t.Fatalf("the prune's update was refused: %v", err)
	}
	for _, q := range []string{
		`UPDATE evidence_log SET pruned = '2027-01-01T00:00:00.000000000Z' WHERE seq = 2`,
		`UPDATE evidence_log SET content = CAST('{"id":"evt-1"}' AS BLOB), pruned = NULL WHERE seq = 2`,
	} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s: accepted on a pruned entry", q)
		}
	}
	tomb, pe, err := s.PruneIncident(context.Background(), store.PruneRequest{Incident: inc.ID, Reason: store.PruneExpired})
	if err != nil {
		t.Fatal(err)
	}
	if tomb.Entries != 2 { // entry 2 was emptied by hand above
		t.Errorf("entries pruned = %d, want 2", tomb.Entries)
	}
	if _, err := db.Exec(`UPDATE evidence_log SET content = X'', pruned = ? WHERE seq = ?`, when, pe.Seq); err == nil {
		t.Errorf("the prune entry itself could be pruned")
	}
}

// TestPruneMigrationKeepsLog: a log written before 0007 reads the same
// after the upgrade (nothing pruned), the chain continues from it, and the
// new trigger refuses what the old one did.
func TestPruneMigrationKeepsLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	if err := sqlite.CreateAtVersion(ctx, path, 6); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	e := store.LogEntry{Seq: 1, Incident: "inc-old", Kind: store.LogRecord, Ref: "ev-1", At: pruneT0, Content: []byte(`{"id":"ev-1"}`)}
	e.ContentSHA256 = store.ContentHash(e.Content)
	e.Hash = e.ComputeHash()
	if _, err := db.Exec(`INSERT INTO evidence_log (seq, incident, kind, ref, at, content, content_sha256, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.Incident, e.Kind, e.Ref, "2025-01-10T03:00:00.000000000Z", e.Content, e.ContentSHA256, e.Prev, e.Hash); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	es := allEntries(t, s)
	if len(es) != 1 || !es[0].Pruned.IsZero() || string(es[0].Content) != `{"id":"ev-1"}` || es[0].Hash != e.Hash || es[0].ComputeHash() != e.Hash {
		t.Fatalf("after the upgrade: %+v", es)
	}
	next, err := s.AppendLog(ctx, store.LogEntry{Incident: "inc-old", Kind: store.LogNotify, Ref: "n", Content: []byte("x")})
	if err != nil || next.Seq != 2 || next.Prev != e.Hash {
		t.Fatalf("append after the upgrade: %+v %v", next, err)
	}
	if _, err := db.Exec(`UPDATE evidence_log SET content = CAST('y' AS BLOB) WHERE seq = 1`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("update after the upgrade: %v", err)
	}
}
