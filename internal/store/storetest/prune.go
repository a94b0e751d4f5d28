package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

// PruneStore is a store that prunes incidents (store.IncidentPruning).
type PruneStore interface {
	store.Store
	store.IncidentPruning
}

// PruneOpener opens the store at path, like Opener; the suite closes it.
type PruneOpener func(t *testing.T, path string) PruneStore

// RunPrune runs the conformance tests of store.IncidentPruning: what a
// prune drops and keeps, the tombstone, what it refuses, and that drills
// outlive every prune.
func RunPrune(t *testing.T, open PruneOpener) {
	t.Run("PruneExpired", func(t *testing.T) { pruneExpired(t, open) })
	t.Run("PruneRefuses", func(t *testing.T) { pruneRefuses(t, open) })
	t.Run("DrillsOutlivePruning", func(t *testing.T) { drillsOutlivePruning(t, open) })
}

var pruneT0 = time.Date(2025, 1, 10, 3, 0, 0, 0, time.UTC)

// ClosedIncident stores an alert, attaches it, logs its evidence (record,
// alert, the transitions), reviews and (unless open) closes it, and
// returns the incident.
func ClosedIncident(t *testing.T, s store.Store, event string, closeIt bool) store.Incident {
	t.Helper()
	ctx := context.Background()
	a := Alert(event, "bg.signin", pruneT0)
	if _, err := s.AddAlert(ctx, a, Evidence(a, []byte(`{"id":"`+event+`"}`))); err != nil {
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
	if closeIt {
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

func allEntries(t *testing.T, s store.Store) []store.LogEntry {
	t.Helper()
	es, err := s.LogEntries(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func pruneExpired(t *testing.T, open PruneOpener) {
	ctx := context.Background()
	path := t.TempDir() + "/store.db"
	s := open(t, path)
	t.Cleanup(func() { s.Close() }) // closing twice is safe (DoubleClose)
	inc := ClosedIncident(t, s, "evt-1", true)
	other := ClosedIncident(t, s, "evt-2", false) // open: untouched
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
		rec.FirstSeq != 1 || rec.LastSeq != 3 || rec.AlertsKept != 1 || rec.ChangesDropped != 3 || rec.Retention != 400*24*time.Hour {
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
	s2 := open(t, path)
	t.Cleanup(func() { s2.Close() })
	if again, err := s2.Incident(ctx, inc.ID); err != nil || again.Pruned == nil || !again.Pruned.At.Equal(at) {
		t.Errorf("after reopening: %+v, %v", again.Pruned, err)
	}
}

func pruneRefuses(t *testing.T, open PruneOpener) {
	ctx := context.Background()
	s := open(t, t.TempDir()+"/store.db")
	t.Cleanup(func() { s.Close() })
	open1 := ClosedIncident(t, s, "evt-open", false)
	closed := ClosedIncident(t, s, "evt-closed", true)
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
	a := Alert("evt-next", "bg.signin", pruneT0.Add(48*time.Hour))
	if _, err := s.AddAlert(ctx, a, Evidence(a, []byte("{}"))); err != nil {
		t.Fatal(err)
	}
	prev := ClosedIncident(t, s, "evt-prev", true)
	next, _, err := s.AttachAlert(ctx, a, prev.Key, store.IncidentAccount, time.Hour, pruneT0.Add(48*time.Hour))
	if err != nil || next.Previous != prev.ID {
		t.Fatalf("follower: %+v, %v", next, err)
	}
	if _, _, err := s.PruneIncident(ctx, store.PruneRequest{Incident: prev.ID, Reason: store.PruneExpired}); !errors.Is(err, store.ErrNotPrunable) ||
		!strings.Contains(err.Error(), next.ID) {
		t.Errorf("followed by an open incident: %v", err)
	}
}
