package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Inspect reads which migrations the database at path has applied,
// without migrating it, creating it or writing to it: doctor reports a
// store that is behind (or ahead of) this binary instead of upgrading it
// behind the operator's back. applied is sorted; known is the embedded
// migration versions, sorted. A missing file is fs.ErrNotExist; a
// database without schema_migrations has applied nothing.
func Inspect(ctx context.Context, path string) (applied, known []int, err error) {
	known = KnownMigrations()
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, known, fmt.Errorf("sqlite: inspect %q: path must name a file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, known, fmt.Errorf("sqlite: inspect %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, known, fmt.Errorf("sqlite: inspect %s: %w", abs, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, known, fmt.Errorf("sqlite: inspect %s: not a regular file", abs)
	}
	if fi.Size() == 0 {
		return nil, known, fmt.Errorf("sqlite: inspect %s: %w", abs, ErrEmptyFile)
	}
	// mode=ro: SQLite opens the file read-only, so nothing here can
	// change it; query_only guards the connection as well.
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "query_only(1)")
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, known, fmt.Errorf("sqlite: inspect %s: %w", abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, known, fmt.Errorf("sqlite: inspect %s: %w", abs, describe(err))
	}
	if n == 0 {
		return nil, known, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, known, fmt.Errorf("sqlite: inspect %s: read applied migrations: %w", abs, describe(err))
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, known, fmt.Errorf("sqlite: inspect %s: read applied migrations: %w", abs, err)
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		return nil, known, fmt.Errorf("sqlite: inspect %s: read applied migrations: %w", abs, err)
	}
	return applied, known, nil
}

// KnownMigrations lists the versions of the migrations this binary
// carries, sorted (nil if the embedded set does not parse, which every
// test of this package would catch).
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
