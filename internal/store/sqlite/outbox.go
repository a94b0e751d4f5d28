package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"breakglass/internal/store"
)

const (
	// insertOutboxSQL enqueues (alert, status, target) unless the outbox
	// has it, pending, delivered or dead (the UNIQUE key, OR IGNORE), or
	// Prune removed it after delivery (outbox_pruned).
	insertOutboxSQL = `INSERT OR IGNORE INTO outbox (alert_id, status, target, next_attempt, created)
		SELECT ?1, ?2, ?3, ?4, ?4
		WHERE NOT EXISTS (SELECT 1 FROM outbox_pruned WHERE alert_id = ?1 AND status = ?2 AND target = ?3)`
	deliveryColumns = `id, alert_id, status, target, attempts, next_attempt, created, last_error,
		lease_owner, lease_until, dead_at, dead_reason, delivered`
	// The delivered IS NULL AND dead_at IS NULL terms are what let SQLite
	// use the partial index outbox_pending; the plans are checked in the
	// tests.
	dueSQL = `SELECT ` + deliveryColumns + ` FROM outbox
		WHERE delivered IS NULL AND dead_at IS NULL AND next_attempt <= ?
		ORDER BY next_attempt, id LIMIT ?`
	claimSQL = `UPDATE outbox SET lease_owner = ?1, lease_until = ?2
		WHERE id IN (SELECT id FROM outbox
			WHERE delivered IS NULL AND dead_at IS NULL AND next_attempt <= ?3
				AND (lease_until IS NULL OR lease_until <= ?3)
			ORDER BY next_attempt, id LIMIT ?4)
		RETURNING ` + deliveryColumns
	depthSQL = `SELECT COUNT(*) FROM outbox WHERE delivered IS NULL AND dead_at IS NULL`
	deadSQL  = `SELECT ` + deliveryColumns + ` FROM outbox WHERE dead_at IS NOT NULL AND delivered IS NULL ORDER BY dead_at DESC, id DESC LIMIT ?`
	// alertDeliveriesSQL uses the UNIQUE (alert_id, status, target) index.
	alertDeliveriesSQL = `SELECT ` + deliveryColumns + ` FROM outbox WHERE alert_id = ? ORDER BY status, target, id`
	deadCountSQL       = `SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL AND delivered IS NULL`
	// pruneSQL picks a batch of delivered rows to remove.
	pruneSQL = `SELECT id FROM outbox WHERE delivered IS NOT NULL AND delivered < ? ORDER BY delivered LIMIT ?`
)

// defaultDueLimit bounds a DueDeliveries or ClaimDeliveries call that names
// no limit: a backlog after an outage can be large, and the dispatcher works
// through it in turns.
const defaultDueLimit = 100

// maxLastError bounds the stored error text: a webhook may answer a failure
// with a whole HTML page, and every retry would rewrite it.
const maxLastError = 1024

// pruneBatch is how many rows one Prune transaction removes, so a large
// prune never holds the write lock for long.
const pruneBatch = 1000

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
	return s.write(ctx, func(tx *sql.Tx) error { return s.enqueue(ctx, tx, alertID, status, targets) })
}

