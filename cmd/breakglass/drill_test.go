package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/simulate"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var drillAccounts = []entra.Account{
	{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.example"},
	{ID: "11111111-2222-4333-8444-555555555555", UPN: "bg2@contoso.example"},
}

// appendSignIn appends one simulated sign-in of acct at 'at' to the
// daemon's followed directory and returns its alert id.
func appendSignIn(t *testing.T, d *daemonProc, acct entra.Account, at time.Time, seed int64) string {
	t.Helper()
	var rec, truth bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &rec, simulate.Options{Seed: seed, Count: 1, BGShare: 1, OtherShare: -1,
		Accounts: []entra.Account{acct}, Categories: []string{entra.CategorySignIn}, Start: at}, &truth); err != nil {
		t.Fatal(err)
	}
	var tr simulate.Truth
	if err := json.Unmarshal(bytes.TrimSpace(truth.Bytes()), &tr); err != nil {
		t.Fatalf("truth %q: %v", truth.String(), err)
	}
	f, err := os.OpenFile(filepath.Join(d.dir, "logs", "PT1H.json"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(rec.Bytes()); err != nil {
		t.Fatal(err)
	}
	return alert.Key(tr.EventID, "bg.signin")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func openTestStore(t *testing.T, d *daemonProc) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(d.dir, "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type drillJSON struct {
	ID         string `json:"id"`
	AccountID  string `json:"account_id"`
	Result     string `json:"result"`
	FailedStep string `json:"failed_step"`
	Reason     string `json:"reason"`
	IncidentID string `json:"incident_id"`
	Measured   struct {
		AlertID         string   `json:"alert_id"`
		AlertSeconds    *float64 `json:"alert_seconds"`
		DetectSeconds   *float64 `json:"detect_seconds"`
		DeliverySeconds *float64 `json:"delivery_seconds"`
		AckSeconds      *float64 `json:"ack_seconds"`
		Deliveries      []struct {
			Target    string     `json:"target"`
			Delivered *time.Time `json:"delivered"`
		} `json:"deliveries"`
	} `json:"measured"`
	Open []string `json:"open"`
}

func planAndStart(t *testing.T, d *daemonProc, extra ...string) string {
	t.Helper()
	args := append([]string{"drill", "plan", "-c", d.cfg, "--account", "BG1@contoso.example", "--by", "alice", "--note", "Q1 drill", "--format", "json"}, extra...)
	r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, args...)
	if r.code != 0 {
		t.Fatalf("drill plan: exit %d\n%s", r.code, r.stderr)
	}
	var p struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || !strings.HasPrefix(p.ID, "drl-") {
		t.Fatalf("drill plan output %q: %v", r.stdout, err)
	}
	if r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "start", "-c", d.cfg, p.ID); r.code != 0 || !strings.Contains(r.stdout, "running") {
		t.Fatalf("drill start: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return p.ID
}

// ackIncident acknowledges the alert's incident through the CLI, once the
// incident builder has formed it.
func ackIncident(t *testing.T, d *daemonProc, st *sqlite.Store, alertID string) string {
	t.Helper()
	var inc store.Incident
	waitFor(t, "the drill's incident", 20*time.Second, func() bool {
		var err error
		inc, err = st.IncidentOf(context.Background(), alertID)
		return err == nil
	})
	if r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "incidents", "ack", "-c", d.cfg, inc.ID, "--by", "carol", "--note", "drill, on it"); r.code != 0 {
		t.Fatalf("incidents ack: exit %d\n%s", r.code, r.stderr)
	}
	return inc.ID
}

var fullAttest = []string{"--attest", "monitoring-aware=dave", "--attest", "authorised-list-reviewed=alice",
	"--attest", "process-documented=alice", "--attest", "people-trained=bob", "--attest", "signed-in-admin-task=bob",
	"--attest", "no-personal-mfa-sspr=erin", "--attest", "device-two-paths=frank"}

// TestDrillEndToEnd: plan, start, a simulated drill sign-in appended to a
// followed file, delivery to a loopback webhook, acknowledgement through
// the CLI, finish with attestations: passed, with measured times. A
// sign-in of another account meanwhile is a normal alert. Then a drill
// with no sign-in fails "not detected".
func TestDrillEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", drillAccounts, "")
	cmd := d.start(t)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !d.waitReady(t, 15*time.Second) {
		t.Fatal("daemon not ready")
	}
	st := openTestStore(t, d)
	ctx := context.Background()

	id := planAndStart(t, d)
	// A drill planned while serve runs applies within seconds.
	time.Sleep(2500 * time.Millisecond)
	alertID := appendSignIn(t, d, drillAccounts[0], time.Now().UTC(), 11)
	otherID := appendSignIn(t, d, drillAccounts[1], time.Now().UTC(), 12)
	waitFor(t, "both alerts at the webhook", 20*time.Second, func() bool {
		return rcv.count(map[string]bool{alertID: true, otherID: true}) == 2
	})
	a, err := st.Alert(ctx, alertID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Labels[alert.LabelDrill] != id || !strings.HasPrefix(a.Title, "DRILL: ") {
		t.Errorf("drill sign-in: labels %v, title %q", a.Labels, a.Title)
	}
	o, err := st.Alert(ctx, otherID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Labels[alert.LabelDrill] != "" || strings.Contains(o.Title, "DRILL") {
		t.Errorf("another account's sign-in is marked as the drill's: labels %v, title %q", o.Labels, o.Title)
	}
	// The dispatcher records the delivery after the webhook answered.
	waitFor(t, "the delivery recorded", 10*time.Second, func() bool {
		ds, _ := st.AlertDeliveries(ctx, alertID)
		return len(ds) > 0 && !ds[0].Delivered.IsZero()
	})
	incID := ackIncident(t, d, st, alertID)

	r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, append([]string{"drill", "finish", "-c", d.cfg, id, "--format", "json"}, fullAttest...)...)
	if r.code != 0 {
		t.Fatalf("drill finish: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "report", "-c", d.cfg, id, "--format", "json")
	var rep drillJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("drill report: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	m := rep.Measured
	if rep.ID != id || rep.AccountID != drillAccounts[0].ID || rep.Result != "passed" || rep.FailedStep != "" || m.AlertID != alertID ||
		m.AlertSeconds == nil || m.DetectSeconds == nil || m.DeliverySeconds == nil || m.AckSeconds == nil || len(m.Deliveries) != 1 ||
		m.Deliveries[0].Delivered == nil || rep.IncidentID != incID {
		t.Errorf("report:\n%s", r.stdout)
	}
	if strings.Join(rep.Open, ",") != "safe-combinations" {
		t.Errorf("open items %v, want the one not attested", rep.Open)
	}
	t.Logf("measured: alert %.2fs, delivery %.2fs, ack %.2fs", *m.AlertSeconds, *m.DeliverySeconds, *m.AckSeconds)
	// The incident shows it is pre-classified as this drill, for the
	// reviewer to confirm.
	if r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "incidents", "show", "-c", d.cfg, incID); r.code != 0 ||
		!strings.Contains(r.stdout, "suggested: drill (drill "+id) {
		t.Errorf("incidents show %s: exit %d, want the drill pre-classification\n%s%s", incID, r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "report", "-c", d.cfg, id); r.code != 0 || !strings.Contains(r.stdout, "PASSED") {
		t.Errorf("markdown report: exit %d\n%s", r.code, r.stdout)
	}
	// The incident carries the drill pre-classification in its evidence.
	log, err := st.IncidentLog(ctx, incID)
	if err != nil {
		t.Fatal(err)
	}
	var classified bool
	for _, e := range log {
		classified = classified || (e.Kind == "drill" && bytes.Contains(e.Content, []byte(`"suggested_class":"drill"`)))
	}
	if !classified {
		t.Error("the drill's incident is not pre-classified as a drill")
	}

	// No sign-in in a short window: failed "not detected" (exit 1).
	id2 := planAndStart(t, d, "--window", "1s")
	time.Sleep(1200 * time.Millisecond)
	r = runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "finish", "-c", d.cfg, id2, "--format", "json")
	var rep2 drillJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep2); err != nil || r.code != 1 || rep2.Result != "failed" ||
		rep2.FailedStep != "detected" || !strings.Contains(rep2.Reason, "not detected") {
		t.Errorf("no sign-in: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}

	// Status: bg1 passed, bg2 never drilled (overdue, exit 1); report
	// without an id shows the last passed drill per account.
	r = runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "status", "-c", d.cfg)
	if r.code != 1 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "OVERDUE (never passed)") || !strings.Contains(r.stdout, id2+" failed at detected") {
		t.Errorf("drill status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "report", "-c", d.cfg, "--format", "json")
	var last struct {
		LastPassed  []drillJSON `json:"last_passed"`
		NeverPassed []string    `json:"never_passed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &last); err != nil || r.code != 1 || len(last.LastPassed) != 1 ||
		last.LastPassed[0].ID != id || strings.Join(last.NeverPassed, ",") != "bg2@contoso.example" {
		t.Errorf("drill report (auditors): exit %d %v\n%s", r.code, err, r.stdout)
	}
}

// TestDrillWebhookDown: the same drill with the webhook failing ends
// failed at the delivery step, even though it was acknowledged.
func TestDrillWebhookDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	d := newDaemon(t, down.URL+"/hook", drillAccounts, "")
	cmd := d.start(t)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !d.waitReady(t, 15*time.Second) {
		t.Fatal("daemon not ready")
	}
	st := openTestStore(t, d)
	ctx := context.Background()
	id := planAndStart(t, d)
	time.Sleep(2500 * time.Millisecond)
	alertID := appendSignIn(t, d, drillAccounts[0], time.Now().UTC(), 21)
	waitFor(t, "a failed delivery attempt", 20*time.Second, func() bool {
		ds, err := st.AlertDeliveries(ctx, alertID)
		return err == nil && len(ds) > 0 && ds[0].Attempts > 0
	})
	ackIncident(t, d, st, alertID)
	r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, append([]string{"drill", "finish", "-c", d.cfg, id, "--format", "json"}, fullAttest...)...)
	var rep drillJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("finish output %q: %v\n%s", r.stdout, err, r.stderr)
	}
	if r.code != 1 || rep.Result != "failed" || rep.FailedStep != "notified" || !strings.Contains(rep.Reason, "not delivered to hook/") {
		t.Errorf("webhook down: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "failed at notified") {
		t.Errorf("stderr does not say the step: %s", r.stderr)
	}
}

// TestDrillCLIErrors: usage mistakes exit 2 with what to do.
func TestDrillCLIErrors(t *testing.T) {
	d := newDaemon(t, "http://127.0.0.1:1/hook", drillAccounts, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"drill", "plan", "-c", d.cfg, "--account", "nobody@contoso.example"}, "bg1@contoso.example, bg2@contoso.example"},
		{[]string{"drill", "plan", "-c", d.cfg}, "--account is required"},
		{[]string{"drill", "plan", "-c", d.cfg, "--account", "bg1@contoso.example", "--at", "tomorrow"}, "--at"},
		{[]string{"drill", "plan", "-c", d.cfg, "--account", "bg1@contoso.example", "--format", "xml"}, "--format"},
		{[]string{"drill", "start", "-c", d.cfg, "drl-000000000000"}, "not found"},
		{[]string{"drill", "finish", "-c", d.cfg, "drl-000000000000", "--attest", "trained=bob"}, "unknown item"},
		{[]string{"drill", "report", "-c", d.cfg, "a", "b"}, "at most one"},
		{[]string{"drill", "report", "-c", d.cfg, "--format", "pdf"}, "--format"},
		{[]string{"drill", "sttus"}, "Did you mean"},
	} {
		r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q\n%s", c.args, r.code, c.want, r.stderr)
		}
	}
}

// TestDrillStatusEarlyDue: through the binary, a Global Administrator
// added in the audit logs serve follows makes the drill due early, and
// drill status says so (state due, the change's reason, due
// drill.remind_before after it), as serve's bg.drill_due does.
func TestDrillStatusEarlyDue(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", drillAccounts, "")
	cmd := d.start(t)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !d.waitReady(t, 15*time.Second) {
		t.Fatal("daemon not ready")
	}
	st := openTestStore(t, d)
	ctx := context.Background()
	// bg1 passed a drill a day ago: not due for 89 days.
	passed := time.Now().UTC().Add(-24 * time.Hour)
	dr := store.Drill{ID: "drl-0000000000a1", AccountID: drillAccounts[0].ID, AccountUPN: drillAccounts[0].UPN, At: passed.Add(-time.Hour), Window: time.Hour,
		State: store.DrillFinished, Result: store.DrillPassed, Started: passed.Add(-time.Hour), Finished: passed, Created: passed.Add(-time.Hour), Updated: passed, By: "alice", Attest: map[string]string{}}
	if err := st.AddDrill(ctx, dr); err != nil {
		t.Fatal(err)
	}
	status := func() map[string]any {
		r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "status", "-c", d.cfg, "--format", "json")
		var ss []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &ss); err != nil || len(ss) != 2 {
			t.Fatalf("drill status: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		return ss[0]
	}
	if s := status(); s["state"] != "ok" || s["early"] != nil || fmt.Sprint(s["last_passed"].(map[string]any)["result"]) != "passed" {
		t.Fatalf("before the change: %v", s)
	}
	change := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	rec := map[string]any{
		"id": "Directory_e2e-add-member-to-role", "category": "RoleManagement", "correlationId": "da159bfb-54fa-4092-8a38-6e1fa7870e30",
		"result": "success", "activityDisplayName": "Add member to role", "activityDateTime": change.Format(time.RFC3339),
		"loggedByService": "Core Directory", "operationType": "Assign",
		"initiatedBy": map[string]any{"user": map[string]any{"id": "c0ffee00-1111-4222-8333-444455556666", "userPrincipalName": "alice@contoso.com"}},
		"targetResources": []any{map[string]any{"id": "0b0b0b0b-1111-4222-8333-444455556666", "type": "User", "userPrincipalName": "carol@contoso.com",
			"modifiedProperties": []any{
				map[string]any{"displayName": "Role.DisplayName", "oldValue": "", "newValue": `"Global Administrator"`},
				map[string]any{"displayName": "Role.TemplateId", "oldValue": "", "newValue": `"62e90394-69f5-4237-9190-012177145e10"`},
			}}},
		"additionalDetails": []any{},
	}
	b, _ := json.Marshal(rec)
	f, err := os.OpenFile(filepath.Join(d.dir, "logs", "PT1H.json"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var s map[string]any
	waitFor(t, "drill status to show the early due date", 20*time.Second, func() bool {
		s = status()
		return s["early"] != nil
	})
	early, _ := s["early"].(map[string]any)
	want := change.Add(7 * 24 * time.Hour).Format(time.RFC3339)
	if s["state"] != "due" || s["due"] != want || !strings.Contains(fmt.Sprint(early["reason"]), "Global Administrator") || early["kind"] != "role" {
		t.Errorf("after the change: %v, want state due, due %s", s, want)
	}
	r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "status", "-c", d.cfg)
	if !strings.Contains(r.stdout, "(due soon), early: ") || !strings.Contains(r.stdout, "Global Administrator") {
		t.Errorf("drill status table:\n%s", r.stdout)
	}
}

// TestDrillExpiresUnfinished: a drill nobody finishes, whose window passes
// with no sign-in, is running while drill.alert_within allows for Entra's
// log delay, then serve finishes it failed "not detected" and pages
// bg.drill_failed, once.
func TestDrillExpiresUnfinished(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", drillAccounts, "drill:\n  alert_within: 6s\n")
	cmd := d.start(t)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !d.waitReady(t, 15*time.Second) {
		t.Fatal("daemon not ready")
	}
	id := planAndStart(t, d, "--window", "1s")
	report := func() drillJSON {
		r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "report", "-c", d.cfg, id, "--format", "json")
		var rep drillJSON
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("drill report: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		return rep
	}
	time.Sleep(1500 * time.Millisecond)
	if rep := report(); rep.Result != "running" || !strings.Contains(rep.Reason, "drill.alert_within") {
		t.Errorf("in the grace after the window: %+v, want running, waiting for the logs", rep)
	}
	alertID := alert.Key("drill:bg.drill_failed:"+id, "bg.drill_failed")
	waitFor(t, "bg.drill_failed at the webhook", 30*time.Second, func() bool { return rcv.count(map[string]bool{alertID: true}) == 1 })
	st := openTestStore(t, d)
	dr, err := st.Drill(context.Background(), id)
	if err != nil || dr.State != store.DrillFinished || dr.Result != store.DrillFailed || dr.FailedStep != "detected" {
		t.Fatalf("stored drill %+v, %v", dr, err)
	}
	if rep := report(); rep.Result != "failed" || rep.FailedStep != "detected" || !strings.Contains(rep.Reason, "not detected") {
		t.Errorf("report after serve finished it: %+v", rep)
	}
	// Its incident is the drill's, not a use of the account.
	waitFor(t, "bg.drill_failed's incident", 20*time.Second, func() bool {
		_, err := st.IncidentOf(context.Background(), alertID)
		return err == nil
	})
	if inc, _ := st.IncidentOf(context.Background(), alertID); inc.Kind != store.IncidentPosture || !strings.HasPrefix(inc.Key, "drill:") {
		t.Errorf("bg.drill_failed's incident %s kind %s key %s, want the drill's", inc.ID, inc.Kind, inc.Key)
	}
	if r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "drill", "finish", "-c", d.cfg, id); r.code != 2 || !strings.Contains(r.stderr, "finished already") {
		t.Errorf("finish after serve finished it: exit %d\n%s", r.code, r.stderr)
	}
	time.Sleep(6 * time.Second) // more rounds of the drill loop: still one page
	rcv.mu.Lock()
	n := rcv.seen[alertID]
	rcv.mu.Unlock()
	if n != 1 {
		t.Errorf("bg.drill_failed delivered %d times, want 1", n)
	}
}
