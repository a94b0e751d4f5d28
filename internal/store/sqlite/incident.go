package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

var _ store.Incidents = (*Store)(nil)

const incidentColumns = `id, "key", kind, account_id, account_upn, state, opened, first_event, last_event,
	updated, previous, review, closed, pruned_at, prune_reason, prune_bundle, prune_entries, prune_seq`

// systemActor is who a transition the store makes on its own (opening an
// incident) is recorded as.
const systemActor = "breakglass"

// incidentID derives the id of the incident that alertID opens under key.
// An alert opens at most one incident, so the id is unique, and the same
// store contents always give the same ids; 12 hex digits are short enough
// to type at 3 a.m. and the UNIQUE column catches the unlikely collision.
func incidentID(key, alertID string) string {
	h := sha256.Sum256([]byte(key + "\x00" + alertID))
	return "inc-" + hex.EncodeToString(h[:6])
}

func scanIncident(sc scanner) (store.Incident, error) {
	var (
		inc                                    store.Incident
		opened, firstEvent, lastEvent, updated string
		review                                 sql.NullString
		tomb                                   tombstoneColumns
	)
	if err := sc.Scan(&inc.ID, &inc.Key, &inc.Kind, &inc.AccountID, &inc.AccountUPN, &inc.State,
		&opened, &firstEvent, &lastEvent, &updated, &inc.Previous, &review,
		&tomb.closed, &tomb.at, &tomb.reason, &tomb.bundle, &tomb.entries, &tomb.seq); err != nil {
		return inc, err
	}
	if err := tomb.fill(&inc); err != nil {
		return inc, err
	}
	var err error
	for _, f := range []struct {
		name string
		s    string
		t    *time.Time
	}{{"opened", opened, &inc.Opened}, {"first_event", firstEvent, &inc.FirstEvent},
		{"last_event", lastEvent, &inc.LastEvent}, {"updated", updated, &inc.Updated}} {
		if *f.t, err = decodeTime(f.name, f.s); err != nil {
			return inc, fmt.Errorf("incident %q: %w", inc.ID, err)
		}
	}
	if review.Valid {
		var r reviewJSON
		if err := json.Unmarshal([]byte(review.String), &r); err != nil {
			return inc, fmt.Errorf("incident %q: review: %w", inc.ID, err)
		}
		rv := store.Review{Class: r.Class, By: r.By, Note: r.Note, Attest: r.Attest}
		if rv.At, err = decodeTime("review at", r.At); err != nil {
			return inc, fmt.Errorf("incident %q: %w", inc.ID, err)
		}
		inc.Review = &rv
	}
	return inc, nil
}

// reviewJSON is how a review is stored: At in the fixed-width layout so it
// round-trips to the nanosecond in UTC.
type reviewJSON struct {
	Class  string            `json:"class"`
	By     string            `json:"by"`
	At     string            `json:"at"`
	Note   string            `json:"note"`
	Attest map[string]string `json:"attest"`
}

// incidentAlerts fills inc.Alerts, in the order they were attached.
func (s *Store) incidentAlerts(ctx context.Context, r reader, inc *store.Incident) error {
	rows, err := r.QueryContext(ctx, `SELECT alert_id FROM incident_alerts WHERE incident_id = ? ORDER BY seq`, inc.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	inc.Alerts = nil
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		inc.Alerts = append(inc.Alerts, id)
	}
	return rows.Err()
}

func (s *Store) incident(ctx context.Context, r reader, id string) (store.Incident, error) {
	inc, err := scanIncident(r.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, store.ErrNotFound
	}
	if err != nil {
		return store.Incident{}, err
	}
	if err := s.incidentAlerts(ctx, r, &inc); err != nil {
		return store.Incident{}, err
	}
	return inc, nil
}

