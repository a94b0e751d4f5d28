package notify

import (
	"context"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// LegacyStore is the outbox of a store that predates leases and dead
// letters.
//
// TODO(merge): delete LegacyStore and Legacy once the store implements
// ClaimDeliveries and DeadLetter (spine-store); pass the store to
// NewDispatcher directly.
type LegacyStore interface {
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error)
	CompleteDelivery(ctx context.Context, id int64, at time.Time) error
	RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	Alert(ctx context.Context, id string) (alert.Alert, error)
	AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error)
}

// Legacy adapts a LegacyStore to Outbox for a single process: leases are
// kept in memory (so they protect only against this process), and a dead
// letter is recorded as a retry a century away whose last error says why.
func Legacy(s LegacyStore) Outbox { return &legacy{LegacyStore: s, leases: map[int64]time.Time{}} }

type legacy struct {
	LegacyStore
	mu     sync.Mutex
	leases map[int64]time.Time
	rows   map[int64]store.Delivery
}

func (l *legacy) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		limit = batchSize
	}
	// Read past the rows leased already, so that they cannot hide the rest.
	l.mu.Lock()
	live := 0
	for id, until := range l.leases {
		if now.Before(until) {
			live++
		} else {
			delete(l.leases, id)
			delete(l.rows, id)
		}
	}
	l.mu.Unlock()
	due, err := l.DueDeliveries(ctx, now, limit+live)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rows == nil {
		l.rows = map[int64]store.Delivery{}
	}
	var out []store.Delivery
	for _, d := range due {
		if len(out) == limit {
			break
		}
		if until, ok := l.leases[d.ID]; ok && now.Before(until) {
			continue
		}
		d.LeaseOwner, d.LeaseUntil = owner, now.Add(lease)
		l.leases[d.ID] = d.LeaseUntil
		l.rows[d.ID] = d
		out = append(out, d)
	}
	return out, nil
}

func (l *legacy) unlease(id int64) (store.Delivery, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.rows[id]
	delete(l.leases, id)
	delete(l.rows, id)
	return d, ok
}

func (l *legacy) CompleteDelivery(ctx context.Context, id int64, at time.Time) error {
	err := l.LegacyStore.CompleteDelivery(ctx, id, at)
	if err == nil {
		l.unlease(id)
	}
	return err
}

func (l *legacy) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	err := l.LegacyStore.RetryDelivery(ctx, id, attempts, next, lastErr)
	if err == nil {
		l.unlease(id)
	}
	return err
}

func (l *legacy) ReleaseDelivery(_ context.Context, id int64, owner string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.rows[id]; ok && d.LeaseOwner == owner {
		delete(l.leases, id)
		delete(l.rows, id)
	}
	return nil
}

func (l *legacy) DeadLetter(ctx context.Context, id int64, at time.Time, reason string) error {
	l.mu.Lock()
	d := l.rows[id]
	l.mu.Unlock()
	err := l.LegacyStore.RetryDelivery(ctx, id, d.Attempts, at.AddDate(100, 0, 0), "dead letter: "+reason)
	if err == nil {
		l.unlease(id)
	}
	return err
}
