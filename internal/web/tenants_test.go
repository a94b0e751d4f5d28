package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/entra"
	"breakglass/internal/posture"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
	"breakglass/internal/web"
)

// TestTenantPages: the alerts, incidents and posture pages offer a tenant filter and
// follow it; a user limited to tenant A (X-Tenants in this test) sees A's
// alerts and incidents only, B's pages are 404 and B's alert cannot be
// acknowledged, and the query form is refused.
func TestTenantPages(t *testing.T) {
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
	}{{accA, ta}, {accB, tb}} {
		a := storetest.Alert("evt-"+c.tenant, "bg.signin", base.Add(time.Duration(i)*time.Minute))
		a.AccountID, a.AccountUPN = c.acc.ID, c.acc.UPN
		a.Title = "Sign-in of tenant " + c.tenant
		a.Labels = map[string]string{alert.LabelTenant: c.tenant}
		if _, err := st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{"id":"x"}`))); err != nil {
			t.Fatal(err)
		}
		inc, _, err := st.AttachAlert(ctx, a, strings.ToLower(c.acc.ID), store.IncidentAccount, time.Hour, a.Detected)
		if err != nil {
			t.Fatal(err)
		}
		ids["alert "+c.tenant], ids["incident "+c.tenant] = a.ID, inc.ID
	}
	owner := map[string]string{strings.ToLower(accA.ID): ta, strings.ToLower(accB.ID): tb}
	a := api.New(api.Options{Store: st, Accounts: []entra.Account{accA, accB}, Guard: roleGuard,
		Tenants: []string{ta, tb}, TenantNames: map[string]string{ta: "contoso", tb: "fabrikam"},
		AccountTenant: func(id, upn string) string { return owner[strings.ToLower(id)] },
		Posture: func(context.Context) ([]api.TenantReport, error) {
			var out []api.TenantReport
			for _, tn := range []string{tb, ta} {
				out = append(out, api.TenantReport{Tenant: tn, Report: &posture.Report{Tenant: posture.TenantInfo{ID: tn}, Generated: base,
					Source: "audit of " + tn, Results: []posture.Result{{Check: "cloud-only", Title: "check of " + tn, Status: posture.StatusFail}}}})
			}
			return out, nil
		},
		Scope: func(r *http.Request) []string {
			if v := r.Header.Get("X-Tenants"); v != "" {
				return strings.Split(v, ",")
			}
			return nil
		}})
	acked := 0
	w, err := web.New(web.Options{API: a, Guard: roleGuard,
		Principal: func(r *http.Request) (string, string, string) { return "dana", r.Header.Get("X-Role"), csrf },
		Ack:       func(context.Context, string, string, string) (bool, error) { acked++; return true, nil },
		Review: func(context.Context, string, string, string, string, map[string]string) ([]string, error) {
			acked++
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	do := func(method, path, scope string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.Header.Set("X-Role", api.RoleResponder)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if scope != "" {
			req.Header.Set("X-Tenants", scope)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		path, scope   string
		want, notWant []string
	}{
		{"/alerts", "", []string{"tenant " + ta, "tenant " + tb, `href="/alerts?tenant=` + tb + `"`, ">fabrikam<"}, nil},
		{"/alerts?tenant=" + tb, "", []string{"tenant " + tb, `hx-get="/alerts/rows?tenant=` + tb + `"`}, []string{"tenant " + ta}},
		{"/alerts/rows?tenant=" + ta, "", []string{"tenant " + ta}, []string{"tenant " + tb}},
		{"/alerts", ta, []string{"tenant " + ta}, []string{"tenant " + tb, ">fabrikam<"}},
		{"/incidents?tenant=" + ta, "", []string{ids["incident "+ta]}, []string{ids["incident "+tb]}},
		{"/incidents", tb, []string{ids["incident "+tb]}, []string{ids["incident "+ta]}},
		{"/", ta, []string{accA.UPN}, []string{accB.UPN}},
		{"/posture", "", []string{"audit of " + ta, "audit of " + tb, `href="/posture?tenant=` + ta + `"`, "<h2>contoso</h2>"}, nil},
		{"/posture?tenant=" + tb, "", []string{"audit of " + tb, "<h2>fabrikam</h2>"}, []string{"audit of " + ta}},
		{"/posture", ta, []string{"audit of " + ta}, []string{"audit of " + tb, ">fabrikam<"}},
		{"/posture?tenant=" + tb, ta, []string{"No audit has run yet for this tenant"}, []string{"audit of " + tb}},
	} {
		code, body := do("GET", tt.path, tt.scope, nil)
		if code != 200 {
			t.Errorf("GET %s (scope %q) = %d", tt.path, tt.scope, code)
			continue
		}
		for _, s := range tt.want {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s (scope %q): no %q", tt.path, tt.scope, s)
			}
		}
		for _, s := range tt.notWant {
			if strings.Contains(body, s) {
				t.Errorf("GET %s (scope %q): shows %q", tt.path, tt.scope, s)
			}
		}
	}
	for _, tt := range []struct {
		method, path string
		form         url.Values
		want         int
	}{
		{"GET", "/alerts/" + ids["alert "+tb], nil, 404},
		{"GET", "/alerts/" + ids["alert "+ta], nil, 200},
		{"GET", "/incidents/" + ids["incident "+tb], nil, 404},
		{"POST", "/alerts/" + ids["alert "+tb] + "/ack", url.Values{"csrf_token": {csrf}}, 404},
		{"POST", "/incidents/" + ids["incident "+tb] + "/review", url.Values{"csrf_token": {csrf}, "class": {"drill"}}, 404},
		{"POST", "/rules/query", url.Values{"csrf_token": {csrf}, "query": {"SigninLogs"}}, 403},
	} {
		if code, body := do(tt.method, tt.path, ta, tt.form); code != tt.want {
			t.Errorf("%s %s limited to A = %d, want %d: %.200s", tt.method, tt.path, code, tt.want, body)
		}
	}
	if acked != 0 {
		t.Errorf("B's alert or incident was acknowledged or reviewed by a user limited to A")
	}
}
