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

// CreateAtVersion creates the database at path with only the migrations up
// to version applied, as a breakglass that knew no later ones would have
// left it, so tests can open it with the current code and watch it upgrade.
func CreateAtVersion(ctx context.Context, path string, version int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if version < 1 || version > ms[len(ms)-1].version {
		return fmt.Errorf("version %d outside 1..%d", version, ms[len(ms)-1].version)
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
	var upTo []migration
	for _, m := range ms {
		if m.version <= version {
			upTo = append(upTo, m)
		}
	}
	if err := migrateTo(ctx, db, upTo); err != nil {
		return err
	}
	return db.Close()
}

// MigrationVersions lists the embedded migrations' versions, in order.
func MigrationVersions() []int {
	ms, _ := migrations()
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.version)
	}
	return vs
}
