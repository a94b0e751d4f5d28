package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/drill"
	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

var base = time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)

// tokenGuard is a stand-in for auth.Service.Require with the real role
// order: a bearer token names its role; a role admits its routes and
// those of lesser roles.
func tokenGuard(need string, h http.Handler) http.Handler {
	rank := map[string]int{api.RoleViewer: 1, api.RoleResponder: 2, api.RoleAdmin: 3}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case rank[role] == 0:
			api.WriteError(w, http.StatusUnauthorized, api.CodeUnauthorized, "sign in or send a token")
		case rank[role] < rank[need]:
			api.WriteError(w, http.StatusForbidden, api.CodeForbidden, "needs "+need)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

type fixture struct {
	st  *sqlite.Store
	srv *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acct := entra.Account{ID: "11111111-1111-1111-1111-111111111111", UPN: "bg1@contoso.example", Name: "BG 1"}
	for i := 0; i < 3; i++ {
		a := storetest.Alert(fmt.Sprintf("evt-%d", i), "bg.signin", base.Add(time.Duration(i)*time.Minute))
		a.AccountID, a.AccountUPN = acct.ID, acct.UPN
		a.Severity = alert.Severity(i)
		if _, err := st.AddAlertNotify(ctx, a, storetest.Evidence(a, []byte(`{"id":"x"}`)), []string{"mail"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.AttachAlert(ctx, a, strings.ToLower(acct.ID), store.IncidentAccount, time.Hour, a.Detected); err != nil {
			t.Fatal(err)
		}
	}
	d := storetest.Drill("drill-1", acct.ID, base.Add(-time.Hour))
	if err := st.AddDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Options{Store: st, Accounts: []entra.Account{acct}, Guard: tokenGuard,
		VerifyIncident: func(context.Context, string) (bool, []string, error) { return true, nil, nil }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{st: st, srv: srv}
}

func (f *fixture) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
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
		t.Errorf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	return resp.StatusCode, b
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alerts, _ := f.st.Alerts(ctx, store.AlertFilter{})
	incs, _ := f.st.Incidents(ctx, store.IncidentFilter{})
	if len(alerts) != 3 || len(incs) != 1 {
		t.Fatalf("fixture: %d alerts, %d incidents", len(alerts), len(incs))
	}
	tests := []struct {
		path   string
		status int
		want   []string // substrings of the body
	}{
		{"/api/v1/openapi.json", 200, []string{`"openapi": "3.1.0"`}},
		{"/api/v1/accounts", 200, []string{`"account_upn": "bg1@contoso.example"`, `"open_incidents": [`, incs[0].ID, `"id": "drill-1"`}},
		{"/api/v1/posture", 200, []string{`"report": null`}},
		{"/api/v1/alerts", 200, []string{`"evt-0"`, `"evt-2"`, `"next": ""`}},
		{"/api/v1/alerts?severity=1", 200, []string{`"evt-1"`}},
		{"/api/v1/alerts?until=" + base.Add(time.Minute).Format(time.RFC3339), 200, []string{`"evt-0"`}},
		{"/api/v1/alerts/" + alerts[0].ID, 200, []string{`"history": [`, alerts[0].ID}},
		{"/api/v1/alerts/" + alerts[0].ID + "/deliveries", 200, []string{`"target": "mail"`, `"state": "pending"`}},
		{"/api/v1/alerts/nope/deliveries", 404, []string{`"code": "not_found"`}},
		{"/api/v1/deadletters", 200, []string{`"deliveries": []`}},
		{"/api/v1/incidents", 200, []string{incs[0].ID}},
		{"/api/v1/incidents?state=open", 200, []string{incs[0].ID}},
		{"/api/v1/incidents/" + incs[0].ID, 200, []string{`"verified": "ok"`, `"timeline": [`, `"evidence": [`}},
		{"/api/v1/incidents/nope", 404, []string{`"code": "not_found"`, `incident \"nope\" not found`}},
		{"/api/v1/drills", 200, []string{`"drill-1"`}},
		{"/api/v1/drills/drill-1", 200, []string{`"window_from"`}},
		{"/api/v1/drills/nope", 404, []string{`"code": "not_found"`}},
		// Bad input: the field at fault, with the stable code.
		{"/api/v1/alerts?severity=9", 400, []string{`"code": "bad_request"`, `"field": "severity"`}},
		{"/api/v1/alerts?since=yesterday", 400, []string{`"field": "since"`}},
		{"/api/v1/alerts?limit=0", 400, []string{`"field": "limit"`}},
		{"/api/v1/alerts?limit=501", 400, []string{`"field": "limit"`}},
		{"/api/v1/alerts?state=asleep", 400, []string{`"field": "state"`}},
		{"/api/v1/alerts?label=novalue", 400, []string{`"field": "label"`}},
		{"/api/v1/alerts?cursor=forged", 400, []string{`"code": "invalid_cursor"`}},
		{"/api/v1/incidents?state=maybe", 400, []string{`"field": "state"`}},
		{"/api/v1/nothing-here", 404, []string{`"code": "not_found"`}},
	}
	for _, tt := range tests {
		status, body := f.get(t, tt.path, api.RoleViewer)
		if status != tt.status {
			t.Errorf("GET %s: %d, want %d\n%s", tt.path, status, tt.status, body)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("GET %s: body lacks %s\n%s", tt.path, w, body)
			}
		}
		if status != 200 {
			var e api.ErrorBody
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Errorf("GET %s: error not in the documented shape: %s", tt.path, body)
			}
		}
	}
	// Filters narrow: severity 1 is evt-1 only; until before minute 1 is evt-0 only.
	_, body := f.get(t, "/api/v1/alerts?severity=1", api.RoleViewer)
	if strings.Contains(string(body), `"evt-0"`) || strings.Contains(string(body), `"evt-2"`) {
		t.Errorf("severity=1 returned other severities:\n%s", body)
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	for _, rt := range api.Routes() {
		if rt.Method != "GET" || strings.Contains(rt.Path, "{") {
			continue
		}
		status, body := f.get(t, rt.Path, "")
		if rt.Role == "" {
			if status != 200 {
				t.Errorf("GET %s without credentials: %d, want 200 (public)", rt.Path, status)
			}
			continue
		}
		if status != 401 || !strings.Contains(string(body), `"code": "unauthorized"`) {
			t.Errorf("GET %s without credentials: %d %s, want 401 unauthorized", rt.Path, status, body)
		}
	}
	// No authorizer configured: nothing but the document is served.
	h := api.New(api.Options{Store: f.st})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/alerts", nil))
	if rec.Code != 401 {
		t.Errorf("API without an authorizer served /alerts: %d", rec.Code)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("DELETE", f.srv.URL+"/api/v1/alerts", nil)
	req.Header.Set("Authorization", "Bearer admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.Contains(string(b), `"code": "method_not_allowed"`) {
		t.Errorf("DELETE /api/v1/alerts: %d %s", resp.StatusCode, b)
	}
}

// TestOpenAPIHasEveryRoute: every route the server answers is in the
// document, with its method, a 200 schema and an error schema; and the
// document names no route the server does not answer.
func TestOpenAPIHasEveryRoute(t *testing.T) {
	f := newFixture(t)
	_, body := f.get(t, "/api/v1/openapi.json", "")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	n := 0
	for _, rt := range api.Routes() {
		op, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s %s is served but not in openapi.json", rt.Method, rt.Path)
			continue
		}
		n++
		success := `"200"`
		if rt.Created {
			success = `"201"`
		}
		for _, w := range []string{success, `"default"`, `schemas/ErrorBody"`} {
			if !strings.Contains(string(op), w) {
				t.Errorf("%s %s: operation lacks %s", rt.Method, rt.Path, w)
			}
		}
		// The route is really served: a request to it is not the API's 404.
		path := strings.NewReplacer("{id}", "x").Replace(rt.Path)
		req := httptest.NewRequest(rt.Method, path, nil)
		req.Header.Set("Authorization", "Bearer admin")
		rec := httptest.NewRecorder()
		api.New(api.Options{Store: f.st, Guard: tokenGuard}).ServeHTTP(rec, req)
		if rec.Code == 404 && strings.Contains(rec.Body.String(), "no such API route") {
			t.Errorf("%s %s is documented but not served", rt.Method, rt.Path)
		}
	}
	count := 0
	for _, ops := range doc.Paths {
		count += len(ops)
	}
	if count != n {
		t.Errorf("openapi.json has %d operations, the route table %d", count, n)
	}
}

// TestPaginationStableUnderInserts pages through the alerts while another
// goroutine inserts new ones: every alert that existed when paging began
// is seen exactly once.
func TestPaginationStableUnderInserts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 3; i < 120; i++ {
		a := storetest.Alert(fmt.Sprintf("evt-%d", i), "bg.signin", base.Add(time.Duration(i)*time.Second))
		if _, err := f.st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{}`))); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := f.st.Alerts(ctx, store.AlertFilter{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Event times inside and around the paged range.
			a := storetest.Alert(fmt.Sprintf("new-%d", i), "bg.signin", base.Add(time.Duration(i%200)*time.Second+time.Millisecond))
			if _, err := f.st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{}`))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	seen := map[string]int{}
	cursor := ""
	for pages := 0; pages < 1000; pages++ {
		_, body := f.get(t, "/api/v1/alerts?limit=7&cursor="+cursor, api.RoleViewer)
		var page api.AlertList
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		for _, a := range page.Alerts {
			seen[a.ID]++
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	close(stop)
	wg.Wait()
	var missing, twice []string
	for _, a := range before {
		switch seen[a.ID] {
		case 0:
			missing = append(missing, a.EventID)
		case 1:
		default:
			twice = append(twice, a.EventID)
		}
	}
	for id, n := range seen {
		if n > 1 && !slices.Contains(twice, id) {
			twice = append(twice, id)
		}
	}
	if len(missing) > 0 || len(twice) > 0 {
		t.Errorf("paging under inserts: %d missing %v, %d seen twice %v", len(missing), missing, len(twice), twice)
	}
	t.Logf("%d alerts before paging; %d distinct seen", len(before), len(seen))
}

// TestIncidentDrillSuggested: an incident whose sign-in was a drill's
// carries the drill pre-classification (suggested) before a review; one
// without says nothing of it.
func TestIncidentDrillSuggested(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	incs, _ := f.st.Incidents(ctx, store.IncidentFilter{})
	id := incs[0].ID
	if _, body := f.get(t, "/api/v1/incidents/"+id, api.RoleViewer); strings.Contains(string(body), `"suggested"`) {
		t.Errorf("no drill, yet suggested:\n%s", body)
	}
	c := drill.Classification{SuggestedClass: store.ClassDrill, Drill: "drill-1", Account: "bg1@contoso.example", PlannedBy: "alice", AlertID: incs[0].Alerts[0],
		At: base, Confirm: "breakglass incidents review " + id + " --as drill --by NAME --note TEXT"}
	b, _ := json.Marshal(c)
	if _, _, err := f.st.AppendLogOnce(ctx, store.LogEntry{Incident: id, Kind: drill.LogKind, Ref: c.Drill, At: base, Content: b}); err != nil {
		t.Fatal(err)
	}
	status, body := f.get(t, "/api/v1/incidents/"+id, api.RoleViewer)
	var d struct {
		Suggested   *drill.Classification `json:"suggested"`
		NotTheDrill []string              `json:"not_the_drill"`
	}
	if err := json.Unmarshal(body, &d); status != 200 || err != nil || d.Suggested == nil || d.Suggested.Drill != "drill-1" || len(d.NotTheDrill) != 2 ||
		slices.Contains(d.NotTheDrill, incs[0].Alerts[0]) ||
		d.Suggested.SuggestedClass != "drill" || !strings.Contains(d.Suggested.Confirm, "--as drill") {
		t.Errorf("GET incident: %d %v %+v\n%s", status, err, d.Suggested, body)
	}
}
