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
	// Close releases the store.
	Close() error
}
