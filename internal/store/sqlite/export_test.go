package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The outbox queries, for checking their plans.
const (
	DueSQL       = dueSQL
	DepthSQL     = depthSQL
	ClaimSQL     = claimSQL
	DeadSQL      = deadSQL
	DeadCountSQL = deadCountSQL
	PruneSQL     = pruneSQL
)

// MinFreeBytes is the headroom Writable asks for.
const MinFreeBytes = minFreeBytes

// OpenWithWriterPragmas is Open with extra pragmas on the writer's
// connection: query_only(1) makes the database read-only to this handle
// with SQLite's own SQLITE_READONLY, which chmod cannot do for root.
func OpenWithWriterPragmas(ctx context.Context, path string, pragmas ...string) (*Store, error) {
	return open(ctx, path, pragmas)
}

// SetWriterPragma runs "PRAGMA p" on the writer's only connection of an
// open store (query_only, max_page_count), to make it read-only or full
// after Open.
func SetWriterPragma(ctx context.Context, s *Store, p string) error {
	rows, err := s.w.QueryContext(ctx, "PRAGMA "+p)
	if err != nil {
		return err
	}
	return rows.Close()
}

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
	if err := createFile(ctx, path); err != nil {
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
