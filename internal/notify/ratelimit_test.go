package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var _ LimitStore = (*sqlite.Store)(nil)

// limitedRecorder is a recorder that is Limited: it reaches keys.
type limitedRecorder struct {
	recorder
	keys []string
}

func (l *limitedRecorder) Recipients(Notification) []string { return l.keys }

func sev0(id string) alert.Alert {
	a := testAlert(id)
	a.Severity = alert.Sev0
	return a
}

// carriedIDs lists the alert IDs a notification carries.
func carriedIDs(n Notification) []string {
	if len(n.Coalesced) == 0 {
		return []string{n.Alert.ID}
	}
	var ids []string
	for _, c := range n.Coalesced {
		ids = append(ids, c.Alert.ID)
	}
	return ids
}

func waitN[T any](t *testing.T, ch <-chan T, n int, what string) []T {
	t.Helper()
	out := make([]T, 0, n)
	for range n {
		out = append(out, wait(t, ch, what))
	}
	return out
}

// TestRateLimitParse: the notify.rate_limits syntax.
func TestRateLimitParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RateLimit
		err  string
	}{
		{"1/5m", RateLimit{1, 5 * time.Minute}, ""},
		{" 100 / 1h ", RateLimit{100, time.Hour}, ""},
		{"off", RateLimit{}, ""},
		{"OFF", RateLimit{}, ""},
		{"0/5m", RateLimit{}, "count before /"},
		{"-1/5m", RateLimit{}, "count before /"},
		{"x/5m", RateLimit{}, "count before /"},
		{"1/five", RateLimit{}, "period after /"},
		{"1/0s", RateLimit{}, "period must be"},
		{"1/500ms", RateLimit{}, "period must be"},
		{"1/200h", RateLimit{}, "period must be"},
		{"5m", RateLimit{}, "COUNT/DURATION"},
		{"", RateLimit{}, "COUNT/DURATION"},
		{"2000000/1h", RateLimit{}, "count before /"},
	} {
		got, err := ParseRateLimit(tc.in, nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRateLimit(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRateLimit(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for l, want := range map[RateLimit]string{{1, 5 * time.Minute}: "1/5m", {100, time.Hour}: "100/1h", {3, 90 * time.Second}: "3/1m30s", {}: "off"} {
		if got := l.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", l, got, want)
		}
	}
}

// TestRateLimitBurst20SMS: a burst of 20 Sev0 alerts to one phone number,
// through the real SMS channel (Twilio API on loopback) and the real
// store, with an injectable clock. Azure sends the first and drops the
// rest for 5 minutes; breakglass sends exactly 2 SMS: the first alert at
// t0, and at t0+5m one SMS that counts the other 19, while the store
// shows each held delivery waiting with the reason and the time, no
// attempt counted.
func TestRateLimitBurst20SMS(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	twilio := newAPIReceiver(t, func(i int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, fmt.Sprintf("SM%032d", i)) })
	env := phoneEnv()
	env.Render = testRenderer(t, Templates{}).Render
	sms := build(t, twilioSMS(twilio.srv.URL, testTo1), env)

	// Deliveries are created at the store's real time: the clock starts
	// an hour ahead so that every one is due.
	t0 := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	clk := &clock{t: t0}
	log, _ := testLogger(t)
	var mu sync.Mutex
	limited := map[string]int{}
	d := NewDispatcher(st, map[string]Notifier{"ops/sms": sms}, Options{
		Now: clk.Now, Logger: log, Poll: 10 * time.Millisecond, LimitStore: st,
		ObserveLimit: func(target, result string, n int) { mu.Lock(); limited[target+" "+result] += n; mu.Unlock() },
	})
	start(t, d)
	add := func(id string) {
		a := sev0(id)
		if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte(`{}`)}, []string{"ops/sms"}); err != nil {
			t.Fatal(err)
		}
	}
	add("burst-01")
	d.Wake()
	waitFor(t, "the first SMS", func() bool { return len(twilio.requests()) == 1 })
	var ids []string
	for i := 2; i <= 20; i++ {
		id := fmt.Sprintf("burst-%02d", i)
		ids = append(ids, id)
		add(id)
	}
	d.Wake()
	next := t0.Add(5 * time.Minute)
	waitFor(t, "19 deliveries held by the limit", func() bool {
		n := 0
		for _, id := range ids {
			dels, _ := st.AlertDeliveries(ctx, id)
			if len(dels) == 1 && dels[0].NextAttempt.Equal(next) {
				n++
			}
		}
		return n == 19
	})
	for _, id := range ids {
		dels, _ := st.AlertDeliveries(ctx, id)
		del := dels[0]
		want := "rate limit: 1 SMS per 5m to +4712345678; coalesced, next at " + next.Format("15:04:05") + " UTC"
		if del.Attempts != 0 || del.LastError != want || !IsRateLimitReason(del.LastError) || !del.Delivered.IsZero() || !del.DeadAt.IsZero() {
			t.Errorf("%s: attempts %d, last error %q, delivered %v, dead %v; want 0, %q, waiting", id, del.Attempts, del.LastError, del.Delivered, del.DeadAt, want)
		}
	}
	if n := len(twilio.requests()); n != 1 {
		t.Fatalf("%d SMS before the limit allows the next; want 1", n)
	}

	clk.Set(next)
	d.Wake()
	waitFor(t, "the coalesced SMS", func() bool { depth, _ := st.OutboxDepth(ctx); return depth == 0 })
	reqs := twilio.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d SMS for a burst of 20; want exactly 2", len(reqs))
	}
	first, second := reqs[0].form(t).Get("Body"), reqs[1].form(t).Get("Body")
	t.Logf("SMS 1: %s\nSMS 2: %s", first, second)
	if strings.Contains(first, "alerts in one") || !strings.Contains(first, "BREAK-GLASS Sev0") {
		t.Errorf("first SMS is not the single first alert: %q", first)
	}
	if !strings.Contains(second, "19 alerts in one") || !strings.Contains(second, "19 bg.signin") || len(second) > MaxShort {
		t.Errorf("second SMS does not count the 19 held alerts: %q", second)
	}
	for _, id := range append([]string{"burst-01"}, ids...) {
		dels, _ := st.AlertDeliveries(ctx, id)
		if len(dels) != 1 || dels[0].Delivered.IsZero() {
			t.Errorf("%s not delivered: %+v", id, dels)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if limited["ops/sms "+ResultRateLimited] != 19 || limited["ops/sms "+ResultCoalesced] != 19 {
		t.Errorf("ObserveLimit = %v; want 19 rate limited and 19 coalesced", limited)
	}
}

// waitFor polls cond until it holds or fails the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRateLimitQueuedBurstOneMessage: 20 alerts already queued when the
// dispatcher starts all fit the one SMS allowed now: one message carries
// them all, oldest first, and nothing waits.
func TestRateLimitQueuedBurstOneMessage(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	var want []string
	for i := range 20 {
		id := fmt.Sprintf("q%02d", i)
		want = append(want, id)
		ob.add(sev0(id), store.StatusFiring, "ops/sms", clk.Now().Add(time.Duration(i-20)*time.Second))
	}
	rec := &limitedRecorder{keys: []string{RecipientKey(LimitSMS, testTo1)}}
	log, _ := testLogger(t)
	start(t, NewDispatcher(ob, map[string]Notifier{"ops/sms": rec}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond}))
	waitN(t, ob.complete, 20, "completions")
	sent := rec.sent()
	if len(sent) != 1 {
		t.Fatalf("%d messages; want 1 carrying all 20", len(sent))
	}
	if got := carriedIDs(sent[0]); !slices.Equal(got, want) {
		t.Errorf("carried %v; want %v (oldest first)", got, want)
	}
	if !strings.HasPrefix(sent[0].ID, "coalesced-") {
		t.Errorf("ID %q", sent[0].ID)
	}
}

