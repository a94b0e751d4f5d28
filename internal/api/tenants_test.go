package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

// TestTenantFilterAndScope: ?tenant= filters every list, and a caller
// limited to tenant A (X-Test-Tenants in this test's guard) sees only A's
// alerts, incidents, drills and accounts, gets 404 for B's items (reads and
// writes alike) and 403 for queries.
func TestTenantFilterAndScope(t *testing.T) {
	const ta, tb = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	accA := entra.Account{ID: "aaaaaaaa-1111-4111-8111-111111111111", UPN: "bg@a.example"}
	accB := entra.Account{ID: "bbbbbbbb-2222-4222-8222-222222222222", UPN: "bg@b.example"}
	ids := map[string]string{}
	for i, c := range []struct {
		acc    entra.Account
		tenant string
	}{{accA, ta}, {accB, tb}, {accA, ta}} {
		a := storetest.Alert("evt-"+string(rune('a'+i)), "bg.signin", base.Add(time.Duration(i)*time.Minute))
		a.AccountID, a.AccountUPN = c.acc.ID, c.acc.UPN
		a.Labels = map[string]string{alert.LabelTenant: c.tenant}
		if _, err := st.AddAlertNotify(ctx, a, storetest.Evidence(a, []byte(`{"id":"x"}`)), []string{"mail"}); err != nil {
			t.Fatal(err)
		}
		inc, _, err := st.AttachAlert(ctx, a, strings.ToLower(c.acc.ID), store.IncidentAccount, time.Hour, a.Detected)
		if err != nil {
			t.Fatal(err)
		}
		ids["alert "+c.tenant] = a.ID
		ids["incident "+c.tenant] = inc.ID
	}
	for _, d := range []store.Drill{storetest.Drill("drill-a", accA.ID, base.Add(-time.Hour)), storetest.Drill("drill-b", accB.ID, base.Add(-2*time.Hour))} {
		if err := st.AddDrill(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	owner := map[string]string{strings.ToLower(accA.ID): ta, strings.ToLower(accB.ID): tb}
	h := api.New(api.Options{Store: st, Accounts: []entra.Account{accA, accB}, Guard: tokenGuard,
		Tenants:       []string{ta, tb},
		AccountTenant: func(id, upn string) string { return owner[strings.ToLower(id)] },
		Scope: func(r *http.Request) []string {
			if v := r.Header.Get("X-Test-Tenants"); v != "" {
				return strings.Split(v, ",")
			}
			return nil
		}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	call := func(method, path, scope string, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+api.RoleAdmin)
		if scope != "" {
			req.Header.Set("X-Test-Tenants", scope)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	count := func(body, key string) int {
		var m map[string]json.RawMessage
		var items []json.RawMessage
		if err := json.Unmarshal([]byte(body), &m); err != nil || json.Unmarshal(m[key], &items) != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return len(items)
	}
	for _, tt := range []struct {
		path, scope, key string
		want             int
	}{
		{"/api/v1/alerts", "", "alerts", 3},
		{"/api/v1/alerts?tenant=" + ta, "", "alerts", 2},
		{"/api/v1/alerts?tenant=" + strings.ToUpper(tb), "", "alerts", 1},
		{"/api/v1/alerts", ta, "alerts", 2},
		{"/api/v1/alerts?tenant=" + tb, ta, "alerts", 0},
		{"/api/v1/alerts", ta + "," + tb, "alerts", 3},
		{"/api/v1/incidents?tenant=" + tb, "", "incidents", 1},
		{"/api/v1/incidents", ta, "incidents", 1},
		{"/api/v1/drills?tenant=" + tb, "", "drills", 1},
		{"/api/v1/drills", tb, "drills", 1},
		{"/api/v1/accounts?tenant=" + ta, "", "accounts", 1},
		{"/api/v1/accounts", tb, "accounts", 1},
	} {
		code, body := call("GET", tt.path, tt.scope, "")
		if code != 200 {
			t.Errorf("GET %s (scope %q) = %d %s", tt.path, tt.scope, code, body)
			continue
		}
		if n := count(body, tt.key); n != tt.want {
			t.Errorf("GET %s (scope %q): %d %s, want %d", tt.path, tt.scope, n, tt.key, tt.want)
		}
	}
	if code, body := call("GET", "/api/v1/alerts?tenant=contoso", "", ""); code != 400 || !strings.Contains(body, "not a configured tenant id") {
		t.Errorf("unknown tenant: %d %s", code, body)
	}
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/v1/alerts/" + ids["alert "+tb], "", 404},
		{"GET", "/api/v1/alerts/" + ids["alert "+ta], "", 200},
		{"GET", "/api/v1/alerts/" + ids["alert "+tb] + "/deliveries", "", 404},
		{"GET", "/api/v1/incidents/" + ids["incident "+tb], "", 404},
		{"GET", "/api/v1/incidents/" + ids["incident "+ta], "", 200},
		{"GET", "/api/v1/drills/drill-b", "", 404},
		{"GET", "/api/v1/drills/drill-a", "", 200},
		{"POST", "/api/v1/alerts/" + ids["alert "+tb] + "/ack", "{}", 404},
		{"POST", "/api/v1/incidents/" + ids["incident "+tb] + "/close", "{}", 404},
		{"POST", "/api/v1/drills/drill-b/start", "", 404},
		{"POST", "/api/v1/drills", `{"account":"` + accB.ID + `"}`, 404},
		{"POST", "/api/v1/query", `{"query":"SigninLogs"}`, 403},
	} {
		if code, body := call(tt.method, tt.path, ta, tt.body); code != tt.want {
			t.Errorf("%s %s limited to A = %d, want %d: %s", tt.method, tt.path, code, tt.want, body)
		}
	}
	// The OpenAPI document shows the parameter.
	if _, body := call("GET", "/api/v1/openapi.json", "", ""); !strings.Contains(strings.ReplaceAll(body, " ", ""), `"name":"tenant"`) {
		t.Errorf("openapi has no tenant parameter")
	}
}
