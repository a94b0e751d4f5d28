package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"breakglass/internal/config"
	"breakglass/internal/store"
	"breakglass/internal/store/backend"
	"breakglass/internal/store/sqlite"
)

// openScanStore opens the store scan writes to: the SQLite file --store
// names, else the configured store of either driver.
func openScanStore(ctx context.Context, cfg *config.Config, storePath string) (store.Store, error) {
	if storePath != "" {
		return sqlite.Open(ctx, storePath)
	}
	return backend.Open(ctx, cfg.Store)
}

// authCLIStore is what users, tokens and audit-log need of the store.
type authCLIStore interface {
	store.Auth
	Close() error
}

// openAuthStoreCreate opens the configured store of either driver for
// users, tokens and audit-log, creating an SQLite file (users add may come
// before serve ever ran) or migrating a PostgreSQL database.
func openAuthStoreCreate(ctx context.Context, cfg *config.Config) (authCLIStore, error) {
	st, err := backend.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	as, ok := st.(authCLIStore)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("store.driver %s keeps no users or tokens", cfg.Store.Driver)
	}
	return as, nil
}

// isPostgres reports whether the configuration keeps the store in
// PostgreSQL.
func isPostgres(cfg *config.Config) bool { return cfg.Store.Driver == config.StorePostgres }

// cliStore is the store as the commands that read it (alerts, incidents,
// evidence, drill, accounts status, query --store) use it; every backend
// implements it.
type cliStore interface {
	store.Store
	store.IncidentPruning
	store.Records
	store.Auth
}

// openCLIStore opens the configured store of either driver for a command
// that reads it. Unless create is set, a missing SQLite file is a usage
// error that says what to check (hint: what would have made it): an empty
// new file would only hide a wrong store.path. A PostgreSQL database gets
// its schema on first open, as serve would give it. Errors name the store
// without its secret.
func openCLIStore(ctx context.Context, cfg *config.Config, create bool, hint string) (cliStore, error) {
	if !isPostgres(cfg) && !create {
		if _, err := os.Stat(cfg.Store.Path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, usageErrorf("store %s does not exist: check store.path in %s, or %s", cfg.Store.Path, cfg.Path, hint)
			}
			return nil, usageErrorf("store %s: %w", cfg.Store.Path, err)
		}
	}
	st, err := backend.Open(ctx, cfg.Store)
	if err != nil {
		return nil, usageErrorf("opening store %s: %w", cfg.Store.Describe(), err)
	}
	cs, ok := st.(cliStore)
	if !ok {
		st.Close()
		return nil, usageErrorf("store.driver %s: this command cannot read that store", cfg.Store.Driver)
	}
	return cs, nil
}
