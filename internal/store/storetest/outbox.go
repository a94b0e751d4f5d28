package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

func notify(t *testing.T, st store.Store, a alert.Alert, targets ...string) bool {
	t.Helper()
	ins, err := st.AddAlertNotify(context.Background(), a, Evidence(a, rawFor(a.EventID)), targets)
	if err != nil {
		t.Fatalf("AddAlertNotify(%s, %q): %v", a.ID, targets, err)
	}
	return ins
}

func due(t *testing.T, st store.Store, now time.Time, limit int) []store.Delivery {
	t.Helper()
	ds, err := st.DueDeliveries(context.Background(), now, limit)
	if err != nil {
		t.Fatalf("DueDeliveries(%s, %d): %v", now, limit, err)
	}
	for _, d := range ds {
		if d.NextAttempt.Location() != time.UTC || d.Created.Location() != time.UTC {
			t.Errorf("delivery %d: times not in UTC: next %s, created %s", d.ID, d.NextAttempt, d.Created)
		}
		if d.Created.IsZero() {
			t.Errorf("delivery %d: Created is zero", d.ID)
		}
	}
	return ds
}

func depth(t *testing.T, st store.Store) int {
	t.Helper()
	n, err := st.OutboxDepth(context.Background())
	if err != nil {
		t.Fatalf("OutboxDepth: %v", err)
	}
	return n
}

func wantDepth(t *testing.T, st store.Store, want int) {
	t.Helper()
	if n := depth(t, st); n != want {
		t.Errorf("OutboxDepth = %d, want %d", n, want)
	}
}

// byKey indexes deliveries by "alert status target", which the store keeps
// unique.
func byKey(t *testing.T, ds []store.Delivery) map[string]store.Delivery {
	t.Helper()
	m := make(map[string]store.Delivery, len(ds))
	for _, d := range ds {
		k := d.AlertID + " " + d.Status + " " + d.Target
		if _, dup := m[k]; dup {
			t.Errorf("two deliveries for %s", k)
		}
		m[k] = d
	}
	return m
}

