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
	return s.checkpoint(ctx, s.r, source, key)
}

func (s *Store) checkpoint(ctx context.Context, r reader, source, key string) (store.Checkpoint, bool, error) {
	c, err := scanCheckpoint(r.QueryRowContext(ctx, `SELECT source, "key", "offset", size, updated
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
	return s.write(ctx, func(tx *sql.Tx) error { return s.setCheckpoint(ctx, tx, c) })
}

func (s *Store) setCheckpoint(ctx context.Context, cn conn, c store.Checkpoint) error {
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
	if _, err := cn.ExecContext(ctx, `INSERT INTO checkpoints (source, "key", "offset", size, updated)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (source, "key") DO UPDATE SET
			"offset" = excluded."offset", size = excluded.size, updated = excluded.updated`,
		c.Source, c.Key, c.Offset, c.Size, updated); err != nil {
		return wrap(describe(err))
	}
	return nil
}

// DeleteCheckpoint implements store.Checkpoints.
func (s *Store) DeleteCheckpoint(ctx context.Context, source, key string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE source = ? AND "key" = ?`, source, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite %s: delete checkpoint %s %q: %w", s.path, source, key, err)
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

// SetSourceAlive implements store.Checkpoints. Source must be set.
func (s *Store) SetSourceAlive(ctx context.Context, source string, at time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: set source %q alive: %w", s.path, source, err) }
	if source == "" {
		return wrap(errors.New("empty source"))
	}
	when, err := encodeTime("at", at)
	if err != nil {
		return wrap(err)
	}
	// Fixed-width times compare as strings, so MAX keeps the latest.
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO source_alive (source, at) VALUES (?, ?)
			ON CONFLICT (source) DO UPDATE SET at = MAX(at, excluded.at)`, source, when)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// SourceAlive implements store.Checkpoints.
func (s *Store) SourceAlive(ctx context.Context, source string) (time.Time, bool, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: source %q alive: %w", s.path, source, err) }
	var at string
	err := s.r.QueryRowContext(ctx, `SELECT at FROM source_alive WHERE source = ?`, source).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, wrap(err)
	}
	t, err := decodeTime("at", at)
	if err != nil {
		return time.Time{}, false, wrap(err)
	}
	return t, true, nil
}
