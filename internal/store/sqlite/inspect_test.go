package sqlite

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestInspect: Inspect reports what an older binary left behind and never
// changes the file: the database stays at its version, byte for byte.
func TestInspect(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	known := KnownMigrations()
	if len(known) < 3 || !slices.Equal(known, MigrationVersions()) {
		t.Fatalf("KnownMigrations() = %v, want the embedded set %v", known, MigrationVersions())
	}

	old := filepath.Join(dir, "old.db")
	if err := CreateAtVersion(ctx, old, known[2]); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	applied, got, err := Inspect(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, known[:3]) || !slices.Equal(got, known) {
		t.Errorf("Inspect(old) = %v, %v; want %v, %v", applied, got, known[:3], known)
	}
	after, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("Inspect changed the database file")
	}
	// SQLite may create the -wal and -shm files a WAL reader needs (as
	// the daemon would); nothing may be written to the log.
	if fi, err := os.Stat(old + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("Inspect wrote %d bytes to the write-ahead log", fi.Size())
	}

	// A current store, inspected while it is open (WAL, another handle).
	cur := filepath.Join(dir, "cur.db")
	st, err := Open(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if applied, _, err := Inspect(ctx, cur); err != nil || !slices.Equal(applied, known) {
		t.Errorf("Inspect(open current store) = %v, %v; want %v", applied, err, known)
	}

	// Missing, empty, and not a database.
	if _, _, err := Inspect(ctx, filepath.Join(dir, "none.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("Inspect created a missing database")
	}
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	if _, _, err := Inspect(ctx, empty); !errors.Is(err, ErrEmptyFile) {
		t.Errorf("empty file: %v, want ErrEmptyFile", err)
	}
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("not sqlite "), 500), 0o600)
	if _, _, err := Inspect(ctx, junk); err == nil {
		t.Error("a file that is not SQLite inspected without an error")
	}
}