func deliveryIDs(ds []store.Delivery) []int64 {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// equalDeliveries reports how got differs from want, or "" if they are equal;
// times must be equal instants.
func equalDeliveries(got, want store.Delivery) string {
	var diffs []string
	if !got.NextAttempt.Equal(want.NextAttempt) {
		diffs = append(diffs, fmt.Sprintf("NextAttempt = %s, want %s", got.NextAttempt, want.NextAttempt))
	}
	if !got.Created.Equal(want.Created) {
		diffs = append(diffs, fmt.Sprintf("Created = %s, want %s", got.Created, want.Created))
	}
	if !got.LeaseUntil.Equal(want.LeaseUntil) {
		diffs = append(diffs, fmt.Sprintf("LeaseUntil = %s, want %s", got.LeaseUntil, want.LeaseUntil))
	}
	if !got.DeadAt.Equal(want.DeadAt) {
		diffs = append(diffs, fmt.Sprintf("DeadAt = %s, want %s", got.DeadAt, want.DeadAt))
	}
	got.NextAttempt, want.NextAttempt = time.Time{}, time.Time{}
	got.Created, want.Created = time.Time{}, time.Time{}
	got.LeaseUntil, want.LeaseUntil = time.Time{}, time.Time{}
	if !got.Delivered.Equal(want.Delivered) {
		diffs = append(diffs, fmt.Sprintf("Delivered = %s, want %s", got.Delivered, want.Delivered))
	}
	got.DeadAt, want.DeadAt = time.Time{}, time.Time{}
	got.Delivered, want.Delivered = time.Time{}, time.Time{}
	if got != want {
		diffs = append(diffs, fmt.Sprintf("got  %+v\nwant %+v", got, want))
	}
	if diffs == nil {
		return ""
	}
	return fmt.Sprint(diffs)
}

func (s suite) notifyOncePerTarget(t *testing.T) {
	st, _ := s.fresh(t)
	wantDepth(t, st, 0)
	if ds := due(t, st, time.Now().Add(time.Hour), 0); len(ds) != 0 {
		t.Fatalf("empty store has %d due deliveries", len(ds))
	}

	a := Alert("evt-1", "bg-signin", base)
	before := time.Now()
	if !notify(t, st, a, "oncall/webhook", "oncall/console", "oncall/webhook") {
		t.Fatal("AddAlertNotify of a new alert reported inserted=false")
	}
	if _, err := st.Alert(context.Background(), a.ID); err != nil {
		t.Fatalf("alert stored by AddAlertNotify: %v", err)
	}
	wantDepth(t, st, 2) // the repeated target is enqueued once
	// Due at once: a delivery waits for nothing but the dispatcher.
	ds := due(t, st, time.Now(), 0)
	got := byKey(t, ds)
	if len(ds) != 2 {
		t.Fatalf("due deliveries = %+v, want 2", ds)
	}
	for _, target := range []string{"oncall/webhook", "oncall/console"} {
		d, ok := got[a.ID+" firing "+target]
		if !ok {
			t.Errorf("no firing delivery of %s to %s in %+v", a.ID, target, ds)
			continue
		}
		if d.ID == 0 || d.Attempts != 0 || d.LastError != "" {
			t.Errorf("new delivery %+v: want an ID, no attempts, no error", d)
		}
		if d.Created.Before(before.Add(-time.Minute)) || d.NextAttempt.Before(before.Add(-time.Minute)) {
			t.Errorf("new delivery %+v: Created and NextAttempt should be about %s", d, before)
		}
	}
	if ds[0].ID == ds[1].ID {
		t.Errorf("deliveries share ID %d", ds[0].ID)
	}

	// A duplicate alert is not new, and enqueues nothing for the targets
	// that have it already; a target without it gets it.
	if notify(t, st, a, "oncall/webhook", "oncall/console") {
		t.Error("second AddAlertNotify of the same alert reported inserted=true")
	}
	wantDepth(t, st, 2)
	if notify(t, st, a, "oncall/webhook", "security/pager") {
		t.Error("third AddAlertNotify of the same alert reported inserted=true")
	}
	wantDepth(t, st, 3)
	if _, ok := byKey(t, due(t, st, time.Now(), 0))[a.ID+" firing security/pager"]; !ok {
		t.Error("a target new to an existing alert got no delivery")
	}

	// An alert first stored without notification (by scan, into the
	// daemon's store) is still notified when the daemon sees it: whoever
	// stored it first must not silence the others.
	b := Alert("evt-2", "bg-signin", base)
	add(t, st, b, rawFor("evt-2"))
	wantDepth(t, st, 3)
	if notify(t, st, b, "oncall/webhook") {
		t.Error("AddAlertNotify after AddAlert reported inserted=true")
	}
	wantDepth(t, st, 4)
	if notify(t, st, b, "oncall/webhook") {
		t.Error("AddAlertNotify after AddAlert reported inserted=true")
	}
	wantDepth(t, st, 4)

	// No targets is plain AddAlert.
	c := Alert("evt-3", "bg-signin", base)
	if !notify(t, st, c) {
		t.Error("AddAlertNotify without targets reported inserted=false")
	}
	wantDepth(t, st, 4)
	if n := len(all(t, st, store.AlertFilter{})); n != 3 {
		t.Errorf("%d alerts stored, want 3", n)
	}
}

func (s suite) dueOrderAndLimit(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a1, a2, a3, a4 := Alert("e1", "r", base), Alert("e2", "r", base), Alert("e3", "r", base), Alert("e4", "r", base)
	notify(t, st, a1, "t")
	notify(t, st, a2, "t")
	notify(t, st, a3, "t")
	notify(t, st, a4, "t1", "t2")
	now := time.Now()
	m := byKey(t, due(t, st, now, 0))
	if len(m) != 5 {
		t.Fatalf("%d due deliveries, want 5", len(m))
	}
	d1, d2, d3 := m[a1.ID+" firing t"], m[a2.ID+" firing t"], m[a3.ID+" firing t"]
	d4x, d4y := m[a4.ID+" firing t1"], m[a4.ID+" firing t2"]
	if d4y.ID < d4x.ID {
		d4x, d4y = d4y, d4x
	}
	// Times a nanosecond apart, in a non-UTC zone, so a store that rounds or
	// compares zoned strings gets the order wrong. a4's pair keep the time
	// they were enqueued at and tie, broken by ID.
	retry := func(d store.Delivery, next time.Time) {
		t.Helper()
		if err := st.RetryDelivery(ctx, d.ID, 1, next, "x"); err != nil {
			t.Fatalf("RetryDelivery(%d): %v", d.ID, err)
		}
	}
	later := now.Add(time.Hour)
	retry(d3, base)
	retry(d1, base.Add(time.Nanosecond))
	retry(d2, later)

	want := []int64{d3.ID, d1.ID, d4x.ID, d4y.ID}
	for _, tc := range []struct {
		name string
		now  time.Time
		want []int64
	}{
		{"now", now, want},
		{"now in another zone", now.In(time.FixedZone("", -7*3600)), want},
		{"at a NextAttempt, inclusive", later, append(want, d2.ID)},
		{"at the oldest", base, []int64{d3.ID}},
		{"a nanosecond before the oldest", base.Add(-time.Nanosecond), nil},
	} {
		got := due(t, st, tc.now, 0)
		if fmt.Sprint(deliveryIDs(got)) != fmt.Sprint(tc.want) {
			t.Errorf("%s: DueDeliveries = %v, want %v", tc.name, deliveryIDs(got), tc.want)
		}
	}
	for limit := 1; limit <= len(want)+1; limit++ {
		got := deliveryIDs(due(t, st, now, limit))
		if w := want[:min(limit, len(want))]; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("DueDeliveries(limit %d) = %v, want %v", limit, got, w)
		}
	}
	for _, d := range due(t, st, now, 0) {
		if d.ID == d3.ID && (!d.NextAttempt.Equal(base) || d.Attempts != 1 || d.LastError != "x") {
			t.Errorf("retried delivery = %+v, want NextAttempt %s, 1 attempt, error x", d, base)
		}
	}
}

