package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/store"
)

// The lease queries (migrations/0010_leases.sql). One statement takes,
// renews or refuses, on the single writer connection, so two processes
// can never both see the lease free: SQLite serialises the writers.
const (
	// ?1 name, ?2 owner, ?3 now, ?4 now+ttl. A different owner takes the
	// lease only once it has expired (until at or before now) or was
	// released (owner '', until the release time); the epoch then
	// increments. The holder renews, keeping epoch and acquired. No row
	// comes back when another owner holds it.
	acquireLeaseSQL = `INSERT INTO leases (name, owner, acquired, until, epoch) VALUES (?1, ?2, ?3, ?4, 1)
ON CONFLICT (name) DO UPDATE SET
    epoch    = CASE WHEN leases.owner = excluded.owner THEN leases.epoch ELSE leases.epoch + 1 END,
    acquired = CASE WHEN leases.owner = excluded.owner THEN leases.acquired ELSE excluded.acquired END,
    owner    = excluded.owner,
    until    = excluded.until
WHERE leases.owner = excluded.owner OR leases.until <= excluded.acquired
RETURNING epoch`
	releaseLeaseSQL = `UPDATE leases SET owner = '', until = ?3 WHERE name = ?1 AND owner = ?2`
	leaseSQL        = `SELECT owner, acquired, until, epoch FROM leases WHERE name = ?`
)

// AcquireLease implements store.Leases, by this host's clock: every
// process that opens the file runs on the host it lives on.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: acquire lease %q for %q: %w", s.path, name, owner, err)
	}
	if err := checkLease(name, owner); err != nil {
		return false, wrap(err)
	}
	if ttl <= 0 {
		return false, wrap(fmt.Errorf("ttl %v, want a positive duration", ttl))
	}
	now := time.Now()
	at, err := encodeTime("now", now)
	if err != nil {
		return false, wrap(err)
	}
	until, err := encodeTime("lease until", now.Add(ttl))
	if err != nil {
		return false, wrap(err)
	}
	held := false
	err = s.write(ctx, func(tx *sql.Tx) error {
		var epoch int64
		err := tx.QueryRowContext(ctx, acquireLeaseSQL, name, owner, at, until).Scan(&epoch)
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
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: release lease %q for %q: %w", s.path, name, owner, err)
	}
	if err := checkLease(name, owner); err != nil {
		return wrap(err)
	}
	at, err := encodeTime("now", time.Now())
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, releaseLeaseSQL, name, owner, at)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// Lease implements store.Leases.
func (s *Store) Lease(ctx context.Context, name string) (store.LeaseInfo, error) {
	li := store.LeaseInfo{Name: name}
	var acquired, until string
	err := s.r.QueryRowContext(ctx, leaseSQL, name).Scan(&li.Owner, &acquired, &until, &li.Epoch)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && li.Owner == "") {
		return store.LeaseInfo{}, fmt.Errorf("sqlite %s: lease %q: %w", s.path, name, store.ErrNotFound)
	}
	if err == nil {
		li.Acquired, err = decodeTime("acquired", acquired)
	}
	if err == nil {
		li.Until, err = decodeTime("until", until)
	}
	if err != nil {
		return store.LeaseInfo{}, fmt.Errorf("sqlite %s: lease %q: %w", s.path, name, describe(err))
	}
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