// TestRateLimitRecipientsIndependent: two numbers have their own limits;
// two channels to the same number share its limit.
func TestRateLimitRecipientsIndependent(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	a := &limitedRecorder{keys: []string{"sms:+4711111111"}}
	b := &limitedRecorder{keys: []string{"sms:+4722222222"}}
	a2 := &limitedRecorder{keys: []string{"sms:+4711111111"}} // another group, same person
	log, _ := testLogger(t)
	start(t, NewDispatcher(ob, map[string]Notifier{"g1/a": a, "g1/b": b, "g2/a": a2}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond}))
	ob.add(sev0("x1"), store.StatusFiring, "g1/a", clk.Now())
	wait(t, ob.complete, "the first to +4711111111")
	ob.add(sev0("x1"), store.StatusFiring, "g1/b", clk.Now())
	wait(t, ob.complete, "the first to +4722222222: its own limit")
	ob.add(sev0("x1"), store.StatusFiring, "g2/a", clk.Now())
	r := wait(t, ob.retried, "the second channel to +4711111111 to wait")
	if r.Attempts != 0 || !r.Next.Equal(clk.Now().Add(5*time.Minute)) || !strings.Contains(r.LastErr, "+4711111111") {
		t.Errorf("held %+v; want no attempt, next in 5m, naming the number", r)
	}
	if len(a.sent()) != 1 || len(b.sent()) != 1 || len(a2.sent()) != 0 {
		t.Errorf("sent a=%d b=%d a2=%d; want 1 1 0", len(a.sent()), len(b.sent()), len(a2.sent()))
	}
	clk.Set(clk.Now().Add(5 * time.Minute))
	ob.add(sev0("x2"), store.StatusFiring, "g1/b", clk.Now()) // wakes the claim
	waitN(t, ob.complete, 2, "both after 5m")
	if len(a2.sent()) != 1 || len(b.sent()) != 2 {
		t.Errorf("after 5m sent a2=%d b=%d; want 1 2", len(a2.sent()), len(b.sent()))
	}
}

