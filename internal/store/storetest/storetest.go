// Package storetest is the conformance suite for store.Store: every
// implementation runs it from its own tests, so the SQLite store used today
// and the PostgreSQL store planned for later cannot drift apart in what
// callers may rely on (dedupe, evidence kept byte for byte, ordering and
// pagination, durability across reopen, concurrency, the notification outbox
// with its leases, dead letters and retention, source checkpoints and
// liveness, rule conditions, alert state and the unit of work, incidents,
// the hash-chained evidence log, drills, the leases that elect one
// replica for scheduled work, and the latest posture report per tenant).
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// Opener opens the store at path. The suite gives each sub-test its own path
// and opens the same path again to check persistence, so path must name the
// same store every time: a file for SQLite, or for a server-backed store
// anything derived from it (a schema or database name). Opener reports
// failure with t.Fatal; the suite closes what it opens.
type Opener func(t *testing.T, path string) store.Store

// Option adjusts the suite for an implementation.
type Option func(*config)

type config struct {
	multiHandle bool
}

// WithoutMultipleHandles skips the test that writes through two stores open
// on the same path at once (two processes sharing a database), for
// implementations where that cannot happen.
func WithoutMultipleHandles() Option {
	return func(c *config) { c.multiHandle = false }
}

// Run runs the suite against the stores open returns.
func Run(t *testing.T, open Opener, opts ...Option) {
	cfg := config{multiHandle: true}
	for _, o := range opts {
		o(&cfg)
	}
	s := suite{open: open}
	t.Run("InsertThenGet", s.insertThenGet)
	t.Run("DuplicateAlert", s.duplicateAlert)
	t.Run("SharedEvidence", s.sharedEvidence)
	t.Run("EvidenceBytes", s.evidenceBytes)
	t.Run("NotFound", s.notFound)
	t.Run("AlertsOrderAndFilters", s.alertsOrderAndFilters)
	t.Run("Persistence", s.persistence)
	t.Run("ConcurrentSameAlerts", s.concurrentSameAlerts)
	t.Run("TwoHandles", func(t *testing.T) {
		if !cfg.multiHandle {
			t.Skip("implementation opted out with WithoutMultipleHandles")
		}
		s.twoHandles(t)
	})
	t.Run("DoubleClose", s.doubleClose)
	t.Run("NotifyOncePerTarget", s.notifyOncePerTarget)
	t.Run("DueOrderAndLimit", s.dueOrderAndLimit)
	t.Run("CompleteAndRetry", s.completeAndRetry)
	t.Run("Enqueue", s.enqueue)
	t.Run("OutboxPersistence", s.outboxPersistence)
	t.Run("Checkpoints", s.checkpoints)
	t.Run("ConcurrentNotify", s.concurrentNotify)
	t.Run("NotifyAfterScan", s.notifyAfterScan)
	t.Run("Update", s.update)
	t.Run("ClaimLeases", s.claimLeases)
	t.Run("ReleaseLeases", s.releaseLeases)
	t.Run("ClaimConcurrent", func(t *testing.T) { s.claimConcurrent(t, 1) })
	t.Run("ClaimConcurrentTwoHandles", func(t *testing.T) {
		if !cfg.multiHandle {
			t.Skip("implementation opted out with WithoutMultipleHandles")
		}
		s.claimConcurrent(t, 2)
	})
	t.Run("DeadLetters", s.deadLetters)
	t.Run("AlertDeliveries", s.alertDeliveries)
	t.Run("PruneKeepsDedupe", s.pruneKeepsDedupe)
	t.Run("DeleteCheckpoint", s.deleteCheckpoint)
	t.Run("Conditions", s.conditions)
	t.Run("SourceAlive", s.sourceAlive)
	t.Run("AlertState", s.alertState)
	t.Run("ChangeAlertState", s.changeAlertState)
	t.Run("DetectedSince", s.detectedSince)
	t.Run("LabelFilters", s.labelFilters)
	t.Run("AlertPage", s.alertPage)
	t.Run("AlertPageInserts", s.alertPageInserts)
	t.Run("Writable", s.writable)
	t.Run("IncidentGrouping", s.incidentGrouping)
	t.Run("IncidentLifecycle", s.incidentLifecycle)
	t.Run("IncidentFilters", s.incidentFilters)
	t.Run("UnattachedAlerts", s.unattachedAlerts)
	t.Run("ConcurrentAttach", func(t *testing.T) { s.concurrentAttach(t, 1) })
	t.Run("ConcurrentAttachTwoHandles", func(t *testing.T) {
		if !cfg.multiHandle {
			t.Skip("implementation opted out with WithoutMultipleHandles")
		}
		s.concurrentAttach(t, 2)
	})
	t.Run("EvidenceLog", s.evidenceLog)
	t.Run("AppendLogOnce", func(t *testing.T) { s.appendOnce(t, 1) })
	t.Run("AppendLogOnceTwoHandles", func(t *testing.T) {
		if !cfg.multiHandle {
			t.Skip("implementation opted out with WithoutMultipleHandles")
		}
		s.appendOnce(t, 2)
	})
	t.Run("ConcurrentAppend", func(t *testing.T) { s.concurrentAppend(t, 1) })
	t.Run("ConcurrentAppendTwoHandles", func(t *testing.T) {
		if !cfg.multiHandle {
			t.Skip("implementation opted out with WithoutMultipleHandles")
		}
		s.concurrentAppend(t, 2)
	})
	t.Run("LeaseFree", s.leaseFree)
	t.Run("LeaseRenew", s.leaseRenew)
	t.Run("LeaseRelease", s.leaseRelease)
	t.Run("LeaseExpiry", s.leaseExpiry)
	t.Run("LeaseConcurrent", func(t *testing.T) { s.leaseConcurrent(t, 1) })
	t.Run("LeaseConcurrentTwoHandles", func(t *testing.T) {
		if !cfg.multiHandle {
			t.Skip("implementation opted out with WithoutMultipleHandles")
		}
		s.leaseConcurrent(t, 2)
	})
	t.Run("DrillRoundTrip", s.drillRoundTrip)
	t.Run("DrillInvalid", s.drillInvalid)
	t.Run("DrillFilters", s.drillFilters)
	t.Run("DrillConcurrency", func(t *testing.T) { s.drillConcurrency(t, 1) })
	t.Run("DrillConcurrencyTwoHandles", func(t *testing.T) {
		if !cfg.multiHandle {
			t.Skip("implementation opted out with WithoutMultipleHandles")
		}
		s.drillConcurrency(t, 2)
	})
	t.Run("PostureReports", s.postureReports)
	t.Run("PostureReportsInvalid", s.postureReportsInvalid)
}