func (s suite) completeAndRetry(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a := Alert("evt-1", "r", base)
	notify(t, st, a, "x", "y")
	now := time.Now()
	m := byKey(t, due(t, st, now, 0))
	x, y := m[a.ID+" firing x"], m[a.ID+" firing y"]

	if err := st.CompleteDelivery(ctx, x.ID, now); err != nil {
		t.Fatalf("CompleteDelivery: %v", err)
	}
	if got := deliveryIDs(due(t, st, now.Add(24*time.Hour), 0)); fmt.Sprint(got) != fmt.Sprint([]int64{y.ID}) {
		t.Errorf("after completing %d: due %v, want [%d]", x.ID, got, y.ID)
	}
	wantDepth(t, st, 1)

	// A failed attempt: not due until next, still pending meanwhile.
	next := now.Add(time.Hour).In(time.FixedZone("UTC-7", -7*3600))
	if err := st.RetryDelivery(ctx, y.ID, 1, next, "webhook: 503 Service Unavailable"); err != nil {
		t.Fatalf("RetryDelivery: %v", err)
	}
	if got := due(t, st, now, 0); len(got) != 0 {
		t.Errorf("retried delivery due before its next attempt: %+v", got)
	}
	wantDepth(t, st, 1)
	got := due(t, st, next, 0)
	if len(got) != 1 {
		t.Fatalf("at its next attempt: due %+v, want the retried delivery", got)
	}
	want := y
	want.Attempts, want.NextAttempt, want.LastError = 1, next, "webhook: 503 Service Unavailable"
	if d := equalDeliveries(got[0], want); d != "" {
		t.Errorf("retried delivery: %s", d)
	}

	// A long error may be shortened but not lost.
	long := "dial tcp: " + strings.Repeat("é", 4000)
	if err := st.RetryDelivery(ctx, y.ID, 2, now.Add(-time.Second), long); err != nil {
		t.Fatalf("RetryDelivery(long error): %v", err)
	}
	got = due(t, st, now, 0)
	if len(got) != 1 || got[0].Attempts != 2 || got[0].LastError == "" || !strings.HasPrefix(long, got[0].LastError) {
		t.Errorf("after second retry: %+v, want 2 attempts and a prefix of the error", got)
	}

	if err := st.CompleteDelivery(ctx, y.ID, now); err != nil {
		t.Fatalf("CompleteDelivery: %v", err)
	}
	wantDepth(t, st, 0)
	if got := due(t, st, now.Add(1000*time.Hour), 0); len(got) != 0 {
		t.Errorf("completed deliveries still due: %+v", got)
	}

	// At-least-once means two dispatchers may both finish the same delivery,
	// or one may report a failure after the other delivered: neither is an
	// error, and neither brings the delivery back.
	if err := st.CompleteDelivery(ctx, y.ID, now.Add(time.Minute)); err != nil {
		t.Errorf("second CompleteDelivery: %v", err)
	}
	if err := st.RetryDelivery(ctx, x.ID, 1, now, "late failure"); err != nil {
		t.Errorf("RetryDelivery of a completed delivery: %v", err)
	}
	wantDepth(t, st, 0)
	if got := due(t, st, now.Add(1000*time.Hour), 0); len(got) != 0 {
		t.Errorf("completed delivery came back: %+v", got)
	}

	unknown := max(x.ID, y.ID) + 1000
	if err := st.CompleteDelivery(ctx, unknown, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CompleteDelivery(unknown) error = %v, want ErrNotFound", err)
	}
	if err := st.RetryDelivery(ctx, unknown, 1, now, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RetryDelivery(unknown) error = %v, want ErrNotFound", err)
	}
}