// TestRateLimitEmail100PerHour: 150 alerts to one address within the
// hour: 99 emails alone, the 100th carries the other 51, and nothing more
// goes to that address within the hour.
func TestRateLimitEmail100PerHour(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	for i := range 150 {
		ob.add(sev0(fmt.Sprintf("e%03d", i)), store.StatusFiring, "ops/email", clk.Now().Add(time.Duration(i-150)*time.Millisecond))
	}
	rec := &limitedRecorder{keys: []string{RecipientKey(LimitEmail, "Ops@Example.com")}}
	log, _ := testLogger(t)
	start(t, NewDispatcher(ob, map[string]Notifier{"ops/email": rec}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond}))
	waitN(t, ob.complete, 150, "completions")
	sent := rec.sent()
	if len(sent) != 100 {
		t.Fatalf("%d emails; want 100, the limit", len(sent))
	}
	seen := map[string]int{}
	sizes := map[int]int{}
	for _, n := range sent {
		ids := carriedIDs(n)
		sizes[len(ids)]++
		for _, id := range ids {
			seen[id]++
		}
	}
	if sizes[1] != 99 || sizes[51] != 1 {
		t.Errorf("emails by alerts carried: %v; want 99 alone and one carrying the remaining 51", sizes)
	}
	if got := len(carriedIDs(sent[99])); got != 51 {
		t.Errorf("the last email carries %d; want the remaining 51", got)
	}
	for i := range 150 {
		if id := fmt.Sprintf("e%03d", i); seen[id] != 1 {
			t.Errorf("%s sent %d times", id, seen[id])
		}
	}
	// One more within the hour waits for the hour; it is not sent.
	ob.add(sev0("late"), store.StatusFiring, "ops/email", clk.Now())
	r := wait(t, ob.retried, "the 151st to wait")
	if want := "rate limit: 100 emails per 1h to ops@example.com"; !strings.HasPrefix(r.LastErr, want) || !r.Next.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("held %+v; want %q, next in 1h", r, want)
	}
}

