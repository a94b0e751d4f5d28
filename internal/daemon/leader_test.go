package daemon

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/membership"
	"breakglass/internal/posture"
	"breakglass/internal/store"
	"breakglass/internal/store/backend"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/watch"
)

// auditRun is one scheduled audit, by which replica and when.
type auditRun struct {
	replica string
	at      time.Time
}

// auditLog is the shared record of every replica's audits.
type auditLog struct {
	mu   sync.Mutex
	runs []auditRun
}

func (l *auditLog) list() []auditRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.runs)
}

// countingAuditor records each run of one replica in the shared log.
type countingAuditor struct {
	replica string
	log     *auditLog
}

func (a *countingAuditor) Audit(context.Context) (*posture.Report, error) {
	a.log.mu.Lock()
	a.log.runs = append(a.log.runs, auditRun{a.replica, time.Now()})
	a.log.mu.Unlock()
	return cloudOnly(posture.StatusPass)()
}

// Timings of the leadership test: short, but with room for a loaded
// machine (a renewal is one store write every ttl/3).
// The interval is longer than a takeover takes, so that a new holder
// auditing at once (AuditDelay after taking over, not when the schedule
// says) would show as two audits within one interval.
const (
	leadTTL      = 900 * time.Millisecond
	leadInterval = 2 * time.Second
)

