package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/collect/collecttest"
	"breakglass/internal/preserve"
	"breakglass/internal/store"
)

// TestIncidentEvidenceThroughGraph runs serve with Graph configured: an
// account incident in the store gets, from the daemon's own preserver,
// the account's state at open (read live from the fixture tenant) and the
// Graph pull of its window, with the sign-in Graph returns.
func TestIncidentEvidenceThroughGraph(t *testing.T) {
	snap, err := collect.Load(filepath.Join("..", "posture", "testdata", "snapshots", "compliant"))
	if err != nil {
		t.Fatal(err)
	}
	gs := collecttest.Serve(t, snap, 0)
	users, _, err := snap.Items(collect.DatasetBreakGlassUsers)
	if err != nil || len(users) == 0 {
		t.Fatalf("fixture users: %v", err)
	}
	var bg1 struct {
		ID  string `json:"id"`
		UPN string `json:"userPrincipalName"`
	}
	if err := json.Unmarshal(users[0], &bg1); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	pulled := fmt.Sprintf(`{"id":"dddddddd-0000-4000-8000-00000000000d","createdDateTime":%q,"userId":%q,"appDisplayName":"Azure Portal"}`,
		now.Add(-3*time.Hour).Format(time.RFC3339), bg1.ID)
	gs.Handle("/v1.0/auditLogs/signIns", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":[%s]}`, pulled)
	})
	empty := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"value":[]}`)
	}
	gs.Handle("/beta/auditLogs/signIns", empty)
	gs.Handle("/v1.0/auditLogs/directoryAudits", empty)

	e := newEnv(t)
	text := fmt.Sprintf("accounts:\n  - id: %s\nstore:\n  path: %s\nserver:\n  listen: %s\nlog:\n  level: debug\ngraph:\n  auth: access_token\n  base_url: %s\n",
		bg1.ID, e.db, e.listen, gs.URL)
	path := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BREAKGLASS_GRAPH_TOKEN", "test-token")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg, Options{PreserveInterval: 50 * time.Millisecond, AuditDelay: time.Hour})
	ctx := context.Background()
	a := alert.Alert{ID: alert.Key("eeee", "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in (success)",
		AccountID: bg1.ID, AccountUPN: bg1.UPN, EventID: "eeee", EventTime: now.Add(-time.Minute), Category: "SignInLogs", Detected: now}
	if _, err := r.d.st.AddAlert(ctx, a, store.Evidence{EventID: "eeee", Category: "SignInLogs", Raw: []byte(`{"id":"eeee"}`)}); err != nil {
		t.Fatal(err)
	}
	// The daemon's incident builder opens the incident.
	r.d.wakeIncidents()
	var inc store.Incident
	waitFor(t, 15*time.Second, "the incident", func() bool {
		inc, err = r.d.st.IncidentOf(ctx, a.ID)
		return err == nil
	}, r.logs.String)
	kinds := func() map[string]store.LogEntry {
		es, _ := r.d.st.IncidentLog(ctx, inc.ID)
		m := map[string]store.LogEntry{}
		for _, e := range es {
			m[e.Kind+" "+e.Ref] = e
		}
		return m
	}
	waitFor(t, 15*time.Second, "the state entry and the pull at open", func() bool {
		m := kinds()
		_, s := m[store.LogSnapshot+" "+preserve.RefState]
		_, p := m[store.LogIncident+" "+preserve.RefPullOpen]
		return s && p
	}, r.logs.String)
	m := kinds()
	if got := m[store.LogRecord+" dddddddd-0000-4000-8000-00000000000d"]; string(got.Content) != pulled {
		t.Errorf("pulled sign-in = %q, want it byte for byte", got.Content)
	}
	var st preserve.State
	if err := json.Unmarshal(m[store.LogSnapshot+" "+preserve.RefState].Content, &st); err != nil {
		t.Fatal(err)
	}
	if !st.Available || !strings.EqualFold(st.AccountID, bg1.ID) || len(st.Methods) == 0 {
		t.Errorf("state at open: %+v", st)
	}
	t.Logf("state: roles %v, methods %d, exclusions %v, unknown %v", st.Roles, len(st.Methods), st.CAExclusions, st.Unknown)
}

// TestContextRecordKeptInIncident: a record a source delivers that names
// the break-glass account without raising an alert (a Conditional Access
// policy now excluding it) lands in the account's open incident, once,
// however often it is delivered; the sources' own alerts are unchanged.
func TestContextRecordKeptInIncident(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
`)
	r := start(t, cfg, Options{PreserveInterval: time.Hour})
	ctx := context.Background()
	now := time.Now().UTC()
	a := alert.Alert{ID: alert.Key("s-open", "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0, AccountID: bgID, AccountUPN: bgUPN,
		EventID: "s-open", EventTime: now, Category: "SignInLogs", Detected: now}
	if _, err := r.d.st.AddAlert(ctx, a, store.Evidence{EventID: "s-open", Raw: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := r.d.st.AttachAlert(ctx, a, bgID, store.IncidentAccount, 2*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"value":[{"id":"Directory_ca1","category":"Policy","activityDisplayName":"Update conditional access policy","activityDateTime":"` + now.Format(time.RFC3339) +
		`","result":"success","initiatedBy":{"user":{"id":"9e9e9e9e-0000-4000-8000-000000000005","userPrincipalName":"alice@contoso.com"}},` +
		`"targetResources":[{"id":"5ca00000-0000-4000-8000-000000000001","type":"Policy","modifiedProperties":[{"displayName":"ConditionalAccessPolicy","newValue":"{\"excludeUsers\":[\"` + bgID + `\"]}"}]}]}]}`
	addr := r.ingest(t)
	for range 2 {
		if code := post(t, addr, []byte(body)); code >= 300 {
			t.Fatalf("POST: %d", code)
		}
	}
	count := func() int {
		es, _ := r.d.st.IncidentLog(ctx, inc.ID)
		n := 0
		for _, e := range es {
			if e.Kind == store.LogRecord && e.Ref == "Directory_ca1" {
				n++
			}
		}
		return n
	}
	waitFor(t, 10*time.Second, "the context record in the incident", func() bool { return count() > 0 }, r.logs.String)
	if n := count(); n != 1 {
		t.Errorf("kept %d times, want once", n)
	}
	if as, _ := r.d.st.Alerts(ctx, store.AlertFilter{}); len(as) != 1 {
		t.Errorf("%d alerts, want only the test's own", len(as))
	}
}

// signInTenant serves sign-ins as Graph does, honouring the
// "createdDateTime ge" bound of the filter (the graph source's window),
// so a sign-in older than the source's first window is only ever seen by
// the incident's pull.
type signInTenant struct {
	mu      sync.Mutex
	signIns map[string]time.Time // id → createdDateTime
	user    string
}

func (s *signInTenant) add(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signIns[id] = at
}

func (s *signInTenant) serve(w http.ResponseWriter, r *http.Request) {
	f := r.URL.Query().Get("$filter")
	var from, to time.Time
	if m := regexp.MustCompile(`createdDateTime ge (\S+)`).FindStringSubmatch(f); m != nil {
		from, _ = time.Parse(time.RFC3339, m[1])
	}
	if m := regexp.MustCompile(`createdDateTime le (\S+)`).FindStringSubmatch(f); m != nil {
		to, _ = time.Parse(time.RFC3339, m[1])
	}
	s.mu.Lock()
	var items []string
	for id, at := range s.signIns {
		if at.Before(from) || (!to.IsZero() && at.After(to)) {
			continue
		}
		items = append(items, fmt.Sprintf(`{"id":%q,"createdDateTime":%q,"userId":%q,"appDisplayName":"Azure Portal","isInteractive":true,"status":{"errorCode":0}}`,
			id, at.UTC().Format(time.RFC3339), s.user))
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"value":[%s]}`, strings.Join(items, ","))
}

// TestLateSignInThroughServe runs the whole chain in serve: the graph
// source alerts on a sign-in, the incident builder opens the incident and
// logs its raw record, the preserver pulls the window at open (finding a
// sign-in from before the source's first window, which never alerted)
// and an hour later (finding one Entra published late, which the source
// also alerts on). Every sign-in is in the incident's evidence exactly
// once.
func TestLateSignInThroughServe(t *testing.T) {
	snap, err := collect.Load(filepath.Join("..", "posture", "testdata", "snapshots", "compliant"))
	if err != nil {
		t.Fatal(err)
	}
	gs := collecttest.Serve(t, snap, 0)
	users, _, _ := snap.Items(collect.DatasetBreakGlassUsers)
	var bg1 struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(users[0], &bg1); err != nil {
		t.Fatal(err)
	}
	var offset atomic.Int64 // the test's clock runs ahead of the real one
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	start0 := now().UTC()
	si := &signInTenant{signIns: map[string]time.Time{}, user: bg1.ID}
	const (
		used    = "aaaaaaaa-0000-4000-8000-0000000000a1" // the use: alerts at once
		before  = "aaaaaaaa-0000-4000-8000-0000000000b2" // 10h before: pull only
		late    = "aaaaaaaa-0000-4000-8000-0000000000c3" // published late
		noMatch = "aaaaaaaa-0000-4000-8000-0000000000d4" // 30h before: outside the window
	)
	si.add(used, start0.Add(-time.Minute))
	si.add(before, start0.Add(-10*time.Hour))
	si.add(noMatch, start0.Add(-30*time.Hour))
	gs.Handle("/v1.0/auditLogs/signIns", si.serve)
	empty := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"value":[]}`)
	}
	gs.Handle("/beta/auditLogs/signIns", empty)
	gs.Handle("/v1.0/auditLogs/directoryAudits", empty)

	e := newEnv(t)
	text := fmt.Sprintf("accounts:\n  - id: %s\nstore:\n  path: %s\nserver:\n  listen: %s\nlog:\n  level: debug\ngraph:\n  auth: access_token\n  base_url: %s\nsources:\n  - type: graph\n    name: tenant\n    poll: 100ms\n",
		bg1.ID, e.db, e.listen, gs.URL)
	path := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BREAKGLASS_GRAPH_TOKEN", "test-token")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Graph's sign-in budget (5 per 10 s) would make a 100 ms poll wait.
	client, err := graph.New(graph.Options{BaseURL: gs.URL, Tokens: graph.StaticToken("test-token"), SignInBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg, Options{Graph: client, PreserveInterval: 50 * time.Millisecond, AuditDelay: time.Hour, Now: now})
	ctx := context.Background()
	var inc store.Incident
	waitFor(t, 15*time.Second, "the incident of the use", func() bool {
		incs, _ := r.d.st.Incidents(ctx, store.IncidentFilter{Kind: store.IncidentAccount})
		if len(incs) == 1 {
			inc = incs[0]
		}
		return len(incs) == 1
	}, r.logs.String)
	records := func() map[string]int {
		es, _ := r.d.st.IncidentLog(ctx, inc.ID)
		m := map[string]int{}
		for _, e := range es {
			switch e.Kind {
			case store.LogRecord, store.LogPull:
				m[e.Ref]++
			case store.LogIncident, store.LogSnapshot:
				m[e.Kind+" "+e.Ref]++
			}
		}
		return m
	}
	waitFor(t, 15*time.Second, "the pull at open", func() bool { return records()[store.LogIncident+" "+preserve.RefPullOpen] == 1 }, r.logs.String)
	if m := records(); m[used] != 1 || m[before] != 1 || m[noMatch] != 0 || m[late] != 0 {
		t.Fatalf("after the pull at open: %v", m)
	}

	// Entra publishes a sign-in late; the source sees it (and alerts), and
	// the hour passes: the late pull sees it too.
	si.add(late, start0.Add(-20*time.Minute))
	waitFor(t, 15*time.Second, "the late sign-in's alert", func() bool {
		_, err := r.d.st.Alert(ctx, alert.Key(late, "bg.signin"))
		return err == nil
	}, r.logs.String)
	// The builder logs it (its raw record and then the alert); the late
	// pull an hour on then finds it in the log. (Jumping the clock while
	// the builder is still at it would defeat the pull's wait for it.)
	waitFor(t, 15*time.Second, "the builder's entry of the late alert", func() bool {
		es, _ := r.d.st.IncidentLog(ctx, inc.ID)
		for _, e := range es {
			if e.Kind == store.LogAlert && e.Ref == alert.Key(late, "bg.signin") {
				return true
			}
		}
		return false
	}, r.logs.String)
	offset.Store(int64(preserve.LateAfter + time.Minute))
	waitFor(t, 15*time.Second, "the late pull", func() bool { return records()[store.LogIncident+" "+preserve.RefPullLate] == 1 }, r.logs.String)
	time.Sleep(300 * time.Millisecond) // let the builder and the preserver run a few more rounds
	m := records()
	for _, id := range []string{used, before, late} {
		if m[id] != 1 {
			t.Errorf("sign-in %s is in the evidence %d times, want exactly once (%v)", id, m[id], m)
		}
	}
	if m[noMatch] != 0 {
		t.Errorf("a sign-in outside the window was kept: %v", m)
	}
	if _, err := r.d.st.Alert(ctx, alert.Key(before, "bg.signin")); err == nil {
		t.Errorf("the sign-in before the source's window alerted: the test does not show the pull's part")
	}
}