// TestRateLimitPersisted: the limiter's state is in the store, so a new
// Dispatcher (a restarted daemon) on it does not send a second SMS within
// the 5 minutes.
func TestRateLimitPersisted(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	clk := &clock{t: t0}
	add := func(id string) {
		a := sev0(id)
		if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte(`{}`)}, []string{"ops/sms"}); err != nil {
			t.Fatal(err)
		}
	}
	log, _ := testLogger(t)
	run := func(rec *limitedRecorder) (*Dispatcher, func()) {
		d := NewDispatcher(st, map[string]Notifier{"ops/sms": rec}, Options{Now: clk.Now, Logger: log, Poll: 10 * time.Millisecond, LimitStore: st, Owner: "daemon"})
		return d, start(t, d)
	}
	first := &limitedRecorder{keys: []string{RecipientKey(LimitSMS, testTo1)}}
	d, stop := run(first)
	add("p1")
	d.Wake()
	waitFor(t, "the first SMS", func() bool { depth, _ := st.OutboxDepth(ctx); return depth == 0 })
	stop()
	if c, ok, err := st.Condition(ctx, LimitRule, "sms:"+testTo1); err != nil || !ok || !strings.Contains(string(c.Data), t0.Format("2006-01-02T15:04:05")) {
		t.Fatalf("persisted state %+v %v %v; want the send at %v", c, ok, err, t0)
	}

	clk.Set(t0.Add(time.Minute))
	second := &limitedRecorder{keys: first.keys}
	d, _ = run(second)
	add("p2")
	d.Wake()
	waitFor(t, "p2 to wait for the limit", func() bool {
		dels, _ := st.AlertDeliveries(ctx, "p2")
		return len(dels) == 1 && strings.HasPrefix(dels[0].LastError, "rate limit:")
	})
	dels, _ := st.AlertDeliveries(ctx, "p2")
	if !dels[0].NextAttempt.Equal(t0.Add(5*time.Minute)) || len(second.sent()) != 0 {
		t.Errorf("after a restart: next %v, %d sent; want %v and none", dels[0].NextAttempt, len(second.sent()), t0.Add(5*time.Minute))
	}
	clk.Set(t0.Add(5 * time.Minute))
	d.Wake()
	waitFor(t, "p2 sent at t0+5m", func() bool { return len(second.sent()) == 1 })
}

// TestRateLimitCoalescedFailureRetriesAll: a coalesced send that fails is
// retried for every carried delivery together (one attempt each, the same
// time), the failed send does not use up the limit, and the retry carries
// them all again.
func TestRateLimitCoalescedFailureRetriesAll(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	for i := range 5 {
		ob.add(sev0(fmt.Sprintf("f%d", i)), store.StatusFiring, "ops/sms", clk.Now())
	}
	rec := &limitedRecorder{keys: []string{RecipientKey(LimitSMS, testTo1)}}
	var calls int
	rec.fail = func(Notification) error {
		calls++
		if calls == 1 {
			return errors.New("HTTP 503 from the provider")
		}
		return nil
	}
	log, _ := testLogger(t)
	start(t, NewDispatcher(ob, map[string]Notifier{"ops/sms": rec}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond}))
	rs := waitN(t, ob.retried, 5, "five retries")
	for _, r := range rs {
		if r.Attempts != 1 || !r.Next.Equal(rs[0].Next) || !strings.Contains(r.LastErr, "503") {
			t.Errorf("retry %+v; want attempt 1, next %v like the others, the provider's error", r, rs[0].Next)
		}
	}
	if !rs[0].Next.Before(clk.Now().Add(5 * time.Minute)) {
		t.Errorf("retry at %v: the failed send used up the 5-minute limit", rs[0].Next)
	}
	clk.Set(rs[0].Next) // the next poll claims them
	waitN(t, ob.complete, 5, "completions")
	sent := rec.sent()
	if len(sent) != 2 || len(sent[0].Coalesced) != 5 || len(sent[1].Coalesced) != 5 || sent[0].ID != sent[1].ID || sent[1].Attempt != 2 {
		for _, n := range sent {
			t.Logf("sent %s attempt %d carrying %v", n.ID, n.Attempt, carriedIDs(n))
		}
		t.Errorf("sent %d messages; want the same 5 coalesced twice, attempt 2 the second time", len(sent))
	}
}

