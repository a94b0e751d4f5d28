package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 3, 14, 2, 58, 7, 0, time.UTC)

// fakeSource is the store as Build reads it.
type fakeSource struct {
	inc        store.Incident
	changes    []store.IncidentChange
	log        []store.LogEntry
	alerts     map[string]alert.Alert
	deliveries map[string][]store.Delivery
	states     map[string][]store.StateChange
	evidence   map[string]store.Evidence
	failLog    error
}

func (f *fakeSource) Incident(_ context.Context, id string) (store.Incident, error) {
	if id != f.inc.ID {
		return store.Incident{}, store.ErrNotFound
	}
	return f.inc, nil
}
func (f *fakeSource) IncidentChanges(context.Context, string) ([]store.IncidentChange, error) {
	return f.changes, nil
}
func (f *fakeSource) IncidentLog(context.Context, string) ([]store.LogEntry, error) {
	return f.log, f.failLog
}
func (f *fakeSource) Alert(_ context.Context, id string) (alert.Alert, error) {
	a, ok := f.alerts[id]
	if !ok {
		return a, store.ErrNotFound
	}
	return a, nil
}
func (f *fakeSource) AlertDeliveries(_ context.Context, id string) ([]store.Delivery, error) {
	return f.deliveries[id], nil
}
func (f *fakeSource) StateChanges(_ context.Context, id string) ([]store.StateChange, error) {
	return f.states[id], nil
}
func (f *fakeSource) Evidence(_ context.Context, id string) (store.Evidence, error) {
	e, ok := f.evidence[id]
	if !ok {
		return e, store.ErrNotFound
	}
	return e, nil
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// fixture is one use of a break-glass account: a sign-in from a PAW with a
// FIDO2 key, then a role assignment, both alerted, notified (one channel
// failed), acknowledged, and reviewed as misuse.
func fixture(t *testing.T) *fakeSource {
	signin, audit := readFile(t, "signin-graph.json"), readFile(t, "audit-graph.json")
	a1 := alert.Alert{ID: "a1", Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account bg-admin1@contoso.onmicrosoft.com signed in to Azure Portal",
		EventID: "11111111-0000-4000-8000-000000000001", EventTime: t0, Detected: t0.Add(20 * time.Second), State: alert.StateAcknowledged}
	a2 := alert.Alert{ID: "a2", Rule: "bg.role", Severity: alert.Sev0, Title: "Break-glass account bg-admin1@contoso.onmicrosoft.com added Mallory to Global Administrator",
		EventID: "Directory_aaaa0001-0000-4000-8000-000000000001_ABCDE_1", EventTime: t0.Add(6*time.Minute + 34500*time.Millisecond), Detected: t0.Add(7 * time.Minute), State: alert.StateAcknowledged}
	rev := &store.Review{Class: store.ClassMisuse, By: "ciso@contoso.com", At: t0.Add(3 * time.Hour), Note: "No change ticket; Mallory is not an administrator.",
		Attest: map[string]string{"oncall": "no: a role was granted outside the runbook", "security": "yes"}}
	return &fakeSource{
		inc: store.Incident{ID: "inc-20260314-0001", Key: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", Kind: store.IncidentAccount,
			AccountID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", AccountUPN: "bg-admin1@contoso.onmicrosoft.com", State: store.IncidentReviewed,
			Opened: a1.Detected, FirstEvent: a1.EventTime, LastEvent: a2.EventTime, Alerts: []string{"a1", "a2"}, Review: rev},
		log: []store.LogEntry{
			{Seq: 1, Incident: "inc-20260314-0001", Kind: store.LogRecord, Ref: a1.EventID, Content: signin},
			{Seq: 2, Incident: "inc-20260314-0001", Kind: store.LogAlert, Ref: "a1", Content: []byte(`{}`)},
			{Seq: 3, Incident: "inc-20260314-0001", Kind: store.LogRecord, Ref: a2.EventID, Content: audit},
			// The later Graph pull returns the sign-in again: listed once.
			{Seq: 4, Incident: "inc-20260314-0001", Kind: store.LogPull, Ref: "pull-1", Content: append(append([]byte(`{"value":[`), signin...), ']', '}')},
			// A record no decoder reads is still shown, at the time it was kept.
			{Seq: 5, Incident: "inc-20260314-0001", Kind: store.LogRecord, Ref: "odd-1", At: t0.Add(8 * time.Minute), Content: []byte(`{"operationName":"Something new","userPrincipalName":"bg-admin1@contoso.onmicrosoft.com"}`)},
			// The incident's history, as the incident package logs it.
			transition(6, incident.Transition{Incident: "inc-20260314-0001", Key: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", Kind: store.IncidentAccount, To: store.IncidentOpen, At: a1.Detected}),
			transition(7, incident.Transition{Incident: "inc-20260314-0001", From: store.IncidentOpen, To: store.IncidentAcknowledged, At: t0.Add(12 * time.Minute)}),
			transition(8, incident.Transition{Incident: "inc-20260314-0001", From: store.IncidentAcknowledged, To: store.IncidentReviewed, At: rev.At, Review: rev}),
		},
		alerts: map[string]alert.Alert{"a1": a1, "a2": a2},
		deliveries: map[string][]store.Delivery{
			"a1": {
				{AlertID: "a1", Status: store.StatusFiring, Target: "oncall/sms", Attempts: 1, Created: a1.Detected, Delivered: a1.Detected.Add(2 * time.Second)},
				{AlertID: "a1", Status: store.StatusFiring, Target: "oncall/teams", Attempts: 9, Created: a1.Detected, DeadAt: a1.Detected.Add(time.Hour), DeadReason: "HTTP 410 Gone: the webhook was deleted", LastError: "HTTP 410"},
			},
			"a2": {{AlertID: "a2", Status: store.StatusFiring, Target: "oncall/sms", Attempts: 1, Created: a2.Detected, Delivered: a2.Detected.Add(3 * time.Second)}},
		},
		states: map[string][]store.StateChange{
			"a1": {{AlertID: "a1", From: alert.StateFiring, To: alert.StateAcknowledged, By: "alice (sms)", At: t0.Add(4 * time.Minute)}},
			"a2": {{AlertID: "a2", From: alert.StateFiring, To: alert.StateAcknowledged, By: "alice", At: t0.Add(12 * time.Minute)}},
		},
		changes: []store.IncidentChange{
			{IncidentID: "inc-20260314-0001", From: "", To: store.IncidentOpen, By: "breakglass", At: a1.Detected, Note: "opened by alert a1"},
			{IncidentID: "inc-20260314-0001", From: store.IncidentOpen, To: store.IncidentAcknowledged, By: "alice", At: t0.Add(12 * time.Minute), Note: "looking"},
			{IncidentID: "inc-20260314-0001", From: store.IncidentAcknowledged, To: store.IncidentReviewed, By: "ciso@contoso.com", At: rev.At, Note: "misuse"},
		},
		evidence: map[string]store.Evidence{a1.EventID: {EventID: a1.EventID, Raw: signin}},
	}
}

func transition(seq int64, tr incident.Transition) store.LogEntry {
	b, _ := json.Marshal(tr)
	return store.LogEntry{Seq: seq, Incident: tr.Incident, Kind: store.LogIncident, Ref: "state:" + tr.To, At: tr.At, Content: b}
}

func build(t *testing.T, src *fakeSource) *Report {
	t.Helper()
	r, err := Build(context.Background(), src, "inc-20260314-0001", t0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r.Head = &Head{Seq: 4, Hash: strings.Repeat("3f", 32), Signed: true}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update and review the diff):\n%s", name, got)
	}
}

func TestReportGolden(t *testing.T) {
	r := build(t, fixture(t))
	for _, f := range Formats {
		var b bytes.Buffer
		if err := Render(&b, r, f); err != nil {
			t.Fatal(err)
		}
		golden(t, "report."+map[string]string{"markdown": "md", "html": "html", "json": "json"}[f], b.Bytes())
	}
}

func TestReportContent(t *testing.T) {
	r := build(t, fixture(t))
	var kinds []string
	for i, it := range r.Items {
		kinds = append(kinds, it.Kind)
		if i > 0 && it.At.Before(r.Items[i-1].At) {
			t.Errorf("item %d (%s) is older than the one before", i, it.Title)
		}
	}
	want := "signin alert transition notification acknowledgement audit alert notification record acknowledgement transition notification transition review"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("timeline\n got %s\nwant %s", got, want)
	}
	var md bytes.Buffer
	Markdown(&md, r)
	for _, s := range []string{
		"PAW-OSLO-01, id 3f2a9c1e-7b4d-4e8f-a1b2-c3d4e5f60718, Windows 11", "FIDO2 security key (YubiKey 5 NFC): succeeded",
		"Phishing-resistant MFA", "Break-glass: phishing-resistant MFA → success", "Oslo, Oslo, NO", "203.0.113.7",
		"| Role.DisplayName | (none) | Global Administrator |", "| StrongAuthenticationMethod | (none) | Default: true, MethodType: 6; Default: false, MethodType: 7 |",
		"| AccountEnabled | false | true |", "NOT delivered to oncall/teams", "Alert bg.signin acknowledged by alice (sms)",
		"**Classified as misuse** by ciso@contoso.com", "oncall: no: a role was granted outside the runbook",
		"\\<script\\>",
	} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q", s)
		}
	}
	var h bytes.Buffer
	HTML(&h, r)
	if strings.Contains(h.String(), "<script>") || !strings.Contains(h.String(), "&lt;script&gt;") {
		t.Error("HTML does not escape record content")
	}
	for _, banned := range []string{"http://", "https://", "<script", "<link", "src="} {
		if strings.Contains(h.String(), banned) {
			t.Errorf("HTML is not self-contained: has %q", banned)
		}
	}
}

