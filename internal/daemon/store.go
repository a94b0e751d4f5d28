package daemon

import (
	"context"
	"time"

	"breakglass/internal/store/sqlite"
	"breakglass/internal/watch"
)

// This file adapts the store to what the daemon's parts consume.
// TODO(merge): spine-store adds Conditions, Writable and Prune to the
// sqlite store; until then conditions live in memory, writability is a
// read, and nothing is pruned.

// conditionsOf returns the persisted condition table of st.
func conditionsOf(st *sqlite.Store) watch.Conditions {
	return watch.NewMemConditions()
}

// writableOf returns the readiness check of st: a real write when the
// store offers one.
func writableOf(st *sqlite.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := st.OutboxDepth(ctx)
		return err
	}
}

// pruner returns st's retention, reporting how many rows it deleted.
func pruner(st *sqlite.Store) (func(ctx context.Context, before time.Time) (int, error), bool) {
	return nil, false
}
