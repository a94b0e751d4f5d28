package postgres

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

// incidentID derives the id of the incident that alertID opens under key,
// exactly as SQLite does, so the same alerts give the same ids on both.
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
	if err := scan(sc, &inc.ID, &inc.Key, &inc.Kind, &inc.AccountID, &inc.AccountUPN, &inc.State,
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

// reviewJSON is how a review is stored (as in SQLite).
type reviewJSON struct {
	Class  string            `json:"class"`
	By     string            `json:"by"`
	At     string            `json:"at"`
	Note   string            `json:"note"`
	Attest map[string]string `json:"attest"`
}

// incidentAlerts fills inc.Alerts, in the order they were attached.
func (s *Store) incidentAlerts(ctx context.Context, c conn, inc *store.Incident) error {
	rows, err := c.query(ctx, `SELECT alert_id FROM incident_alerts WHERE incident_id = $1 ORDER BY seq`, inc.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	inc.Alerts = nil
	for rows.Next() {
		var id string
		if err := scan(rows, &id); err != nil {
			return err
		}
		inc.Alerts = append(inc.Alerts, id)
	}
	return rows.Err()
}

func (s *Store) incident(ctx context.Context, c conn, id string) (store.Incident, error) {
	inc, err := scanIncident(c.row(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, store.ErrNotFound
	}
	if err != nil {
		return store.Incident{}, err
	}
	if err := s.incidentAlerts(ctx, c, &inc); err != nil {
		return store.Incident{}, err
	}
	return inc, nil
}

// AttachAlert implements store.Incidents. The decision runs in one
// transaction that first takes an advisory lock on the key, so two replicas
// attaching alerts of one key at once still form one incident (the second
// waits, then sees the first's incident). An alert joins the newest
// incident of key that is not closed when its event time lies within gap
// of that incident's span [FirstEvent, LastEvent], on either side. A zero
// at means now.
func (s *Store) AttachAlert(ctx context.Context, a alert.Alert, key, kind string, gap time.Duration, at time.Time) (store.Incident, bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: attach alert %q to incident %q: %w", a.ID, key, err)
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
	err = s.write(ctx, func(c conn) error {
		inc, opened = store.Incident{}, false
		if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClass+lockIncident, key); err != nil {
			return fmt.Errorf("lock the key: %w", err)
		}
		var existing string
		err := scan(c.row(ctx, `SELECT incident_id FROM incident_alerts WHERE alert_id = $1`, a.ID), &existing)
		switch {
		case err == nil:
			inc, err = s.incident(ctx, c, existing)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}

		// The newest incident of the key, whatever its state: it is the one
		// to join (if open and near) or the one a new incident follows.
		var newest string
		err = scan(c.row(ctx, `SELECT id FROM incidents WHERE "key" = $1 ORDER BY seq DESC LIMIT 1`, key), &newest)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Join the newest incident of the key that is not closed and near
		// enough. Not only the newest overall: a late alert of an earlier,
		// still open incident belongs there.
		var join string
		rows, err := c.query(ctx, `SELECT id, first_event, last_event FROM incidents
			WHERE "key" = $1 AND state != 'closed' ORDER BY seq DESC`, key)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, fe, le string
			if err := scan(rows, &id, &fe, &le); err != nil {
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
			if _, err := c.exec(ctx, `UPDATE incidents SET
				first_event = LEAST(first_event, $1), last_event = GREATEST(last_event, $1), updated = $2,
				account_id = CASE WHEN account_id = '' THEN $4 ELSE account_id END,
				account_upn = CASE WHEN account_upn = '' THEN $5 ELSE account_upn END
				WHERE id = $3`, ev, when, join, a.AccountID, a.AccountUPN); err != nil {
				return err
			}
		} else {
			join = incidentID(key, a.ID)
			if _, err := c.exec(ctx, `INSERT INTO incidents
				(id, "key", kind, account_id, account_upn, state, opened, first_event, last_event, updated, previous)
				VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10)`,
				join, key, kind, a.AccountID, a.AccountUPN, when, ev, ev, when, newest); err != nil {
				return fmt.Errorf("open incident: %w", err)
			}
			if _, err := c.exec(ctx, `INSERT INTO incident_changes
				(incident_id, from_state, to_state, by, at, note) VALUES ($1, '', 'open', $2, $3, $4)`,
				join, systemActor, when, "opened by alert "+a.ID); err != nil {
				return err
			}
			opened = true
		}
		if _, err := c.exec(ctx, `INSERT INTO incident_alerts (alert_id, incident_id, attached)
			VALUES ($1, $2, $3)`, a.ID, join, when); err != nil {
			return err
		}
		inc, err = s.incident(ctx, c, join)
		return err
	})
	if err != nil {
		return store.Incident{}, false, wrap(err)
	}
	return inc, opened, nil
}

// Incident implements store.Incidents.
func (s *Store) Incident(ctx context.Context, id string) (store.Incident, error) {
	inc, err := s.incident(ctx, s.read(), id)
	if err != nil {
		return store.Incident{}, fmt.Errorf("postgres: incident %q: %w", id, err)
	}
	return inc, nil
}

// IncidentOf implements store.Incidents.
func (s *Store) IncidentOf(ctx context.Context, alertID string) (store.Incident, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: incident of alert %q: %w", alertID, err) }
	var id string
	err := scan(s.read().row(ctx, `SELECT incident_id FROM incident_alerts WHERE alert_id = $1`, alertID), &id)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, wrap(store.ErrNotFound)
	}
	if err != nil {
		return store.Incident{}, wrap(err)
	}
	inc, err := s.incident(ctx, s.read(), id)
	if err != nil {
		return store.Incident{}, wrap(err)
	}
	return inc, nil
}

// Incidents implements store.Incidents. A negative Limit is an error.
func (s *Store) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: list incidents: %w", err) }
	if f.Limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", f.Limit))
	}
	var c listFilter
	c.text("state = $?", f.State)
	c.text("kind = $?", f.Kind)
	c.text("lower(account_id) = lower($?)", f.AccountID)
	c.time("opened >= $?", "since", f.Since)
	if c.err != nil {
		return nil, wrap(c.err)
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents` + c.where() + ` ORDER BY opened DESC, seq DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + c.next(f.Limit)
	}
	rows, err := s.read().query(ctx, q, c.args...)
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
		if err := s.incidentAlerts(ctx, s.read(), &out[i]); err != nil {
			return nil, wrap(err)
		}
	}
	return out, nil
}

