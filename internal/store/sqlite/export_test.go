package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The outbox queries, for checking their plans.
const (
	DueSQL   = dueSQL
	DepthSQL = depthSQL
)

// CreateAtVersion creates the database at path with only the first version
// migrations applied, as a breakglass that knew no later ones would have
// left it, so tests can open it with the current code and watch it upgrade.
func CreateAtVersion(ctx context.Context, path string, version int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if version < 1 || version > len(ms) {
		return fmt.Errorf("version %d outside 1..%d", version, len(ms))
	}
	if err := createFile(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(path, "_txlock=immediate"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := migrateTo(ctx, db, ms[:version]); err != nil {
		return err
	}
	return db.Close()
}