func (s suite) enqueue(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a := Alert("evt-1", "bg-silence", base)
	notify(t, st, a, "x")
	enq := func(status string, targets ...string) {
		t.Helper()
		if err := st.Enqueue(ctx, a.ID, status, targets); err != nil {
			t.Fatalf("Enqueue(%s, %q): %v", status, targets, err)
		}
	}
	enq(store.StatusResolved, "x", "z")
	wantDepth(t, st, 3)
	enq(store.StatusResolved, "z", "x") // again: nothing new
	enq(store.StatusFiring, "x")        // enqueued by AddAlertNotify already
	enq(store.StatusResolved)
	wantDepth(t, st, 3)
	enq(store.StatusFiring, "w") // a target added later still gets the alert
	wantDepth(t, st, 4)

	m := byKey(t, due(t, st, time.Now(), 0))
	for _, k := range []string{"firing x", "resolved x", "resolved z", "firing w"} {
		d, ok := m[a.ID+" "+k]
		if !ok {
			t.Errorf("no delivery %s; have %q", k, slices.Sorted(maps.Keys(m)))
			continue
		}
		if d.Attempts != 0 || d.LastError != "" {
			t.Errorf("delivery %s = %+v, want fresh", k, d)
		}
	}

	// Delivered is still enqueued: the same resolution is not sent twice.
	if err := st.CompleteDelivery(ctx, m[a.ID+" resolved x"].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	enq(store.StatusResolved, "x")
	wantDepth(t, st, 3)

	// An alert stored without notification can be notified later.
	b := Alert("evt-2", "r", base)
	add(t, st, b, rawFor("evt-2"))
	if err := st.Enqueue(ctx, b.ID, store.StatusFiring, []string{"x"}); err != nil {
		t.Fatalf("Enqueue for an alert stored by AddAlert: %v", err)
	}
	wantDepth(t, st, 4)

	if err := st.Enqueue(ctx, "no-such-alert", store.StatusResolved, []string{"x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Enqueue(unknown alert) error = %v, want ErrNotFound", err)
	}
	if err := st.Enqueue(ctx, a.ID, "acknowledged", []string{"x"}); err == nil {
		t.Error("Enqueue with status \"acknowledged\" succeeded")
	}
	wantDepth(t, st, 4)
}

// outboxPersistence is the outbox's reason to exist: a delivery pending when
// the process stops is still pending, as it was, when it starts again.
func (s suite) outboxPersistence(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	a := Alert("evt-1", "bg-signin", base)
	notify(t, st, a, "x", "y", "z")
	now := time.Now()
	m := byKey(t, due(t, st, now, 0))
	if err := st.RetryDelivery(ctx, m[a.ID+" firing y"].ID, 3, base, "connection refused"); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteDelivery(ctx, m[a.ID+" firing z"].ID, now); err != nil {
		t.Fatal(err)
	}
	if err := st.Enqueue(ctx, a.ID, store.StatusResolved, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	cp := store.Checkpoint{Source: "files", Key: "/var/log/entra/signin.json@2049:131", Offset: 4096, Size: 8192, Updated: base}
	if err := st.SetCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	before := due(t, st, now.Add(time.Minute), 0)
	if len(before) != 3 {
		t.Fatalf("before close: %d due, want 3", len(before))
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st = s.reopen(t, path)
	wantDepth(t, st, 3)
	after := due(t, st, now.Add(time.Minute), 0)
	if len(after) != len(before) {
		t.Fatalf("after reopen: %d due, want %d", len(after), len(before))
	}
	for i := range before {
		if d := equalDeliveries(after[i], before[i]); d != "" {
			t.Errorf("delivery %d after reopen: %s", i, d)
		}
	}
	got, ok, err := st.Checkpoint(ctx, cp.Source, cp.Key)
	if err != nil || !ok {
		t.Fatalf("Checkpoint after reopen = %v, %v", ok, err)
	}
	if !got.Updated.Equal(cp.Updated) || got.Offset != cp.Offset || got.Size != cp.Size {
		t.Errorf("checkpoint after reopen = %+v, want %+v", got, cp)
	}
	if notify(t, st, a, "x", "y", "z") {
		t.Error("alert stored before reopen was inserted again")
	}
	wantDepth(t, st, 3) // x, y and z have theirs (z delivered), whatever the restart
	if notify(t, st, a, "x", "w") {
		t.Error("alert stored before reopen was inserted again")
	}
	wantDepth(t, st, 4)
}

func (s suite) checkpoints(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	get := func(source, key string) (store.Checkpoint, bool) {
		t.Helper()
		c, ok, err := st.Checkpoint(ctx, source, key)
		if err != nil {
			t.Fatalf("Checkpoint(%s, %s): %v", source, key, err)
		}
		if ok && c.Updated.Location() != time.UTC {
			t.Errorf("Checkpoint(%s, %s).Updated = %s, want UTC", source, key, c.Updated)
		}
		return c, ok
	}
	set := func(c store.Checkpoint) {
		t.Helper()
		if err := st.SetCheckpoint(ctx, c); err != nil {
			t.Fatalf("SetCheckpoint(%+v): %v", c, err)
		}
	}
	list := func(source string) []string {
		t.Helper()
		cs, err := st.Checkpoints(ctx, source)
		if err != nil {
			t.Fatalf("Checkpoints(%s): %v", source, err)
		}
		var out []string
		for _, c := range cs {
			if c.Source != source {
				t.Errorf("Checkpoints(%s) returned %+v", source, c)
			}
			out = append(out, fmt.Sprintf("%s=%d/%d", c.Key, c.Offset, c.Size))
		}
		return out
	}
	equal := func(got, want store.Checkpoint) {
		t.Helper()
		if !got.Updated.Equal(want.Updated) {
			t.Errorf("Updated = %s, want %s", got.Updated, want.Updated)
		}
		got.Updated, want.Updated = time.Time{}, time.Time{}
		if got != want {
			t.Errorf("checkpoint = %+v, want %+v", got, want)
		}
	}

	if c, ok := get("files", "b"); ok {
		t.Errorf("Checkpoint of nothing = %+v, found", c)
	}
	if got := list("files"); len(got) != 0 {
		t.Errorf("Checkpoints of nothing = %v", got)
	}

	// Offsets beyond 32 bits: Entra exports grow past 4 GiB.
	b := store.Checkpoint{Source: "files", Key: "b", Offset: 1<<40 + 3, Size: 1<<40 + 10, Updated: base}
	set(b)
	c, ok := get("files", "b")
	if !ok {
		t.Fatal("checkpoint just set not found")
	}
	equal(c, b)

	// Zero Updated means "now".
	a := store.Checkpoint{Source: "files", Key: "a", Offset: 7, Size: 7}
	set(a)
	c, _ = get("files", "a")
	if c.Updated.IsZero() || time.Since(c.Updated).Abs() > time.Hour {
		t.Errorf("checkpoint set without Updated has Updated %s, want about now", c.Updated)
	}
	set(store.Checkpoint{Source: "other", Key: "b", Offset: 1, Size: 2, Updated: base})

	if got, want := list("files"), []string{"a=7/7", fmt.Sprintf("b=%d/%d", b.Offset, b.Size)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Checkpoints(files) = %v, want %v", got, want)
	}
	if got := list("other"); fmt.Sprint(got) != "[b=1/2]" {
		t.Errorf("Checkpoints(other) = %v, want [b=1/2]", got)
	}
	if got := list("none"); len(got) != 0 {
		t.Errorf("Checkpoints(none) = %v", got)
	}

	// Replaced, also backwards: a truncated file is read again from the start.
	b2 := store.Checkpoint{Source: "files", Key: "b", Offset: 10, Size: 10, Updated: base.Add(time.Hour + 1)}
	set(b2)
	c, _ = get("files", "b")
	equal(c, b2)
	if got := list("files"); len(got) != 2 {
		t.Errorf("after replacing: Checkpoints(files) = %v, want 2", got)
	}
	c, _ = get("other", "b")
	if c.Offset != 1 {
		t.Errorf("replacing files/b changed other/b: %+v", c)
	}
}

// concurrentNotify races AddAlertNotify of the same alerts: each alert must
// be new exactly once and so enqueued exactly once per target.
func (s suite) concurrentNotify(t *testing.T) {
	st, _ := s.fresh(t)
	as := manyAlerts(50)
	targets := []string{"oncall/webhook", "security/pager"}
	hammerWith(t, []store.Store{st}, 16, as, func(ctx context.Context, st store.Store, a alert.Alert) (bool, error) {
		return st.AddAlertNotify(ctx, a, Evidence(a, rawFor(a.EventID)), targets)
	})
	want := len(as) * len(targets)
	wantDepth(t, st, want)
	ds := due(t, st, time.Now().Add(time.Hour), 10*want)
	if len(ds) != want {
		t.Fatalf("%d due deliveries, want %d", len(ds), want)
	}
	m := byKey(t, ds)
	for _, a := range as {
		for _, target := range targets {
			if _, ok := m[a.ID+" firing "+target]; !ok {
				t.Errorf("no delivery of %s to %s", a.ID, target)
			}
		}
	}
}
