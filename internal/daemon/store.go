package daemon

import (
	"context"
	"time"

	"breakglass/internal/watch"
)

// This file adapts the store to what the daemon's parts consume.

// conditionsOf returns the persisted condition table of st.
func conditionsOf(st daemonStore) watch.Conditions { return st }

// writableOf returns the readiness check of st: a real write.
func writableOf(st daemonStore) func(context.Context) error { return st.Writable }

// pruner returns st's retention, reporting how many rows it deleted.
func pruner(st daemonStore) (func(ctx context.Context, before time.Time) (int, error), bool) {
	return func(ctx context.Context, before time.Time) (int, error) {
		ps, err := st.Prune(ctx, before)
		return ps.Deliveries, err
	}, true
}