func TestReportGaps(t *testing.T) {
	src := fixture(t)
	src.failLog = os.ErrPermission
	src.inc.Alerts = append(src.inc.Alerts, "gone")
	src.inc.Review = nil
	r := build(t, src)
	if len(r.Gaps) != 2 {
		t.Fatalf("gaps: %q", r.Gaps)
	}
	var md bytes.Buffer
	Markdown(&md, r)
	if !strings.Contains(md.String(), "the report is incomplete") || !strings.Contains(md.String(), "Not reviewed yet") {
		t.Error(md.String())
	}
	// The sign-in still shows: it came from the alert's evidence.
	if !strings.Contains(md.String(), "Sign-in success") {
		t.Error("the alert's evidence was not used when the log could not be read")
	}
	if _, err := Build(context.Background(), src, "nope", t0); err != store.ErrNotFound {
		t.Errorf("unknown incident: %v", err)
	}
}

func TestDecodeValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "(none)"},
		{"[]", "(none)"},
		{"null", "(none)"},
		{`"Global Administrator"`, "Global Administrator"},
		{`["Global Administrator"]`, "Global Administrator"},
		{`[true]`, "true"},
		{`["a","b"]`, "a, b"},
		{`"\"double\""`, "double"},
		{`"[\"nested\",\"list\"]"`, "nested, list"},
		{`[{"MethodType":6,"Default":true}]`, "Default: true, MethodType: 6"},
		{`{"b":1,"a":{"c":[]}}`, "a: c: (none), b: 1"},
		{`not json [`, "not json ["},
		{`[1, 2] trailing`, "[1, 2] trailing"},
		{`12345678901234567890`, "12345678901234567890"},
		{`""`, "(none)"},
	}
	for _, tt := range tests {
		if got := DecodeValue(tt.in); got != tt.want {
			t.Errorf("DecodeValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The extras come out the same from each shape of record.
func TestExtractShapes(t *testing.T) {
	graph := `{"deviceDetail":{"deviceId":"d1","operatingSystem":"Windows 11","browser":"Edge"},"authenticationDetails":[{"authenticationMethod":"Passkey (Microsoft Authenticator)","succeeded":true}],"appliedConditionalAccessPolicies":[{"displayName":"P1","result":"success","authenticationStrength":{"displayName":"Phishing-resistant MFA"}}]}`
	diag := `{"category":"SignInLogs","properties":` + graph + `}`
	la := `{"Type":"SigninLogs","DeviceDetail":"{\"deviceId\":\"d1\",\"operatingSystem\":\"Windows 11\",\"browser\":\"Edge\"}","AuthenticationDetails":"[{\"authenticationMethod\":\"Passkey (Microsoft Authenticator)\",\"succeeded\":true}]","ConditionalAccessPolicies":[{"displayName":"P1","result":"success","authenticationStrength":{"displayName":"Phishing-resistant MFA"}}]}`
	want := extras{device: "id d1, Windows 11", client: "Edge", methods: "Passkey (Microsoft Authenticator): succeeded", strength: "Phishing-resistant MFA", policies: "P1 → success"}
	for name, rec := range map[string]string{"graph": graph, "diagnostic": diag, "loganalytics": la} {
		if got := extract([]byte(rec)); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	if got := extract([]byte(`{"deviceDetail":42,"authenticationDetails":"nope","appliedConditionalAccessPolicies":[1,null,{}]}`)); got != (extras{}) {
		t.Errorf("odd fields: %+v", got)
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`[{"a":1}]`, `"\"x\""`, `[[[[[[]]]]]]`, `{"a":"[\"b\"]"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		DecodeValue(s)
		extract([]byte(s))
		recordItem([]byte(s), "r", t0)
	})
}

// A real Log Analytics AuditLogs row (OTRF), whose targets and their
// modified properties are JSON inside strings inside a JSON string.
func TestReportLogAnalyticsAudit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "logs", "testdata", "real", "otrf-AADAuditEvents.json"))
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.SplitN(bytes.TrimSpace(data), []byte("\n"), 2)[0]
	it := recordItem(line, "r", t0)
	if it.Kind != KindAudit || len(it.Targets) == 0 {
		t.Fatalf("%+v", it)
	}
	tg := it.Targets[0]
	if tg.Name != "SimuLandApp" || tg.Type != "Application" || len(tg.Changes) < 2 {
		t.Fatalf("%+v", tg)
	}
	c := tg.Changes[0]
	if c.Property != "KeyDescription" || c.Old != "(none)" || c.New != "[KeyIdentifier=59eaeebc-8a6b-44a6-9f24-7d55e64420c9,KeyType=Password,KeyUsage=Verify,DisplayName=SimuLandCreds]" {
		t.Errorf("%+v", c)
	}
	if c := tg.Changes[1]; c.New != "KeyDescription" {
		t.Errorf("%+v", c)
	}
	if !strings.Contains(it.Title, "pgustavo@simulandlabs.com") {
		t.Errorf("title %q", it.Title)
	}
}

// TestBuildTableRewritten: the incidents table is outside the hash chain;
// a misuse review rewritten there as a drill is named at the top of the
// report, with the class the evidence log recorded.
func TestBuildTableRewritten(t *testing.T) {
	src := fixture(t)
	if r := build(t, src); len(r.Gaps) != 0 {
		t.Fatalf("untouched: gaps %v", r.Gaps)
	}
	rv := *src.inc.Review
	rv.Class = store.ClassDrill
	src.inc.Review = &rv
	r := build(t, src)
	if len(r.Gaps) != 1 || !strings.Contains(r.Gaps[0], "review") || !strings.Contains(r.Gaps[0], "misuse") {
		t.Errorf("gaps = %q; want the rewritten review named, with the log's misuse", r.Gaps)
	}
}
