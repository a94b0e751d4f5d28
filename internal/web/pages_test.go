package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/config"
	"breakglass/internal/drill"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/entra"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kqlrule"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
	"breakglass/internal/web"
)

// now is the fixture's clock (newFixture: base + 1h).
var now = base.Add(time.Hour)

// pageOptions gives the fixture's API what the rules and drills pages
// read: two rules (one scheduled, evaluated and fired; one filter), a
// catalog over the store with one real sign-in record, and the drill
// status of a 90-day interval.
func pageOptions(t *testing.T, st *sqlite.Store, o *api.Options) {
	t.Helper()
	ctx := context.Background()
	a := storetest.Alert("si-1", "kql.failures", base.Add(5*time.Minute))
	a.Title = "Failed sign-ins of a break-glass account"
	a.State = alert.StateResolved // not one of the board's firing alerts
	raw := `{"Type":"SigninLogs","TimeGenerated":"2026-11-30T03:05:00Z","Id":"si-1","UserPrincipalName":"bg1@contoso.example","IPAddress":"203.0.113.9","ResultType":"50126"}`
	if _, err := st.AddAlert(ctx, a, storetest.Evidence(a, []byte(raw))); err != nil {
		t.Fatal(err)
	}
	end := base.Add(10 * time.Minute)
	if err := st.SetCondition(ctx, store.Condition{Rule: kqlrule.StateRule, Key: "kql.failures", Since: end, Updated: end,
		Data: []byte(`{"last":"` + end.Format(time.RFC3339) + `"}`)}); err != nil {
		t.Fatal(err)
	}
	o.Rules = []kqlrule.Info{
		{Name: "failures", ID: "kql.failures", Kind: "scheduled", Description: "Many failed sign-ins of one break-glass account.",
			Query: "SigninLogs\n| where ResultType != \"0\"\n| summarize Failures = count() by UserPrincipalName", Tables: []string{"SigninLogs"},
			Frequency: "10m", Period: "1h", Threshold: "Failures > 5", Severity: 1, Dimensions: []string{"UserPrincipalName"}, Literals: []string{}},
		{Name: "bg-signin", ID: "kql.bg-signin", Kind: "filter", Query: "SigninLogs | where UserPrincipalName =~ 'bg1@contoso.example'",
			Tables: []string{"SigninLogs"}, Threshold: "rows > 0", Severity: 0, Literals: []string{"bg1@contoso.example"}},
	}
	o.RuleState = func(ctx context.Context, id string) (time.Time, time.Time, error) {
		return kqlrule.LastEvaluated(ctx, st, id)
	}
	o.Catalog = tables.NewEvidence(st)
	o.DrillStatus = func(ctx context.Context) ([]drill.AccountStatus, error) {
		return drill.Evaluator{Bounds: config.DrillConfig{Interval: 90 * 24 * time.Hour, RemindBefore: 7 * 24 * time.Hour}}.Status(ctx, st, o.Accounts, now)
	}
}

