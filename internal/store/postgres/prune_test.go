package postgres_test

import (
	"context"
	"strings"
	"testing"

	"breakglass/internal/store"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/storetest"
)

// TestPruneTrigger checks the append-only triggers after 0007, as SQLite's
// test does: only the prune's own update (content emptied, pruned set,
// nothing else, on an incident's entry that is no prune entry) passes.
func TestPruneTrigger(t *testing.T) {
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	inc := storetest.ClosedIncident(t, s, "evt-1", true)
	if _, err := s.AppendLog(context.Background(), store.LogEntry{Kind: store.LogNotify, Ref: "no-incident", Content: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	var noIncident int64
	db := postgres.DB(s)
	if err := db.QueryRow(`SELECT seq FROM evidence_log WHERE incident = ''`).Scan(&noIncident); err != nil {
		t.Fatal(err)
	}
	const when = "2026-01-01T00:00:00.000000000Z"
	refused := []string{
		`UPDATE evidence_log SET content = 'other'::bytea WHERE seq = 2`,
		`UPDATE evidence_log SET content = 'other'::bytea, pruned = '` + when + `' WHERE seq = 2`,
		`UPDATE evidence_log SET content = ''::bytea, pruned = '` + when + `', ref = 'x' WHERE seq = 2`,
		`UPDATE evidence_log SET content = ''::bytea, pruned = '` + when + `', hash = 'x' WHERE seq = 2`,
		`UPDATE evidence_log SET content = ''::bytea, pruned = '` + when + `', content_sha256 = 'x' WHERE seq = 2`,
		`UPDATE evidence_log SET content = ''::bytea, pruned = '` + when + `', seq = 99 WHERE seq = 2`,
		`UPDATE evidence_log SET pruned = '` + when + `' WHERE seq = 2`,
		`UPDATE evidence_log SET content = ''::bytea, pruned = '` + when + `' WHERE incident = ''`,
		`DELETE FROM evidence_log WHERE seq = 2`,
		`TRUNCATE evidence_log`,
	}
	for _, q := range refused {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused", q, err)
		}
	}
	if _, err := db.Exec(`UPDATE evidence_log SET content = ''::bytea, pruned = $1 WHERE seq = 2`, when); err != nil {
		t.Fatalf("the prune's update was refused: %v", err)
	}
	for _, q := range []string{
		`UPDATE evidence_log SET pruned = '2027-01-01T00:00:00.000000000Z' WHERE seq = 2`,
		`UPDATE evidence_log SET content = '{"id":"evt-1"}'::bytea, pruned = NULL WHERE seq = 2`,
	} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s: accepted on a pruned entry", q)
		}
	}
	tomb, pe, err := s.PruneIncident(context.Background(), store.PruneRequest{Incident: inc.ID, Reason: store.PruneExpired})
	if err != nil {
		t.Fatal(err)
	}
	if tomb.Entries < 1 {
		t.Errorf("entries pruned = %d, want the incident's unpruned ones", tomb.Entries)
	}
	if _, err := db.Exec(`UPDATE evidence_log SET content = ''::bytea, pruned = $1 WHERE seq = $2`, when, pe.Seq); err == nil {
		t.Errorf("the prune entry itself could be pruned")
	}
	es, err := s.LogEntries(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Hash != e.ComputeHash() {
			t.Errorf("entry %d no longer verifies after the prune", e.Seq)
		}
	}
}