// UnattachedAlerts implements store.Incidents: stored alerts that no
// incident holds yet, in the order they were stored.
func (s *Store) UnattachedAlerts(ctx context.Context, limit int) ([]alert.Alert, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: unattached alerts: %w", err) }
	if limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", limit))
	}
	if limit == 0 {
		limit = defaultPageSize
	}
	rows, err := s.read().query(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE NOT EXISTS (SELECT 1 FROM incident_alerts i WHERE i.alert_id = alerts.id)
		ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := scanAlerts(rows)
	if err != nil {
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

// lockedIncidentState reads an incident's state and locks its row until
// the transaction ends, so two changes at once apply one after the other.
func lockedIncidentState(ctx context.Context, c conn, id string) (string, error) {
	var current string
	err := scan(c.row(ctx, `SELECT state FROM incidents WHERE id = $1 FOR UPDATE`, id), &current)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	return current, err
}

// SetIncidentState implements store.Incidents. A zero at means now.
func (s *Store) SetIncidentState(ctx context.Context, id, state, by, note string, at time.Time) error {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: set state of incident %q to %q: %w", id, state, err)
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
	err = s.write(ctx, func(c conn) error {
		current, err := lockedIncidentState(ctx, c, id)
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
		if _, err := c.exec(ctx, `UPDATE incidents SET state = $1, updated = $2 WHERE id = $3`, state, when, id); err != nil {
			return err
		}
		_, err = c.exec(ctx, `INSERT INTO incident_changes (incident_id, from_state, to_state, by, at, note)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, current, state, by, when, note)
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
	wrap := func(err error) error { return fmt.Errorf("postgres: review incident %q: %w", id, err) }
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
	err = s.write(ctx, func(c conn) error {
		current, err := lockedIncidentState(ctx, c, id)
		if err != nil {
			return err
		}
		if current == store.IncidentClosed {
			return fmt.Errorf("%w: the incident is closed", store.ErrStateTransition)
		}
		if _, err := c.exec(ctx, `UPDATE incidents SET state = 'reviewed', review = $1, updated = $2 WHERE id = $3`,
			string(b), when, id); err != nil {
			return err
		}
		note := r.Class
		if r.Note != "" {
			note += ": " + r.Note
		}
		_, err = c.exec(ctx, `INSERT INTO incident_changes (incident_id, from_state, to_state, by, at, note)
			VALUES ($1, $2, 'reviewed', $3, $4, $5)`, id, current, r.By, when, note)
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
	wrap := func(err error) error { return fmt.Errorf("postgres: changes of incident %q: %w", id, err) }
	var n int
	if err := s.read().row(ctx, `SELECT COUNT(*) FROM incidents WHERE id = $1`, id).Scan(&n); err != nil {
		return nil, wrap(err)
	}
	if n == 0 {
		return nil, wrap(store.ErrNotFound)
	}
	rows, err := s.read().query(ctx, `SELECT incident_id, from_state, to_state, by, at, note
		FROM incident_changes WHERE incident_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.IncidentChange
	for rows.Next() {
		var (
			ic store.IncidentChange
			at string
		)
		if err := scan(rows, &ic.IncidentID, &ic.From, &ic.To, &ic.By, &at, &ic.Note); err != nil {
			return nil, wrap(err)
		}
		if ic.At, err = decodeTime("at", at); err != nil {
			return nil, wrap(err)
		}
		out = append(out, ic)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