func TestRulesPage(t *testing.T) {
	f := newFixture(t)
	status, body, _ := f.do(t, "GET", "/rules", api.RoleViewer, nil)
	if status != 200 {
		t.Fatalf("GET /rules: %d\n%s", status, body)
	}
	for _, w := range []string{"failures", "every 10m over the records read in the last 1h", "Failures &gt; 5, per UserPrincipalName",
		"window ending 2026-11-30 03:10:00 UTC", "2026-11-30 03:06:30 UTC", // last evaluation, last firing (detected)
		"on every record as it arrives", "each record, as it arrives", "<code>bg1@contoso.example</code>", "Sev0 critical",
		`<label for="query">KQL query</label>`, `aria-current="page">Rules`} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /rules lacks %q", w)
		}
	}
	if n := strings.Count(body, `name="csrf_token" value="`+csrf+`"`); n != 3 {
		t.Errorf("%d forms with the CSRF token, want 3 (the box and one per rule)", n)
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   []string
	}{
		{"a result table", url.Values{"csrf_token": {csrf}, "query": {"SigninLogs | where IPAddress == '203.0.113.9' | project IPAddress, UserPrincipalName"}},
			200, []string{"1 row in", `<th scope="col">IPAddress<br><span class="muted">string</span></th>`, "<td>203.0.113.9</td><td>bg1@contoso.example</td>", `SigninLogs | where IPAddress == &#39;203.0.113.9&#39;`}},
		{"cut at the row limit", url.Values{"csrf_token": {csrf}, "query": {"range x from 1 to 3 step 1"}, "max_rows": {"1"}},
			200, []string{"1 row in", "CUT", "only the first 1 are shown"}},
		{"an error at its place", url.Values{"csrf_token": {csrf}, "query": {"SigninLogs\n| where Nope == 1"}},
			400, []string{"ERROR", "query:2:9:", "At line 2, column 9"}},
		{"unsupported", url.Values{"csrf_token": {csrf}, "query": {"SigninLogs | make-series count() on TimeGenerated step 1h"}},
			422, []string{"NOT SUPPORTED"}},
		{"bad row limit", url.Values{"csrf_token": {csrf}, "query": {"SigninLogs"}, "max_rows": {"lots"}},
			400, []string{"is not a number"}},
		{"row limit too high", url.Values{"csrf_token": {csrf}, "query": {"SigninLogs"}, "max_rows": {"20000"}},
			400, []string{"max_rows: 20000 is not a number from 1 to 10000"}},
		{"hostile text is escaped", url.Values{"csrf_token": {csrf}, "query": {"print x = '<script>alert(1)</script>'"}},
			200, []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := f.do(t, "POST", "/rules/query", api.RoleViewer, tt.form)
			if status != tt.status {
				t.Fatalf("%d, want %d\n%s", status, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q\n%s", w, body)
				}
			}
			if strings.Contains(body, "<script>alert(1)") {
				t.Error("the query or its result was not escaped")
			}
		})
	}
	// Without the CSRF token nothing runs.
	if status, _, _ := f.do(t, "POST", "/rules/query", api.RoleViewer, url.Values{"query": {"SigninLogs"}}); status != 403 {
		t.Errorf("a query without the CSRF token: %d, want 403", status)
	}
	if status, _, _ := f.do(t, "POST", "/rules/query", "", url.Values{"csrf_token": {csrf}, "query": {"SigninLogs"}}); status != 401 {
		t.Errorf("a query without a session: %d, want 401", status)
	}
}

func TestDrillsPage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := storetest.Drill("drill-7", "11111111-1111-1111-1111-111111111111", base.Add(3*24*time.Hour))
	if err := f.st.AddDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	status, body, _ := f.do(t, "GET", "/drills", api.RoleViewer, nil)
	if status != 200 {
		t.Fatalf("GET /drills: %d\n%s", status, body)
	}
	for _, w := range []string{"OVERDUE</span> never drilled: due now", "<caption>November 2026</caption>", "<caption>January 2027</caption>",
		"drill-7: planned, 2026-12-03 03:00:00 UTC", "planned by alice"} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /drills lacks %q", w)
		}
	}
	for _, it := range drill.Checklist {
		if !strings.Contains(body, "<code>"+it.ID+"</code>") {
			t.Errorf("the checklist lacks %s", it.ID)
		}
	}
	// Today (30 November) carries the overdue mark; 3 December the planned drill.
	today := regexp.MustCompile(`<td class="today[^"]*"><span class="d">30</span> <span class="t">today</span><span class="ev overdue">late</span>`)
	if !today.MatchString(body) {
		t.Error("today's cell lacks the overdue mark")
	}
	for _, w := range []string{`<span class="d">3</span><span class="ev planned">plan</span>`,
		`<li><strong>Mon 30 Nov 2026</strong> (today): <span class="ev overdue">overdue</span> Break glass 1</li>`,
		`<li><strong>Thu 3 Dec 2026</strong>: <span class="ev planned">planned</span> Break glass 1</li>`} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /drills lacks %q", w)
		}
	}
	// The board says a drill is due.
	if _, body, _ := f.do(t, "GET", "/", api.RoleViewer, nil); !strings.Contains(body, "DRILL DUE</span> now") {
		t.Error("the status board does not say a drill is due")
	}
}

