package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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

// encodeNullTime stores the zero time as NULL, for optional columns.
func encodeNullTime(field string, t time.Time) (sql.NullString, error) {
	if t.IsZero() {
		return sql.NullString{}, nil
	}
	s, err := encodeTime(field, t)
	return sql.NullString{String: s, Valid: err == nil}, err
}

func decodeNullTime(field string, s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return decodeTime(field, s.String)
}

// encodeJSON stores a nil map or slice as NULL and anything else as JSON, so
// nil and empty stay apart and alerts round-trip exactly.
func encodeJSON[T map[string]string | []string](v T) (sql.NullString, error) {
	if v == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(v) // map keys sorted: stable bytes for equal maps
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func decodeJSON[T map[string]string | []string](field string, s sql.NullString, v *T) error {
	if !s.Valid {
		*v = nil
		return nil
	}
	if err := json.Unmarshal([]byte(s.String), v); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// AlertWithEvidence is store.AlertWithEvidence, kept under its old name.
type AlertWithEvidence = store.AlertWithEvidence

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
	ins, err := s.AddAlertsNotify(ctx, []AlertWithEvidence{{Alert: a, Evidence: ev}}, targets)
	if err != nil {
		return false, err
	}
	return ins[0], nil
}

// AddAlerts is AddAlertsNotify with only each item's own Targets.
func (s *Store) AddAlerts(ctx context.Context, items []AlertWithEvidence) (inserted []bool, err error) {
	return s.AddAlertsNotify(ctx, items, nil)
}

// AddAlertsNotify implements store.Outbox: many alerts in one transaction,
// and so with one fsync instead of one per alert, so a scan that raises
// thousands of alerts commits them in milliseconds rather than seconds. It
// is all or nothing: on error nothing is stored.
//
// The write lock is held for the whole batch, so other writers, in this
// process and others, wait for it; callers with unbounded input should send
// batches of some thousands rather than everything at once.
func (s *Store) AddAlertsNotify(ctx context.Context, items []AlertWithEvidence, targets []string) ([]bool, error) {
	if len(items) == 0 {
		return nil, nil
	}
	// Checked and encoded before the transaction, so bad input never holds
	// the write lock.
	rows, err := toRows(items, targets, time.Now())
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", s.path, err)
	}
	var inserted []bool
	err = s.write(ctx, func(tx *sql.Tx) error {
		inserted, err = s.insertRows(ctx, tx, rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: add alerts: %w", s.path, err)
	}
	return inserted, nil
}

// addAlerts is AddAlertsNotify inside a caller's transaction.
func (s *Store) addAlerts(ctx context.Context, c conn, items []AlertWithEvidence, targets []string) ([]bool, error) {
	rows, err := toRows(items, targets, time.Now())
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", s.path, err)
	}
	ins, err := s.insertRows(ctx, c, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: add alerts: %w", s.path, describe(err))
	}
	return ins, nil
}

func (s *Store) insertRows(ctx context.Context, c conn, rows []row) ([]bool, error) {
	evStmt := c.StmtContext(ctx, s.insEvidence)
	defer evStmt.Close()
	alStmt := c.StmtContext(ctx, s.insAlert)
	defer alStmt.Close()
	obStmt := c.StmtContext(ctx, s.insOutbox)
	defer obStmt.Close()

	inserted := make([]bool, len(rows))
	for i, r := range rows {
		ev, a := r.ev, r.a
		if _, err := evStmt.ExecContext(ctx, ev.EventID, ev.Category, ev.Source, ev.Raw, ev.SHA256, r.stored); err != nil {
			return nil, fmt.Errorf("evidence %q: %w", ev.EventID, err)
		}
		res, err := alStmt.ExecContext(ctx, a.ID, a.Rule, int(a.Severity), a.Title, a.AccountID, a.AccountUPN,
			a.Account, a.EventID, r.eventTime, a.Category, a.Source, r.detected, a.Operation, a.ChangeType,
			a.Result, a.App, a.IPAddress, a.Location, a.Actor, a.Correlation,
			r.labels, r.annotations, r.unreadable, a.EventTimeUnknown, r.state)
		if err != nil {
			return nil, fmt.Errorf("alert %q: %w", a.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("alert %q: %w", a.ID, err)
		}
		inserted[i] = n == 1
		// Whether new or not: a target that has no delivery of this alert
		// yet gets one (notify once per alert and target, whoever stored
		// the alert first).
		for _, target := range r.targets {
			if _, err := obStmt.ExecContext(ctx, a.ID, store.StatusFiring, target, r.created); err != nil {
				return nil, fmt.Errorf("alert %q: enqueue for %q: %w", a.ID, target, err)
			}
		}
	}
	return inserted, nil
}

// row is an item checked and encoded for insertion.
type row struct {
	a                                    alert.Alert
	ev                                   store.Evidence
	targets                              []string
	eventTime, detected, stored, created string
	labels, annotations, unreadable      sql.NullString
	state                                string
}

func toRows(items []AlertWithEvidence, targets []string, now time.Time) ([]row, error) {
	if err := checkTargets(targets); err != nil {
		return nil, err
	}
	rows := make([]row, len(items))
	for i, it := range items {
		var err error
		if rows[i], err = toRow(it, targets, now); err != nil {
			return nil, fmt.Errorf("add alert %q: %w", it.Alert.ID, err)
		}
	}
	return rows, nil
}

func toRow(it AlertWithEvidence, targets []string, now time.Time) (r row, err error) {
	r.a, r.ev = it.Alert, it.Evidence
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
	switch r.state = r.a.State; r.state {
	case "":
		r.state = alert.StateFiring
	case alert.StateFiring, alert.StateAcknowledged, alert.StateResolved:
	default:
		return r, fmt.Errorf("unknown state %q", r.state)
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
	if r.labels, err = encodeJSON(r.a.Labels); err != nil {
		return r, fmt.Errorf("labels: %w", err)
	}
	if r.annotations, err = encodeJSON(r.a.Annotations); err != nil {
		return r, fmt.Errorf("annotations: %w", err)
	}
	if r.unreadable, err = encodeJSON(r.a.Unreadable); err != nil {
		return r, fmt.Errorf("unreadable: %w", err)
	}
	if err := checkTargets(it.Targets); err != nil {
		return r, err
	}
	r.targets = append(slices.Clip(targets), it.Targets...)
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
		 actor, correlation, labels, annotations, unreadable, event_time_unknown, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

const alertColumns = `id, rule, severity, title, account_id, account_upn, account_name, event_id, event_time,
	category, source, detected, operation, change_type, result, app, ip_address, location, actor, correlation,
	labels, annotations, unreadable, event_time_unknown, state`

type scanner interface{ Scan(dest ...any) error }

// reader is what the read paths need: the reader pool, or a transaction
// (whose reads see its own writes).
type reader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scanAlert(sc scanner) (alert.Alert, error) {
	var (
		a                               alert.Alert
		sev                             int
		eventTime, detected             string
		labels, annotations, unreadable sql.NullString
	)
	err := sc.Scan(&a.ID, &a.Rule, &sev, &a.Title, &a.AccountID, &a.AccountUPN, &a.Account, &a.EventID,
		&eventTime, &a.Category, &a.Source, &detected, &a.Operation, &a.ChangeType, &a.Result, &a.App,
		&a.IPAddress, &a.Location, &a.Actor, &a.Correlation,
		&labels, &annotations, &unreadable, &a.EventTimeUnknown, &a.State)
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
	if err := decodeJSON("labels", labels, &a.Labels); err != nil {
		return a, fmt.Errorf("alert %q: %w", a.ID, err)
	}
	if err := decodeJSON("annotations", annotations, &a.Annotations); err != nil {
		return a, fmt.Errorf("alert %q: %w", a.ID, err)
	}
	if err := decodeJSON("unreadable", unreadable, &a.Unreadable); err != nil {
		return a, fmt.Errorf("alert %q: %w", a.ID, err)
	}
	return a, nil
}

// Alert implements store.Store.
func (s *Store) Alert(ctx context.Context, id string) (alert.Alert, error) {
	return s.alert(ctx, s.r, id)
}

func (s *Store) alert(ctx context.Context, r reader, id string) (alert.Alert, error) {
	a, err := scanAlert(r.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Alert{}, fmt.Errorf("sqlite %s: alert %q: %w", s.path, id, store.ErrNotFound)
	}
	if err != nil {
		return alert.Alert{}, fmt.Errorf("sqlite %s: alert %q: %w", s.path, id, err)
	}
	return a, nil
}

// where turns a filter into SQL conditions and their arguments.
func where(f store.AlertFilter) ([]string, []any, error) {
	var c listFilter
	c.text("rule = ?", f.Rule)
	c.text("account_id = ? COLLATE NOCASE", f.AccountID)
	c.text("state = ?", f.State)
	for _, k := range slices.Sorted(maps.Keys(f.Labels)) {
		c.add(`EXISTS (SELECT 1 FROM json_each(alerts.labels) AS l
			WHERE l.key = ? AND l.type = 'text' AND l.value = ?)`, k, f.Labels[k])
	}
	c.time("event_time >= ?", "since", f.Since)
	c.time("event_time < ?", "until", f.Until)
	if len(f.Severities) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(f.Severities)), ",")
		args := make([]any, len(f.Severities))
		for i, sev := range f.Severities {
			args[i] = int(sev)
		}
		c.add("severity IN ("+marks+")", args...)
	}
	c.time("detected >= ?", "detected since", f.DetectedSince)
	return c.conds, c.args, c.err
}

// Alerts implements store.Store. Since is inclusive; a negative Limit is an
// error rather than silently meaning "all".
func (s *Store) Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: list alerts: %w", s.path, err) }
	if f.Limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", f.Limit))
	}
	conds, args, err := where(f)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := s.queryAlerts(ctx, conds, args, f.Limit)
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

