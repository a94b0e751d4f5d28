package postgres

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
	return s.checkpoint(ctx, s.read(), source, key)
}

func (s *Store) checkpoint(ctx context.Context, c conn, source, key string) (store.Checkpoint, bool, error) {
	cp, err := scanCheckpoint(c.row(ctx, `SELECT source, "key", "offset", size, updated
		FROM checkpoints WHERE source = $1 AND "key" = $2`, source, key))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Checkpoint{}, false, nil
	}
	if err != nil {
		return store.Checkpoint{}, false, fmt.Errorf("postgres: checkpoint %s %q: %w", source, key, err)
	}
	return cp, true, nil
}

// SetCheckpoint implements store.Checkpoints. A zero Updated means now. The
// offset may go down (a truncated file is read again from its start), but
// not below zero, and Source must be set.
func (s *Store) SetCheckpoint(ctx context.Context, cp store.Checkpoint) error {
	return s.write(ctx, func(c conn) error { return s.setCheckpoint(ctx, c, cp) })
}

func (s *Store) setCheckpoint(ctx context.Context, c conn, cp store.Checkpoint) error {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: set checkpoint %s %q: %w", cp.Source, cp.Key, err)
	}
	if cp.Source == "" {
		return wrap(errors.New("empty source"))
	}
	if cp.Offset < 0 || cp.Size < 0 {
		return wrap(fmt.Errorf("negative offset %d or size %d", cp.Offset, cp.Size))
	}
	if cp.Updated.IsZero() {
		cp.Updated = time.Now()
	}
	updated, err := encodeTime("updated", cp.Updated)
	if err != nil {
		return wrap(err)
	}
	if _, err := c.exec(ctx, `INSERT INTO checkpoints (source, "key", "offset", size, updated)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (source, "key") DO UPDATE SET
			"offset" = excluded."offset", size = excluded.size, updated = excluded.updated`,
		cp.Source, cp.Key, cp.Offset, cp.Size, updated); err != nil {
		return wrap(describe(err))
	}
	return nil
}

// DeleteCheckpoint implements store.Checkpoints.
func (s *Store) DeleteCheckpoint(ctx context.Context, source, key string) error {
	err := s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM checkpoints WHERE source = $1 AND "key" = $2`, source, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete checkpoint %s %q: %w", source, key, err)
	}
	return nil
}

// Checkpoints implements store.Checkpoints, in key order.
func (s *Store) Checkpoints(ctx context.Context, source string) ([]store.Checkpoint, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: checkpoints %s: %w", source, err) }
	rows, err := s.read().query(ctx, `SELECT source, "key", "offset", size, updated
		FROM checkpoints WHERE source = $1 ORDER BY "key"`, source)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.Checkpoint
	for rows.Next() {
		cp, err := scanCheckpoint(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

func scanCheckpoint(sc scanner) (store.Checkpoint, error) {
	var (
		cp      store.Checkpoint
		updated string
	)
	if err := scan(sc, &cp.Source, &cp.Key, &cp.Offset, &cp.Size, &updated); err != nil {
		return cp, err
	}
	var err error
	if cp.Updated, err = decodeTime("updated", updated); err != nil {
		return cp, err
	}
	return cp, nil
}

// SetSourceAlive implements store.Checkpoints. Source must be set.
func (s *Store) SetSourceAlive(ctx context.Context, source string, at time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("postgres: set source %q alive: %w", source, err) }
	if source == "" {
		return wrap(errors.New("empty source"))
	}
	when, err := encodeTime("at", at)
	if err != nil {
		return wrap(err)
	}
	// Fixed-width times compare as text, so GREATEST keeps the latest, in
	// the one statement, whichever replica writes.
	err = s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO source_alive (source, at) VALUES ($1, $2)
			ON CONFLICT (source) DO UPDATE SET at = GREATEST(source_alive.at, excluded.at)`, source, when)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// SourceAlive implements store.Checkpoints.
func (s *Store) SourceAlive(ctx context.Context, source string) (time.Time, bool, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: source %q alive: %w", source, err) }
	var at string
	err := scan(s.read().row(ctx, `SELECT at FROM source_alive WHERE source = $1`, source), &at)
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
