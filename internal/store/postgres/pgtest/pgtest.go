// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster
// started once per test binary (initdb into a temporary directory, a Unix
// socket there and no TCP, fsync off), or an existing server named by
// BREAKGLASS_TEST_PG_DSN. Each test takes a schema of its own, so tests
// share the server without seeing each other's tables.
//
// Without PostgreSQL the tests that need it skip, saying which variable to
// set; with BREAKGLASS_PG_REQUIRED=1 (CI) they fail instead, so a CI image
// that lost its PostgreSQL cannot pass by skipping.
package pgtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Environment variables.
const (
	// EnvDSN names an existing server to use instead of starting one: a
	// role that may CREATE SCHEMA in its database.
	EnvDSN = "BREAKGLASS_TEST_PG_DSN"
	// EnvBin is the directory holding initdb, pg_ctl and postgres, when
	// they are neither in /usr/lib/postgresql/*/bin nor on PATH.
	EnvBin = "BREAKGLASS_PG_BIN"
	// EnvRequired set to 1 makes a missing PostgreSQL a test failure.
	EnvRequired = "BREAKGLASS_PG_REQUIRED"
)

// ErrUnavailable is wrapped by Start's error when there is no PostgreSQL to
// use: the tests skip.
var ErrUnavailable = errors.New("no PostgreSQL for the tests")

// Server is a PostgreSQL server for tests.
type Server struct {
	dsn  string // key=value, to the database tests use
	dir  string // the cluster's directory; "" for an existing server
	bin  string
	cred *syscall.Credential
}

// Start starts a throwaway cluster, or connects to the server EnvDSN names.
func Start() (*Server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		s := &Server{dsn: dsn}
		if err := s.ping(); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvDSN, err)
		}
		return s, nil
	}
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if s.cred, err = credential(); err != nil {
		return nil, err
	}
	// Short: a Unix socket path is limited to about 100 bytes.
	if s.dir, err = os.MkdirTemp("", "bgpg-"); err != nil {
		return nil, err
	}
	if err := s.initdb(); err != nil {
		s.Stop()
		return nil, err
	}
	s.dsn = fmt.Sprintf("host=%s user=bg dbname=postgres sslmode=disable", s.dir)
	if err := s.ping(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// findBin finds the directory of initdb, pg_ctl and postgres.
func findBin() (string, error) {
	var dirs []string
	if d := os.Getenv(EnvBin); d != "" {
		dirs = append(dirs, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { // newest version first
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	dirs = append(dirs, found...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		ok := true
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, name)); err != nil || fi.IsDir() {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: initdb, pg_ctl and postgres not found in $%s, /usr/lib/postgresql/*/bin or PATH; "+
		"install PostgreSQL (Debian: apt-get install postgresql), set %s to their directory, or set %s to a server's DSN",
		ErrUnavailable, EnvBin, EnvBin, EnvDSN)
}

// credential is who runs the cluster: initdb and postgres refuse to run as
// root, so as root the cluster runs as the postgres user (Debian's package
// creates it), else as nobody.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, fmt.Errorf("%w: running as root, and neither a postgres nor a nobody user exists to run the cluster as", ErrUnavailable)
}

func (s *Server) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *Server) initdb() error {
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	data := filepath.Join(s.dir, "data")
	if err := s.run("initdb", "-D", data, "-A", "trust", "-U", "bg", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return err
	}
	opts := strings.Join([]string{
		"-c listen_addresses=''", // no TCP: the socket in s.dir only
		"-k " + s.dir,
		"-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
		"-c max_connections=200",
	}, " ")
	return s.run("pg_ctl", "-D", data, "-w", "-t", "60", "-s", "-o", opts, "-l", filepath.Join(s.dir, "log"), "start")
}

func (s *Server) ping() error {
	db, err := sql.Open("pgx", s.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Stop stops the cluster Start started and removes it; an existing server
// is left alone.
func (s *Server) Stop() {
	if s == nil || s.dir == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil {
		s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-s", "stop")
	}
	os.RemoveAll(s.dir)
}

// DSN is the server's DSN (key=value), without a search_path.
func (s *Server) DSN() string { return s.dsn }

// Schema creates (if needed) the schema that name stands for and returns
// a DSN whose connections use it; the same name gives the same schema, so
// a test can open a store again.
func (s *Server) Schema(name string) (string, error) {
	schema := schemaName(name)
	db, err := sql.Open("pgx", s.dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE SCHEMA IF NOT EXISTS ` + schema); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	return s.dsn + " search_path=" + schema, nil
}

// schemaName is the schema a test's name stands for: a hash, so any name
// is a valid identifier.
func schemaName(name string) string {
	h := sha256.Sum256([]byte(name))
	return "t_" + hex.EncodeToString(h[:10])
}

var (
	shared   *Server
	startErr error
)

// Main is TestMain for a package whose tests use Need: it starts the
// server once, runs the tests and stops it.
func Main(m *testing.M) {
	shared, startErr = Start()
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

// Need returns the server Main started, or skips t when there is none
// (fails it when EnvRequired is 1, or when starting failed for another
// reason than PostgreSQL being absent).
func Need(t testing.TB) *Server {
	t.Helper()
	if startErr == nil && shared == nil {
		t.Fatal("pgtest.Need without pgtest.Main in TestMain")
	}
	check(t, startErr)
	return shared
}

// StartT starts a server for one test, in packages whose TestMain is not
// Main, and stops it when the test ends; it skips or fails t as Need does.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	check(t, err)
	t.Cleanup(s.Stop)
	return s
}

func check(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
		return
	case errors.Is(err, ErrUnavailable) && os.Getenv(EnvRequired) != "1":
		t.Skipf("skipping: %v", err)
	}
	t.Fatalf("PostgreSQL for the tests: %v", err)
}

// SchemaDSN is Need(t).Schema(name), failing t on error. The schema is
// dropped when t ends (after the stores t opened are closed: cleanups run
// last-registered first), so a test run again in the same process
// (go test -count=2) starts from an empty schema, not the last run's rows.
func SchemaDSN(t testing.TB, name string) string {
	t.Helper()
	srv := Need(t)
	dsn, err := srv.Schema(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.drop(name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dsn
}

// drop removes the schema name stands for, and everything in it.
func (s *Server) drop(name string) error {
	db, err := sql.Open("pgx", s.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	schema := schemaName(name)
	if _, err := db.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}