// TestDrillsPageDueLater: after a passed drill the next is due an
// interval later: on its day in the calendar, not overdue.
func TestDrillsPageDueLater(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := storetest.Drill("drill-ok", "11111111-1111-1111-1111-111111111111", base.Add(-80*24*time.Hour))
	d.State, d.Result, d.Finished = store.DrillFinished, store.DrillPassed, base.Add(-80*24*time.Hour+time.Hour)
	if err := f.st.AddDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	_, body, _ := f.do(t, "GET", "/drills", api.RoleViewer, nil)
	// Finished 11 September 04:00; due 90 days later: 10 December.
	for _, w := range []string{"OK</span> due Thu 10 Dec 2026 (in 10 days)", `<span class="d">10</span><span class="ev due">due</span>`, `<strong>Thu 10 Dec 2026</strong>: <span class="ev due">due</span> Break glass 1`} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /drills lacks %q", w)
		}
	}
	if strings.Contains(body, "ev overdue") {
		t.Error("an account drilled 80 days ago is marked overdue")
	}
	if _, body, _ := f.do(t, "GET", "/", api.RoleViewer, nil); !strings.Contains(body, "next drill due 2026-12-10") {
		t.Error("the status board does not say when the next drill is due")
	}
}

// TestDrillsPageEarlyDue: a key change the schedule recorded brings the
// next drill forward, as serve reminds: due soon, with the reason.
func TestDrillsPageEarlyDue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := storetest.Drill("drill-ok", "11111111-1111-1111-1111-111111111111", base.Add(-80*24*time.Hour))
	d.State, d.Result, d.Finished = store.DrillFinished, store.DrillPassed, base.Add(-80*24*time.Hour+time.Hour)
	if err := f.st.AddDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	since := base.Add(-2 * 24 * time.Hour)
	data, _ := json.Marshal(schedule.Early{Since: since, Kind: schedule.KindRole, Reason: "Global Administrator added: jane@contoso.example", EventID: "audit-1"})
	if err := f.st.SetCondition(ctx, store.Condition{Rule: schedule.ConditionDue, Key: "11111111-1111-1111-1111-111111111111", Since: since, Updated: base, Data: data}); err != nil {
		t.Fatal(err)
	}
	_, body, _ := f.do(t, "GET", "/drills", api.RoleViewer, nil)
	// The change two days ago plus remind_before (7 days): 5 December.
	for _, w := range []string{"DUE SOON</span> Sat 5 Dec 2026 (in ", "early: Global Administrator added: jane@contoso.example, Sat 28 Nov 2026"} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /drills lacks %q", w)
		}
	}
}

// TestDrillsWithoutStatus: a server that does not know drill.interval
// says so instead of an empty calendar.
func TestDrillsWithoutStatus(t *testing.T) {
	f := newFixture(t)
	w, err := web.New(web.Options{API: api.New(api.Options{Store: f.st}), Guard: roleGuard})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/drills", nil)
	req.Header.Set("X-Role", api.RoleViewer)
	w.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "does not know drill.interval") || strings.Contains(rec.Body.String(), `class="cal"`) {
		t.Errorf("%d\n%s", rec.Code, rec.Body.String())
	}
}

// TestDrillStatusFailure: a drill status that cannot be worked out is
// said on the board and the drills page, which still show the rest;
// it is never shown as "not due".
func TestDrillStatusFailure(t *testing.T) {
	f := newFixture(t)
	a := api.New(api.Options{Store: f.st, Accounts: []entra.Account{{ID: "11111111-1111-1111-1111-111111111111", UPN: "bg1@contoso.example", Name: "Break glass 1"}},
		DrillStatus: func(context.Context) ([]drill.AccountStatus, error) {
			return nil, errors.New("drill d1: stored report: unexpected end of JSON")
		}})
	w, err := web.New(web.Options{API: a, Guard: roleGuard})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		"/":       {"DRILL DUE UNKNOWN", "could not be worked out", "Break glass 1"},
		"/drills": {"could not be worked out", "<code>" + drill.ItemPeopleTrained + "</code>"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Role", api.RoleViewer)
		w.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Errorf("GET %s: %d", path, rec.Code)
		}
		for _, s := range want {
			if !strings.Contains(rec.Body.String(), s) {
				t.Errorf("GET %s lacks %q", path, s)
			}
		}
		if strings.Contains(rec.Body.String(), "unexpected end of JSON") {
			t.Errorf("GET %s shows the internal error", path)
		}
	}
}
