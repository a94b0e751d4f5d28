package incident_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/incident"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// reviewedIncident makes a store file holding one incident that went
// through ack, a misuse review and close, and returns the file and the
// incident's id.
func reviewedIncident(t *testing.T) (path, id string, alerts []string) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "bg.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{t: t0.Add(time.Minute)}
	as := use(t, st, "use1", t0)
	drain(t, builder(st, c), 3)
	inc, err := st.IncidentOf(ctx, as[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(30 * time.Minute)
	if _, err := incident.Ack(ctx, st, inc.ID, "bob", "", now); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Review(ctx, st, inc.ID, incident.ReviewRequest{Class: store.ClassMisuse, By: "carol", Note: "nobody used it",
		Attest: map[string]string{"oncall": "yes"}, Targets: []string{"oncall/webhook"}, Gap: gap}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Close(ctx, st, inc.ID, "carol", "", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		alerts = append(alerts, a.ID)
	}
	return path, inc.ID, alerts
}

func checkFile(t *testing.T, path, id string) *incident.Mismatch {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inc, err := st.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	log, err := st.IncidentLog(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return incident.CheckLog(inc, log)
}

// TestCheckLogTamperedTable: the incidents table is not in the hash chain,
// so someone with the file can rewrite a misuse review as a drill, reopen
// a closed incident or detach an alert, and evidence verify (the chain)
// stays clean. CheckLog compares the table with the log and names the
// field; an untouched store agrees.
func TestCheckLogTamperedTable(t *testing.T) {
	path, id, alerts := reviewedIncident(t)
	if m := checkFile(t, path, id); m != nil {
		t.Fatalf("untouched store: %v", m)
	}
	for _, tc := range []struct {
		name, field string
		sql         string
		args        []any
	}{
		{"misuse rewritten as drill", "review", `UPDATE incidents SET review = json_set(review, '$.class', 'drill') WHERE id = ?`, []any{id}},
		{"reviewer renamed", "review", `UPDATE incidents SET review = json_set(review, '$.by', 'mallory') WHERE id = ?`, []any{id}},
		{"attestation changed", "review", `UPDATE incidents SET review = json_set(review, '$.attest.oncall', 'no') WHERE id = ?`, []any{id}},
		{"review removed", "review", `UPDATE incidents SET review = NULL WHERE id = ?`, []any{id}},
		{"reopened", "state", `UPDATE incidents SET state = 'open' WHERE id = ?`, []any{id}},
		{"opened moved", "opened", `UPDATE incidents SET opened = '2026-03-04T00:00:00.000000000Z' WHERE id = ?`, []any{id}},
		{"account changed", "account", `UPDATE incidents SET account_id = '00000000-1111-4000-8000-000000000000' WHERE id = ?`, []any{id}},
		{"previous changed", "opened", `UPDATE incidents SET previous = 'inc-000000000000' WHERE id = ?`, []any{id}},
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
			if m == nil {
				t.Fatal("not detected")
			}
			if m.Field != tc.field || m.Incident != id {
				t.Errorf("mismatch = %+v, want field %s", m, tc.field)
			}
			t.Log(m)
		})
	}
}

// TestCheckLogConcurrentAck: an ack and a review at once may log their
// transitions out of order (reviewed, then acknowledged); the incident
// only moves forward, so that is no mismatch.
func TestCheckLogConcurrentAck(t *testing.T) {
	rv := &store.Review{Class: store.ClassDrill, By: "alice", At: t0.Add(2 * time.Minute)}
	entry := func(seq int64, tr incident.Transition) store.LogEntry {
		b, _ := json.Marshal(tr)
		return store.LogEntry{Seq: seq, Incident: "inc-1", Kind: store.LogIncident, Ref: "state:" + tr.To, Content: b}
	}
	log := []store.LogEntry{
		entry(1, incident.Transition{Incident: "inc-1", To: store.IncidentOpen, At: t0}),
		entry(2, incident.Transition{Incident: "inc-1", To: store.IncidentReviewed, At: t0.Add(2 * time.Minute), Review: rv}),
		entry(3, incident.Transition{Incident: "inc-1", To: store.IncidentAcknowledged, At: t0.Add(time.Minute)}),
	}
	inc := store.Incident{ID: "inc-1", State: store.IncidentReviewed, Opened: t0, Review: rv}
	if m := incident.CheckLog(inc, log); m != nil {
		t.Errorf("out-of-order ack: %v", m)
	}
	inc.State = store.IncidentAcknowledged
	if m := incident.CheckLog(inc, log); m == nil || m.Field != "state" || !strings.Contains(m.Detail, "reviewed") {
		t.Errorf("state behind the log: %v", m)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpeningRef: the bundle reader looks for the opening under
// evidence.OpeningRef, before the incident's records.
func TestOpeningRef(t *testing.T) {
	path, id, _ := reviewedIncident(t)
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := st.IncidentLog(context.Background(), id)
	if err != nil || len(log) == 0 {
		t.Fatal(len(log), err)
	}
	if log[0].Kind != store.LogIncident || log[0].Ref != evidence.OpeningRef {
		t.Errorf("first entry %s %q, want the opening %s %q", log[0].Kind, log[0].Ref, store.LogIncident, evidence.OpeningRef)
	}
}

// TestCheckStoreLogDeletedIncident: an incident deleted from the store
// (its row and its alert links) vanished from incidents list while
// evidence verify stayed clean; its opening is still in the log.
func TestCheckStoreLogDeletedIncident(t *testing.T) {
	path, id, _ := reviewedIncident(t)
	ctx := context.Background()
	check := func(which string) *incident.Mismatch {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		m, err := incident.CheckStoreLog(ctx, st, which)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := check(""); m != nil {
		t.Fatalf("untouched: %v", m)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM incident_alerts WHERE incident_id = ?`, `DELETE FROM incidents WHERE id = ?`} {
		if _, err := db.Exec(q, id); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	for _, which := range []string{"", id} {
		if m := check(which); m == nil || m.Incident != id || m.Field != "incident" {
			t.Errorf("CheckStoreLog(%q) after the incident was deleted: %v", which, m)
		}
	}
}
