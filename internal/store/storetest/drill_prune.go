package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"breakglass/internal/store"
)

// drillsOutlivePruning (issue 11 item 7): a finished drill and its report
// are kept through every prune. store.retention (Prune: delivered
// notifications) and the KQL record retention (PruneRecords) touch neither
// the drill nor the report in its incident's evidence, however old they
// are. Once the incident is past incidents.retention and pruned, the
// incident becomes its tombstone and the evidence-log copy of the report
// loses its content like every other entry of the incident (the header and
// its content SHA-256 stay), while the drill keeps its report: it is the
// proof auditors ask for and the one copy whose bytes still match the
// chain's header. The drill's incident id still names the tombstone.
func drillsOutlivePruning(t *testing.T, open PruneOpener) {
	ctx := context.Background()
	path := t.TempDir() + "/store.db"
	s := open(t, path)
	t.Cleanup(func() { s.Close() })
	at := pruneT0

	// The drill's sign-in: alerted, delivered, in an incident.
	a := Alert("evt-drill", "bg.signin", at.Add(5*time.Minute))
	if _, err := s.AddAlertNotify(ctx, a, Evidence(a, []byte(`{"id":"evt-drill"}`)), []string{"oncall/webhook"}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := s.AttachAlert(ctx, a, "key-drill", store.IncidentAccount, time.Hour, at.Add(6*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.AlertDeliveries(ctx, a.ID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries = %+v, %v", ds, err)
	}
	if err := s.CompleteDelivery(ctx, ds[0].ID, at.Add(6*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var records store.Records
	if r, ok := s.(store.Records); ok {
		records = r
		if _, err := records.AppendRecord(ctx, store.KQLRecord{Table: "SigninLogs", Ingested: at.Add(5 * time.Minute), Source: "signins.json:1", Raw: []byte(`{"id":"evt-drill"}`)}); err != nil {
			t.Fatal(err)
		}
	}

	// The drill, finished, with its report in the incident's evidence, as
	// package drill writes them (kind drill; refs <id> and <id>/report).
	planned := Drill("drl-0000000000d1", a.AccountID, at)
	if err := s.AddDrill(ctx, planned); err != nil {
		t.Fatal(err)
	}
	d := planned
	d.State, d.Started, d.Finished, d.Updated = store.DrillFinished, at, at.Add(20*time.Minute), at.Add(20*time.Minute)
	d.Result, d.AlertID, d.IncidentID = store.DrillPassed, a.ID, inc.ID
	d.Attest = map[string]string{"people-trained": "bob"}
	d.Measured = []byte(`{"id":"drl-0000000000d1","result":"passed","incident_id":"` + inc.ID + `","measured":{"alert_id":"` + a.ID + `"}}`)
	if err := s.UpdateDrill(ctx, d, planned.Updated); err != nil {
		t.Fatal(err)
	}
	for _, e := range []store.LogEntry{
		{Ref: d.ID, At: at.Add(7 * time.Minute), Content: []byte(`{"suggested_class":"drill","drill":"drl-0000000000d1"}`)},
		{Ref: d.ID + "/report", At: d.Finished, Content: d.Measured},
	} {
		e.Incident, e.Kind = inc.ID, "drill"
		if _, _, err := s.AppendLogOnce(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetReview(ctx, inc.ID, store.Review{Class: store.ClassDrill, By: "Dana", At: at.Add(30 * time.Minute), Note: "drill"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIncidentState(ctx, inc.ID, store.IncidentClosed, "Dana", "drill done", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	reportSum := sha256.Sum256(d.Measured)

	// checkDrill: the drill reads as finished, report and all, and is
	// listed for its account.
	checkDrill := func(t *testing.T, s store.Store, when string) {
		t.Helper()
		got, err := s.Drill(ctx, d.ID)
		if err != nil {
			t.Fatalf("%s: drill %s: %v", when, d.ID, err)
		}
		equalDrill(t, when, got, d)
		if !bytes.Equal(got.Measured, d.Measured) {
			t.Errorf("%s: the drill's report changed:\n%s\nwant\n%s", when, got.Measured, d.Measured)
		}
		ls, err := s.Drills(ctx, store.DrillFilter{AccountID: a.AccountID})
		if err != nil || len(ls) != 1 || ls[0].ID != d.ID {
			t.Errorf("%s: drills of the account = %+v, %v", when, ls, err)
		}
	}
	// drillEntries: the incident's two drill entries, by ref.
	drillEntries := func(t *testing.T, when string) map[string]store.LogEntry {
		t.Helper()
		log, err := s.IncidentLog(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.LogEntry{}
		for _, e := range log {
			if e.Kind == "drill" {
				out[e.Ref] = e
			}
		}
		if len(out) != 2 {
			t.Fatalf("%s: drill entries of incident %s = %+v, want %s and %s/report", when, inc.ID, out, d.ID, d.ID)
		}
		return out
	}

	// 30 days on: older than store.retention (7 days) and any record
	// retention, well within incidents.retention (400 days).
	now := at.Add(30 * 24 * time.Hour)
	before := now.Add(-7 * 24 * time.Hour)
	if st, err := s.Prune(ctx, before); err != nil || st.Deliveries != 1 {
		t.Fatalf("Prune(%s) = %+v, %v; want the drill alert's delivered row removed", before, st, err)
	}
	if records != nil {
		if n, err := records.PruneRecords(ctx, before); err != nil || n != 1 {
			t.Fatalf("PruneRecords(%s) = %d, %v; want the sign-in's record removed", before, n, err)
		}
	}
	checkDrill(t, s, "after store.retention")
	es := drillEntries(t, "after store.retention")
	if e := es[d.ID+"/report"]; !bytes.Equal(e.Content, d.Measured) || !e.Pruned.IsZero() {
		t.Errorf("after store.retention: report entry content %q pruned %v; want the report, kept", e.Content, e.Pruned)
	}
	if got, err := s.Incident(ctx, inc.ID); err != nil || got.Pruned != nil {
		t.Errorf("after store.retention: incident %+v, %v; want it whole", got.Pruned, err)
	}

	// 500 days on: the incident is past incidents.retention and pruned.
	now = at.Add(500 * 24 * time.Hour)
	if _, _, err := s.PruneIncident(ctx, store.PruneRequest{Incident: inc.ID, Reason: store.PruneExpired,
		Retention: 400 * 24 * time.Hour, Expired: at.Add(time.Hour + 400*24*time.Hour), At: now}); err != nil {
		t.Fatal(err)
	}
	tomb, err := s.Incident(ctx, d.IncidentID)
	if err != nil || tomb.Pruned == nil || tomb.Review == nil || tomb.Review.Class != store.ClassDrill || len(tomb.Alerts) != 1 {
		t.Fatalf("the drill's incident after its prune = %+v, %v; want its tombstone, classified drill, alert kept", tomb, err)
	}
	es = drillEntries(t, "after the incident's prune")
	for ref, e := range es {
		if len(e.Content) != 0 || !e.Pruned.Equal(now) {
			t.Errorf("after the incident's prune: entry %s content %q pruned %v; want emptied at %s", ref, e.Content, e.Pruned, now)
		}
	}
	if e := es[d.ID+"/report"]; e.ContentSHA256 != hex.EncodeToString(reportSum[:]) {
		t.Errorf("report entry's content SHA-256 %s; want the drill's report's, %x", e.ContentSHA256, reportSum)
	}
	checkDrill(t, s, "after the incident's prune")
	if a2, err := s.Alert(ctx, a.ID); err != nil || a2.ID != a.ID {
		t.Errorf("the drill's alert after the prune: %v", err)
	}

	// And so after reopening.
	s.Close()
	s2 := open(t, path)
	t.Cleanup(func() { s2.Close() })
	checkDrill(t, s2, "reopened")
}
