package preserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/posture"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

const (
	acctID  = "11111111-2222-4333-8444-555555555555"
	acctUPN = "bg1@contoso.onmicrosoft.com"
	idA     = "aaaaaaaa-0000-4000-8000-00000000000a" // the sign-in that alerted
	idLate  = "bbbbbbbb-0000-4000-8000-00000000000b" // published late
	idAudit = "cccccccc-0000-4000-8000-00000000000c"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openIncident stores a sign-in alert at eventAt and attaches it, as the
// incident builder does, opening an account incident at t0; the builder's
// entry of the triggering raw record (LogRecord, Ref the event id) is
// appended too.
func openIncident(t *testing.T, st *sqlite.Store, eventAt time.Time) store.Incident {
	t.Helper()
	ctx := context.Background()
	a := alert.Alert{ID: alert.Key(idA, "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in (success)",
		AccountID: acctID, AccountUPN: acctUPN, EventID: idA, EventTime: eventAt, Category: "SignInLogs", Source: "graph:test", Detected: t0}
	raw := signIn(idA, eventAt)
	if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: idA, Category: "SignInLogs", Source: "graph:test", Raw: []byte(raw)}); err != nil {
		t.Fatal(err)
	}
	inc, opened, err := st.AttachAlert(ctx, a, acctID, store.IncidentAccount, 2*time.Hour, t0)
	if err != nil || !opened {
		t.Fatalf("AttachAlert: %v opened=%v", err, opened)
	}
	if _, err := st.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogRecord, Ref: idA, At: t0, Content: []byte(raw)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogAlert, Ref: a.ID, At: t0, Content: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	return inc
}

func signIn(id string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"createdDateTime":%q,"userId":%q,"userPrincipalName":%q,"appDisplayName":"Azure Portal","status":{"errorCode":0}}`,
		id, at.UTC().Format(time.RFC3339), acctID, acctUPN)
}

// tenant is a graphtest server whose sign-ins change between pulls.
type tenant struct {
	srv     *graphtest.Server
	mu      sync.Mutex
	signIns []string // v1.0 interactive sign-ins returned now
	audits  []string // v1.0 directory audits initiated by the account
}

func newTenant(t *testing.T) *tenant {
	tn := &tenant{srv: graphtest.New(t)}
	serve := func(get func() []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tn.mu.Lock()
			items := get()
			tn.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"value":[%s]}`, strings.Join(items, ","))
		}
	}
	none := func() []string { return nil }
	tn.srv.Handle("/v1.0/auditLogs/signIns", serve(func() []string { return tn.signIns }))
	tn.srv.Handle("/beta/auditLogs/signIns", serve(none))
	tn.srv.Handle("/v1.0/auditLogs/directoryAudits", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Query().Get("$filter"), "initiatedBy/user/id") {
			serve(func() []string { return tn.audits })(w, r)
			return
		}
		serve(none)(w, r)
	})
	return tn
}

func (tn *tenant) set(signIns ...string) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.signIns = signIns
}

