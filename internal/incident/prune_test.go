package incident_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/incident"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

const retention = 400 * 24 * time.Hour

// closedAt is when reviewedIncident closes its incident: its last
// activity.
var closedAt = t0.Add(30*time.Minute + time.Hour)

func openPath(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func plan(t *testing.T, st *sqlite.Store, o incident.PruneOptions) []incident.PruneItem {
	t.Helper()
	items, err := incident.PlanPrune(context.Background(), st, o)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// verifyClean checks the whole chain and every incident against its log.
func verifyClean(t *testing.T, st *sqlite.Store) evidence.Result {
	t.Helper()
	ctx := context.Background()
	res, err := evidence.Verify(ctx, st, nil)
	if err != nil || !res.OK() {
		t.Fatalf("verify after prune: %+v %v", res.Break, err)
	}
	if m, err := incident.CheckStoreLog(ctx, st, ""); err != nil || m != nil {
		t.Fatalf("CheckStoreLog after prune: %v %v", m, err)
	}
	return res
}

func TestPruneExpiry(t *testing.T) {
	ctx := context.Background()
	path, id, alerts := reviewedIncident(t)
	st := openPath(t, path)
	// A day before it expires: nothing is due.
	if items := plan(t, st, incident.PruneOptions{Retention: retention, Now: closedAt.Add(retention - 24*time.Hour)}); len(items) != 0 {
		t.Fatalf("due before expiry: %+v", items)
	}
	now := closedAt.Add(retention)
	o := incident.PruneOptions{Retention: retention, Now: now}
	items := plan(t, st, o)
	if len(items) != 1 {
		t.Fatalf("plan = %+v, want one", items)
	}
	it := items[0]
	if it.Incident != id || it.Reason != store.PruneExpired || it.Class != store.ClassMisuse || !it.Closed.Equal(closedAt) ||
		!it.Expires.Equal(now) || it.Done || it.Held != "" {
		t.Errorf("item = %+v", it)
	}
	before, _ := st.IncidentLog(ctx, id)
	done, err := incident.RunPrune(ctx, st, items, o)
	if err != nil {
		t.Fatal(err)
	}
	if !done[0].Done || done[0].Entries != len(before) || done[0].Seq == 0 {
		t.Errorf("run = %+v, want %d entries pruned", done[0], len(before))
	}
	res := verifyClean(t, st)
	if res.Pruned == nil || res.Pruned.Entries != int64(len(before)) || res.Pruned.Incidents != 1 || !res.Pruned.Last.Equal(now) {
		t.Errorf("verify's prune summary = %+v", res.Pruned)
	}
	inc, err := st.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Pruned == nil || inc.Pruned.Reason != store.PruneExpired || inc.Review.Class != store.ClassMisuse ||
		len(inc.Alerts) != len(alerts)+1 || !reflect.DeepEqual(inc.Alerts[:len(alerts)], alerts) { // and bg.misuse
		t.Errorf("tombstone = %+v %+v", inc, inc.Pruned)
	}
	if items := plan(t, st, incident.PruneOptions{Retention: retention, Now: now.Add(retention)}); len(items) != 0 {
		t.Errorf("a pruned incident is due again: %+v", items)
	}
	// Reconcile after the prune writes nothing: the alerts' entries are
	// there (as headers).
	head, _, _ := st.LogHead(ctx)
	if err := builder(st, &clock{t: now}).Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := st.LogHead(ctx); h.Seq != head.Seq {
		t.Errorf("reconcile after the prune appended entries %d to %d", head.Seq+1, h.Seq)
	}
}

func TestPruneExported(t *testing.T) {
	ctx := context.Background()
	path, id, _ := reviewedIncident(t)
	st := openPath(t, path)
	o := incident.PruneOptions{Retention: retention, Now: closedAt.Add(24 * time.Hour)}
	log, _ := st.IncidentLog(ctx, id)
	sum := strings.Repeat("5e", 32)
	if err := st.RecordExport(ctx, store.IncidentExport{Incident: id, SHA256: sum, Path: "inc.zip", At: closedAt.Add(time.Hour), LastSeq: log[len(log)-1].Seq}); err != nil {
		t.Fatal(err)
	}
	if items := plan(t, st, o); len(items) != 0 {
		t.Fatalf("exported incidents pruned without being asked: %+v", items)
	}
	o.Exported = true
	items := plan(t, st, o)
	if len(items) != 1 || items[0].Reason != store.PruneExported || items[0].Bundle != sum || !items[0].Exported.Equal(closedAt.Add(time.Hour)) {
		t.Fatalf("plan = %+v", items)
	}
	// Evidence added after the export holds it until it is exported again.
	if _, err := st.AppendLog(ctx, store.LogEntry{Incident: id, Kind: store.LogNotify, Ref: "late", At: closedAt.Add(2 * time.Hour), Content: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	held := plan(t, st, o)
	if len(held) != 1 || held[0].Reason != "" || !strings.Contains(held[0].Held, "export it again") {
		t.Fatalf("stale export: %+v", held)
	}
	// A plan made before the late entry: the store refuses, the item is held.
	done, err := incident.RunPrune(ctx, st, items, o)
	if err != nil || done[0].Done || !strings.Contains(done[0].Held, "after the export") {
		t.Fatalf("run on a stale plan = %+v, %v", done, err)
	}
	log, _ = st.IncidentLog(ctx, id)
	if err := st.RecordExport(ctx, store.IncidentExport{Incident: id, SHA256: sum, At: closedAt.Add(3 * time.Hour), LastSeq: log[len(log)-1].Seq}); err != nil {
		t.Fatal(err)
	}
	done, err = incident.RunPrune(ctx, st, plan(t, st, o), o)
	if err != nil || len(done) != 1 || !done[0].Done || done[0].Reason != store.PruneExported {
		t.Fatalf("run = %+v, %v", done, err)
	}
	verifyClean(t, st)
	if inc, _ := st.Incident(ctx, id); inc.Pruned == nil || inc.Pruned.Bundle != sum {
		t.Errorf("tombstone %+v", inc.Pruned)
	}
}

// TestPruneNeverOpen: open, acknowledged and reviewed incidents are never
// pruned however old, and neither is a closed one that an open incident
// follows.
func TestPruneNeverOpen(t *testing.T) {
	ctx := context.Background()
	path, id, _ := reviewedIncident(t)
	st := openPath(t, path)
	c := &clock{t: t0.Add(30 * 24 * time.Hour)}
	use(t, st, "use2", c.now())
	drain(t, builder(st, c), 3)
	incs, _ := st.Incidents(ctx, store.IncidentFilter{State: store.IncidentOpen})
	if len(incs) != 1 || incs[0].Previous != id {
		t.Fatalf("second use: %+v", incs)
	}
	far := incident.PruneOptions{Retention: retention, Now: t0.Add(100 * retention), Exported: true}
	items := plan(t, st, far)
	if len(items) != 1 || items[0].Incident != id || items[0].Reason != "" || !strings.Contains(items[0].Held, incs[0].ID+" follows it") {
		t.Fatalf("plan = %+v", items)
	}
	done, err := incident.RunPrune(ctx, st, items, far)
	if err != nil || done[0].Done {
		t.Fatalf("run = %+v %v", done, err)
	}
	for _, inc := range []string{id, incs[0].ID} {
		if got, _ := st.Incident(ctx, inc); got.Pruned != nil {
			t.Errorf("incident %s (%s) was pruned", inc, got.State)
		}
	}
	if _, _, err := st.PruneIncident(ctx, store.PruneRequest{Incident: incs[0].ID, Reason: store.PruneExpired}); !errors.Is(err, store.ErrNotPrunable) {
		t.Errorf("the store pruned an open incident: %v", err)
	}
	// Once the follower is closed, both go.
	if _, err := incident.Review(ctx, st, incs[0].ID, incident.ReviewRequest{Class: store.ClassDrill, By: "dana", Gap: gap}, c.now()); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Close(ctx, st, incs[0].ID, "dana", "", c.now()); err != nil {
		t.Fatal(err)
	}
	done, err = incident.RunPrune(ctx, st, plan(t, st, far), far)
	if err != nil || len(done) != 2 || !done[0].Done || !done[1].Done {
		t.Fatalf("run after closing = %+v %v", done, err)
	}
	verifyClean(t, st)
}

// TestPrunePlanChangesNothing: planning (a dry run) writes nothing.
func TestPrunePlanChangesNothing(t *testing.T) {
	ctx := context.Background()
	path, id, _ := reviewedIncident(t)
	st := openPath(t, path)
	before, _ := st.LogEntries(ctx, 0, 0)
	incBefore, _ := st.Incident(ctx, id)
	if items := plan(t, st, incident.PruneOptions{Retention: retention, Now: closedAt.Add(2 * retention)}); len(items) != 1 {
		t.Fatalf("plan = %+v", items)
	}
	after, _ := st.LogEntries(ctx, 0, 0)
	incAfter, _ := st.Incident(ctx, id)
	if !reflect.DeepEqual(before, after) || !reflect.DeepEqual(incBefore, incAfter) {
		t.Errorf("planning changed the store")
	}
	if _, err := incident.PlanPrune(ctx, st, incident.PruneOptions{}); err == nil {
		t.Errorf("a zero retention was accepted")
	}
}

// TestCheckPrunedTampered: after a prune the tombstone is compared with the
// prune entry (which the chain covers): rewriting it is named, and so is
// deleting it, while an intact tombstone agrees.
func TestCheckPrunedTampered(t *testing.T) {
	ctx := context.Background()
	path, id, alerts := reviewedIncident(t)
	st := openPath(t, path)
	o := incident.PruneOptions{Retention: retention, Now: closedAt.Add(retention)}
	if _, err := incident.RunPrune(ctx, st, plan(t, st, o), o); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if m := checkFile(t, path, id); m != nil {
		t.Fatalf("untouched pruned store: %v", m)
	}
	for _, tc := range []struct {
		name, field string
		sql         string
		args        []any
	}{
		{"misuse rewritten as drill", "review", `UPDATE incidents SET review = json_set(review, '$.class', 'drill') WHERE id = ?`, []any{id}},
		{"review removed", "review", `UPDATE incidents SET review = NULL WHERE id = ?`, []any{id}},
		{"tombstone unmarked", "pruned", `UPDATE incidents SET pruned_at = NULL WHERE id = ?`, []any{id}},
		{"prune count changed", "pruned", `UPDATE incidents SET prune_entries = 1 WHERE id = ?`, []any{id}},
		{"reason changed", "pruned", `UPDATE incidents SET prune_reason = 'exported' WHERE id = ?`, []any{id}},
		{"reopened", "opened", `UPDATE incidents SET state = 'open' WHERE id = ?`, []any{id}},
		{"opened moved", "opened", `UPDATE incidents SET opened = '2026-03-04T00:00:00.000000000Z' WHERE id = ?`, []any{id}},
		{"account changed", "account", `UPDATE incidents SET account_id = '00000000-1111-4000-8000-000000000000' WHERE id = ?`, []any{id}},
		{"alert detached", "alerts", `DELETE FROM incident_alerts WHERE alert_id = ?`, []any{alerts[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bg.db")
			copyFile(t, path, p)
			db, err := sql.Open("sqlite", "file:"+p)
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.Exec(tc.sql, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("tampering changed %d rows", n)
			}
			db.Close()
			m := checkFile(t, p, id)
			if m == nil || m.Field != tc.field || m.Incident != id {
				t.Fatalf("mismatch = %v, want field %s", m, tc.field)
			}
			t.Log(m)
		})
	}
	// A closed incident marked pruned without a prune entry.
	p := filepath.Join(t.TempDir(), "bg.db")
	path2, id2, _ := reviewedIncident(t)
	copyFile(t, path2, p)
	db, _ := sql.Open("sqlite", "file:"+p)
	if _, err := db.Exec(`UPDATE incidents SET pruned_at = '2027-01-01T00:00:00.000000000Z', prune_reason = 'expired' WHERE id = ?`, id2); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if m := checkFile(t, p, id2); m == nil || m.Field != "pruned" || !strings.Contains(m.Detail, "no prune entry") {
		t.Errorf("a tombstone without a prune entry: %v", m)
	}

	// The tombstone deleted: CheckStoreLog names it, for one incident and
	// for all.
	db, _ = sql.Open("sqlite", "file:"+path)
	for _, q := range []string{`DELETE FROM incident_alerts WHERE incident_id = ?`, `DELETE FROM incident_exports WHERE incident_id = ?`, `DELETE FROM incidents WHERE id = ?`} {
		if _, err := db.Exec(q, id); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	st = openPath(t, path)
	for _, which := range []string{"", id} {
		m, err := incident.CheckStoreLog(ctx, st, which)
		if err != nil || m == nil || m.Incident != id || m.Field != "incident" {
			t.Errorf("CheckStoreLog(%q) after the tombstone was deleted: %v %v", which, m, err)
		}
		if which == "" && !strings.Contains(m.Detail, "its prune") {
			t.Errorf("CheckStoreLog does not say it was pruned: %v", m)
		}
	}
}

// TestPruneRefusesBrokenEvidence: pruning a log whose content was edited
// would drop the proof of the edit: Prune verifies first and prunes
// nothing. A dry run never writes, broken or not.
func TestPruneRefusesBrokenEvidence(t *testing.T) {
	ctx := context.Background()
	path, id, _ := reviewedIncident(t)
	o := incident.PruneOptions{Retention: retention, Now: closedAt.Add(retention)}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER evidence_log_no_update`,
		`UPDATE evidence_log SET content = CAST('{"id":"edited"}' AS BLOB) WHERE seq = (SELECT MIN(seq) FROM evidence_log WHERE kind = 'record')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	st := openPath(t, path)
	items, err := incident.Prune(ctx, st, o, nil, true)
	if err != nil || len(items) != 1 || items[0].Done {
		t.Fatalf("dry run = %+v, %v", items, err)
	}
	items, err = incident.Prune(ctx, st, o, nil, false)
	var be *incident.BrokenError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "content-edited") || !strings.Contains(err.Error(), "evidence verify") {
		t.Fatalf("prune of a broken log = %+v, %v", items, err)
	}
	if inc, _ := st.Incident(ctx, id); inc.Pruned != nil {
		t.Errorf("pruned despite the break")
	}
	if res, _ := evidence.Verify(ctx, st, nil); res.OK() || res.Break.Kind != evidence.BrokenContent {
		t.Errorf("the break is no longer visible: %+v", res.Break)
	}
}
