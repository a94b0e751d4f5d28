// Package backend opens the store a configuration names (store.driver):
// the one place that knows every backend, so adding one is an entry in
// drivers below and its package. Config owns which drivers are accepted
// (config.StoreDrivers); the test keeps the two lists the same.
package backend

import (
	"context"
	"fmt"
	"slices"

	"breakglass/internal/config"
	"breakglass/internal/store"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/sqlite"
)

// opener opens one backend from the store config, which config has
// validated for its driver.
type opener func(ctx context.Context, c config.StoreConfig) (store.Store, error)

var drivers = map[string]opener{
	config.StoreSQLite: func(ctx context.Context, c config.StoreConfig) (store.Store, error) {
		return sqlite.Open(ctx, c.Path)
	},
	config.StorePostgres: func(ctx context.Context, c config.StoreConfig) (store.Store, error) {
		return postgres.Open(ctx, c.ConnString().Reveal())
	},
}

// Open opens the store c names; an empty driver is the default one. Errors
// name the store without its secret (config.StoreConfig.Describe).
func Open(ctx context.Context, c config.StoreConfig) (store.Store, error) {
	driver := c.Driver
	if driver == "" {
		driver = config.DefaultStoreDriver
	}
	open, ok := drivers[driver]
	if !ok {
		return nil, fmt.Errorf("store.driver %q: unknown; use one of %v", driver, Drivers())
	}
	st, err := open(ctx, c)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Drivers lists the drivers Open knows, sorted.
func Drivers() []string {
	out := make([]string, 0, len(drivers))
	for d := range drivers {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}
