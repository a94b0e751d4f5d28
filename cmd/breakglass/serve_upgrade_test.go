package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"breakglass/internal/simulate"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/sqlite"
)

// runServeBriefly runs serve until it exits by itself or stop says so
// (then SIGTERM), and returns its exit code and logs.
func runServeBriefly(t *testing.T, cfg string, env []string, ready func() bool) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), env...)
	var logs syncLog
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-done:
			return cmd.ProcessState.ExitCode(), logs.String()
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("serve neither became ready nor exited; logs:\n%s", logs.String())
		case <-time.After(20 * time.Millisecond):
			if ready != nil && ready() {
				cmd.Process.Signal(syscall.SIGTERM)
				<-done
				return cmd.ProcessState.ExitCode(), logs.String()
			}
		}
	}
}

func sqliteRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: "_pragma=busy_timeout(10000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestServeUpgrade: serve migrates an older store forward by itself, and
// refuses a store a newer breakglass wrote, saying which version can open
// it and how to get back (SQLite and PostgreSQL), without touching it.
func TestServeUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	latest := sqlite.LatestSchemaVersion()
	wantText := fmt.Sprintf("database schema version %d is newer than this breakglass supports (%d): the store was written by a newer breakglass; "+
		"upgrade breakglass to that version (or newer), or restore a backup made by this version (breakglass store restore --from FILE)", latest+3, latest)

	t.Run("sqlite older store migrates forward", func(t *testing.T) {
		rcv := newReceiver(t)
		d := newDaemon(t, rcv.srv.URL, simulate.DemoAccounts(), "")
		db := filepath.Join(d.dir, "bg.db")
		st, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		// What the breakglass before migration 0009 left: no auth tables,
		// and none of the later ones (leases, tenant roles, posture reports).
		raw := sqliteRaw(t, db)
		for _, q := range []string{`DROP TABLE auth_audit`, `DROP TABLE auth_sessions`, `DROP TABLE auth_tokens`, `DROP TABLE auth_users`,
			`DROP TABLE leases`, `DROP TABLE posture_reports`, `DELETE FROM schema_migrations WHERE version >= 9`} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		raw.Close()
		code, logs := runServeBriefly(t, d.cfg, []string{"E2E_TOKEN=" + d.token}, func() bool { return d.waitReady(t, 25*time.Millisecond) })
		if code != 0 {
			t.Fatalf("serve on an older store: exit %d\n%s", code, logs)
		}
		snap, err := sqlite.OpenSnapshot(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		if v, err := snap.SchemaVersion(context.Background()); err != nil || v != latest {
			t.Errorf("schema version after serve: %d, %v; want %d", v, err, latest)
		}
	})

	t.Run("sqlite newer store refused", func(t *testing.T) {
		rcv := newReceiver(t)
		d := newDaemon(t, rcv.srv.URL, simulate.DemoAccounts(), "")
		db := filepath.Join(d.dir, "bg.db")
		st, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		raw := sqliteRaw(t, db)
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, '2099-01-01T00:00:00Z')`, latest+3); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		before, _ := os.ReadFile(db)
		code, logs := runServeBriefly(t, d.cfg, []string{"E2E_TOKEN=" + d.token}, nil)
		t.Logf("serve: exit %d\n%s", code, logs)
		if code != 1 || !strings.Contains(logs, wantText) || !strings.Contains(logs, db) {
			t.Errorf("serve on a newer store: exit %d, want 1 naming %s and saying %q", code, db, wantText)
		}
		if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
			t.Error("serve changed the newer store")
		}
	})

	t.Run("postgres newer store refused", func(t *testing.T) {
		srv := pgtest.StartT(t)
		dsn, err := srv.Schema(t.Name())
		if err != nil {
			t.Fatal(err)
		}
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		raw, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 'later')`, latest+3); err != nil {
			t.Fatal(err)
		}
		const pw = "e2e-pg-upgrade-password"
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("accounts:\n  - upn: bg@contoso.com\nstore:\n  driver: postgres\n  dsn: ${E2E_PG_DSN}\nevidence:\n  heads_file: %s\nserver:\n  listen: %s\n",
			filepath.Join(dir, "heads"), freeAddr(t))), 0o600)
		code, logs := runServeBriefly(t, cfg, []string{"E2E_PG_DSN=" + dsn + " password=" + pw}, nil)
		t.Logf("serve: exit %d\n%s", code, logs)
		if code != 1 || !strings.Contains(logs, wantText) {
			t.Errorf("serve on a newer PostgreSQL store: exit %d, want 1 saying %q", code, wantText)
		}
		if strings.Contains(logs, pw) {
			t.Error("the DSN's password was printed")
		}
		var n int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, latest+3).Scan(&n); err != nil || n != 1 {
			t.Errorf("the newer version row: %d, %v", n, err)
		}
	})
}
