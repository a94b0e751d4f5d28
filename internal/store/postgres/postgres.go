package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"breakglass/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store backed by a PostgreSQL database. It is safe for
// concurrent use, and any number of Stores, in one process or many, may
// share a database.
type Store struct {
	db *sql.DB

	closeOnce sync.Once
	closeErr  error
}

// maxConns bounds one Store's connections: a replica's writers are the
// watchers, the dispatcher and the HTTP API, and PostgreSQL's default
// max_connections (100) is shared by every replica.
const maxConns = 10

// ErrDSN is wrapped by Open's error for a DSN that does not parse. Its text
// never quotes the DSN, which holds the password.
var ErrDSN = errors.New("store.dsn is not a valid PostgreSQL connection string")

// Open connects to the database dsn names (a postgres:// URL or key=value
// pairs, as libpq takes them) and brings its schema up to date, under an
// advisory lock so that replicas starting together migrate once. The
// schema is created in the connection's search_path (set it in the DSN,
// e.g. options=-csearch_path=breakglass, to keep breakglass apart).
//
// Open refuses, with an error that says what to do, a database it cannot
// write (store.ErrReadOnly: a hot standby, say) and a schema newer than this
// binary knows (SchemaTooNewError).
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	sessionDefaults(cfg)
	s := &Store{db: stdlib.OpenDB(*cfg)}
	s.db.SetMaxOpenConns(maxConns)
	s.db.SetMaxIdleConns(maxConns)
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.init(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	return s, nil
}

// CheckDSN reports what Open would refuse in dsn before connecting: a
// DSN that does not parse (ErrDSN) or that allows plaintext to a remote
// server (ErrPlaintext). Config validation calls it, so config check
// catches both. Its errors never quote the DSN.
func CheckDSN(dsn string) error {
	_, err := parseDSN(dsn)
	return err
}

func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx quotes the DSN (with the password masked, but the rest is
		// secret too); say only what to check.
		return nil, fmt.Errorf("%w (use postgres://user@host:5432/db?sslmode=verify-full or host=... user=... dbname=...)", ErrDSN)
	}
	if err := checkTLS(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ErrPlaintext is wrapped by Open's error for a DSN that lets the
// connection to a remote server go unencrypted.
var ErrPlaintext = errors.New("store.dsn allows an unencrypted connection")

// checkTLS refuses a DSN under which the connection to a server other than
// a Unix socket or loopback may be plaintext: sslmode disable, allow, or
// prefer, which is libpq's default when sslmode is not given, and falls
// back to plaintext without a word. Whoever sits on that path could read
// the records and drop the alerts.
func checkTLS(cfg *pgx.ConnConfig) error {
	plain := func(host string, tls bool) bool {
		return !tls && !strings.HasPrefix(host, "/") && !isLoopback(host)
	}
	hosts := []string{}
	if plain(cfg.Host, cfg.TLSConfig != nil) {
		hosts = append(hosts, cfg.Host)
	}
	for _, fb := range cfg.Fallbacks {
		if plain(fb.Host, fb.TLSConfig != nil) && !slices.Contains(hosts, fb.Host) {
			hosts = append(hosts, fb.Host)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	// Host names are named: they say which server, and hold no secret.
	return fmt.Errorf("%w to %s: set sslmode=verify-full in store.dsn (sslmode=prefer, the default, "+
		"falls back to plaintext, and disable and allow permit it)", ErrPlaintext, strings.Join(hosts, ", "))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Session defaults, each applied only when the DSN does not set it.
const (
	// defaultConnectTimeout bounds a connection attempt: without it an
	// unreachable host holds Open (and the daemon's start) for as long as
	// the kernel retries TCP.
	defaultConnectTimeout = 10 * time.Second
	// idleInTxTimeout ends a transaction left open by a replica that froze
	// (stopped, not killed, so its socket stays up) while holding a row or
	// advisory lock others wait for; the server rolls it back.
	idleInTxTimeout = "60s"
)

func sessionDefaults(cfg *pgx.ConnConfig) {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range map[string]string{
		"application_name":                    "breakglass",
		"idle_in_transaction_session_timeout": idleInTxTimeout,
	} {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
}

// where names the database for errors without its credentials.
func where(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("database %q on %s:%d as %q", cfg.Database, cfg.Host, cfg.Port, cfg.User)
}

func (s *Store) init(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", describe(err))
	}
	if err := migrate(ctx, s.db); err != nil {
		return describe(err)
	}
	// A store that cannot take an alert must not start as if it could.
	return s.heartbeat(ctx)
}

// Close closes the store. Calling it again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("postgres: close: %w", err)
		}
	})
	return s.closeErr
}

