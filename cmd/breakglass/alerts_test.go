package main

import (
	"breakglass/internal/notify"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"breakglass/internal/alert"
	"breakglass/internal/route"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// alertsFixture is a real SQLite store filled through the store API: a
// sign-in alert acknowledged by a responder whose notifications stand in
// every state, a resolved audit alert with none, and a firing one.
type alertsFixture struct {
	config, storePath string
	signin, audit     alert.Alert
	// created holds the times the store stamped on deliveries (enqueue
	// time, now), which the goldens mask.
	created []time.Time
}

var alertsBase = time.Date(2026, 3, 14, 2, 51, 7, 0, time.UTC)

// alertsNotify routes sign-ins to oncall, then to managers after 10
// minutes unacknowledged; everything else to both at once.
const alertsNotify = `notify:
  groups:
    - name: oncall
      escalate_after: 10m
      channels:
        - {name: voice, type: console}
        - {name: webhook, type: console}
        - {name: email, type: console}
        - {name: sms, type: console}
    - name: managers
      channels:
        - {name: phone, type: console}
  routes:
    - matchers: ['rule="bg.signin"']
      groups: [oncall, managers]
`

func newAlertsFixture(t *testing.T) alertsFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	fx := alertsFixture{storePath: filepath.Join(dir, "bg.db")}
	fx.config = writeTemp(t, "bg.yaml", "accounts: [{upn: bg-admin1@contoso.onmicrosoft.com}]\nstore:\n  path: "+fx.storePath+"\n"+alertsNotify)
	st, err := sqlite.Open(ctx, fx.storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	fx.signin = alert.Alert{
		ID: alert.Key("evt-signin-1", "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0,
		Title:     "Break-glass account signed in: bg-admin1@contoso.onmicrosoft.com",
		AccountID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", AccountUPN: "bg-admin1@contoso.onmicrosoft.com",
		Account: "Break glass 1", EventID: "evt-signin-1", EventTime: alertsBase, Category: "SignInLogs",
		Source: "signins.json:3", Detected: alertsBase.Add(40 * time.Second),
		Result: "success", App: "Azure Portal", IPAddress: "203.0.113.7", Location: "Amsterdam, NL",
		Labels:      map[string]string{"rule": "bg.signin", "severity": "Sev0", "account": "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"},
		Annotations: map[string]string{"summary": "Sign-in to a break-glass account", "runbook": "https://runbooks.example/bg"},
	}
	fx.audit = alert.Alert{
		ID: alert.Key("evt-audit-1", "bg.audit"), Rule: "bg.audit", Severity: alert.Sev1,
		Title:     "Break-glass account changed: Update user",
		AccountID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", AccountUPN: "bg-admin1@contoso.onmicrosoft.com",
		EventID: "evt-audit-1", EventTime: alertsBase.Add(-time.Hour), Category: "AuditLogs",
		Source: "audit.json:9", Detected: alertsBase.Add(-59 * time.Minute), Operation: "Update user",
		Actor: "admin@contoso.onmicrosoft.com",
	}
	older := fx.audit
	older.ID, older.EventID, older.EventTime = alert.Key("evt-audit-0", "bg.audit"), "evt-audit-0", alertsBase.Add(-2*time.Hour)
	older.Detected = older.EventTime.Add(time.Minute)

	// voice first: it is the delivery a dispatcher is sending right now.
	targets := []string{"oncall/voice", "oncall/webhook", "oncall/email", "oncall/sms"}
	if _, err := st.AddAlertNotify(ctx, fx.signin, store.Evidence{EventID: fx.signin.EventID, Category: "SignInLogs", Raw: []byte(`{"id":"evt-signin-1"}`)}, targets); err != nil {
		t.Fatal(err)
	}
	for _, a := range []alert.Alert{fx.audit, older} {
		if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: a.EventID, Category: "AuditLogs", Raw: []byte(`{"id":"` + a.EventID + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := st.ClaimDeliveries(ctx, "dispatcher-1", time.Now(), time.Hour, 1)
	if err != nil || len(claimed) != 1 || claimed[0].Target != "oncall/voice" {
		t.Fatalf("claim = %+v, %v; want the voice delivery", claimed, err)
	}
	ds, err := st.AlertDeliveries(ctx, fx.signin.ID)
	if err != nil {
		t.Fatal(err)
	}
	id := map[string]int64{}
	for _, d := range ds {
		id[d.Target] = d.ID
		fx.created = append(fx.created, d.Created)
	}
	steps := []func() error{
		func() error {
			return st.RetryDelivery(ctx, id["oncall/webhook"], 1, alertsBase.Add(time.Minute), "HTTP 503 from hooks.example")
		},
		func() error { return st.CompleteDelivery(ctx, id["oncall/webhook"], alertsBase.Add(2*time.Minute)) },
		func() error {
			return st.RetryDelivery(ctx, id["oncall/email"], 4, alertsBase.Add(time.Hour), "smtp: 550 5.1.1 mailbox unavailable")
		},
		func() error {
			return st.DeadLetter(ctx, id["oncall/email"], alertsBase.Add(3*time.Minute), "permanent error: smtp: 550 5.1.1 mailbox unavailable")
		},
		// A provider echoing a terminal escape sequence back.
		func() error {
			return st.RetryDelivery(ctx, id["oncall/sms"], 2, alertsBase.Add(5*time.Minute), "HTTP 429: \x1b[31mslow down\x1b[0m\nretry later")
		},
		func() error {
			return st.SetAlertState(ctx, fx.signin.ID, alert.StateAcknowledged, "alice@contoso.com", alertsBase.Add(4*time.Minute))
		},
		func() error {
			return st.SetAlertState(ctx, fx.audit.ID, alert.StateResolved, "bob@contoso.com", alertsBase.Add(-30*time.Minute))
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("fixture step %d: %v", i, err)
		}
	}
	return fx
}

// mask replaces the times the store chose (enqueue time) with <created>.
func (fx alertsFixture) mask(s string) string {
	for _, c := range fx.created {
		c = c.UTC()
		s = strings.ReplaceAll(s, c.Format(time.RFC3339Nano), "<created>")
		s = strings.ReplaceAll(s, c.Format(time.DateTime), "<created>")
	}
	return s
}

// TestAlertsGolden: list and show through the binary, in both formats, on a
// store holding deliveries in every state.
func TestAlertsGolden(t *testing.T) {
	fx := newAlertsFixture(t)
	tests := []struct {
		name, golden string
		args         []string
	}{
		{"list table", "alerts-list.table", []string{"alerts", "list", "-c", fx.config}},
		{"list json", "alerts-list.json", []string{"alerts", "list", "-c", fx.config, "--format", "json"}},
		{"show table", "alerts-show.table", []string{"alerts", "show", "-c", fx.config, fx.signin.ID}},
		{"show json", "alerts-show.json", []string{"alerts", "show", "-c", fx.config, fx.signin.ID, "--format", "json"}},
		{"show no deliveries", "alerts-show-resolved.table", []string{"alerts", "show", "-c", fx.config, fx.audit.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "\x1b") {
				t.Errorf("an escape sequence from the store reached the terminal:\n%q", r.stdout)
			}
			golden(t, tt.golden, fx.mask(r.stdout))
		})
	}
}

// TestAlertsListFilters: --state, --rule and --limit select what the store
// holds, newest first, and say when more match.
func TestAlertsListFilters(t *testing.T) {
	fx := newAlertsFixture(t)
	tests := []struct {
		name   string
		args   []string
		want   []string // rules/states of the alerts printed, in order
		stderr string
	}{
		{"all", nil, []string{"bg.signin acknowledged", "bg.audit resolved", "bg.audit firing"}, ""},
		{"state firing", []string{"--state", "firing"}, []string{"bg.audit firing"}, ""},
		{"state acknowledged", []string{"--state", "acknowledged"}, []string{"bg.signin acknowledged"}, ""},
		{"rule", []string{"--rule", "bg.audit"}, []string{"bg.audit resolved", "bg.audit firing"}, ""},
		{"limit", []string{"--limit", "2"}, []string{"bg.signin acknowledged", "bg.audit resolved"}, "more match"},
		{"none", []string{"--rule", "bg.nothing"}, nil, "no alerts match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, append([]string{"alerts", "list", "-c", fx.config, "--format", "json"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			var got []struct {
				Rule, State string
				Deliveries  deliverySummary
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("output is not a JSON array: %v\n%s", err, r.stdout)
			}
			var names []string
			for _, a := range got {
				names = append(names, a.Rule+" "+a.State)
				if a.Rule == "bg.signin" && a.Deliveries != (deliverySummary{Delivered: 1, Pending: 2, Dead: 1}) {
					t.Errorf("sign-in deliveries = %+v, want 1 delivered, 2 pending, 1 dead", a.Deliveries)
				}
			}
			if strings.Join(names, ", ") != strings.Join(tt.want, ", ") {
				t.Errorf("listed %q, want %q", names, tt.want)
			}
			if tt.stderr != "" && !strings.Contains(r.stderr, tt.stderr) || tt.stderr == "" && r.stderr != "" {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.stderr)
			}
		})
	}
}

