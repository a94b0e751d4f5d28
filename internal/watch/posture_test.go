package watch

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/posture"
)

const bg1 = "bg1@contoso.onmicrosoft.com"

func res(check string, st posture.Status) posture.Result {
	return posture.Result{Check: check, Title: check + " title", Status: st, Severity: posture.SeverityCritical,
		AccountID: "0d3c0000-0000-4000-8000-000000000001", AccountUPN: bg1,
		Message: check + " is " + string(st), Remediation: posture.Remediation{Summary: "fix " + check, Portal: "Entra admin center > Users"}}
}

func report(rs ...posture.Result) *posture.Report {
	return &posture.Report{Tenant: posture.TenantInfo{ID: "tenant-1"}, Results: rs}
}

// TestPostureDrift walks one result through runs and says what each step
// raises: only good → bad alerts; bad → good resolves; skip in between
// keeps the good verdict; a result that never passed does not alert; a
// result no longer reported resolves its drift.
func TestPostureDrift(t *testing.T) {
	type step struct {
		name         string
		rep          *posture.Report
		wantFiring   int // bg.posture alerts stored so far
		wantResolved int // resolutions queued so far
	}
	pass, fail, skip, accepted, errored := posture.StatusPass, posture.StatusFail, posture.StatusSkip, posture.StatusAccepted, posture.StatusError
	steps := []step{
		{"first run: cloud-only passes, tenant check fails (never passed)", report(res("cloud-only", pass), res("global-admin-count", fail)), 0, 0},
		{"cloud-only now fails: drift", report(res("cloud-only", fail), res("global-admin-count", fail)), 1, 0},
		{"still failing: same episode", report(res("cloud-only", fail)), 1, 0},
		{"passes again: resolved", report(res("cloud-only", pass)), 1, 1},
		{"data unavailable: nothing", report(res("cloud-only", skip)), 1, 1},
		{"error after the skip: drift from the pass before it", report(res("cloud-only", errored)), 2, 1},
		{"accepted by an exception: resolved", report(res("cloud-only", accepted)), 2, 2},
		{"fails again from accepted: drift", report(res("cloud-only", fail)), 3, 2},
		{"account removed from the list: resolved", report(), 3, 3},
	}
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	conds := NewMemConditions()
	opts := Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: conds, Route: To("t/webhook"), Now: c.now, Tenant: "tenant-1"}
	coverage := 0
	for i, s := range steps {
		// A restart between every run: the state lives in the conditions.
		p := New(opts)
		c.add(6 * time.Hour)
		if err := p.Posture().Observe(ctx, s.rep); err != nil {
			t.Fatalf("step %d %s: %v", i, s.name, err)
		}
		if got := fs.count(RulePosture); got != s.wantFiring {
			t.Errorf("step %d %s: %d bg.posture alerts, want %d", i, s.name, got, s.wantFiring)
		}
		resolved := 0
		for _, r := range fs.resolved() {
			if !strings.HasPrefix(r, coverageID(fs)) {
				resolved++
			}
		}
		if resolved != s.wantResolved {
			t.Errorf("step %d %s: %d resolutions, want %d", i, s.name, resolved, s.wantResolved)
		}
		// Only the skip after a pass makes the coverage bg.source fire.
		if n := fs.count(RuleSource); n != coverage+boolInt(s.rep.Results != nil && len(s.rep.Results) == 1 && s.rep.Results[0].Status == skip) {
			t.Errorf("step %d %s: %d coverage bg.source alerts", i, s.name, n)
		} else {
			coverage = n
		}
		p.Close()
	}
	if coverage != 1 || len(fs.resolved()) != 4 {
		t.Errorf("coverage bg.source: %d raised, resolutions %v", coverage, fs.resolved())
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, a := range fs.alerts {
		if a.Rule == RuleSource {
			if !strings.Contains(a.Title, "cloud-only for "+bg1) || !strings.Contains(a.Title, "can no longer be evaluated") {
				t.Errorf("coverage title %q", a.Title)
			}
			continue
		}
		if a.Rule != RulePosture || a.Severity != alert.Sev1 || a.AccountUPN != bg1 || a.Labels[LabelCheck] != "cloud-only" ||
			a.Labels[alert.LabelAccount] == "" || a.Labels[alert.LabelSource] != PostureSource || a.Labels[alert.LabelTenant] != "tenant-1" {
			t.Errorf("alert fields/labels: %+v", a)
		}
		if !strings.HasPrefix(a.Title, "Posture drift: cloud-only ") || !strings.HasSuffix(a.Title, " for "+bg1) {
			t.Errorf("title %q", a.Title)
		}
		if a.Annotations["remediation"] != "fix cloud-only" || !strings.Contains(a.Annotations["message"], "cloud-only is") {
			t.Errorf("annotations %v", a.Annotations)
		}
	}
}

