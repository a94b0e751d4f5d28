package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"breakglass/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// SchemaTooNewError reports a database migrated by a newer breakglass. Its
// tables may mean things this binary does not know, so it is not opened.
type SchemaTooNewError struct {
	Database int // version recorded in the database
	Known    int // newest version this binary has
}

func (e *SchemaTooNewError) Error() string {
	return store.SchemaTooNewMessage(e.Database, e.Known)
}

// migrations parses the embedded files once. Versions must increase; they
// may leave gaps, because parallel branches reserve their numbers ahead (a
// branch may carry 0009 before 0007 and 0008 are merged). migrateTo
// therefore applies every embedded version the database has not recorded,
// not just those above its highest.
var migrations = sync.OnceValues(func() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name, and names are zero-padded
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		if v < 1 || (len(ms) > 0 && v <= ms[len(ms)-1].version) {
			return nil, fmt.Errorf("migration %s: version %d does not increase on the one before", e.Name(), v)
		}
		b, err := fs.ReadFile(migrationFS, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
})

// LatestSchemaVersion is the schema version this binary migrates databases to.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the pending migrations on w. Each runs in its own
// BEGIN IMMEDIATE transaction and re-checks whether it is still pending once
// it holds the write lock, so two processes opening a fresh file at the same
// time apply every migration exactly once.
func migrate(ctx context.Context, w *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return migrateTo(ctx, w, ms)
}

// migrateTo applies ms, which tests cut short to build the database an older
// breakglass would have left behind.
func migrateTo(ctx context.Context, w *sql.DB, ms []migration) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := schemaVersion(ctx, w)
	if err != nil {
		return err
	}
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	if current > known {
		return &SchemaTooNewError{Database: current, Known: known}
	}
	// apply skips a version already recorded, so a database migrated by a
	// build that had a later version but not an earlier one gets the
	// earlier one now.
	done, err := appliedVersions(ctx, w)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if err := apply(ctx, w, m); err != nil {
			return err
		}
	}
	return nil
}

// appliedVersions is the set of versions schema_migrations records.
func appliedVersions(ctx context.Context, w *sql.DB) (map[int]bool, error) {
	rows, err := w.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return done, nil
}

func apply(ctx context.Context, w *sql.DB, m migration) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: check: %w", m.name, err)
	}
	if n > 0 {
		return nil // another process got there first
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion returns the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.r)
	if err != nil {
		return 0, fmt.Errorf("sqlite %s: %w", s.path, err)
	}
	return v, nil
}
