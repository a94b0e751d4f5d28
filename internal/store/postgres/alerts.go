package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// AddAlert implements store.Store. Evidence.EventID may be left empty to
// mean Alert.EventID; Evidence.Stored, when zero, becomes the current time.
// Evidence.SHA256 is ignored and computed from Raw.
func (s *Store) AddAlert(ctx context.Context, a alert.Alert, ev store.Evidence) (bool, error) {
	return s.AddAlertNotify(ctx, a, ev, nil)
}

// AddAlertNotify implements store.Outbox. The deliveries are due at once;
// repeated targets are enqueued once, and an empty target is an error.
func (s *Store) AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error) {
	ins, err := s.AddAlertsNotify(ctx, []store.AlertWithEvidence{{Alert: a, Evidence: ev}}, targets)
	if err != nil {
		return false, err
	}
	return ins[0], nil
}

// AddAlertsNotify implements store.Outbox: many alerts in one transaction,
// all or nothing.
func (s *Store) AddAlertsNotify(ctx context.Context, items []store.AlertWithEvidence, targets []string) ([]bool, error) {
	if len(items) == 0 {
		return nil, nil
	}
	// Checked and encoded before the transaction, so bad input never holds
	// a connection.
	rows, err := toRows(items, targets, time.Now())
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var inserted []bool
	err = s.write(ctx, func(c conn) error {
		inserted, err = s.insertRows(ctx, c, rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: add alerts: %w", err)
	}
	return inserted, nil
}

// addAlerts is AddAlertsNotify inside a caller's transaction.
func (s *Store) addAlerts(ctx context.Context, c conn, items []store.AlertWithEvidence, targets []string) ([]bool, error) {
	rows, err := toRows(items, targets, time.Now())
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	ins, err := s.insertRows(ctx, c, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: add alerts: %w", describe(err))
	}
	return ins, nil
}

// A batch is stored in four statements whatever its size (evidence,
// alerts, labels, deliveries), each taking its rows as arrays: one round
// trip per table instead of several per alert. WITH ORDINALITY ... ORDER
// BY keeps the items' order, so the first copy of a repeated event or
// alert is the one kept and deliveries are numbered in enqueue order.
const (
	insertEvidenceSQL = `INSERT INTO evidence (event_id, category, source, raw, sha256, stored)
		SELECT e, c, s, r, h, t
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[])
			WITH ORDINALITY AS u(e, c, s, r, h, t, ord)
		ORDER BY ord
		ON CONFLICT (event_id) DO NOTHING`
	insertAlertSQL = `INSERT INTO alerts
		(id, rule, severity, title, account_id, account_upn, account_name, event_id, event_time,
		 category, source, detected, operation, change_type, result, app, ip_address, location,
		 actor, correlation, labels, annotations, unreadable, event_time_unknown, state)
		SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20,
			c21, c22, c23, c24, c25
		FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
			$17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::bool[],
			$25::text[])
			WITH ORDINALITY AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18,
				c19, c20, c21, c22, c23, c24, c25, ord)
		ORDER BY ord
		ON CONFLICT (id) DO NOTHING
		RETURNING id`
	insertLabelsSQL = `INSERT INTO alert_labels (alert_id, "key", value)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`
	// insertOutboxBatchSQL is insertOutboxSQL for many (alert, target)
	// pairs, all firing.
	insertOutboxBatchSQL = `INSERT INTO outbox (alert_id, status, target, next_attempt, created)
		SELECT a, 'firing', t, c, c
		FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(a, t, c, ord)
		WHERE NOT EXISTS (SELECT 1 FROM outbox_pruned p WHERE p.alert_id = u.a AND p.status = 'firing' AND p.target = u.t)
		ORDER BY ord
		ON CONFLICT (alert_id, status, target) DO NOTHING`
)

func (s *Store) insertRows(ctx context.Context, c conn, rows []row) ([]bool, error) {
	// Deliveries may be enqueued only while no Prune moves keys aside.
	if err := sharePruneLock(ctx, c); err != nil {
		return nil, err
	}
	n := len(rows)
	cols := func() []string { return make([]string, n) }
	evID, evCat, evSrc, evSHA, evStored := cols(), cols(), cols(), cols(), cols()
	evRaw := make([][]byte, n)
	var ac [25][]any
	for i, r := range rows {
		ev, a := r.ev, r.a
		evID[i], evCat[i], evSrc[i], evRaw[i], evSHA[i], evStored[i] = ev.EventID, ev.Category, ev.Source, ev.Raw, ev.SHA256, r.stored
		for k, v := range []any{a.ID, a.Rule, int64(a.Severity), a.Title, a.AccountID, a.AccountUPN, a.Account, a.EventID,
			r.eventTime, a.Category, a.Source, r.detected, a.Operation, a.ChangeType, a.Result, a.App, a.IPAddress,
			a.Location, a.Actor, a.Correlation, nullText(r.labels), nullText(r.annotations), nullText(r.unreadable),
			a.EventTimeUnknown, r.state} {
			ac[k] = append(ac[k], v)
		}
	}
	if _, err := c.exec(ctx, insertEvidenceSQL, evID, evCat, evSrc, evRaw, evSHA, evStored); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	args := make([]any, len(ac))
	for k, col := range ac {
		args[k] = typedColumn(col)
	}
	res, err := c.query(ctx, insertAlertSQL, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	added := map[string]bool{}
	for res.Next() {
		var id string
		if err := scan(res, &id); err != nil {
			res.Close()
			return nil, fmt.Errorf("alerts: %w", err)
		}
		added[id] = true
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	inserted := make([]bool, n)
	var lAlert, lKey, lValue, oAlert, oTarget, oCreated []string
	for i, r := range rows {
		a := r.a
		// New at most once: the first item with an id the insert returned.
		if added[a.ID] {
			inserted[i], added[a.ID] = true, false
			for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
				lAlert, lKey, lValue = append(lAlert, a.ID), append(lKey, k), append(lValue, a.Labels[k])
			}
		}
		// Whether new or not: a target that has no delivery of this alert
		// yet gets one (notify once per alert and target, whoever stored
		// the alert first).
		for _, target := range r.targets {
			oAlert, oTarget, oCreated = append(oAlert, a.ID), append(oTarget, target), append(oCreated, r.created)
		}
	}
	if len(lAlert) > 0 {
		if _, err := c.exec(ctx, insertLabelsSQL, lAlert, lKey, lValue); err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
	}
	if len(oAlert) > 0 {
		if _, err := c.exec(ctx, insertOutboxBatchSQL, oAlert, oTarget, oCreated); err != nil {
			return nil, fmt.Errorf("enqueue: %w", err)
		}
	}
	return inserted, nil
}

// nullText is a JSON column's value for an array parameter: nil is NULL.
func nullText(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// typedColumn turns one column of values into the typed slice its array
// parameter takes.
func typedColumn(col []any) any {
	if len(col) == 0 {
		return []string{}
	}
	switch col[0].(type) {
	case string:
		out := make([]string, len(col))
		for i, v := range col {
			out[i] = v.(string)
		}
		return out
	case int64:
		out := make([]int64, len(col))
		for i, v := range col {
			out[i] = v.(int64)
		}
		return out
	case bool:
		out := make([]bool, len(col))
		for i, v := range col {
			out[i] = v.(bool)
		}
		return out
	default: // *string
		out := make([]*string, len(col))
		for i, v := range col {
			out[i] = v.(*string)
		}
		return out
	}
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

func toRows(items []store.AlertWithEvidence, targets []string, now time.Time) ([]row, error) {
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

func toRow(it store.AlertWithEvidence, targets []string, now time.Time) (r row, err error) {
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

const alertColumns = `id, rule, severity, title, account_id, account_upn, account_name, event_id, event_time,
	category, source, detected, operation, change_type, result, app, ip_address, location, actor, correlation,
	labels, annotations, unreadable, event_time_unknown, state`

func scanAlert(sc scanner) (alert.Alert, error) {
	var (
		a                               alert.Alert
		sev                             int
		eventTime, detected             string
		labels, annotations, unreadable sql.NullString
	)
	err := scan(sc, &a.ID, &a.Rule, &sev, &a.Title, &a.AccountID, &a.AccountUPN, &a.Account, &a.EventID,
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

func scanAlerts(rows *sql.Rows) ([]alert.Alert, error) {
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

// Alert implements store.Store.
func (s *Store) Alert(ctx context.Context, id string) (alert.Alert, error) {
	return s.alert(ctx, s.read(), id)
}

func (s *Store) alert(ctx context.Context, c conn, id string) (alert.Alert, error) {
	a, err := scanAlert(c.row(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Alert{}, fmt.Errorf("postgres: alert %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return alert.Alert{}, fmt.Errorf("postgres: alert %q: %w", id, err)
	}
	return a, nil
}

// alertFilter turns a filter into SQL conditions and their arguments.
func alertFilter(f store.AlertFilter) *listFilter {
	c := &listFilter{}
	c.text("rule = $?", f.Rule)
	c.text("lower(account_id) = lower($?)", f.AccountID)
	c.text("state = $?", f.State)
	for _, k := range slices.Sorted(maps.Keys(f.Labels)) {
		c.add(`EXISTS (SELECT 1 FROM alert_labels l WHERE l.alert_id = alerts.id AND l."key" = $? AND l.value = $?)`,
			k, f.Labels[k])
	}
	c.time("event_time >= $?", "since", f.Since)
	c.time("event_time < $?", "until", f.Until)
	if len(f.Severities) > 0 {
		sevs := make([]int64, len(f.Severities))
		for i, sev := range f.Severities {
			sevs[i] = int64(sev)
		}
		c.add("severity = ANY($?::int[])", sevs)
	}
	c.time("detected >= $?", "detected since", f.DetectedSince)
	return c
}

// Alerts implements store.Store. Since is inclusive; a negative Limit is an
// error rather than silently meaning "all".
func (s *Store) Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: list alerts: %w", err) }
	if f.Limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", f.Limit))
	}
	c := alertFilter(f)
	if c.err != nil {
		return nil, wrap(c.err)
	}
	out, err := s.queryAlerts(ctx, c, f.Limit)
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

func (s *Store) queryAlerts(ctx context.Context, c *listFilter, limit int) ([]alert.Alert, error) {
	q := `SELECT ` + alertColumns + ` FROM alerts` + c.where() + ` ORDER BY event_time DESC, id`
	if limit > 0 {
		q += ` LIMIT ` + c.next(limit)
	}
	rows, err := s.read().query(ctx, q, c.args...)
	if err != nil {
		return nil, err
	}
	return scanAlerts(rows)
}

// Page sizes for AlertPage.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// cursorPrefix versions the cursor format; it is SQLite's, so a cursor
// means the same position on either backend.
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
// order. limit is capped at 1000.
func (s *Store) AlertPage(ctx context.Context, f store.AlertFilter, cursor string, limit int) ([]alert.Alert, string, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: alert page: %w", err) }
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
	c := alertFilter(f)
	if c.err != nil {
		return nil, "", wrap(c.err)
	}
	if cursor != "" {
		t, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", wrap(err)
		}
		// conn escapes id as stored, so it compares as ORDER BY sees it.
		c.add("event_time <= $? AND (event_time < $? OR id > $?)", t, t, id)
	}
	out, err := s.queryAlerts(ctx, c, limit+1) // one more says whether there is a next page
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
func (s *Store) ChangeAlertState(ctx context.Context, sc store.StateChange) (changed bool, err error) {
	err = s.write(ctx, func(c conn) error {
		changed, err = s.changeAlertState(ctx, c, sc)
		return err
	})
	return changed, err
}

func (s *Store) changeAlertState(ctx context.Context, c conn, sc store.StateChange) (bool, error) {
	id, state := sc.AlertID, sc.To
	wrap := func(err error) error {
		return fmt.Errorf("postgres: set state of alert %q to %q: %w", id, state, err)
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
	// FOR UPDATE: two acknowledgements at once must not both record a
	// change from firing.
	var current string
	err = scan(c.row(ctx, `SELECT state FROM alerts WHERE id = $1 FOR UPDATE`, id), &current)
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
	if _, err := c.exec(ctx, `UPDATE alerts SET state = $1, state_by = $2, state_at = $3 WHERE id = $4`,
		state, sc.By, when, id); err != nil {
		return false, wrap(describe(err))
	}
	if _, err := c.exec(ctx, `INSERT INTO alert_states (alert_id, from_state, to_state, by, via, note, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, current, state, sc.By, sc.Via, sc.Note, when); err != nil {
		return false, wrap(describe(err))
	}
	return true, nil
}

// StateChanges implements store.Store. An alert that never changed state
// has none; an unknown alert is ErrNotFound.
func (s *Store) StateChanges(ctx context.Context, id string) ([]store.StateChange, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: state changes of alert %q: %w", id, err) }
	if _, err := s.Alert(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.read().query(ctx, `SELECT alert_id, from_state, to_state, by, via, note, at FROM alert_states
		WHERE alert_id = $1 ORDER BY id`, id)
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
		if err := scan(rows, &sc.AlertID, &sc.From, &sc.To, &sc.By, &sc.Via, &sc.Note, &at); err != nil {
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
	wrap := func(err error) error { return fmt.Errorf("postgres: evidence %q: %w", eventID, err) }
	var (
		ev     store.Evidence
		stored string
	)
	err := scan(s.read().row(ctx, `SELECT event_id, category, source, raw, sha256, stored
		FROM evidence WHERE event_id = $1`, eventID),
		&ev.EventID, &ev.Category, &ev.Source, &ev.Raw, &ev.SHA256, &stored)
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
