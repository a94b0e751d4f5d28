package detect

import (
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

func TestRegistry(t *testing.T) {
	want := map[string]alert.Severity{
		RuleSignIn: alert.Sev0, RuleActivity: alert.Sev0, RuleChange: alert.Sev1, RuleUnparsed: alert.Sev1,
		RuleSilence: alert.Sev1, RuleSource: alert.Sev1, RuleNotify: alert.Sev1, RulePosture: alert.Sev1,
	}
	for id, sev := range want {
		m, ok := Lookup(id)
		if !ok || m.Severity != sev || m.Title == "" || m.Description == "" {
			t.Errorf("Lookup(%q) = %+v, %v", id, m, ok)
		}
	}
	all := All()
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Fatalf("All not sorted: %v", all)
		}
	}
	if len(all) < len(want) {
		t.Errorf("All() = %d rules, want at least %d", len(all), len(want))
	}
	// Registering the same meta again is harmless; different meta under
	// a taken id is a programming error.
	Register(MustLookup(RuleSource))
	defer func() {
		if recover() == nil {
			t.Error("a conflicting registration did not panic")
		}
	}()
	Register(Meta{ID: RuleSource, Severity: alert.Sev3, Title: "other"})
}

func TestBuiltinsAreRules(t *testing.T) {
	accts := entra.NewAccountSet([]entra.Account{{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.onmicrosoft.com"}})
	rules := Builtins(accts)
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.Meta().ID)
		lits := r.Needs().Literals
		if len(lits) != 2 || len(r.Needs().Tables) != 0 { // id and UPN
			t.Errorf("%s needs %+v", r.Meta().ID, r.Needs())
		}
	}
	if strings.Join(ids, ",") != "bg.signin,bg.activity,bg.change,bg.graph_activity,bg.risk,bg.provisioning" { // + categories.go
		t.Errorf("built-ins %v", ids)
	}
	set := NewSet(rules...)
	if len(set.Literals()) != 2 || set.WantsTable("SigninLogs") {
		t.Errorf("set literals %v, wants SigninLogs %v", set.Literals(), set.WantsTable("SigninLogs"))
	}
}

// tableRule is the shape of a future KQL rule: it asks for every record of
// one table and reads columns by their Log Analytics names.
type tableRule struct {
	table string
	seen  *[]string
}

func (r tableRule) Meta() Meta   { return Meta{ID: "test.table", Severity: alert.Sev3, Title: "t"} }
func (r tableRule) Needs() Needs { return Needs{Tables: []string{r.table}} }
func (r tableRule) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	row := rec.Row()
	*r.seen = append(*r.seen, rec.Table+":"+row["UserPrincipalName"].(string))
	return dst
}

func TestSetTables(t *testing.T) {
	var seen []string
	set := NewSet(tableRule{"SigninLogs", &seen})
	if !set.WantsTable("SigninLogs") || set.WantsTable("AuditLogs") || len(set.Literals()) != 0 {
		t.Fatal("table needs not compiled")
	}
	ev := entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, UserPrincipalName: "alice@contoso.com", Time: time.Now()}
	set.Eval(nil, &Record{Event: &ev, Table: "SigninLogs"})
	if len(seen) != 1 || seen[0] != "SigninLogs:alice@contoso.com" {
		t.Errorf("seen %v", seen)
	}
	if !NewSet(tableRule{AllTables, &seen}).WantsTable("AnyTable") {
		t.Error(`"*" does not ask for every table`)
	}
}

func TestDegradedAlert(t *testing.T) {
	bg := entra.Account{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.onmicrosoft.com"}
	d := New(entra.NewAccountSet([]entra.Account{bg}))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d.now = func() time.Time { return now }
	ev := entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, ID: "s", UserPrincipalName: bg.UPN,
		TimeUnknown: true, Unreadable: []string{"userId: expected a string, got number 5", "createdDateTime: no timestamp"}}
	got := d.Detect(nil, &ev, "f:1")
	if len(got) != 1 {
		t.Fatalf("%d alerts", len(got))
	}
	a := got[0]
	if !a.EventTimeUnknown || !a.EventTime.Equal(now) || len(a.Unreadable) != 2 || a.Detected != now {
		t.Errorf("degraded alert %+v", a)
	}
	// Ambiguous identities (duplicate keys) are tried too.
	ev2 := entra.Event{Kind: entra.KindAudit, ID: "a", Time: now, Initiator: entra.Actor{UserID: "0a0a0a0a-1111-4222-8333-444455556666"},
		Ambiguous: []entra.AltIdentity{{Where: "initiator", Value: strings.ToUpper(bg.ID)}, {Where: "target", Value: "{" + bg.ID + "}"}}}
	got = d.Detect(nil, &ev2, "f:2")
	if len(got) != 2 || got[0].Rule != RuleActivity || got[1].Rule != RuleChange {
		t.Errorf("ambiguous identities: %+v", got)
	}
}
