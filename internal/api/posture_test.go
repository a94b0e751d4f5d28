package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/entra"
	"breakglass/internal/posture"
	"breakglass/internal/store/sqlite"
)

// TestPostureByTenant: the posture route serves each tenant's latest
// report: ?tenant= picks one, without it Report is the newest and
// Reports lists them all; a caller limited to tenant A sees only A's
// report (never B's, never one of no tenant), and each account's posture
// on /accounts comes from its own tenant's audit. A store that cannot be
// read is a 500, never "no audit yet".
func TestPostureByTenant(t *testing.T) {
	const ta, tb = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	accA := entra.Account{ID: "aaaaaaaa-1111-4111-8111-111111111111", UPN: "bg@a.example"}
	accB := entra.Account{ID: "bbbbbbbb-2222-4222-8222-222222222222", UPN: "bg@b.example"}
	report := func(tenant string, acc entra.Account, st posture.Status, at time.Time) *posture.Report {
		return &posture.Report{Tenant: posture.TenantInfo{ID: tenant}, Generated: at, Source: "audit of " + tenant,
			Results: []posture.Result{{Check: "cloud-only", Status: st, AccountID: acc.ID, AccountUPN: acc.UPN}}}
	}
	reps := []api.TenantReport{
		{Tenant: tb, Report: report(tb, accB, posture.StatusFail, base.Add(time.Hour))},
		{Tenant: ta, Report: report(ta, accA, posture.StatusPass, base)},
	}
	var readErr error
	owner := map[string]string{accA.ID: ta, accB.ID: tb}
	h := api.New(api.Options{Store: st, Accounts: []entra.Account{accA, accB}, Guard: tokenGuard,
		Tenants:     []string{ta, tb},
		TenantNames: map[string]string{ta: "Contoso A"},
		Posture: func(context.Context) ([]api.TenantReport, error) {
			return append([]api.TenantReport(nil), reps...), readErr
		},
		AccountTenant: func(id, upn string) string { return owner[id] },
		Scope: func(r *http.Request) []string {
			if v := r.Header.Get("X-Test-Tenants"); v != "" {
				return strings.Split(v, ",")
			}
			return nil
		}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path, scope string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+api.RoleViewer)
		if scope != "" {
			req.Header.Set("X-Test-Tenants", scope)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, []byte(b.String())
	}
	for _, tt := range []struct {
		name, path, scope string
		report            string // the Source of Report, "" for none
		reports           []string
	}{
		{"all", "/api/v1/posture", "", "audit of " + tb, []string{tb, ta}},
		{"tenant A", "/api/v1/posture?tenant=" + ta, "", "audit of " + ta, []string{ta}},
		{"tenant B upper-case", "/api/v1/posture?tenant=" + strings.ToUpper(tb), "", "audit of " + tb, []string{tb}},
		{"limited to A", "/api/v1/posture", ta, "audit of " + ta, []string{ta}},
		{"limited to A asks for B", "/api/v1/posture?tenant=" + tb, ta, "", []string{}},
		{"limited to both", "/api/v1/posture", ta + "," + tb, "audit of " + tb, []string{tb, ta}},
	} {
		code, body := get(tt.path, tt.scope)
		if code != 200 {
			t.Errorf("%s: GET %s = %d %s", tt.name, tt.path, code, body)
			continue
		}
		var p api.Posture
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s: %v: %s", tt.name, err, body)
		}
		got := ""
		if p.Report != nil {
			got = p.Report.Source
		}
		if got != tt.report {
			t.Errorf("%s: report %q, want %q", tt.name, got, tt.report)
		}
		var tenants []string
		for _, r := range p.Reports {
			tenants = append(tenants, r.Tenant)
		}
		if strings.Join(tenants, ",") != strings.Join(tt.reports, ",") {
			t.Errorf("%s: reports of %v, want %v", tt.name, tenants, tt.reports)
		}
		for _, r := range p.Reports {
			if want := map[string]string{ta: "Contoso A"}[r.Tenant]; r.Name != want {
				t.Errorf("%s: tenant %s named %q, want %q", tt.name, r.Tenant, r.Name, want)
			}
		}
	}
	if code, body := get("/api/v1/posture?tenant=contoso", ""); code != 400 {
		t.Errorf("unknown tenant: %d %s", code, body)
	}
	// A report of no tenant is never shown to a caller limited to tenants.
	reps = append(reps, api.TenantReport{Tenant: "", Report: report("", accA, posture.StatusFail, base.Add(2*time.Hour))})
	if _, body := get("/api/v1/posture", ta); strings.Contains(string(body), `"tenant": ""`) || !strings.Contains(string(body), "audit of "+ta) {
		t.Errorf("limited caller sees a report of no tenant: %s", body)
	}
	reps = reps[:2]
	// Each account carries its own tenant's results.
	code, body := get("/api/v1/accounts", "")
	var al api.AccountList
	if err := json.Unmarshal(body, &al); code != 200 || err != nil {
		t.Fatalf("accounts = %d %v %s", code, err, body)
	}
	for _, a := range al.Accounts {
		want := map[string]posture.Status{accA.ID: posture.StatusPass, accB.ID: posture.StatusFail}[a.AccountID]
		if len(a.Posture) != 1 || a.Posture[0].Status != want {
			t.Errorf("account %s posture %+v, want one %s result from its tenant's audit", a.AccountID, a.Posture, want)
		}
	}
	readErr = errors.New("disk I/O error")
	if code, body := get("/api/v1/posture", ""); code != 500 {
		t.Errorf("unreadable store: posture = %d %s, want 500", code, body)
	}
}
