package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/store"
)

// The lease queries (migrations/0010_leases.sql). Every time is the
// server's now(), never a replica's clock: replicas whose clocks disagree
// still agree on who holds a lease. INSERT ... ON CONFLICT DO UPDATE
// re-checks its WHERE against the newest committed row after waiting for
// a concurrent acquirer, so exactly one of several wins a free lease.
const (
	// $1 name, $2 owner, $3 ttl in microseconds. A different owner takes
	// the lease only once it has expired or was released (owner ''); the
	// epoch then increments. The holder renews, keeping epoch and
	// acquired. No row comes back when another owner holds it.
	acquireLeaseSQL = `INSERT INTO leases (name, owner, acquired, until, epoch)
VALUES ($1, $2, now(), now() + $3::bigint * interval '1 microsecond', 1)
ON CONFLICT (name) DO UPDATE SET
    epoch    = CASE WHEN leases.owner = excluded.owner THEN leases.epoch ELSE leases.epoch + 1 END,
    acquired = CASE WHEN leases.owner = excluded.owner THEN leases.acquired ELSE excluded.acquired END,
    owner    = excluded.owner,
    until    = excluded.until
WHERE leases.owner = excluded.owner OR leases.until <= excluded.acquired
RETURNING epoch`
	releaseLeaseSQL = `UPDATE leases SET owner = '', until = now() WHERE name = $1 AND owner = $2`
	leaseSQL        = `SELECT owner, acquired, until, epoch FROM leases WHERE name = $1`
)

// AcquireLease implements store.Leases, by the database server's clock.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: acquire lease %q for %q: %w", name, owner, err) }
	if err := checkLease(name, owner); err != nil {
		return false, wrap(err)
	}
	if ttl < time.Microsecond {
		return false, wrap(fmt.Errorf("ttl %v, want a positive duration of at least 1µs", ttl))
	}
	held := false
	err := s.write(ctx, func(c conn) error {
		held = false // write may run fn again
		var epoch int64
		err := c.row(ctx, acquireLeaseSQL, name, owner, ttl.Microseconds()).Scan(&epoch)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		held = true
		return nil
	})
	if err != nil {
		return false, wrap(err)
	}
	return held, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	wrap := func(err error) error { return fmt.Errorf("postgres: release lease %q for %q: %w", name, owner, err) }
	if err := checkLease(name, owner); err != nil {
		return wrap(err)
	}
	err := s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, releaseLeaseSQL, name, owner)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// Lease implements store.Leases.
func (s *Store) Lease(ctx context.Context, name string) (store.LeaseInfo, error) {
	var owner text
	var acquired, until time.Time
	li := store.LeaseInfo{Name: name}
	err := s.read().row(ctx, leaseSQL, name).Scan(&owner, &acquired, &until, &li.Epoch)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner == "") {
		return store.LeaseInfo{}, fmt.Errorf("postgres: lease %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.LeaseInfo{}, fmt.Errorf("postgres: lease %q: %w", name, describe(err))
	}
	li.Owner, li.Acquired, li.Until = string(owner), acquired.UTC(), until.UTC()
	return li, nil
}

// checkLease refuses an empty name or owner: an empty owner marks a released
// lease, and a nameless lease elects nothing.
func checkLease(name, owner string) error {
	switch {
	case name == "":
		return errors.New("empty lease name")
	case owner == "":
		return errors.New("empty lease owner")
	}
	return nil
}
