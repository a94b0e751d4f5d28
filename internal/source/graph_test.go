package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/graph"
)

// fakeGraph answers List from a script: per (version, path), the items to
// return on each call, and records every query.
type fakeGraph struct {
	mu      sync.Mutex
	signIns [][]string // v1.0 sign-ins, per poll
	poll    int
	fail    bool
	queries []string
}

func (f *fakeGraph) Get(context.Context, graph.Version, string, graph.Query, any) error {
	return errors.New("not used")
}

func (f *fakeGraph) List(ctx context.Context, v graph.Version, path string, q graph.Query, fn func([]json.RawMessage) error) error {
	f.mu.Lock()
	f.queries = append(f.queries, string(v)+" "+path+" "+q.Filter)
	fail := f.fail && path == "/auditLogs/directoryAudits"
	var items []string
	if v == graph.V1 && path == "/auditLogs/signIns" && strings.Contains(q.Filter, "userId eq ") && f.poll < len(f.signIns) {
		items = f.signIns[f.poll]
	}
	f.mu.Unlock()
	if fail {
		return errUnavailable
	}
	var raw []json.RawMessage
	for _, it := range items {
		raw = append(raw, json.RawMessage(it))
	}
	return fn(raw)
}

var errUnavailable = errors.New("503 ServiceUnavailable")

func graphSignIn(id, userID string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"createdDateTime":%q,"userId":%q,"userPrincipalName":"x@contoso.com","appDisplayName":"Azure Portal","status":{"errorCode":0},"isInteractive":true}`,
		id, at.UTC().Format(time.RFC3339), userID)
}

// TestGraphLateRecord: a sign-in that Graph returns only on a later poll,
// with an older createdDateTime, still alerts, and exactly once.
func TestGraphLateRecord(t *testing.T) {
	acct := testAccounts()[0]
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a := graphSignIn("aaaaaaaa-0000-4000-8000-000000000001", acct.ID, now.Add(-2*time.Minute))
	late := graphSignIn("bbbbbbbb-0000-4000-8000-000000000002", acct.ID, now.Add(-40*time.Minute))
	fg := &fakeGraph{signIns: [][]string{{a}, {a, late}, {a, late}}}
	cp := newMemCheckpoints()
	sink := newTestSink()
	clock := now
	src, err := NewGraph(GraphOptions{Name: "tenant", Accounts: testAccounts()[:1], Poll: time.Minute, Now: func() time.Time { return clock }}, fg, cp)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := src.Poll(context.Background(), sink); err != nil {
			t.Fatal(err)
		}
		fg.poll++
		clock = clock.Add(time.Minute)
	}
	want := []string{alert.Key("aaaaaaaa-0000-4000-8000-000000000001", "bg.signin"), alert.Key("bbbbbbbb-0000-4000-8000-000000000002", "bg.signin")}
	got := sink.alertIDs()
	if len(got) != 2 || !contains(got, want[0]) || !contains(got, want[1]) {
		t.Errorf("alerts = %v, want %v", got, want)
	}
	if d := sink.duplicates(); len(d) > 0 {
		t.Errorf("alerted more than once: %v", d)
	}
	// The second poll looked back Overlap (2h default) before the first.
	var second []string
	for _, q := range fg.queries {
		if strings.Contains(q, "createdDateTime ge "+now.Add(-2*time.Hour).Format("2006-01-02T15:04:05Z")) {
			second = append(second, q)
		}
	}
	if len(second) == 0 {
		t.Errorf("no query looked back the overlap window: %v", fg.queries[len(fg.queries)-4:])
	}
	// The checkpoint survives: a new source resumes from it.
	c, ok, _ := cp.Checkpoint(context.Background(), "tenant", "signIns/interactive/"+acct.ID)
	if !ok || time.Unix(0, c.Offset).UTC() != now.Add(2*time.Minute) {
		t.Errorf("checkpoint = %+v %v", c, ok)
	}
	src2, _ := NewGraph(GraphOptions{Name: "tenant", Accounts: testAccounts()[:1], Now: func() time.Time { return clock }}, fg, cp)
	fg.queries = nil
	src2.Poll(context.Background(), newTestSink())
	if !strings.Contains(fg.queries[0], "createdDateTime ge "+now.Add(2*time.Minute-2*time.Hour).Format("2006-01-02T15:04:05Z")) {
		t.Errorf("restarted source did not resume from the checkpoint: %s", fg.queries[0])
	}
}

// TestGraphFailedQueryKeepsWindow: when a query fails, its checkpoint
// does not advance (it stays at the start of its first poll), so the next
// poll covers the same window again; the other queries advance.
func TestGraphFailedQueryKeepsWindow(t *testing.T) {
	fg := &fakeGraph{fail: true}
	cp := newMemCheckpoints()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := start
	src, _ := NewGraph(GraphOptions{Name: "tenant", Accounts: testAccounts()[:1], Now: func() time.Time { return clock }}, fg, cp)
	sink := newTestSink()
	for range 2 {
		err := src.Poll(context.Background(), sink)
		if err == nil || !strings.Contains(err.Error(), errUnavailable.Error()) || !strings.Contains(err.Error(), "directoryAudits/target/") {
			t.Fatalf("Poll error = %v", err)
		}
		clock = clock.Add(time.Hour)
	}
	id := testAccounts()[0].ID
	for _, q := range []string{"directoryAudits/initiatedBy/" + id, "directoryAudits/target/" + id} {
		if c, _, _ := cp.Checkpoint(context.Background(), "tenant", q); !time.Unix(0, c.Offset).Equal(start) {
			t.Errorf("checkpoint of %s is %v after it failed, want its first start %v", q, time.Unix(0, c.Offset).UTC(), start)
		}
	}
	if c, _, _ := cp.Checkpoint(context.Background(), "tenant", "signIns/interactive/"+id); !time.Unix(0, c.Offset).Equal(start.Add(time.Hour)) {
		t.Error("a failing query held back the checkpoint of one that worked")
	}
	if n := sink.aliveCount("tenant"); n != 0 {
		t.Errorf("a failed poll was reported alive (%d)", n)
	}
}

// TestGraphQueries: the filters ask only about the accounts, interactive on
// v1.0 and non-interactive on beta, audits by and on the account, and escape
// quotes in UPNs.
func TestGraphQueries(t *testing.T) {
	fg := &fakeGraph{}
	src, _ := NewGraph(GraphOptions{Name: "g", Accounts: testAccounts()[:1]}, fg, newMemCheckpoints())
	src.o.Accounts = append(src.o.Accounts, testAccounts()[0])
	src.o.Accounts[1].ID, src.o.Accounts[1].UPN = "", "o'brien@contoso.com"
	src.Poll(context.Background(), newTestSink())
	joined := strings.Join(fg.queries, "\n")
	for _, want := range []string{
		"v1.0 /auditLogs/signIns createdDateTime ge ", "beta /auditLogs/signIns ", "signInEventTypes/any(t: t eq 'nonInteractiveUser')",
		"initiatedBy/user/id eq '" + testAccounts()[0].ID + "'", "targetResources/any(t:t/id eq '" + testAccounts()[0].ID + "')",
		"userPrincipalName eq 'o''brien@contoso.com'",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no query contains %q:\n%s", want, joined)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
