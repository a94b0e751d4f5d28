package postgres

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
		cd             store.Condition
		since, updated string
	)
	if err := scan(sc, &cd.Rule, &cd.Key, &cd.AlertID, &since, &updated, &cd.Data); err != nil {
		return cd, err
	}
	var err error
	if cd.Since, err = decodeTime("since", since); err != nil {
		return cd, err
	}
	if cd.Updated, err = decodeTime("updated", updated); err != nil {
		return cd, err
	}
	if len(cd.Data) == 0 {
		cd.Data = nil
	}
	return cd, nil
}

// Condition implements store.Conditions.
func (s *Store) Condition(ctx context.Context, rule, key string) (store.Condition, bool, error) {
	return s.condition(ctx, s.read(), rule, key)
}

func (s *Store) condition(ctx context.Context, c conn, rule, key string) (store.Condition, bool, error) {
	cd, err := scanCondition(c.row(ctx, `SELECT `+conditionColumns+`
		FROM conditions WHERE rule = $1 AND "key" = $2`, rule, key))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Condition{}, false, nil
	}
	if err != nil {
		return store.Condition{}, false, fmt.Errorf("postgres: condition %s %q: %w", rule, key, err)
	}
	return cd, true, nil
}

// SetCondition implements store.Conditions.
func (s *Store) SetCondition(ctx context.Context, cd store.Condition) error {
	return s.write(ctx, func(c conn) error { return s.setCondition(ctx, c, cd) })
}

func (s *Store) setCondition(ctx context.Context, c conn, cd store.Condition) error {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: set condition %s %q: %w", cd.Rule, cd.Key, err)
	}
	if cd.Rule == "" {
		return wrap(errors.New("empty rule"))
	}
	now := time.Now()
	if cd.Updated.IsZero() {
		cd.Updated = now
	}
	keepSince := cd.Since.IsZero()
	if keepSince {
		cd.Since = now
	}
	since, err := encodeTime("since", cd.Since)
	if err != nil {
		return wrap(err)
	}
	updated, err := encodeTime("updated", cd.Updated)
	if err != nil {
		return wrap(err)
	}
	data := cd.Data
	if data == nil {
		data = []byte{}
	}
	if _, err := c.exec(ctx, `INSERT INTO conditions (rule, "key", alert_id, since, updated, data)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (rule, "key") DO UPDATE SET alert_id = excluded.alert_id,
			since = CASE WHEN $7 THEN conditions.since ELSE excluded.since END,
			updated = excluded.updated, data = excluded.data`,
		cd.Rule, cd.Key, cd.AlertID, since, updated, data, keepSince); err != nil {
		return wrap(describe(err))
	}
	return nil
}

// ClearCondition implements store.Conditions.
func (s *Store) ClearCondition(ctx context.Context, rule, key string) error {
	return s.write(ctx, func(c conn) error { return s.clearCondition(ctx, c, rule, key) })
}

func (s *Store) clearCondition(ctx context.Context, c conn, rule, key string) error {
	if _, err := c.exec(ctx, `DELETE FROM conditions WHERE rule = $1 AND "key" = $2`, rule, key); err != nil {
		return fmt.Errorf("postgres: clear condition %s %q: %w", rule, key, describe(err))
	}
	return nil
}

// Conditions implements store.Conditions.
func (s *Store) Conditions(ctx context.Context, rule string) ([]store.Condition, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: conditions %s: %w", rule, err) }
	q := `SELECT ` + conditionColumns + ` FROM conditions WHERE rule = $1 ORDER BY "key"`
	args := []any{rule}
	if rule == "" {
		q, args = `SELECT `+conditionColumns+` FROM conditions ORDER BY rule, "key"`, nil
	}
	rows, err := s.read().query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.Condition
	for rows.Next() {
		cd, err := scanCondition(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, cd)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
