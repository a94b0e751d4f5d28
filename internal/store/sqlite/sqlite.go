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
	"runtime"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"breakglass/internal/store"
)

// busyTimeoutMS bounds how long a write waits for another process's write
// transaction. A scan commits thousands of alerts in well under a second, so
// ten seconds only runs out if the other side is stuck.
const busyTimeoutMS = 10000

// Store is a store.Store backed by one SQLite file. It is safe for concurrent
// use, and several Stores (in one process or several) may share a file.
type Store struct {
	path string
	// w has exactly one connection: SQLite allows one writer at a time, and
	// queueing in database/sql is cheaper and fairer than queueing on
	// SQLITE_BUSY. Update holds it for the whole unit of work.
	w *sql.DB
	// r is a pool of query_only connections; in WAL mode they read a
	// consistent snapshot while w writes.
	r *sql.DB

	// Prepared once on w's only connection, so AddAlert does not compile
	// SQL on every call while holding the write lock.
	insEvidence, insAlert, insOutbox *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

// ErrEmptyFile is wrapped by Open's error for a zero-length database file.
var ErrEmptyFile = errors.New("database file is empty")

// Open opens the store at path, and brings its schema up to date. Only when
// no file exists at path does it create one (and its parent directory).
//
// Open refuses, with an error that says what to do:
//   - a zero-length file (ErrEmptyFile): starting fresh in its place would
//     lose every checkpoint and the record of what was notified, so inputs
//     would be read and alerts sent again;
//   - a file that fails SQLite's integrity check (store.ErrCorrupt);
//   - a database it cannot write (store.ErrReadOnly, store.ErrFull);
//   - a schema newer than this binary knows (SchemaTooNewError).
//
// The integrity check reads the whole file, so opening a large store takes
// a moment.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, nil)
}

// open is Open with extra pragmas for the writer, which tests use to make
// the database read-only to an open handle.
func open(ctx context.Context, path string, writerPragmas []string) (*Store, error) {
	// Open builds the URI itself, and a private in-memory database per pooled
	// connection would lose writes between them.
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: path must name a file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := createFile(ctx, abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	s := &Store{path: abs}
	extra := []string{"_txlock=immediate"}
	for _, p := range writerPragmas {
		extra = append(extra, "_pragma="+url.QueryEscape(p))
	}
	if s.w, err = sql.Open("sqlite", dsn(abs, extra...)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)

	if s.r, err = sql.Open("sqlite", dsn(abs, "_pragma=query_only(1)")); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)

	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	return s, nil
}

// createFile makes the database file if none exists, and refuses an empty
// one. The directory and file are private to the owner: the evidence is
// sign-in and audit records of the tenant's most privileged accounts, and
// SQLite gives its -wal and -shm files the mode of the database file.
//
// A new database is initialised under a temporary name and then linked into
// place, so the path never names an empty file: an empty file there means
// something else emptied it, never that a breakglass is creating it.
func createFile(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if fi.Mode().IsRegular() && fi.Size() == 0 {
			return fmt.Errorf("%w: it may have been truncated, and starting a fresh database in its place "+
				"would lose every checkpoint (inputs would be read again) and the record of what was notified "+
				"(alerts would be sent again); restore it from a backup, or delete the file to start fresh knowingly",
				ErrEmptyFile)
		}
		return nil // SQLite reports a directory or a non-database itself
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath)
	if err := initFile(ctx, tmpPath); err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	err = os.Link(tmpPath, path)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil // created, or another process was first: open theirs
	}
	// No hard links on this filesystem: create exclusively and copy the
	// header in. Another process could see the file empty only in between.
	b, rerr := os.ReadFile(tmpPath)
	if rerr != nil {
		return fmt.Errorf("create file: %w", rerr)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("create file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("create file: %w", err)
	}
	return f.Close()
}

// initFile writes an SQLite header in WAL mode to the empty file at path.
func initFile(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	return db.Close() // the last close checkpoints and removes the -wal file
}

// dsn builds a URI so any path, including one with '?' or '#', names the
// file, and so the pragmas apply to every connection the pool opens, not just
// the first.
func dsn(path string, extra ...string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(wal)")
	q.Add("_pragma", "synchronous(full)")
	raw := q.Encode()
	for _, e := range extra {
		raw += "&" + e
	}
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: raw}
	return u.String()
}

// maxIntegrityErrors bounds what quick_check reports: the first few
// problems say enough, and a badly damaged file can have millions.
const maxIntegrityErrors = 10

// maxIntegrityText bounds the integrity problems quoted in Open's error.
const maxIntegrityText = 600

func (s *Store) init(ctx context.Context) error {
	// The first connection reads the header; a file that is not SQLite
	// fails here.
	if err := s.w.PingContext(ctx); err != nil {
		return describe(err)
	}
	if err := s.integrity(ctx); err != nil {
		return err
	}
	// journal_mode quietly stays put where WAL is impossible (some network
	// filesystems). The locking and durability reasoning in this package
	// assumes WAL, so refuse rather than run on different guarantees.
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", describe(err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a filesystem without shared memory?)", mode)
	}
	if err := migrate(ctx, s.w); err != nil {
		return describe(err)
	}
	var err error
	if s.insEvidence, err = s.w.PrepareContext(ctx, insertEvidenceSQL); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if s.insAlert, err = s.w.PrepareContext(ctx, insertAlertSQL); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if s.insOutbox, err = s.w.PrepareContext(ctx, insertOutboxSQL); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("open reader: %w", err)
	}
	// A store that cannot take an alert must not start as if it could.
	if err := s.heartbeat(ctx); err != nil {
		return err
	}
	return nil
}

// integrity runs PRAGMA quick_check, which checks the structure of every
// page (not index contents against tables, which integrity_check adds at
// several times the cost).
func (s *Store) integrity(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, fmt.Sprintf("PRAGMA quick_check(%d)", maxIntegrityErrors))
	if err != nil {
		return fmt.Errorf("integrity check: %w", describe(err))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return fmt.Errorf("integrity check: %w", describe(err))
		}
		if p != "ok" {
			problems = append(problems, p)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", describe(err))
	}
	if len(problems) > 0 {
		// One row may hold many lines; the first few say enough.
		found := strings.Join(strings.Fields(strings.Join(problems, " ")), " ")
		return &causeError{store.ErrCorrupt, corruptHint,
			fmt.Errorf("integrity check found: %s", truncateUTF8(found, maxIntegrityText))}
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the store. Calling it again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, st := range []*sql.Stmt{s.insEvidence, s.insAlert, s.insOutbox} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		// The writer goes last: when the last connection to a WAL database
		// closes, SQLite checkpoints and removes the -wal file.
		if s.w != nil {
			errs = append(errs, s.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}
