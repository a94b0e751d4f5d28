package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/collect/collecttest"
	"breakglass/internal/posture"
	"breakglass/internal/store"
)

// TestScheduledAuditDrillEvidence runs serve's scheduled audit for real
// (the fake Graph server, collect in memory, posture.Run, the stored
// report) with bg1's last successful sign-in 45 days old and
// audit.drill_interval 30d:
//   - with no drill stored, last-sign-in fails on the sign-in's age (the
//     configured interval, not the 90-day default, is applied);
//   - with a passed drill 40 days old and a failed one a day old, it still
//     fails, and names the old drill in its evidence: serve read the
//     store's drills, counted only the passed one, and held it to the
//     interval;
//   - once a drill passed 10 days ago is stored, the next scheduled audit
//     passes last-sign-in with that drill named as the evidence, while
//     bg2, never drilled, still fails.
func TestScheduledAuditDrillEvidence(t *testing.T) {
	snap, err := collect.Load(filepath.Join("..", "posture", "testdata", "snapshots", "compliant"))
	if err != nil {
		t.Fatal(err)
	}
	gs := collecttest.Serve(t, snap, 0)
	users, _, err := snap.Items(collect.DatasetBreakGlassUsers)
	if err != nil || len(users) < 2 {
		t.Fatalf("fixture users: %d, %v", len(users), err)
	}
	var bg1, bg2 map[string]any
	if err := json.Unmarshal(users[0], &bg1); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(users[1], &bg2); err != nil {
		t.Fatal(err)
	}
	bg1ID, bg2UPN := bg1["id"].(string), bg2["userPrincipalName"].(string)
	now := time.Now().UTC()
	stale := func(u map[string]any, ago time.Duration) map[string]any {
		u = maps.Clone(u)
		at := now.Add(-ago).Format(time.RFC3339)
		u["signInActivity"] = map[string]any{"lastSignInDateTime": at, "lastSuccessfulSignInDateTime": at,
			"lastNonInteractiveSignInDateTime": nil, "lastSignInRequestId": "5e5d0f7a-1c2b-4c3d-9e8f-b7c8d9e0f1a1"}
		return u
	}
	// Older than audit.drill_interval (30d), within the 90-day default.
	gs.Object("/v1.0/users/"+bg1ID, stale(bg1, 45*24*time.Hour))
	gs.Object("/v1.0/users/"+bg2["id"].(string), stale(bg2, 45*24*time.Hour))
	gs.Object("/v1.0/users/"+bg2UPN, stale(bg2, 45*24*time.Hour))

	e := newEnv(t)
	rcv := newReceiver(t)
	text := fmt.Sprintf("accounts:\n  - id: %s\n  - upn: %s\nstore:\n  path: %s\nserver:\n  listen: %s\nlog:\n  level: debug\ngraph:\n  auth: access_token\n  base_url: %s\naudit:\n  drill_interval: 30d\nnotify:\n  groups:\n    - name: g\n      channels:\n        - type: webhook\n          url: %s/h\n",
		bg1ID, bg2UPN, e.db, e.listen, gs.URL, rcv.srv.URL)
	path := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BREAKGLASS_GRAPH_TOKEN", "test-token")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg, Options{AuditDelay: 10 * time.Millisecond, AuditInterval: 200 * time.Millisecond})
	ctx := context.Background()

	// lastSignIn is last-sign-in's result per account in the stored
	// report (the scheduled audit's, as the API and dashboard show it).
	lastSignIn := func() map[string]posture.Result {
		reps, err := r.d.st.PostureReports(ctx)
		if err != nil || len(reps) != 1 {
			return nil
		}
		var rep posture.Report
		if err := json.Unmarshal(reps[0].Report, &rep); err != nil {
			t.Fatalf("stored report: %v", err)
		}
		out := map[string]posture.Result{}
		for _, res := range rep.Results {
			if res.Check == "last-sign-in" {
				out[strings.ToLower(res.AccountUPN)] = res
				out[strings.ToLower(res.AccountID)] = res
			}
		}
		return out
	}
	drillEvidence := func(res posture.Result) []string {
		var ids []string
		for _, ev := range res.Evidence {
			if ev.Source == "breakglass store: drills" {
				ids = append(ids, ev.Object)
			}
		}
		return ids
	}
	var res posture.Result
	show := func() string { return fmt.Sprintf("last-sign-in of bg1: %+v\n%s", res, r.logs.String()) }

	// No drill: the 45-day-old sign-in fails the 30-day interval.
	waitFor(t, 10*time.Second, "last-sign-in failing on the sign-in's age", func() bool {
		res = lastSignIn()[bg1ID]
		return res.Status == posture.StatusFail && strings.Contains(res.Message, "45 days ago; the drill interval is 30 days")
	}, show)
	if ids := drillEvidence(res); len(ids) != 0 {
		t.Errorf("no drill stored, but last-sign-in names %v", ids)
	}

	addDrill := func(id, acct string, result string, finished time.Time) {
		t.Helper()
		d := store.Drill{ID: id, AccountID: acct, At: finished.Add(-time.Hour), Window: time.Hour, State: store.DrillFinished,
			Result: result, Started: finished.Add(-time.Hour), Finished: finished, Created: finished.Add(-time.Hour), Updated: finished,
			By: "alice", Attest: map[string]string{}}
		if result == store.DrillFailed {
			d.FailedStep, d.Reason = "acknowledged", "nobody acknowledged the drill's alert"
		}
		if err := r.d.st.AddDrill(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// A passed drill older than the interval and a recent failed one:
	// still failing; the old drill is named, the failed one is not.
	addDrill("drl-00000000a040", bg1ID, store.DrillPassed, now.Add(-40*24*time.Hour))
	addDrill("drl-00000000f001", bg1ID, store.DrillFailed, now.Add(-24*time.Hour))
	waitFor(t, 10*time.Second, "last-sign-in failing with the old drill named", func() bool {
		res = lastSignIn()[bg1ID]
		return res.Status == posture.StatusFail && len(drillEvidence(res)) > 0
	}, show)
	if ids := drillEvidence(res); strings.Join(ids, ",") != "drill drl-00000000a040" {
		t.Errorf("failing last-sign-in names drills %v, want only the passed one, drl-00000000a040", ids)
	}

	// A drill passed 10 days ago: the scheduled audit passes last-sign-in
	// on it, naming it.
	addDrill("drl-00000000a010", bg1ID, store.DrillPassed, now.Add(-10*24*time.Hour))
	waitFor(t, 10*time.Second, "last-sign-in passing on the drill", func() bool {
		res = lastSignIn()[bg1ID]
		return res.Status == posture.StatusPass
	}, show)
	if !strings.Contains(res.Message, "passed drill drl-00000000a010 on "+now.Add(-10*24*time.Hour).Format(time.DateOnly)) ||
		!strings.Contains(res.Message, "the drill interval is 30 days") {
		t.Errorf("last-sign-in message %q, want the drill named", res.Message)
	}
	if ids := drillEvidence(res); strings.Join(ids, ",") != "drill drl-00000000a010" || len(res.Evidence) != 1 || res.Evidence[0].Value != "passed" {
		t.Errorf("last-sign-in evidence %+v, want the passed drill drl-00000000a010", res.Evidence)
	}
	if b2 := lastSignIn()[strings.ToLower(bg2UPN)]; b2.Status != posture.StatusFail || len(drillEvidence(b2)) != 0 {
		t.Errorf("bg2, never drilled: %s %q %+v, want fail without drill evidence", b2.Status, b2.Message, b2.Evidence)
	}
}