// AttachAlert implements store.Incidents. The whole decision runs in one
// write transaction (BEGIN IMMEDIATE), so two processes attaching alerts of
// one key at once still form one incident. An alert joins the newest
// incident of key that is not closed when its event time lies within gap
// of that incident's span [FirstEvent, LastEvent], on either side (for
// alerts arriving in order that is "within gap of LastEvent"; the span also
// keeps a late record from the middle of a use in its incident). A zero at
// means now.
func (s *Store) AttachAlert(ctx context.Context, a alert.Alert, key, kind string, gap time.Duration, at time.Time) (store.Incident, bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: attach alert %q to incident %q: %w", s.path, a.ID, key, err)
	}
	switch {
	case a.ID == "":
		return store.Incident{}, false, wrap(errors.New("empty alert id"))
	case key == "":
		return store.Incident{}, false, wrap(errors.New("empty incident key"))
	case kind == "":
		return store.Incident{}, false, wrap(errors.New("empty incident kind"))
	case gap < 0:
		return store.Incident{}, false, wrap(fmt.Errorf("negative gap %s", gap))
	}
	if at.IsZero() {
		at = time.Now()
	}
	when, err := encodeTime("at", at)
	if err != nil {
		return store.Incident{}, false, wrap(err)
	}
	ev, err := encodeTime("event time", a.EventTime)
	if err != nil {
		return store.Incident{}, false, wrap(err)
	}
	var (
		inc    store.Incident
		opened bool
	)
	err = s.write(ctx, func(tx *sql.Tx) error {
		inc, opened = store.Incident{}, false
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT incident_id FROM incident_alerts WHERE alert_id = ?`, a.ID).Scan(&existing)
		switch {
		case err == nil:
			inc, err = s.incident(ctx, tx, existing)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}

		// The newest incident of the key, whatever its state: it is the one
		// to join (if open and near) or the one a new incident follows.
		newest, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentColumns+`
			FROM incidents WHERE "key" = ? ORDER BY seq DESC LIMIT 1`, key))
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Join the newest incident of the key that is not closed and near
		// enough. Not only the newest overall: a late alert of an earlier,
		// still open incident belongs there.
		var join string
		rows, err := tx.QueryContext(ctx, `SELECT id, first_event, last_event FROM incidents
			WHERE "key" = ? AND state != 'closed' ORDER BY seq DESC`, key)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, fe, le string
			if err := rows.Scan(&id, &fe, &le); err != nil {
				rows.Close()
				return err
			}
			first, err := decodeTime("first_event", fe)
			if err != nil {
				rows.Close()
				return err
			}
			last, err := decodeTime("last_event", le)
			if err != nil {
				rows.Close()
				return err
			}
			if !a.EventTime.Before(first.Add(-gap)) && !a.EventTime.After(last.Add(gap)) {
				join = id
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		if join != "" {
			// An account named by id alone in the first record learns its
			// UPN from a later one, and the other way round.
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET
				first_event = MIN(first_event, ?1), last_event = MAX(last_event, ?1), updated = ?2,
				account_id = CASE WHEN account_id = '' THEN ?4 ELSE account_id END,
				account_upn = CASE WHEN account_upn = '' THEN ?5 ELSE account_upn END
				WHERE id = ?3`, ev, when, join, a.AccountID, a.AccountUPN); err != nil {
				return err
			}
		} else {
			join = incidentID(key, a.ID)
			prev := ""
			if found {
				prev = newest.ID
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO incidents
				(id, "key", kind, account_id, account_upn, state, opened, first_event, last_event, updated, previous)
				VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)`,
				join, key, kind, a.AccountID, a.AccountUPN, when, ev, ev, when, prev); err != nil {
				return fmt.Errorf("open incident: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_changes
				(incident_id, from_state, to_state, by, at, note) VALUES (?, '', 'open', ?, ?, ?)`,
				join, systemActor, when, "opened by alert "+a.ID); err != nil {
				return err
			}
			opened = true
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_alerts (alert_id, incident_id, attached)
			VALUES (?, ?, ?)`, a.ID, join, when); err != nil {
			return err
		}
		inc, err = s.incident(ctx, tx, join)
		return err
	})
	if err != nil {
		return store.Incident{}, false, wrap(err)
	}
	return inc, opened, nil
}

// Incident implements store.Incidents.
func (s *Store) Incident(ctx context.Context, id string) (store.Incident, error) {
	inc, err := s.incident(ctx, s.r, id)
	if err != nil {
		return store.Incident{}, fmt.Errorf("sqlite %s: incident %q: %w", s.path, id, err)
	}
	return inc, nil
}

// IncidentOf implements store.Incidents.
func (s *Store) IncidentOf(ctx context.Context, alertID string) (store.Incident, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: incident of alert %q: %w", s.path, alertID, err) }
	var id string
	err := s.r.QueryRowContext(ctx, `SELECT incident_id FROM incident_alerts WHERE alert_id = ?`, alertID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, wrap(store.ErrNotFound)
	}
	if err != nil {
		return store.Incident{}, wrap(err)
	}
	inc, err := s.incident(ctx, s.r, id)
	if err != nil {
		return store.Incident{}, wrap(err)
	}
	return inc, nil
}

// Incidents implements store.Incidents. A negative Limit is an error.
func (s *Store) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: list incidents: %w", s.path, err) }
	if f.Limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", f.Limit))
	}
	var c listFilter
	c.text("state = ?", f.State)
	c.text("kind = ?", f.Kind)
	c.text("account_id = ? COLLATE NOCASE", f.AccountID)
	c.time("opened >= ?", "since", f.Since)
	if c.err != nil {
		return nil, wrap(c.err)
	}
	args := c.args
	q := `SELECT ` + incidentColumns + ` FROM incidents` + c.where()
	q += ` ORDER BY opened DESC, seq DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(err)
	}
	var out []store.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return nil, wrap(err)
		}
		out = append(out, inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	for i := range out {
		if err := s.incidentAlerts(ctx, s.r, &out[i]); err != nil {
			return nil, wrap(err)
		}
	}
	return out, nil
}