// TestPostureAuditFailedRaisesSource: a run that cannot complete raises
// bg.source for the posture source once, resolved by the next run.
func TestPostureAuditFailedRaisesSource(t *testing.T) {
	ctx := context.Background()
	fs := &fakeStore{}
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Route: To("t/webhook")})
	defer p.Close()
	p.Posture().AuditFailed(ctx, context.DeadlineExceeded)
	p.Posture().AuditFailed(ctx, context.DeadlineExceeded)
	if n := fs.count(RuleSource); n != 1 {
		t.Fatalf("%d bg.source alerts, want 1", n)
	}
	p.Posture().AuditRan(ctx)
	if n := len(fs.resolved()); n != 1 {
		t.Fatalf("%d resolutions, want 1", n)
	}
}

// TestPostureMetrics: the results gauge has one series per status, set
// from the last run, and the last-run time.
func TestPostureMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, func(context.Context) (int, error) { return 0, nil }, nil, func(string) (time.Time, bool) { return time.Time{}, false })
	c := newClock()
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: &fakeStore{}, Metrics: m, Now: c.now})
	defer p.Close()
	odd := res("x", "made-up")
	if err := p.Posture().Observe(context.Background(), report(res("a", posture.StatusPass), res("b", posture.StatusFail), res("c", posture.StatusPass), odd)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.posture.results.WithLabelValues("pass")); got != 2 {
		t.Errorf("pass = %v", got)
	}
	if got := testutil.ToFloat64(m.posture.results.WithLabelValues("fail")); got != 1 {
		t.Errorf("fail = %v", got)
	}
	if got := testutil.ToFloat64(m.posture.lastRun); got != float64(c.now().Unix()) {
		t.Errorf("last run = %v", got)
	}
	if n := testutil.CollectAndCount(m.posture.results); n != len(posture.Statuses) {
		t.Errorf("%d status series, want %d (bounded)", n, len(posture.Statuses))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// coverageID is the id of the coverage bg.source alert, if raised.
func coverageID(fs *fakeStore) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, a := range fs.alerts {
		if a.Rule == RuleSource {
			return id
		}
	}
	return "\x00none"
}

// TestPostureDriftAccountStopsResolving: an account configured by UPN
// resolves (results carry its object id), then is deleted or renamed: the
// audit names it by the configured UPN only. That is drift of the
// accounts check (it passed, it now errors) and must alert; the drifts
// and verdicts of its other checks must not be dropped as if the account
// had left the configuration.
func TestPostureDriftAccountStopsResolving(t *testing.T) {
	const id = "0d3c0000-0000-4000-8000-000000000001"
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	conds := NewMemConditions()
	opts := Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: conds, Route: To("t/webhook"), Now: c.now, Tenant: "tenant-1"}
	resolved := func(rs ...posture.Result) *posture.Report {
		rep := report(rs...)
		rep.Accounts = []posture.AccountInfo{{Entry: "accounts[0] upn " + bg1, ID: id, UPN: bg1, Resolved: true}}
		return rep
	}
	gone := func(rs ...posture.Result) *posture.Report {
		rep := report(rs...)
		rep.Accounts = []posture.AccountInfo{{Entry: "accounts[0] upn " + bg1, UPN: bg1, Reason: "no such user"}}
		for i := range rep.Results {
			rep.Results[i].AccountID = ""
		}
		return rep
	}
	steps := []struct {
		name         string
		rep          *posture.Report
		wantFiring   int
		wantResolved int
	}{
		{"resolved, all pass", resolved(res("accounts", posture.StatusPass), res("cloud-only", posture.StatusPass)), 0, 0},
		{"cloud-only drifts", resolved(res("accounts", posture.StatusPass), res("cloud-only", posture.StatusFail)), 1, 0},
		{"account deleted: accounts drifts, cloud-only drift stays open", gone(res("accounts", posture.StatusError), res("cloud-only", posture.StatusSkip)), 2, 0},
		{"still gone: same episodes", gone(res("accounts", posture.StatusError), res("cloud-only", posture.StatusSkip)), 2, 0},
		{"recreated and fixed: both resolve", resolved(res("accounts", posture.StatusPass), res("cloud-only", posture.StatusPass)), 2, 2},
	}
	for i, s := range steps {
		p := New(opts)
		c.add(6 * time.Hour)
		if err := p.Posture().Observe(ctx, s.rep); err != nil {
			t.Fatalf("step %d %s: %v", i, s.name, err)
		}
		if got := fs.count(RulePosture); got != s.wantFiring {
			t.Errorf("step %d %s: %d bg.posture alerts, want %d", i, s.name, got, s.wantFiring)
		}
		resolvedN := 0
		for _, r := range fs.resolved() {
			if !strings.HasPrefix(r, coverageID(fs)) {
				resolvedN++
			}
		}
		if resolvedN != s.wantResolved {
			t.Errorf("step %d %s: %d resolutions, want %d", i, s.name, resolvedN, s.wantResolved)
		}
		p.Close()
	}
}

