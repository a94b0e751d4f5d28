package daemon

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/evidence"
	"breakglass/internal/incident"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// pastIncident stores one sign-in of account at `at`, attaches it (the
// builder's clock at `at` too), and unless open reviews it as a drill and
// closes it at closed.
func pastIncident(t *testing.T, st *sqlite.Store, account string, at, closed time.Time, open bool) string {
	t.Helper()
	ctx := context.Background()
	a := alert.Alert{ID: alert.Key("ev-"+account, detect.RuleSignIn), Rule: detect.RuleSignIn, Severity: alert.Sev0, Title: "sign-in " + account,
		AccountID: account, EventID: "ev-" + account, EventTime: at, Detected: at, Category: "SignInLogs", Source: "test"}
	if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte(`{"id":"ev-` + account + `"}`)}); err != nil {
		t.Fatal(err)
	}
	b := incident.New(incident.Options{Store: st, Gap: time.Hour, Now: func() time.Time { return at }})
	inc, _, err := b.Attach(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if open {
		return inc.ID
	}
	if _, err := incident.Review(ctx, st, inc.ID, incident.ReviewRequest{Class: store.ClassDrill, By: "dana", Gap: time.Hour}, closed); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Close(ctx, st, inc.ID, "dana", "", closed); err != nil {
		t.Fatal(err)
	}
	return inc.ID
}

// TestDaemonPrunesExpiredIncidents: serve's retention loop, on an injected
// clock, prunes each closed incident once incidents.retention has passed
// since its last activity, never an open one, and the evidence log still
// verifies.
func TestDaemonPrunesExpiredIncidents(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "incidents:\n  retention: 30d\nnotify:\n  groups:\n    - name: g\n      channels:\n        - type: console\n")
	clk := &testClock{t: time.Now().UTC().Add(time.Minute)}
	now := clk.Now()
	day := 24 * time.Hour
	st := openStore(t, e.db)
	a := pastIncident(t, st, "aaaaaaaa-0000-4000-8000-000000000001", now.Add(-41*day), now.Add(-40*day), false) // expired 10 days ago
	// Opened more than 30 days ago: preserve no longer adds the account's
	// state to them (that would be activity, and move their expiry).
	b := pastIncident(t, st, "bbbbbbbb-0000-4000-8000-000000000002", now.Add(-35*day), now.Add(-20*day), false) // expires in 10 days
	c := pastIncident(t, st, "cccccccc-0000-4000-8000-000000000003", now.Add(-100*day), time.Time{}, true)      // open, very old
	d := pastIncident(t, st, "dddddddd-0000-4000-8000-000000000004", now.Add(-32*day), now.Add(-day), false)    // expires in 29 days
	st.Close()

	r := start(t, cfg, Options{Now: clk.Now, PruneInterval: 20 * time.Millisecond})
	pruned := func(id string) bool {
		inc, err := r.d.st.Incident(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return inc.Pruned != nil
	}
	waitFor(t, 10*time.Second, "incident A pruned", func() bool { return pruned(a) }, r.logs.String)
	if !strings.Contains(r.logs.String(), "pruned incident") || !strings.Contains(r.logs.String(), a) {
		t.Errorf("the prune is not logged:\n%s", r.logs.String())
	}
	time.Sleep(100 * time.Millisecond) // a few more runs: B, C and D are not due
	for _, id := range []string{b, c, d} {
		if pruned(id) {
			t.Fatalf("incident %s pruned before its time", id)
		}
	}
	clk.Add(11 * day)
	waitFor(t, 10*time.Second, "incident B pruned", func() bool { return pruned(b) }, r.logs.String)
	clk.Add(1000 * day)
	waitFor(t, 10*time.Second, "incident D pruned", func() bool { return pruned(d) }, r.logs.String)
	time.Sleep(100 * time.Millisecond)
	if pruned(c) {
		t.Error("the open incident was pruned")
	}
	res, err := evidence.Verify(context.Background(), r.d.st, nil)
	if err != nil || !res.OK() || res.Pruned == nil || res.Pruned.Incidents != 3 {
		t.Errorf("verify after the daemon's prunes: %+v %+v %v", res.Break, res.Pruned, err)
	}
	if m, err := incident.CheckStoreLog(context.Background(), r.d.st, ""); err != nil || m != nil {
		t.Errorf("CheckStoreLog: %v %v", m, err)
	}
	if strings.Contains(r.logs.String(), "pruning incidents") {
		t.Errorf("a prune failed:\n%s", r.logs.String())
	}
}

// TestDaemonPruneRefusalAlerts: an expired incident whose evidence was
// edited is not pruned (that would drop the proof), and the refusal is a
// bg.source alert for incidents, not only a log line.
func TestDaemonPruneRefusalAlerts(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "incidents:\n  retention: 30d\nnotify:\n  groups:\n    - name: g\n      channels:\n        - type: console\n")
	now := time.Now().UTC()
	st := openStore(t, e.db)
	a := pastIncident(t, st, "aaaaaaaa-0000-4000-8000-000000000001", now.Add(-41*24*time.Hour), now.Add(-40*24*time.Hour), false)
	st.Close()
	db, err := sql.Open("sqlite", "file:"+e.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER evidence_log_no_update`, `UPDATE evidence_log SET content = CAST('{}' AS BLOB) WHERE kind = 'record'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	r := start(t, cfg, Options{})
	waitFor(t, 10*time.Second, "bg.source for incidents", func() bool {
		as, err := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: detect.RuleSource})
		if err != nil {
			t.Fatal(err)
		}
		for _, al := range as {
			if al.Source == incident.HealthSource && strings.Contains(al.Title+fmt.Sprint(al.Annotations), "not pruning") {
				return true
			}
		}
		return false
	}, r.logs.String)
	if inc, _ := r.d.st.Incident(context.Background(), a); inc.Pruned != nil {
		t.Error("an edited incident was pruned")
	}
}
