package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/entra"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kql/value"
	"breakglass/internal/kqlrule"
	"breakglass/internal/store"
	"breakglass/internal/store/storetest"
)

// signIn is a sign-in record as the store keeps it with its alert.
func signIn(id, upn, ip string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"Type":"SigninLogs","TimeGenerated":%q,"Id":%q,"UserPrincipalName":%q,"IPAddress":%q,"ResultType":"0"}`,
		at.Format(time.RFC3339), id, upn, ip))
}

// queryServer is the fixture's store behind an API with the query
// catalog, the accounts watchlist and two rules.
func queryServer(t *testing.T, f *fixture, cat eval.Catalog) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		a := storetest.Alert(fmt.Sprintf("si-%d", i), "bg.signin", base.Add(time.Duration(i)*time.Minute))
		raw := signIn(fmt.Sprintf("si-%d", i), "bg1@contoso.example", fmt.Sprintf("203.0.113.%d", i), a.EventTime)
		if _, err := f.st.AddAlert(ctx, a, storetest.Evidence(a, raw)); err != nil {
			t.Fatal(err)
		}
	}
	acct := entra.Account{ID: "11111111-1111-1111-1111-111111111111", UPN: "bg1@contoso.example", Name: "BG 1"}
	if cat == nil {
		cat = tables.NewEvidence(f.st)
	}
	h := api.New(api.Options{Store: f.st, Guard: tokenGuard, Catalog: cat,
		Watchlists: map[string]*eval.Table{"breakGlassAccounts": kqlrule.AccountsTable([]entra.Account{acct})},
		Rules: []kqlrule.Info{
			{Name: "sched", ID: "kql.sched", Kind: "scheduled", Query: "SigninLogs | summarize count()", Frequency: "5m", Period: "5m", Threshold: "rows > 0", Severity: 2, Tables: []string{"SigninLogs"}, Literals: []string{}},
			{Name: "filt", ID: "kql.filt", Kind: "filter", Query: "SigninLogs | where UserPrincipalName == 'bg1@contoso.example'", Threshold: "rows > 0", Severity: 1, Tables: []string{"SigninLogs"}, Literals: []string{"bg1@contoso.example"}},
			{Name: "broken", ID: "kql.broken", Kind: "scheduled", Query: "SigninLogs", Frequency: "5m", Period: "5m", Threshold: "rows > 0", Tables: []string{"SigninLogs"}, Literals: []string{}},
		},
		RuleState: func(ctx context.Context, id string) (time.Time, time.Time, error) {
			return kqlrule.LastEvaluated(ctx, f.st, id)
		},
		Now: func() time.Time { return base.Add(time.Hour) }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST %s: Content-Type %q", url, ct)
	}
	return resp.StatusCode, b
}

func TestQuery(t *testing.T) {
	f := newFixture(t)
	srv := queryServer(t, f, nil)
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := []struct {
		name   string
		body   string
		status int
		want   []string
		// the error's code, field, line and col (status != 200)
		code, field string
		line, col   int
	}{
		{name: "rows in column order", body: `{"query": "SigninLogs | where IPAddress startswith '203.0.113.' | project IPAddress, UserPrincipalName, TimeGenerated | sort by IPAddress asc"}`, status: 200,
			want: []string{`"name":"IPAddress"`, `"type":"string"`, `{"IPAddress":"203.0.113.0","UserPrincipalName":"bg1@contoso.example","TimeGenerated":"2026-11-30T03:00:00Z"}`, `"truncated":false`, `"max_rows":1000`}},
		{name: "summarize", body: `{"query": "SigninLogs | summarize n = count()"}`, status: 200, want: []string{`{"n":5}`, `"type":"long"`}},
		{name: "watchlist", body: `{"query": ` + q("let bg = _GetWatchlist('breakGlassAccounts') | project UserPrincipalName;\nSigninLogs | where UserPrincipalName in~ (bg) | count") + `}`, status: 200, want: []string{`{"Count":5}`}},
		{name: "warns of tables it does not have", body: `{"query": "union isfuzzy=true SigninLogs, CommonSecurityLog | count"}`, status: 200,
			want: []string{`{"Count":5}`, `"warnings":["the query reads tables breakglass does not have (CommonSecurityLog)`}},
		{name: "warns of locations without a database", body: `{"query": "SigninLogs | take 1 | project g = geo_info_from_ip_address(IPAddress)"}`, status: 200,
			want: []string{`{"g":null}`, `kql.geoip_database is not set`}},
		{name: "row limit", body: `{"query": "SigninLogs", "max_rows": 2}`, status: 200, want: []string{`"truncated":true`, `"max_rows":2`}},
		{name: "syntax error at line:col", body: `{"query": ` + q("SigninLogs\n| where ") + `}`, status: 400, code: "bad_query", field: "query", line: 2},
		{name: "unknown column", body: `{"query": ` + q("\n\nSigninLogs | where Nope == 1") + `}`, status: 400, code: "bad_query", field: "query", line: 3, col: 20},
		{name: "unknown table", body: `{"query": "Nowhere | take 1"}`, status: 400, code: "bad_query", field: "query", line: 1, col: 1},
		{name: "unsupported", body: `{"query": "SigninLogs | make-series count() on TimeGenerated step 1h"}`, status: 422, code: "unsupported", field: "query", line: 1},
		{name: "two queries", body: `{"query": ` + q("SigninLogs\n\nAuditLogs") + `}`, status: 400, code: "bad_query", field: "query", line: 3, col: 1},
		{name: "empty", body: `{"query": "  "}`, status: 400, code: "bad_query", field: "query"},
		{name: "no body", body: ``, status: 400, code: "bad_query", field: "query"},
		{name: "bad timeout", body: `{"query": "SigninLogs", "timeout": "2m"}`, status: 400, code: "bad_request", field: "timeout"},
		{name: "zero timeout", body: `{"query": "SigninLogs", "timeout": "0s"}`, status: 400, code: "bad_request", field: "timeout"},
		{name: "too many rows", body: `{"query": "SigninLogs", "max_rows": 10001}`, status: 400, code: "bad_request", field: "max_rows"},
		{name: "unknown field", body: `{"query": "SigninLogs", "limit": 3}`, status: 400, code: "bad_request", field: "limit"},
		{name: "not JSON", body: `{"query": `, status: 400, code: "bad_request", field: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, srv.URL+"/api/v1/query", api.RoleViewer, tt.body)
			if status != tt.status {
				t.Fatalf("%d, want %d\n%s", status, tt.status, body)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, body); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, body)
			}
			body = compact.Bytes()
			for _, w := range tt.want {
				if !bytes.Contains(body, []byte(w)) {
					t.Errorf("body lacks %s\n%s", w, body)
				}
			}
			if status == 200 {
				var res api.QueryResult
				if err := json.Unmarshal(body, &res); err != nil {
					t.Fatal(err)
				}
				for _, r := range res.Rows {
					if !json.Valid(r) {
						t.Errorf("a row is not JSON: %s", r)
					}
				}
				return
			}
			var e api.ErrorBody
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" {
				t.Fatalf("not the documented error shape: %s", body)
			}
			if e.Error.Code != tt.code || e.Error.Field != tt.field || (tt.line != 0 && e.Error.Line != tt.line) || (tt.col != 0 && e.Error.Col != tt.col) {
				t.Errorf("error %+v, want code %s field %s at %d:%d", e.Error, tt.code, tt.field, tt.line, tt.col)
			}
			if tt.line != 0 && !strings.HasPrefix(e.Error.Message, fmt.Sprintf("query:%d:", tt.line)) {
				t.Errorf("message %q does not start with its place", e.Error.Message)
			}
		})
	}
	// The viewer role is the least; no credentials, none.
	if status, body := post(t, srv.URL+"/api/v1/query", "", `{"query": "SigninLogs"}`); status != 401 {
		t.Errorf("no credentials: %d %s", status, body)
	}
}

