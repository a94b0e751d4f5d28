package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/store"
)

// Checkpoint implements store.Checkpoints.
func (s *Store) Checkpoint(ctx context.Context, source, key string) (store.Checkpoint, bool, error) {
	c, err := scanCheckpoint(s.r.QueryRowContext(ctx, `SELECT source, "key", "offset", size, updated
		FROM checkpoints WHERE source = ? AND "key" = ?`, source, key))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Checkpoint{}, false, nil
	}
	if err != nil {
		return store.Checkpoint{}, false, fmt.Errorf("sqlite %s: checkpoint %s %q: %w", s.path, source, key, err)
	}
	return c, true, nil
}

// SetCheckpoint implements store.Checkpoints. A zero Updated means now. The
// offset may go down (a truncated file is read again from its start), but
// not below zero, and Source must be set.
func (s *Store) SetCheckpoint(ctx context.Context, c store.Checkpoint) error {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: set checkpoint %s %q: %w", s.path, c.Source, c.Key, err)
	}
	if c.Source == "" {
		return wrap(errors.New("empty source"))
	}
	if c.Offset < 0 || c.Size < 0 {
		return wrap(fmt.Errorf("negative offset %d or size %d", c.Offset, c.Size))
	}
	if c.Updated.IsZero() {
		c.Updated = time.Now()
	}
	updated, err := encodeTime("updated", c.Updated)
	if err != nil {
		return wrap(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO checkpoints (source, "key", "offset", size, updated)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (source, "key") DO UPDATE SET
			"offset" = excluded."offset", size = excluded.size, updated = excluded.updated`,
		c.Source, c.Key, c.Offset, c.Size, updated); err != nil {
		return wrap(err)
	}
	return nil
}

// Checkpoints implements store.Checkpoints, in key order.
func (s *Store) Checkpoints(ctx context.Context, source string) ([]store.Checkpoint, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: checkpoints %s: %w", s.path, source, err) }
	rows, err := s.r.QueryContext(ctx, `SELECT source, "key", "offset", size, updated
		FROM checkpoints WHERE source = ? ORDER BY "key"`, source)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
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

func scanCheckpoint(sc scanner) (store.Checkpoint, error) {
	var (
		c       store.Checkpoint
		updated string
	)
	if err := sc.Scan(&c.Source, &c.Key, &c.Offset, &c.Size, &updated); err != nil {
		return c, err
	}
	var err error
	if c.Updated, err = decodeTime("updated", updated); err != nil {
		return c, err
	}
	return c, nil
}
