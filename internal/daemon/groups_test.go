package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/membership"
	"breakglass/internal/store"
)

const bgGroup = "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0"

func memberID(n int) string  { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
func memberUPN(n int) string { return fmt.Sprintf("member%d@contoso.onmicrosoft.com", n) }

func memberItem(n int) any {
	return map[string]any{"@odata.type": "#microsoft.graph.user", "id": memberID(n), "userPrincipalName": memberUPN(n)}
}

// signInBy is a diagnostic-settings sign-in of any user.
func signInBy(id, upn, eventID string) string {
	return `{"time":"2026-06-20T07:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"` + eventID +
		`","createdDateTime":"2026-06-20T07:00:00Z","userId":"` + id + `","userPrincipalName":"` + upn + `","status":{"errorCode":0}}}` + "\n"
}

// groupConfig writes a configuration whose accounts are one user and the
// break-glass group, with an http source and a webhook; extra is appended.
func (e *env) groupConfig(t *testing.T, webhook, moreSources, extra string) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`accounts:
  - id: %s
    upn: %s
  - group: %s
    name: Break-glass
store:
  path: %s
server:
  listen: %s
log:
  level: debug
sources:
  - type: http
    name: push
    listen: %s
    token: ${%s}
%snotify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: %s/h
`, bgID, bgUPN, bgGroup, e.db, e.listen, e.ingest, tokenEnv, moreSources, webhook) + extra
	path := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(tokenEnv, token)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

func graphClientFor(t *testing.T, s *graphtest.Server) graph.Lister {
	t.Helper()
	c, err := graph.New(graph.Options{BaseURL: s.URL, Tokens: graph.StaticToken("t"), MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGroupWithoutGraphIsConfigError: serve cannot read a group's members
// without Graph, and says so at the entry's file:line.
func TestGroupWithoutGraphIsConfigError(t *testing.T) {
	e := newEnv(t)
	cfg := e.groupConfig(t, "http://127.0.0.1:1", "", "")
	_, err := New(cfg, Options{Stderr: &syncBuffer{}})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("New = %v, want a ConfigError", err)
	}
	want := cfg.Path + ":4: accounts[1].group: group " + bgGroup
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "graph:") {
		t.Errorf("error %q does not name %q and the graph: section", err, want)
	}
}

// TestGroupMembersWatched runs serve with a group entry against the fake
// Graph server: members alert as soon as they are read; a member added
// later is watched within one refresh; when Graph refuses the group, the
// last members stay watched, bg.source names the group, and a restart
// during the outage still watches them; the refusal resolves when Graph
// answers again.
func TestGroupMembersWatched(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	gs := graphtest.New(t)
	membersPath := "/v1.0" + membership.Path(bgGroup)
	gs.Collection(membersPath, []any{memberItem(1)}, 0)
	cfg := e.groupConfig(t, rcv.srv.URL, "", "")
	o := Options{Graph: graphClientFor(t, gs), GroupRefresh: 100 * time.Millisecond, AuditDelay: time.Hour}
	r := start(t, cfg, o)
	addr := r.ingest(t)
	alerts := func(rule string) []string {
		as, err := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: rule})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.AccountID+" "+a.Title)
		}
		return out
	}
	signinsOf := func(id string) int {
		n := 0
		for _, a := range alerts("bg.signin") {
			if strings.HasPrefix(a, id) {
				n++
			}
		}
		return n
	}

	// Read before the sources started: the first record matches.
	post(t, addr, []byte(signInBy(memberID(1), memberUPN(1), "s1")))
	if signinsOf(memberID(1)) != 1 {
		t.Fatalf("member's sign-in raised nothing: %v", alerts("bg.signin"))
	}
	post(t, addr, []byte(signInBy(bgID, bgUPN, "s0")))
	if signinsOf(bgID) != 1 {
		t.Fatal("the directly configured account is no longer watched")
	}

	if _, body := get(t, "http://"+r.d.Addr().String()+"/metrics"); !strings.Contains(body, "breakglass_watched_accounts 2") {
		t.Error("metrics do not count the configured user and the member")
	}

	// A member added: watched within a refresh.
	gs.Collection(membersPath, []any{memberItem(1), memberItem(2)}, 0)
	i := 0
	waitFor(t, 10*time.Second, "the added member to be watched", func() bool {
		i++
		post(t, addr, []byte(signInBy(memberID(2), memberUPN(2), fmt.Sprintf("s2-%d", i))))
		return signinsOf(memberID(2)) > 0
	}, r.logs.String)

	// Graph refuses: bg.source naming the group; members still watched.
	gs.Fail(membersPath, 403, 1_000_000, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	waitFor(t, 10*time.Second, "bg.source for the group", func() bool { return rcv.rule("/h bg.source firing") == 1 }, r.logs.String)
	src := alerts("bg.source")
	if len(src) != 1 || !strings.Contains(src[0], bgGroup) || !strings.Contains(src[0], "403") {
		t.Fatalf("bg.source alerts %v: want one naming the group and the error", src)
	}
	t.Logf("bg.source: %s", src[0])
	post(t, addr, []byte(signInBy(memberID(2), memberUPN(2), "s2-outage")))
	if signinsOf(memberID(2)) < 2 {
		t.Error("member dropped while Graph refuses the group")
	}

	// Restart during the outage: the persisted members are watched.
	r.stop(t)
	r = start(t, cfg, o)
	addr = r.ingest(t)
	before := signinsOf(memberID(1))
	post(t, addr, []byte(signInBy(memberID(1), memberUPN(1), "s1-restart")))
	if signinsOf(memberID(1)) != before+1 {
		t.Fatalf("after a restart during the outage the member is not watched\n%s", r.logs.String())
	}
	// A record naming the group itself alerts even with no member known.
	rec := `{"time":"2026-06-20T08:00:00Z","category":"AuditLogs","operationName":"Add member to group","properties":{"id":"aud-g1","activityDateTime":"2026-06-20T08:00:00Z","activityDisplayName":"Add member to group","category":"GroupManagement","result":"success","initiatedBy":{"user":{"id":"11111111-2222-4333-8444-555555555555","userPrincipalName":"admin@contoso.com"}},"targetResources":[{"id":"99999999-2222-4333-8444-555555555555","type":"User","userPrincipalName":"new@contoso.com"},{"id":"` + bgGroup + `","type":"Group","displayName":"Break-glass"}]}}` + "\n"
	post(t, addr, []byte(rec))
	if ch := alerts("bg.change"); len(ch) == 0 || !strings.HasPrefix(ch[0], bgGroup) {
		t.Errorf("a record naming the group raised %v", ch)
	}
	if rcv.rule("/h bg.source firing") != 1 {
		t.Error("the restart raised bg.source again for the same episode")
	}

	// Graph answers again: resolved.
	gs2 := graphtest.New(t)
	gs2.Collection(membersPath, []any{memberItem(2)}, 0)
	r.stop(t)
	o.Graph = graphClientFor(t, gs2)
	r = start(t, cfg, o)
	waitFor(t, 10*time.Second, "bg.source resolved", func() bool { return rcv.rule("/h bg.source resolved") == 1 }, r.logs.String)
}

