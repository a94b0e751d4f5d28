package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/drill"
	"breakglass/internal/entra"
	"breakglass/internal/incident"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var incidentBase = time.Date(2026, 3, 14, 2, 51, 7, 0, time.UTC)

// incidentFixture fills a real store through the incident package: one use
// (sign-in, activity, change) whose notifications stand delivered, dead
// and pending, acknowledged and reviewed, with fixed times throughout.
func incidentFixture(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const id, upn = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", "bg-admin1@contoso.onmicrosoft.com"
	mk := func(ev, rule, title string, at time.Duration) alert.Alert {
		return alert.Alert{ID: alert.Key(ev, rule), Rule: rule, Severity: detect.MustLookup(rule).Severity, Title: title,
			AccountID: id, AccountUPN: upn, EventID: ev, EventTime: incidentBase.Add(at), Category: "AuditLogs",
			Source: "audit.json:3", Detected: incidentBase.Add(at + 30*time.Second)}
	}
	as := []alert.Alert{
		mk("evt-signin", detect.RuleSignIn, "Break-glass account sign-in (success): bg-admin1@contoso.onmicrosoft.com", 0),
		mk("evt-activity", detect.RuleActivity, "Activity by bg-admin1@contoso.onmicrosoft.com: Add member to role", 12*time.Minute),
		mk("evt-change", detect.RuleChange, "Change to bg-admin1@contoso.onmicrosoft.com: Update user\x1b[31m", 40*time.Minute),
	}
	targets := []string{"oncall/sms", "oncall/webhook"}
	for _, a := range as {
		if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte(`{"id":"` + a.EventID + `"}`)}, targets); err != nil {
			t.Fatal(err)
		}
	}
	// Deliveries: the sign-in's both delivered; the activity's sms dead;
	// the change's pending after a failed attempt.
	for _, a := range as {
		ds, err := st.AlertDeliveries(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			switch {
			case a.Rule == detect.RuleSignIn:
				err = st.CompleteDelivery(ctx, d.ID, a.Detected.Add(3*time.Second))
			case a.Rule == detect.RuleActivity && d.Target == "oncall/sms":
				err = st.DeadLetter(ctx, d.ID, a.Detected.Add(24*time.Hour), "gave up after 24h0m0s: 401 Unauthorized")
			case a.Rule == detect.RuleActivity:
				err = st.CompleteDelivery(ctx, d.ID, a.Detected.Add(time.Second))
			default:
				err = st.RetryDelivery(ctx, d.ID, 2, a.Detected.Add(time.Minute), "503 Service Unavailable")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	now := incidentBase.Add(2 * time.Minute)
	b := incident.New(incident.Options{Store: st, Gap: 2 * time.Hour, Now: func() time.Time { return now }})
	if _, err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	inc, err := st.IncidentOf(ctx, as[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Ack(ctx, st, inc.ID, "alice", "calling the owners", incidentBase.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Review(ctx, st, inc.ID, incident.ReviewRequest{Class: store.ClassEmergency, By: "carol",
		Note: "tenant locked out by a CA policy, ticket INC-4711", Attest: map[string]string{"oncall": "yes"},
		Groups: []string{"oncall", "security"}}, incidentBase.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return st, inc.ID
}

// TestIncidentsShowGolden: the table of incidents show, and its JSON.
func TestIncidentsShowGolden(t *testing.T) {
	st, id := incidentFixture(t)
	var out bytes.Buffer
	if err := showIncident(context.Background(), st, &out, id, "table", []string{"oncall", "security"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "incidents-show.table", out.String())
	if strings.Contains(out.String(), "\x1b") {
		t.Error("a control character from a title reached the terminal")
	}

	out.Reset()
	if err := showIncident(context.Background(), st, &out, id, "json", []string{"oncall", "security"}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("show --format json is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"id", "state", "account_id", "account_upn", "opened", "alerts", "transitions", "alert_details", "review"} {
		if _, ok := got[k]; !ok {
			t.Errorf("show JSON lacks %q", k)
		}
	}
	if got["id"] != id || got["state"] != store.IncidentReviewed || len(got["alerts"].([]any)) != 3 {
		t.Errorf("show JSON = %v", got)
	}
	if na, _ := got["not_attested"].([]any); len(na) != 1 || na[0] != "security" {
		t.Errorf("not_attested = %v, want [security]", got["not_attested"])
	}

	if err := showIncident(context.Background(), st, &out, "inc-nope", "table", nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown id: %v", err)
	}
}

// TestIncidentsShowDrillSuggestion: a drill pre-classification is shown
// with who planned it (no empty "planned by"), and the incident's alerts
// that are not the drill's are named before anyone confirms it.
func TestIncidentsShowDrillSuggestion(t *testing.T) {
	st, id := incidentFixture(t)
	ctx := context.Background()
	inc, err := st.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c := drill.Classification{SuggestedClass: store.ClassDrill, Drill: "drl-0123456789ab", Account: "bg1@contoso.example", AlertID: inc.Alerts[0],
		At: incidentBase, Confirm: "breakglass incidents review " + id + " --as drill --by NAME --note TEXT"}
	b, _ := json.Marshal(c)
	if _, _, err := st.AppendLogOnce(ctx, store.LogEntry{Incident: id, Kind: drill.LogKind, Ref: c.Drill, At: incidentBase, Content: b}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := showIncident(ctx, st, &out, id, "table", nil); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "suggested: drill (drill drl-0123456789ab of bg1@contoso.example); a reviewer confirms it") || strings.Contains(s, "planned by") {
		t.Errorf("suggestion line:\n%s", s)
	}
	want := fmt.Sprintf("NOT the drill's: 2 alert(s) of this incident (%s, %s)", inc.Alerts[1], inc.Alerts[2])
	if !strings.Contains(s, want) {
		t.Errorf("lacks %q:\n%s", want, s)
	}
	out.Reset()
	if err := showIncident(ctx, st, &out, id, "json", nil); err != nil {
		t.Fatal(err)
	}
	var got struct {
		NotTheDrill []string `json:"not_the_drill"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.NotTheDrill) != 2 {
		t.Errorf("json not_the_drill %v, %v", got.NotTheDrill, err)
	}
}

// TestIncidentsReviewFlowBinary: the built binary against a running serve
// with a loopback webhook: records arrive through a followed file, the
// daemon opens one incident; ack acknowledges it and its alerts; close
// without a review is refused; review as misuse pages the webhook with
// bg.misuse; close then succeeds.
func TestIncidentsReviewFlowBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", []entra.Account{{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg-admin1@contoso.onmicrosoft.com"}}, "")
	cmd := d.start(t)
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	if !d.waitReady(t, 20*time.Second) {
		t.Fatal("serve did not become ready")
	}
	for _, name := range []string{"graph-signin-single.json", "graph-audit-page.json"} {
		b, err := os.ReadFile(inputs(name)[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.dir, "logs", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bg := func(args ...string) result {
		t.Helper()
		return runBinary(t, []string{"E2E_TOKEN=" + d.token}, append(append([]string{"incidents"}, args...), "--config", d.cfg)...)
	}

	// The daemon attaches the alerts: the sign-in at 05:12 and the
	// account's activity and changes until 06:04 form one incident.
	var inc jsonIncident
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Account incidents: the audit page's role change also makes the
		// never-drilled account's drill overdue, an incident of its own.
		r := bg("list", "--kind", "account", "--format", "json")
		var incs []jsonIncident
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		for sc.Scan() {
			var j jsonIncident
			if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
				t.Fatalf("list --format json line %q: %v", sc.Text(), err)
			}
			incs = append(incs, j)
		}
		if len(incs) == 1 && len(incs[0].Alerts) == 4 {
			inc = incs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident with the 4 alerts of the use within 30s; list: %s %s", r.stdout, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if inc.State != store.IncidentOpen || inc.AccountID != "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70" || inc.AccountUPN == "" || inc.Opened.IsZero() {
		t.Errorf("incident = %+v", inc)
	}

	if r := bg("ack", inc.ID); r.code != 2 || !strings.Contains(r.stderr, "--by") {
		t.Errorf("ack without --by: exit %d %s", r.code, r.stderr)
	}
	if r := bg("ack", "inc-000000000000", "--by", "alice"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("ack of an unknown incident: exit %d %s", r.code, r.stderr)
	}
	r := bg("ack", inc.ID, "--by", "alice", "--note", "calling the owners")
	if r.code != 0 || !strings.Contains(r.stdout, "acknowledged by alice") || !strings.Contains(r.stdout, "4 firing alerts acknowledged") {
		t.Fatalf("ack: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = bg("close", inc.ID, "--by", "alice")
	if r.code != 1 || !strings.Contains(r.stderr, "has no review") || !strings.Contains(r.stderr, "incidents review "+inc.ID) {
		t.Errorf("close before review: exit %d %s", r.code, r.stderr)
	}
	if r := bg("review", inc.ID, "--as", "misuse", "--by", "carol", "--note", "x", "--attest", "nosuch=yes"); r.code != 2 || !strings.Contains(r.stderr, "groups: hook") {
		t.Errorf("review with an unknown group: exit %d %s", r.code, r.stderr)
	}

	r = bg("review", inc.ID, "--as", "misuse", "--by", "carol", "--note", "nobody on the team used it", "--attest", "hook=role added to an unknown user")
	misuseID := alert.Key("bg.misuse/"+inc.ID, detect.RuleMisuse)
	if r.code != 0 || !strings.Contains(r.stdout, "reviewed as misuse by carol") || !strings.Contains(r.stdout, "delivered to hook/") {
		t.Fatalf("review --as misuse: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if rcv.count(map[string]bool{misuseID: true}) != 1 {
		t.Errorf("the webhook did not receive bg.misuse %s", misuseID)
	}

	r = bg("close", inc.ID, "--by", "carol", "--format", "json")
	var closed jsonIncident
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &closed) != nil || closed.State != store.IncidentClosed {
		t.Fatalf("close: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = bg("show", inc.ID, "--format", "json")
	var shown shownIncident
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &shown) != nil {
		t.Fatalf("show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if shown.Review == nil || shown.Review.Class != store.ClassMisuse || shown.Review.By != "carol" || !slices.Contains(shown.Alerts, misuseID) {
		t.Errorf("shown review %+v, alerts %v (want misuse by carol, bg.misuse attached)", shown.Review, shown.Alerts)
	}
	var tos []string
	for _, c := range shown.Transitions {
		tos = append(tos, c.To+" by "+c.By)
	}
	if want := []string{"open by breakglass", "acknowledged by alice", "reviewed by carol", "closed by carol"}; !slices.Equal(tos, want) {
		t.Errorf("transitions %v, want %v", tos, want)
	}
	for _, a := range shown.AlertDetails {
		if a.Rule != detect.RuleMisuse && (a.State != alert.StateAcknowledged || len(a.StateHistory) == 0 || a.StateHistory[0].By != "alice") {
			t.Errorf("alert %s %s: state %s history %+v, want acknowledged by alice", a.ID, a.Rule, a.State, a.StateHistory)
		}
	}
	// What serve and the review commands wrote agrees with the evidence
	// log: the store verifies clean, the incidents table included.
	if r := runBinary(t, []string{"E2E_TOKEN=" + d.token}, "evidence", "verify", "--config", d.cfg); r.code != 0 {
		t.Errorf("evidence verify after the flow: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Each write of the flow is in the audit trail, as the CLI's user.
	r = runBinary(t, []string{"E2E_TOKEN=" + d.token}, "audit-log", "--format", "json", "--config", d.cfg)
	var audit []shownAudit
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &audit) != nil {
		t.Fatalf("audit-log: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var acts []string
	for i := len(audit) - 1; i >= 0; i-- {
		if a := audit[i]; a.Target == inc.ID && strings.HasPrefix(a.Actor, "cli:") && a.Outcome == "ok" {
			acts = append(acts, a.Action)
		}
	}
	if want := []string{"incident.ack", "incident.review", "incident.close"}; !slices.Equal(acts, want) {
		t.Errorf("audit trail of the incident: %v, want %v\n%s", acts, want, r.stdout)
	}
}

// TestIncidentsListUnattached: list says when stored alerts are in no
// incident yet (stored by scan, or while serve was down).
func TestIncidentsListUnattached(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTemp(t, "bg.yaml", "accounts: [{upn: bg-admin1@contoso.onmicrosoft.com}]\nstore:\n  path: "+filepath.Join(dir, "bg.db")+"\n")
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	a := alert.Alert{ID: "a1", Rule: detect.RuleSignIn, EventID: "e1", EventTime: incidentBase, Detected: incidentBase}
	if _, err := st.AddAlert(context.Background(), a, store.Evidence{}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := runBinary(t, nil, "incidents", "list", "--config", cfg, "--format", "json")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "1 stored alert is in no incident yet") || !strings.Contains(r.stderr, "breakglass serve") {
		t.Errorf("list with an unattached alert: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestIncidentsFlags: every incidents subcommand, also those other files
// add through incidentsExtra, takes --config/-c and --format.
func TestIncidentsFlags(t *testing.T) {
	root := newRootCmd()
	inc, _, err := root.Find([]string{"incidents"})
	if err != nil || inc.Name() != "incidents" {
		t.Fatalf("no incidents command: %v", err)
	}
	var names []string
	for _, c := range inc.Commands() {
		names = append(names, c.Name())
		if f := c.Flags().Lookup("config"); f == nil || f.Shorthand != "c" {
			t.Errorf("incidents %s: no --config/-c", c.Name())
		}
		if c.Flags().Lookup("format") == nil {
			t.Errorf("incidents %s: no --format", c.Name())
		}
	}
	for _, want := range []string{"list", "show", "ack", "review", "close"} {
		if !slices.Contains(names, want) {
			t.Errorf("incidents has no %s (has %v)", want, names)
		}
	}
	if r := runBinary(t, nil, "incidents", "lisst"); r.code != 2 || !strings.Contains(r.stderr, `Did you mean "list"`) {
		t.Errorf("incidents lisst: exit %d %s", r.code, r.stderr)
	}
	if r := runBinary(t, nil, "incidents", "show"); r.code != 2 {
		t.Errorf("incidents show without an ID: exit %d", r.code)
	}
}
