package preserve

import (
	"context"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

const (
	bg    = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	bgUPN = "bg-admin1@contoso.onmicrosoft.com"
	ts    = "2026-07-18T06:30:12Z"
)

func diag(category, props string) string {
	return `{"time":"` + ts + `","category":"` + category + `","operationName":"x","properties":{` + props + `}}` + "\n"
}

func page(item string) string { return `{"value":[{` + item + `}]}` + "\n" }

// concernCases are records that concern the break-glass account, one per
// way a record can concern it: every sign-in kind (interactive or not,
// by id or only by UPN, success or failure, federated, from diagnostic
// settings and from Graph), audit events it initiated and audit events
// that target it (by id, only by UPN).
var concernCases = []struct {
	name, in, id, rule string
}{
	{"sign-in interactive (diagnostic settings)", diag("SignInLogs", `"id":"s-1","createdDateTime":"`+ts+`","userId":"`+bg+`","userPrincipalName":"`+bgUPN+`","status":{"errorCode":0}`), "s-1", "bg.signin"},
	{"sign-in non-interactive (diagnostic settings)", diag("NonInteractiveUserSignInLogs", `"id":"s-2","createdDateTime":"`+ts+`","userId":"`+bg+`","status":{"errorCode":0},"isInteractive":false`), "s-2", "bg.signin"},
	{"sign-in failed, UPN only", diag("SignInLogs", `"id":"s-3","createdDateTime":"`+ts+`","userPrincipalName":"`+strings.ToUpper(bgUPN)+`","status":{"errorCode":50126}`), "s-3", "bg.signin"},
	{"sign-in federated (AD FS)", diag("ADFSSignInLogs", `"id":"s-4","createdDateTime":"`+ts+`","userId":"`+bg+`","userPrincipalName":"`+bgUPN+`","status":{"errorCode":0},"tokenIssuerType":"ADFederationServices"`), "s-4", "bg.signin"},
	{"sign-in interactive (Graph v1.0)", page(`"id":"s-5","createdDateTime":"` + ts + `","userId":"` + bg + `","userPrincipalName":"` + bgUPN + `","isInteractive":true,"status":{"errorCode":0}`), "s-5", "bg.signin"},
	{"sign-in non-interactive (Graph beta)", page(`"id":"s-6","createdDateTime":"` + ts + `","userId":"` + bg + `","signInEventTypes":["nonInteractiveUser"],"isInteractive":false,"status":{"errorCode":0}`), "s-6", "bg.signin"},
	{"audit initiated by it (Graph)", page(`"id":"Directory_a1","category":"RoleManagement","activityDisplayName":"Add member to role","activityDateTime":"` + ts + `","result":"success","loggedByService":"Core Directory","initiatedBy":{"user":{"id":"` + bg + `","userPrincipalName":"` + bgUPN + `"}},"targetResources":[{"id":"9e9e9e9e-0000-4000-8000-000000000001","type":"User","userPrincipalName":"alice@contoso.com"}]`), "Directory_a1", "bg.activity"},
	{"audit initiated by it, UPN only (diagnostic settings)", diag("AuditLogs", `"id":"Directory_a2","activityDisplayName":"Update user","activityDateTime":"`+ts+`","result":"success","initiatedBy":{"user":{"userPrincipalName":"`+bgUPN+`"}},"targetResources":[{"id":"9e9e9e9e-0000-4000-8000-000000000002","type":"User"}]`), "Directory_a2", "bg.activity"},
	{"audit targeting it (Graph)", page(`"id":"Directory_a3","category":"UserManagement","activityDisplayName":"Reset user password","activityDateTime":"` + ts + `","result":"success","initiatedBy":{"user":{"id":"9e9e9e9e-0000-4000-8000-000000000003","userPrincipalName":"alice@contoso.com"}},"targetResources":[{"id":"` + bg + `","type":"User"}]`), "Directory_a3", "bg.change"},
	{"audit targeting it, UPN only (diagnostic settings)", diag("AuditLogs", `"id":"Directory_a4","activityDisplayName":"Add member to group","activityDateTime":"`+ts+`","result":"success","initiatedBy":{"user":{"id":"9e9e9e9e-0000-4000-8000-000000000004"}},"targetResources":[{"type":"User","userPrincipalName":"`+bgUPN+`"}]`), "Directory_a4", "bg.change"},
}

// mentionOnly is an audit event that names the account only inside a
// modified property: a Conditional Access policy now excluding it. It
// raises no alert.
var mentionOnly = page(`"id":"Directory_m1","category":"Policy","activityDisplayName":"Update conditional access policy","activityDateTime":"` + ts +
	`","result":"success","initiatedBy":{"user":{"id":"9e9e9e9e-0000-4000-8000-000000000005","userPrincipalName":"alice@contoso.com"}},` +
	`"targetResources":[{"id":"5ca00000-0000-4000-8000-000000000001","type":"Policy","displayName":"CA001","modifiedProperties":[{"displayName":"ConditionalAccessPolicy","oldValue":"{}","newValue":"{\"conditions\":{\"users\":{\"excludeUsers\":[\"` + bg + `\"]}}}"}]}]`)

func newPipeline(t *testing.T, st watch.Store) *watch.Pipeline {
	t.Helper()
	p := watch.New(watch.Options{Accounts: entra.NewAccountSet([]entra.Account{{ID: bg, UPN: bgUPN}}), Store: st, Route: watch.To("g/console")})
	t.Cleanup(func() { p.Close() })
	return p
}

// TestEveryConcerningRecordAlerts: each way a record can concern the
// account raises its alert, and the alert's raw record is kept byte for
// byte (which the incident builder appends to the incident). So these
// records reach the incident through their alerts, and the context window
// needs nothing more for them.
func TestEveryConcerningRecordAlerts(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	p := newPipeline(t, st)
	for _, tc := range concernCases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Ingest(ctx, "test", tc.name, strings.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			a, err := st.Alert(ctx, alert.Key(tc.id, tc.rule))
			if err != nil {
				t.Fatalf("no %s alert for %s: %v", tc.rule, tc.id, err)
			}
			if !strings.EqualFold(a.AccountID, bg) {
				t.Errorf("alert names %q/%q", a.AccountID, a.AccountUPN)
			}
			ev, err := st.Evidence(ctx, tc.id)
			if err != nil || !strings.Contains(string(ev.Raw), `"`+tc.id+`"`) {
				t.Errorf("raw record of %s: %q, %v", tc.id, ev.Raw, err)
			}
			// Nothing is left for the context scan: it keeps only what
			// raised no alert.
			recs, err := ScanContext(ctx, entra.NewAccountSet([]entra.Account{{ID: bg, UPN: bgUPN}}), tc.name, []byte(tc.in))
			if err != nil || len(recs) != 0 {
				t.Errorf("context scan found %d records (%v), want none: it alerted", len(recs), err)
			}
		})
	}
}

