package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"breakglass/internal/store"
)

const (
	// insertOutboxSQL enqueues (alert, status, target) unless the outbox
	// has it, pending, delivered or dead (the UNIQUE key), or Prune removed
	// it after delivery (outbox_pruned; see sharePruneLock).
	insertOutboxSQL = `INSERT INTO outbox (alert_id, status, target, next_attempt, created)
		SELECT $1, $2, $3, $4, $4
		WHERE NOT EXISTS (SELECT 1 FROM outbox_pruned WHERE alert_id = $1 AND status = $2 AND target = $3)
		ON CONFLICT (alert_id, status, target) DO NOTHING`
	deliveryColumns = `id, alert_id, status, target, attempts, next_attempt, created, last_error,
		lease_owner, lease_until, dead_at, dead_reason, delivered`
	dueSQL = `SELECT ` + deliveryColumns + ` FROM outbox
		WHERE delivered IS NULL AND dead_at IS NULL AND next_attempt <= $1
		ORDER BY next_attempt, id LIMIT $2`
	// claimSQL locks due, unleased rows with SKIP LOCKED, so concurrent
	// claims (other replicas) pass over the rows one of them is taking
	// instead of waiting for it; a row another claim leased and committed
	// meanwhile is re-checked under the lock and dropped, as its
	// lease_until is then in the future.
	claimSQL = `UPDATE outbox SET lease_owner = $1, lease_until = $2
		WHERE id IN (SELECT id FROM outbox
			WHERE delivered IS NULL AND dead_at IS NULL AND next_attempt <= $3
				AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY next_attempt, id LIMIT $4
			FOR UPDATE SKIP LOCKED)
		RETURNING ` + deliveryColumns
	depthSQL           = `SELECT COUNT(*) FROM outbox WHERE delivered IS NULL AND dead_at IS NULL`
	deadSQL            = `SELECT ` + deliveryColumns + ` FROM outbox WHERE dead_at IS NOT NULL AND delivered IS NULL ORDER BY dead_at DESC, id DESC LIMIT $1`
	alertDeliveriesSQL = `SELECT ` + deliveryColumns + ` FROM outbox WHERE alert_id = $1 ORDER BY status, target, id`
	deadCountSQL       = `SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL AND delivered IS NULL`
	// pruneSQL moves a batch of delivered rows' keys to outbox_pruned and
	// deletes the rows, in one statement; it returns how many it deleted.
	pruneSQL = `WITH gone AS (
			DELETE FROM outbox WHERE id IN (
				SELECT id FROM outbox WHERE delivered IS NOT NULL AND delivered < $1
				ORDER BY delivered LIMIT $2 FOR UPDATE)
			RETURNING alert_id, status, target, delivered),
		kept AS (
			INSERT INTO outbox_pruned (alert_id, status, target, delivered)
			SELECT alert_id, status, target, delivered FROM gone
			ON CONFLICT DO NOTHING)
		SELECT COUNT(*) FROM gone`
)

// defaultDueLimit bounds a DueDeliveries or ClaimDeliveries call that names
// no limit.
const defaultDueLimit = 100

// maxLastError bounds the stored error text: a webhook may answer a failure
// with a whole HTML page, and every retry would rewrite it.
const maxLastError = 1024

// pruneBatch is how many rows one Prune transaction removes.
const pruneBatch = 1000

