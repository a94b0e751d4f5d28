package main

import (
	"context"

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
