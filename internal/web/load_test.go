package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
	"breakglass/internal/web"
)

// TestDashboardLoad measures page and API response times (p50, p99) on a
// store with 100,000 alerts and 1,000 incidents. It takes a while to fill
// the store, so it runs only with BREAKGLASS_BENCH_DASHBOARD=1 (make bench).
func TestDashboardLoad(t *testing.T) {
	if os.Getenv("BREAKGLASS_BENCH_DASHBOARD") == "" {
		t.Skip("set BREAKGLASS_BENCH_DASHBOARD=1 (make bench runs it)")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const nAlerts, nIncidents = 100_000, 1_000
	var accts []entra.Account
	for i := 0; i < 10; i++ {
		accts = append(accts, entra.Account{ID: fmt.Sprintf("%08d-1111-1111-1111-111111111111", i), UPN: fmt.Sprintf("bg%d@contoso.example", i)})
	}
	start := time.Now()
	var batch []store.AlertWithEvidence
	for i := 0; i < nAlerts; i++ {
		a := storetest.Alert(fmt.Sprintf("evt-%06d", i), "bg.signin", base.Add(-time.Duration(nAlerts-i)*time.Minute))
		acct := accts[i%len(accts)]
		a.AccountID, a.AccountUPN = acct.ID, acct.UPN
		batch = append(batch, store.AlertWithEvidence{Alert: a, Evidence: storetest.Evidence(a, []byte(`{"id":"`+a.EventID+`"}`))})
		if len(batch) == 1000 {
			if _, err := st.AddAlertsNotify(ctx, batch, []string{"mail"}); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// 1,000 incidents: one alert in every 100 opens one (a gap of a
	// minute keeps them apart).
	all, err := st.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nIncidents; i++ {
		a := all[i*(len(all)/nIncidents)]
		if _, _, err := st.AttachAlert(ctx, a, strings.ToLower(a.AccountID), store.IncidentAccount, time.Minute, a.Detected); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("filled the store with %d alerts and %d incidents in %v", nAlerts, nIncidents, time.Since(start).Round(time.Second))
	incs, _ := st.Incidents(ctx, store.IncidentFilter{Limit: 1})
	allow := func(_ string, h http.Handler) http.Handler { return h }
	ao := api.Options{Store: st, Accounts: accts, Guard: allow}
	pageOptions(t, st, &ao) // the rules and drills pages' data (pages_test.go)
	a := api.New(ao)
	w, err := web.New(web.Options{API: a, Guard: allow, Principal: func(*http.Request) (string, string, string) { return "bench", "responder", "x" }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a)
	mux.Handle("/", w)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	paths := []string{"/", "/alerts", "/alerts/rows", "/incidents", "/incidents/" + incs[0].ID, "/deliveries", "/rules", "/drills", "/api/v1/rules",
		"/api/v1/accounts", "/api/v1/alerts", "/api/v1/alerts?limit=500", "/api/v1/alerts?account=" + accts[3].ID + "&severity=1",
		"/api/v1/incidents", "/api/v1/incidents/" + incs[0].ID, "/api/v1/alerts/" + all[500].ID + "/deliveries"}
	t.Logf("%-45s %8s %8s", "path", "p50", "p99")
	for _, p := range paths {
		var ds []time.Duration
		for i := 0; i < 100; i++ {
			t0 := time.Now()
			resp, err := http.Get(srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d", p, resp.StatusCode)
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		t.Logf("%-45s %8v %8v", short(p), ds[49].Round(10*time.Microsecond), ds[98].Round(10*time.Microsecond))
	}
	// The query endpoint reads every evidence record: a handful of runs.
	for _, q := range []string{"SigninLogs | take 10", "SigninLogs | count"} {
		var ds []time.Duration
		var body string
		for i := 0; i < 10; i++ {
			t0 := time.Now()
			resp, err := http.Post(srv.URL+"/api/v1/query", "application/json", strings.NewReader(`{"query": "`+q+`", "timeout": "60s"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("POST /api/v1/query %s: %d %s", q, resp.StatusCode, b)
			}
			body = string(b)
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		t.Logf("%-45s %8v %8v (median, max of 10) %s", short("POST query "+q), ds[4].Round(time.Millisecond), ds[9].Round(time.Millisecond), short(strings.Join(strings.Fields(body), "")))
	}
}

func short(s string) string {
	if len(s) > 45 {
		return s[:44] + "…"
	}
	return s
}