// TestMentionOnlyRecordKept: a record that names the account but raises
// no alert is found by the context scan and kept, once, in the account's
// open incident; with no open incident it is not kept anywhere and says
// so.
func TestMentionOnlyRecordKept(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	p := newPipeline(t, st)
	if _, err := p.Ingest(ctx, "test", "ca", strings.NewReader(mentionOnly)); err != nil {
		t.Fatal(err)
	}
	if as, _ := st.Alerts(ctx, store.AlertFilter{}); len(as) != 0 {
		t.Fatalf("the mention-only record alerted (%s): update concernCases and this test", as[0].Rule)
	}
	accts := entra.NewAccountSet([]entra.Account{{ID: bg, UPN: bgUPN}})
	recs, err := ScanContext(ctx, accts, "ca", []byte(mentionOnly))
	if err != nil || len(recs) != 1 || recs[0].EventID != "Directory_m1" || !strings.EqualFold(recs[0].Account.ID, bg) {
		t.Fatalf("context scan = %+v, %v", recs, err)
	}
	at := time.Date(2026, 7, 18, 7, 0, 0, 0, time.UTC)
	if kept, left, err := KeepContext(ctx, st, recs, at); err != nil || kept != 0 || len(left) != 1 {
		t.Fatalf("without an incident: kept %d left %d, %v", kept, len(left), err)
	}
	a := alert.Alert{ID: alert.Key("s-x", "bg.signin"), Rule: "bg.signin", AccountID: bg, AccountUPN: bgUPN, EventID: "s-x", EventTime: at, Category: "SignInLogs"}
	if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: "s-x", Raw: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := st.AttachAlert(ctx, a, bg, store.IncidentAccount, 2*time.Hour, at)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if kept, left, err := KeepContext(ctx, st, recs, at); err != nil || len(left) != 0 {
			t.Fatalf("kept %d left %d, %v", kept, len(left), err)
		}
	}
	es, _ := st.IncidentLog(ctx, inc.ID)
	n := 0
	for _, e := range es {
		if e.Ref == "Directory_m1" {
			n++
			if e.Kind != store.LogRecord || !strings.Contains(string(e.Content), "Update conditional access policy") {
				t.Errorf("entry %s %s: %s", e.Kind, e.Ref, e.Content)
			}
		}
	}
	if n != 1 {
		t.Errorf("the record is in the incident %d times, want once", n)
	}
}

