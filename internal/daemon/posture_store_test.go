package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/auth"
	"breakglass/internal/posture"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// sourcedAuditor returns a passing report that names who audited.
type sourcedAuditor struct{ source string }

func (a sourcedAuditor) Audit(context.Context) (*posture.Report, error) {
	return &posture.Report{Source: a.source, Generated: time.Now().UTC(), Results: []posture.Result{{Check: "cloud-only",
		Status: posture.StatusFail, AccountID: bgID, AccountUPN: bgUPN, Message: "onPremisesSyncEnabled is true"}}}, nil
}

// TestPostureFromAnyReplica: two replicas share one SQLite store; the one
// holding the scheduler lease audits, and the stand-by's API serves that
// report (its own auditor never ran); after both stop, a restarted
// replica that has not audited yet shows it too.
func TestPostureFromAnyReplica(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "bg.db")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddToken(ctx, store.Token{Name: "viewer", Role: "viewer", Hash: hash, Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	storeYAML := "store:\n  path: " + db + "\n"
	getPosture := func(r *running) api.Posture {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+r.d.Addr().String()+"/api/v1/posture", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var p api.Posture
		if resp.StatusCode != 200 || json.Unmarshal(body, &p) != nil {
			t.Fatalf("GET /api/v1/posture = %d %s", resp.StatusCode, body)
		}
		return p
	}
	o := func(source string, delay time.Duration) Options {
		return Options{Auditor: sourcedAuditor{source}, AuditDelay: delay, AuditInterval: time.Hour, LeaseTTL: leadTTL, KeepLeases: true}
	}
	leader := start(t, replicaConfig(t, t.TempDir(), storeYAML), o("leader", 10*time.Millisecond))
	waitFor(t, 10*time.Second, "the leader's audit stored", func() bool {
		reps, err := leader.d.st.PostureReports(ctx)
		return err == nil && len(reps) == 1
	}, leader.logs.String)
	if !leader.d.lead.el.Held() {
		t.Fatal("the replica that audited does not hold the scheduler lease")
	}
	standby := start(t, replicaConfig(t, t.TempDir(), storeYAML), o("standby", 10*time.Millisecond))
	p := getPosture(standby)
	if p.Report == nil || p.Report.Source != "leader" || len(p.Report.Results) != 1 || p.Report.Results[0].Status != posture.StatusFail {
		t.Fatalf("stand-by's posture = %+v, want the leader's report", p.Report)
	}
	if len(p.Reports) != 1 || p.Reports[0].Tenant != "" {
		t.Errorf("stand-by's reports = %+v, want one of tenant \"\"", p.Reports)
	}
	if standby.d.lead.el.Held() {
		t.Error("the stand-by holds the scheduler lease")
	}
	standby.stop(t)
	leader.stop(t)
	restarted := start(t, replicaConfig(t, t.TempDir(), storeYAML), o("restarted", time.Hour))
	if p := getPosture(restarted); p.Report == nil || p.Report.Source != "leader" {
		t.Fatalf("restarted replica's posture = %+v, want the stored report", p.Report)
	}
}

// TestPostureTwoTenants: with tenants:, each tenant's scheduled audit
// stores its own report under its id (A's Graph fails, so A has none: the
// dashboard says no audit rather than show B's as A's), and a token
// limited to A sees none of B's while one limited to B sees B's.
func TestPostureTwoTenants(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rcv := newReceiver(t)
	ga, gb := twoTenantGraphs(t)
	cfg := tenantsConfig(t, e, rcv, ga.URL, gb.URL)
	st, err := sqlite.Open(ctx, cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	toks := map[string]string{}
	for name, tenants := range map[string][]string{"a": {tenantA}, "b": {tenantB}} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddToken(ctx, store.Token{Name: "viewer-" + name, Role: "viewer", Hash: hash, Tenants: tenants,
			Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		toks[name] = tok
	}
	st.Close()
	r := start(t, cfg, Options{AuditDelay: 10 * time.Millisecond, AuditInterval: time.Hour, GroupRefresh: time.Hour})
	waitFor(t, 15*time.Second, "B's report stored", func() bool {
		reps, err := r.d.st.PostureReports(ctx)
		return err == nil && len(reps) == 1
	}, r.logs.String)
	reps, err := r.d.st.PostureReports(ctx)
	if err != nil || len(reps) != 1 || reps[0].Tenant != tenantB {
		t.Fatalf("stored reports = %+v, %v; want B's only", reps, err)
	}
	get := func(tok, path string) api.Posture {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+r.d.Addr().String()+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var p api.Posture
		if resp.StatusCode != 200 || json.Unmarshal(body, &p) != nil {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		return p
	}
	if p := get(toks["a"], "/api/v1/posture"); p.Report != nil || len(p.Reports) != 0 {
		t.Errorf("A's token sees %+v, want no report", p)
	}
	if p := get(toks["b"], "/api/v1/posture"); p.Report == nil || len(p.Reports) != 1 || p.Reports[0].Tenant != tenantB {
		t.Errorf("B's token sees %+v, want B's report", p)
	}
	if p := get(toks["b"], "/api/v1/posture?tenant="+tenantA); p.Report != nil {
		t.Errorf("B's token asking for A sees %+v, want none", p.Report)
	}
}

// TestPostureUndecodable: a stored report that does not decode is an
// error naming its tenant (the API answers 500), never "no audit yet".
func TestPostureUndecodable(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	r := start(t, e.config(t, ""), Options{})
	if reps, err := r.d.postureReports(ctx); err != nil || len(reps) != 0 {
		t.Fatalf("before any audit: %v, %v; want none", reps, err)
	}
	if err := r.d.st.SetPostureReport(ctx, "", time.Now(), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	r.d.posture.clear() // as if the cache had run out
	if _, err := r.d.postureReports(ctx); err == nil || !strings.Contains(err.Error(), `tenant ""`) {
		t.Errorf("undecodable report: err %v, want one naming the tenant", err)
	}
}
