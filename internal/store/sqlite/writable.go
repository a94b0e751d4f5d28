package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"breakglass/internal/store"
)

// minFreeBytes is the headroom below which Writable reports the store full:
// one record's evidence may be as large as the default record limit (64
// MiB) allows, so a few MiB left means the next alert may not fit.
const minFreeBytes = 16 << 20

// Writable implements store.Store. It commits a heartbeat (which fails on a
// read-only, corrupted or failing database), then checks for room: both
// SQLite's own page limit (max_page_count) and the free space of the
// filesystem holding the file must leave at least 16 MiB.
func (s *Store) Writable(ctx context.Context) error {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: not writable: %w", s.path, err) }
	if err := s.heartbeat(ctx); err != nil {
		return wrap(err)
	}
	if err := s.headroom(ctx); err != nil {
		return wrap(err)
	}
	return nil
}

func (s *Store) heartbeat(ctx context.Context) error {
	now, err := encodeTime("now", time.Now())
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO heartbeat (id, at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at`, now)
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		return nil
	})
}

func (s *Store) headroom(ctx context.Context) error {
	// max_page_count is a property of the connection, so these run on the
	// writer's only connection, where a limit would apply.
	var pages, maxPages, free, size int64
	for _, p := range []struct {
		pragma string
		v      *int64
	}{{"page_count", &pages}, {"max_page_count", &maxPages}, {"freelist_count", &free}, {"page_size", &size}} {
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.v); err != nil {
			return fmt.Errorf("read %s: %w", p.pragma, describe(err))
		}
	}
	if room := (maxPages - pages + free) * size; room < minFreeBytes {
		return &causeError{store.ErrFull, "raise or remove PRAGMA max_page_count",
			fmt.Errorf("database is at its page limit: %d of %d pages used, %d bytes left", pages-free, maxPages, room)}
	}
	avail, ok, err := diskFree(s.path)
	if err != nil {
		return fmt.Errorf("free space: %w", err)
	}
	if ok && avail < minFreeBytes {
		return &causeError{store.ErrFull, "free disk space",
			fmt.Errorf("the filesystem holding the database has %d bytes free", avail)}
	}
	return nil
}
