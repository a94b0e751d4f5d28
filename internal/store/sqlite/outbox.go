package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"breakglass/internal/store"
)

const (
	insertOutboxSQL = `INSERT OR IGNORE INTO outbox
		(alert_id, status, target, next_attempt, created) VALUES (?, ?, ?, ?, ?)`
	// The delivered IS NULL term is what lets SQLite use the partial index
	// outbox_pending; both are checked against their plans in the tests.
	dueSQL = `SELECT id, alert_id, status, target, attempts, next_attempt, created, last_error
		FROM outbox WHERE delivered IS NULL AND next_attempt <= ?
		ORDER BY next_attempt, id LIMIT ?`
	depthSQL = `SELECT COUNT(*) FROM outbox WHERE delivered IS NULL`
)

// defaultDueLimit bounds a DueDeliveries call that names no limit: a backlog
// after an outage can be large, and the dispatcher works through it in turns.
const defaultDueLimit = 100

// maxLastError bounds the stored error text: a webhook may answer a failure
// with a whole HTML page, and every retry would rewrite it.
const maxLastError = 1024

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

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()
	// Checked rather than left to the foreign key, whose failure does not
	// say which key was missing and would not match ErrNotFound.
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM alerts WHERE id = ?`, alertID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return wrap(store.ErrNotFound)
	}
	if err != nil {
		return wrap(err)
	}
	st := tx.StmtContext(ctx, s.insOutbox)
	defer st.Close()
	for _, target := range targets {
		if _, err := st.ExecContext(ctx, alertID, status, target, now, now); err != nil {
			return wrap(fmt.Errorf("target %q: %w", target, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap(fmt.Errorf("commit: %w", err))
	}
	return nil
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
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var (
			d             store.Delivery
			next, created string
		)
		if err := rows.Scan(&d.ID, &d.AlertID, &d.Status, &d.Target, &d.Attempts, &next, &created, &d.LastError); err != nil {
			return nil, wrap(err)
		}
		if d.NextAttempt, err = decodeTime("next_attempt", next); err != nil {
			return nil, wrap(fmt.Errorf("delivery %d: %w", d.ID, err))
		}
		if d.Created, err = decodeTime("created", created); err != nil {
			return nil, wrap(fmt.Errorf("delivery %d: %w", d.ID, err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// CompleteDelivery implements store.Outbox. A zero at means now. Completing
// a delivery twice is not an error and keeps the first time: two dispatchers
// (at-least-once) may both have sent it.
func (s *Store) CompleteDelivery(ctx context.Context, id int64, at time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: complete delivery %d: %w", s.path, id, err) }
	if at.IsZero() {
		at = time.Now()
	}
	done, err := encodeTime("delivered", at)
	if err != nil {
		return wrap(err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE outbox SET delivered = COALESCE(delivered, ?) WHERE id = ?`, done, id)
	if err != nil {
		return wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return wrap(store.ErrNotFound)
	}
	return nil
}

// RetryDelivery implements store.Outbox. lastErr is cut to maxLastError
// bytes. A delivery already completed stays completed: a dispatcher whose
// attempt failed late must not resend what another one delivered.
func (s *Store) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: retry delivery %d: %w", s.path, id, err) }
	if attempts < 0 {
		return wrap(fmt.Errorf("negative attempts %d", attempts))
	}
	nextAt, err := encodeTime("next attempt", next)
	if err != nil {
		return wrap(err)
	}
	lastErr = truncateUTF8(lastErr, maxLastError)

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ?
		WHERE id = ? AND delivered IS NULL`, attempts, nextAt, lastErr, id)
	if err != nil {
		return wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE id = ?`, id).Scan(&exists); err != nil {
			return wrap(err)
		}
		if exists == 0 {
			return wrap(store.ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap(fmt.Errorf("commit: %w", err))
	}
	return nil
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