// TestRateLimitWaitIsNotGiveUp: give_up_after shorter than the limit's
// period: a held Sev0 is sent when the limit allows, and a failure then is
// retried, not dead-lettered, since the wait was the limit's, not a
// failure.
func TestRateLimitWaitIsNotGiveUp(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	rec := &limitedRecorder{keys: []string{RecipientKey(LimitSMS, testTo1)}}
	failNext := false
	var mu sync.Mutex
	rec.fail = func(Notification) error {
		mu.Lock()
		defer mu.Unlock()
		if failNext {
			failNext = false
			return errors.New("timeout")
		}
		return nil
	}
	log, _ := testLogger(t)
	start(t, NewDispatcher(ob, map[string]Notifier{"ops/sms": rec}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond, GiveUpAfter: time.Minute}))
	ob.add(sev0("g1"), store.StatusFiring, "ops/sms", clk.Now())
	wait(t, ob.complete, "g1")
	held := ob.add(sev0("g2"), store.StatusFiring, "ops/sms", clk.Now())
	r := wait(t, ob.retried, "g2 held")
	mu.Lock()
	failNext = true
	mu.Unlock()
	clk.Set(r.Next) // 5m later: past give_up_after
	ob.add(sev0("wake"), store.StatusFiring, "ops/gone", clk.Now().Add(time.Hour))
	rr := wait(t, ob.retried, "g2's failed send retried")
	if rr.ID != held || rr.Attempts != 1 || ob.isDead(held) {
		t.Fatalf("after a failure past give_up_after: %+v dead=%v; want retried (attempt 1), not dead", rr, ob.isDead(held))
	}
	clk.Set(rr.Next)
	ob.add(sev0("wake2"), store.StatusFiring, "ops/gone", clk.Now().Add(time.Hour))
	if id := wait(t, ob.complete, "g2 delivered"); id != held {
		t.Errorf("completed %d, want %d", id, held)
	}
}

// TestRateLimitOff: with a kind off, a burst goes out one message each.
func TestRateLimitOff(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	for i := range 20 {
		ob.add(sev0(fmt.Sprintf("o%02d", i)), store.StatusFiring, "ops/sms", clk.Now())
	}
	rec := &limitedRecorder{keys: []string{RecipientKey(LimitSMS, testTo1)}}
	log, _ := testLogger(t)
	limits := DefaultRateLimits()
	limits[LimitSMS] = RateLimit{}
	start(t, NewDispatcher(ob, map[string]Notifier{"ops/sms": rec}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond, RateLimits: limits}))
	waitN(t, ob.complete, 20, "completions")
	if sent := rec.sent(); len(sent) != 20 || len(sent[0].Coalesced) != 0 {
		t.Errorf("%d messages; want 20 single ones with sms: off", len(sent))
	}
}

