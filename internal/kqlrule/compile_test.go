package kqlrule

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/tables"
	"breakglass/internal/logs"
)

func loadFixture(t *testing.T, name string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "config", "testdata", "good", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(name, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSeedQueriesAreFilterRules: the three queries of Microsoft's recipe,
// pasted verbatim, compile to per-record filter rules whose literals are
// the accounts they name; the summarize rule is scheduled.
func TestSeedQueriesAreFilterRules(t *testing.T) {
	cfg := loadFixture(t, "rules.yaml")
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id       string
		kind     Kind
		literals []string
	}{
		{"kql.bg-signin-id", KindFilter, []string{"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}},
		{"kql.bg-signin-ids", KindFilter, []string{"00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "11bb11bb-cc22-dd33-ee44-55ff55ff55ff"}},
		{"kql.bg-signin-upn", KindFilter, []string{"user@yourdomain.onmicrosoft.com"}},
		{"kql.Failures.By-App", KindScheduled, nil},
	}
	if len(rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(rules), len(want))
	}
	for i, w := range want {
		r := rules[i]
		lits := slices.Clone(r.Literals())
		for j := range lits {
			lits[j] = strings.ToLower(lits[j])
		}
		slices.Sort(lits)
		if r.ID != w.id || r.Kind != w.kind || !slices.Equal(lits, w.literals) {
			t.Errorf("rule %d = %s %s literals %q; want %s %s %q", i, r.ID, r.Kind, lits, w.id, w.kind, w.literals)
		}
		if !slices.Equal(r.Tables, []string{"SigninLogs"}) {
			t.Errorf("%s reads %v, want SigninLogs", r.ID, r.Tables)
		}
	}
}

// TestFilterRuleFires: a filter rule fires on a matching record of every
// shape as the scanner hands it over, with the rule's severity, labels
// and the projected row, and not on another account's.
func TestFilterRuleFires(t *testing.T) {
	cfg := loadFixture(t, "rules.yaml")
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	accounts := entra.NewAccountSet(cfg.Users())
	fr := NewFilterRule(rules[0], func() *entra.AccountSet { return accounts })
	mk := func(raw string) *detect.Record {
		var ev entra.Event
		cls := logs.Classify([]byte(raw))
		if err := logs.Decode([]byte(raw), cls, &ev); err != nil {
			t.Fatalf("decode: %v", err)
		}
		return &detect.Record{Event: &ev, Table: entra.TableOf(ev.Category), Raw: []byte(raw), Source: "f:1", Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	}
	la := `{"TimeGenerated":"2026-03-01T10:00:00Z","Category":"SignInLogs","OperationName":"Sign-in activity","Id":"s-1","UserId":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee","UserPrincipalName":"user@yourdomain.onmicrosoft.com","ResultType":"0","Type":"SigninLogs"}`
	diag := `{"time":"2026-03-01T10:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"s-2","userId":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee","userPrincipalName":"user@yourdomain.onmicrosoft.com","status":{"errorCode":0}}}`
	other := strings.ReplaceAll(la, "00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "99999999-bb11-cc22-dd33-44ee44ee44ee")
	for name, raw := range map[string]string{"log analytics": la, "diagnostic": diag} {
		got := fr.Eval(nil, mk(raw))
		if len(got) != 1 {
			t.Fatalf("%s: %d alerts, want 1", name, len(got))
		}
		a := got[0]
		if a.Rule != "kql.bg-signin-id" || a.Severity != 0 || a.Labels["team"] != "identity" || a.AccountID != "00aa00aa-bb11-cc22-dd33-44ee44ee44ee" {
			t.Errorf("%s: alert %+v", name, a)
		}
		if a.Annotations[AnnRows] != `[{"UserId":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}]` {
			t.Errorf("%s: rows = %s", name, a.Annotations[AnnRows])
		}
	}
	if got := fr.Eval(nil, mk(other)); len(got) != 0 {
		t.Errorf("fired on another account: %+v", got)
	}
}

// TestCompileErrorsPlaced: a dimension or measure that is not a result
// column, and an unknown column in the query, are config errors naming
// the rule's field and the file line.
func TestCompileErrorsPlaced(t *testing.T) {
	const doc = `accounts:
  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee
rules:
  - name: dims
    query: SigninLogs | summarize n = count() by UserPrincipalName
    dimensions: [AppDisplayName]
  - name: measure
    query: SigninLogs | summarize n = count() by UserPrincipalName
    threshold: {operator: ">", value: 1, column: UserPrincipalName}
  - name: unknown
    query: |
      SigninLogs
      | where NoSuchColumn == 1
`
	cfg, err := config.Parse("c.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(cfg)
	var list config.ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("Compile error = %v, want 3 config errors", err)
	}
	want := []string{
		`c.yaml:6: rules[0].dimensions[0]: "AppDisplayName" is not a column of the query's result`,
		`c.yaml:9: rules[1].threshold.column: "UserPrincipalName" is a string column; a measure must be a number`,
		`c.yaml:13: rules[2].query: query 2:9: `,
	}
	for i, w := range want {
		if !strings.HasPrefix(list[i].Error(), w) {
			t.Errorf("error %d = %q, want it to start %q", i, list[i].Error(), w)
		}
	}
}

// TestScheduledRealEngine: the summarize rule of the fixture, evaluated by
// the engine over a window of stored records.
func TestScheduledRealEngine(t *testing.T) {
	cfg := loadFixture(t, "rules.yaml")
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rules[3]
	h := newHarness(t, config.Rule{}, nil, nil)
	h.rule = r
	h.start()
	base := h.clk.Now()
	h.at(0)
	ingest := func(id, user, app, result string) {
		raw := `{"TimeGenerated":"2026-03-01T11:00:00Z","Category":"SignInLogs","OperationName":"Sign-in activity","Id":"` + id +
			`","UserId":"` + user + `","UserPrincipalName":"u@x","AppDisplayName":"` + app + `","ResultType":"` + result + `","Type":"SigninLogs"}`
		if err := h.s.Record(context.Background(), "SigninLogs", "t", []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	h.clk.Set(base.Add(time.Minute))
	for i := range 6 {
		ingest("a"+string(rune('0'+i)), "00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "Azure Portal", "50126")
	}
	ingest("b1", "00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "Azure Portal", "0")     // a success: not counted
	ingest("c1", "22222222-bb11-cc22-dd33-44ee44ee44ee", "Azure Portal", "50126") // not a break-glass account
	for m := 10; m <= 20; m += 10 {
		h.at(time.Duration(m)*time.Minute + time.Second)
	}
	// violations 2 of 3: the 12:10 and 12:20 evaluations both see 6 > 5.
	if len(h.raise.notified) != 1 {
		t.Fatalf("%d alerts, want 1", len(h.raise.notified))
	}
	a := h.raise.notified[0]
	if a.Annotations[AnnCondition] != "Failures 6 > 5" || a.Annotations[AnnDimensions] != "UserPrincipalName=u@x, AppDisplayName=Azure Portal" || a.Severity != 1 {
		t.Errorf("alert %q %q sev %v", a.Annotations[AnnCondition], a.Annotations[AnnDimensions], a.Severity)
	}
}

// TestHuntingPackWatchlist: Sentinel's break-glass hunting query (its
// window lines, which are template placeholders, left out) runs unchanged
// on _GetWatchlist('BreakGlassAccounts'), which returns accounts:.
func TestHuntingPackWatchlist(t *testing.T) {
	const doc = `accounts:
  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee
    upn: User@YourDomain.onmicrosoft.com
rules:
  - name: hunting-signin
    query: |
      let BreakGlassAccounts = (_GetWatchlist('BreakGlassAccounts') | project AccountUPN = tolower(tostring(AccountUPN)));
      SigninLogs
      | where tolower(UserPrincipalName) in (BreakGlassAccounts)
      | extend City = tostring(LocationDetails.city), Country = tostring(LocationDetails.countryOrRegion)
      | extend AccountName = tostring(split(UserPrincipalName, "@")[0]), AccountUPNSuffix = tostring(split(UserPrincipalName, "@")[1])
      | project TimeGenerated, UserPrincipalName, AccountName, AccountUPNSuffix, UserId, IPAddress, City, Country,
                AppDisplayName, ResourceDisplayName, ResultType, ResultDescription, ConditionalAccessStatus,
                AuthenticationRequirement, CorrelationId
      | sort by TimeGenerated desc
`
	cfg, err := config.Parse("c.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rules[0]
	if r.Kind != KindScheduled || r.Why != "" {
		t.Errorf("kind %s (%s): sort needs the whole window", r.Kind, r.Why)
	}
	m := tables.NewMemory()
	for _, raw := range []string{
		`{"TimeGenerated":"2026-03-01T10:00:00Z","Category":"SignInLogs","OperationName":"Sign-in activity","Id":"s-1","UserId":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee","UserPrincipalName":"user@yourdomain.onmicrosoft.com","LocationDetails":{"city":"Oslo","countryOrRegion":"NO"},"ResultType":"0","Type":"SigninLogs"}`,
		`{"TimeGenerated":"2026-03-01T10:01:00Z","Category":"SignInLogs","OperationName":"Sign-in activity","Id":"s-2","UserId":"99999999-bb11-cc22-dd33-44ee44ee44ee","UserPrincipalName":"other@yourdomain.onmicrosoft.com","ResultType":"0","Type":"SigninLogs"}`,
	} {
		if row := recordRow("SigninLogs", "t", []byte(raw), time.Now()); row != nil {
			if err := m.AddRow("SigninLogs", row); err != nil {
				t.Fatal(err)
			}
		}
	}
	fs, _, err := r.Test(context.Background(), m, time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Count != 1 || fs[0].Rows[0]["City"] != "Oslo" || fs[0].Rows[0]["AccountName"] != "user" {
		t.Fatalf("firings = %+v", fs)
	}
}
