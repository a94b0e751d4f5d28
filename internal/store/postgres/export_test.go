package postgres

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// DB is the store's pool, for tests that inspect or tamper with tables the
// way someone with psql could.
func DB(s *Store) *sql.DB { return s.db }

// CreateAtVersion migrates the database dsn names to version only, as a
// breakglass that knew no later migrations would have left it.
func CreateAtVersion(ctx context.Context, dsn string, version int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if version < 1 || version > len(ms) {
		return fmt.Errorf("version %d outside 1..%d", version, len(ms))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return migrateTo(ctx, db, ms[:version])
}
