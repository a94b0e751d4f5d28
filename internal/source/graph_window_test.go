package source

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/graph"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/store"
)

// fakeTenant is a Graph tenant behind graphtest: v1.0 interactive sign-ins
// answered by their createdDateTime window, everything else empty, and a
// switch that refuses one query with 403 as Graph does for a missing
// permission.
type fakeTenant struct {
	srv *graphtest.Server

	mu      sync.Mutex
	signIns []graphRecord
	refuse  func(filter string) bool
	windows []window // of every v1.0 sign-in request, in order
}

type graphRecord struct {
	at   time.Time
	json string
}

type window struct {
	from, to time.Time // to is zero when unbounded
}

var (
	geRE = regexp.MustCompile(`(?:createdDateTime|activityDateTime) ge (\S+)`)
	leRE = regexp.MustCompile(`(?:createdDateTime|activityDateTime) le (\S+)`)
)

func newFakeTenant(t *testing.T) *fakeTenant {
	ft := &fakeTenant{srv: graphtest.New(t)}
	serve := func(signIns bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			filter := r.URL.Query().Get("$filter")
			ft.mu.Lock()
			refuse := ft.refuse != nil && ft.refuse(filter)
			var win window
			if m := geRE.FindStringSubmatch(filter); m != nil {
				win.from, _ = time.Parse(time.RFC3339, m[1])
			} else {
				t.Errorf("query without a lower time bound: %s", filter)
			}
			if m := leRE.FindStringSubmatch(filter); m != nil {
				win.to, _ = time.Parse(time.RFC3339, m[1])
			}
			var items []json.RawMessage
			if signIns {
				ft.windows = append(ft.windows, win)
				for _, rec := range ft.signIns {
					if !rec.at.Before(win.from) && (win.to.IsZero() || !rec.at.After(win.to)) {
						items = append(items, json.RawMessage(rec.json))
					}
				}
			}
			ft.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if refuse {
				w.WriteHeader(http.StatusForbidden)
				json.NewEncoder(w).Encode(graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
				return
			}
			if items == nil {
				items = []json.RawMessage{}
			}
			json.NewEncoder(w).Encode(map[string]any{"value": items})
		}
	}
	ft.srv.Handle("/v1.0/auditLogs/signIns", serve(true))
	ft.srv.Handle("/beta/auditLogs/signIns", serve(false))
	ft.srv.Handle("/v1.0/auditLogs/directoryAudits", serve(false))
	return ft
}