// replicaConfig is one replica's configuration on the shared store.
func replicaConfig(t *testing.T, dir, storeYAML string) *config.Config {
	t.Helper()
	text := fmt.Sprintf("accounts:\n  - id: %s\n    upn: %s\n%sserver:\n  listen: 127.0.0.1:0\nevidence:\n  heads_file: %s\nlog:\n  level: debug\n",
		bgID, bgUPN, storeYAML, filepath.Join(dir, "heads"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

// TestLeadershipSQLite and TestLeadershipPostgres: three replicas share
// one store. The scheduled posture audit runs on one of them, once per
// interval across all three; when its holder dies without releasing the
// lease (a crash: the lease is left to expire), another takes over within
// the TTL and a third of it (the dead holder's last renewal, then the
// next try), continuing the schedule: no interval has two runs.
func TestLeadershipSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bg.db")
	leadershipTest(t, "store:\n  path: "+db+"\n")
}

func TestLeadershipPostgres(t *testing.T) {
	srv := pgtest.StartT(t)
	dsn, err := srv.Schema("leadership")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BG_LEAD_PG_DSN", dsn)
	leadershipTest(t, "store:\n  driver: postgres\n  dsn: ${BG_LEAD_PG_DSN}\n")
}

func leadershipTest(t *testing.T, storeYAML string) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	log := &auditLog{}
	replicas := map[string]*running{}
	names := []string{"r1", "r2", "r3"}
	for _, name := range names {
		cfg := replicaConfig(t, t.TempDir(), storeYAML)
		replicas[name] = start(t, cfg, Options{
			Auditor: &countingAuditor{replica: name, log: log}, AuditDelay: 10 * time.Millisecond,
			AuditInterval: leadInterval, LeaseTTL: leadTTL, KeepLeases: true,
		})
	}
	cfg := replicas["r1"].d.cfg
	st, err := backend.Open(context.Background(), cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	holder := func() string {
		for _, name := range names {
			if r := replicas[name]; r.cancel != nil && r.d.lead.el.Held() {
				return name
			}
		}
		return ""
	}
	debug := func() string {
		var b strings.Builder
		for _, run := range log.list() {
			fmt.Fprintf(&b, "%s %s\n", run.at.Format("15:04:05.000"), run.replica)
		}
		return b.String()
	}
	alive := slices.Clone(names)
	var kills []time.Time
	for round := range 2 {
		// The holder audits a few times; nobody else does.
		waitFor(t, 10*time.Second, "a holder", func() bool { return holder() != "" }, debug)
		h := holder()
		n := len(log.list())
		waitFor(t, 20*leadInterval, "two audits by the holder", func() bool { return len(log.list()) >= n+2 }, debug)
		for _, run := range log.list()[n:] {
			if run.replica != h {
				t.Errorf("round %d: %s audited while %s held the lease", round, run.replica, h)
			}
		}
		li, err := st.Lease(context.Background(), schedulerLease)
		if err != nil || li.Owner != replicas[h].d.lead.owner {
			t.Fatalf("round %d: Lease = %+v, %v; want %s's", round, li, err, h)
		}
		// /readyz says who does the work; a stand-by is ready too.
		for _, name := range alive {
			code, body := get(t, "http://"+replicas[name].d.Addr().String()+"/readyz")
			if code != 200 {
				t.Errorf("%s /readyz %d: %s", name, code, body)
			}
			want := "stands by"
			if name == h {
				want = "held by this replica"
			}
			if !strings.Contains(body, want) {
				t.Errorf("%s /readyz = %q, want it to say %q", name, body, want)
			}
			_, metrics := get(t, "http://"+replicas[name].d.Addr().String()+"/metrics")
			wantGauge := `breakglass_lease_held{lease="scheduler"} 0`
			if name == h {
				wantGauge = `breakglass_lease_held{lease="scheduler"} 1`
			}
			if !strings.Contains(metrics, wantGauge) {
				t.Errorf("%s /metrics lacks %s", name, wantGauge)
			}
		}
		// Kill it at a random moment early in an interval (so that the
		// takeover comes well before the next audit is due), leaving the
		// lease to expire.
		k := len(log.list())
		waitFor(t, 20*leadInterval, "an audit to kill after", func() bool { return len(log.list()) > k }, debug)
		time.Sleep(time.Duration(rng.Int64N(int64(leadInterval - leadTTL - leadTTL/3 - 300*time.Millisecond))))
		killed := time.Now()
		kills = append(kills, killed)
		replicas[h].stop(t)
		alive = slices.DeleteFunc(alive, func(s string) bool { return s == h })
		waitFor(t, 10*time.Second, "a new holder", func() bool { return holder() != "" }, debug)
		took := time.Since(killed)
		nh := holder()
		t.Logf("round %d: %s killed; %s took over after %v", round, h, nh, took.Round(time.Millisecond))
		if max := leadTTL + leadTTL/3 + 500*time.Millisecond; took > max {
			t.Errorf("round %d: takeover took %v, want within the TTL and a third (%v) and some slack", round, took, leadTTL+leadTTL/3)
		}
		li2, err := st.Lease(context.Background(), schedulerLease)
		if err != nil || li2.Owner != replicas[nh].d.lead.owner || li2.Epoch <= li.Epoch {
			t.Errorf("round %d: after the takeover Lease = %+v, %v; want %s's in a later term than %d", round, li2, err, nh, li.Epoch)
		}
		m := len(log.list())
		waitFor(t, 20*leadInterval, "an audit by the new holder", func() bool { return len(log.list()) > m }, debug)
		if r := log.list()[m]; r.replica != nh {
			t.Errorf("round %d: first audit after the kill by %s, want %s", round, r.replica, nh)
		}
	}
	// Let the last holder audit once more, then check the whole history.
	m := len(log.list())
	waitFor(t, 20*leadInterval, "a last audit", func() bool { return len(log.list()) > m }, debug)
	runs := log.list()
	for i := 1; i < len(runs); i++ {
		gap := runs[i].at.Sub(runs[i-1].at)
		// The schedule is kept by when each audit was marked started,
		// a store write before the audit itself: 100ms covers the
		// jitter of that write and of timer wake-ups on a loaded machine.
		if gap < leadInterval-100*time.Millisecond {
			t.Errorf("two audits within one interval: %s at %s and %s at %s (%v apart, interval %v)",
				runs[i-1].replica, runs[i-1].at.Format("15:04:05.000"), runs[i].replica, runs[i].at.Format("15:04:05.000"), gap, leadInterval)
		}
		// And no interval was skipped for longer than a takeover takes.
		if gap > leadInterval+leadTTL+leadTTL/3+time.Second {
			t.Errorf("no audit for %v between %s and %s", gap, runs[i-1].at.Format("15:04:05.000"), runs[i].at.Format("15:04:05.000"))
		}
	}
	per := map[string]int{}
	for _, r := range runs {
		per[r.replica]++
	}
	losses := map[string]int{}
	for name, r := range replicas {
		losses[name] = strings.Count(r.logs.String(), "lost leadership for scheduler")
	}
	t.Logf("%d audits: %v; kills at %v; leadership lost (killed or not) %v", len(runs), per, kills, losses)
	if len(per) != 3 {
		t.Errorf("audits by %v, want all three replicas in turn", per)
	}
}

// blockingAuditor passes the cloud-only check in its first audit; its
// second reports that it starts on started, waits until release is
// closed, and fails the check: a drift, if it is recorded.
type blockingAuditor struct {
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	runs    int
}

func (a *blockingAuditor) Audit(ctx context.Context) (*posture.Report, error) {
	a.mu.Lock()
	a.runs++
	n := a.runs
	a.mu.Unlock()
	switch n {
	case 1:
		return cloudOnly(posture.StatusPass)()
	case 2:
		close(a.started)
		select {
		case <-a.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return cloudOnly(posture.StatusFail)()
}

// TestFencedAudit: a replica whose lease passed to another while its audit
// ran (it froze, say) drops the report instead of recording stale
// verdicts over the new leader's, and raises nothing for it: not the
// drift the report shows (pass, then fail), and not a failed audit.
func TestFencedAudit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	cfg := e.config(t, "")
	a := &blockingAuditor{started: make(chan struct{}), release: make(chan struct{})}
	r := start(t, cfg, Options{Auditor: a, AuditDelay: 10 * time.Millisecond, AuditInterval: 100 * time.Millisecond, LeaseTTL: 3 * time.Second})
	select {
	case <-a.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no audit started")
	}
	st := r.d.st
	// Another replica has the lease now.
	if err := st.ReleaseLease(ctx, schedulerLease, r.d.lead.owner); err != nil {
		t.Fatal(err)
	}
	if held, err := st.AcquireLease(ctx, schedulerLease, "breakglass-other", time.Hour); err != nil || !held {
		t.Fatalf("AcquireLease by another = %v, %v", held, err)
	}
	close(a.release)
	waitFor(t, 10*time.Second, "the term to end", func() bool { return !r.d.lead.el.Held() }, r.logs.String)
	for _, rule := range []string{watch.RulePosture, watch.RuleSource} {
		if as, err := st.Alerts(ctx, store.AlertFilter{Rule: rule}); err != nil || len(as) != 0 {
			t.Errorf("%s alerts = %d, %v; want none from a stale leader's audit", rule, len(as), err)
		}
	}
	if !strings.Contains(r.logs.String(), "lost leadership for scheduler") {
		t.Errorf("log lacks the loss:\n%s", r.logs)
	}
}

// countingLister answers every Graph query with nothing, counting them.
type countingLister struct{ calls atomic.Int64 }

func (l *countingLister) Get(context.Context, graph.Version, string, graph.Query, any) error {
	l.calls.Add(1)
	return nil
}

func (l *countingLister) List(_ context.Context, _ graph.Version, _ string, _ graph.Query, fn func([]json.RawMessage) error) error {
	l.calls.Add(1)
	return fn(nil)
}

// TestGraphSourceOnLeaderOnly: of two replicas only the leader polls the
// tenant's sign-ins; the other is ready and never calls the source
// silent, though it reads nothing. When the leader dies the other polls,
// and its silence is judged from the takeover: no bg.silence either.
func TestGraphSourceOnLeaderOnly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bg.db")
	body := "store:\n  path: " + db + "\ngraph:\n  auth: access_token\nsources:\n  - type: graph\n    name: tenant\n    poll: 50ms\n    max_silence: 700ms\n"
	listers := map[string]*countingLister{"r1": {}, "r2": {}}
	rs := map[string]*running{}
	for _, name := range []string{"r1", "r2"} {
		rs[name] = start(t, replicaConfig(t, t.TempDir(), body), Options{Graph: listers[name], LeaseTTL: 600 * time.Millisecond, KeepLeases: true})
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { return rs["r1"].d.lead.el.Held() || rs["r2"].d.lead.el.Held() })
	lead, other := "r1", "r2"
	if rs["r2"].d.lead.el.Held() {
		lead, other = "r2", "r1"
	}
	time.Sleep(1500 * time.Millisecond) // two max_silences
	if n := listers[other].calls.Load(); n != 0 || rs[other].d.lead.el.Held() {
		t.Fatalf("%s (not the leader) made %d Graph calls", other, n)
	}
	if listers[lead].calls.Load() == 0 {
		t.Fatalf("the leader %s made no Graph calls", lead)
	}
	if code, body := get(t, "http://"+rs[other].d.Addr().String()+"/readyz"); code != 200 {
		t.Errorf("%s (stand-by) /readyz %d: %s", other, code, body)
	}
	rs[lead].stop(t)
	waitFor(t, 10*time.Second, other+" polling", func() bool { return listers[other].calls.Load() > 0 }, rs[other].logs.String)
	time.Sleep(1500 * time.Millisecond)
	as, err := rs[other].d.st.Alerts(context.Background(), store.AlertFilter{Rule: watch.RuleSilence})
	if err != nil || len(as) != 0 {
		t.Errorf("bg.silence alerts = %d, %v; want none: the source was polled by one replica at all times", len(as), err)
	}
}

// TestGroupsRefreshedByLeader: only the leader reads the break-glass
// groups from Graph on schedule; a stand-by applies the members the
// leader stored, as often, so a member added to the group is watched on
// every replica though only one asks Graph.
func TestGroupsRefreshedByLeader(t *testing.T) {
	e1, e2 := newEnv(t), newEnv(t)
	e2.db = e1.db
	rcv := newReceiver(t)
	membersPath := "/v1.0" + membership.Path(bgGroup)
	gs1, gs2 := graphtest.New(t), graphtest.New(t)
	gs1.Collection(membersPath, []any{memberItem(1)}, 0)
	gs2.Collection(membersPath, []any{memberItem(1)}, 0)
	o := Options{GroupRefresh: 100 * time.Millisecond, AuditDelay: time.Hour, LeaseTTL: time.Second}
	o1, o2 := o, o
	o1.Graph, o2.Graph = graphClientFor(t, gs1), graphClientFor(t, gs2)
	r1 := start(t, e1.groupConfig(t, rcv.srv.URL, "", ""), o1)
	waitFor(t, 10*time.Second, "r1 leading", r1.d.lead.el.Held)
	r2 := start(t, e2.groupConfig(t, rcv.srv.URL, "", ""), o2)
	startReads := gs2.Count(membersPath) // every replica reads once at start
	// The group grows; only the leader's Graph says so.
	gs1.Collection(membersPath, []any{memberItem(1), memberItem(2)}, 0)
	addr := r2.ingest(t)
	i := 0
	waitFor(t, 10*time.Second, "the stand-by to watch the added member", func() bool {
		i++
		post(t, addr, []byte(signInBy(memberID(2), memberUPN(2), fmt.Sprintf("s2-%d", i))))
		as, err := r2.d.st.Alerts(context.Background(), store.AlertFilter{Rule: "bg.signin", AccountID: memberID(2)})
		return err == nil && len(as) > 0
	}, r2.logs.String)
	time.Sleep(300 * time.Millisecond) // three more refreshes
	if n := gs2.Count(membersPath); n != startReads {
		t.Errorf("the stand-by read the group %d times after its start, want 0: the leader refreshes", n-startReads)
	}
	if gs1.Count(membersPath) < 3 {
		t.Errorf("the leader read the group %d times, want it refreshing", gs1.Count(membersPath))
	}
}

// TestLeaseTroubleUnready: a replica that cannot reach the scheduler
// lease (here its table is gone) for longer than the TTL stops the work
// and is not ready, saying why, since it cannot tell whether anyone does
// the work; it is ready and leading again once the lease can be taken.
func TestLeaseTroubleUnready(t *testing.T) {
	e := newEnv(t)
	r := start(t, e.config(t, ""), Options{LeaseTTL: 600 * time.Millisecond})
	ready := "http://" + r.d.Addr().String() + "/readyz"
	waitFor(t, 10*time.Second, "leading", r.d.lead.el.Held)
	db, err := sql.Open("sqlite", "file:"+e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE leases RENAME TO leases_gone`); err != nil {
		t.Fatal(err)
	}
	var body string
	waitFor(t, 10*time.Second, "readyz 503", func() bool {
		var code int
		code, body = get(t, ready)
		return code == 503
	}, r.logs.String)
	if !strings.Contains(body, "scheduler lease cannot be taken or renewed") {
		t.Errorf("readyz body %q does not say why", body)
	}
	if r.d.lead.el.Held() {
		t.Error("still leading without a lease")
	}
	if _, err := db.Exec(`ALTER TABLE leases_gone RENAME TO leases`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "readyz 200 and leading again", func() bool {
		code, _ := get(t, ready)
		return code == 200 && r.d.lead.el.Held()
	}, r.logs.String)
}
