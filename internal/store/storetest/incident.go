package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// The incident and evidence-log part of the suite (issue 10).

const gap = 2 * time.Hour

// accountAlert is Alert for event with the account set to id, so that
// several alerts share one incident key.
func accountAlert(event, rule, id string, at time.Time) alert.Alert {
	a := Alert(event, rule, at)
	a.AccountID, a.AccountUPN = id, "bg1@contoso.example"
	return a
}

func attach(t *testing.T, st store.Store, a alert.Alert, key string, at time.Time) (store.Incident, bool) {
	t.Helper()
	inc, opened, err := st.AttachAlert(context.Background(), a, key, store.IncidentAccount, gap, at)
	if err != nil {
		t.Fatalf("AttachAlert(%s, %s): %v", a.ID, key, err)
	}
	return inc, opened
}

func incident(t *testing.T, st store.Store, id string) store.Incident {
	t.Helper()
	inc, err := st.Incident(context.Background(), id)
	if err != nil {
		t.Fatalf("Incident(%s): %v", id, err)
	}
	return inc
}

func checkUTC(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s location = %s, want UTC", what, got.Location())
	}
}

func (s suite) incidentGrouping(t *testing.T) {
	st, _ := s.fresh(t)
	ctx := context.Background()
	const key = "0b5e1d7a-0000-4000-8000-000000000001"
	signin := accountAlert("evt-signin", "bg.signin", key, base)
	activity := accountAlert("evt-activity", "bg.activity", key, base.Add(20*time.Minute))
	change := accountAlert("evt-change", "bg.change", key, base.Add(50*time.Minute))
	for _, a := range []alert.Alert{signin, activity, change} {
		add(t, st, a, rawFor(a.EventID))
	}
	openedAt := base.Add(time.Minute)

	inc, opened := attach(t, st, signin, key, openedAt)
	if !opened {
		t.Fatal("first alert of a key did not open an incident")
	}
	if inc.ID == "" || inc.Key != key || inc.Kind != store.IncidentAccount || inc.State != store.IncidentOpen {
		t.Fatalf("opened incident = %+v", inc)
	}
	if inc.AccountID != key || inc.AccountUPN != "bg1@contoso.example" || inc.Previous != "" || inc.Review != nil {
		t.Errorf("opened incident account/previous/review = %q %q %q %v", inc.AccountID, inc.AccountUPN, inc.Previous, inc.Review)
	}
	checkUTC(t, "Opened", inc.Opened, openedAt)
	checkUTC(t, "Updated", inc.Updated, openedAt)
	checkUTC(t, "FirstEvent", inc.FirstEvent, base)
	checkUTC(t, "LastEvent", inc.LastEvent, base)

	// Out of order on purpose: the change first, then the activity.
	for _, a := range []alert.Alert{change, activity} {
		got, opened := attach(t, st, a, key, openedAt.Add(time.Hour))
		if opened || got.ID != inc.ID {
			t.Fatalf("alert %s of the same use opened %v incident %s, want joined %s", a.Rule, opened, got.ID, inc.ID)
		}
	}
	got := incident(t, st, inc.ID)
	if want := []string{signin.ID, change.ID, activity.ID}; !slices.Equal(got.Alerts, want) {
		t.Errorf("Alerts = %v, want %v (attach order)", got.Alerts, want)
	}
	checkUTC(t, "FirstEvent", got.FirstEvent, base)
	checkUTC(t, "LastEvent", got.LastEvent, change.EventTime)
	checkUTC(t, "Updated", got.Updated, openedAt.Add(time.Hour))
	checkUTC(t, "Opened", got.Opened, openedAt)

	// Idempotent: attaching again changes nothing, not even Updated.
	again, opened := attach(t, st, activity, key, openedAt.Add(5*time.Hour))
	if opened || again.ID != inc.ID {
		t.Errorf("re-attach: opened %v incident %s, want %s", opened, again.ID, inc.ID)
	}
	if d := diffIncident(incident(t, st, inc.ID), got); d != "" {
		t.Errorf("re-attach changed the incident: %s", d)
	}
	if of, err := st.IncidentOf(ctx, change.ID); err != nil || of.ID != inc.ID {
		t.Errorf("IncidentOf(change) = %s, %v; want %s", of.ID, err, inc.ID)
	}

	// A second use a day later: a new incident that follows the first.
	next := accountAlert("evt-next-day", "bg.signin", key, base.Add(24*time.Hour))
	add(t, st, next, rawFor(next.EventID))
	inc2, opened := attach(t, st, next, key, base.Add(24*time.Hour+time.Minute))
	if !opened || inc2.ID == inc.ID {
		t.Fatalf("a use a day later joined %s (opened %v), want a new incident", inc2.ID, opened)
	}
	if inc2.Previous != inc.ID {
		t.Errorf("Previous = %q, want %q", inc2.Previous, inc.ID)
	}
	// A late record from the middle of the first use (before its
	// LastEvent by more than nothing, within its span) joins the first,
	// though the second is newer.
	late := accountAlert("evt-late", "bg.activity", key, base.Add(30*time.Minute))
	add(t, st, late, rawFor(late.EventID))
	if got, _ := attach(t, st, late, key, base.Add(25*time.Hour)); got.ID != inc.ID {
		t.Errorf("late alert of the first use joined %s, want %s", got.ID, inc.ID)
	}
	// Within gap before the span joins too; beyond it does not.
	early := accountAlert("evt-early", "bg.signin", key, base.Add(-gap))
	if got, opened := attach(t, st, early, key, base.Add(25*time.Hour)); opened || got.ID != inc.ID {
		t.Errorf("alert exactly gap before the span: opened %v incident %s, want joined %s", opened, got.ID, inc.ID)
	}
	checkUTC(t, "FirstEvent after early alert", incident(t, st, inc.ID).FirstEvent, base.Add(-gap))

	// An incident opened by a record naming the account by UPN alone
	// learns its id from a later record, and keeps the first UPN.
	upnOnly := accountAlert("evt-upn-only", "bg.signin", "", base.Add(100*24*time.Hour))
	upnOnly.AccountUPN = "BG1@contoso.example"
	withID := accountAlert("evt-with-id", "bg.activity", key, base.Add(100*24*time.Hour+time.Minute))
	withID.AccountUPN = "other@contoso.example"
	first, _ := attach(t, st, upnOnly, key, base)
	if first.AccountID != "" || first.AccountUPN != "BG1@contoso.example" {
		t.Errorf("UPN-only incident account = %q %q", first.AccountID, first.AccountUPN)
	}
	if got, _ := attach(t, st, withID, key, base); got.ID != first.ID || got.AccountID != key || got.AccountUPN != "BG1@contoso.example" {
		t.Errorf("after an alert with the id: incident %s account %q %q, want %s %q %q", got.ID, got.AccountID, got.AccountUPN,
			first.ID, key, "BG1@contoso.example")
	}

	// Another key never joins.
	other := accountAlert("evt-other", "bg.signin", "someone-else", base)
	if got, opened := attach(t, st, other, "someone-else", base); !opened || got.ID == inc.ID || got.Previous != "" {
		t.Errorf("other key: opened %v incident %s previous %q", opened, got.ID, got.Previous)
	}
}