// TestRemovedGroupSourceResolved: a group that was failing and is then
// removed from the configuration (another group stays) has its bg.source
// resolved at start.
func TestRemovedGroupSourceResolved(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	gs := graphtest.New(t)
	gs.Fail("/v1.0"+membership.Path(bgGroup), 403, 1000, "", nil)
	const other = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	gs.Collection("/v1.0"+membership.Path(other), []any{memberItem(1)}, 0)
	cfg := e.groupConfig(t, rcv.srv.URL, "", "")
	o := Options{Graph: graphClientFor(t, gs), AuditDelay: time.Hour}
	r := start(t, cfg, o)
	waitFor(t, 10*time.Second, "bg.source for the group", func() bool { return rcv.rule("/h bg.source firing") == 1 }, r.logs.String)
	waitConditions(t, r, "bg.source")
	r.stop(t)
	text, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Path, []byte(strings.Replace(string(text), bgGroup, other, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg2, err := config.Load(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	r = start(t, cfg2, o)
	waitFor(t, 10*time.Second, "bg.source resolved", func() bool { return rcv.rule("/h bg.source resolved") == 1 }, r.logs.String)
}

// TestGraphSourceQueriesMembers: the graph source asks Graph about the
// group's members as read, and not about the group id (it has no
// sign-ins, and sign-in queries share a small budget).
func TestGraphSourceQueriesMembers(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	gs := graphtest.New(t)
	gs.Collection("/v1.0"+membership.Path(bgGroup), []any{memberItem(1)}, 0)
	for _, p := range []string{"/v1.0/auditLogs/signIns", "/beta/auditLogs/signIns", "/v1.0/auditLogs/directoryAudits"} {
		gs.Collection(p, nil, 0)
	}
	cfg := e.groupConfig(t, rcv.srv.URL, `  - type: graph
    name: tenant
    poll: 50ms
`, `graph:
  auth: access_token
`)
	start(t, cfg, Options{Graph: graphClientFor(t, gs), AuditDelay: time.Hour})
	filters := func() string {
		var b strings.Builder
		for _, r := range gs.Requests() {
			if strings.Contains(r.Path, "auditLogs") {
				b.WriteString(r.RawQuery + "\n")
			}
		}
		return b.String()
	}
	waitFor(t, 10*time.Second, "queries about the member", func() bool {
		f := filters()
		return strings.Contains(f, memberID(1)) && strings.Contains(f, bgID)
	}, filters)
	if f := filters(); strings.Contains(f, bgGroup) {
		t.Errorf("the graph source queried the group id:\n%s", f)
	}
}