// conn runs queries on the pool or in a transaction, escaping every string
// argument (see text.go). Every query of this package goes through one.
type conn struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (c conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, q, escapeArgs(args)...)
}

func (c conn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, q, escapeArgs(args)...)
}

func (c conn) row(ctx context.Context, q string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, q, escapeArgs(args)...)
}

// affected is exec's count of changed rows.
func (c conn) affected(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// read is the pool, for reads outside a transaction.
func (s *Store) read() conn { return conn{s.db} }

// maxRetries bounds how often write runs a transaction again that
// PostgreSQL aborted to resolve a deadlock or serialisation conflict
// between replicas; both are transient and a retry succeeds.
const maxRetries = 5

// write runs fn in a transaction and commits it unless fn fails. fn must
// only touch the database (and reset what it returns), because a
// transaction PostgreSQL aborted for a deadlock or serialisation failure is
// run again.
func (s *Store) write(ctx context.Context, fn func(c conn) error) error {
	for attempt := 0; ; attempt++ {
		err := s.tx(ctx, nil, fn)
		if err == nil {
			return nil
		}
		if attempt < maxRetries && transient(err) {
			// A short, growing pause lets the other transaction finish.
			t := time.NewTimer(time.Duration(attempt+1) * 5 * time.Millisecond)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
			}
		}
		return describe(err)
	}
}

func (s *Store) tx(ctx context.Context, opts *sql.TxOptions, fn func(c conn) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(conn{tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// snapshot runs fn in a read-only transaction that sees one snapshot, for
// reads that must agree with each other (an alert and its deliveries).
func (s *Store) snapshot(ctx context.Context, fn func(c conn) error) error {
	return describe(s.tx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn))
}

// SQLSTATEs the store tells apart.
const (
	codeUnique        = "23505"
	codeSerialization = "40001"
	codeDeadlock      = "40P01"
	codeReadOnly      = "25006" // read_only_sql_transaction: a hot standby, default_transaction_read_only
	codeDiskFull      = "53100"
	codeOutOfMemory   = "53200"
	codeDataCorrupted = "XX001"
	codeIndexCorrupt  = "XX002"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func transient(err error) bool {
	c := pgCode(err)
	return c == codeSerialization || c == codeDeadlock
}

// causeError carries a store cause (store.ErrReadOnly, ...) beside the
// server's error, so errors.Is finds the cause and the text keeps
// PostgreSQL's own words.
type causeError struct {
	cause error
	hint  string
	err   error
}

func (e *causeError) Error() string {
	return fmt.Sprintf("%v (%s): %v", e.cause, e.hint, e.err)
}

func (e *causeError) Unwrap() []error { return []error{e.cause, e.err} }

// describe names the cause of a failure that means the database cannot take
// writes; other errors come back unchanged.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var ce *causeError
	if errors.As(err, &ce) {
		return err
	}
	switch pgCode(err) {
	case codeReadOnly:
		return &causeError{store.ErrReadOnly, "the database takes no writes: point store.dsn at the primary, not a standby, " +
			"and check default_transaction_read_only", err}
	case codeDiskFull, codeOutOfMemory:
		return &causeError{store.ErrFull, "free space on the database server", err}
	case codeDataCorrupted, codeIndexCorrupt:
		return &causeError{store.ErrCorrupt, "restore the database from a backup, or REINDEX a corrupted index", err}
	}
	return err
}