// TestPostureDriftCheckLosesAccountResults: a check that crashes gives one
// tenant-wide error instead of its per-account results. The account is
// still configured, so its open drift must stay open (not "no longer
// reported") and its pass must survive: the next fail is drift.
func TestPostureDriftCheckLosesAccountResults(t *testing.T) {
	const id = "0d3c0000-0000-4000-8000-000000000001"
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	opts := Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: NewMemConditions(), Route: To("t/webhook"), Now: c.now, Tenant: "tenant-1"}
	rep := func(rs ...posture.Result) *posture.Report {
		r := report(rs...)
		r.Accounts = []posture.AccountInfo{{Entry: "accounts[0] id " + id, ID: id, UPN: bg1, Resolved: true}}
		return r
	}
	crashed := posture.Result{Check: "cloud-only", Status: posture.StatusError, Message: "check cloud-only crashed"}
	steps := []struct {
		name                     string
		rep                      *posture.Report
		wantFiring, wantResolved int
	}{
		{"passes", rep(res("cloud-only", posture.StatusPass), res("no-personal-methods", posture.StatusPass)), 0, 0},
		{"no-personal-methods drifts", rep(res("cloud-only", posture.StatusPass), res("no-personal-methods", posture.StatusFail)), 1, 0},
		{"both checks crash", rep(crashed, posture.Result{Check: "no-personal-methods", Status: posture.StatusError, Message: "crashed"}), 1, 0},
		{"cloud-only fails after the crash: drift", rep(res("cloud-only", posture.StatusFail), res("no-personal-methods", posture.StatusFail)), 2, 0},
	}
	for i, s := range steps {
		p := New(opts)
		c.add(6 * time.Hour)
		if err := p.Posture().Observe(ctx, s.rep); err != nil {
			t.Fatalf("step %d %s: %v", i, s.name, err)
		}
		if got := fs.count(RulePosture); got != s.wantFiring {
			t.Errorf("step %d %s: %d bg.posture alerts, want %d", i, s.name, got, s.wantFiring)
		}
		n := 0
		for _, r := range fs.resolved() {
			if !strings.HasPrefix(r, coverageID(fs)) {
				n++
			}
		}
		if n != s.wantResolved {
			t.Errorf("step %d %s: %d resolutions, want %d", i, s.name, n, s.wantResolved)
		}
		if i == 2 && fs.count(RuleSource) == 0 {
			t.Errorf("step %d %s: no bg.source for the results that can no longer be seen", i, s.name)
		}
		p.Close()
	}
}