// TestRateLimitVoiceResolvedNotCounted: a resolution a voice channel does
// not phone uses no call of the limit.
func TestRateLimitVoiceResolvedNotCounted(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	twilio := newAPIReceiver(t, func(i int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, fmt.Sprintf("CA%032d", i)) })
	v := build(t, &VoiceConfig{URL: twilio.srv.URL, To: []string{testTo1}, From: testFrom, AccountSID: testSID, AuthToken: testToken}, phoneEnv())
	log, _ := testLogger(t)
	start(t, NewDispatcher(ob, map[string]Notifier{"ops/voice": v}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond}))
	ob.add(sev0("r1"), store.StatusResolved, "ops/voice", clk.Now())
	wait(t, ob.complete, "the resolution (not phoned)")
	ob.add(sev0("v1"), store.StatusFiring, "ops/voice", clk.Now())
	wait(t, ob.complete, "the call, not held by the resolution")
	if n := len(twilio.requests()); n != 1 {
		t.Errorf("%d calls; want 1", n)
	}
}

// FuzzParseRateLimit: any input is a limit or an error, never a panic,
// and an accepted limit reads back the same from its String.
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"1/5m", "100/1h", "off", "0/1s", "1/", "/5m", "9999999999999999999/1h", "1/-5m", "1/1e9h", " 3 / 90s "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseRateLimit(s, nil)
		if err != nil {
			return
		}
		if !l.Off() && (l.Count < 1 || l.Per < MinLimitPer || l.Per > MaxLimitPer) {
			t.Fatalf("ParseRateLimit(%q) = %+v: out of bounds", s, l)
		}
		back, err := ParseRateLimit(l.String(), nil)
		if err != nil || back != l {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, l, l.String(), back, err)
		}
	})
}

// memConditions is a LimitStore in memory that can fail.
type memConditions struct {
	mu   sync.Mutex
	c    map[string]store.Condition
	fail error
}

func (m *memConditions) Condition(_ context.Context, rule, key string) (store.Condition, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.Condition{}, false, m.fail
	}
	c, ok := m.c[rule+"/"+key]
	return c, ok, nil
}

func (m *memConditions) SetCondition(_ context.Context, c store.Condition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.c[c.Rule+"/"+c.Key] = c
	return nil
}

// TestRateLimiterStoredState: what the store holds cannot hold a page
// back for longer than the limit's period, and a store that cannot be read
// lets the message go (one too many is better than one too few).
func TestRateLimiterStoredState(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	key := RecipientKey(LimitSMS, testTo1)
	log, _ := testLogger(t)
	for _, tc := range []struct {
		name     string
		data     string
		fail     error
		wantNext time.Time // zero: allowed now
	}{
		{"none", "", nil, time.Time{}},
		{"recent", `{"sent":["2026-07-01T11:58:00Z"]}`, nil, now.Add(3 * time.Minute)},
		{"old", `{"sent":["2026-07-01T11:50:00Z"]}`, nil, time.Time{}},
		{"future (clock set back)", `{"sent":["2027-01-01T00:00:00Z"]}`, nil, now.Add(5 * time.Minute)},
		{"garbage", `{"sent":"yesterday"`, nil, time.Time{}},
		{"unreadable store", "", errors.New("disk I/O error"), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memConditions{c: map[string]store.Condition{}, fail: tc.fail}
			if tc.data != "" {
				m.c[LimitRule+"/"+key] = store.Condition{Rule: LimitRule, Key: key, Data: []byte(tc.data)}
			}
			r := newRateLimiter(DefaultRateLimits(), m, newLogLimiter(log, time.Minute))
			left, block, held := r.take(ctx, []string{key}, now)
			switch {
			case tc.wantNext.IsZero() && (block != nil || left != 1 || len(held) != 1):
				t.Errorf("left %d block %+v held %v; want allowed now", left, block, held)
			case !tc.wantNext.IsZero() && (block == nil || !block.next.Equal(tc.wantNext)):
				t.Errorf("block %+v; want next %v", block, tc.wantNext)
			}
		})
	}
}