// UnattachedAlerts implements store.Incidents: stored alerts that no
// incident holds yet, in the order they were stored.
func (s *Store) UnattachedAlerts(ctx context.Context, limit int) ([]alert.Alert, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: unattached alerts: %w", s.path, err) }
	if limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", limit))
	}
	if limit == 0 {
		limit = defaultPageSize
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE NOT EXISTS (SELECT 1 FROM incident_alerts i WHERE i.alert_id = alerts.id)
		ORDER BY seq LIMIT ?`, limit)
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

// incidentMoves lists what SetIncidentState accepts; reviewed is reached
// only through SetReview, and closed only from reviewed.
var incidentMoves = map[[2]string]bool{
	{store.IncidentOpen, store.IncidentAcknowledged}: true,
	{store.IncidentReviewed, store.IncidentClosed}:   true,
}

// SetIncidentState implements store.Incidents. A zero at means now.
func (s *Store) SetIncidentState(ctx context.Context, id, state, by, note string, at time.Time) error {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: set state of incident %q to %q: %w", s.path, id, state, err)
	}
	switch state {
	case store.IncidentOpen, store.IncidentAcknowledged, store.IncidentReviewed, store.IncidentClosed:
	default:
		return wrap(fmt.Errorf("unknown state %q", state))
	}
	if at.IsZero() {
		at = time.Now()
	}
	when, err := encodeTime("at", at)
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var current string
		err := tx.QueryRowContext(ctx, `SELECT state FROM incidents WHERE id = ?`, id).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if current == state {
			return nil
		}
		if !incidentMoves[[2]string{current, state}] {
			why := ""
			switch {
			case state == store.IncidentClosed:
				why = " (closing requires a review)"
			case state == store.IncidentReviewed:
				why = " (a review sets it)"
			}
			return fmt.Errorf("%w: %s to %s%s", store.ErrStateTransition, current, state, why)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, updated = ? WHERE id = ?`, state, when, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO incident_changes (incident_id, from_state, to_state, by, at, note)
			VALUES (?, ?, ?, ?, ?, ?)`, id, current, state, by, when, note)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// SetReview implements store.Incidents. The class must be one of the
// Class* constants and By must name the reviewer; a zero At means now. The
// change recorded has the note prefixed with the class.
func (s *Store) SetReview(ctx context.Context, id string, r store.Review) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: review incident %q: %w", s.path, id, err) }
	switch r.Class {
	case store.ClassDrill, store.ClassEmergency, store.ClassMisuse:
	default:
		return wrap(fmt.Errorf("unknown classification %q, want %s, %s or %s",
			r.Class, store.ClassDrill, store.ClassEmergency, store.ClassMisuse))
	}
	if strings.TrimSpace(r.By) == "" {
		return wrap(errors.New("a review must name the reviewer"))
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	when, err := encodeTime("at", r.At)
	if err != nil {
		return wrap(err)
	}
	b, err := json.Marshal(reviewJSON{Class: r.Class, By: r.By, At: when, Note: r.Note, Attest: r.Attest})
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var current string
		err := tx.QueryRowContext(ctx, `SELECT state FROM incidents WHERE id = ?`, id).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if current == store.IncidentClosed {
			return fmt.Errorf("%w: the incident is closed", store.ErrStateTransition)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = 'reviewed', review = ?, updated = ? WHERE id = ?`,
			string(b), when, id); err != nil {
			return err
		}
		note := r.Class
		if r.Note != "" {
			note += ": " + r.Note
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO incident_changes (incident_id, from_state, to_state, by, at, note)
			VALUES (?, ?, 'reviewed', ?, ?, ?)`, id, current, r.By, when, note)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// IncidentChanges implements store.Incidents. An unknown incident is
// ErrNotFound.
func (s *Store) IncidentChanges(ctx context.Context, id string) ([]store.IncidentChange, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: changes of incident %q: %w", s.path, id, err) }
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE id = ?`, id).Scan(&n); err != nil {
		return nil, wrap(err)
	}
	if n == 0 {
		return nil, wrap(store.ErrNotFound)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT incident_id, from_state, to_state, by, at, note
		FROM incident_changes WHERE incident_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.IncidentChange
	for rows.Next() {
		var (
			c  store.IncidentChange
			at string
		)
		if err := rows.Scan(&c.IncidentID, &c.From, &c.To, &c.By, &at, &c.Note); err != nil {
			return nil, wrap(err)
		}
		if c.At, err = decodeTime("at", at); err != nil {
			return nil, wrap(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