// TestPostureDriftGroupUnreadable: the audit cannot list the members of a
// break-glass group (Graph outage, permission revoked, group emptied): its
// members are missing from the report. They are still break-glass
// accounts: an open drift stays open, a pass survives (a fail after the
// outage is drift), and the blind spot raises bg.source.
func TestPostureDriftGroupUnreadable(t *testing.T) {
	const (
		gid = "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0"
		m1  = "0d3c0000-0000-4000-8000-000000000001"
		m2  = "0d3c0000-0000-4000-8000-000000000002"
	)
	member := func(id, upn, check string, st posture.Status) posture.Result {
		r := res(check, st)
		r.AccountID, r.AccountUPN = id, upn
		return r
	}
	members := func(rs ...posture.Result) *posture.Report {
		rep := report(rs...)
		rep.Accounts = []posture.AccountInfo{
			{Entry: "groups[0] id " + gid, ID: m1, UPN: "m1@contoso.onmicrosoft.com", Resolved: true},
			{Entry: "groups[0] id " + gid, ID: m2, UPN: "m2@contoso.onmicrosoft.com", Resolved: true},
		}
		return rep
	}
	unreadable := &posture.Report{Tenant: posture.TenantInfo{ID: "tenant-1"},
		Accounts: []posture.AccountInfo{{Entry: "groups[0] id " + gid, ID: gid, Reason: "its members could not be listed: 403 Authorization_RequestDenied"}},
		Results:  []posture.Result{{Check: "accounts", Status: posture.StatusError, AccountID: gid, Message: "does not resolve"}}}
	steps := []struct {
		name                     string
		rep                      *posture.Report
		wantFiring, wantResolved int
		wantCoverage             bool
	}{
		{"both pass", members(member(m1, "m1@contoso.onmicrosoft.com", "cloud-only", posture.StatusPass), member(m2, "m2@contoso.onmicrosoft.com", "cloud-only", posture.StatusPass)), 0, 0, false},
		{"m1 drifts", members(member(m1, "m1@contoso.onmicrosoft.com", "cloud-only", posture.StatusFail), member(m2, "m2@contoso.onmicrosoft.com", "cloud-only", posture.StatusPass)), 1, 0, false},
		{"group unreadable: m1's drift stays open", unreadable, 1, 0, true},
		{"group back, m2 now fails: drift", members(member(m1, "m1@contoso.onmicrosoft.com", "cloud-only", posture.StatusFail), member(m2, "m2@contoso.onmicrosoft.com", "cloud-only", posture.StatusFail)), 2, 0, false},
	}
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	opts := Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: NewMemConditions(), Route: To("t/webhook"), Now: c.now, Tenant: "tenant-1"}
	for i, s := range steps {
		p := New(opts)
		c.add(6 * time.Hour)
		if err := p.Posture().Observe(ctx, s.rep); err != nil {
			t.Fatalf("step %d %s: %v", i, s.name, err)
		}
		if got := fs.count(RulePosture); got != s.wantFiring {
			t.Errorf("step %d %s: %d bg.posture alerts, want %d", i, s.name, got, s.wantFiring)
		}
		n := 0
		for _, r := range fs.resolved() {
			if !strings.HasPrefix(r, coverageID(fs)) {
				n++
			}
		}
		if n != s.wantResolved {
			t.Errorf("step %d %s: %d resolutions, want %d", i, s.name, n, s.wantResolved)
		}
		if s.wantCoverage && fs.count(RuleSource) == 0 {
			t.Errorf("step %d %s: no bg.source for the members that can no longer be seen", i, s.name)
		}
		p.Close()
	}
}

// failingVerdicts fails every write of the posture verdicts while broken.
type failingVerdicts struct {
	*MemConditions
	mu     sync.Mutex
	broken bool
}

func (f *failingVerdicts) SetCondition(ctx context.Context, c Condition) error {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken && c.Rule == postureStateRule {
		return errors.New("disk I/O error")
	}
	return f.MemConditions.SetCondition(ctx, c)
}