type suite struct {
	open Opener
}

// fresh opens a new store at a path of the sub-test's own.
func (s suite) fresh(t *testing.T) (store.Store, string) {
	t.Helper()
	path := t.TempDir() + "/store.db"
	return s.reopen(t, path), path
}

func (s suite) reopen(t *testing.T, path string) store.Store {
	t.Helper()
	st := s.open(t, path)
	t.Cleanup(func() { st.Close() })
	return st
}

// base is a fixed instant with nanoseconds and a non-UTC zone, so stores
// that truncate to micro- or milliseconds, or keep the zone, fail the
// round-trip checks.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

// Alert returns a fully populated alert for event and rule; every field
// differs from the same field of any other (event, rule) pair so that a
// column mix-up shows.
func Alert(event, rule string, eventTime time.Time) alert.Alert {
	tag := event + "/" + rule
	return alert.Alert{
		ID:          alert.Key(event, rule),
		Rule:        rule,
		Severity:    alert.Sev1,
		Title:       "title " + tag,
		AccountID:   "0B5E1D7A-0000-4000-8000-" + fmt.Sprintf("%012x", sha256.Sum256([]byte(event)))[:12],
		AccountUPN:  "bg-" + event + "@contoso.example",
		Account:     "Break Glass " + event,
		EventID:     event,
		EventTime:   eventTime,
		Category:    "SignInLogs",
		Source:      "signin.json:" + event,
		Detected:    eventTime.Add(90*time.Second + 7),
		Operation:   "op " + tag,
		ChangeType:  "ct " + tag,
		Result:      "failure " + tag,
		App:         "app " + tag,
		IPAddress:   "203.0.113.7",
		Location:    "NL " + tag,
		Actor:       "actor " + tag,
		Correlation: "corr " + tag,

		EventTimeUnknown: true,
		Unreadable:       []string{"createdDateTime: unparsable " + tag, "userId: number, want string"},
		Labels: map[string]string{
			alert.LabelRule: rule, alert.LabelAccount: "bg-" + event + "@contoso.example",
			alert.LabelTenant: "tenant " + tag, "quote\"key": "a\x00b",
		},
		Annotations: map[string]string{"summary": "summary " + tag, "runbook": "https://runbooks.example/" + tag},
		State:       alert.StateFiring,
	}
}

