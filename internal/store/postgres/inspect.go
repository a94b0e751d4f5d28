package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/stdlib"
)

// Inspect reads which migrations the database dsn names has applied,
// without migrating it or writing to it (it takes no lock either): doctor
// reports a store that is behind or ahead of this binary instead of
// upgrading it behind the operator's back. applied is sorted; known is the
// embedded migration versions, sorted. A database without
// schema_migrations (in the connection's search_path) has applied nothing.
// Errors never quote the DSN.
func Inspect(ctx context.Context, dsn string) (applied, known []int, err error) {
	known = KnownMigrations()
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, known, fmt.Errorf("postgres: inspect: %w", err)
	}
	sessionDefaults(cfg)
	// Read-only at the session level as well: a mistake here cannot
	// change the store.
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	db.SetMaxOpenConns(1)
	fail := func(what string, err error) error {
		return fmt.Errorf("postgres: inspect %s: %s: %w", where(cfg), what, describe(err))
	}
	var present bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&present); err != nil {
		return nil, known, fail("connect", err)
	}
	if !present {
		return nil, known, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, known, fail("read applied migrations", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, known, fail("read applied migrations", err)
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		return nil, known, fail("read applied migrations", err)
	}
	return applied, known, nil
}

// KnownMigrations lists the versions of the migrations this binary
// carries, sorted.
func KnownMigrations() []int {
	ms, err := migrations()
	if err != nil {
		return nil
	}
	vs := make([]int, 0, len(ms))
	for _, m := range ms {
		vs = append(vs, m.version)
	}
	return slices.Clip(vs)
}
