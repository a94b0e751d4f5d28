package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestMigrationsWithGaps: branches reserve migration numbers ahead, so a
// build may carry 0009 without 0007 and 0008. A database it migrated gets
// the missing ones from the build that has them, whatever the order.
func TestMigrationsWithGaps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gap.db")
	if err := createFile(ctx, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	m := func(v int, table string) migration {
		return migration{version: v, name: table, sql: "CREATE TABLE " + table + " (x INTEGER)"}
	}
	if err := migrateTo(ctx, db, []migration{m(1, "one"), m(3, "three")}); err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, db, []migration{m(1, "one"), m(2, "two"), m(3, "three")}); err != nil {
		t.Fatalf("the build with the earlier migration: %v", err)
	}
	for _, table := range []string{"one", "two", "three"} {
		if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1)"); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != 3 {
		t.Errorf("%d migrations recorded (%v), want 3", n, err)
	}
	// The build without 2 and 3 refuses the newer database.
	if err := migrateTo(ctx, db, []migration{m(1, "one")}); err == nil {
		t.Error("an older build opened a newer schema")
	}
}
