package postgres

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

// Migrations are migrations/NNNN_description.sql, numbered as SQLite's are
// (internal/store/sqlite/migrations): the same number means the same schema
// change on both backends, so adding one to SQLite means adding its
// PostgreSQL twin here under the same number. Each runs in its own
// transaction and is recorded in schema_migrations.
//
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
// may leave gaps, as SQLite's may (parallel branches reserve their numbers
// ahead), so migrateTo applies every embedded version the database has not
// recorded, not just those above its highest.
var migrations = sync.OnceValues(func() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries { // sorted by name, and names are zero-padded
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

// Advisory lock keys: (lockClass, object) pairs of pg_advisory_lock's
// two-int form, so breakglass's locks never collide with an application
// that shares the database and uses the one-bigint form.
const (
	lockClass    = 0x62676c73 // "bgls"
	lockMigrate  = 1
	lockLog      = 2
	lockPrune    = 3
	lockIncident = 4 // the incident grouping of a key: (lockClass+lockIncident, hashtext(key))
)

func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return migrateTo(ctx, db, ms)
}

// migrateTo applies ms on one session that holds the migration advisory
// lock throughout: a second replica waits on the lock, then finds every
// migration applied and does nothing. A session lock, not a transaction
// one, so each migration keeps its own transaction and a failure leaves
// the ones before it applied.
func migrateTo(ctx context.Context, db *sql.DB, ms []migration) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, lockMigrate); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be what ended. Closing the
		// session would release the lock too, but the pool keeps it open.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.ExecContext(uctx, `SELECT pg_advisory_unlock($1, $2)`, lockClass, lockMigrate)
	}()
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT COLLATE "C" NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	current, err := schemaVersion(ctx, c)
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
	done, err := appliedVersions(ctx, c)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if err := apply(ctx, c, m); err != nil {
			return err
		}
	}
	return nil
}

// appliedVersions is the set of versions schema_migrations records.
func appliedVersions(ctx context.Context, c *sql.Conn) (map[int]bool, error) {
	rows, err := c.QueryContext(ctx, `SELECT version FROM schema_migrations`)
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

func apply(ctx context.Context, c *sql.Conn, m migration) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion returns the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return v, nil
}
