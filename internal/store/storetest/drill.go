package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"breakglass/internal/store"
)

// The drill part of the suite (issue 11).

// Drill is a planned drill of account id at t, for tests of any package.
func Drill(id, account string, at time.Time) store.Drill {
	return store.Drill{
		ID: id, AccountID: account, AccountUPN: "bg1@contoso.example", State: store.DrillPlanned,
		At: at, Window: time.Hour, By: "alice", Note: "quarterly",
		Created: at.Add(-time.Minute), Updated: at.Add(-time.Minute),
	}
}

func equalDrill(t *testing.T, what string, got, want store.Drill) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"At", got.At, want.At}, {"Started", got.Started, want.Started}, {"Finished", got.Finished, want.Finished},
		{"Created", got.Created, want.Created}, {"Updated", got.Updated, want.Updated}} {
		checkUTC(t, what+"."+f.name, f.got, f.want)
	}
	g, w := got, want
	g.At, g.Started, g.Finished, g.Created, g.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	w.At, w.Started, w.Finished, w.Created, w.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func (s suite) drillRoundTrip(t *testing.T) {
	st, path := s.fresh(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	d := Drill("drl-1", "AAAA-1111", at)
	if err := st.AddDrill(ctx, d); err != nil {
		t.Fatalf("AddDrill: %v", err)
	}
	if err := st.AddDrill(ctx, d); err == nil {
		t.Error("AddDrill of an existing id succeeded")
	}
	got, err := st.Drill(ctx, "drl-1")
	if err != nil {
		t.Fatalf("Drill: %v", err)
	}
	equalDrill(t, "planned", got, d)
	if got.Attest != nil || got.Measured != nil {
		t.Errorf("planned drill: Attest %v Measured %q, want nil", got.Attest, got.Measured)
	}

	// Every field round-trips after a full update, and across reopen.
	f := got
	f.State, f.Result, f.FailedStep, f.Reason = store.DrillFinished, store.DrillFailed, "delivery_within", "webhook slow"
	f.Started, f.Finished = at.Add(time.Minute), at.Add(50*time.Minute)
	f.AlertID, f.IncidentID = "alert-9", "inc-9"
	f.Attest = map[string]string{"people-trained": "bob", "monitoring-aware": "carol"}
	f.Measured = []byte(`{"alert_s":12.5}`)
	f.Window = 90 * time.Minute
	f.Updated = got.Updated.Add(time.Hour)
	if err := st.UpdateDrill(ctx, f, got.Updated); err != nil {
		t.Fatalf("UpdateDrill: %v", err)
	}
	st = s.reopen(t, path)
	got, err = st.Drill(ctx, "drl-1")
	if err != nil {
		t.Fatalf("Drill after reopen: %v", err)
	}
	equalDrill(t, "finished", got, f)

	if _, err := st.Drill(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Drill(unknown) = %v, want ErrNotFound", err)
	}
	u := f
	u.ID = "nope"
	u.Updated = f.Updated.Add(time.Second)
	if err := st.UpdateDrill(ctx, u, f.Updated); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateDrill(unknown) = %v, want ErrNotFound", err)
	}
	// An empty attestation map stays empty, not nil.
	e := got
	e.Attest = map[string]string{}
	e.Updated = got.Updated.Add(time.Second)
	if err := st.UpdateDrill(ctx, e, got.Updated); err != nil {
		t.Fatalf("UpdateDrill: %v", err)
	}
	if got, _ := st.Drill(ctx, "drl-1"); got.Attest == nil || len(got.Attest) != 0 {
		t.Errorf("Attest = %#v, want empty non-nil", got.Attest)
	}
}

