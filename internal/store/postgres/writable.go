package postgres

import (
	"context"
	"fmt"
	"time"
)

// Writable implements store.Store: it commits a heartbeat, which fails on
// a read-only database (a standby, default_transaction_read_only), a full
// disk on the server, a lost connection or a closed store. Free space on
// the server cannot be read from a client; a full disk shows as the
// heartbeat's failure (store.ErrFull).
func (s *Store) Writable(ctx context.Context) error {
	if err := s.heartbeat(ctx); err != nil {
		return fmt.Errorf("postgres: not writable: %w", err)
	}
	return nil
}

func (s *Store) heartbeat(ctx context.Context) error {
	now, err := encodeTime("now", time.Now())
	if err != nil {
		return err
	}
	return s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO heartbeat (id, at) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at`, now)
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		return nil
	})
}
