package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/preserve"
	"breakglass/internal/store"
)

// TestPreservePerTenant: with tenants:, an incident's Graph pull goes to
// the Graph of the tenant that lists its account (A's incident to A's
// server, B's to B's, neither to the other), and an incident of an account
// no tenant lists gets a pull entry saying why it was skipped, and no
// request anywhere.
func TestPreservePerTenant(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	ga, gb := twoTenantGraphs(t)
	cfg := tenantsConfig(t, e, rcv, ga.URL, gb.URL)
	t.Setenv(tokenEnA, "tenant-a-token") // A's Graph works here
	now := time.Now().UTC()
	signIn := func(id, user string) string {
		return fmt.Sprintf(`{"id":%q,"createdDateTime":%q,"userId":%q,"appDisplayName":"Azure Portal"}`, id, now.Add(-time.Hour).Format(time.RFC3339), user)
	}
	const recA, recB = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"
	serveSignIns := func(g *graphtest.Server, body string) {
		g.Handle("/v1.0/auditLogs/signIns", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"value":[%s]}`, body)
		})
		empty := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"value":[]}`)
		}
		g.Handle("/beta/auditLogs/signIns", empty)
		g.Handle("/v1.0/auditLogs/directoryAudits", empty)
	}
	serveSignIns(ga, signIn(recA, accA))
	serveSignIns(gb, signIn(recB, accB))

	r := start(t, cfg, Options{PreserveInterval: 50 * time.Millisecond, AuditDelay: time.Hour, AuditInterval: time.Hour, GroupRefresh: time.Hour})
	ctx := context.Background()
	const stranger = "c0000000-0000-4000-8000-00000000000c" // in no tenant
	incident := func(event, id, upn string) store.Incident {
		t.Helper()
		a := alert.Alert{ID: alert.Key(event, "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in (success)",
			AccountID: id, AccountUPN: upn, EventID: event, EventTime: now.Add(-time.Minute), Category: "SignInLogs", Detected: now}
		if _, err := r.d.st.AddAlert(ctx, a, store.Evidence{EventID: event, Category: "SignInLogs", Raw: []byte(`{"id":"` + event + `"}`)}); err != nil {
			t.Fatal(err)
		}
		r.d.wakeIncidents()
		var inc store.Incident
		var err error
		waitFor(t, 15*time.Second, "the incident of "+event, func() bool {
			inc, err = r.d.st.IncidentOf(ctx, a.ID)
			return err == nil
		}, r.logs.String)
		return inc
	}
	incA, incB, incX := incident("pA", accA, upnA), incident("pB", accB, upnB), incident("pX", stranger, "")
	logOf := func(inc store.Incident) map[string]store.LogEntry {
		es, _ := r.d.st.IncidentLog(ctx, inc.ID)
		m := map[string]store.LogEntry{}
		for _, e := range es {
			m[e.Kind+" "+e.Ref] = e
		}
		return m
	}
	for _, inc := range []store.Incident{incA, incB, incX} {
		waitFor(t, 15*time.Second, "the state entry and the pull at open of "+inc.AccountID, func() bool {
			m := logOf(inc)
			_, s := m[store.LogSnapshot+" "+preserve.RefState]
			_, p := m[store.LogIncident+" "+preserve.RefPullOpen]
			return s && p
		}, r.logs.String)
	}
	if _, ok := logOf(incA)[store.LogRecord+" "+recA]; !ok {
		t.Errorf("A's incident lacks the sign-in A's Graph returned")
	}
	if _, ok := logOf(incB)[store.LogRecord+" "+recB]; !ok {
		t.Errorf("B's incident lacks the sign-in B's Graph returned")
	}
	if _, ok := logOf(incA)[store.LogRecord+" "+recB]; ok {
		t.Errorf("A's incident holds B's record")
	}
	// Each server was asked about its own account only.
	for name, g := range map[string]*graphtest.Server{"A": ga, "B": gb} {
		own, other := accA, accB
		if name == "B" {
			own, other = accB, accA
		}
		asked := false
		for _, q := range g.Requests() {
			f := q.Query.Get("$filter")
			if strings.Contains(f, other) || strings.Contains(f, stranger) {
				t.Errorf("tenant %s's Graph was asked %s", name, f)
			}
			asked = asked || strings.Contains(f, own)
		}
		if !asked {
			t.Errorf("tenant %s's Graph was never asked about its account", name)
		}
	}
	// The stranger's incident says why it has no Graph records.
	m := logOf(incX)
	for _, ref := range []string{preserve.RefPullOpen, preserve.RefPullLate} {
		var sum preserve.PullSummary
		if err := json.Unmarshal(m[store.LogIncident+" "+ref].Content, &sum); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if sum.Event != "graph pull skipped" || !strings.Contains(sum.Skipped, "no tenant") || len(sum.Queries) != 0 {
			t.Errorf("%s of the stranger's incident: %+v", ref, sum)
		}
	}
	var st preserve.State
	if err := json.Unmarshal(m[store.LogSnapshot+" "+preserve.RefState].Content, &st); err != nil {
		t.Fatal(err)
	}
	if st.Available || st.Reason == "" {
		t.Errorf("stranger's state: %+v", st)
	}
}