func diffIncident(got, want store.Incident) string {
	var diffs []string
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"Opened", got.Opened, want.Opened}, {"FirstEvent", got.FirstEvent, want.FirstEvent},
		{"LastEvent", got.LastEvent, want.LastEvent}, {"Updated", got.Updated, want.Updated}} {
		if !f.got.Equal(f.want) {
			diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", f.name, f.got, f.want))
		}
	}
	if (got.Review == nil) != (want.Review == nil) {
		diffs = append(diffs, fmt.Sprintf("Review = %+v, want %+v", got.Review, want.Review))
	} else if got.Review != nil {
		gr, wr := *got.Review, *want.Review
		if !gr.At.Equal(wr.At) {
			diffs = append(diffs, fmt.Sprintf("Review.At = %s, want %s", gr.At, wr.At))
		}
		gr.At, wr.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(gr, wr) {
			diffs = append(diffs, fmt.Sprintf("Review = %+v, want %+v", gr, wr))
		}
	}
	got.Opened, got.FirstEvent, got.LastEvent, got.Updated, got.Review = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	want.Opened, want.FirstEvent, want.LastEvent, want.Updated, want.Review = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("got  %+v\nwant %+v", got, want))
	}
	if diffs == nil {
		return ""
	}
	return fmt.Sprint(diffs)
}