func (s suite) drillInvalid(t *testing.T) {
	st, _ := s.fresh(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for name, mut := range map[string]func(*store.Drill){
		"empty id":       func(d *store.Drill) { d.ID = "" },
		"unknown state":  func(d *store.Drill) { d.State = "paused" },
		"unknown result": func(d *store.Drill) { d.Result = "maybe" },
		"negative":       func(d *store.Drill) { d.Window = -time.Second },
		"no at":          func(d *store.Drill) { d.At = time.Time{} },
	} {
		d := Drill("drl-x", "A", at)
		mut(&d)
		if err := st.AddDrill(ctx, d); err == nil {
			t.Errorf("%s: AddDrill succeeded", name)
		}
	}
	if ds, err := st.Drills(ctx, store.DrillFilter{}); err != nil || len(ds) != 0 {
		t.Errorf("Drills after invalid adds = %v, %v; want none", ds, err)
	}
	if _, err := st.Drills(ctx, store.DrillFilter{Limit: -1}); err == nil {
		t.Error("Drills with a negative limit succeeded")
	}
}

func (s suite) drillFilters(t *testing.T) {
	st, _ := s.fresh(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(id, acct string, at time.Time, state, result string) {
		t.Helper()
		d := Drill(id, acct, at)
		d.State, d.Result = state, result
		if err := st.AddDrill(ctx, d); err != nil {
			t.Fatalf("AddDrill %s: %v", id, err)
		}
	}
	add("d1", "acct-A", base, store.DrillFinished, store.DrillPassed)
	add("d2", "acct-b", base.Add(48*time.Hour), store.DrillFinished, store.DrillFailed)
	add("d3", "ACCT-A", base.Add(24*time.Hour), store.DrillRunning, "")
	add("d4", "acct-a", base.Add(24*time.Hour), store.DrillPlanned, "") // same At as d3, added later
	ids := func(f store.DrillFilter) []string {
		t.Helper()
		ds, err := st.Drills(ctx, f)
		if err != nil {
			t.Fatalf("Drills(%+v): %v", f, err)
		}
		out := []string{}
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	for _, c := range []struct {
		f    store.DrillFilter
		want []string
	}{
		{store.DrillFilter{}, []string{"d2", "d4", "d3", "d1"}},
		{store.DrillFilter{AccountID: "Acct-A"}, []string{"d4", "d3", "d1"}},
		{store.DrillFilter{State: store.DrillFinished}, []string{"d2", "d1"}},
		{store.DrillFilter{Result: store.DrillPassed}, []string{"d1"}},
		{store.DrillFilter{AccountID: "acct-a", Result: store.DrillPassed, Limit: 1}, []string{"d1"}},
		{store.DrillFilter{Limit: 2}, []string{"d2", "d4"}},
		{store.DrillFilter{AccountID: "nobody"}, []string{}},
	} {
		if got := ids(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Drills(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}

// drillConcurrency: two finishes of one drill read at the same version;
// exactly one wins, the other gets ErrStateTransition, and a stale or
// unchanged token is refused.
func (s suite) drillConcurrency(t *testing.T, handles int) {
	path := t.TempDir() + "/store.db"
	sts := []store.Store{s.reopen(t, path)}
	for len(sts) < handles {
		sts = append(sts, s.reopen(t, path))
	}
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	d := Drill("drl-c", "A", at)
	if err := sts[0].AddDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []string
		errs []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := d
			u.State, u.Result = store.DrillFinished, store.DrillPassed
			u.By = string(rune('a' + i))
			u.Updated = d.Updated.Add(time.Duration(i+1) * time.Second)
			err := sts[i%len(sts)].UpdateDrill(ctx, u, d.Updated)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins = append(wins, u.By)
			} else {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("%d updates won (%v), want exactly 1; errors %v", len(wins), wins, errs)
	}
	for _, err := range errs {
		if !errors.Is(err, store.ErrStateTransition) {
			t.Errorf("losing update: %v, want ErrStateTransition", err)
		}
	}
	got, err := sts[0].Drill(ctx, "drl-c")
	if err != nil {
		t.Fatal(err)
	}
	if got.By != wins[0] {
		t.Errorf("stored By = %q, want the winner %q", got.By, wins[0])
	}
	same := got
	if err := sts[0].UpdateDrill(ctx, same, got.Updated); err == nil {
		t.Error("UpdateDrill with Updated equal to prev succeeded; the token must change")
	}
}