func (tn *tenant) client(t *testing.T) graph.Lister {
	t.Helper()
	c, err := graph.New(graph.Options{BaseURL: tn.srv.URL, Tokens: graph.StaticToken("test-token"), SignInBudget: -1, MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func newPreserver(t *testing.T, st Store, g graph.Lister, c *clock, h Health) *Preserver {
	t.Helper()
	p, err := New(Options{Store: st, Graph: g, Health: h, Context: 24 * time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tick(t *testing.T, p *Preserver) {
	t.Helper()
	if err := p.Tick(context.Background()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

// refs counts the incident's entries by "kind ref", and its records
// (LogRecord or LogPull, whoever appended them) by "rec: ref".
func refs(t *testing.T, st Store, id string) map[string]int {
	t.Helper()
	es, err := st.IncidentLog(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range es {
		m[e.Kind+" "+e.Ref]++
		if e.Kind == store.LogRecord || e.Kind == store.LogPull {
			m["rec: "+e.Ref]++
		}
	}
	return m
}

// failMarker makes appending one kind of entry fail, once: a crash after
// a pull's records were appended and before it was recorded as done.
type failMarker struct {
	Store
	ref  string
	done bool
}

func (f *failMarker) AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error) {
	if e.Ref == f.ref && !f.done {
		f.done = true
		return store.LogEntry{}, errors.New("disk full")
	}
	return f.Store.AppendLog(ctx, e)
}

// TestLateRecordLandsOnce: a sign-in Graph returns only on the later pull
// lands in the incident's evidence exactly once: not on the first pull,
// once on the second, and not again when the second pull is repeated
// after a restart (a crash before the pull was recorded as done). The
// triggering sign-in, already in the log from its alert, is never
// appended again.
func TestLateRecordLandsOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	inc := openIncident(t, st, t0.Add(-5*time.Minute))
	tn := newTenant(t)
	tn.set(signIn(idA, t0.Add(-5*time.Minute)))
	tn.audits = []string{fmt.Sprintf(`{"id":%q,"activityDateTime":%q,"activityDisplayName":"Add member to role","initiatedBy":{"user":{"id":%q}}}`, idAudit, t0.Add(-3*time.Minute).Format(time.RFC3339), acctID)}
	c := &clock{t: t0.Add(time.Minute)}
	p := newPreserver(t, st, tn.client(t), c, nil)

	tick(t, p) // the pull at open
	got := refs(t, st, inc.ID)
	if got["rec: "+idLate] != 0 || got["rec: "+idA] != 1 {
		t.Fatalf("after the first pull: %v", got)
	}
	if got["rec: "+idAudit] != 1 || got[store.LogRecord+" "+idAudit] != 1 || got[store.LogIncident+" "+RefPullOpen] != 1 {
		t.Fatalf("the first pull did not keep the audit event or was not recorded: %v", got)
	}
	n := len(tn.srv.Requests())
	c.add(30 * time.Minute)
	tick(t, p) // nothing due: the late pull waits for the hour
	if m := len(tn.srv.Requests()); m != n {
		t.Fatalf("%d requests before the late pull was due", m-n)
	}

	tn.set(signIn(idA, t0.Add(-5*time.Minute)), signIn(idLate, t0.Add(-40*time.Minute)))
	c.set(t0.Add(LateAfter))
	fm := &failMarker{Store: st, ref: RefPullLate}
	crashy := newPreserver(t, fm, tn.client(t), c, nil)
	tick(t, crashy) // the late pull: records appended, then the "crash"
	if got := refs(t, st, inc.ID); got["rec: "+idLate] != 1 || got[store.LogIncident+" "+RefPullLate] != 0 {
		t.Fatalf("after the interrupted late pull: %v", got)
	}
	restarted := newPreserver(t, st, tn.client(t), c, nil) // a restart: nothing in memory
	tick(t, restarted)
	got = refs(t, st, inc.ID)
	if got["rec: "+idLate] != 1 {
		t.Errorf("late sign-in in the log %d times, want exactly once: %v", got["rec: "+idLate], got)
	}
	if got["rec: "+idA] != 1 || got["rec: "+idAudit] != 1 {
		t.Errorf("a record was kept twice: %v", got)
	}
	if got[store.LogIncident+" "+RefPullLate] != 1 || got[store.LogIncident+" "+RefPullOpen] != 1 {
		t.Errorf("pulls recorded: %v", got)
	}
	// The late record is kept byte for byte as Graph sent it.
	es, _ := st.IncidentLog(ctx, inc.ID)
	for _, e := range es {
		if e.Ref == idLate && string(e.Content) != signIn(idLate, t0.Add(-40*time.Minute)) {
			t.Errorf("late record content changed: %s", e.Content)
		}
	}
	n = len(tn.srv.Requests())
	c.add(5 * time.Hour)
	tick(t, restarted)
	if m := len(tn.srv.Requests()); m != n {
		t.Errorf("%d requests after both pulls were done", m-n)
	}
}

// TestPullWindowFilters: each query asks exactly for the window [first
// alert − context, now] and the account, in the filters the graph source
// uses (the beta non-interactive filter included).
func TestPullWindowFilters(t *testing.T) {
	st := openStore(t)
	first := t0.Add(-17*time.Minute - 30*time.Second)
	openIncident(t, st, first)
	tn := newTenant(t)
	c := &clock{t: t0.Add(90 * time.Second)}
	tick(t, newPreserver(t, st, tn.client(t), c, nil))
	from, to := "2026-11-24T09:42:30Z", "2026-11-25T10:01:30Z"
	want := map[string]string{
		"/v1.0/auditLogs/signIns":         "createdDateTime ge " + from + " and createdDateTime le " + to + " and userId eq '" + acctID + "'",
		"/beta/auditLogs/signIns":         "createdDateTime ge " + from + " and createdDateTime le " + to + " and userId eq '" + acctID + "' and signInEventTypes/any(t: t eq 'nonInteractiveUser')",
		"/v1.0/auditLogs/directoryAudits": "",
	}
	var audits []string
	for _, r := range tn.srv.Requests() {
		f := r.Query.Get("$filter")
		if r.Path == "/v1.0/auditLogs/directoryAudits" {
			audits = append(audits, f)
			continue
		}
		if w, ok := want[r.Path]; !ok || f != w {
			t.Errorf("%s $filter = %q\nwant %q", r.Path, f, w)
		}
		delete(want, r.Path)
	}
	wantAudits := []string{
		"activityDateTime ge " + from + " and activityDateTime le " + to + " and initiatedBy/user/id eq '" + acctID + "'",
		"activityDateTime ge " + from + " and activityDateTime le " + to + " and targetResources/any(t:t/id eq '" + acctID + "')",
	}
	if strings.Join(audits, "\n") != strings.Join(wantAudits, "\n") {
		t.Errorf("directoryAudits filters:\n%s\nwant\n%s", strings.Join(audits, "\n"), strings.Join(wantAudits, "\n"))
	}
	if len(want) != 1 { // only the directoryAudits placeholder may remain
		t.Errorf("queries not sent: %v", want)
	}
}

func TestWindowOf(t *testing.T) {
	for _, tt := range []struct {
		name     string
		inc      store.Incident
		now      time.Time
		from, to time.Time
		cut      bool
	}{
		{"first event", store.Incident{Opened: t0, FirstEvent: t0.Add(-time.Hour)}, t0.Add(time.Minute), t0.Add(-25 * time.Hour), t0.Add(time.Minute), false},
		{"no event time", store.Incident{Opened: t0}, t0, t0.Add(-24 * time.Hour), t0, false},
		{"old incident cut to retention", store.Incident{Opened: t0, FirstEvent: t0}, t0.Add(Retention), t0, t0.Add(Retention), true},
		{"sub-second now truncated", store.Incident{Opened: t0, FirstEvent: t0}, t0.Add(1500 * time.Millisecond), t0.Add(-24 * time.Hour), t0.Add(time.Second), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := WindowOf(tt.inc, 24*time.Hour, tt.now)
			if !w.From.Equal(tt.from) || !w.To.Equal(tt.to) || (w.Cut != "") != tt.cut {
				t.Errorf("WindowOf = %+v, want from %s to %s cut %v", w, tt.from, tt.to, tt.cut)
			}
		})
	}
}

// TestUPNOnlyQueries: an account known only by UPN is asked for by UPN,
// with quotes escaped.
func TestUPNOnlyQueries(t *testing.T) {
	qs := Queries("", "O'Brien@Contoso.com", Window{From: t0, To: t0})
	for _, q := range qs {
		if !strings.Contains(q.Filter, "O''Brien@") && !strings.Contains(q.Filter, "o''brien@") {
			t.Errorf("%s: %s", q.Name, q.Filter)
		}
	}
}

type health struct {
	mu        sync.Mutex
	failing   []string
	recovered []string
}

func (h *health) Failing(_ context.Context, source, key string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failing = append(h.failing, source+" "+key+": "+err.Error())
}

func (h *health) Recovered(_ context.Context, source, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recovered = append(h.recovered, source+" "+key)
}

// TestFailingPullRaisesSource: a pull that keeps failing is retried with
// backoff, is not recorded as done, raises bg.source (once) after the
// threshold, and resolves when it works again; the error names the query
// and carries no token.
func TestFailingPullRaisesSource(t *testing.T) {
	st := openStore(t)
	inc := openIncident(t, st, t0)
	tn := newTenant(t)
	tn.srv.Fail("/v1.0/auditLogs/directoryAudits", http.StatusForbidden, 6, "", nil) // both audit queries, three attempts
	c := &clock{t: t0}
	h := &health{}
	p := newPreserver(t, st, tn.client(t), c, h)
	for i := range 3 {
		tick(t, p)
		if got := refs(t, st, inc.ID)[store.LogIncident+" "+RefPullOpen]; got != 0 {
			t.Fatalf("attempt %d: a failed pull was recorded as done", i+1)
		}
		n := len(tn.srv.Requests())
		tick(t, p) // backing off: no request
		if m := len(tn.srv.Requests()); m != n {
			t.Fatalf("attempt %d: retried without backoff", i+1)
		}
		c.add(maxBackoff)
	}
	if len(h.failing) != 1 || !strings.Contains(h.failing[0], "preserve pull/"+inc.ID) || !strings.Contains(h.failing[0], "directoryAudits") ||
		strings.Contains(h.failing[0], "test-token") {
		t.Fatalf("failing = %q", h.failing)
	}
	tick(t, p) // Graph answers again
	if got := refs(t, st, inc.ID)[store.LogIncident+" "+RefPullOpen]; got != 1 {
		t.Errorf("pull not recorded after recovery")
	}
	if len(h.recovered) != 1 || h.recovered[0] != "preserve pull/"+inc.ID {
		t.Errorf("recovered = %q", h.recovered)
	}
}

// TestStateAtOpen: the state entry is written once per incident: the
// account's state when there is one, else an entry saying why not.
func TestStateAtOpen(t *testing.T) {
	enabled := true
	for _, tt := range []struct {
		name  string
		state StateFunc
		want  []string // substrings of the entry
	}{
		{"state", func(context.Context, string, string) (*State, error) {
			return &State{Available: true, Source: "live posture collection through Graph", Enabled: &enabled,
				Roles:   []Role{{Role: "Global Administrator (62e90394-69f5-4237-9190-012177145e10)", Scope: "/", Kind: "active"}},
				Methods: []Method{{Type: "fido2AuthenticationMethod", ID: "m1"}}, CAExclusions: []CAExclusion{{PolicyID: "p1", ExcludedBy: []string{"excludeUsers"}}}}, nil
		}, []string{`"available":true`, `"Global Administrator`, `"fido2AuthenticationMethod"`, `"policy_id":"p1"`, `"account_id":"` + acctID}},
		{"none configured", nil, []string{`"available":false`, "Graph is not configured", `"incident_opened":"2026-11-25T10:00:00Z"`, `"read_at":"2026-11-25T10:00:00Z"`}},
		{"read failed", func(context.Context, string, string) (*State, error) {
			return nil, errors.New("401 Unauthorized (token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln)")
		}, []string{`"available":false`, "could not be read", "401 Unauthorized"}},
		{"panics", func(context.Context, string, string) (*State, error) { panic("boom") }, []string{`"available":false`, "crashed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			inc := openIncident(t, st, t0)
			p, err := New(Options{Store: st, State: tt.state, Context: 24 * time.Hour, Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			tick(t, p)
			tick(t, p)
			es, _ := st.IncidentLog(context.Background(), inc.ID)
			var got []string
			for _, e := range es {
				if e.Kind == store.LogSnapshot {
					got = append(got, string(e.Content))
					if e.Ref != RefState || !json.Valid(e.Content) {
						t.Errorf("entry %s: %s", e.Ref, e.Content)
					}
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d state entries, want 1: %q", len(got), got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("state entry lacks %q:\n%s", w, got[0])
				}
			}
			if strings.Contains(got[0], "eyJzdWIiOiJ4In0") {
				t.Errorf("a token reached the log: %s", got[0])
			}
		})
	}
}

// TestStateFromTenant reads the account's state from the compliant
// fixture snapshot: its role, methods and every Conditional Access
// policy that excludes it (directly or through its exclusion group);
// an account the snapshot lacks says so.
func TestStateFromTenant(t *testing.T) {
	snap, err := collect.Load(filepath.Join("..", "posture", "testdata", "snapshots", "compliant"))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := posture.FromSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	var bg1 *posture.User
	for _, a := range tn.Accounts {
		if a.Resolved {
			bg1 = tn.Users[strings.ToLower(a.ID)]
			break
		}
	}
	if bg1 == nil {
		t.Fatal("fixture has no resolved account")
	}
	for _, tt := range []struct{ name, id, upn string }{
		{"by id", strings.ToUpper(bg1.ID), ""},
		{"by UPN only", "", strings.ToUpper(bg1.UPN)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := StateFromTenant(tn, tt.id, tt.upn, "fixture")
			if !st.Available || st.Source != "fixture" || !st.Collected.Equal(tn.Collected) {
				t.Fatalf("state %+v", st)
			}
			b, _ := json.Marshal(st)
			t.Logf("%s", b)
			if len(st.Roles) == 0 || !strings.Contains(st.Roles[0].Role, "Global Administrator") {
				t.Errorf("roles %+v", st.Roles)
			}
			if len(st.Methods) != len(tn.AuthMethods[strings.ToLower(bg1.ID)]) || len(st.Methods) == 0 {
				t.Errorf("methods %+v", st.Methods)
			}
			var direct, group bool
			for _, x := range st.CAExclusions {
				for _, by := range x.ExcludedBy {
					direct = direct || strings.HasPrefix(by, "excludeUsers")
					group = group || strings.HasPrefix(by, "excludeGroups")
				}
			}
			if len(st.CAExclusions) == 0 || !group || !direct {
				t.Errorf("exclusions %+v (direct %v, group %v)", st.CAExclusions, direct, group)
			}
		})
	}
	if st := StateFromTenant(tn, "00000000-0000-4000-8000-00000000dead", "", "fixture"); st.Available || !strings.Contains(st.Reason, "does not hold this account") {
		t.Errorf("missing account: %+v", st)
	}
	if st := StateFromTenant(nil, bg1.ID, "", "fixture"); st.Available || st.Reason == "" {
		t.Errorf("no tenant: %+v", st)
	}
}

// TestPullWaitsForBuilder: while the incident builder has not yet logged
// an attached alert (its raw record would then be kept as pulled and
// again by the builder), the pull waits; past builderGrace it goes ahead
// anyway.
func TestPullWaitsForBuilder(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	a := alert.Alert{ID: alert.Key(idA, "bg.signin"), Rule: "bg.signin", AccountID: acctID, AccountUPN: acctUPN, EventID: idA, EventTime: t0, Category: "SignInLogs"}
	if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: idA, Raw: []byte(signIn(idA, t0))}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := st.AttachAlert(ctx, a, acctID, store.IncidentAccount, 2*time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	tn := newTenant(t)
	tn.set(signIn(idA, t0))
	c := &clock{t: t0.Add(10 * time.Second)}
	p := newPreserver(t, st, tn.client(t), c, nil)
	tick(t, p)
	if n := len(tn.srv.Requests()); n != 0 {
		t.Fatalf("pulled (%d requests) before the builder logged the alert", n)
	}
	c.set(t0.Add(builderGrace))
	tick(t, p)
	if got := refs(t, st, inc.ID); got[store.LogIncident+" "+RefPullOpen] != 1 || got["rec: "+idA] != 1 {
		t.Errorf("after the grace: %v", got)
	}
}

// brokenStore fails every read of incidents until fixed.
type brokenStore struct {
	Store
	mu    sync.Mutex
	fixed bool
}

func (b *brokenStore) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	b.mu.Lock()
	fixed := b.fixed
	b.mu.Unlock()
	if !fixed {
		return nil, errors.New("database is locked")
	}
	return b.Store.Incidents(ctx, f)
}

// TestRunRaisesSourceOnStoreFailures: rounds that keep failing on the
// store raise bg.source (preserve, evidence) after the threshold, and it
// resolves with the first clean round.
func TestRunRaisesSourceOnStoreFailures(t *testing.T) {
	st := openStore(t)
	bs := &brokenStore{Store: st}
	h := &health{}
	p, err := New(Options{Store: bs, Health: h, Context: 24 * time.Hour, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait("bg.source", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.failing) > 0 })
	h.mu.Lock()
	if !strings.HasPrefix(h.failing[0], "preserve evidence: ") || !strings.Contains(h.failing[0], "database is locked") {
		t.Errorf("failing = %q", h.failing[0])
	}
	h.mu.Unlock()
	bs.mu.Lock()
	bs.fixed = true
	bs.mu.Unlock()
	wait("recovery", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.recovered) == 1 })
	cancel()
	<-done
	if h.recovered[0] != "preserve evidence" {
		t.Errorf("recovered = %q", h.recovered)
	}
}
