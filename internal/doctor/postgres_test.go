package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
)

// TestPostgresStore: a PostgreSQL store left by an older breakglass is
// stale and not migrated; once serve's Open has migrated it, every store
// check passes.
func TestPostgresStore(t *testing.T) {
	srv := pgtest.StartT(t)
	dsn, err := srv.Schema(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	applyPostgresMigrations(t, dsn, 4)
	f := newFixture(t)
	f.storeYAML = "store:\n  driver: postgres\n  dsn: \"" + dsn + "\"\nevidence:\n  heads_file: " + filepath.Join(f.dir, "heads") + "\n"
	rep := f.run(false)
	r := find(t, rep, "store", "schema")
	known := postgres.KnownMigrations()
	want := fmt.Sprintf("stale: %d migrations pending (%s)", len(known)-4, versionList(known[4:]))
	if r.Status != Fail || !strings.Contains(r.Detail, want) ||
		!strings.Contains(r.Detail, "postgres (store.dsn)") || !strings.Contains(r.Fix, "pg_dump") {
		t.Errorf("schema: %s: %s (fix %s)", r.Status, r.Detail, r.Fix)
	}
	if applied, _, err := postgres.Inspect(context.Background(), dsn); err != nil || len(applied) != 4 {
		t.Errorf("after doctor: %v applied (%v): doctor migrated it", applied, err)
	}

	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	rep = f.run(false)
	for _, item := range []string{"schema", "writable", "evidence chain"} {
		if r := find(t, rep, "store", item); r.Status != OK {
			t.Errorf("%s: %s: %s", item, r.Status, r.Detail)
		}
	}
}

// applyPostgresMigrations applies the first n PostgreSQL migrations'
// SQL, recorded as migrate records them.
func applyPostgresMigrations(t *testing.T, dsn string, n int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "store", "postgres", "migrations", "*.sql"))
	sort.Strings(files)
	if len(files) < n {
		t.Fatalf("%d migrations", len(files))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, file := range files[:n] {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.Atoi(strings.SplitN(filepath.Base(file), "_", 2)[0])
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES ($1, $2)`, v, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			t.Fatal(err)
		}
	}
}