func (s *Store) queryAlerts(ctx context.Context, conds []string, args []any, limit int) ([]alert.Alert, error) {
	q := `SELECT ` + alertColumns + ` FROM alerts`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	q += ` ORDER BY event_time DESC, id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []alert.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Page sizes for AlertPage.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// cursorPrefix versions the cursor format, so a later one can be told apart.
const cursorPrefix = "a1\x00"

func encodeCursor(a alert.Alert) string {
	t, _ := encodeTime("event time", a.EventTime) // read from the store, so in range
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + t + "\x00" + a.ID))
}

func decodeCursor(c string) (eventTime, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", store.ErrInvalidCursor
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return "", "", store.ErrInvalidCursor
	}
	eventTime, id, ok = strings.Cut(rest, "\x00")
	if !ok || id == "" {
		return "", "", store.ErrInvalidCursor
	}
	if _, err := decodeTime("cursor", eventTime); err != nil {
		return "", "", store.ErrInvalidCursor
	}
	return eventTime, id, nil
}

// AlertPage implements store.Store. The cursor is the (event time, id) of
// the last alert returned: the next page starts strictly after it in list
// order, which is what keeps pages free of gaps and duplicates while
// alerts are inserted. limit is capped at 1000.
func (s *Store) AlertPage(ctx context.Context, f store.AlertFilter, cursor string, limit int) ([]alert.Alert, string, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: alert page: %w", s.path, err) }
	if limit == 0 {
		limit = f.Limit
	}
	switch {
	case limit < 0:
		return nil, "", wrap(fmt.Errorf("negative limit %d", limit))
	case limit == 0:
		limit = defaultPageSize
	case limit > maxPageSize:
		limit = maxPageSize
	}
	conds, args, err := where(f)
	if err != nil {
		return nil, "", wrap(err)
	}
	if cursor != "" {
		t, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", wrap(err)
		}
		// event_time <= t bounds the index range; the rest is the exact
		// "after (t, id)" in (event_time DESC, id ASC) order.
		conds = append(conds, "event_time <= ? AND (event_time < ? OR id > ?)")
		args = append(args, t, t, id)
	}
	out, err := s.queryAlerts(ctx, conds, args, limit+1) // one more says whether there is a next page
	if err != nil {
		return nil, "", wrap(err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	return out, encodeCursor(out[limit-1]), nil
}

// allowed lists the lifecycle moves SetAlertState accepts; see
// store.Store.SetAlertState.
var allowed = map[[2]string]bool{
	{alert.StateFiring, alert.StateAcknowledged}:   true,
	{alert.StateFiring, alert.StateResolved}:       true,
	{alert.StateAcknowledged, alert.StateResolved}: true,
	{alert.StateAcknowledged, alert.StateFiring}:   true,
	{alert.StateResolved, alert.StateFiring}:       true,
}

// SetAlertState implements store.Store. A zero at means now.
func (s *Store) SetAlertState(ctx context.Context, id, state, by string, at time.Time) error {
	_, err := s.ChangeAlertState(ctx, store.StateChange{AlertID: id, To: state, By: by, At: at})
	return err
}

// ChangeAlertState implements store.Store. A zero At means now.
func (s *Store) ChangeAlertState(ctx context.Context, c store.StateChange) (changed bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		changed, err = s.changeAlertState(ctx, tx, c)
		return err
	})
	return changed, err
}

func (s *Store) changeAlertState(ctx context.Context, c conn, sc store.StateChange) (bool, error) {
	id, state := sc.AlertID, sc.To
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: set state of alert %q to %q: %w", s.path, id, state, err)
	}
	switch state {
	case alert.StateFiring, alert.StateAcknowledged, alert.StateResolved:
	default:
		return false, wrap(fmt.Errorf("unknown state %q", state))
	}
	at := sc.At
	if at.IsZero() {
		at = time.Now()
	}
	when, err := encodeTime("at", at)
	if err != nil {
		return false, wrap(err)
	}
	var current string
	err = c.QueryRowContext(ctx, `SELECT state FROM alerts WHERE id = ?`, id).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return false, wrap(store.ErrNotFound)
	}
	if err != nil {
		return false, wrap(describe(err))
	}
	if current == state {
		return false, nil
	}
	if !allowed[[2]string{current, state}] {
		return false, wrap(fmt.Errorf("%w: %s to %s", store.ErrStateTransition, current, state))
	}
	if _, err := c.ExecContext(ctx, `UPDATE alerts SET state = ?, state_by = ?, state_at = ? WHERE id = ?`,
		state, sc.By, when, id); err != nil {
		return false, wrap(describe(err))
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO alert_states (alert_id, from_state, to_state, by, via, note, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, current, state, sc.By, sc.Via, sc.Note, when); err != nil {
		return false, wrap(describe(err))
	}
	return true, nil
}

// StateChanges implements store.Store. An alert that never changed state
// has none; an unknown alert is ErrNotFound.
func (s *Store) StateChanges(ctx context.Context, id string) ([]store.StateChange, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: state changes of alert %q: %w", s.path, id, err) }
	if _, err := s.Alert(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT alert_id, from_state, to_state, by, via, note, at FROM alert_states
		WHERE alert_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.StateChange
	for rows.Next() {
		var (
			sc store.StateChange
			at string
		)
		if err := rows.Scan(&sc.AlertID, &sc.From, &sc.To, &sc.By, &sc.Via, &sc.Note, &at); err != nil {
			return nil, wrap(err)
		}
		if sc.At, err = decodeTime("at", at); err != nil {
			return nil, wrap(err)
		}
		out = append(out, sc)
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
