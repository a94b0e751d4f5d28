package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"breakglass/internal/alert"
	"breakglass/internal/drill"
	"breakglass/internal/entra"
	"breakglass/internal/simulate"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var drillAccounts = []entra.Account{
	{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.example"},
	{ID: "11111111-2222-4333-8444-555555555555", UPN: "bg2@contoso.example"},
}

// appendSignIn appends one simulated successful sign-in of acct at 'at'
// to the daemon's followed directory and returns its alert id. (A drill
// whose sign-in failed fails at signed_in: the seeds that simulate a
// failure are skipped.)
func appendSignIn(t *testing.T, d *daemonProc, acct entra.Account, at time.Time, seed int64) string {
	t.Helper()
	var rec, truth bytes.Buffer
	for try := int64(0); ; try++ {
		rec.Reset()
		truth.Reset()
		if _, err := simulate.Generate(context.Background(), &rec, simulate.Options{Seed: seed + try*7919, Count: 1, BGShare: 1, OtherShare: -1,
			Accounts: []entra.Account{acct}, Categories: []string{entra.CategorySignIn}, Start: at}, &truth); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(rec.Bytes(), []byte(`"resultType":"0"`)) {
			break
		}
		if try == 50 {
			t.Fatalf("no successful sign-in simulated from seed %d in 50 tries:\n%s", seed, rec.String())
		}
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

// startDrillDaemon runs serve with the drill accounts, a loopback webhook
// and extra config, ready; end-to-end, so skipped with -short.
func startDrillDaemon(t *testing.T, extra string) (*receiver, *daemonProc) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", drillAccounts, extra)
	cmd := d.start(t)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !d.waitReady(t, 15*time.Second) {
		t.Fatal("daemon not ready")
	}
	return rcv, d
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
	rcv, d := startDrillDaemon(t, "")
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
		!strings.Contains(r.stdout, "suggested: drill (drill "+id) || strings.Contains(r.stdout, "NOT the drill's") {
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
	if r.code != 1 || rep.Result != "failed" || rep.FailedStep != "delivery" || !strings.Contains(rep.Reason, "not delivered to hook/") {
		t.Errorf("webhook down: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "failed at delivery") {
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
	_, d := startDrillDaemon(t, "")
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
	rcv, d := startDrillDaemon(t, "drill:\n  alert_within: 6s\n")
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

var drillIDLine = regexp.MustCompile(`^drl-[0-9a-f]{12}\n$`)

// decodeOne decodes stdout as exactly one JSON value, nothing before or
// after it.
func decodeOne(t *testing.T, what, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: stdout is not JSON: %v\n%s", what, err, stdout)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
		t.Fatalf("%s: more than one JSON value on stdout\n%s", what, stdout)
	}
}

// htmlVoid are the elements without an end tag.
var htmlVoid = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// checkHTMLDocument fails unless b is one whole HTML document: a doctype,
// every element closed in order, <html> the outermost, and no template
// error text. It returns the element names in order.
func checkHTMLDocument(t *testing.T, b []byte) []string {
	t.Helper()
	for _, bad := range []string{"<no value>", "%!", "{{", "}}", "&lt;nil&gt;", "<nil>"} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("the HTML has %q: a template error", bad)
		}
	}
	if !bytes.HasPrefix(b, []byte("<!DOCTYPE html>\n")) || !bytes.HasSuffix(b, []byte("</html>\n")) {
		t.Errorf("the HTML is not a whole document (doctype first, </html> last):\n%.200s … %s", b, b[max(0, len(b)-80):])
	}
	var stack, tags []string
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Errorf("the HTML does not tokenize: %v", z.Err())
			}
			break
		}
		name, _ := z.TagName()
		tag := string(name)
		switch tt {
		case html.StartTagToken:
			tags = append(tags, tag)
			if !htmlVoid[tag] {
				stack = append(stack, tag)
			}
		case html.SelfClosingTagToken:
			tags = append(tags, tag)
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tag {
				t.Errorf("</%s> closes nothing open (open: %v)", tag, stack)
				return tags
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Errorf("elements left open: %v", stack)
	}
	if len(tags) == 0 || tags[0] != "html" {
		t.Errorf("the document does not start with <html>: %v", tags)
	}
	return tags
}

func reportTime(ts *time.Time) string {
	if ts == nil {
		return "—"
	}
	return ts.UTC().Format("2006-01-02 15:04:05 UTC")
}

func reportSecs(s *float64) string {
	if s == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f s", *s)
}

// TestDrillPlanStartOutput pins what scripts read from plan and start:
// plan without --format prints the bare id and nothing else on stdout
// (what to do next goes to stderr); start --format json is one object
// with the id, state running, the account to sign in as and the window;
// start's table output says whom to sign in as until when and what to
// run next; starting a running drill again exits 2; finish prints the
// report formats it advertises (markdown, html), not only table and json.
func TestDrillPlanStartOutput(t *testing.T) {
	d := newDaemon(t, "http://127.0.0.1:1/hook", drillAccounts, "")
	env := []string{"E2E_TOKEN=" + d.token}

	r := runBinary(t, env, "drill", "plan", "-c", d.cfg, "--account", "bg1@contoso.example", "--window", "30m", "--by", "alice")
	if r.code != 0 || !drillIDLine.MatchString(r.stdout) {
		t.Fatalf("drill plan: exit %d, stdout %q, want exactly the id on one line\n%s", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if !strings.Contains(r.stderr, "drill "+id+" planned for bg1@contoso.example") || !strings.Contains(r.stderr, "breakglass drill start "+id) {
		t.Errorf("drill plan: stderr does not say what was planned and what next:\n%s", r.stderr)
	}

	before := time.Now().UTC()
	r = runBinary(t, env, "drill", "start", "-c", d.cfg, id, "--format", "json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("drill start --format json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var raw map[string]json.RawMessage
	decodeOne(t, "drill start --format json", r.stdout, &raw)
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := "account_id,account_upn,id,state,window_from,window_to"; strings.Join(keys, ",") != want {
		t.Errorf("drill start --format json keys %v, want %s", keys, want)
	}
	var st struct {
		ID, State  string
		AccountID  string    `json:"account_id"`
		AccountUPN string    `json:"account_upn"`
		WindowFrom time.Time `json:"window_from"`
		WindowTo   time.Time `json:"window_to"`
	}
	decodeOne(t, "drill start --format json", r.stdout, &st)
	if st.ID != id || st.State != "running" || st.AccountID != drillAccounts[0].ID || st.AccountUPN != drillAccounts[0].UPN {
		t.Errorf("drill start --format json: %+v\n%s", st, r.stdout)
	}
	// start opens the window now, for its planned length.
	if st.WindowFrom.Before(before.Add(-time.Second)) || st.WindowFrom.After(time.Now().Add(time.Second)) || st.WindowTo.Sub(st.WindowFrom) < 30*time.Minute {
		t.Errorf("drill start: window %s to %s, want from now (%s) for 30m", st.WindowFrom, st.WindowTo, before)
	}
	if r := runBinary(t, env, "drill", "start", "-c", d.cfg, id); r.code != 2 || !strings.Contains(r.stderr, "already running") || r.stdout != "" {
		t.Errorf("drill start of a running drill: exit %d, want 2 'already running'\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Table: whom to sign in as, until when, and what to run next.
	r = runBinary(t, env, "drill", "plan", "-c", d.cfg, "--account", drillAccounts[1].ID)
	if r.code != 0 || !drillIDLine.MatchString(r.stdout) {
		t.Fatalf("drill plan by object id: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	id2 := strings.TrimSpace(r.stdout)
	r = runBinary(t, env, "drill", "start", "-c", d.cfg, id2)
	want := regexp.MustCompile(`^drill ` + id2 + ` running: sign in as bg2@contoso\.example before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, do an administrative task, and acknowledge the DRILL alert\.\nthen: breakglass drill finish ` + id2 + ` --attest ITEM=NAME \.\.\.\n$`)
	if r.code != 0 || !want.MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("drill start (table): exit %d\n%q\n%s", r.code, r.stdout, r.stderr)
	}

	// finish --format html and markdown, as its help says: the report of
	// a drill with no sign-in, failed at detected (exit 1).
	r = runBinary(t, env, "drill", "finish", "-c", d.cfg, id2, "--format", "html")
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED at detected") || !strings.Contains(r.stderr, "failed at detected") {
		t.Errorf("drill finish --format html: exit %d, want 1 and the HTML report\n%.300s\n%s", r.code, r.stdout, r.stderr)
	}
	checkHTMLDocument(t, []byte(r.stdout))
	r = runBinary(t, env, "drill", "finish", "-c", d.cfg, id, "--format", "markdown")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "# Drill "+id+" of bg1@contoso.example FAILED at detected\n") {
		t.Errorf("drill finish --format markdown: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestDrillFormatsEndToEnd: through serve and the binary, with a hostile
// note and planner name:
//   - drill report ID --format html of a passed drill is one whole HTML
//     document naming the drill, the account (UPN and id) and PASSED, with
//     each measured time and duration of the JSON report in its row, no
//     template error text, and the note and name escaped (no <script> or
//     <img> element);
//   - a drill whose alert was delivered but not acknowledged: finish and
//     report --format json both exit 1 with result failed, failed_step
//     acknowledged, the alert and delivery seconds measured and no ack
//     seconds, and report prints exactly what finish measured;
//   - drill status --format json: per account id, upn, state, due, overdue,
//     drills and last_passed; exit 1 while an account has no passed drill
//     (stdout still JSON), 0 once every account has one.
func TestDrillFormatsEndToEnd(t *testing.T) {
	_, d := startDrillDaemon(t, "")
	st := openTestStore(t, d)
	ctx := context.Background()
	env := []string{"E2E_TOKEN=" + d.token}
	const note, by = `<script>alert(1)</script> & CHG-1`, `alice"><img src=x onerror=alert(2)>`

	// A passed drill of bg1.
	r := runBinary(t, env, "drill", "plan", "-c", d.cfg, "--account", "bg1@contoso.example", "--note", note, "--by", by)
	if r.code != 0 || !drillIDLine.MatchString(r.stdout) {
		t.Fatalf("drill plan: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	started := time.Now().UTC()
	if r := runBinary(t, env, "drill", "start", "-c", d.cfg, id); r.code != 0 {
		t.Fatalf("drill start: exit %d\n%s", r.code, r.stderr)
	}
	time.Sleep(2500 * time.Millisecond) // serve applies the drill
	// The sign-in happened seconds before serve reads it, so that the
	// times from the sign-in differ from those from the alert.
	alertID := appendSignIn(t, d, drillAccounts[0], started.Add(300*time.Millisecond), 31)
	waitFor(t, "the delivery recorded", 20*time.Second, func() bool {
		ds, _ := st.AlertDeliveries(ctx, alertID)
		return len(ds) > 0 && !ds[0].Delivered.IsZero()
	})
	ackIncident(t, d, st, alertID)
	if r := runBinary(t, env, append([]string{"drill", "finish", "-c", d.cfg, id}, fullAttest...)...); r.code != 0 || !strings.Contains(r.stdout, "PASSED") {
		t.Fatalf("drill finish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, env, "drill", "report", "-c", d.cfg, id, "--format", "json")
	var rep drill.Report
	decodeOne(t, "drill report --format json", r.stdout, &rep)
	m := rep.Measured
	if r.code != 0 || rep.Result != "passed" || rep.Note != note || rep.By != by || m.Stored == nil || m.Detected == nil || m.Acknowledged == nil ||
		m.AlertSeconds == nil || m.DetectSeconds == nil || m.AckSeconds == nil || len(m.Deliveries) != 1 || m.Deliveries[0].Delivered == nil {
		t.Fatalf("drill report --format json: exit %d\n%s", r.code, r.stdout)
	}

	r = runBinary(t, env, "drill", "report", "-c", d.cfg, id, "--format", "html")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("drill report --format html: exit %d\n%s", r.code, r.stderr)
	}
	page := r.stdout
	tags := checkHTMLDocument(t, []byte(page))
	if slices.Contains(tags, "script") || slices.Contains(tags, "img") {
		t.Errorf("the hostile note or name became markup: elements %v", tags)
	}
	for _, raw := range []string{"<script>", "<img"} {
		if strings.Contains(page, raw) {
			t.Errorf("the HTML carries %q unescaped", raw)
		}
	}
	dl := m.Deliveries[0]
	for _, want := range []string{
		"<title>Drill " + id + " of bg1@contoso.example PASSED</title>",
		`<header class="passed"><h1>Drill ` + id + ` of bg1@contoso.example PASSED</h1>`,
		"<tr><th>Account</th><td>bg1@contoso.example " + drillAccounts[0].ID + "</td></tr>",
		"<tr><th>Note</th><td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; CHG-1</td></tr>",
		"<tr><th>Planned by</th><td>alice&#34;&gt;&lt;img src=x onerror=alert(2)&gt;</td></tr>",
		"<tr><th>Sign-in (event time)</th><td>" + reportTime(m.EventTime) + "</td>",
		"<tr><th>Record reached breakglass</th><td>" + reportTime(m.Detected) + "</td><td>" + reportSecs(m.DetectSeconds) + " after the sign-in</td>",
		"<tr><th>Alert stored</th><td>" + reportTime(m.Stored) + "</td><td>" + reportSecs(m.AlertSeconds) + " after the sign-in</td><td>10m0s</td>",
		"<tr><th>Delivered to " + dl.Target + "</th><td>" + reportTime(dl.Delivered) + "</td><td>" + reportSecs(dl.Seconds) + " after the alert</td><td>1m0s</td>",
		"<tr><th>Acknowledged</th><td>" + reportTime(m.Acknowledged) + " by " + m.AckBy + "</td><td>" + reportSecs(m.AckSeconds) + " after the alert</td><td>15m0s</td>",
		"Alert " + alertID,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("HTML report:\n%s", page)
	}

	// bg2: delivered, never acknowledged: failed at acknowledged.
	r = runBinary(t, env, "drill", "plan", "-c", d.cfg, "--account", "bg2@contoso.example", "--format", "json")
	var p struct{ ID string }
	decodeOne(t, "drill plan --format json", r.stdout, &p)
	id2 := p.ID
	if r := runBinary(t, env, "drill", "start", "-c", d.cfg, id2, "--format", "json"); r.code != 0 {
		t.Fatalf("drill start: exit %d\n%s", r.code, r.stderr)
	}
	time.Sleep(2500 * time.Millisecond)
	alert2 := appendSignIn(t, d, drillAccounts[1], time.Now().UTC(), 32)
	waitFor(t, "bg2's delivery recorded", 20*time.Second, func() bool {
		ds, _ := st.AlertDeliveries(ctx, alert2)
		return len(ds) > 0 && !ds[0].Delivered.IsZero()
	})
	fin := runBinary(t, env, "drill", "finish", "-c", d.cfg, id2, "--format", "json")
	var f drillJSON
	decodeOne(t, "drill finish --format json", fin.stdout, &f)
	var fraw map[string]any
	decodeOne(t, "drill finish --format json", fin.stdout, &fraw)
	fm := f.Measured
	if fin.code != 1 || f.ID != id2 || f.AccountID != drillAccounts[1].ID || f.Result != "failed" || f.FailedStep != "acknowledged" ||
		fmt.Sprint(fraw["failed_steps"]) != "[acknowledged]" || !strings.Contains(f.Reason, "nobody acknowledged") || fm.AlertID != alert2 ||
		fm.AlertSeconds == nil || fm.DetectSeconds == nil || fm.DeliverySeconds == nil || fm.AckSeconds != nil {
		t.Errorf("drill finish --format json of an unacknowledged drill: exit %d\n%s\n%s", fin.code, fin.stdout, fin.stderr)
	}
	if !strings.Contains(fin.stderr, "drill "+id2+" failed at acknowledged") {
		t.Errorf("drill finish: stderr does not name the failed step: %s", fin.stderr)
	}
	rr := runBinary(t, env, "drill", "report", "-c", d.cfg, id2, "--format", "json")
	var fr drillJSON
	decodeOne(t, "drill report --format json", rr.stdout, &fr)
	if rr.code != 1 || fr.Result != "failed" || fr.FailedStep != "acknowledged" || !strings.Contains(rr.stderr, "failed at acknowledged") {
		t.Errorf("drill report --format json of the failed drill: exit %d\n%s\n%s", rr.code, rr.stdout, rr.stderr)
	}
	if rr.stdout != fin.stdout {
		t.Errorf("drill report differs from what finish measured:\nfinish:\n%s\nreport:\n%s", fin.stdout, rr.stdout)
	}

	// Status: bg1 passed (ok, due drill.interval after the finish), bg2
	// only failed (overdue, never passed): exit 1, stdout still JSON.
	type statusJSON struct {
		AccountID  string     `json:"account_id"`
		AccountUPN string     `json:"account_upn"`
		State      string     `json:"state"`
		Due        *time.Time `json:"due"`
		Overdue    *bool      `json:"overdue"`
		Drills     []struct {
			ID, State, Result string
			FailedStep        string `json:"failed_step"`
		} `json:"drills"`
		LastPassed *struct {
			ID, Result string
			Finished   *time.Time `json:"finished"`
		} `json:"last_passed"`
	}
	status := func(wantCode int) []statusJSON {
		t.Helper()
		r := runBinary(t, env, "drill", "status", "-c", d.cfg, "--format", "json")
		var ss []statusJSON
		decodeOne(t, "drill status --format json", r.stdout, &ss)
		if r.code != wantCode || len(ss) != 2 {
			t.Fatalf("drill status --format json: exit %d, want %d, 2 accounts\n%s%s", r.code, wantCode, r.stdout, r.stderr)
		}
		for i, s := range ss {
			if s.AccountID != drillAccounts[i].ID || s.AccountUPN != drillAccounts[i].UPN || s.Overdue == nil || s.Drills == nil {
				t.Errorf("drill status[%d]: %+v, want the account's id, upn, overdue and drills", i, s)
			}
		}
		return ss
	}
	ss := status(1)
	b1, b2 := ss[0], ss[1]
	if b1.State != "ok" || *b1.Overdue || b1.LastPassed == nil || b1.LastPassed.ID != id || b1.LastPassed.Result != "passed" ||
		len(b1.Drills) != 1 || b1.Drills[0].ID != id || b1.Drills[0].Result != "passed" || b1.Due == nil ||
		b1.Due.Sub(rep.Finished.Add(90*24*time.Hour)).Abs() > time.Second {
		t.Errorf("bg1 after a passed drill: %+v (finished %v), want ok, due 90 days after", b1, rep.Finished)
	}
	if b2.State != "overdue" || !*b2.Overdue || b2.LastPassed != nil || b2.Due != nil || len(b2.Drills) != 1 || b2.Drills[0].ID != id2 ||
		b2.Drills[0].Result != "failed" || b2.Drills[0].FailedStep != "acknowledged" {
		t.Errorf("bg2 with only a failed drill: %+v, want overdue, never passed", b2)
	}
	// A passed drill of bg2 (stored as finish stores one): nothing overdue, exit 0.
	passed := time.Now().UTC().Add(-time.Hour)
	if err := st.AddDrill(ctx, store.Drill{ID: "drl-0000000000b2", AccountID: drillAccounts[1].ID, AccountUPN: drillAccounts[1].UPN,
		At: passed.Add(-time.Hour), Window: time.Hour, State: store.DrillFinished, Result: store.DrillPassed, Started: passed.Add(-time.Hour),
		Finished: passed, Created: passed.Add(-time.Hour), Updated: passed, By: "alice", Attest: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	ss = status(0)
	for _, s := range ss {
		if s.State != "ok" || *s.Overdue || s.LastPassed == nil || s.Due == nil {
			t.Errorf("after both passed: %+v, want ok with a due date", s)
		}
	}
	if ss[1].LastPassed.ID != "drl-0000000000b2" {
		t.Errorf("bg2's last passed drill %q, want drl-0000000000b2", ss[1].LastPassed.ID)
	}
	if r := runBinary(t, env, "drill", "status", "-c", d.cfg); r.code != 0 || strings.Contains(r.stdout, "OVERDUE") {
		t.Errorf("drill status (table) with nothing overdue: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
