package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

var pruneT0 = time.Date(2025, 1, 10, 3, 0, 0, 0, time.UTC)

// closedIncident stores an alert, attaches it, logs its evidence (record,
// alert, the transitions), reviews and (unless open) closes it, and
// returns the incident.
func closedIncident(t *testing.T, s *sqlite.Store, event string, close bool) store.Incident {
	t.Helper()
	ctx := context.Background()
	a := storetest.Alert(event, "bg.signin", pruneT0)
	if _, err := s.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{"id":"`+event+`"}`))); err != nil {
		t.Fatal(err)
	}
	inc, _, err := s.AttachAlert(ctx, a, "key-"+event, store.IncidentAccount, time.Hour, pruneT0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []store.LogEntry{
		{Kind: store.LogIncident, Ref: "state:open", Content: []byte(`{"to":"open"}`)},
		{Kind: store.LogRecord, Ref: event, Content: []byte(`{"id":"` + event + `"}`)},
		{Kind: store.LogAlert, Ref: a.ID, Content: []byte(`{"id":"` + a.ID + `"}`)},
	} {
		e.Incident, e.At = inc.ID, pruneT0.Add(2*time.Minute)
		if _, err := s.AppendLog(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetReview(ctx, inc.ID, store.Review{Class: store.ClassDrill, By: "Dana", At: pruneT0.Add(time.Hour),
		Note: "Q1 drill, CHG-1234", Attest: map[string]string{"oncall": "yes"}}); err != nil {
		t.Fatal(err)
	}
	if close {
		if err := s.SetIncidentState(ctx, inc.ID, store.IncidentClosed, "Dana", "done", pruneT0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	inc, err = s.Incident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func allEntries(t *testing.T, s *sqlite.Store) []store.LogEntry {
	t.Helper()
	es, err := s.LogEntries(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestPruneIncidentExpired(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	inc := closedIncident(t, s, "evt-1", true)
	other := closedIncident(t, s, "evt-2", false) // open: untouched
	before := allEntries(t, s)
	at := pruneT0.Add(500 * 24 * time.Hour)
	tomb, pe, err := s.PruneIncident(ctx, store.PruneRequest{Incident: inc.ID, Reason: store.PruneExpired,
		Retention: 400 * 24 * time.Hour, Expired: pruneT0.Add(402 * time.Hour), At: at})
	if err != nil {
		t.Fatal(err)
	}
	if tomb.Entries != 3 || tomb.Reason != store.PruneExpired || !tomb.At.Equal(at) || !tomb.Closed.Equal(pruneT0.Add(2*time.Hour)) || tomb.Seq != pe.Seq {
		t.Errorf("tombstone = %+v, prune entry %d", tomb, pe.Seq)
	}
	after := allEntries(t, s)
	if len(after) != len(before)+1 {
		t.Fatalf("%d entries after the prune, want %d", len(after), len(before)+1)
	}
	for i, b := range before {
		a := after[i]
		if a.Seq != b.Seq || a.Hash != b.Hash || a.Prev != b.Prev || a.ContentSHA256 != b.ContentSHA256 || a.Ref != b.Ref || !a.At.Equal(b.At) {
			t.Errorf("entry %d: header changed by the prune: %+v -> %+v", b.Seq, b, a)
		}
		pruned := b.Incident == inc.ID
		if pruned != !a.Pruned.IsZero() || (pruned && (len(a.Content) != 0 || !a.Pruned.Equal(at))) || (!pruned && string(a.Content) != string(b.Content)) {
			t.Errorf("entry %d (incident %s): pruned %v, content %q; want pruned=%v", a.Seq, a.Incident, a.Pruned, a.Content, pruned)
		}
	}
	last := after[len(after)-1]
	if last.Kind != store.LogPrune || last.Incident != inc.ID || last.Prev != before[len(before)-1].Hash || last.Hash != last.ComputeHash() {
		t.Fatalf("prune entry = %+v", last)
	}
	var rec store.PruneRecord
	if err := json.Unmarshal(last.Content, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Entries != 3 || rec.Reason != store.PruneExpired || rec.Class != store.ClassDrill || rec.State != store.IncidentClosed ||
		rec.FirstSeq != 1 || rec.LastSeq != 3 || rec.AlertsKept != 1 || rec.ChangesTaken != 3 || rec.Retention != 400*24*time.Hour {
		t.Errorf("prune record = %+v", rec)
	}
	got, err := s.Incident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pruned == nil || got.Pruned.Seq != pe.Seq || got.Review == nil || got.Review.Class != store.ClassDrill || got.Review.By != "Dana" ||
		got.Review.Note != "" || got.Review.Attest != nil || got.State != store.IncidentClosed || len(got.Alerts) != 1 || got.AccountID != inc.AccountID {
		t.Errorf("tombstone incident = %+v (pruned %+v, review %+v)", got, got.Pruned, got.Review)
	}
	if cs, err := s.IncidentChanges(ctx, inc.ID); err != nil || len(cs) != 0 {
		t.Errorf("changes after the prune = %v, %v; want none", cs, err)
	}
	// The alert stays attached: the builder must not open a new incident
	// for it.
	if un, err := s.UnattachedAlerts(ctx, 0); err != nil || len(un) != 0 {
		t.Errorf("unattached after the prune = %d, %v", len(un), err)
	}
	if o, _ := s.Incident(ctx, other.ID); o.Pruned != nil {
		t.Errorf("the open incident was pruned: %+v", o.Pruned)
	}
	// Once only.
	if _, _, err := s.PruneIncident(ctx, store.PruneRequest{Incident: inc.ID, Reason: store.PruneExpired}); !errors.Is(err, store.ErrNotPrunable) {
		t.Errorf("second prune: %v, want ErrNotPrunable", err)
	}
	// Reopened, the tombstone reads the same.
	s.Close()
	s2 := open(t, s.Path())
	if again, err := s2.Incident(ctx, inc.ID); err != nil || again.Pruned == nil || !again.Pruned.At.Equal(at) {
		t.Errorf("after reopening: %+v, %v", again.Pruned, err)
	}
}

func TestPruneIncidentRefuses(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	open1 := closedIncident(t, s, "evt-open", false)
	closed := closedIncident(t, s, "evt-closed", true)
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		req  store.PruneRequest
		want error
		msg  string
	}{
		{"open incident", store.PruneRequest{Incident: open1.ID, Reason: store.PruneExpired}, store.ErrNotPrunable, "it is reviewed"},
		{"unknown incident", store.PruneRequest{Incident: "inc-none", Reason: store.PruneExpired}, store.ErrNotFound, ""},
		{"no such export", store.PruneRequest{Incident: closed.ID, Reason: store.PruneExported, Bundle: sum}, store.ErrNotPrunable, "no export"},
		{"unknown reason", store.PruneRequest{Incident: closed.ID, Reason: "tidy"}, nil, "unknown reason"},
		{"exported without a bundle", store.PruneRequest{Incident: closed.ID, Reason: store.PruneExported}, nil, "sha256"},
	}
	for _, tt := range tests {
		_, _, err := s.PruneIncident(ctx, tt.req)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %v containing %q", tt.name, err, tt.want, tt.msg)
		}
	}
	// An export that does not carry the incident's newest entry allows
	// nothing.
	log, _ := s.IncidentLog(ctx, closed.ID)
	if err := s.RecordExport(ctx, store.IncidentExport{Incident: closed.ID, SHA256: sum, Path: "x.zip", At: pruneT0, LastSeq: log[len(log)-1].Seq - 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PruneIncident(ctx, store.PruneRequest{Incident: closed.ID, Reason: store.PruneExported, Bundle: sum}); !errors.Is(err, store.ErrNotPrunable) ||
		!strings.Contains(err.Error(), "export it again") {
		t.Errorf("stale export: %v", err)
	}
	if err := s.RecordExport(ctx, store.IncidentExport{Incident: closed.ID, SHA256: sum, Path: "x.zip", At: pruneT0.Add(time.Hour), LastSeq: log[len(log)-1].Seq}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []store.IncidentExport{{Incident: closed.ID, SHA256: "zz", LastSeq: 1}, {Incident: closed.ID, SHA256: sum}, {Incident: "inc-none", SHA256: sum, LastSeq: 1}} {
		if err := s.RecordExport(ctx, bad); err == nil {
			t.Errorf("RecordExport(%+v) accepted", bad)
		}
	}
	xs, err := s.IncidentExports(ctx, closed.ID)
	if err != nil || len(xs) != 2 || xs[1].LastSeq != log[len(log)-1].Seq || !xs[1].At.Equal(pruneT0.Add(time.Hour)) {
		t.Fatalf("exports = %+v, %v", xs, err)
	}
	tomb, _, err := s.PruneIncident(ctx, store.PruneRequest{Incident: closed.ID, Reason: store.PruneExported, Bundle: sum})
	if err != nil || tomb.Bundle != sum || tomb.Reason != store.PruneExported {
		t.Fatalf("exported prune: %+v, %v", tomb, err)
	}

	// An incident followed by one that is not closed stays.
	a := storetest.Alert("evt-next", "bg.signin", pruneT0.Add(48*time.Hour))
	if _, err := s.AddAlert(ctx, a, storetest.Evidence(a, []byte("{}"))); err != nil {
		t.Fatal(err)
	}
	prev := closedIncident(t, s, "evt-prev", true)
	next, _, err := s.AttachAlert(ctx, a, prev.Key, store.IncidentAccount, time.Hour, pruneT0.Add(48*time.Hour))
	if err != nil || next.Previous != prev.ID {
		t.Fatalf("follower: %+v, %v", next, err)
	}
	if _, _, err := s.PruneIncident(ctx, store.PruneRequest{Incident: prev.ID, Reason: store.PruneExpired}); !errors.Is(err, store.ErrNotPrunable) ||
		!strings.Contains(err.Error(), next.ID) {
		t.Errorf("followed by an open incident: %v", err)
	}
}

// TestPruneTrigger checks the append-only triggers after 0007: only the
// prune's own update (content emptied, pruned set, nothing else) passes.
func TestPruneTrigger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	inc := closedIncident(t, s, "evt-1", true)
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
