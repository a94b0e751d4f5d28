package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// notifyAfterScan is item 5 of spine v2: `scan` stores alerts (in batches,
// without targets) into the store the daemon uses; the daemon then sees the
// same records and must still notify every target, exactly once.
func (s suite) notifyAfterScan(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	var items []store.AlertWithEvidence
	for i := range 20 {
		a := Alert(fmt.Sprintf("evt-%02d", i), "bg.signin", base.Add(time.Duration(i)*time.Minute))
		items = append(items, store.AlertWithEvidence{Alert: a, Evidence: Evidence(a, rawFor(a.EventID))})
	}
	ins, err := st.AddAlertsNotify(ctx, items, nil) // scan, no notification targets
	if err != nil {
		t.Fatalf("AddAlertsNotify (scan): %v", err)
	}
	for i, b := range ins {
		if !b {
			t.Errorf("scan: item %d not new", i)
		}
	}
	wantDepth(t, st, 0)

	targets := []string{"oncall/webhook", "security/console"}
	for _, it := range items { // serve sees the same records
		if notify(t, st, it.Alert, targets...) {
			t.Errorf("serve: alert %s stored by scan reported new", it.Alert.ID)
		}
	}
	wantDepth(t, st, len(items)*len(targets))
	m := byKey(t, due(t, st, time.Now(), 10*len(items)))
	for _, it := range items {
		for _, target := range targets {
			if _, ok := m[it.Alert.ID+" firing "+target]; !ok {
				t.Errorf("no delivery of %s to %s", it.Alert.ID, target)
			}
		}
	}

	// A second scan (now with targets) and a replay to serve add nothing,
	// also once everything was delivered and pruned.
	for _, d := range m {
		if err := st.CompleteDelivery(ctx, d.ID, base); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Prune(ctx, base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ins, err := st.AddAlertsNotify(ctx, items, targets); err != nil || slices.Contains(ins, true) {
		t.Errorf("second scan: inserted %v, %v; want all false", ins, err)
	}
	for _, it := range items {
		notify(t, st, it.Alert, targets...)
	}
	wantDepth(t, st, 0)

	// In one batch, a repeated alert is new once, and per-item targets add
	// to the batch's.
	a, b := Alert("evt-new-a", "r", base), Alert("evt-new-b", "r", base)
	batch := []store.AlertWithEvidence{
		{Alert: a, Evidence: Evidence(a, rawFor(a.EventID)), Targets: []string{"extra"}},
		{Alert: b, Evidence: Evidence(b, rawFor(b.EventID))},
		{Alert: a, Evidence: Evidence(a, rawFor(a.EventID))},
	}
	ins, err = st.AddAlertsNotify(ctx, batch, []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ins) != "[true true false]" {
		t.Errorf("inserted = %v, want [true true false]", ins)
	}
	m = byKey(t, due(t, st, time.Now(), 0))
	for _, k := range []string{a.ID + " firing t", a.ID + " firing extra", b.ID + " firing t"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no delivery %s", k)
		}
	}
	wantDepth(t, st, 3)
	if ins, err := st.AddAlertsNotify(ctx, nil, []string{"t"}); err != nil || len(ins) != 0 {
		t.Errorf("AddAlertsNotify(nil) = %v, %v", ins, err)
	}
}

var errAbort = errors.New("abort this unit of work")

// update checks the unit of work: everything or nothing.
func (s suite) update(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	pre := Alert("evt-pre", "r", base)
	notify(t, st, pre, "x")

	a := Alert("evt-1", "bg.silence", base)
	cp := store.Checkpoint{Source: "files", Key: "k", Offset: 10, Size: 20, Updated: base}
	cond := store.Condition{Rule: "bg.silence", Key: "files", AlertID: a.ID, Since: base, Updated: base, Data: []byte("d")}
	work := func(tx store.Tx) error {
		ins, err := tx.AddAlertNotify(ctx, a, Evidence(a, rawFor(a.EventID)), []string{"x", "y"})
		if err != nil || !ins {
			return fmt.Errorf("AddAlertNotify = %v, %w", ins, err)
		}
		// Reads inside see the writes before them.
		if got, err := tx.Alert(ctx, a.ID); err != nil || got.ID != a.ID {
			return fmt.Errorf("tx.Alert of the alert just added = %v, %w", got.ID, err)
		}
		if ins, err := tx.AddAlert(ctx, Alert("evt-2", "r", base), store.Evidence{}); err != nil || !ins {
			return fmt.Errorf("AddAlert = %v, %w", ins, err)
		}
		b := Alert("evt-3", "r", base)
		if ins, err := tx.AddAlertsNotify(ctx, []store.AlertWithEvidence{{Alert: a}, {Alert: b}}, []string{"z"}); err != nil ||
			fmt.Sprint(ins) != "[false true]" {
			return fmt.Errorf("AddAlertsNotify = %v, %w", ins, err)
		}
		if err := tx.Enqueue(ctx, pre.ID, store.StatusResolved, []string{"x"}); err != nil {
			return err
		}
		if err := tx.SetCheckpoint(ctx, cp); err != nil {
			return err
		}
		if got, ok, err := tx.Checkpoint(ctx, cp.Source, cp.Key); err != nil || !ok || got.Offset != cp.Offset {
			return fmt.Errorf("tx.Checkpoint = %+v, %v, %w", got, ok, err)
		}
		if err := tx.SetCondition(ctx, cond); err != nil {
			return err
		}
		if got, ok, err := tx.Condition(ctx, cond.Rule, cond.Key); err != nil || !ok || got.AlertID != a.ID {
			return fmt.Errorf("tx.Condition = %+v, %v, %w", got, ok, err)
		}
		if err := tx.SetCondition(ctx, store.Condition{Rule: "bg.source", Key: "q"}); err != nil {
			return err
		}
		if err := tx.ClearCondition(ctx, "bg.source", "q"); err != nil {
			return err
		}
		return tx.SetAlertState(ctx, pre.ID, alert.StateResolved, "breakglass", base)
	}
	stored := func() string {
		t.Helper()
		var parts []string
		if _, err := st.Alert(ctx, a.ID); err == nil {
			parts = append(parts, "alert")
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := st.Alert(ctx, alert.Key("evt-2", "r")); err == nil {
			parts = append(parts, "alert2")
		}
		if _, err := st.Alert(ctx, alert.Key("evt-3", "r")); err == nil {
			parts = append(parts, "alert3")
		}
		if _, err := st.Evidence(ctx, a.EventID); err == nil {
			parts = append(parts, "evidence")
		}
		parts = append(parts, fmt.Sprintf("depth=%d", depth(t, st)))
		if _, ok, _ := st.Checkpoint(ctx, cp.Source, cp.Key); ok {
			parts = append(parts, "checkpoint")
		}
		if cs, _ := st.Conditions(ctx, ""); len(cs) > 0 {
			parts = append(parts, fmt.Sprintf("conditions=%d", len(cs)))
		}
		if got, _ := st.Alert(ctx, pre.ID); got.State != alert.StateFiring {
			parts = append(parts, "pre="+got.State)
		}
		return fmt.Sprint(parts)
	}
	const before = "[depth=1]"
	if got := stored(); got != before {
		t.Fatalf("before: %s", got)
	}

	// An error from fn rolls everything back and is returned.
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := work(tx); err != nil {
			t.Errorf("work: %v", err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("Update returned %v, want errAbort", err)
	}
	if got := stored(); got != before {
		t.Errorf("after a failed Update: %s, want %s", got, before)
	}

	// So does a store error inside, when fn passes it on.
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := work(tx); err != nil {
			return err
		}
		return tx.Enqueue(ctx, "no-such-alert", store.StatusFiring, []string{"x"})
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update with a failing Enqueue returned %v, want ErrNotFound", err)
	}
	if got := stored(); got != before {
		t.Errorf("after a failing Enqueue: %s, want %s", got, before)
	}

	// And a panic, which propagates; the store stays usable.
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("a panic in fn did not propagate")
			}
		}()
		st.Update(ctx, func(tx store.Tx) error {
			if err := work(tx); err != nil {
				t.Errorf("work: %v", err)
			}
			panic("fn panics")
		})
	}()
	if got := stored(); got != before {
		t.Errorf("after a panicking Update: %s, want %s", got, before)
	}

	var kept store.Tx
	if err := st.Update(ctx, func(tx store.Tx) error { kept = tx; return work(tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	const after = "[alert alert2 alert3 evidence depth=6 checkpoint conditions=1 pre=resolved]"
	if got := stored(); got != after {
		t.Errorf("after Update: %s, want %s", got, after)
	}
	if _, err := kept.AddAlert(ctx, Alert("evt-late", "r", base), store.Evidence{}); err == nil {
		t.Error("a Tx used after its Update returned accepted a write")
	}
	if _, err := st.Alert(ctx, alert.Key("evt-late", "r")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("write through a finished Tx was stored: %v", err)
	}
}

// claimLeases checks lease semantics with one claimer at a time.
func (s suite) claimLeases(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a := Alert("evt-1", "r", base)
	notify(t, st, a, "x", "y", "z")
	all := due(t, st, time.Now(), 0)
	ids := deliveryIDs(all)
	now := time.Now()
	claim := func(owner string, at time.Time, lease time.Duration, limit int) []store.Delivery {
		t.Helper()
		ds, err := st.ClaimDeliveries(ctx, owner, at, lease, limit)
		if err != nil {
			t.Fatalf("ClaimDeliveries(%s, %s): %v", owner, at, err)
		}
		for _, d := range ds {
			if d.LeaseOwner != owner || !d.LeaseUntil.Equal(at.Add(lease)) || d.LeaseUntil.Location() != time.UTC {
				t.Errorf("claimed %d: lease %q until %s, want %q until %s (UTC)", d.ID, d.LeaseOwner, d.LeaseUntil, owner, at.Add(lease))
			}
		}
		return ds
	}
	if got := deliveryIDs(claim("A", now, time.Minute, 2)); fmt.Sprint(got) != fmt.Sprint(ids[:2]) {
		t.Errorf("A claims %v, want the oldest two %v", got, ids[:2])
	}
	if got := deliveryIDs(claim("B", now, time.Minute, 0)); fmt.Sprint(got) != fmt.Sprint(ids[2:]) {
		t.Errorf("B claims %v, want the rest %v", got, ids[2:])
	}
	if got := claim("C", now.Add(59*time.Second), time.Minute, 0); len(got) != 0 {
		t.Errorf("C claims %v while every lease is live", deliveryIDs(got))
	}
	// Claims are not deliveries: the plain read still lists them, leased.
	for _, d := range due(t, st, now, 0) {
		if d.LeaseOwner == "" || d.LeaseUntil.IsZero() {
			t.Errorf("DueDeliveries shows %d unleased: %+v", d.ID, d)
		}
	}
	wantDepth(t, st, 3)

	// Releasing: only by the owner.
	if err := st.ReleaseDelivery(ctx, ids[0], "B"); err != nil {
		t.Errorf("ReleaseDelivery by another owner: %v", err)
	}
	if got := claim("C", now, time.Minute, 0); len(got) != 0 {
		t.Errorf("C claims %v after a release by a non-owner", deliveryIDs(got))
	}
	if err := st.ReleaseDelivery(ctx, ids[0], "A"); err != nil {
		t.Fatalf("ReleaseDelivery: %v", err)
	}
	if got := deliveryIDs(claim("C", now, time.Minute, 0)); fmt.Sprint(got) != fmt.Sprint(ids[:1]) {
		t.Errorf("C claims %v after A released %d", got, ids[0])
	}

	// Complete and retry release the lease; a retried one is claimable when
	// due, a completed one never.
	if err := st.CompleteDelivery(ctx, ids[0], now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour)
	if err := st.RetryDelivery(ctx, ids[1], 1, later, "503"); err != nil {
		t.Fatal(err)
	}
	for _, d := range due(t, st, later, 0) {
		if d.ID == ids[1] && (d.LeaseOwner != "" || !d.LeaseUntil.IsZero()) {
			t.Errorf("retried delivery still leased: %+v", d)
		}
	}
	if got := claim("D", now.Add(30*time.Minute), 2*time.Hour, 0); len(got) != 1 || got[0].ID != ids[2] {
		// B's lease on ids[2] has expired; ids[1] is not due yet.
		t.Errorf("D claims %v at +30m, want only the expired lease %d", deliveryIDs(got), ids[2])
	}
	if got := claim("E", later, time.Minute, 0); len(got) != 1 || got[0].ID != ids[1] || got[0].Attempts != 1 {
		t.Errorf("E claims %+v at the retry time, want %d with 1 attempt", got, ids[1])
	}

	for _, tc := range []struct {
		owner string
		lease time.Duration
	}{{"", time.Minute}, {"F", 0}, {"F", -time.Second}} {
		if _, err := st.ClaimDeliveries(ctx, tc.owner, now, tc.lease, 0); err == nil {
			t.Errorf("ClaimDeliveries(owner %q, lease %v) succeeded", tc.owner, tc.lease)
		}
	}
	if err := st.ReleaseDelivery(ctx, ids[2]+1000, "A"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReleaseDelivery(unknown) = %v, want ErrNotFound", err)
	}
}

// claimConcurrent has claimers on two handles race for the same deliveries.
// releaseLeases: a restarted dispatcher with a stable owner frees what its
// previous run held (a SIGKILL leaves leases behind), and nobody else's.
func (s suite) releaseLeases(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	notify(t, st, Alert("evt-1", "r", base), "x", "y", "z")
	now := time.Now()
	claim := func(owner string, limit int) []int64 {
		t.Helper()
		ds, err := st.ClaimDeliveries(ctx, owner, now, time.Hour, limit)
		if err != nil {
			t.Fatalf("ClaimDeliveries(%s): %v", owner, err)
		}
		return deliveryIDs(ds)
	}
	if got := claim("A", 2); len(got) != 2 {
		t.Fatalf("A claims %v, want 2", got)
	}
	if got := claim("B", 0); len(got) != 1 {
		t.Fatalf("B claims %v, want the third", got)
	}
	if n, err := st.ReleaseLeases(ctx, "nobody"); err != nil || n != 0 {
		t.Errorf("ReleaseLeases(nobody) = %d, %v; want 0, nil", n, err)
	}
	if got := claim("C", 0); len(got) != 0 {
		t.Fatalf("C claims %v while A and B hold every lease", got)
	}
	n, err := st.ReleaseLeases(ctx, "A")
	if err != nil || n != 2 {
		t.Fatalf("ReleaseLeases(A) = %d, %v; want 2, nil", n, err)
	}
	if got := claim("C", 0); len(got) != 2 {
		t.Errorf("C claims %v after A's leases were released, want A's two (B's stays held)", got)
	}
}

func (s suite) claimConcurrent(t *testing.T, handles int) {
	ctx := context.Background()
	st1, path := s.fresh(t)
	stores := []store.Store{st1}
	for range handles - 1 {
		stores = append(stores, s.reopen(t, path))
	}
	var items []store.AlertWithEvidence
	for i := range 60 {
		a := Alert(fmt.Sprintf("evt-%02d", i), "r", base)
		items = append(items, store.AlertWithEvidence{Alert: a, Evidence: Evidence(a, nil)})
	}
	if _, err := st1.AddAlertsNotify(ctx, items, []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	const n = 120
	const workers = 8

	// Phase 1: long leases, nothing released. Every delivery is claimed
	// exactly once in total.
	var (
		mu     sync.Mutex
		counts = map[int64]int{}
		wg     sync.WaitGroup
	)
	now := time.Now()
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for {
				ds, err := st.ClaimDeliveries(ctx, fmt.Sprintf("w%d", w), now, time.Hour, 1+w%5)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					counts[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(counts) != n {
		t.Errorf("%d deliveries claimed, want %d", len(counts), n)
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("delivery %d claimed %d times under a live lease", id, c)
		}
	}

	// Phase 2: claim, then give back through RetryDelivery, in a loop. No
	// delivery may ever be held by two claimers at once.
	later := now.Add(2 * time.Hour) // every phase 1 lease has expired
	held := make(map[int64]*atomic.Bool, n)
	for id := range counts {
		held[id] = new(atomic.Bool)
	}
	var claims atomic.Int64
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for range 15 {
				ds, err := st.ClaimDeliveries(ctx, fmt.Sprintf("v%d", w), later, time.Hour, 4)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				for _, d := range ds {
					claims.Add(1)
					if !held[d.ID].CompareAndSwap(false, true) {
						t.Errorf("delivery %d claimed by %s while another claimer held it", d.ID, d.LeaseOwner)
					}
				}
				for _, d := range ds {
					held[d.ID].Store(false) // before the release: it is still ours until then
					if err := st.RetryDelivery(ctx, d.ID, d.Attempts+1, later, "again"); err != nil {
						t.Errorf("worker %d: retry: %v", w, err)
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("phase 2: %d claims over %d handles", claims.Load(), handles)
	if claims.Load() == 0 {
		t.Error("phase 2 claimed nothing")
	}
}

func (s suite) deadLetters(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	a := Alert("evt-1", "r", base)
	notify(t, st, a, "x", "y", "z")
	m := byKey(t, due(t, st, time.Now(), 0))
	x, y, z := m[a.ID+" firing x"], m[a.ID+" firing y"], m[a.ID+" firing z"]
	deadCount := func() int {
		t.Helper()
		n, err := st.DeadLetterCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	dead := func(limit int) []store.Delivery {
		t.Helper()
		ds, err := st.DeadLetters(ctx, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	if n := deadCount(); n != 0 || len(dead(0)) != 0 {
		t.Fatalf("fresh store has %d dead letters", n)
	}
	// Leased when it is given up on: the lease goes too.
	if _, err := st.ClaimDeliveries(ctx, "A", time.Now(), time.Hour, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.DeadLetter(ctx, x.ID, base, `target "oncall/x" no longer exists`); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	wantDepth(t, st, 2)
	if n := deadCount(); n != 1 {
		t.Errorf("DeadLetterCount = %d, want 1", n)
	}
	if _, ok := byKey(t, due(t, st, time.Now().Add(time.Hour), 0))[a.ID+" firing x"]; ok {
		t.Error("a dead letter is still due")
	}
	ds := dead(0)
	if len(ds) != 1 || ds[0].ID != x.ID || !ds[0].DeadAt.Equal(base) || ds[0].DeadAt.Location() != time.UTC ||
		ds[0].DeadReason != `target "oncall/x" no longer exists` || ds[0].LeaseOwner != "" {
		t.Errorf("DeadLetters = %+v", ds)
	}
	// It stays dead: not claimable, not re-enqueued, not revived by a late
	// retry, and a second dead-lettering keeps the first reason.
	if got, _ := st.ClaimDeliveries(ctx, "B", time.Now().Add(2*time.Hour), time.Minute, 0); slices.Contains(deliveryIDs(got), x.ID) {
		t.Error("a dead letter was claimed")
	}
	if err := st.Enqueue(ctx, a.ID, store.StatusFiring, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	notify(t, st, a, "x")
	if err := st.RetryDelivery(ctx, x.ID, 5, base, "late failure"); err != nil {
		t.Errorf("RetryDelivery of a dead letter: %v", err)
	}
	if err := st.DeadLetter(ctx, x.ID, base.Add(time.Hour), "other reason"); err != nil {
		t.Errorf("second DeadLetter: %v", err)
	}
	wantDepth(t, st, 2)
	if ds := dead(0); len(ds) != 1 || ds[0].DeadReason != `target "oncall/x" no longer exists` || ds[0].Attempts != 0 {
		t.Errorf("after retry and second dead-lettering: %+v", ds)
	}

	// A delivered one is not dead-lettered; ordering is most recent first.
	if err := st.CompleteDelivery(ctx, y.ID, base); err != nil {
		t.Fatal(err)
	}
	if err := st.DeadLetter(ctx, y.ID, base.Add(time.Minute), "too late"); err != nil {
		t.Errorf("DeadLetter of a delivered delivery: %v", err)
	}
	if err := st.DeadLetter(ctx, z.ID, base.Add(time.Minute), "failed for 24h"); err != nil {
		t.Fatal(err)
	}
	if got := deliveryIDs(dead(0)); fmt.Sprint(got) != fmt.Sprint([]int64{z.ID, x.ID}) {
		t.Errorf("DeadLetters = %v, want [%d %d]", got, z.ID, x.ID)
	}
	if got := deliveryIDs(dead(1)); fmt.Sprint(got) != fmt.Sprint([]int64{z.ID}) {
		t.Errorf("DeadLetters(1) = %v, want [%d]", got, z.ID)
	}
	wantDepth(t, st, 0)
	if err := st.DeadLetter(ctx, z.ID+1000, base, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeadLetter(unknown) = %v, want ErrNotFound", err)
	}

	// A resolution is another delivery, and still goes out.
	if err := st.Enqueue(ctx, a.ID, store.StatusResolved, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, st, 1)

	st.Close()
	st = s.reopen(t, path)
	if n, err := st.DeadLetterCount(ctx); err != nil || n != 2 {
		t.Errorf("after reopen: DeadLetterCount = %d, %v; want 2", n, err)
	}
}

func (s suite) pruneKeepsDedupe(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	a := Alert("evt-1", "r", base)
	raw := rawFor(a.EventID)
	if _, err := st.AddAlertNotify(ctx, a, Evidence(a, raw), []string{"old", "new", "pending", "dead"}); err != nil {
		t.Fatal(err)
	}
	m := byKey(t, due(t, st, time.Now(), 0))
	t0, cut, t2 := base, base.Add(time.Hour), base.Add(2*time.Hour)
	if err := st.CompleteDelivery(ctx, m[a.ID+" firing old"].ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteDelivery(ctx, m[a.ID+" firing new"].ID, t2); err != nil {
		t.Fatal(err)
	}
	if err := st.DeadLetter(ctx, m[a.ID+" firing dead"].ID, t0, "gone"); err != nil {
		t.Fatal(err)
	}
	prune := func(before time.Time, want int) {
		t.Helper()
		stats, err := st.Prune(ctx, before)
		if err != nil {
			t.Fatalf("Prune(%s): %v", before, err)
		}
		if stats.Deliveries != want {
			t.Errorf("Prune(%s) removed %d deliveries, want %d", before, stats.Deliveries, want)
		}
	}
	prune(t0, 0) // strictly before
	prune(cut, 1)
	prune(cut, 0)
	wantDepth(t, st, 1)
	if n, _ := st.DeadLetterCount(ctx); n != 1 {
		t.Errorf("Prune removed a dead letter: %d left", n)
	}
	// The pruned delivery is not created again, by any path.
	notify(t, st, a, "old")
	if err := st.Enqueue(ctx, a.ID, store.StatusFiring, []string{"old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAlertsNotify(ctx, []store.AlertWithEvidence{{Alert: a, Evidence: Evidence(a, raw)}}, []string{"old"}); err != nil {
		t.Fatal(err)
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AddAlertNotify(ctx, a, Evidence(a, raw), []string{"old"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantDepth(t, st, 1)
	if _, ok := byKey(t, due(t, st, time.Now().Add(time.Hour), 0))[a.ID+" firing old"]; ok {
		t.Error("a pruned delivery was sent again")
	}
	// Other statuses are other deliveries.
	if err := st.Enqueue(ctx, a.ID, store.StatusResolved, []string{"old"}); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, st, 2)

	prune(time.Now().Add(24*time.Hour), 1) // "new"
	notify(t, st, a, "new")
	wantDepth(t, st, 2)
	// Alerts and evidence are never pruned.
	if got, err := st.Alert(ctx, a.ID); err != nil {
		t.Errorf("alert pruned: %v", err)
	} else if d := EqualAlerts(got, a); d != "" {
		t.Errorf("alert after prune: %s", d)
	}
	if ev, err := st.Evidence(ctx, a.EventID); err != nil || !bytes.Equal(ev.Raw, raw) {
		t.Errorf("evidence after prune: %q, %v", ev.Raw, err)
	}
}

func (s suite) conditions(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	get := func(rule, key string) (store.Condition, bool) {
		t.Helper()
		c, ok, err := st.Condition(ctx, rule, key)
		if err != nil {
			t.Fatalf("Condition(%s, %s): %v", rule, key, err)
		}
		if ok && (c.Since.Location() != time.UTC || c.Updated.Location() != time.UTC) {
			t.Errorf("Condition(%s, %s) times not in UTC: %+v", rule, key, c)
		}
		return c, ok
	}
	set := func(c store.Condition) {
		t.Helper()
		if err := st.SetCondition(ctx, c); err != nil {
			t.Fatalf("SetCondition(%+v): %v", c, err)
		}
	}
	list := func(rule string) string {
		t.Helper()
		cs, err := st.Conditions(ctx, rule)
		if err != nil {
			t.Fatalf("Conditions(%s): %v", rule, err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Rule+"/"+c.Key)
		}
		return fmt.Sprint(out)
	}
	equal := func(got, want store.Condition) {
		t.Helper()
		if !got.Since.Equal(want.Since) || !got.Updated.Equal(want.Updated) ||
			got.Rule != want.Rule || got.Key != want.Key || got.AlertID != want.AlertID || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("condition = %+v, want %+v", got, want)
		}
	}

	if c, ok := get("bg.silence", "files"); ok {
		t.Errorf("Condition of nothing = %+v", c)
	}
	c := store.Condition{Rule: "bg.silence", Key: "files", AlertID: "a1", Since: base, Updated: base.Add(1),
		Data: []byte(`{"last":"2025-03-14T09:00:00Z"}` + "\x00\xff")}
	set(c)
	got, ok := get(c.Rule, c.Key)
	if !ok {
		t.Fatal("condition just set not found")
	}
	equal(got, c)

	// A zero Since keeps the one stored; a zero Updated is now.
	c2 := store.Condition{Rule: c.Rule, Key: c.Key, AlertID: "a2", Data: []byte("v2")}
	set(c2)
	got, _ = get(c.Rule, c.Key)
	if !got.Since.Equal(base) || got.AlertID != "a2" || string(got.Data) != "v2" || time.Since(got.Updated).Abs() > time.Hour {
		t.Errorf("after update with zero Since and Updated: %+v; want Since %s kept, Updated about now", got, base)
	}
	// A given Since replaces it.
	c3 := c
	c3.Since = base.Add(time.Hour)
	set(c3)
	got, _ = get(c.Rule, c.Key)
	equal(got, c3)

	// New with zero Since: now. Empty data reads as nil.
	set(store.Condition{Rule: "bg.source", Key: "graph/signIns", Data: []byte{}})
	got, _ = get("bg.source", "graph/signIns")
	if time.Since(got.Since).Abs() > time.Hour || got.Data != nil {
		t.Errorf("new condition without Since: %+v, want Since about now, nil Data", got)
	}
	set(store.Condition{Rule: "bg.source", Key: ""})
	set(store.Condition{Rule: "bg.silence", Key: "eventhub"})
	if got, want := list("bg.silence"), "[bg.silence/eventhub bg.silence/files]"; got != want {
		t.Errorf("Conditions(bg.silence) = %s, want %s", got, want)
	}
	if got, want := list(""), "[bg.silence/eventhub bg.silence/files bg.source/ bg.source/graph/signIns]"; got != want {
		t.Errorf("Conditions(\"\") = %s, want %s", got, want)
	}
	if got := list("bg.posture"); got != "[]" {
		t.Errorf("Conditions(bg.posture) = %s", got)
	}
	if err := st.SetCondition(ctx, store.Condition{Key: "k"}); err == nil {
		t.Error("SetCondition without a rule succeeded")
	}

	if err := st.ClearCondition(ctx, "bg.silence", "eventhub"); err != nil {
		t.Fatal(err)
	}
	if err := st.ClearCondition(ctx, "bg.silence", "eventhub"); err != nil {
		t.Errorf("clearing a cleared condition: %v", err)
	}
	if _, ok := get("bg.silence", "eventhub"); ok {
		t.Error("cleared condition still there")
	}

	// A restart keeps them: an open bg.silence is neither lost nor raised
	// twice.
	st.Close()
	st = s.reopen(t, path)
	got, ok = get(c.Rule, c.Key)
	if !ok {
		t.Fatal("condition lost across reopen")
	}
	equal(got, c3)
	if got, want := list(""), "[bg.silence/files bg.source/ bg.source/graph/signIns]"; got != want {
		t.Errorf("after reopen: Conditions = %s, want %s", got, want)
	}
}

func (s suite) sourceAlive(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	get := func(source string) (time.Time, bool) {
		t.Helper()
		at, ok, err := st.SourceAlive(ctx, source)
		if err != nil {
			t.Fatalf("SourceAlive(%s): %v", source, err)
		}
		if ok && at.Location() != time.UTC {
			t.Errorf("SourceAlive(%s) = %s, want UTC", source, at)
		}
		return at, ok
	}
	set := func(source string, at time.Time) {
		t.Helper()
		if err := st.SetSourceAlive(ctx, source, at); err != nil {
			t.Fatalf("SetSourceAlive(%s, %s): %v", source, at, err)
		}
	}
	if _, ok := get("graph"); ok {
		t.Error("SourceAlive of nothing found")
	}
	set("graph", base)
	set("graph", base.Add(-time.Nanosecond)) // late, out-of-order report: ignored
	if at, _ := get("graph"); !at.Equal(base) {
		t.Errorf("SourceAlive moved backwards to %s", at)
	}
	set("graph", base.Add(time.Nanosecond))
	set("files", base.Add(-time.Hour))
	if at, _ := get("graph"); !at.Equal(base.Add(time.Nanosecond)) {
		t.Errorf("SourceAlive = %s, want %s", at, base.Add(time.Nanosecond))
	}
	if err := st.SetSourceAlive(ctx, "", base); err == nil {
		t.Error("SetSourceAlive without a source succeeded")
	}
	st.Close()
	st = s.reopen(t, path)
	if at, ok := get("files"); !ok || !at.Equal(base.Add(-time.Hour)) {
		t.Errorf("after reopen: SourceAlive(files) = %s, %v", at, ok)
	}
}

func (s suite) deleteCheckpoint(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	for _, k := range []string{"a", "b"} {
		if err := st.SetCheckpoint(ctx, store.Checkpoint{Source: "files", Key: k, Offset: 1, Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetCheckpoint(ctx, store.Checkpoint{Source: "other", Key: "a", Offset: 1, Size: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteCheckpoint(ctx, "files", "a"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteCheckpoint(ctx, "files", "a"); err != nil {
		t.Errorf("deleting a deleted checkpoint: %v", err)
	}
	if _, ok, _ := st.Checkpoint(ctx, "files", "a"); ok {
		t.Error("deleted checkpoint still there")
	}
	for _, k := range [][2]string{{"files", "b"}, {"other", "a"}} {
		if _, ok, _ := st.Checkpoint(ctx, k[0], k[1]); !ok {
			t.Errorf("deleting files/a removed %s/%s", k[0], k[1])
		}
	}
}

func (s suite) alertState(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	a := Alert("evt-1", "r", base)
	add(t, st, a, nil)
	other := Alert("evt-2", "r", base)
	add(t, st, other, nil)
	set := func(state string, at time.Time) error {
		t.Helper()
		return st.SetAlertState(ctx, a.ID, state, "alice@contoso.example", at)
	}
	state := func(id string) string {
		t.Helper()
		got, err := st.Alert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return got.State
	}
	listed := func(state string) []string {
		t.Helper()
		var ids []string
		for _, x := range all(t, st, store.AlertFilter{State: state}) {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if state(a.ID) != alert.StateFiring {
		t.Fatalf("new alert state %q", state(a.ID))
	}
	steps := []struct {
		to      string
		wantErr error
		want    string
	}{
		{alert.StateAcknowledged, nil, alert.StateAcknowledged},
		{alert.StateAcknowledged, nil, alert.StateAcknowledged}, // no-op
		{alert.StateFiring, nil, alert.StateFiring},             // handed back
		{alert.StateAcknowledged, nil, alert.StateAcknowledged},
		{alert.StateResolved, nil, alert.StateResolved},
		{alert.StateAcknowledged, store.ErrStateTransition, alert.StateResolved},
		{alert.StateFiring, nil, alert.StateFiring}, // reopened
		{alert.StateResolved, nil, alert.StateResolved},
	}
	var moves []string
	for i, step := range steps {
		at := base.Add(time.Duration(i) * time.Minute)
		from := state(a.ID)
		err := set(step.to, at)
		if step.wantErr == nil && err != nil || step.wantErr != nil && !errors.Is(err, step.wantErr) {
			t.Errorf("step %d: %s → %s: err %v, want %v", i, from, step.to, err, step.wantErr)
		}
		if got := state(a.ID); got != step.want {
			t.Errorf("step %d: state %q, want %q", i, got, step.want)
		}
		if err == nil && from != step.to {
			moves = append(moves, fmt.Sprintf("%s>%s@%d", from, step.to, i))
		}
	}
	changes, err := st.StateChanges(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		i := int(c.At.Sub(base) / time.Minute)
		got = append(got, fmt.Sprintf("%s>%s@%d", c.From, c.To, i))
		if c.AlertID != a.ID || c.By != "alice@contoso.example" || c.At.Location() != time.UTC {
			t.Errorf("state change %+v", c)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(moves) {
		t.Errorf("StateChanges = %v, want %v", got, moves)
	}
	if state(other.ID) != alert.StateFiring {
		t.Errorf("the other alert changed to %q", state(other.ID))
	}
	if ids := listed(alert.StateResolved); fmt.Sprint(ids) != fmt.Sprint([]string{a.ID}) {
		t.Errorf("Alerts(resolved) = %v", ids)
	}
	if ids := listed(alert.StateFiring); fmt.Sprint(ids) != fmt.Sprint([]string{other.ID}) {
		t.Errorf("Alerts(firing) = %v", ids)
	}
	if err := st.SetAlertState(ctx, "no-such-alert", alert.StateResolved, "x", base); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetAlertState(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := st.StateChanges(ctx, "no-such-alert"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StateChanges(unknown) = %v, want ErrNotFound", err)
	}
	if err := set("snoozed", base); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetAlertState(snoozed) = %v, want an error", err)
	}
	if cs, _ := st.StateChanges(ctx, other.ID); len(cs) != 0 {
		t.Errorf("StateChanges of an unchanged alert = %+v", cs)
	}
	// The state is the alert's, not the notification's: a resolved alert
	// seen again does not fire again, but a new target still learns of it.
	if notify(t, st, a, "x") {
		t.Error("resolved alert reported new")
	}
	if state(a.ID) != alert.StateResolved {
		t.Errorf("AddAlertNotify changed the state to %q", state(a.ID))
	}
	st.Close()
	st = s.reopen(t, path)
	if got, err := st.Alert(ctx, a.ID); err != nil || got.State != alert.StateResolved {
		t.Errorf("after reopen: state %q, %v", got.State, err)
	}
}

func (s suite) labelFilters(t *testing.T) {
	st, _ := s.fresh(t)
	mk := func(event string, labels map[string]string) alert.Alert {
		a := Alert(event, "r", base)
		a.Labels = labels
		add(t, st, a, nil)
		return a
	}
	a1 := mk("e1", map[string]string{"team": "red", "env": "prod"})
	a2 := mk("e2", map[string]string{"team": "red"})
	a3 := mk("e3", map[string]string{"team": "blue", "env": "prod", "odd key.$[0]": "v"})
	mk("e4", nil)
	mk("e5", map[string]string{"team": "RED"})
	ids := func(f store.AlertFilter) string {
		var out []string
		for _, a := range all(t, st, f) {
			out = append(out, a.EventID)
		}
		slices.Sort(out)
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"team": "red"}, fmt.Sprint([]string{a1.EventID, a2.EventID})},
		{map[string]string{"team": "red", "env": "prod"}, fmt.Sprint([]string{a1.EventID})},
		{map[string]string{"env": "prod"}, fmt.Sprint([]string{a1.EventID, a3.EventID})},
		{map[string]string{"odd key.$[0]": "v"}, fmt.Sprint([]string{a3.EventID})},
		{map[string]string{"team": "green"}, "[]"},
		{map[string]string{"nope": ""}, "[]"},
	} {
		if got := ids(store.AlertFilter{Labels: tc.labels}); got != tc.want {
			t.Errorf("Labels %v: %s, want %s", tc.labels, got, tc.want)
		}
	}
}

// pageAll walks AlertPage to the end.
func pageAll(t *testing.T, st store.Store, f store.AlertFilter, size int, between func()) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("AlertPage does not end")
		}
		as, next, err := st.AlertPage(context.Background(), f, cursor, size)
		if err != nil {
			t.Fatalf("AlertPage(%+v, %q, %d): %v", f, cursor, size, err)
		}
		if len(as) > size {
			t.Fatalf("page of %d, limit %d", len(as), size)
		}
		out = append(out, as...)
		if next == "" {
			return out
		}
		if len(as) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		cursor = next
		if between != nil {
			between()
		}
	}
}

func alertIDs(as []alert.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func (s suite) alertPage(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	t0 := base.UTC()
	var in []alert.Alert
	for i := range 23 {
		// Groups of three share a time, so ties by id cross page borders.
		a := Alert(fmt.Sprintf("evt-%02d", i), []string{"signin", "change"}[i%2], t0.Add(time.Duration(i/3)*time.Second))
		a.Labels = map[string]string{"parity": fmt.Sprint(i % 2)}
		add(t, st, a, nil)
		in = append(in, a)
	}
	if err := st.SetAlertState(ctx, in[4].ID, alert.StateAcknowledged, "bob", base); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.AlertFilter{
		{},
		{Rule: "signin"},
		{Labels: map[string]string{"parity": "1"}},
		{State: alert.StateAcknowledged},
		{Since: t0.Add(4 * time.Second)},
		{Rule: "nothing"},
	} {
		want := alertIDs(all(t, st, f))
		for _, size := range []int{1, 2, 3, 5, 22, 23, 24, 100} {
			got := alertIDs(pageAll(t, st, f, size, nil))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("filter %+v, pages of %d:\n%v\nwant\n%v", f, size, got, want)
			}
		}
		// limit 0 takes f.Limit as the page size.
		f.Limit = 4
		if as, _, err := st.AlertPage(ctx, f, "", 0); err != nil || len(as) != min(4, len(want)) {
			t.Errorf("AlertPage(limit 0, f.Limit 4) = %d alerts, %v", len(as), err)
		}
	}
	// The last page says so even when it is exactly full.
	if as, next, err := st.AlertPage(ctx, store.AlertFilter{}, "", len(in)); err != nil || len(as) != len(in) || next != "" {
		t.Errorf("one full page: %d alerts, next %q, %v", len(as), next, err)
	}
	if _, next, _ := st.AlertPage(ctx, store.AlertFilter{}, "", 0); next == "" && len(in) > 100 {
		t.Error("default page size returned everything")
	}
	for _, bad := range []string{"x", "!!!", "AAAA", "YTEAMjAyNQ"} {
		if _, _, err := st.AlertPage(ctx, store.AlertFilter{}, bad, 5); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("AlertPage(cursor %q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
	if _, _, err := st.AlertPage(ctx, store.AlertFilter{}, "", -1); err == nil {
		t.Error("AlertPage with a negative limit succeeded")
	}
}

// alertPageInserts pages through alerts while others are inserted, before
// and after the cursor: every alert that existed throughout shows once,
// none shows twice, and the order never goes back.
func (s suite) alertPageInserts(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t0 := base.UTC()
	at := func() time.Time { return t0.Add(time.Duration(rng.IntN(50)) * time.Second) }
	var before []alert.Alert
	for i := range 60 {
		a := Alert(fmt.Sprintf("old-%02d", i), "r", at())
		add(t, st, a, nil)
		before = append(before, a)
	}
	n := 0
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	// A concurrent writer as well as inserts between pages.
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a := Alert(fmt.Sprintf("bg-%04d", i), "r", t0.Add(time.Duration(i%50)*time.Second))
			if _, err := st.AddAlert(ctx, a, store.Evidence{}); err != nil {
				t.Errorf("concurrent insert: %v", err)
				return
			}
		}
	})
	got := pageAll(t, st, store.AlertFilter{}, 7, func() {
		for range 3 {
			add(t, st, Alert(fmt.Sprintf("new-%03d", n), "r", at()), nil)
			n++
		}
	})
	close(stop)
	wg.Wait()
	seen := map[string]int{}
	for i, a := range got {
		seen[a.ID]++
		if i > 0 {
			p := got[i-1]
			if a.EventTime.After(p.EventTime) || a.EventTime.Equal(p.EventTime) && a.ID <= p.ID {
				t.Errorf("order went back at %d: %s %s after %s %s", i, a.EventTime, a.ID, p.EventTime, p.ID)
			}
		}
	}
	for id, c := range seen {
		if c > 1 {
			t.Errorf("alert %s returned %d times", id, c)
		}
	}
	for _, a := range before {
		if seen[a.ID] != 1 {
			t.Errorf("alert %s (existing throughout) returned %d times", a.EventID, seen[a.ID])
		}
	}
}

func (s suite) writable(t *testing.T) {
	st, _ := s.fresh(t)
	if err := st.Writable(context.Background()); err != nil {
		t.Errorf("Writable of a fresh store: %v", err)
	}
	add(t, st, Alert("e", "r", base), nil)
	if err := st.Writable(context.Background()); err != nil {
		t.Errorf("Writable: %v", err)
	}
	st.Close()
	if err := st.Writable(context.Background()); err == nil {
		t.Error("Writable of a closed store succeeded")
	}
}

// alertDeliveries checks that one alert's deliveries are listed in every
// state, each with what a responder needs: attempts, last error, when it was
// delivered, when and why it was dead-lettered.
func (s suite) alertDeliveries(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	a := Alert("evt-1", "r", base)
	other := Alert("evt-2", "r", base)
	notify(t, st, a, "ops/webhook", "ops/email", "ops/sms", "ops/voice")
	notify(t, st, other, "ops/webhook")
	if ds, err := st.AlertDeliveries(ctx, "no-such-alert"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AlertDeliveries(unknown) = %v, %v; want ErrNotFound", ds, err)
	}
	m := byKey(t, due(t, st, time.Now(), 0))
	key := func(target string) store.Delivery { return m[a.ID+" firing "+target] }
	// webhook delivered after a failure, email dead-lettered, sms pending
	// with a failure, voice untouched; a delivery of another alert and a
	// resolution of this one are listed only where they belong.
	if err := st.RetryDelivery(ctx, key("ops/webhook").ID, 1, base, "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteDelivery(ctx, key("ops/webhook").ID, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.RetryDelivery(ctx, key("ops/email").ID, 3, base, "550 mailbox unavailable"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeadLetter(ctx, key("ops/email").ID, base.Add(2*time.Minute), "permanent: 550"); err != nil {
		t.Fatal(err)
	}
	if err := st.RetryDelivery(ctx, key("ops/sms").ID, 2, base.Add(time.Hour), "HTTP 429"); err != nil {
		t.Fatal(err)
	}
	if err := st.Enqueue(ctx, a.ID, store.StatusResolved, []string{"ops/webhook"}); err != nil {
		t.Fatal(err)
	}
	check := func(st store.Store) {
		t.Helper()
		ds, err := st.AlertDeliveries(ctx, a.ID)
		if err != nil {
			t.Fatalf("AlertDeliveries: %v", err)
		}
		var got []string
		for _, d := range ds {
			if d.AlertID != a.ID {
				t.Errorf("delivery %d of alert %q listed for %q", d.ID, d.AlertID, a.ID)
			}
			for _, tm := range []time.Time{d.Created, d.NextAttempt, d.Delivered, d.DeadAt} {
				if !tm.IsZero() && tm.Location() != time.UTC {
					t.Errorf("delivery %d: time %s not in UTC", d.ID, tm)
				}
			}
			got = append(got, fmt.Sprintf("%s %s attempts=%d err=%q delivered=%v dead=%v reason=%q",
				d.Status, d.Target, d.Attempts, d.LastError, d.Delivered.Equal(base.Add(time.Minute)),
				d.DeadAt.Equal(base.Add(2*time.Minute)), d.DeadReason))
			if d.Delivered.IsZero() != (d.Target != "ops/webhook" || d.Status != store.StatusFiring) {
				t.Errorf("delivery %s %s: Delivered = %s", d.Status, d.Target, d.Delivered)
			}
		}
		want := []string{
			`firing ops/email attempts=3 err="550 mailbox unavailable" delivered=false dead=true reason="permanent: 550"`,
			`firing ops/sms attempts=2 err="HTTP 429" delivered=false dead=false reason=""`,
			`firing ops/voice attempts=0 err="" delivered=false dead=false reason=""`,
			`firing ops/webhook attempts=1 err="HTTP 503" delivered=true dead=false reason=""`,
			`resolved ops/webhook attempts=0 err="" delivered=false dead=false reason=""`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("AlertDeliveries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check(st)
	st.Close()
	st = s.reopen(t, path)
	check(st)
	// Pruned, the delivered webhook is still listed: what was sent where
	// outlives store.retention.
	if _, err := st.Prune(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ds, err := st.AlertDeliveries(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%s %s pruned=%v delivered=%s", d.Status, d.Target, d.Pruned, d.Delivered.Format(time.RFC3339Nano)))
	}
	wantPruned := fmt.Sprintf("firing ops/webhook pruned=true delivered=%s", base.Add(time.Minute).UTC().Format(time.RFC3339Nano))
	if len(got) != 5 || !slices.Contains(got, wantPruned) {
		t.Errorf("AlertDeliveries after Prune:\n%s\nwant 5, among them %q", strings.Join(got, "\n"), wantPruned)
	}
}
