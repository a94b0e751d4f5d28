// Package store defines what breakglass persists: alerts with the raw records
// that prove them, and the dedupe keys that make every alert unique. The
// interface is implemented by store/sqlite today and by PostgreSQL later; both
// must pass the shared suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"

	"breakglass/internal/alert"
)

// ErrNotFound is returned when a requested item does not exist.
var ErrNotFound = errors.New("not found")

// Evidence is the raw record behind an alert, kept byte-for-byte so reviews
// can see exactly what Entra logged.
type Evidence struct {
	EventID  string
	Category string
	Source   string
	Raw      []byte
	SHA256   string // hex digest of Raw, computed by the store
	Stored   time.Time
}

// AlertFilter narrows Alerts. Zero values mean "any".
type AlertFilter struct {
	Rule string
	// AccountID matches case-insensitively: log sources disagree on the case
	// of the same Entra object id.
	AccountID string
	// Since keeps alerts whose EventTime is at or after it.
	Since time.Time
	// Limit caps how many of the newest matching alerts are returned.
	Limit int
}

// Store is the persistence every command shares. Implementations must be safe
// for concurrent use, also by several processes on one store, and return
// times in UTC, exact to the nanosecond.
type Store interface {
	// AddAlert stores the alert and its evidence unless an alert with the same
	// ID exists already. It reports whether the alert is new. Evidence is
	// stored once per EventID however many alerts point at it; the first
	// copy stored is kept.
	AddAlert(ctx context.Context, a alert.Alert, ev Evidence) (inserted bool, err error)
	// Alert returns one alert by ID, or ErrNotFound.
	Alert(ctx context.Context, id string) (alert.Alert, error)
	// Alerts lists alerts, newest event first, ties in ID order.
	Alerts(ctx context.Context, f AlertFilter) ([]alert.Alert, error)
	// Evidence returns the raw record for an event id, or ErrNotFound.
	Evidence(ctx context.Context, eventID string) (Evidence, error)

	Outbox
	Checkpoints

	// Close releases the store.
	Close() error
}

// Notification statuses: an alert fires; a condition alert (bg.silence) also
// resolves.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Delivery is one pending notification: one alert (in one status) to one
// target. Targets are opaque names chosen by the notifier ("group/channel").
type Delivery struct {
	ID          int64
	AlertID     string
	Status      string // StatusFiring or StatusResolved
	Target      string
	Attempts    int
	NextAttempt time.Time
	Created     time.Time
	LastError   string
	// LeaseOwner and LeaseUntil: the dispatcher that claimed the delivery
	// and until when nobody else may send it.
	LeaseOwner string
	LeaseUntil time.Time
	// DeadAt and DeadReason are set once the delivery is dead-lettered.
	DeadAt     time.Time
	DeadReason string
}

// Outbox makes notification durable: deliveries are written in the same
// transaction as the alert, so an alert that was stored is delivered even if
// the process dies before sending it (at-least-once).
type Outbox interface {
	// AddAlertNotify is AddAlert that also enqueues one firing delivery per
	// target, in the same transaction, when (and only when) the alert is new.
	AddAlertNotify(ctx context.Context, a alert.Alert, ev Evidence, targets []string) (inserted bool, err error)
	// Enqueue adds deliveries for an existing alert (e.g. its resolution).
	// Enqueuing the same (alert, status, target) twice is a no-op.
	Enqueue(ctx context.Context, alertID, status string, targets []string) error
	// DueDeliveries returns undelivered deliveries whose NextAttempt is at or
	// before now, oldest first.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// CompleteDelivery marks a delivery done; it is not returned again.
	CompleteDelivery(ctx context.Context, id int64, at time.Time) error
	// RetryDelivery records a failed attempt and when to try next.
	RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	// OutboxDepth counts undelivered deliveries.
	OutboxDepth(ctx context.Context) (int, error)
}

// Checkpoint is how far a source has read one input (a file), so that a
// restart resumes exactly there.
type Checkpoint struct {
	Source  string // source name from the config
	Key     string // input identity within the source (file path + device/inode)
	Offset  int64  // bytes of the input fully processed
	Size    int64  // size of the input when Offset was recorded
	Updated time.Time
}

// Checkpoints persists source progress.
type Checkpoints interface {
	// Checkpoint returns the checkpoint for (source, key), or false.
	Checkpoint(ctx context.Context, source, key string) (Checkpoint, bool, error)
	// SetCheckpoint creates or replaces a checkpoint.
	SetCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints lists a source's checkpoints.
	Checkpoints(ctx context.Context, source string) ([]Checkpoint, error)
}
