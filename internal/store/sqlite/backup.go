package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// VacuumInto writes a consistent copy of the database at src to dst with
// VACUUM INTO, on a connection of its own: in WAL mode it reads one
// snapshot while a running daemon keeps writing, and never blocks it. dst
// must not exist, or be an empty file (the caller creates it with the mode
// it wants). src is opened as it is: no migration, no integrity check (the
// copy is checked instead, see OpenSnapshot), so a store newer than this
// binary can still be backed up.
func VacuumInto(ctx context.Context, src, dst string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", src, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite: backup %s: no store there (check store.path, or run serve once to create it)", abs)
	case err != nil:
		return fmt.Errorf("sqlite: backup %s: %w", abs, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("sqlite: backup %s: not a regular file", abs)
	case fi.Size() == 0:
		return fmt.Errorf("sqlite: backup %s: %w", abs, ErrEmptyFile)
	}
	db, err := sql.Open("sqlite", readDSN(abs, false))
	if err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("sqlite: backup %s into %s: %w", abs, dst, describe(err))
	}
	return nil
}

// readDSN is the URI of a connection that reads path and never changes
// it: no journal_mode pragma (switching to WAL is a write), query_only,
// and with readOnly the file opened read-only as well (mode=ro).
func readDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	if readOnly {
		q.Add("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	}
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Snapshot is a database file opened only to read and check it: a backup
// before it is restored, or a store just restored. It never migrates or
// writes the file.
type Snapshot struct {
	*Store
}

// OpenSnapshot opens the database file at path read-only. It refuses a
// missing or empty file, and a file that is not SQLite.
func OpenSnapshot(ctx context.Context, path string) (*Snapshot, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("sqlite: open %s: not a regular file", abs)
	case fi.Size() == 0:
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, ErrEmptyFile)
	}
	db, err := sql.Open("sqlite", readDSN(abs, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, describe(err))
	}
	return &Snapshot{&Store{path: abs, r: db}}, nil
}

// IntegrityCheck runs PRAGMA integrity_check (the full check, indexes
// against tables included, unlike Open's quick_check) and returns the
// problems found, none when the file is sound.
func (s *Snapshot) IntegrityCheck(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf("PRAGMA integrity_check(%d)", maxIntegrityErrors))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: integrity check: %w", s.path, describe(err))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("sqlite %s: integrity check: %w", s.path, describe(err))
		}
		if p != "ok" {
			problems = append(problems, truncateUTF8(p, maxIntegrityText))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite %s: integrity check: %w", s.path, describe(err))
	}
	return problems, nil
}

// Counts are the rows a snapshot holds, for a summary people can compare
// with what they expect.
type Counts struct {
	Alerts          int64 `json:"alerts"`
	Incidents       int64 `json:"incidents"`
	EvidenceEntries int64 `json:"evidence_entries"`
	PendingOutbox   int64 `json:"pending_notifications"`
}

// Counts counts alerts, incidents, evidence log entries and deliveries
// still to be sent. A table an older schema lacks counts 0.
func (s *Snapshot) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	for _, q := range []struct {
		dst   *int64
		table string
		where string
	}{
		{&c.Alerts, "alerts", ""},
		{&c.Incidents, "incidents", ""},
		{&c.EvidenceEntries, "evidence_log", ""},
		{&c.PendingOutbox, "outbox", " WHERE delivered IS NULL AND dead_at IS NULL"},
	} {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, q.table).Scan(&n); err != nil {
			return c, fmt.Errorf("sqlite %s: %w", s.path, describe(err))
		}
		if n == 0 {
			continue
		}
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+q.table+q.where).Scan(q.dst); err != nil {
			return c, fmt.Errorf("sqlite %s: counting %s: %w", s.path, q.table, describe(err))
		}
	}
	return c, nil
}

// SchemaVersion is the newest migration the file records (0 for a file
// that records none).
func (s *Snapshot) SchemaVersion(ctx context.Context) (int, error) {
	ok, err := s.HasSchema(ctx)
	if err != nil || !ok {
		return 0, err
	}
	return s.Store.SchemaVersion(ctx)
}

// HasSchema reports whether the file is a breakglass store at all (it
// records its migrations).
func (s *Snapshot) HasSchema(ctx context.Context) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite %s: %w", s.path, describe(err))
	}
	return n > 0, nil
}