// TestContextKeeperHolds: a context record seen before any incident of
// its account is open is held and goes into the incident that opens
// later (once, also when delivered again meanwhile); one held longer than
// the hold is given up and counted.
func TestContextKeeperHolds(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	accts := entra.NewAccountSet([]entra.Account{{ID: bg, UPN: bgUPN}})
	recs, err := ScanContext(ctx, accts, "ca", []byte(mentionOnly))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	c := &clock{t: time.Date(2026, 7, 18, 7, 0, 0, 0, time.UTC)}
	k := NewContextKeeper(st, 24*time.Hour, c.now)
	for range 2 {
		if n, err := k.Keep(ctx, recs); n != 0 || err != nil {
			t.Fatalf("kept %d, %v without an incident", n, err)
		}
	}
	if k.Pending() != 1 {
		t.Fatalf("holding %d, want 1", k.Pending())
	}
	c.add(20 * time.Hour)
	a := alert.Alert{ID: alert.Key("s-y", "bg.signin"), Rule: "bg.signin", AccountID: bg, EventID: "s-y", EventTime: c.now(), Category: "SignInLogs"}
	if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: "s-y", Raw: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := st.AttachAlert(ctx, a, bg, store.IncidentAccount, 2*time.Hour, c.now())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := k.Keep(ctx, nil); n != 1 || err != nil || k.Pending() != 0 {
		t.Fatalf("after the incident opened: kept %d, %v, holding %d", n, err, k.Pending())
	}
	if n, _ := k.Keep(ctx, recs); n != 0 {
		t.Errorf("kept the same record again")
	}
	es, _ := st.IncidentLog(ctx, inc.ID)
	n := 0
	for _, e := range es {
		if e.Ref == "Directory_m1" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("in the incident %d times", n)
	}

	// Another account's record with no incident, held past the hold.
	other := []ContextRecord{{Account: entra.Account{ID: "9e9e9e9e-0000-4000-8000-00000000ffff"}, EventID: "x", Raw: []byte(`{}`)}}
	k.Keep(ctx, other)
	c.add(25 * time.Hour)
	k.Keep(ctx, nil)
	if k.Pending() != 0 || k.Drops() != 1 {
		t.Errorf("holding %d, dropped %d; want 0 and 1", k.Pending(), k.Drops())
	}
}