func (s *Store) enqueue(ctx context.Context, c conn, alertID, status string, targets []string) error {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: enqueue %s for alert %q: %w", s.path, status, alertID, err)
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
	// Checked rather than left to the foreign key, whose failure does not
	// say which key was missing and would not match ErrNotFound.
	var one int
	err = c.QueryRowContext(ctx, `SELECT 1 FROM alerts WHERE id = ?`, alertID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return wrap(store.ErrNotFound)
	}
	if err != nil {
		return wrap(describe(err))
	}
	st := c.StmtContext(ctx, s.insOutbox)
	defer st.Close()
	for _, target := range targets {
		if _, err := st.ExecContext(ctx, alertID, status, target, now); err != nil {
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
	if err := sc.Scan(&d.ID, &d.AlertID, &d.Status, &d.Target, &d.Attempts, &next, &created, &d.LastError,
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
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: due deliveries: %w", s.path, err) }
	at, err := encodeTime("now", now)
	if err != nil {
		return nil, wrap(err)
	}
	if limit <= 0 {
		limit = defaultDueLimit
	}
	rows, err := s.r.QueryContext(ctx, dueSQL, at, limit)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// ClaimDeliveries implements store.Outbox. The select and the lease are one
// UPDATE inside a write transaction, which holds SQLite's write lock, so no
// two claims (in this process or another) can pick the same free delivery.
// A limit of zero or less means defaultDueLimit; owner must be set and lease
// positive.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: claim deliveries for %q: %w", s.path, owner, err) }
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, claimSQL, owner, until, at, limit)
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
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return out, nil
}

// update runs one UPDATE of delivery id in a write transaction. When it
// changes no row, exists tells a delivery left alone on purpose (nil) from
// an unknown one (ErrNotFound).
func (s *Store) updateDelivery(ctx context.Context, id int64, q string, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE id = ?`, id).Scan(&exists); err != nil {
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
		WHERE id = ? AND lease_owner = ? AND lease_until IS NOT NULL`, id, owner); err != nil {
		return fmt.Errorf("sqlite %s: release delivery %d: %w", s.path, id, err)
	}
	return nil
}

// ReleaseLeases implements store.Outbox.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET lease_owner = '', lease_until = NULL
			WHERE lease_owner = ? AND lease_until IS NOT NULL AND delivered IS NULL`, owner)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite %s: release leases of %q: %w", s.path, owner, err)
	}
	return int(n), nil
}

// CompleteDelivery implements store.Outbox. A zero at means now. Completing
// a delivery twice is not an error and keeps the first time: two dispatchers
// (at-least-once) may both have sent it. A delivery dead-lettered meanwhile
// counts as delivered: it was.
func (s *Store) CompleteDelivery(ctx context.Context, id int64, at time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: complete delivery %d: %w", s.path, id, err) }
	if at.IsZero() {
		at = time.Now()
	}
	done, err := encodeTime("delivered", at)
	if err != nil {
		return wrap(err)
	}
	if err := s.updateDelivery(ctx, id, `UPDATE outbox SET delivered = COALESCE(delivered, ?),
		lease_owner = '', lease_until = NULL WHERE id = ?`, done, id); err != nil {
		return wrap(err)
	}
	return nil
}

// RetryDelivery implements store.Outbox. lastErr is cut to maxLastError
// bytes. A delivery already completed stays completed, and a dead one dead:
// a dispatcher whose attempt failed late must not resend what another one
// delivered or gave up on.
func (s *Store) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: retry delivery %d: %w", s.path, id, err) }
	if attempts < 0 {
		return wrap(fmt.Errorf("negative attempts %d", attempts))
	}
	nextAt, err := encodeTime("next attempt", next)
	if err != nil {
		return wrap(err)
	}
	if err := s.updateDelivery(ctx, id, `UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ?,
		lease_owner = '', lease_until = NULL
		WHERE id = ? AND delivered IS NULL AND dead_at IS NULL`,
		attempts, nextAt, truncateUTF8(lastErr, maxLastError), id); err != nil {
		return wrap(err)
	}
	return nil
}

// DeadLetter implements store.Outbox. A zero at means now; reason is cut
// to maxLastError bytes and should say why (the target is gone, or the
// delivery failed for longer than the give-up time).
func (s *Store) DeadLetter(ctx context.Context, id int64, at time.Time, reason string) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: dead-letter delivery %d: %w", s.path, id, err) }
	if at.IsZero() {
		at = time.Now()
	}
	when, err := encodeTime("dead at", at)
	if err != nil {
		return wrap(err)
	}
	if err := s.updateDelivery(ctx, id, `UPDATE outbox SET dead_at = ?, dead_reason = ?,
		lease_owner = '', lease_until = NULL
		WHERE id = ? AND delivered IS NULL AND dead_at IS NULL`,
		when, truncateUTF8(reason, maxLastError), id); err != nil {
		return wrap(err)
	}
	return nil
}

// DeadLetters implements store.Outbox. A limit of zero or less means
// defaultDueLimit.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]store.Delivery, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: dead letters: %w", s.path, err) }
	if limit <= 0 {
		limit = defaultDueLimit
	}
	rows, err := s.r.QueryContext(ctx, deadSQL, limit)
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
// read in one transaction, so a delivery is never shown without its alert.
func (s *Store) AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: deliveries of alert %q: %w", s.path, alertID, err)
	}
	tx, err := s.r.BeginTx(ctx, nil) // its connection is query_only
	if err != nil {
		return nil, wrap(describe(err))
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM alerts WHERE id = ?`, alertID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(store.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(describe(err))
	}
	rows, err := tx.QueryContext(ctx, alertDeliveriesSQL, alertID)
	if err != nil {
		return nil, wrap(describe(err))
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, wrap(err)
	}
	pruned, err := tx.QueryContext(ctx, `SELECT status, target, delivered FROM outbox_pruned WHERE alert_id = ?`, alertID)
	if err != nil {
		return nil, wrap(describe(err))
	}
	defer pruned.Close()
	for pruned.Next() {
		d := store.Delivery{AlertID: alertID, Pruned: true}
		var at string
		if err := pruned.Scan(&d.Status, &d.Target, &at); err != nil {
			return nil, wrap(err)
		}
		if d.Delivered, err = decodeTime("delivered", at); err != nil {
			return nil, wrap(err)
		}
		out = append(out, d)
	}
	if err := pruned.Err(); err != nil {
		return nil, wrap(describe(err))
	}
	slices.SortStableFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Target, b.Target))
	})
	return out, nil
}

// DeadLetterCount implements store.Outbox.
func (s *Store) DeadLetterCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, deadCountSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite %s: dead letter count: %w", s.path, err)
	}
	return n, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character, so
// the stored text stays valid UTF-8 for logs and JSON.
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
	if err := s.r.QueryRowContext(ctx, depthSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite %s: outbox depth: %w", s.path, err)
	}
	return n, nil
}

// Prune implements store.Outbox, pruneBatch rows per transaction. Each
// removed row's key moves to outbox_pruned in the same transaction as the
// delete, so there is no moment at which the delivery could be enqueued
// again.
func (s *Store) Prune(ctx context.Context, before time.Time) (store.PruneStats, error) {
	var stats store.PruneStats
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: prune: %w", s.path, err) }
	cut, err := encodeTime("before", before)
	if err != nil {
		return stats, wrap(err)
	}
	for {
		var n int
		err := s.write(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, pruneSQL, cut, pruneBatch)
			if err != nil {
				return err
			}
			var ids []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			list, _ := json.Marshal(ids)
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox_pruned (alert_id, status, target, delivered)
				SELECT alert_id, status, target, delivered FROM outbox WHERE id IN (SELECT value FROM json_each(?))`,
				string(list)); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))`, string(list))
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			n = int(m)
			return err
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
