package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

var _ store.Store = (*Store)(nil)

// timeLayout is fixed-width so that string order is time order; see
// migrations/0001_init.sql.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func encodeTime(field string, t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("%s %s: year outside 0000-9999", field, t)
	}
	return t.Format(timeLayout), nil
}

func decodeTime(field, s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	return t.UTC(), nil
}

// AlertWithEvidence is one alert and the record that raised it, for AddAlerts.
type AlertWithEvidence struct {
	Alert    alert.Alert
	Evidence store.Evidence
	// Targets get a firing delivery each if, and only if, the alert is new,
	// as with AddAlertNotify.
	Targets []string
}

// AddAlert implements store.Store. Evidence.EventID may be left empty to
// mean Alert.EventID; Evidence.Stored, when zero, becomes the current time.
// Evidence.SHA256 is ignored and computed from Raw.
func (s *Store) AddAlert(ctx context.Context, a alert.Alert, ev store.Evidence) (bool, error) {
	return s.AddAlertNotify(ctx, a, ev, nil)
}

// AddAlertNotify implements store.Outbox. The deliveries are due at once
// (NextAttempt is the current time); repeated targets are enqueued once, and
// an empty target is an error.
func (s *Store) AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error) {
	ins, err := s.AddAlerts(ctx, []AlertWithEvidence{{Alert: a, Evidence: ev, Targets: targets}})
	if err != nil {
		return false, err
	}
	return ins[0], nil
}

