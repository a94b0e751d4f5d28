package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/store"
)

var _ store.Drills = (*Store)(nil)

const drillColumns = `id, account_id, account_upn, state, at, window_ns, by, note, started, finished,
	result, failed_step, reason, alert_id, incident_id, attest, measured, created, updated`

// drillArgs encodes d in the order of drillColumns.
func drillArgs(d store.Drill) ([]any, error) {
	switch {
	case d.ID == "":
		return nil, errors.New("empty drill id")
	case d.State != store.DrillPlanned && d.State != store.DrillRunning && d.State != store.DrillFinished:
		return nil, fmt.Errorf("drill %q: unknown state %q", d.ID, d.State)
	case d.Result != "" && d.Result != store.DrillPassed && d.Result != store.DrillFailed:
		return nil, fmt.Errorf("drill %q: unknown result %q", d.ID, d.Result)
	case d.Window < 0:
		return nil, fmt.Errorf("drill %q: negative window %s", d.ID, d.Window)
	case d.At.IsZero():
		return nil, fmt.Errorf("drill %q: no window start (at)", d.ID)
	}
	at, err := encodeTime("at", d.At)
	if err != nil {
		return nil, err
	}
	started, err := encodeNullTime("started", d.Started)
	if err != nil {
		return nil, err
	}
	finished, err := encodeNullTime("finished", d.Finished)
	if err != nil {
		return nil, err
	}
	created, err := encodeTime("created", d.Created)
	if err != nil {
		return nil, err
	}
	updated, err := encodeTime("updated", d.Updated)
	if err != nil {
		return nil, err
	}
	var attest sql.NullString
	if d.Attest != nil {
		b, err := json.Marshal(d.Attest)
		if err != nil {
			return nil, fmt.Errorf("drill %q: attest: %w", d.ID, err)
		}
		attest = sql.NullString{String: string(b), Valid: true}
	}
	var measured any // nil stays NULL, empty stays empty
	if d.Measured != nil {
		measured = d.Measured
	}
	return []any{d.ID, d.AccountID, d.AccountUPN, d.State, at, int64(d.Window), d.By, d.Note, started, finished,
		d.Result, d.FailedStep, d.Reason, d.AlertID, d.IncidentID, attest, measured, created, updated}, nil
}

func scanDrill(sc scanner) (store.Drill, error) {
	var (
		d                 store.Drill
		at, created, upd  string
		started, finished sql.NullString
		attest            sql.NullString
		window            int64
		measured          []byte
	)
	if err := scan(sc, &d.ID, &d.AccountID, &d.AccountUPN, &d.State, &at, &window, &d.By, &d.Note, &started, &finished,
		&d.Result, &d.FailedStep, &d.Reason, &d.AlertID, &d.IncidentID, &attest, &measured, &created, &upd); err != nil {
		return d, err
	}
	d.Window = time.Duration(window)
	var err error
	if d.At, err = decodeTime("at", at); err != nil {
		return d, fmt.Errorf("drill %q: %w", d.ID, err)
	}
	if d.Created, err = decodeTime("created", created); err != nil {
		return d, fmt.Errorf("drill %q: %w", d.ID, err)
	}
	if d.Updated, err = decodeTime("updated", upd); err != nil {
		return d, fmt.Errorf("drill %q: %w", d.ID, err)
	}
	if d.Started, err = decodeNullTime("started", started); err != nil {
		return d, fmt.Errorf("drill %q: %w", d.ID, err)
	}
	if d.Finished, err = decodeNullTime("finished", finished); err != nil {
		return d, fmt.Errorf("drill %q: %w", d.ID, err)
	}
	if attest.Valid {
		if err := json.Unmarshal([]byte(attest.String), &d.Attest); err != nil {
			return d, fmt.Errorf("drill %q: attest: %w", d.ID, err)
		}
		if d.Attest == nil {
			d.Attest = map[string]string{}
		}
	}
	d.Measured = measured
	return d, nil
}

// AddDrill implements store.Drills. A zero Created or Updated is set to now.
func (s *Store) AddDrill(ctx context.Context, d store.Drill) error {
	wrap := func(err error) error { return fmt.Errorf("postgres: add drill %q: %w", d.ID, err) }
	now := time.Now()
	if d.Created.IsZero() {
		d.Created = now
	}
	if d.Updated.IsZero() {
		d.Updated = d.Created
	}
	args, err := drillArgs(d)
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(c conn) error {
		n, err := c.affected(ctx, `INSERT INTO drills (`+drillColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			ON CONFLICT (id) DO NOTHING`, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("a drill with this id exists already")
		}
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// Drill implements store.Drills.
func (s *Store) Drill(ctx context.Context, id string) (store.Drill, error) {
	d, err := scanDrill(s.read().row(ctx, `SELECT `+drillColumns+` FROM drills WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Drill{}, store.ErrNotFound
	}
	if err != nil {
		return store.Drill{}, fmt.Errorf("postgres: drill %q: %w", id, err)
	}
	return d, nil
}

// Drills implements store.Drills: newest At first, ties newest added first.
func (s *Store) Drills(ctx context.Context, f store.DrillFilter) ([]store.Drill, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: list drills: %w", err) }
	if f.Limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", f.Limit))
	}
	var c listFilter
	c.text("lower(account_id) = lower($?)", f.AccountID)
	c.text("state = $?", f.State)
	c.text("result = $?", f.Result)
	q := `SELECT ` + drillColumns + ` FROM drills` + c.where() + ` ORDER BY at DESC, seq DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + c.next(f.Limit)
	}
	rows, err := s.read().query(ctx, q, c.args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.Drill
	for rows.Next() {
		d, err := scanDrill(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// UpdateDrill implements store.Drills. d.Updated must be after prev, so
// that the token changes with every update. The row is locked while the
// token is compared, so of two updates from one prev exactly one wins.
func (s *Store) UpdateDrill(ctx context.Context, d store.Drill, prev time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("postgres: update drill %q: %w", d.ID, err) }
	if !d.Updated.After(prev) {
		return wrap(fmt.Errorf("updated %s is not after the previous %s", d.Updated, prev))
	}
	args, err := drillArgs(d)
	if err != nil {
		return wrap(err)
	}
	want, err := encodeTime("prev", prev)
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(c conn) error {
		var stored string
		err := scan(c.row(ctx, `SELECT updated FROM drills WHERE id = $1 FOR UPDATE`, d.ID), &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if stored != want {
			return fmt.Errorf("%w: drill changed since it was read (updated %s, expected %s)",
				store.ErrStateTransition, stored, want)
		}
		// Created (args[17]) is the drill's own: an update never moves it.
		_, err = c.exec(ctx, `UPDATE drills SET account_id = $2, account_upn = $3, state = $4, at = $5,
			window_ns = $6, by = $7, note = $8, started = $9, finished = $10, result = $11, failed_step = $12,
			reason = $13, alert_id = $14, incident_id = $15, attest = $16, measured = $17, updated = $18
			WHERE id = $1`, append(args[:17:17], args[18])...)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}
