package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/storetest"
)

func batch(n int, rule string) []store.AlertWithEvidence {
	var out []store.AlertWithEvidence
	for i := range n {
		a := storetest.Alert(fmt.Sprint("evt-", i), rule, time.Now())
		out = append(out, store.AlertWithEvidence{Alert: a, Evidence: storetest.Evidence(a, []byte(fmt.Sprint("raw ", i)))})
	}
	return out
}

func TestAddAlertsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	items := batch(4, "r")
	items[3].Evidence.EventID = "some other event" // invalid: evidence for another record
	if _, err := s.AddAlertsNotify(ctx, items, []string{"x"}); err == nil {
		t.Fatal("AddAlertsNotify with mismatched evidence succeeded")
	}
	// Cancelled before it starts: nothing is stored either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddAlertsNotify(cctx, batch(4, "r"), []string{"x"}); err == nil {
		t.Fatal("AddAlertsNotify with a cancelled context succeeded")
	}
	if got, err := s.Alerts(ctx, store.AlertFilter{}); err != nil || len(got) != 0 {
		t.Errorf("after failed batches: %d alerts, %v; want none stored", len(got), err)
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 0 {
		t.Errorf("after failed batches: outbox depth %d, %v", n, err)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	good := storetest.Alert("e", "r", time.Now())
	for name, mut := range map[string]func(*alert.Alert){
		"empty id":       func(a *alert.Alert) { a.ID = "" },
		"empty event id": func(a *alert.Alert) { a.EventID = "" },
		"year 10000":     func(a *alert.Alert) { a.EventTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"unknown state":  func(a *alert.Alert) { a.State = "snoozed" },
	} {
		a := good
		mut(&a)
		if _, err := s.AddAlert(ctx, a, store.Evidence{}); err == nil {
			t.Errorf("%s: AddAlert succeeded", name)
		}
	}
	if _, err := s.AddAlertNotify(ctx, good, store.Evidence{}, []string{""}); err == nil {
		t.Error("empty target accepted")
	}
	if _, err := s.Alerts(ctx, store.AlertFilter{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
	if _, err := s.ClaimDeliveries(ctx, "", time.Now(), time.Minute, 1); err == nil {
		t.Error("claim without an owner accepted")
	}
	if _, err := s.ClaimDeliveries(ctx, "me", time.Now(), 0, 1); err == nil {
		t.Error("claim without a lease accepted")
	}
}

func TestTamperedEvidence(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	a := storetest.Alert("e", "r", time.Now())
	if _, err := s.AddAlert(ctx, a, storetest.Evidence(a, []byte("original"))); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.DB(s).Exec(`UPDATE evidence SET raw = $1 WHERE event_id = $2`, []byte("forged"), "e"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Evidence(ctx, "e"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Evidence of altered bytes: err = %v, want a digest mismatch", err)
	}
}

func TestLastErrorTruncated(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	a := storetest.Alert("evt-1", "r", time.Now())
	if _, err := s.AddAlertNotify(ctx, a, store.Evidence{}, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.DueDeliveries(ctx, time.Now(), 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("DueDeliveries = %v, %v", ds, err)
	}
	long := "x" + strings.Repeat("é", 3000) // the 1024-byte cut lands inside a character
	if err := s.RetryDelivery(ctx, ds[0].ID, 1, time.Now(), long); err != nil {
		t.Fatal(err)
	}
	ds, err = s.DueDeliveries(ctx, time.Now(), 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("DueDeliveries = %v, %v", ds, err)
	}
	e := ds[0].LastError
	if len(e) > 1024 || len(e) < 1020 || !utf8.ValidString(e) || !strings.HasPrefix(long, e) {
		t.Errorf("LastError of %d bytes (valid UTF-8: %v), want a valid prefix of at most 1024", len(e), utf8.ValidString(e))
	}
}

// TestPruneBatches: Prune works through more rows than one batch, keeps
// every pruned key, and what it pruned is never enqueued again.
func TestPruneBatches(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	a := storetest.Alert("e", "r", time.Now())
	var targets []string
	for i := range 2500 {
		targets = append(targets, fmt.Sprintf("t%04d", i))
	}
	if _, err := s.AddAlertNotify(ctx, a, store.Evidence{}, targets); err != nil {
		t.Fatal(err)
	}
	db := postgres.DB(s)
	if _, err := db.Exec(`UPDATE outbox SET delivered = '2025-01-01T00:00:00.000000000Z' WHERE target >= 't0500'`); err != nil {
		t.Fatal(err)
	}
	stats, err := s.Prune(ctx, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC))
	if err != nil || stats.Deliveries != 2000 {
		t.Fatalf("Prune = %+v, %v; want 2000", stats, err)
	}
	if _, err := s.AddAlertNotify(ctx, a, store.Evidence{}, targets); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 500 {
		t.Errorf("OutboxDepth after prune and re-notify = %d, %v; want the 500 never delivered", n, err)
	}
	var pruned int
	if err := db.QueryRow(`SELECT COUNT(*) FROM outbox_pruned`).Scan(&pruned); err != nil || pruned != 2000 {
		t.Errorf("outbox_pruned has %d keys, %v; want 2000", pruned, err)
	}
}

// TestPruneRacesEnqueue: replicas re-notify the targets of an alert while
// another prunes its delivered rows. Under the prune lock an enqueue sees
// either the row or its pruned key, never neither: no delivered
// notification is created (and sent) again.
func TestPruneRacesEnqueue(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.SchemaDSN(t, t.Name())
	stores := []*postgres.Store{open(t, dsn), open(t, dsn), open(t, dsn)}
	const rounds, perRound = 8, 150
	for r := range rounds {
		a := storetest.Alert(fmt.Sprint("evt-", r), "r", time.Now())
		var targets []string
		for i := range perRound {
			targets = append(targets, fmt.Sprintf("t%03d", i))
		}
		if _, err := stores[0].AddAlertNotify(ctx, a, store.Evidence{}, targets); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.DB(stores[0]).Exec(`UPDATE outbox SET delivered = '2025-01-01T00:00:00.000000000Z' WHERE alert_id = $1`, a.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		wg.Go(func() {
			if _, err := stores[1].Prune(ctx, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)); err != nil {
				errs <- err
			}
		})
		for _, st := range []*postgres.Store{stores[0], stores[2]} {
			wg.Go(func() {
				for i := 0; i < perRound; i += 10 {
					if _, err := st.AddAlertNotify(ctx, a, store.Evidence{}, targets[i:i+10]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n, err := stores[0].OutboxDepth(ctx); err != nil || n != 0 {
			t.Fatalf("round %d: %d deliveries pending after prune and re-notify (%v); want 0: delivered ones were created again", r, n, err)
		}
	}
}

// TestBatchRepeats: within one batch the first copy of a repeated event
// and alert is the one kept, a repeated alert is new once, and each
// (alert, target) gets one delivery, numbered in the items' order.
func TestBatchRepeats(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	a := storetest.Alert("evt-a", "r", time.Now())
	again := a
	again.Title = "a later copy"
	again.Labels = map[string]string{"only": "in the copy"}
	b := storetest.Alert("evt-b", "r", time.Now())
	ins, err := s.AddAlertsNotify(ctx, []store.AlertWithEvidence{
		{Alert: b, Targets: []string{"z"}},
		{Alert: a, Evidence: storetest.Evidence(a, []byte("first"))},
		{Alert: again, Evidence: storetest.Evidence(a, []byte("second")), Targets: []string{"x"}},
	}, []string{"x", "y", "x"})
	if err != nil || fmt.Sprint(ins) != "[true true false]" {
		t.Fatalf("AddAlertsNotify = %v, %v; want [true true false]", ins, err)
	}
	got, err := s.Alert(ctx, a.ID)
	if err != nil || got.Title != a.Title {
		t.Errorf("stored title %q, %v; want the first copy's", got.Title, err)
	}
	if as, _ := s.Alerts(ctx, store.AlertFilter{Labels: map[string]string{"only": "in the copy"}}); len(as) != 0 {
		t.Errorf("the later copy's labels were stored")
	}
	if ev, err := s.Evidence(ctx, a.EventID); err != nil || string(ev.Raw) != "first" {
		t.Errorf("evidence %q, %v; want the first copy", ev.Raw, err)
	}
	ds, err := s.DueDeliveries(ctx, time.Now().Add(time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, d := range ds {
		id := "a"
		if d.AlertID == b.ID {
			id = "b"
		}
		order = append(order, id+"/"+d.Target)
	}
	if want := "[b/x b/y b/z a/x a/y]"; fmt.Sprint(order) != want {
		t.Errorf("deliveries %v, want %s", order, want)
	}
}
