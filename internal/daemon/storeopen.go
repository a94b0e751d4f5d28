package daemon

import (
	"context"
	"fmt"

	"breakglass/internal/config"
	"breakglass/internal/posture"
	"breakglass/internal/store"
	"breakglass/internal/store/backend"
)

// daemonStore is what the daemon needs of its store. Every backend
// internal/store/backend opens implements store.Store; what the daemon
// needs beyond it is listed here, and a backend without it is refused at
// start by openBackend instead of failing later.
type daemonStore interface {
	store.Store
	store.Auth            // users, tokens, sessions, audit trail (auth.go)
	store.IncidentPruning // incidents prune (prune_incidents.go)
	store.Records         // KQL rules' records (rules.go)
}

// openBackend opens the store cfg names (store.driver) for the daemon.
func openBackend(ctx context.Context, cfg *config.Config) (daemonStore, error) {
	st, err := backend.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	ds, ok := st.(daemonStore)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("store.driver %s cannot run the daemon yet: its backend (%T) lacks parts the daemon needs; use store.driver: sqlite", cfg.Store.Driver, st)
	}
	return ds, nil
}

// StoredDrillsOf is StoredDrills for the store the config names: the
// SQLite file (never created), or the PostgreSQL database.
func StoredDrillsOf(ctx context.Context, c config.StoreConfig) ([]posture.PassedDrill, error) {
	if c.Driver != config.StorePostgres {
		return StoredDrills(ctx, c.Path)
	}
	st, err := backend.Open(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", c.Describe(), err)
	}
	defer st.Close()
	return PassedDrills(ctx, st)
}