// sharePruneLock takes the prune lock shared for the transaction: every
// enqueue holds it, Prune holds it exclusively. Without it, an enqueue
// could check outbox_pruned before a concurrent Prune commits and insert
// after the row it checks against was deleted, sending a delivery twice.
// Enqueues never wait for each other.
func sharePruneLock(ctx context.Context, c conn) error {
	if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock_shared($1, $2)`, lockClass, lockPrune); err != nil {
		return fmt.Errorf("prune lock: %w", err)
	}
	return nil
}

func checkTargets(targets []string) error {
	for _, t := range targets {
		if t == "" {
			return errors.New("empty notification target")
		}
	}
	return nil
}

func checkStatus(status string) error {
	if status != store.StatusFiring && status != store.StatusResolved {
		return fmt.Errorf("notification status %q, want %q or %q", status, store.StatusFiring, store.StatusResolved)
	}
	return nil
}

// Enqueue implements store.Outbox. The deliveries are due at once; an
// unknown alert is an error wrapping store.ErrNotFound even when targets is
// empty, so a caller's mistake shows the first time.
func (s *Store) Enqueue(ctx context.Context, alertID, status string, targets []string) error {
	return s.write(ctx, func(c conn) error { return s.enqueue(ctx, c, alertID, status, targets) })
}

func (s *Store) enqueue(ctx context.Context, c conn, alertID, status string, targets []string) error {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: enqueue %s for alert %q: %w", status, alertID, err)
	}
	if err := checkStatus(status); err != nil {
		return wrap(err)
	}
	if err := checkTargets(targets); err != nil {
		return wrap(err)
	}
	now, err := encodeTime("now", time.Now())
	if err != nil {
		return wrap(err)
	}
	var one int
	err = c.row(ctx, `SELECT 1 FROM alerts WHERE id = $1`, alertID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return wrap(store.ErrNotFound)
	}
	if err != nil {
		return wrap(describe(err))
	}
	if err := sharePruneLock(ctx, c); err != nil {
		return wrap(describe(err))
	}
	for _, target := range targets {
		if _, err := c.exec(ctx, insertOutboxSQL, alertID, status, target, now); err != nil {
			return wrap(fmt.Errorf("target %q: %w", target, describe(err)))
		}
	}
	return nil
}

func scanDelivery(sc scanner) (store.Delivery, error) {
	var (
		d             store.Delivery
		next, created string
		until, dead   sql.NullString
		delivered     sql.NullString
	)
	if err := scan(sc, &d.ID, &d.AlertID, &d.Status, &d.Target, &d.Attempts, &next, &created, &d.LastError,
		&d.LeaseOwner, &until, &dead, &d.DeadReason, &delivered); err != nil {
		return d, err
	}
	var err error
	if d.NextAttempt, err = decodeTime("next_attempt", next); err != nil {
		return d, fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	if d.Created, err = decodeTime("created", created); err != nil {
		return d, fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	if d.LeaseUntil, err = decodeNullTime("lease_until", until); err != nil {
		return d, fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	if d.DeadAt, err = decodeNullTime("dead_at", dead); err != nil {
		return d, fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	if d.Delivered, err = decodeNullTime("delivered", delivered); err != nil {
		return d, fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	return d, nil
}

func scanDeliveries(rows *sql.Rows) ([]store.Delivery, error) {
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DueDeliveries implements store.Outbox: oldest NextAttempt first, ties in
// ID (enqueue) order. A limit of zero or less means defaultDueLimit.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: due deliveries: %w", err) }
	at, err := encodeTime("now", now)
	if err != nil {
		return nil, wrap(err)
	}
	if limit <= 0 {
		limit = defaultDueLimit
	}
	rows, err := s.read().query(ctx, dueSQL, at, limit)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// ClaimDeliveries implements store.Outbox with FOR UPDATE SKIP LOCKED (see
// claimSQL): no two claims, on any replica, return one delivery while its
// lease is live. A limit of zero or less means defaultDueLimit; owner must
// be set and lease positive.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: claim deliveries for %q: %w", owner, err) }
	if owner == "" {
		return nil, wrap(errors.New("empty lease owner"))
	}
	if lease <= 0 {
		return nil, wrap(fmt.Errorf("lease %v, want a positive duration", lease))
	}
	if limit <= 0 {
		limit = defaultDueLimit
	}
	at, err := encodeTime("now", now)
	if err != nil {
		return nil, wrap(err)
	}
	until, err := encodeTime("lease until", now.Add(lease))
	if err != nil {
		return nil, wrap(err)
	}
	var out []store.Delivery
	err = s.write(ctx, func(c conn) error {
		rows, err := c.query(ctx, claimSQL, owner, until, at, limit)
		if err != nil {
			return err
		}
		out, err = scanDeliveries(rows)
		return err
	})
	if err != nil {
		return nil, wrap(err)
	}
	// RETURNING gives rows in no promised order.
	slices.SortFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// updateDelivery runs one UPDATE of delivery id. When it changes no row,
// it tells a delivery left alone on purpose (nil) from an unknown one
// (ErrNotFound).
func (s *Store) updateDelivery(ctx context.Context, id int64, q string, args ...any) error {
	return s.write(ctx, func(c conn) error {
		n, err := c.affected(ctx, q, args...)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		var exists int
		if err := c.row(ctx, `SELECT COUNT(*) FROM outbox WHERE id = $1`, id).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// ReleaseDelivery implements store.Outbox.
func (s *Store) ReleaseDelivery(ctx context.Context, id int64, owner string) error {
	if err := s.updateDelivery(ctx, id, `UPDATE outbox SET lease_owner = '', lease_until = NULL
		WHERE id = $1 AND lease_owner = $2 AND lease_until IS NOT NULL`, id, owner); err != nil {
		return fmt.Errorf("postgres: release delivery %d: %w", id, err)
	}
	return nil
}

// ReleaseLeases implements store.Outbox.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(c conn) error {
		var err error
		n, err = c.affected(ctx, `UPDATE outbox SET lease_owner = '', lease_until = NULL
			WHERE lease_owner = $1 AND lease_until IS NOT NULL AND delivered IS NULL`, owner)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: release leases of %q: %w", owner, err)
	}
	return int(n), nil
}

// CompleteDelivery implements store.Outbox. A zero at means now. Completing
// a delivery twice is not an error and keeps the first time. A delivery
// dead-lettered meanwhile counts as delivered: it was.
func (s *Store) CompleteDelivery(ctx context.Context, id int64, at time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("postgres: complete delivery %d: %w", id, err) }
	if at.IsZero() {
		at = time.Now()
	}
	done, err := encodeTime("delivered", at)
	if err != nil {
		return wrap(err)
	}
	if err := s.updateDelivery(ctx, id, `UPDATE outbox SET delivered = COALESCE(delivered, $1),
		lease_owner = '', lease_until = NULL WHERE id = $2`, done, id); err != nil {
		return wrap(err)
	}
	return nil
}

// RetryDelivery implements store.Outbox. lastErr is cut to maxLastError
// bytes. A delivery already completed stays completed, and a dead one dead.
func (s *Store) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	wrap := func(err error) error { return fmt.Errorf("postgres: retry delivery %d: %w", id, err) }
	if attempts < 0 {
		return wrap(fmt.Errorf("negative attempts %d", attempts))
	}
	nextAt, err := encodeTime("next attempt", next)
	if err != nil {
		return wrap(err)
	}
	if err := s.updateDelivery(ctx, id, `UPDATE outbox SET attempts = $1, next_attempt = $2, last_error = $3,
		lease_owner = '', lease_until = NULL
		WHERE id = $4 AND delivered IS NULL AND dead_at IS NULL`,
		attempts, nextAt, truncateUTF8(lastErr, maxLastError), id); err != nil {
		return wrap(err)
	}
	return nil
}

// DeadLetter implements store.Outbox. A zero at means now; reason is cut
// to maxLastError bytes.
func (s *Store) DeadLetter(ctx context.Context, id int64, at time.Time, reason string) error {
	wrap := func(err error) error { return fmt.Errorf("postgres: dead-letter delivery %d: %w", id, err) }
	if at.IsZero() {
		at = time.Now()
	}
	when, err := encodeTime("dead at", at)
	if err != nil {
		return wrap(err)
	}
	if err := s.updateDelivery(ctx, id, `UPDATE outbox SET dead_at = $1, dead_reason = $2,
		lease_owner = '', lease_until = NULL
		WHERE id = $3 AND delivered IS NULL AND dead_at IS NULL`,
		when, truncateUTF8(reason, maxLastError), id); err != nil {
		return wrap(err)
	}
	return nil
}

// DeadLetters implements store.Outbox. A limit of zero or less means
// defaultDueLimit.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]store.Delivery, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: dead letters: %w", err) }
	if limit <= 0 {
		limit = defaultDueLimit
	}
	rows, err := s.read().query(ctx, deadSQL, limit)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// AlertDeliveries implements store.Outbox. The alert and its deliveries are
// read in one snapshot, so a delivery is never shown without its alert, nor
// twice or not at all while Prune moves it.
func (s *Store) AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error) {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: deliveries of alert %q: %w", alertID, err)
	}
	var out []store.Delivery
	err := s.snapshot(ctx, func(c conn) error {
		var one int
		err := c.row(ctx, `SELECT 1 FROM alerts WHERE id = $1`, alertID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := c.query(ctx, alertDeliveriesSQL, alertID)
		if err != nil {
			return err
		}
		if out, err = scanDeliveries(rows); err != nil {
			return err
		}
		pruned, err := c.query(ctx, `SELECT status, target, delivered FROM outbox_pruned WHERE alert_id = $1`, alertID)
		if err != nil {
			return err
		}
		defer pruned.Close()
		for pruned.Next() {
			d := store.Delivery{AlertID: alertID, Pruned: true}
			var at string
			if err := scan(pruned, &d.Status, &d.Target, &at); err != nil {
				return err
			}
			if d.Delivered, err = decodeTime("delivered", at); err != nil {
				return err
			}
			out = append(out, d)
		}
		return pruned.Err()
	})
	if err != nil {
		return nil, wrap(err)
	}
	slices.SortStableFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Target, b.Target))
	})
	return out, nil
}

// DeadLetterCount implements store.Outbox.
func (s *Store) DeadLetterCount(ctx context.Context) (int, error) {
	var n int
	if err := s.read().row(ctx, deadCountSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: dead letter count: %w", err)
	}
	return n, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// OutboxDepth implements store.Outbox.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.read().row(ctx, depthSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: outbox depth: %w", err)
	}
	return n, nil
}

// Prune implements store.Outbox, pruneBatch rows per transaction, each
// holding the prune lock exclusively (see sharePruneLock). Each removed
// row's key moves to outbox_pruned in the statement that deletes it.
func (s *Store) Prune(ctx context.Context, before time.Time) (store.PruneStats, error) {
	var stats store.PruneStats
	wrap := func(err error) error { return fmt.Errorf("postgres: prune: %w", err) }
	cut, err := encodeTime("before", before)
	if err != nil {
		return stats, wrap(err)
	}
	for {
		var n int
		err := s.write(ctx, func(c conn) error {
			if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockPrune); err != nil {
				return err
			}
			return c.row(ctx, pruneSQL, cut, pruneBatch).Scan(&n)
		})
		if err != nil {
			return stats, wrap(err)
		}
		stats.Deliveries += n
		if n < pruneBatch {
			return stats, nil
		}
	}
}