// Evidence returns evidence for a.
func Evidence(a alert.Alert, raw []byte) store.Evidence {
	return store.Evidence{EventID: a.EventID, Category: a.Category, Source: a.Source, Raw: raw}
}

func rawFor(event string) []byte {
	return []byte(`{"id":"` + event + `","resultType":"50126"}`)
}

func add(t *testing.T, st store.Store, a alert.Alert, raw []byte) bool {
	t.Helper()
	ins, err := st.AddAlert(context.Background(), a, Evidence(a, raw))
	if err != nil {
		t.Fatalf("AddAlert(%s): %v", a.ID, err)
	}
	return ins
}

func all(t *testing.T, st store.Store, f store.AlertFilter) []alert.Alert {
	t.Helper()
	got, err := st.Alerts(context.Background(), f)
	if err != nil {
		t.Fatalf("Alerts(%+v): %v", f, err)
	}
	return got
}

// EqualAlerts reports how got differs from want, or "" if they are equal.
// Times must be equal instants and come back in UTC. A State of "" in want
// means alert.StateFiring, as the store reads it back.
func EqualAlerts(got, want alert.Alert) string {
	if want.State == "" {
		want.State = alert.StateFiring
	}
	var diffs []string
	for _, tf := range []struct {
		name      string
		got, want time.Time
	}{{"EventTime", got.EventTime, want.EventTime}, {"Detected", got.Detected, want.Detected}} {
		if !tf.got.Equal(tf.want) {
			diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", tf.name, tf.got, tf.want))
		}
		if tf.got.Location() != time.UTC {
			diffs = append(diffs, fmt.Sprintf("%s location = %s, want UTC", tf.name, tf.got.Location()))
		}
	}
	got.EventTime, want.EventTime = time.Time{}, time.Time{}
	got.Detected, want.Detected = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("got  %+v\nwant %+v", got, want))
	}
	if diffs == nil {
		return ""
	}
	return fmt.Sprint(diffs)
}

func (s suite) insertThenGet(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a := Alert("evt-1", "bg-signin", base)
	a.Severity = alert.Sev0
	if !add(t, st, a, rawFor("evt-1")) {
		t.Fatal("AddAlert of a new alert reported inserted=false")
	}
	got, err := st.Alert(ctx, a.ID)
	if err != nil {
		t.Fatalf("Alert: %v", err)
	}
	if d := EqualAlerts(got, a); d != "" {
		t.Errorf("Alert round trip: %s", d)
	}
	list := all(t, st, store.AlertFilter{})
	if len(list) != 1 {
		t.Fatalf("Alerts returned %d alerts, want 1", len(list))
	}
	if d := EqualAlerts(list[0], a); d != "" {
		t.Errorf("Alerts round trip: %s", d)
	}

	// Empty optional fields and the zero time must round-trip too.
	sparse := alert.Alert{ID: alert.Key("evt-2", "r"), Rule: "r", EventID: "evt-2", Severity: alert.Sev4}
	if !add(t, st, sparse, nil) {
		t.Fatal("AddAlert(sparse) reported inserted=false")
	}
	got, err = st.Alert(ctx, sparse.ID)
	if err != nil {
		t.Fatalf("Alert(sparse): %v", err)
	}
	if d := EqualAlerts(got, sparse); d != "" {
		t.Errorf("sparse round trip: %s", d)
	}
	if got.Labels != nil || got.Annotations != nil || got.Unreadable != nil || got.State != alert.StateFiring {
		t.Errorf("sparse alert read back with labels %#v, annotations %#v, unreadable %#v, state %q; want nil, nil, nil, firing",
			got.Labels, got.Annotations, got.Unreadable, got.State)
	}

	// Empty is not nil: a decoder that found no unreadable field says so
	// with an empty list, and that must survive too.
	empty := Alert("evt-3", "r", base)
	empty.Labels, empty.Annotations, empty.Unreadable = map[string]string{}, map[string]string{}, []string{}
	empty.EventTimeUnknown = false
	add(t, st, empty, nil)
	got, err = st.Alert(ctx, empty.ID)
	if err != nil {
		t.Fatalf("Alert(empty): %v", err)
	}
	if d := EqualAlerts(got, empty); d != "" {
		t.Errorf("empty round trip: %s", d)
	}
	if got.Labels == nil || got.Annotations == nil || got.Unreadable == nil {
		t.Errorf("empty maps and slice read back as nil: %#v %#v %#v", got.Labels, got.Annotations, got.Unreadable)
	}

	// A state other than firing is kept as given.
	acked := Alert("evt-4", "r", base)
	acked.State = alert.StateAcknowledged
	add(t, st, acked, nil)
	if got, err := st.Alert(ctx, acked.ID); err != nil || got.State != alert.StateAcknowledged {
		t.Errorf("Alert(acknowledged) state = %q, %v", got.State, err)
	}
}