// TestAlertsExitCodes: not found exits 1; usage, configuration and store
// problems exit 2, and a missing store is never created.
func TestAlertsExitCodes(t *testing.T) {
	fx := newAlertsFixture(t)
	missing := filepath.Join(t.TempDir(), "none", "bg.db")
	noStore := writeTemp(t, "nostore.yaml", "accounts: [{upn: a@b.c}]\nstore:\n  path: "+missing+"\n")
	notDB := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(notDB, []byte("this is not a database, just text that is long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := writeTemp(t, "junk.yaml", "accounts: [{upn: a@b.c}]\nstore:\n  path: "+notDB+"\n")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"show unknown", []string{"show", "-c", fx.config, "0123456789abcdef"}, exitFailure, `alert "0123456789abcdef" not found`},
		{"show found", []string{"show", "-c", fx.config, fx.audit.ID}, exitOK, ""},
		{"show no id", []string{"show", "-c", fx.config}, exitUsage, "takes one alert ID"},
		{"show two ids", []string{"show", "-c", fx.config, "a", "b"}, exitUsage, "takes one alert ID"},
		{"show bad format", []string{"show", "-c", fx.config, "--format", "xml", fx.audit.ID}, exitUsage, `unknown format "xml"`},
		{"list bad state", []string{"list", "-c", fx.config, "--state", "open"}, exitUsage, `unknown state "open"`},
		{"list bad limit", []string{"list", "-c", fx.config, "--limit", "0"}, exitUsage, "--limit: must be at least 1"},
		{"list bad format", []string{"list", "-c", fx.config, "--format", "yaml"}, exitUsage, `unknown format "yaml"`},
		{"list stray arg", []string{"list", "-c", fx.config, "x"}, exitUsage, "takes no arguments"},
		{"list no config", []string{"list"}, exitUsage, "BREAKGLASS_CONFIG"},
		{"list missing store", []string{"list", "-c", noStore}, exitUsage, "does not exist"},
		{"show missing store", []string{"show", "-c", noStore, "x"}, exitUsage, "does not exist"},
		{"list not a database", []string{"list", "-c", junk}, exitUsage, "opening store"},
		{"unknown subcommand", []string{"snooze", "x"}, exitUsage, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, append([]string{"alerts"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", r.code, tt.code, tt.msg, r.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("a missing store was created (or its directory): %v", err)
	}
}

func TestDeliveryState(t *testing.T) {
	now := alertsBase
	tests := []struct {
		name string
		d    store.Delivery
		want string
	}{
		{"new", store.Delivery{}, deliveryPending},
		{"retrying", store.Delivery{Attempts: 3, LastError: "x"}, deliveryPending},
		{"leased", store.Delivery{LeaseOwner: "d", LeaseUntil: now.Add(time.Second)}, deliverySending},
		{"lease expired", store.Delivery{LeaseOwner: "d", LeaseUntil: now}, deliveryPending},
		{"delivered", store.Delivery{Delivered: now}, deliveryDelivered},
		{"dead", store.Delivery{DeadAt: now, DeadReason: "gone"}, deliveryDead},
		{"delivered after dead", store.Delivery{DeadAt: now, Delivered: now.Add(time.Second)}, deliveryDelivered},
	}
	for _, tt := range tests {
		if got := deliveryState(tt.d, now); got != tt.want {
			t.Errorf("%s: deliveryState = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text: ok":          "plain text: ok",
		"Zürich, CH":              "Zürich, CH",
		"a\nb":                    `a\nb`,
		"\x1b[31mred\x1b[0m":      `\x1b[31mred\x1b[0m`,
		"tab\there":               `tab\there`,
		"bidi \u202egnp.exe":      `bidi \u202egnp.exe`,
		"nul\x00":                 `nul\x00`,
		string([]byte{0xff, 'a'}): `\xffa`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzPrintable: whatever a log record or a provider put into the store,
// what alerts prints is valid UTF-8 without a control or other non-printing
// character, and plain text passes unchanged.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "ok", "a\nb", "\x1b]8;;http://x\x07", "\u202e", "\xff\xfe", "Zürich"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := printable(s)
		if !utf8.ValidString(got) {
			t.Fatalf("printable(%q) = %q: not UTF-8", s, got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) {
				t.Fatalf("printable(%q) = %q: keeps %U", s, got, r)
			}
		}
		if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 && got != s {
			t.Fatalf("printable(%q) = %q: changed printable text", s, got)
		}
	})
}

// TestAlertsListPastPageCap: --limit is the user's, not the store's page
// size (capped at 1000): list pages through to it.
func TestAlertsListPastPageCap(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 1003
	items := make([]store.AlertWithEvidence, n)
	for i := range items {
		ev := "evt-" + strconv.Itoa(i)
		a := alert.Alert{ID: alert.Key(ev, "bg.signin"), Rule: "bg.signin", EventID: ev, EventTime: alertsBase.Add(time.Duration(i) * time.Second), Detected: alertsBase}
		items[i] = store.AlertWithEvidence{Alert: a, Evidence: store.Evidence{EventID: ev, Raw: []byte(ev)}}
	}
	if _, err := st.AddAlertsNotify(ctx, items, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		limit int
		more  bool
	}{{1002, true}, {n, false}, {5000, false}} {
		var out, errb strings.Builder
		if err := listAlerts(ctx, st, &out, &errb, alertsListFlags{format: "json", limit: tt.limit}); err != nil {
			t.Fatal(err)
		}
		var got []struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
			t.Fatal(err)
		}
		want := min(tt.limit, n)
		if len(got) != want || got[0].EventID != "evt-1002" || got[len(got)-1].EventID != "evt-"+strconv.Itoa(n-want) {
			t.Errorf("--limit %d: %d alerts, first %v last %v; want %d, newest first", tt.limit, len(got), got[0], got[len(got)-1], want)
		}
		if more := strings.Contains(errb.String(), "more match"); more != tt.more {
			t.Errorf("--limit %d: stderr %q, want more=%v", tt.limit, errb.String(), tt.more)
		}
	}
}

// TestAlertsAck: ack through the binary records who, how (cli), the note
// and when, and show then says so; a repeat changes nothing and says who
// acknowledged; an unknown id exits 1, a resolved alert exits 1 unchanged,
// and a missing --by is a usage error.
func TestAlertsAck(t *testing.T) {
	fx := newAlertsFixture(t)
	firing := alert.Key("evt-audit-0", "bg.audit")
	ack := func(args ...string) result {
		t.Helper()
		return runBinary(t, []string{"BREAKGLASS_CONFIG="}, append([]string{"alerts", "ack", "-c", fx.config}, args...)...)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no --by", []string{firing}, exitUsage, "--by: required"},
		{"blank --by", []string{firing, "--by", "  "}, exitUsage, "--by: required"},
		{"escape in --by", []string{firing, "--by", "x\x1b[2J"}, exitUsage, "control characters"},
		{"no id", []string{"--by", "Dana"}, exitUsage, "takes one alert ID"},
		{"unknown id", []string{"0123456789abcdef", "--by", "Dana"}, exitFailure, `alert "0123456789abcdef" not found`},
		{"resolved", []string{fx.audit.ID, "--by", "Dana"}, exitFailure, "is resolved: there is nothing to acknowledge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ack(tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s%s", r.code, tt.code, tt.msg, r.stdout, r.stderr)
			}
		})
	}
	show := func(id string) (shown struct {
		Alert        struct{ State string }
		Acknowledged *shownStateChange
		StateHistory []shownStateChange `json:"state_history"`
	}) {
		t.Helper()
		r := runBinary(t, nil, "alerts", "show", "-c", fx.config, id, "--format", "json")
		if r.code != 0 {
			t.Fatalf("show: exit %d %s", r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
			t.Fatal(err)
		}
		return shown
	}
	if s := show(fx.audit.ID); s.Alert.State != alert.StateResolved || len(s.StateHistory) != 1 {
		t.Fatalf("refused ack changed the resolved alert: %+v", s)
	}
	if s := show(firing); s.Alert.State != alert.StateFiring || len(s.StateHistory) != 0 {
		t.Fatalf("refused acks changed the firing alert: %+v", s)
	}

	before := time.Now().UTC().Truncate(time.Second)
	r := ack(firing, "--by", "Dana Oncall", "--note", "planned drill, ticket 4711")
	if r.code != 0 || !strings.Contains(r.stdout, "Acknowledged alert "+firing) || !strings.Contains(r.stdout, "Escalation to further groups stops") {
		t.Fatalf("ack: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s := show(firing)
	c := s.Acknowledged
	if s.Alert.State != alert.StateAcknowledged || c == nil || c.By != "Dana Oncall" || c.Via != store.ViaCLI ||
		c.Note != "planned drill, ticket 4711" || c.At.Before(before) || c.At.After(time.Now()) {
		t.Fatalf("after ack: %+v, acknowledged %+v", s, c)
	}
	r = ack(firing, "--by", "Eve")
	if r.code != 0 || !strings.Contains(r.stdout, "already acknowledged by Dana Oncall (cli) at") || !strings.Contains(r.stdout, "nothing changed") {
		t.Fatalf("repeat: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := show(firing); len(s.StateHistory) != 1 || s.Acknowledged.By != "Dana Oncall" {
		t.Fatalf("repeat recorded: %+v", s)
	}
	table := runBinary(t, nil, "alerts", "show", "-c", fx.config, firing).stdout
	for _, want := range []string{"Acknowledged  Dana Oncall (cli) at ", "Note          planned drill, ticket 4711",
		"firing -> acknowledged by Dana Oncall (cli): planned drill, ticket 4711"} {
		if !strings.Contains(table, want) {
			t.Errorf("show lacks %q:\n%s", want, table)
		}
	}
	list := runBinary(t, nil, "alerts", "list", "-c", fx.config, "--state", "acknowledged").stdout
	if !strings.Contains(list, "Dana Oncall (cli)") {
		t.Errorf("list does not say who acknowledged:\n%s", list)
	}
}

// TestEscalationOf: each step of a plan reads as notified, not notified,
// pending, due or stopped, from the outbox, the alert's state and now.
func TestEscalationOf(t *testing.T) {
	p := route.Plan{Steps: []route.Step{
		{After: 0, Groups: []string{"oncall"}, Targets: []string{"oncall/sms"}},
		{After: 10 * time.Minute, Groups: []string{"managers"}, Targets: []string{"managers/voice"}},
		{After: 30 * time.Minute, Groups: []string{"execs"}, Targets: []string{"execs/email"}},
	}}
	a := alert.Alert{Detected: alertsBase, State: alert.StateFiring}
	sent := func(targets ...string) []store.Delivery {
		var ds []store.Delivery
		for _, tg := range targets {
			ds = append(ds, store.Delivery{Target: tg, Status: store.StatusFiring})
		}
		return append(ds, store.Delivery{Target: "execs/email", Status: store.StatusResolved})
	}
	for _, tt := range []struct {
		name    string
		state   string
		ds      []store.Delivery
		now     time.Duration
		want    string
		summary string
	}{
		{"just notified", alert.StateFiring, sent("oncall/sms"), time.Minute, "notified pending pending", "next managers 03:01Z"},
		{"second step due", alert.StateFiring, sent("oncall/sms"), 10 * time.Minute, "notified due pending", "due now"},
		{"escalated once", alert.StateFiring, sent("oncall/sms", "managers/voice"), 11 * time.Minute, "notified notified pending", "next execs 03:21Z"},
		{"all", alert.StateFiring, sent("oncall/sms", "managers/voice", "execs/email"), time.Hour, "notified notified notified", "done"},
		{"acknowledged", alert.StateAcknowledged, sent("oncall/sms", "managers/voice"), time.Hour, "notified notified stopped", "stopped"},
		// Muted (or stored without notifying): serve never escalates it,
		// so no step reads as pending or due.
		{"never notified", alert.StateFiring, nil, time.Minute, "not notified never never", "none (not notified)"},
		{"never notified, an hour on", alert.StateFiring, nil, time.Hour, "not notified never never", "none (not notified)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a.State = tt.state
			steps := escalationOf(a, p, tt.ds, alertsBase.Add(tt.now))
			var got []string
			for _, s := range steps {
				got = append(got, s.State)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("states %q, want %q", got, tt.want)
			}
			if s := escalationSummary(steps); s != tt.summary {
				t.Errorf("summary %q, want %q", s, tt.summary)
			}
		})
	}
	if s := escalationSummary(escalationOf(a, route.Plan{Steps: p.Steps[:1]}, nil, alertsBase)); s != "-" {
		t.Errorf("one step: %q", s)
	}
}

func TestDeliveredDetail(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"HTTP 500 from receiver", "earlier attempt failed: HTTP 500 from receiver"},
		{notify.RateLimitReason + "1 SMS per 5m to +4712345678; coalesced, next at 03:05:00 UTC",
			"held by a rate limit, then sent coalesced with the alerts that waited (" + notify.RateLimitReason + "1 SMS per 5m to +4712345678; coalesced, next at 03:05:00 UTC)"},
	} {
		if got := deliveredDetail(c.in); got != c.want {
			t.Errorf("deliveredDetail(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
