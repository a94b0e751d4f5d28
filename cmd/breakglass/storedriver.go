package main

import (
	"context"
	"fmt"

	"breakglass/internal/config"
	"breakglass/internal/store"
	"breakglass/internal/store/backend"
	"breakglass/internal/store/sqlite"
)

// sqliteOnly refuses, with what to do instead, a command that reads the
// store as an SQLite file when the configuration keeps it in PostgreSQL:
// opening store.path there would read a file that is not the store.
func sqliteOnly(cfg *config.Config, command string) error {
	if cfg.Store.Driver != config.StorePostgres {
		return nil
	}
	return usageErrorf("%s: reads the store as an SQLite file (store.path), but %s has store.driver: postgres; "+
		"this command does not read PostgreSQL yet: use serve's dashboard and API, or psql", command, cfg.Path)
}

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