func (ft *fakeTenant) client(t *testing.T) *graph.Client {
	c, err := graph.New(graph.Options{BaseURL: ft.srv.URL, Tokens: graph.StaticToken("test-token"), SignInBudget: -1, MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (ft *fakeTenant) add(at time.Time, rec string) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.signIns = append(ft.signIns, graphRecord{at, rec})
}

func (ft *fakeTenant) setRefuse(f func(string) bool) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.refuse = f
}

func (ft *fakeTenant) takeWindows() []window {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	w := ft.windows
	ft.windows = nil
	return w
}

// TestGraphRefusedQueryDoesNotPinOthers: one query refused (403) while the
// others advance; it becomes Failing exactly once, at the threshold, naming
// the query and the error, and Recovered exactly once when Graph answers
// again. Alive is told only of polls in which every query worked.
func TestGraphRefusedQueryDoesNotPinOthers(t *testing.T) {
	acct := testAccounts()[0]
	ft := newFakeTenant(t)
	ft.setRefuse(func(f string) bool { return strings.Contains(f, "targetResources") })
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := start
	cp := newMemCheckpoints()
	sink := newTestSink()
	src, err := NewGraph(GraphOptions{Name: "tenant", Accounts: testAccounts()[:1], Now: func() time.Time { return clock }}, ft.client(t), cp)
	if err != nil {
		t.Fatal(err)
	}
	refused := "directoryAudits/target/" + acct.ID
	signIns := "signIns/interactive/" + acct.ID
	for poll := 1; poll <= 6; poll++ {
		if poll == 2 {
			ft.add(clock.Add(-time.Minute), graphSignIn("cccccccc-0000-4000-8000-000000000003", acct.ID, clock.Add(-time.Minute)))
		}
		if poll == 5 {
			ft.setRefuse(nil)
		}
		err := src.Poll(t.Context(), sink)
		if poll < 5 && (err == nil || !strings.Contains(err.Error(), refused)) {
			t.Fatalf("poll %d: error %v, want one naming %s", poll, err, refused)
		}
		if poll >= 5 && err != nil {
			t.Fatalf("poll %d: %v", poll, err)
		}
		// The working query advanced every poll; the refused one never
		// until it worked.
		if c, ok, _ := cp.Checkpoint(t.Context(), "tenant", signIns); !ok || !time.Unix(0, c.Offset).Equal(clock) {
			t.Errorf("poll %d: checkpoint of %s = %v %v, want %v", poll, signIns, time.Unix(0, c.Offset).UTC(), ok, clock)
		}
		// The refused query's start stays where it first was: when it
		// works again it reads from there, not from "now".
		c, ok, _ := cp.Checkpoint(t.Context(), "tenant", refused)
		wantCP := start
		if poll >= 5 {
			wantCP = clock
		}
		if !ok || !time.Unix(0, c.Offset).Equal(wantCP) {
			t.Errorf("poll %d: refused query's checkpoint %v (%v), want %v", poll, time.Unix(0, c.Offset).UTC(), ok, wantCP)
		}
		ev := sink.eventList()
		var wantEvents int
		switch {
		case poll < DefaultFailThreshold:
			wantEvents = 0
		case poll < 5:
			wantEvents = 1
		default:
			wantEvents = 2
		}
		if len(ev) != wantEvents {
			t.Fatalf("poll %d: events %q, want %d", poll, ev, wantEvents)
		}
		if wantEvents >= 1 && (!strings.HasPrefix(ev[0], "failing tenant "+refused+": ") || !strings.Contains(ev[0], "403") ||
			!strings.Contains(ev[0], "Authorization_RequestDenied")) {
			t.Errorf("failing event %q does not name the query and the error", ev[0])
		}
		if wantEvents == 2 && ev[1] != "recovered tenant "+refused {
			t.Errorf("second event %q, want recovery of %s", ev[1], refused)
		}
		wantAlive := max(0, poll-4)
		if n := sink.aliveCount("tenant"); n != wantAlive {
			t.Errorf("poll %d: Alive %d times, want %d", poll, n, wantAlive)
		}
		clock = clock.Add(time.Hour) // longer than Overlap over the refusal: a sliding start would skip time
	}
	if got := sink.alertIDs(); len(got) != 1 || got[0] != alert.Key("cccccccc-0000-4000-8000-000000000003", "bg.signin") {
		t.Errorf("alerts %v: the sign-in during the refusal was not raised once", got)
	}
}

// TestGraphCatchUpInChunks: a source five days behind reads at most
// MaxWindow (plus the overlap) per query and poll, each window starting
// before the last one ended (no gap), and finds a sign-in from far back.
func TestGraphCatchUpInChunks(t *testing.T) {
	acct := testAccounts()[0]
	ft := newFakeTenant(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := now
	old := graphSignIn("dddddddd-0000-4000-8000-000000000004", acct.ID, now.Add(-4*24*time.Hour-12*time.Hour))
	ft.add(now.Add(-4*24*time.Hour-12*time.Hour), old)
	older := graphSignIn("eeeeeeee-0000-4000-8000-000000000005", acct.ID, now.Add(-2*24*time.Hour-30*time.Minute))
	ft.add(now.Add(-2*24*time.Hour-30*time.Minute), older)
	cp := newMemCheckpoints()
	// Earlier versions kept one checkpoint for all queries: every query
	// starts from it.
	cp.SetCheckpoint(t.Context(), store.Checkpoint{Source: "tenant", Key: "graph", Offset: now.Add(-5 * 24 * time.Hour).UnixNano()})
	sink := newTestSink()
	const maxWindow, overlap = 24 * time.Hour, 2 * time.Hour
	src, err := NewGraph(GraphOptions{Name: "tenant", Accounts: testAccounts()[:1], MaxWindow: maxWindow, Overlap: overlap,
		Now: func() time.Time { return clock }}, ft.client(t), cp)
	if err != nil {
		t.Fatal(err)
	}
	var all []window
	for poll := 1; poll <= 10; poll++ {
		if err := src.Poll(t.Context(), sink); err != nil {
			t.Fatal(err)
		}
		all = append(all, ft.takeWindows()...)
		c, _, _ := cp.Checkpoint(t.Context(), "tenant", "signIns/interactive/"+acct.ID)
		if time.Unix(0, c.Offset).Equal(clock) {
			break
		}
		clock = clock.Add(time.Minute)
	}
	if len(all) < 5 || len(all) > 7 {
		t.Fatalf("%d windows to catch up five days in one-day chunks: %+v", len(all), all)
	}
	prevTo := now.Add(-5 * 24 * time.Hour)
	for i, w := range all {
		last := i == len(all)-1
		if !last && w.to.IsZero() {
			t.Fatalf("window %d unbounded while behind: %+v", i, w)
		}
		if last && !w.to.IsZero() {
			t.Fatalf("last window still bounded: %+v", w)
		}
		if !w.to.IsZero() && w.to.Sub(w.from) > maxWindow+overlap {
			t.Errorf("window %d spans %v, more than MaxWindow+Overlap", i, w.to.Sub(w.from))
		}
		if w.from.After(prevTo) {
			t.Errorf("gap before window %d: previous ended %v, this starts %v", i, prevTo, w.from)
		}
		prevTo = w.to
	}
	want := []string{alert.Key("dddddddd-0000-4000-8000-000000000004", "bg.signin"), alert.Key("eeeeeeee-0000-4000-8000-000000000005", "bg.signin")}
	if got := sink.alertIDs(); len(got) != 2 || !contains(got, want[0]) || !contains(got, want[1]) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	if d := sink.duplicates(); len(d) > 0 {
		t.Errorf("alerted more than once: %v", d)
	}
	if ev := sink.eventList(); len(ev) != 0 {
		t.Errorf("catching up raised %q", ev)
	}
	// Every query has its own checkpoint now: the single one of earlier
	// versions is gone, and so is that of an account no longer watched.
	if _, ok, _ := cp.Checkpoint(t.Context(), "tenant", "graph"); ok {
		t.Error("the legacy checkpoint survived")
	}
	cp.SetCheckpoint(t.Context(), store.Checkpoint{Source: "tenant", Key: "signIns/interactive/removed-account", Offset: 1})
	src2, _ := NewGraph(GraphOptions{Name: "tenant", Accounts: testAccounts()[:1], Now: func() time.Time { return clock }}, ft.client(t), cp)
	if err := src2.Poll(t.Context(), sink); err != nil {
		t.Fatal(err)
	}
	if got := cp.keys("tenant"); len(got) != 4 {
		t.Errorf("checkpoints %q, want the four queries' only", got)
	}
}

// TestGraphRetentionGap: a checkpoint older than Graph's retention is a
// gap: Failing at once for each query, naming the retention, then the
// source catches up from the oldest readable time and Recovered follows
// only once it is current.
func TestGraphRetentionGap(t *testing.T) {
	ft := newFakeTenant(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := now
	cp := newMemCheckpoints()
	cp.SetCheckpoint(t.Context(), store.Checkpoint{Source: "tenant", Key: "graph", Offset: now.Add(-40 * 24 * time.Hour).UnixNano()})
	sink := newTestSink()
	src, err := NewGraph(GraphOptions{Name: "tenant", Accounts: testAccounts()[:1], MaxWindow: 10 * 24 * time.Hour,
		Now: func() time.Time { return clock }}, ft.client(t), cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Poll(t.Context(), sink); err != nil {
		t.Fatal(err)
	}
	ev := sink.eventList()
	if len(ev) != 4 {
		t.Fatalf("events after the first poll %q, want one Failing per query", ev)
	}
	for _, e := range ev {
		if !strings.HasPrefix(e, "failing tenant ") || !strings.Contains(e, "30-day retention") || !strings.Contains(e, "can no longer be read") {
			t.Errorf("gap event %q", e)
		}
	}
	if w := ft.takeWindows(); len(w) != 1 || w[0].from.Before(now.Add(-30*24*time.Hour)) {
		t.Errorf("first window %+v reaches before the retention", w)
	}
	for poll := 2; poll <= 3; poll++ {
		clock = clock.Add(time.Minute)
		if err := src.Poll(t.Context(), sink); err != nil {
			t.Fatal(err)
		}
		if ev := sink.eventList(); len(ev) != 4 {
			t.Fatalf("poll %d, still catching up: events %q", poll, ev)
		}
	}
	clock = clock.Add(time.Minute)
	if err := src.Poll(t.Context(), sink); err != nil { // reaches now
		t.Fatal(err)
	}
	ev = sink.eventList()
	if len(ev) != 8 {
		t.Fatalf("events after catching up %q, want one Recovered per query", ev)
	}
	for _, e := range ev[4:] {
		if !strings.HasPrefix(e, "recovered tenant ") {
			t.Errorf("event %q, want a recovery", e)
		}
	}
	clock = clock.Add(time.Minute)
	src.Poll(t.Context(), sink)
	if n := len(sink.eventList()); n != 8 {
		t.Errorf("%d events after another poll, want no more", n)
	}
}