// TestPostureRecordFailureRaisesSource: when the verdicts cannot be
// stored, every later run has no history and no fail is drift: that must
// not be a log line only. Record raises bg.source (posture/audit) and
// resolves it once a run is recorded.
func TestPostureRecordFailureRaisesSource(t *testing.T) {
	ctx := context.Background()
	fs := &fakeStore{}
	conds := &failingVerdicts{MemConditions: NewMemConditions(), broken: true}
	c := newClock()
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: conds, Route: To("t/webhook"), Now: c.now})
	defer p.Close()
	if err := p.Posture().Record(ctx, report(res("cloud-only", posture.StatusPass))); err == nil {
		t.Fatal("Record hid the store error")
	}
	if n := fs.count(RuleSource); n != 1 {
		t.Fatalf("%d bg.source alerts, want 1", n)
	}
	conds.mu.Lock()
	conds.broken = false
	conds.mu.Unlock()
	c.add(time.Hour)
	if err := p.Posture().Record(ctx, report(res("cloud-only", posture.StatusPass))); err != nil {
		t.Fatal(err)
	}
	if n := len(fs.resolved()); n != 1 {
		t.Fatalf("%d resolutions, want 1", n)
	}
	c.add(time.Hour)
	if err := p.Posture().Record(ctx, report(res("cloud-only", posture.StatusFail))); err != nil {
		t.Fatal(err)
	}
	if n := fs.count(RulePosture); n != 1 {
		t.Errorf("%d bg.posture after the store recovered, want 1", n)
	}
}

// TestTenantPostureIsolated: two tenants' drift watchers share one store.
// The same tenant-wide check drifting in both is two alerts, each with its
// tenant; one tenant's report never resolves the
// other's drift; and a failed audit is that tenant's bg.source.
func TestTenantPostureIsolated(t *testing.T) {
	const ta, tb = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	ctx := context.Background()
	c := newClock()
	fs := &fakeStore{}
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: NewMemConditions(), Route: To("t/webhook"), Now: c.now})
	pa, pb := p.TenantPosture(ta), p.TenantPosture(tb)
	wide := func(st posture.Status) posture.Result {
		r := res("global-admin-count", st)
		r.AccountID, r.AccountUPN = "", ""
		return r
	}
	rep := func(tenant string, rs ...posture.Result) *posture.Report {
		return &posture.Report{Tenant: posture.TenantInfo{ID: tenant}, Results: rs}
	}
	for _, run := range []struct {
		w *Posture
		r *posture.Report
	}{{pa, rep(ta, wide(posture.StatusPass))}, {pb, rep(tb, wide(posture.StatusPass))}} {
		if err := run.w.Observe(ctx, run.r); err != nil {
			t.Fatal(err)
		}
	}
	c.add(time.Hour)
	if err := pa.Observe(ctx, rep(ta, wide(posture.StatusFail))); err != nil {
		t.Fatal(err)
	}
	if err := pb.Observe(ctx, rep(tb, wide(posture.StatusFail))); err != nil {
		t.Fatal(err)
	}
	if n := fs.count(RulePosture); n != 2 {
		t.Fatalf("%d bg.posture alerts for a drift in each tenant, want 2", n)
	}
	tenants := map[string]bool{}
	for _, a := range fs.alerts {
		if a.Rule == RulePosture {
			tenants[a.Labels[alert.LabelTenant]] = true
		}
	}
	if !tenants[ta] || !tenants[tb] {
		t.Errorf("drift alerts' tenants %v, want both", tenants)
	}
	// B's check passing again resolves B's drift only.
	if err := pb.Observe(ctx, rep(tb, wide(posture.StatusPass))); err != nil {
		t.Fatal(err)
	}
	if n := len(fs.resolved()); n != 1 {
		t.Errorf("%d resolutions after B's check passed again, want 1 (B's)", n)
	}
	// A's next run still sees its own drift open: no second alert.
	if err := pa.Observe(ctx, rep(ta, wide(posture.StatusFail))); err != nil {
		t.Fatal(err)
	}
	if n := fs.count(RulePosture); n != 2 {
		t.Errorf("%d bg.posture alerts after A's second failing run, want still 2", n)
	}
	// The unscoped watcher sees neither tenant's drifts.
	if err := p.Posture().ResolveAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fs.resolved()); n != 1 {
		t.Errorf("ResolveAll of the single-tenant watcher resolved a tenant's drift (%d resolutions)", n)
	}
	pa.AuditFailed(ctx, errors.New("token refused"))
	var src []alert.Alert
	for _, a := range fs.alerts {
		if a.Rule == RuleSource {
			src = append(src, a)
		}
	}
	if len(src) != 1 || !strings.Contains(src[0].Title, ta) {
		t.Errorf("bg.source of A's failed audit: %+v", src)
	}
}
