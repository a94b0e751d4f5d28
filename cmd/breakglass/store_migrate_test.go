package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/migrate"
	"breakglass/internal/store/postgres/pgtest"
)

// TestStoreMigratePostgres moves an SQLite installation (incidentFixture:
// a reviewed incident, delivered, dead and pending notifications) to
// PostgreSQL with the binary, then runs every command that reads the
// store against the PostgreSQL configuration. The DSN, with its password,
// never shows in any output.
func TestStoreMigratePostgres(t *testing.T) {
	srv := pgtest.StartT(t)
	dsn, err := srv.Schema(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	// The trust cluster ignores the password; it is here to be looked for.
	const pw = "migrate-pg-password-not-shown"
	dsnPW := dsn + " password=" + pw
	st, id := incidentFixture(t)
	path := st.Path()
	alerts, err := st.Alerts(t.Context(), store.AlertFilter{})
	if err != nil || len(alerts) != 3 {
		t.Fatalf("fixture alerts: %d, %v", len(alerts), err)
	}
	st.Close()
	dir := t.TempDir()
	env := []string{"BREAKGLASS_CONFIG=", "BREAKGLASS_STORE_DSN=" + dsnPW}
	noSecret := func(what string, r result) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, pw) || strings.Contains(r.stdout+r.stderr, srv.DSN()) {
			t.Errorf("%s shows the DSN:\n%s%s", what, r.stdout, r.stderr)
		}
	}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no --to", env, []string{"--from", "sqlite:" + path}, exitUsage, "--to is required"},
		{"no DSN", []string{"BREAKGLASS_STORE_DSN="}, []string{"--from", "sqlite:" + path, "--to", "postgres:"}, exitUsage, "BREAKGLASS_STORE_DSN"},
		{"missing source", env, []string{"--from", "sqlite:" + filepath.Join(dir, "nope.db"), "--to", "postgres:"}, exitUsage, "no such file"},
		{"unknown driver", env, []string{"--from", "mysql:x", "--to", "postgres:"}, exitUsage, `unknown driver "mysql"`},
		{"bad DSN file", env, []string{"--from", "sqlite:" + path, "--to", "postgres:", "--to-dsn-file", filepath.Join(dir, "nope")}, exitUsage, "--to-dsn-file"},
		{"plaintext remote", env, []string{"--from", "sqlite:" + path, "--to", "postgres://u:" + pw + "@db.example.com/x"}, exitUsage, "sslmode=verify-full"},
		{"bad format", env, []string{"--from", "sqlite:" + path, "--to", "postgres:", "--format", "xml"}, exitUsage, "--format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, tc.env, append([]string{"store", "migrate"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			noSecret(tc.name, r)
		})
	}

	r := runBinary(t, env, "store", "migrate", "--from", "sqlite:"+path, "--to", "postgres:", "--format", "json")
	noSecret("migrate", r)
	if r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep migrateReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("migrate JSON: %v\n%s", err, r.stdout)
	}
	rows := map[string]int64{}
	for _, tc := range rep.Tables {
		rows[tc.Table] = tc.Rows
	}
	if !rep.OK || rows["alerts"] != 3 || rows["outbox"] != 6 || rows["incidents"] != 1 || rep.Evidence.Entries == 0 || rep.Evidence.Entries != rows["evidence_log"] {
		t.Errorf("migrate report: %+v", rep)
	}
	if !strings.Contains(r.stderr, "store migrate: [") {
		t.Errorf("no progress on stderr:\n%s", r.stderr)
	}
	// Again: the target holds data now, and is left alone.
	r = runBinary(t, env, "store", "migrate", "--from", "sqlite:"+path, "--to", "postgres:")
	noSecret("second migrate", r)
	if r.code != exitFailure || !strings.Contains(r.stderr, "not empty") || !strings.Contains(r.stderr, "DROP SCHEMA") {
		t.Errorf("second migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, env, "store", "migrate", "--from", "sqlite:"+path, "--to", "postgres:", "--format", "json")
	var fail migrateReport
	if err := json.Unmarshal([]byte(r.stdout), &fail); err != nil || r.code != exitFailure || fail.OK || !strings.Contains(fail.Error, "not empty") || len(fail.Tables) != 0 {
		t.Errorf("second migrate, json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}

	cfg := filepath.Join(dir, "pg.yaml")
	text := "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\n    upn: bg-admin1@contoso.onmicrosoft.com\n" +
		"store:\n  driver: postgres\n  dsn: ${BREAKGLASS_STORE_DSN}\nevidence:\n  heads_file: " + filepath.Join(dir, "heads") + "\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(dir, "inc.zip")
	// Every command that reads the store, once, on PostgreSQL.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"alerts", "list"}, 0, "Break-glass account sign-in"},
		{[]string{"alerts", "show", alerts[0].ID}, 0, "oncall/"},
		{[]string{"alerts", "ack", alerts[2].ID, "--by", "dana"}, 0, ""},
		{[]string{"incidents", "list"}, 0, id},
		{[]string{"incidents", "show", id}, 0, "INC-4711"},
		{[]string{"incidents", "ack", id, "--by", "dana"}, 0, ""},
		{[]string{"incidents", "review", id, "--as", "emergency", "--by", "carol", "--note", "again, after the move"}, 0, ""},
		{[]string{"incidents", "close", id, "--by", "carol"}, 0, ""},
		{[]string{"incidents", "export", id, "--out", zip}, 0, ""},
		{[]string{"incidents", "report", id}, 0, id},
		{[]string{"incidents", "prune", "--exported", "--dry-run"}, 0, ""},
		{[]string{"evidence", "verify"}, 0, "OK"},
		{[]string{"evidence", "head"}, 0, ""},
		{[]string{"drill", "plan", "--account", "bg-admin1@contoso.onmicrosoft.com", "--by", "alice"}, 0, ""},
		{[]string{"drill", "status"}, 1, "bg-admin1@contoso.onmicrosoft.com"},
		{[]string{"accounts", "status"}, 0, "bg-admin1@contoso.onmicrosoft.com"},
		{[]string{"query", "--store", "SigninLogs | count"}, 0, "0"},
		{[]string{"evidence", "verify", "--incident", id}, 0, "OK"},
	} {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			r := runBinary(t, env, append(tc.args, "-c", cfg)...)
			noSecret(strings.Join(tc.args, " "), r)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("%v: exit %d, want %d with %q:\n%s%s", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
	if _, err := os.Stat(zip); err != nil {
		t.Errorf("export wrote no bundle: %v", err)
	}

	// Prune the exported incident on PostgreSQL: its entries lose their
	// content, the chain still verifies, and so it does after the way back.
	if r := runBinary(t, env, "incidents", "prune", "--exported", "-c", cfg); r.code != 0 {
		t.Fatalf("incidents prune: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, env, "evidence", "verify", "-c", cfg); r.code != 0 || !strings.Contains(r.stdout, "pruned:") {
		t.Errorf("evidence verify after the prune: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The way back, into a new SQLite file. A heads file with a head the
	// log does not hold fails the copy, and the new file is removed.
	back := filepath.Join(dir, "back.db")
	heads := filepath.Join(dir, "foreign.heads")
	if err := os.WriteFile(heads, []byte(`{"seq":1,"hash":"`+strings.Repeat("0", 64)+`","at":"2026-03-14T00:00:00Z"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, env, "store", "migrate", "--from", "postgres:", "--to", "sqlite:"+back, "--heads-file", heads)
	noSecret("migrate back, foreign head", r)
	if r.code != exitFailure || !strings.Contains(r.stderr, "evidence log") {
		t.Errorf("migrate back against a foreign head: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(back); !os.IsNotExist(err) {
		t.Errorf("a failed migrate left %s behind: %v", back, err)
	}
	r = runBinary(t, env, "store", "migrate", "--from", "postgres:", "--to", "sqlite:"+back)
	noSecret("migrate back", r)
	if r.code != 0 || !strings.Contains(r.stdout, "store.path: "+back) {
		t.Fatalf("migrate back: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	backCfg := filepath.Join(dir, "back.yaml")
	if err := os.WriteFile(backCfg, []byte("accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\nstore:\n  path: "+back+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, env, "evidence", "verify", "-c", backCfg); r.code != 0 || !strings.Contains(r.stdout, "pruned:") {
		t.Errorf("evidence verify after the way back: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, env, "incidents", "show", id, "-c", backCfg); r.code != 0 || !strings.Contains(strings.ToLower(r.stdout), "pruned") {
		t.Errorf("incidents show after the way back: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Both sides the same backend: not a move.
	if r := runBinary(t, env, "store", "migrate", "--from", "sqlite:"+path, "--to", "sqlite:"+back); r.code != exitUsage {
		t.Errorf("sqlite to sqlite: exit %d\n%s", r.code, r.stderr)
	}
}

// TestStoreMigrateOutputGolden: the table migrate prints, done and not
// verified, and its JSON.
func TestStoreMigrateOutputGolden(t *testing.T) {
	rep := migrateReport{OK: true, From: "sqlite data/breakglass.db", To: "postgres ($BREAKGLASS_STORE_DSN)", SchemaVersion: 10,
		Tables:  []migrate.TableCount{{Table: "evidence", Rows: 1200}, {Table: "alerts", Rows: 1234}, {Table: "evidence_log", Rows: 5210}},
		Derived: []string{"alert_labels"}, Rows: 7644, Elapsed: migrate.Duration(1500 * time.Millisecond),
		Evidence:  migrate.Chain{Entries: 5210, Head: "5210:9f2c", Pruned: 40, HeadsChecked: 12},
		HeadsFile: "data/breakglass.db.heads"}
	var b strings.Builder
	for _, format := range []string{"table", "json"} {
		if err := printMigrate(&b, format, rep); err != nil {
			t.Fatal(err)
		}
	}
	bad := rep
	bad.OK, bad.Error, bad.HeadsFile, bad.Warnings = false, "the evidence log of the target differs from the source's: entry 7", "", []string{"no published heads"}
	if err := printMigrate(&b, "table", bad); err != nil {
		t.Fatal(err)
	}
	golden(t, "store_migrate.golden", b.String())
}