func (s suite) incidentLifecycle(t *testing.T) {
	st, path := s.fresh(t)
	ctx := context.Background()
	const key = "bg1@contoso.example"
	a := accountAlert("evt-1", "bg.signin", key, base)
	add(t, st, a, rawFor(a.EventID))
	inc, _ := attach(t, st, a, key, base)
	at := base.Add(10 * time.Minute)

	for _, bad := range []string{store.IncidentClosed, store.IncidentReviewed} {
		err := st.SetIncidentState(ctx, inc.ID, bad, "alice", "", at)
		if !errors.Is(err, store.ErrStateTransition) {
			t.Errorf("open → %s: err = %v, want ErrStateTransition", bad, err)
		}
	}
	if err := st.SetIncidentState(ctx, inc.ID, "sleeping", "alice", "", at); err == nil || errors.Is(err, store.ErrStateTransition) {
		t.Errorf("unknown state: err = %v, want a plain error", err)
	}
	if err := st.SetIncidentState(ctx, "inc-nope", store.IncidentAcknowledged, "alice", "", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown incident: err = %v, want ErrNotFound", err)
	}
	if err := st.SetReview(ctx, "inc-nope", store.Review{Class: store.ClassDrill, By: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("review of unknown incident: err = %v, want ErrNotFound", err)
	}
	if _, err := st.IncidentChanges(ctx, "inc-nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("IncidentChanges(unknown) err = %v, want ErrNotFound", err)
	}
	for _, r := range []store.Review{{Class: "prank", By: "bob"}, {Class: store.ClassDrill, By: " "}} {
		if err := st.SetReview(ctx, inc.ID, r); err == nil {
			t.Errorf("SetReview(%+v) accepted", r)
		}
	}

	if err := st.SetIncidentState(ctx, inc.ID, store.IncidentAcknowledged, "alice", "on it", at); err != nil {
		t.Fatal(err)
	}
	// The same state again is a no-op, recorded nowhere.
	if err := st.SetIncidentState(ctx, inc.ID, store.IncidentAcknowledged, "mallory", "", at.Add(time.Minute)); err != nil {
		t.Errorf("acknowledge again: %v", err)
	}
	first := store.Review{Class: store.ClassEmergency, By: "bob", At: base.Add(time.Hour), Note: "first look",
		Attest: map[string]string{"oncall": "yes"}}
	if err := st.SetReview(ctx, inc.ID, first); err != nil {
		t.Fatal(err)
	}
	final := store.Review{Class: store.ClassMisuse, By: "carol", At: base.Add(2*time.Hour + 7), Note: "not authorised",
		Attest: map[string]string{"oncall": "yes", "security": "role assigned to an unknown user"}}
	if err := st.SetReview(ctx, inc.ID, final); err != nil {
		t.Fatalf("second review of a reviewed incident: %v", err)
	}
	got := incident(t, st, inc.ID)
	if got.State != store.IncidentReviewed || got.Review == nil {
		t.Fatalf("after review: state %q review %+v", got.State, got.Review)
	}
	checkUTC(t, "Review.At", got.Review.At, final.At)
	if got.Review.Class != final.Class || got.Review.By != final.By || got.Review.Note != final.Note ||
		!maps.Equal(got.Review.Attest, final.Attest) {
		t.Errorf("Review = %+v, want the last one %+v", *got.Review, final)
	}
	closeAt := base.Add(3 * time.Hour)
	if err := st.SetIncidentState(ctx, inc.ID, store.IncidentClosed, "carol", "done", closeAt); err != nil {
		t.Fatalf("close a reviewed incident: %v", err)
	}
	if err := st.SetReview(ctx, inc.ID, final); !errors.Is(err, store.ErrStateTransition) {
		t.Errorf("review of a closed incident: err = %v, want ErrStateTransition", err)
	}
	if err := st.SetIncidentState(ctx, inc.ID, store.IncidentAcknowledged, "x", "", closeAt); !errors.Is(err, store.ErrStateTransition) {
		t.Errorf("closed → acknowledged: err = %v, want ErrStateTransition", err)
	}

	want := []store.IncidentChange{
		{IncidentID: inc.ID, From: "", To: store.IncidentOpen, At: base},
		{IncidentID: inc.ID, From: store.IncidentOpen, To: store.IncidentAcknowledged, By: "alice", At: at, Note: "on it"},
		{IncidentID: inc.ID, From: store.IncidentAcknowledged, To: store.IncidentReviewed, By: "bob", At: first.At},
		{IncidentID: inc.ID, From: store.IncidentReviewed, To: store.IncidentReviewed, By: "carol", At: final.At},
		{IncidentID: inc.ID, From: store.IncidentReviewed, To: store.IncidentClosed, By: "carol", At: closeAt, Note: "done"},
	}
	// Persisted: read through a reopened store.
	st.Close()
	st = s.reopen(t, path)
	changes, err := st.IncidentChanges(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(want) {
		t.Fatalf("IncidentChanges = %+v, want %d changes", changes, len(want))
	}
	for i, c := range changes {
		w := want[i]
		checkUTC(t, fmt.Sprintf("change %d At", i), c.At, w.At)
		if c.IncidentID != w.IncidentID || c.From != w.From || c.To != w.To {
			t.Errorf("change %d = %+v, want %+v", i, c, w)
		}
		if i > 0 && (c.By != w.By || (w.Note != "" && c.Note != w.Note)) {
			t.Errorf("change %d by/note = %q %q, want %q %q", i, c.By, c.Note, w.By, w.Note)
		}
	}
	if changes[0].By == "" {
		t.Error("the opening change names nobody")
	}
	if got := incident(t, st, inc.ID); got.State != store.IncidentClosed || got.Review == nil || got.Review.By != "carol" {
		t.Errorf("after reopen: %+v", got)
	}

	// After close, an alert close in time opens a new incident that links
	// back to the closed one.
	b := accountAlert("evt-2", "bg.activity", key, base.Add(3*time.Hour))
	add(t, st, b, rawFor(b.EventID))
	inc2, opened := attach(t, st, b, key, base.Add(3*time.Hour))
	if !opened || inc2.ID == inc.ID || inc2.Previous != inc.ID || inc2.State != store.IncidentOpen {
		t.Errorf("alert after close: opened %v %+v, want a new open incident with Previous %s", opened, inc2, inc.ID)
	}
}

func (s suite) incidentFilters(t *testing.T) {
	st, _ := s.fresh(t)
	ctx := context.Background()
	type spec struct {
		event, key, kind, account string
		opened                    time.Duration
	}
	specs := []spec{
		{"e1", "0b5e1d7a-aaaa-4000-8000-000000000001", store.IncidentAccount, "0B5E1D7A-AAAA-4000-8000-000000000001", 0},
		{"e2", "silence:signins", store.IncidentSilence, "", time.Hour},
		{"e3", "0b5e1d7a-aaaa-4000-8000-000000000001", store.IncidentAccount, "0b5e1d7a-aaaa-4000-8000-000000000001", 48 * time.Hour},
		{"e4", "posture:cloud-only", store.IncidentPosture, "", 2 * time.Hour},
	}
	ids := map[string]string{}
	for _, sp := range specs {
		a := accountAlert(sp.event, "r", sp.account, base.Add(sp.opened))
		add(t, st, a, rawFor(a.EventID))
		inc, _, err := st.AttachAlert(ctx, a, sp.key, sp.kind, gap, base.Add(sp.opened))
		if err != nil {
			t.Fatal(err)
		}
		ids[sp.event] = inc.ID
	}
	if err := st.SetIncidentState(ctx, ids["e2"], store.IncidentAcknowledged, "a", "", base); err != nil {
		t.Fatal(err)
	}
	list := func(f store.IncidentFilter) []string {
		t.Helper()
		got, err := st.Incidents(ctx, f)
		if err != nil {
			t.Fatalf("Incidents(%+v): %v", f, err)
		}
		var out []string
		for _, inc := range got {
			if len(inc.Alerts) != 1 {
				t.Errorf("listed incident %s has alerts %v, want 1", inc.ID, inc.Alerts)
			}
			out = append(out, inc.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.IncidentFilter
		want []string
	}{
		{"all newest first", store.IncidentFilter{}, []string{ids["e3"], ids["e4"], ids["e2"], ids["e1"]}},
		{"state", store.IncidentFilter{State: store.IncidentAcknowledged}, []string{ids["e2"]}},
		{"kind", store.IncidentFilter{Kind: store.IncidentPosture}, []string{ids["e4"]}},
		{"account any case", store.IncidentFilter{AccountID: "0b5e1d7a-AAAA-4000-8000-000000000001"}, []string{ids["e3"], ids["e1"]}},
		{"since inclusive", store.IncidentFilter{Since: base.Add(time.Hour)}, []string{ids["e3"], ids["e4"], ids["e2"]}},
		{"limit", store.IncidentFilter{Limit: 2}, []string{ids["e3"], ids["e4"]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := st.Incidents(ctx, store.IncidentFilter{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
	if _, err := st.Incident(ctx, "inc-nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Incident(unknown) err = %v, want ErrNotFound", err)
	}
	if _, err := st.IncidentOf(ctx, "no-such-alert"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("IncidentOf(unknown) err = %v, want ErrNotFound", err)
	}
	for _, bad := range []struct {
		key, kind string
		gap       time.Duration
		a         alert.Alert
	}{
		{"", store.IncidentAccount, gap, Alert("x", "r", base)},
		{"k", "", gap, Alert("x", "r", base)},
		{"k", store.IncidentAccount, -time.Second, Alert("x", "r", base)},
		{"k", store.IncidentAccount, gap, alert.Alert{}},
	} {
		if _, _, err := st.AttachAlert(ctx, bad.a, bad.key, bad.kind, bad.gap, base); err == nil {
			t.Errorf("AttachAlert(key %q kind %q gap %s id %q) accepted", bad.key, bad.kind, bad.gap, bad.a.ID)
		}
	}
}

func (s suite) unattachedAlerts(t *testing.T) {
	st, _ := s.fresh(t)
	ctx := context.Background()
	var as []alert.Alert
	for i := range 5 {
		// Stored out of event order: UnattachedAlerts follows store order.
		a := Alert(fmt.Sprintf("evt-%d", i), "r", base.Add(time.Duration(5-i)*time.Hour))
		add(t, st, a, rawFor(a.EventID))
		as = append(as, a)
	}
	if _, _, err := st.AttachAlert(ctx, as[1], "k1", store.IncidentAccount, gap, base); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AttachAlert(ctx, as[3], "k3", store.IncidentAccount, gap, base); err != nil {
		t.Fatal(err)
	}
	got, err := st.UnattachedAlerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	if want := []string{as[0].ID, as[2].ID, as[4].ID}; !slices.Equal(ids, want) {
		t.Errorf("UnattachedAlerts = %v, want %v", ids, want)
	}
	if len(got) > 0 {
		if d := EqualAlerts(got[0], as[0]); d != "" {
			t.Errorf("UnattachedAlerts returned an altered alert: %s", d)
		}
	}
	if got, err := st.UnattachedAlerts(ctx, 2); err != nil || len(got) != 2 || got[0].ID != as[0].ID {
		t.Errorf("UnattachedAlerts(limit 2) = %d alerts, %v", len(got), err)
	}
	if _, err := st.UnattachedAlerts(ctx, -1); err == nil {
		t.Error("negative limit accepted")
	}
}

// concurrentAttach attaches alerts of one account from many goroutines
// through handles stores: they must form exactly one incident holding every
// alert once, opened exactly once.
func (s suite) concurrentAttach(t *testing.T, handles int) {
	st, path := s.fresh(t)
	stores := []store.Store{st}
	for range handles - 1 {
		stores = append(stores, s.reopen(t, path))
	}
	ctx := context.Background()
	const key, workers, n = "0b5e1d7a-cccc-4000-8000-000000000001", 8, 40
	var as []alert.Alert
	for i := range n {
		a := accountAlert(fmt.Sprintf("evt-%02d", i), "bg.signin", key, base.Add(time.Duration(i)*time.Minute))
		add(t, st, a, rawFor(a.EventID))
		as = append(as, a)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		opens  int
		ids    = map[string]bool{}
		start  = make(chan struct{})
		errsCh = make(chan error, workers)
	)
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			<-start
			for i := range as {
				a := as[(i+w*7)%len(as)]
				inc, opened, err := st.AttachAlert(ctx, a, key, store.IncidentAccount, gap, base)
				if err != nil {
					errsCh <- err
					return
				}
				mu.Lock()
				ids[inc.ID] = true
				if opened {
					opens++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errsCh)
	for err := range errsCh {
		t.Error(err)
	}
	if opens != 1 || len(ids) != 1 {
		t.Fatalf("%d workers over %d handles: %d opens, incidents %v; want 1 and 1", workers, handles, opens, ids)
	}
	for id := range ids {
		inc := incident(t, st, id)
		if len(inc.Alerts) != n {
			t.Errorf("incident holds %d alerts, want %d", len(inc.Alerts), n)
		}
		seen := map[string]bool{}
		for _, a := range inc.Alerts {
			if seen[a] {
				t.Errorf("alert %s attached twice", a)
			}
			seen[a] = true
		}
	}
}

func appendLog(t *testing.T, st store.Store, e store.LogEntry) store.LogEntry {
	t.Helper()
	got, err := st.AppendLog(context.Background(), e)
	if err != nil {
		t.Fatalf("AppendLog(%s %s): %v", e.Kind, e.Ref, err)
	}
	return got
}

// checkChain checks that es is a whole, unbroken chain from Seq 1.
func checkChain(t *testing.T, es []store.LogEntry) {
	t.Helper()
	prev := ""
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has Seq %d, want %d", i, e.Seq, i+1)
		}
		if e.Prev != prev {
			t.Fatalf("entry %d: Prev = %q, want the Hash before it %q (the chain forked)", e.Seq, e.Prev, prev)
		}
		if e.ContentSHA256 != store.ContentHash(e.Content) {
			t.Fatalf("entry %d: ContentSHA256 = %s, want %s", e.Seq, e.ContentSHA256, store.ContentHash(e.Content))
		}
		if h := e.ComputeHash(); e.Hash != h {
			t.Fatalf("entry %d: Hash = %s, ComputeHash = %s", e.Seq, e.Hash, h)
		}
		prev = e.Hash
	}
}

func allLog(t *testing.T, st store.Store) []store.LogEntry {
	t.Helper()
	var out []store.LogEntry
	after := int64(0)
	for {
		es, err := st.LogEntries(context.Background(), after, 7)
		if err != nil {
			t.Fatalf("LogEntries(%d): %v", after, err)
		}
		if len(es) == 0 {
			return out
		}
		out = append(out, es...)
		after = es[len(es)-1].Seq
	}
}

func (s suite) evidenceLog(t *testing.T) {
	st, path := s.fresh(t)
	ctx := context.Background()
	if _, ok, err := st.LogHead(ctx); err != nil || ok {
		t.Fatalf("LogHead of an empty log = %v, %v; want false", ok, err)
	}
	if es, err := st.LogEntries(ctx, 0, 0); err != nil || len(es) != 0 {
		t.Fatalf("LogEntries of an empty log = %v, %v", es, err)
	}
	contents := [][]byte{
		[]byte(`{"id":"evt-1"}`),
		{0x00, 0xff, '\n', 0xfe, 0x00}, // not UTF-8, NULs: bytes, not text
		{},
		nil,
		bytes.Repeat([]byte("x"), 1<<20),
	}
	var want []store.LogEntry
	for i, c := range contents {
		in := store.LogEntry{Incident: fmt.Sprintf("inc-%d", i%2), Kind: store.LogRecord, Ref: fmt.Sprintf("evt-%d", i),
			At: base.Add(time.Duration(i) * time.Second), Content: c}
		got := appendLog(t, st, in)
		if got.Seq != int64(i+1) || got.Hash == "" || got.Hash != got.ComputeHash() {
			t.Fatalf("appended entry %d = Seq %d Hash %q", i, got.Seq, got.Hash)
		}
		if c == nil {
			c = []byte{}
		}
		if !bytes.Equal(got.Content, c) || got.ContentSHA256 != store.ContentHash(c) {
			t.Errorf("entry %d content/hash not as given", i)
		}
		checkUTC(t, "At", got.At, in.At)
		want = append(want, got)
	}
	if _, err := st.AppendLog(ctx, store.LogEntry{Ref: "no kind"}); err == nil {
		t.Error("an entry without a kind was appended")
	}
	if _, err := st.LogEntries(ctx, 0, -1); err == nil {
		t.Error("LogEntries with a negative limit accepted")
	}

	st.Close()
	st = s.reopen(t, path)
	got := allLog(t, st)
	checkChain(t, got)
	if len(got) != len(want) {
		t.Fatalf("LogEntries after reopen: %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		checkUTC(t, fmt.Sprintf("entry %d At", i+1), g.At, w.At)
		g.At, w.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("entry %d read back differs:\n got  %+v\n want %+v", i+1, trunc(fmt.Appendf(nil, "%+v", g)), trunc(fmt.Appendf(nil, "%+v", w)))
		}
	}
	if es, err := st.LogEntries(ctx, 2, 2); err != nil || len(es) != 2 || es[0].Seq != 3 || es[1].Seq != 4 {
		t.Errorf("LogEntries(after 2, limit 2) = %d entries, %v", len(es), err)
	}
	head, ok, err := st.LogHead(ctx)
	if err != nil || !ok || head.Seq != int64(len(want)) || head.Hash != want[len(want)-1].Hash {
		t.Errorf("LogHead = %d %s %v %v, want the last entry", head.Seq, head.Hash, ok, err)
	}
	inc1, err := st.IncidentLog(ctx, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(inc1) != 2 || inc1[0].Seq != 2 || inc1[1].Seq != 4 {
		t.Errorf("IncidentLog(inc-1) = %d entries, want Seq 2 and 4", len(inc1))
	}
	if es, err := st.IncidentLog(ctx, "inc-none"); err != nil || len(es) != 0 {
		t.Errorf("IncidentLog(unknown) = %d, %v; want none", len(es), err)
	}
}

// concurrentAppend appends from many goroutines over handles stores: the
// result is one chain, no entry lost or duplicated.
func (s suite) concurrentAppend(t *testing.T, handles int) {
	st, path := s.fresh(t)
	stores := []store.Store{st}
	for range handles - 1 {
		stores = append(stores, s.reopen(t, path))
	}
	const workers, each = 8, 25
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, workers)
	)
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			<-start
			for i := range each {
				_, err := st.AppendLog(context.Background(), store.LogEntry{
					Kind: store.LogNotify, Ref: fmt.Sprintf("w%d-%d", w, i), Content: fmt.Appendf(nil, "%d/%d", w, i)})
				if err != nil {
					errs <- err
					return
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
	got := allLog(t, stores[len(stores)-1])
	if len(got) != workers*each {
		t.Fatalf("%d entries, want %d", len(got), workers*each)
	}
	checkChain(t, got)
	refs := map[string]bool{}
	for _, e := range got {
		if refs[e.Ref] {
			t.Errorf("entry %s appended twice", e.Ref)
		}
		refs[e.Ref] = true
	}
}

// appendOnce: AppendLogOnce keeps one entry per (incident, kind, ref),
// also when writers on handles race on the same ref, and never blocks a
// different incident, kind or ref.
func (s suite) appendOnce(t *testing.T, handles int) {
	st, path := s.fresh(t)
	ctx := context.Background()
	stores := []store.Store{st}
	for range handles - 1 {
		stores = append(stores, s.reopen(t, path))
	}
	first, ok, err := st.AppendLogOnce(ctx, store.LogEntry{Incident: "inc-1", Kind: store.LogRecord, Ref: "rec-1", Content: []byte("a")})
	if err != nil || !ok || first.Seq != 1 {
		t.Fatalf("first AppendLogOnce = %d, %v, %v; want seq 1, appended", first.Seq, ok, err)
	}
	again, ok, err := st.AppendLogOnce(ctx, store.LogEntry{Incident: "inc-1", Kind: store.LogRecord, Ref: "rec-1", Content: []byte("b")})
	if err != nil || ok || again.Seq != 1 || string(again.Content) != "a" {
		t.Fatalf("repeated AppendLogOnce = seq %d %q, %v, %v; want the stored entry (seq 1, \"a\") and not appended", again.Seq, again.Content, ok, err)
	}
	// Another incident, kind or ref is a different entry.
	for _, e := range []store.LogEntry{
		{Incident: "inc-2", Kind: store.LogRecord, Ref: "rec-1"},
		{Incident: "inc-1", Kind: store.LogAlert, Ref: "rec-1"},
		{Incident: "inc-1", Kind: store.LogRecord, Ref: "rec-2"},
	} {
		if _, ok, err := st.AppendLogOnce(ctx, e); err != nil || !ok {
			t.Errorf("AppendLogOnce(%s %s %s) = %v, %v; want appended", e.Incident, e.Kind, e.Ref, ok, err)
		}
	}
	// Racing writers: each ref lands once.
	const workers, refs = 8, 10
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		appended = map[string]int{}
		errs     = make(chan error, workers)
	)
	for w := range workers {
		h := stores[w%len(stores)]
		wg.Go(func() {
			<-start
			for i := range refs {
				ref := fmt.Sprintf("race-%d", i)
				_, ok, err := h.AppendLogOnce(ctx, store.LogEntry{Incident: "inc-3", Kind: store.LogRecord, Ref: ref, Content: []byte(ref)})
				if err != nil {
					errs <- err
					return
				}
				if ok {
					mu.Lock()
					appended[ref]++
					mu.Unlock()
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
	for i := range refs {
		if n := appended[fmt.Sprintf("race-%d", i)]; n != 1 {
			t.Errorf("race-%d reported appended %d times, want 1", i, n)
		}
	}
	got := allLog(t, stores[len(stores)-1])
	checkChain(t, got)
	if want := 4 + refs; len(got) != want {
		t.Errorf("%d entries, want %d", len(got), want)
	}
}