func (s suite) duplicateAlert(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a := Alert("evt-1", "bg-signin", base)
	if !add(t, st, a, rawFor("evt-1")) {
		t.Fatal("first AddAlert reported inserted=false")
	}
	again := a
	again.Title = "changed title"
	again.Detected = base.Add(time.Hour)
	if add(t, st, again, []byte("other bytes")) {
		t.Fatal("second AddAlert with the same ID reported inserted=true")
	}
	if list := all(t, st, store.AlertFilter{}); len(list) != 1 {
		t.Fatalf("after duplicate: %d alerts, want 1", len(list))
	}
	got, err := st.Alert(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := EqualAlerts(got, a); d != "" {
		t.Errorf("duplicate overwrote the first alert: %s", d)
	}
	ev, err := st.Evidence(ctx, a.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Raw, rawFor("evt-1")) {
		t.Errorf("duplicate overwrote evidence: %q", ev.Raw)
	}
}

func (s suite) sharedEvidence(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a1 := Alert("evt-1", "rule-a", base)
	a2 := Alert("evt-1", "rule-b", base)
	first := rawFor("evt-1")
	if !add(t, st, a1, first) || !add(t, st, a2, []byte("second copy, must not replace the first")) {
		t.Fatal("two rules on one event: each alert must be new")
	}
	if list := all(t, st, store.AlertFilter{}); len(list) != 2 {
		t.Fatalf("%d alerts, want 2", len(list))
	}
	// One row per event: the first copy is the evidence for both.
	ev, err := st.Evidence(ctx, "evt-1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Raw, first) {
		t.Errorf("evidence = %q, want the first copy %q", ev.Raw, first)
	}
}

func (s suite) evidenceBytes(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	cases := map[string][]byte{
		"binary": {0x00, 0xff, 0xfe, 'a', 0x00, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x00},
		"crlf":   []byte("{\"a\":1}\r\n\x00\x00"),
		"empty":  {},
		"large":  bytes.Repeat([]byte{0x00, 0x80, 0xff, '\n'}, 1<<16),
	}
	for name, raw := range cases {
		a := Alert("evt-"+name, "r", base)
		ev := Evidence(a, raw)
		ev.Category, ev.Source = "AuditLogs", "audit.json:"+name
		ev.SHA256 = "caller's value is not trusted"
		if ins, err := st.AddAlert(ctx, a, ev); err != nil || !ins {
			t.Fatalf("%s: AddAlert = %v, %v", name, ins, err)
		}
		got, err := st.Evidence(ctx, a.EventID)
		if err != nil {
			t.Fatalf("%s: Evidence: %v", name, err)
		}
		if !bytes.Equal(got.Raw, raw) {
			t.Errorf("%s: raw differs: got %d bytes %q, want %d bytes", name, len(got.Raw), trunc(got.Raw), len(raw))
		}
		sum := sha256.Sum256(raw)
		if want := hex.EncodeToString(sum[:]); got.SHA256 != want {
			t.Errorf("%s: SHA256 = %q, want %q", name, got.SHA256, want)
		}
		if got.EventID != a.EventID || got.Category != "AuditLogs" || got.Source != "audit.json:"+name {
			t.Errorf("%s: evidence metadata = %q %q %q", name, got.EventID, got.Category, got.Source)
		}
		if got.Stored.IsZero() {
			t.Errorf("%s: Stored is zero", name)
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

func (s suite) notFound(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	if _, err := st.Alert(ctx, "no-such-alert"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Alert(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := st.Evidence(ctx, "no-such-event"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Evidence(missing) error = %v, want ErrNotFound", err)
	}
	add(t, st, Alert("evt-1", "r", base), rawFor("evt-1"))
	// The alert ID is not an event ID, and vice versa.
	if _, err := st.Evidence(ctx, alert.Key("evt-1", "r")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Evidence(alert id) error = %v, want ErrNotFound", err)
	}
	if _, err := st.Alert(ctx, "evt-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Alert(event id) error = %v, want ErrNotFound", err)
	}
	if list := all(t, st, store.AlertFilter{Rule: "no-such-rule"}); len(list) != 0 {
		t.Errorf("Alerts(no match) = %d alerts, want 0", len(list))
	}
}

func (s suite) alertsOrderAndFilters(t *testing.T) {
	st, _ := s.fresh(t)
	const acct = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	mk := func(event, rule, account string, at time.Time) alert.Alert {
		a := Alert(event, rule, at)
		a.AccountID = account
		return a
	}
	// Times differ by a nanosecond in places, and two alerts share a time so
	// the id tie-break shows; insertion order is deliberately not the answer.
	t0 := base.UTC()
	in := []alert.Alert{
		mk("e3", "signin", acct, t0.Add(2*time.Hour)),
		mk("e1", "signin", acct, t0),
		mk("e5", "role", "11111111-2222-4333-8444-555555555555", t0.Add(3*time.Hour)),
		mk("e2", "role", acct, t0.Add(time.Hour)),
		mk("e2", "signin", acct, t0.Add(time.Hour)),
		mk("e4", "signin", "11111111-2222-4333-8444-555555555555", t0.Add(2*time.Hour+1)),
		mk("e0", "signin", acct, t0.Add(-time.Nanosecond)),
	}
	for _, a := range in {
		add(t, st, a, rawFor(a.EventID))
	}
	sortedIDs := func(as []alert.Alert) []string { // expected order, computed the slow obvious way
		var out []string
		cp := append([]alert.Alert(nil), as...)
		for len(cp) > 0 {
			best := 0
			for i, a := range cp {
				b := cp[best]
				if a.EventTime.After(b.EventTime) || (a.EventTime.Equal(b.EventTime) && a.ID < b.ID) {
					best = i
				}
			}
			out = append(out, cp[best].ID)
			cp = append(cp[:best], cp[best+1:]...)
		}
		return out
	}
	ids := func(as []alert.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	where := func(keep func(alert.Alert) bool) []alert.Alert {
		var out []alert.Alert
		for _, a := range in {
			if keep(a) {
				out = append(out, a)
			}
		}
		return out
	}
	since := t0.Add(time.Hour).In(time.FixedZone("", -7*3600)) // zone must not matter
	for _, tc := range []struct {
		name string
		f    store.AlertFilter
		want []alert.Alert
	}{
		{"all", store.AlertFilter{}, in},
		{"rule", store.AlertFilter{Rule: "signin"}, where(func(a alert.Alert) bool { return a.Rule == "signin" })},
		{"account case-insensitive", store.AlertFilter{AccountID: "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"},
			where(func(a alert.Alert) bool { return a.AccountID == acct })},
		{"since inclusive", store.AlertFilter{Since: since},
			where(func(a alert.Alert) bool { return !a.EventTime.Before(since) })},
		{"rule and account and since", store.AlertFilter{Rule: "signin", AccountID: acct, Since: since},
			where(func(a alert.Alert) bool {
				return a.Rule == "signin" && a.AccountID == acct && !a.EventTime.Before(since)
			})},
		{"no match", store.AlertFilter{Rule: "signin", AccountID: "11111111-2222-4333-8444-555555555555", Since: t0.Add(4 * time.Hour)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := sortedIDs(tc.want)
			got := all(t, st, tc.f)
			if fmt.Sprint(ids(got)) != fmt.Sprint(want) {
				t.Fatalf("Alerts(%+v) =\n%v\nwant\n%v", tc.f, ids(got), want)
			}
			for limit := 1; limit <= len(want)+1; limit++ {
				f := tc.f
				f.Limit = limit
				got := ids(all(t, st, f))
				w := want[:min(limit, len(want))]
				if fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("Alerts(%+v) = %v, want %v", f, got, w)
				}
			}
		})
	}
	if len(sortedIDs(where(func(a alert.Alert) bool { return a.EventTime.Equal(t0.Add(time.Hour)) }))) != 2 {
		t.Fatal("test data lost its tie")
	}
}

func (s suite) persistence(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	a := Alert("evt-1", "bg-signin", base)
	raw := []byte("kept\x00across\xffreopen")
	add(t, st, a, raw)
	before, err := st.Evidence(ctx, a.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st = s.reopen(t, path)
	got, err := st.Alert(ctx, a.ID)
	if err != nil {
		t.Fatalf("Alert after reopen: %v", err)
	}
	if d := EqualAlerts(got, a); d != "" {
		t.Errorf("after reopen: %s", d)
	}
	ev, err := st.Evidence(ctx, a.EventID)
	if err != nil {
		t.Fatalf("Evidence after reopen: %v", err)
	}
	if !bytes.Equal(ev.Raw, raw) || ev.SHA256 != before.SHA256 || !ev.Stored.Equal(before.Stored) {
		t.Errorf("evidence after reopen = %q %s %s, want %q %s %s",
			ev.Raw, ev.SHA256, ev.Stored, raw, before.SHA256, before.Stored)
	}
	if add(t, st, a, raw) {
		t.Error("alert stored before reopen was inserted again")
	}
}

// hammer has each of workers goroutines add every alert in as (each in its
// own order) through one of stores, and checks that each alert was reported
// new exactly once in total.
func hammer(t *testing.T, stores []store.Store, workers int, as []alert.Alert) {
	hammerWith(t, stores, workers, as, func(ctx context.Context, st store.Store, a alert.Alert) (bool, error) {
		return st.AddAlert(ctx, a, Evidence(a, rawFor(a.EventID)))
	})
}

// hammerWith is hammer adding alerts with add.
func hammerWith(t *testing.T, stores []store.Store, workers int, as []alert.Alert,
	add func(context.Context, store.Store, alert.Alert) (bool, error)) {
	t.Helper()
	counts := make([]atomic.Int32, len(as))
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, workers)
	)
	for w := range workers {
		st := stores[w%len(stores)]
		order := rand.Perm(len(as))
		wg.Go(func() {
			<-start
			for _, i := range order {
				ins, err := add(context.Background(), st, as[i])
				if err != nil {
					errs <- fmt.Errorf("worker %d: add %s: %w", w, as[i].ID, err)
					return
				}
				if ins {
					counts[i].Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range counts {
		if n := counts[i].Load(); n != 1 {
			t.Errorf("alert %d (%s) reported inserted %d times, want 1", i, as[i].ID, n)
		}
	}
	for i, st := range stores {
		if got := all(t, st, store.AlertFilter{}); len(got) != len(as) {
			t.Errorf("store %d lists %d alerts, want %d", i, len(got), len(as))
		}
	}
}

func manyAlerts(n int) []alert.Alert {
	as := make([]alert.Alert, n)
	for i := range as {
		// Two rules per event, so evidence inserts race as well as alerts.
		as[i] = Alert(fmt.Sprintf("evt-%03d", i/2), fmt.Sprintf("rule-%d", i%2), base.Add(time.Duration(i)*time.Second))
	}
	return as
}

func (s suite) concurrentSameAlerts(t *testing.T) {
	st, _ := s.fresh(t)
	hammer(t, []store.Store{st}, 32, manyAlerts(100))
}

func (s suite) twoHandles(t *testing.T) {
	st1, path := s.fresh(t)
	st2 := s.reopen(t, path)
	hammer(t, []store.Store{st1, st2}, 16, manyAlerts(100))
}

func (s suite) doubleClose(t *testing.T) {
	st, _ := s.fresh(t)
	add(t, st, Alert("evt-1", "r", base), rawFor("evt-1"))
	if err := st.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("second Close panicked: %v", r)
		}
	}()
	_ = st.Close() // may return an error, must not panic
}