// TestRateLimitHoldKeepsEarlierError: a delivery that failed before and
// is then held by the limit still shows the failure behind the wait, once
// however often it is held.
func TestRateLimitHoldKeepsEarlierError(t *testing.T) {
	clk := newClock()
	ob := newFakeOutbox()
	rec := &limitedRecorder{keys: []string{RecipientKey(LimitSMS, testTo1)}}
	log, _ := testLogger(t)
	start(t, NewDispatcher(ob, map[string]Notifier{"ops/sms": rec}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond}))
	ob.add(sev0("h1"), store.StatusFiring, "ops/sms", clk.Now())
	wait(t, ob.complete, "h1")
	for _, prev := range []string{
		"HTTP 503 from api.twilio.com",
		"rate limit: 1 SMS per 5m to +4712345678; coalesced, next at 12:00:00 UTC (earlier attempt failed: HTTP 503 from api.twilio.com)",
	} {
		ob.mu.Lock()
		ob.nextID++
		id := ob.nextID
		ob.alerts["h-"+fmt.Sprint(id)] = sev0("h-" + fmt.Sprint(id))
		ob.dels[id] = &store.Delivery{ID: id, AlertID: "h-" + fmt.Sprint(id), Status: store.StatusFiring, Target: "ops/sms",
			NextAttempt: clk.Now(), Created: clk.Now(), Attempts: 1, LastError: prev}
		ob.mu.Unlock()
		r := wait(t, ob.retried, "the held delivery")
		if strings.Count(r.LastErr, "earlier attempt failed: HTTP 503 from api.twilio.com") != 1 || !IsRateLimitReason(r.LastErr) || r.Attempts != 1 {
			t.Errorf("after %q: held with %q, attempts %d; want the wait and the earlier failure once, attempts kept", prev, r.LastErr, r.Attempts)
		}
	}
}

// TestRateLimitBurst1000OneWindow: a burst of 1,000 Sev0 alerts to one
// phone number (1 SMS per 5m) is carried by the message sent now and the
// one the next window allows: none waits for a third window because the
// in-memory queue of the target is shorter than the burst.
func TestRateLimitBurst1000OneWindow(t *testing.T) {
	clk := newClock()
	t0 := clk.Now()
	ob := newFakeOutbox()
	const n = 1000
	for i := range n {
		ob.add(sev0(fmt.Sprintf("b%04d", i)), store.StatusFiring, "ops/sms", t0.Add(time.Duration(i-n)*time.Millisecond))
	}
	rec := &limitedRecorder{keys: []string{RecipientKey(LimitSMS, testTo1)}}
	log, _ := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"ops/sms": rec}, Options{Now: clk.Now, Logger: log, Poll: 5 * time.Millisecond})
	start(t, d)
	completed := func() int {
		c := 0
		for id := int64(1); id <= n; id++ {
			if ob.isCompleted(id) {
				c++
			}
		}
		return c
	}
	waitFor(t, "the first SMS", func() bool { return len(rec.sent()) >= 1 })
	// Let the dispatcher claim the rest and hold them for the next window.
	waitFor(t, "the rest held for the next window", func() bool {
		ob.mu.Lock()
		defer ob.mu.Unlock()
		held := 0
		for _, del := range ob.dels {
			if _, done := ob.completed[del.ID]; !done && del.NextAttempt.After(t0) {
				held++
			}
		}
		return held+completedLocked(ob) == n
	})
	clk.Set(t0.Add(5 * time.Minute))
	d.Wake()
	deadline := time.Now().Add(5 * time.Second)
	for completed() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		d.Wake()
	}
	sent := rec.sent()
	carried := 0
	for _, m := range sent {
		carried += len(carriedIDs(m))
	}
	t.Logf("%d messages carried %d alerts; %d of %d delivered by the second window", len(sent), carried, completed(), n)
	if got := completed(); got != n {
		t.Errorf("%d of %d alerts delivered by the second window (5m later); the rest wait for later windows", got, n)
	}
	if len(sent) > 2 {
		t.Errorf("%d SMS within two windows of a 1/5m limit; want at most 2", len(sent))
	}
}

func completedLocked(f *fakeOutbox) int { return len(f.completed) }