// AddAlerts is AddAlert for many alerts in one transaction, and so with one
// fsync instead of one per alert: a scan that raises thousands of alerts
// commits them in milliseconds rather than seconds. It is all or nothing: on
// error nothing is stored. inserted[i] reports whether items[i] was new; when
// the same alert ID appears twice in items, only the first counts as new, and
// only the first one's Targets are enqueued.
//
// The write lock is held for the whole batch, so other writers, in this
// process and others, wait for it; callers with unbounded input should send
// batches of some thousands rather than everything at once.
func (s *Store) AddAlerts(ctx context.Context, items []AlertWithEvidence) (inserted []bool, err error) {
	if len(items) == 0 {
		return nil, nil
	}
	rows := make([]row, len(items))
	now := time.Now()
	for i, it := range items {
		if rows[i], err = toRow(it, now); err != nil {
			return nil, fmt.Errorf("sqlite %s: add alert %q: %w", s.path, it.Alert.ID, err)
		}
	}

	wrap := func(err error) error { return fmt.Errorf("sqlite %s: add alerts: %w", s.path, err) }
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE, from the DSN
	if err != nil {
		return nil, wrap(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()

	evStmt := tx.StmtContext(ctx, s.insEvidence)
	defer evStmt.Close()
	alStmt := tx.StmtContext(ctx, s.insAlert)
	defer alStmt.Close()
	obStmt := tx.StmtContext(ctx, s.insOutbox)
	defer obStmt.Close()

	inserted = make([]bool, len(rows))
	for i, r := range rows {
		ev, a := r.ev, r.a
		if _, err := evStmt.ExecContext(ctx, ev.EventID, ev.Category, ev.Source, ev.Raw, ev.SHA256, r.stored); err != nil {
			return nil, wrap(fmt.Errorf("evidence %q: %w", ev.EventID, err))
		}
		res, err := alStmt.ExecContext(ctx, a.ID, a.Rule, int(a.Severity), a.Title, a.AccountID, a.AccountUPN,
			a.Account, a.EventID, r.eventTime, a.Category, a.Source, r.detected, a.Operation, a.ChangeType,
			a.Result, a.App, a.IPAddress, a.Location, a.Actor, a.Correlation)
		if err != nil {
			return nil, wrap(fmt.Errorf("alert %q: %w", a.ID, err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, wrap(fmt.Errorf("alert %q: %w", a.ID, err))
		}
		inserted[i] = n == 1
		if !inserted[i] {
			continue
		}
		for _, target := range r.targets {
			if _, err := obStmt.ExecContext(ctx, a.ID, store.StatusFiring, target, r.created, r.created); err != nil {
				return nil, wrap(fmt.Errorf("alert %q: enqueue for %q: %w", a.ID, target, err))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap(fmt.Errorf("commit: %w", err))
	}
	return inserted, nil
}

// row is an item checked and encoded before the write transaction starts, so
// bad input never holds the write lock.
type row struct {
	a                                    alert.Alert
	ev                                   store.Evidence
	targets                              []string
	eventTime, detected, stored, created string
}

func toRow(it AlertWithEvidence, now time.Time) (r row, err error) {
	r.a, r.ev, r.targets = it.Alert, it.Evidence, it.Targets
	if r.a.ID == "" {
		return r, errors.New("empty alert id")
	}
	if r.a.EventID == "" {
		return r, errors.New("empty event id")
	}
	if r.ev.EventID == "" {
		r.ev.EventID = r.a.EventID
	}
	if r.ev.EventID != r.a.EventID {
		return r, fmt.Errorf("evidence is for event %q, alert for event %q", r.ev.EventID, r.a.EventID)
	}
	if r.ev.Raw == nil {
		r.ev.Raw = []byte{} // the column is NOT NULL; nil would bind as NULL
	}
	sum := sha256.Sum256(r.ev.Raw)
	r.ev.SHA256 = hex.EncodeToString(sum[:])
	if r.ev.Stored.IsZero() {
		r.ev.Stored = now
	}
	if r.eventTime, err = encodeTime("event time", r.a.EventTime); err != nil {
		return r, err
	}
	if r.detected, err = encodeTime("detected", r.a.Detected); err != nil {
		return r, err
	}
	if r.stored, err = encodeTime("evidence stored", r.ev.Stored); err != nil {
		return r, err
	}
	if err := checkTargets(r.targets); err != nil {
		return r, err
	}
	if len(r.targets) > 0 {
		if r.created, err = encodeTime("now", now); err != nil {
			return r, err
		}
	}
	return r, nil
}

const (
	insertEvidenceSQL = `INSERT OR IGNORE INTO evidence
		(event_id, category, source, raw, sha256, stored) VALUES (?, ?, ?, ?, ?, ?)`
	insertAlertSQL = `INSERT OR IGNORE INTO alerts
		(id, rule, severity, title, account_id, account_upn, account_name, event_id, event_time,
		 category, source, detected, operation, change_type, result, app, ip_address, location,
		 actor, correlation)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

const alertColumns = `id, rule, severity, title, account_id, account_upn, account_name, event_id, event_time,
	category, source, detected, operation, change_type, result, app, ip_address, location, actor, correlation`

type scanner interface{ Scan(dest ...any) error }

func scanAlert(sc scanner) (alert.Alert, error) {
	var (
		a                   alert.Alert
		sev                 int
		eventTime, detected string
	)
	err := sc.Scan(&a.ID, &a.Rule, &sev, &a.Title, &a.AccountID, &a.AccountUPN, &a.Account, &a.EventID,
		&eventTime, &a.Category, &a.Source, &detected, &a.Operation, &a.ChangeType, &a.Result, &a.App,
		&a.IPAddress, &a.Location, &a.Actor, &a.Correlation)
	if err != nil {
		return a, err
	}
	a.Severity = alert.Severity(sev)
	if a.EventTime, err = decodeTime("event_time", eventTime); err != nil {
		return a, fmt.Errorf("alert %q: %w", a.ID, err)
	}
	if a.Detected, err = decodeTime("detected", detected); err != nil {
		return a, fmt.Errorf("alert %q: %w", a.ID, err)
	}
	return a, nil
}

// Alert implements store.Store.
func (s *Store) Alert(ctx context.Context, id string) (alert.Alert, error) {
	a, err := scanAlert(s.r.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Alert{}, fmt.Errorf("sqlite %s: alert %q: %w", s.path, id, store.ErrNotFound)
	}
	if err != nil {
		return alert.Alert{}, fmt.Errorf("sqlite %s: alert %q: %w", s.path, id, err)
	}
	return a, nil
}

// Alerts implements store.Store. Since is inclusive; a negative Limit is an
// error rather than silently meaning "all".
func (s *Store) Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: list alerts: %w", s.path, err) }
	var (
		where []string
		args  []any
	)
	if f.Rule != "" {
		where = append(where, "rule = ?")
		args = append(args, f.Rule)
	}
	if f.AccountID != "" {
		where = append(where, "account_id = ? COLLATE NOCASE")
		args = append(args, f.AccountID)
	}
	if !f.Since.IsZero() {
		since, err := encodeTime("since", f.Since)
		if err != nil {
			return nil, wrap(err)
		}
		where = append(where, "event_time >= ?")
		args = append(args, since)
	}
	q := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY event_time DESC, id`
	switch {
	case f.Limit < 0:
		return nil, wrap(fmt.Errorf("negative limit %d", f.Limit))
	case f.Limit > 0:
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}

	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []alert.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// Evidence implements store.Store. It re-hashes Raw on the way out and fails
// if the bytes no longer match the digest taken when they were stored: a
// review must never be shown altered evidence as if it were the original.
func (s *Store) Evidence(ctx context.Context, eventID string) (store.Evidence, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: evidence %q: %w", s.path, eventID, err) }
	var (
		ev     store.Evidence
		stored string
	)
	err := s.r.QueryRowContext(ctx, `SELECT event_id, category, source, raw, sha256, stored
		FROM evidence WHERE event_id = ?`, eventID).
		Scan(&ev.EventID, &ev.Category, &ev.Source, &ev.Raw, &ev.SHA256, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Evidence{}, wrap(store.ErrNotFound)
	}
	if err != nil {
		return store.Evidence{}, wrap(err)
	}
	if ev.Raw == nil {
		ev.Raw = []byte{}
	}
	if sum := sha256.Sum256(ev.Raw); hex.EncodeToString(sum[:]) != ev.SHA256 {
		return store.Evidence{}, wrap(fmt.Errorf("raw bytes do not match their stored sha256 %s", ev.SHA256))
	}
	if ev.Stored, err = decodeTime("stored", stored); err != nil {
		return store.Evidence{}, wrap(err)
	}
	return ev, nil
}
