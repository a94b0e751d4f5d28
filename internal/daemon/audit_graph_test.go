package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/collect/collecttest"
	"breakglass/internal/posture"
	"breakglass/internal/store"
)

// standInCloudOnly judges onPremisesSyncEnabled the way issue 8's
// cloud-only check does. The test registers it only while the real check
// (s3-engine's check_cloud-only.go) is not in this build, so the scheduled
// audit can be driven end to end either way; with the real check present
// it is not used.
type standInCloudOnly struct{}

func (standInCloudOnly) Info() posture.Info {
	return posture.Info{ID: "cloud-only", Title: "Cloud-only account", Severity: posture.SeverityCritical, PerAccount: true}
}

func (c standInCloudOnly) Run(env *posture.Env) []posture.Result {
	t := env.Tenant
	var out []posture.Result
	why, missing := t.Missing(collect.DatasetBreakGlassUsers)
	for i := range t.Accounts {
		a := &t.Accounts[i]
		switch u := t.Users[strings.ToLower(a.ID)]; {
		case missing:
			out = append(out, c.Info().Result(a, posture.StatusSkip, "%s", why))
		case !a.Resolved || u == nil:
			out = append(out, c.Info().Result(a, posture.StatusError, "account not resolved"))
		case u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled:
			r := c.Info().Result(a, posture.StatusFail, "onPremisesSyncEnabled is true: the account is synchronised from on-premises")
			r.Remediation.Summary = "Use a cloud-only account."
			out = append(out, r)
		default:
			out = append(out, c.Info().Result(a, posture.StatusPass, "cloud-only"))
		}
	}
	return out
}

// TestPostureDriftThroughGraph runs serve's scheduled audit for real
// (collect in memory from the fake Graph server, posture.Run, drift
// watch): flipping the account's onPremisesSyncEnabled between runs raises
// bg.posture naming cloud-only and the account within one interval, and
// flipping it back resolves it.
func TestPostureDriftThroughGraph(t *testing.T) {
	if _, ok := posture.Lookup("cloud-only"); !ok {
		posture.Register(standInCloudOnly{})
		t.Log("cloud-only is not registered in this build: using the test's stand-in")
	}
	// The compliant fixture tenant, served as Graph serves it; bg1's user
	// object is overridden per run.
	snap, err := collect.Load(filepath.Join("..", "posture", "testdata", "snapshots", "compliant"))
	if err != nil {
		t.Fatal(err)
	}
	gs := collecttest.Serve(t, snap, 0)
	users, _, err := snap.Items(collect.DatasetBreakGlassUsers)
	if err != nil || len(users) == 0 {
		t.Fatalf("fixture users: %v", err)
	}
	var bg1 map[string]any
	if err := json.Unmarshal(users[0], &bg1); err != nil {
		t.Fatal(err)
	}
	bg1ID, bg1UPN := bg1["id"].(string), bg1["userPrincipalName"].(string)
	user := func(synced bool) map[string]any {
		u := maps.Clone(bg1)
		u["onPremisesSyncEnabled"] = synced
		return u
	}
	gs.Object("/v1.0/users/"+bg1ID, user(false))

	e := newEnv(t)
	rcv := newReceiver(t)
	text := fmt.Sprintf("accounts:\n  - id: %s\n  - upn: bg2@contoso.onmicrosoft.com\nstore:\n  path: %s\nserver:\n  listen: %s\nlog:\n  level: debug\ngraph:\n  auth: access_token\n  base_url: %s\nnotify:\n  groups:\n    - name: g\n      channels:\n        - type: webhook\n          url: %s/h\n",
		bg1ID, e.db, e.listen, gs.URL, rcv.srv.URL)
	path := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BREAKGLASS_GRAPH_TOKEN", "test-token")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	const interval = 200 * time.Millisecond
	r := start(t, cfg, Options{AuditDelay: 10 * time.Millisecond, AuditInterval: interval})
	waitFor(t, 10*time.Second, "a first audit", func() bool { return strings.Contains(r.logs.String(), "scheduled posture audit done") }, r.logs.String)
	if n := rcv.rule("/h bg.posture firing"); n != 0 {
		t.Fatalf("bg.posture fired on a compliant first run")
	}
	// Let a second run pass too: every other check stays as it was, so
	// only cloud-only can drift below.
	time.Sleep(2 * interval)

	flipped := time.Now()
	gs.Object("/v1.0/users/"+bg1ID, user(true))
	waitFor(t, 10*time.Second, "bg.posture for cloud-only", func() bool { return rcv.rule("/h bg.posture firing") == 1 }, r.logs.String)
	// Within one interval, plus the run's own time (generous for a busy machine).
	// Only this drift: every other check saw the same tenant.
	if took := time.Since(flipped); took > 5*interval+2*time.Second {
		t.Errorf("drift seen after %s, interval %s", took, interval)
	}
	as, err := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: "bg.posture"})
	if err != nil || len(as) != 1 {
		t.Fatalf("%d bg.posture alerts, %v", len(as), err)
	}
	a := as[0]
	t.Logf("title: %s", a.Title)
	if a.Title != "Posture drift: cloud-only now fails for "+bg1UPN || a.Labels["check"] != "cloud-only" || a.Labels["account"] != bg1ID ||
		!strings.Contains(a.Annotations["message"], "onPremisesSyncEnabled") {
		t.Errorf("alert %+v", a)
	}

	gs.Object("/v1.0/users/"+bg1ID, user(false))
	waitFor(t, 10*time.Second, "bg.posture resolved", func() bool { return rcv.rule("/h bg.posture resolved") == 1 }, r.logs.String)
	if n := rcv.rule("/h bg.posture firing"); n != 1 {
		t.Errorf("bg.posture fired %d times for one drift", n)
	}
}