// slowCatalog is a table that never ends until its context does; each
// scan says on started that it began.
type slowCatalog struct{ started chan struct{} }

func (slowCatalog) Schema(table string) ([]value.Column, bool) { return tables.Schema(table) }
func (c slowCatalog) Scan(ctx context.Context, table string, fn func([]value.Value) error) error {
	select {
	case c.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestQueryLimits: a query that runs past its timeout is stopped and
// answered 504 timeout; while two run, a third is refused (503), not
// queued behind them.
func TestQueryLimits(t *testing.T) {
	f := newFixture(t)
	slow := slowCatalog{started: make(chan struct{}, 4)}
	srv := queryServer(t, f, slow)
	start := time.Now()
	status, body := post(t, srv.URL+"/api/v1/query", api.RoleViewer, `{"query": "SigninLogs | take 1", "timeout": "200ms"}`)
	if status != 504 || !bytes.Contains(body, []byte(`"code": "timeout"`)) {
		t.Errorf("a slow query: %d %s, want 504 timeout", status, body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a 200ms query took %v to be stopped", took)
	}
	<-slow.started
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			post(t, srv.URL+"/api/v1/query", api.RoleViewer, `{"query": "SigninLogs", "timeout": "5s"}`)
		}()
	}
	// Both hold their slots once their scans began: a third is refused.
	for i := 0; i < 2; i++ {
		select {
		case <-slow.started:
		case <-time.After(5 * time.Second):
			t.Fatal("the two queries did not start")
		}
	}
	status, body = post(t, srv.URL+"/api/v1/query", api.RoleViewer, `{"query": "SigninLogs", "timeout": "1s"}`)
	if status != 503 || !bytes.Contains(body, []byte(`"code": "unavailable"`)) {
		t.Errorf("a third query while two ran: %d %s, want 503 unavailable", status, body)
	}
	wg.Wait()
}

// brokenCatalog fails as a store that cannot be read does.
type brokenCatalog struct{}

func (brokenCatalog) Schema(table string) ([]value.Column, bool) { return tables.Schema(table) }
func (brokenCatalog) Scan(context.Context, string, func([]value.Value) error) error {
	return errors.New("sqlite: /var/lib/breakglass/secret-path.db: disk I/O error")
}

// TestQueryStoreFailure: a store that cannot be read is the server's
// failure (500 internal), said without the store's internals, not the
// query's fault.
func TestQueryStoreFailure(t *testing.T) {
	f := newFixture(t)
	srv := queryServer(t, f, brokenCatalog{})
	status, body := post(t, srv.URL+"/api/v1/query", api.RoleViewer, `{"query": "SigninLogs | take 5"}`)
	if status != 500 || !bytes.Contains(body, []byte(`"code": "internal"`)) || bytes.Contains(body, []byte("secret-path")) {
		t.Errorf("%d %s, want 500 internal without the store's path", status, body)
	}
	// The engine's own stop (take's early end) is not a store failure.
	srv = queryServer(t, f, nil)
	if status, body := post(t, srv.URL+"/api/v1/query", api.RoleViewer, `{"query": "SigninLogs | take 1"}`); status != 200 {
		t.Errorf("take 1: %d %s", status, body)
	}
}

// TestRulesRoute: each rule with its last evaluation (scheduled rules,
// from the scheduler's state in the store), last firing (its newest
// alert) and its configuration.
func TestRulesRoute(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	end := base.Add(10 * time.Minute)
	if err := f.st.SetCondition(ctx, store.Condition{Rule: kqlrule.StateRule, Key: "kql.sched", Since: end, Updated: end.Add(2 * time.Second),
		Data: []byte(`{"last":"` + end.Format(time.RFC3339) + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetCondition(ctx, store.Condition{Rule: kqlrule.StateRule, Key: "kql.broken", Since: end, Updated: end, Data: []byte(`{bad`)}); err != nil {
		t.Fatal(err)
	}
	a := storetest.Alert("w-1", "kql.sched", end)
	if _, err := f.st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{}`))); err != nil {
		t.Fatal(err)
	}
	srv := queryServer(t, f, nil)
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/rules", nil)
	req.Header.Set("Authorization", "Bearer viewer")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.RuleList
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if len(out.Rules) != 3 {
		t.Fatalf("%d rules, want 3: %+v", len(out.Rules), out.Rules)
	}
	s, fl, br := out.Rules[0], out.Rules[1], out.Rules[2]
	if s.LastEvaluation == nil || !s.LastEvaluation.Equal(end) || s.LastEvaluatedAt == nil || !s.LastEvaluatedAt.Equal(end.Add(2*time.Second)) {
		t.Errorf("scheduled rule: last evaluation %v at %v, want %v", s.LastEvaluation, s.LastEvaluatedAt, end)
	}
	if s.LastFiring == nil || s.LastAlert != a.ID || s.Frequency != "5m" || s.Query == "" || s.Severity != 2 {
		t.Errorf("scheduled rule: %+v", s)
	}
	if fl.LastEvaluation != nil || fl.LastFiring != nil || fl.Kind != "filter" || len(fl.Literals) != 1 {
		t.Errorf("filter rule never fired: %+v", fl)
	}
	if br.StateError == "" || br.LastEvaluation != nil || strings.Contains(br.StateError, "bad") {
		t.Errorf("a rule whose state cannot be read: %+v (want a state_error without internals, no evaluation)", br)
	}
}
