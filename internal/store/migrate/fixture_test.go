package migrate_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/incident"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 3, 3, 12, 9, 123456789, time.UTC)

const (
	bgID  = "7b1c1d4e-0000-4000-8000-00000000b001"
	bgUPN = "bg-admin01@contoso.onmicrosoft.com"
	gap   = 2 * time.Hour
)

// hostile is text PostgreSQL cannot hold as it is (a NUL, invalid UTF-8,
// the escape mark), which the copy must carry byte for byte.
const hostile = "nul\x00 bad\xff\xfe end"

// fixture is an installation filled through the store's real write paths:
// every table of the schema holds rows.
type fixture struct {
	path      string
	st        *sqlite.Store
	pending   []int64 // deliveries still to send
	delivered []int64
	pruned    string // an incident pruned after export
	alerts    []alert.Alert
}

// use stores the alerts of one use of the account at at (a sign-in, its
// activity and a change), as the watcher does: one AddAlertsNotify with
// their evidence and deliveries to two targets.
func use(t *testing.T, st store.Store, tag string, at time.Time) []alert.Alert {
	t.Helper()
	var items []store.AlertWithEvidence
	var out []alert.Alert
	for i, rule := range []string{detect.RuleSignIn, detect.RuleActivity, detect.RuleChange} {
		ev := tag + "-" + rule
		a := alert.Alert{ID: alert.Key(ev, rule), Rule: rule, Severity: alert.Sev0, Title: rule + " " + tag,
			AccountID: bgID, AccountUPN: bgUPN, EventID: ev, EventTime: at.Add(time.Duration(i) * 10 * time.Minute),
			Category: "SignInLogs", Source: "signins.json:" + tag, Detected: at.Add(time.Minute),
			Labels: map[string]string{"tenant": "contoso", "use": tag}, Annotations: map[string]string{"runbook": "https://wiki/bg"}}
		if i == 1 {
			a.Title, a.Labels["odd"] = "activity "+hostile, hostile
			a.IPAddress = "\uffffstarts with the mark"
		}
		raw := []byte(`{"id":"` + ev + `", "odd":"\u00e9\u0000"}` + "\r\n\x00\xff")
		items = append(items, store.AlertWithEvidence{Alert: a, Evidence: store.Evidence{EventID: ev, Category: a.Category, Source: a.Source, Raw: raw},
			Targets: []string{"oncall/webhook"}})
		out = append(out, a)
	}
	if _, err := st.AddAlertsNotify(context.Background(), items, []string{"oncall/mail"}); err != nil {
		t.Fatal(err)
	}
	return out
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{path: filepath.Join(t.TempDir(), "bg.db")}
	st, err := sqlite.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	now := t0
	clock := func() time.Time { return now }
	b := incident.New(incident.Options{Store: st, Gap: gap, Now: clock, Accounts: []entra.Account{{ID: bgID, UPN: bgUPN}}})

	// Use 1: an incident that is reviewed, closed, exported and pruned.
	first := use(t, st, "use1", t0)
	if _, err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	inc, err := st.IncidentOf(ctx, first[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Ack(ctx, st, inc.ID, "bob", "on it", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Review(ctx, st, inc.ID, incident.ReviewRequest{Class: store.ClassDrill, By: "carol", Note: "Q1 drill " + hostile,
		Attest: map[string]string{"oncall": "yes"}, Targets: []string{"oncall/webhook"}, Gap: gap}, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	closed := t0.Add(time.Hour)
	if _, err := incident.Close(ctx, st, inc.ID, "carol", "", closed); err != nil {
		t.Fatal(err)
	}
	log, err := st.IncidentLog(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordExport(ctx, store.IncidentExport{Incident: inc.ID, SHA256: strings.Repeat("5e", 32), Path: "inc.zip",
		At: closed.Add(time.Minute), LastSeq: log[len(log)-1].Seq}); err != nil {
		t.Fatal(err)
	}
	o := incident.PruneOptions{Retention: 400 * 24 * time.Hour, Exported: true, Now: closed.Add(24 * time.Hour)}
	items, err := incident.PlanPrune(ctx, st, o)
	if err != nil {
		t.Fatal(err)
	}
	done, err := incident.RunPrune(ctx, st, items, o)
	if err != nil || len(done) != 1 || !done[0].Done {
		t.Fatalf("prune = %+v, %v", done, err)
	}
	f.pruned = inc.ID

	// Use 2, a day later: an open incident, one alert acknowledged.
	now = t0.Add(24 * time.Hour)
	second := use(t, st, "use2", now)
	if _, err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ChangeAlertState(ctx, store.StateChange{AlertID: second[0].ID, To: alert.StateAcknowledged, By: "dana",
		Via: store.ViaCLI, Note: "looking", At: now.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	f.alerts = append(first, second...)

	// Deliveries: use 1's are all delivered (and then pruned); of use 2's
	// one is delivered, one retried, one dead-lettered, the rest pending.
	claim, err := st.ClaimDeliveries(ctx, "replica-a", time.Now().Add(time.Hour), time.Minute, 100)
	if err != nil || len(claim) != 12 {
		t.Fatalf("claim = %d deliveries, %v; want 12", len(claim), err)
	}
	use1 := map[string]bool{first[0].ID: true, first[1].ID: true, first[2].ID: true}
	var rest []store.Delivery
	for _, d := range claim {
		if use1[d.AlertID] {
			if err := st.CompleteDelivery(ctx, d.ID, t0.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rest = append(rest, d)
	}
	if err := st.CompleteDelivery(ctx, rest[0].ID, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.delivered = append(f.delivered, rest[0].ID)
	if err := st.RetryDelivery(ctx, rest[1].ID, 1, now.Add(3*time.Minute), "503 from "+hostile); err != nil {
		t.Fatal(err)
	}
	if err := st.DeadLetter(ctx, rest[2].ID, now.Add(4*time.Minute), "channel removed"); err != nil {
		t.Fatal(err)
	}
	f.pending = append(f.pending, rest[1].ID)
	for _, d := range rest[3:] {
		f.pending = append(f.pending, d.ID) // still leased by replica-a: the lease runs out
	}
	if _, err := st.Prune(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// Checkpoints, conditions, liveness.
	if err := st.SetCheckpoint(ctx, store.Checkpoint{Source: "signins", Key: "/logs/a.json\x00ino=42", Offset: 1 << 40, Size: 1<<40 + 7, Updated: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCondition(ctx, store.Condition{Rule: "bg.silence", Key: "signins", AlertID: second[0].ID, Since: now, Updated: now, Data: []byte{0, 1, 0xff}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCondition(ctx, store.Condition{Rule: "bg.source", Key: "graph", Since: now, Updated: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSourceAlive(ctx, "signins", now); err != nil {
		t.Fatal(err)
	}

	// A drill, planned and then run.
	d := store.Drill{ID: "drill-1", AccountID: bgID, AccountUPN: bgUPN, State: store.DrillPlanned, At: now.Add(48 * time.Hour),
		Window: time.Hour, By: "erin", Note: "quarterly", Created: now, Updated: now}
	if err := st.AddDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	prev := d.Updated
	d.State, d.Started, d.Updated, d.Attest, d.Measured = store.DrillRunning, now.Add(48*time.Hour), now.Add(48*time.Hour), map[string]string{"oncall": "yes"}, []byte(`{"ms":12}`)
	if err := st.UpdateDrill(ctx, d, prev); err != nil {
		t.Fatal(err)
	}

	// KQL records, one of them pruned again (so the key counter is ahead).
	for i, ing := range []time.Time{t0, now} {
		if _, err := st.AppendRecord(ctx, store.KQLRecord{Table: "SigninLogs", Ingested: ing, Source: fmt.Sprintf("push:%d", i), Raw: []byte(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.PruneRecords(ctx, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}

	// Who may use the dashboard: hashes only.
	if err := st.AddUser(ctx, store.User{Name: "Alice", Role: "admin", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", Created: now, Updated: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddToken(ctx, store.Token{Name: "ci", Role: "viewer", Hash: strings.Repeat("ab", 32), Created: now, Expires: now.Add(30 * 24 * time.Hour), CreatedBy: "cli:root"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddSession(ctx, store.Session{Hash: strings.Repeat("cd", 32), User: "alice", Created: now, LastSeen: now, Expires: now.Add(12 * time.Hour), Remote: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddSession(ctx, store.Session{Hash: strings.Repeat("ef", 32), User: "sso@contoso.com", Source: "oidc", Role: "responder", Created: now, LastSeen: now, Expires: now.Add(12 * time.Hour), Remote: "192.0.2.8"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAudit(ctx, store.AuditEntry{At: now, Actor: "cli:root", Via: "cli", Action: "user.add", Target: "Alice", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	// Leases: one held, one released (its epoch must not go back).
	if held, err := st.AcquireLease(ctx, "audit", "replica-a", time.Hour); err != nil || !held {
		t.Fatalf("acquire lease: %v %v", held, err)
	}
	if held, err := st.AcquireLease(ctx, "graph", "replica-a", time.Hour); err != nil || !held {
		t.Fatalf("acquire lease: %v %v", held, err)
	}
	if err := st.ReleaseLease(ctx, "graph", "replica-a"); err != nil {
		t.Fatal(err)
	}
	// Posture reports: a config without tenants: ("") and a tenant's,
	// with bytes a text copy would mangle.
	if err := st.SetPostureReport(ctx, "", now, []byte(`{"results":[]}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPostureReport(ctx, "11111111-2222-3333-4444-555555555555", now.Add(time.Second), []byte("{\"x\":\"\x00\xff\"}")); err != nil {
		t.Fatal(err)
	}
	return f
}
