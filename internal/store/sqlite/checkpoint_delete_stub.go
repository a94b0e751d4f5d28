package sqlite

import (
	"context"
	"fmt"
)

// DeleteCheckpoint removes the checkpoint for (source, key); a missing one
// is not an error.
//
// TODO(merge): the store helper adds the real method (with conformance
// tests); this temporary one, plain SQL, only keeps the daemon's wiring
// compiling until then and is replaced by it.
func (s *Store) DeleteCheckpoint(ctx context.Context, source, key string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM checkpoints WHERE source = ? AND "key" = ?`, source, key); err != nil {
		return fmt.Errorf("sqlite %s: delete checkpoint %s %q: %w", s.path, source, key, err)
	}
	return nil
}
