package notify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// legacyOnly hides the fake's lease and dead-letter methods, as today's
// sqlite store lacks them.
type legacyOnly struct{ f *fakeOutbox }

func (l legacyOnly) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	return l.f.DueDeliveries(ctx, now, limit)
}
func (l legacyOnly) CompleteDelivery(ctx context.Context, id int64, at time.Time) error {
	return l.f.CompleteDelivery(ctx, id, at)
}
func (l legacyOnly) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	return l.f.RetryDelivery(ctx, id, attempts, next, lastErr)
}
func (l legacyOnly) Alert(ctx context.Context, id string) (alert.Alert, error) {
	return l.f.Alert(ctx, id)
}
func (l legacyOnly) AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error) {
	return l.f.AddAlertNotify(ctx, a, ev, targets)
}

func TestLegacyAdapter(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	f := newFakeOutbox()
	for i := range 5 {
		f.add(testAlert(fmt.Sprint("a", i)), store.StatusFiring, "t", clk.Now())
	}
	ob := Legacy(legacyOnly{f})
	first, err := ob.ClaimDeliveries(ctx, "one", clk.Now(), time.Minute, 3)
	if err != nil || len(first) != 3 {
		t.Fatalf("first claim: %d rows, %v", len(first), err)
	}
	// Leased rows are skipped, so the next claim reaches the rest.
	second, err := ob.ClaimDeliveries(ctx, "two", clk.Now(), time.Minute, 3)
	if err != nil || len(second) != 2 || second[0].ID != 4 {
		t.Fatalf("second claim: %+v, %v; want rows 4 and 5", second, err)
	}
	// Completing releases; an expired lease is claimable again.
	if err := ob.CompleteDelivery(ctx, first[0].ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute))
	again, _ := ob.ClaimDeliveries(ctx, "two", clk.Now(), time.Minute, 10)
	if len(again) != 4 {
		t.Errorf("after expiry: %d rows, want 4", len(again))
	}
	// A dead letter never comes back and says why.
	if err := ob.DeadLetter(ctx, again[0].ID, clk.Now(), "target gone"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	d := *f.dels[again[0].ID]
	f.mu.Unlock()
	if d.NextAttempt.Before(clk.Now().AddDate(99, 0, 0)) || !strings.Contains(d.LastError, "dead letter: target gone") {
		t.Errorf("dead-lettered row %+v", d)
	}
}
