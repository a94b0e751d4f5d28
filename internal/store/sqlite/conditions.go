package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/store"
)

const conditionColumns = `rule, "key", alert_id, since, updated, data`

func scanCondition(sc scanner) (store.Condition, error) {
	var (
		c              store.Condition
		since, updated string
	)
	if err := sc.Scan(&c.Rule, &c.Key, &c.AlertID, &since, &updated, &c.Data); err != nil {
		return c, err
	}
	var err error
	if c.Since, err = decodeTime("since", since); err != nil {
		return c, err
	}
	if c.Updated, err = decodeTime("updated", updated); err != nil {
		return c, err
	}
	if len(c.Data) == 0 {
		c.Data = nil
	}
	return c, nil
}

// Condition implements store.Conditions.
func (s *Store) Condition(ctx context.Context, rule, key string) (store.Condition, bool, error) {
	return s.condition(ctx, s.r, rule, key)
}

func (s *Store) condition(ctx context.Context, r reader, rule, key string) (store.Condition, bool, error) {
	c, err := scanCondition(r.QueryRowContext(ctx, `SELECT `+conditionColumns+`
		FROM conditions WHERE rule = ? AND "key" = ?`, rule, key))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Condition{}, false, nil
	}
	if err != nil {
		return store.Condition{}, false, fmt.Errorf("sqlite %s: condition %s %q: %w", s.path, rule, key, err)
	}
	return c, true, nil
}

// SetCondition implements store.Conditions.
func (s *Store) SetCondition(ctx context.Context, c store.Condition) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.setCondition(ctx, tx, c) })
}

func (s *Store) setCondition(ctx context.Context, cn conn, c store.Condition) error {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: set condition %s %q: %w", s.path, c.Rule, c.Key, err)
	}
	if c.Rule == "" {
		return wrap(errors.New("empty rule"))
	}
	now := time.Now()
	if c.Updated.IsZero() {
		c.Updated = now
	}
	keepSince := c.Since.IsZero()
	if keepSince {
		c.Since = now
	}
	since, err := encodeTime("since", c.Since)
	if err != nil {
		return wrap(err)
	}
	updated, err := encodeTime("updated", c.Updated)
	if err != nil {
		return wrap(err)
	}
	data := c.Data
	if data == nil {
		data = []byte{}
	}
	if _, err := cn.ExecContext(ctx, `INSERT INTO conditions (rule, "key", alert_id, since, updated, data)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (rule, "key") DO UPDATE SET alert_id = excluded.alert_id,
			since = CASE WHEN ?7 THEN conditions.since ELSE excluded.since END,
			updated = excluded.updated, data = excluded.data`,
		c.Rule, c.Key, c.AlertID, since, updated, data, keepSince); err != nil {
		return wrap(describe(err))
	}
	return nil
}

// ClearCondition implements store.Conditions.
func (s *Store) ClearCondition(ctx context.Context, rule, key string) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.clearCondition(ctx, tx, rule, key) })
}

func (s *Store) clearCondition(ctx context.Context, cn conn, rule, key string) error {
	if _, err := cn.ExecContext(ctx, `DELETE FROM conditions WHERE rule = ? AND "key" = ?`, rule, key); err != nil {
		return fmt.Errorf("sqlite %s: clear condition %s %q: %w", s.path, rule, key, describe(err))
	}
	return nil
}

// Conditions implements store.Conditions.
func (s *Store) Conditions(ctx context.Context, rule string) ([]store.Condition, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: conditions %s: %w", s.path, rule, err) }
	q := `SELECT ` + conditionColumns + ` FROM conditions WHERE rule = ? ORDER BY "key"`
	args := []any{rule}
	if rule == "" {
		q, args = `SELECT `+conditionColumns+` FROM conditions ORDER BY rule, "key"`, nil
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.Condition
	for rows.Next() {
		c, err := scanCondition(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
