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
	// SQLITE_BUSY.
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

// Open opens the store at path, creating the file and its parent directory
// when missing, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	// Open builds the URI itself, and a private in-memory database per pooled
	// connection would lose writes between them.
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: path must name a file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	s := &Store{path: abs}
	if s.w, err = sql.Open("sqlite", dsn(abs, "_txlock=immediate")); err != nil {
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

// createFile makes the parent directory and an empty database file, both
// private to the owner: the evidence is sign-in and audit records of the
// tenant's most privileged accounts. SQLite gives its -wal and -shm files the
// mode of the database file, so they inherit this.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	return f.Close()
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

func (s *Store) init(ctx context.Context) error {
	// The first connection creates the file's header and switches it to WAL;
	// a file that is not SQLite fails here.
	if err := s.w.PingContext(ctx); err != nil {
		return err
	}
	// journal_mode quietly stays put where WAL is impossible (some network
	// filesystems). The locking and durability reasoning in this package
	// assumes WAL, so refuse rather than run on different guarantees.
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a filesystem without shared memory?)", mode)
	}
	if err := migrate(ctx, s.w); err != nil {
		return err
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
