package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

// TestEmptyFileRefused: a zero-length database must not silently become a
// fresh one, which would lose checkpoints and re-send alerts.
func TestEmptyFileRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bg.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a zero-length file succeeded")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, sqlite.ErrEmptyFile) {
		t.Errorf("error %v does not wrap ErrEmptyFile", err)
	}
	for _, want := range []string{path, "restore it from a backup", "delete the file to start fresh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != 0 {
		t.Errorf("Open touched the empty file: %v, %v", fi, err)
	}
	if names := dirNames(t, dir); fmt.Sprint(names) != "[bg.db]" {
		t.Errorf("directory after refused Open: %v", names)
	}
	// Deleting it is the knowing way to start fresh.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	open(t, path)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestCreateNoTempLeftAndConcurrent: a new database appears at its path
// whole (never as an empty file another process could take for a
// truncated one), even when several processes create it at once.
func TestCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "bg.db")
	const n = 8
	stores := make([]*sqlite.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(context.Background(), path) })
	}
	wg.Wait()
	ctx := context.Background()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	a := storetest.Alert("e", "r", time.Now())
	if _, err := stores[0].AddAlert(ctx, a, store.Evidence{}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, err := s.Alert(ctx, a.ID); err != nil {
			t.Errorf("store %d does not see the alert: one database expected: %v", i, err)
		}
	}
	for _, name := range dirNames(t, filepath.Dir(path)) {
		if name != "bg.db" && name != "bg.db-wal" && name != "bg.db-shm" {
			t.Errorf("left behind: %s", name)
		}
	}
}

func fill(t *testing.T, s *sqlite.Store, n int) {
	t.Helper()
	items := batch(n, "r")
	if _, err := s.AddAlerts(context.Background(), items); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptedRefused damages the alerts table's pages: Open must refuse
// the file, say what to do, and leave it as it was for recovery.
func TestCorruptedRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	fill(t, s, 400)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var root, pageSize int64
	if err := db.QueryRow(`SELECT rootpage FROM sqlite_master WHERE name = 'alerts'`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0xa5, 0x5a, 0xff, 0x00}, 64)
	if _, err := f.WriteAt(junk, (root-1)*pageSize+8); err != nil {
		t.Fatal(err)
	}
	f.Close()
	damaged, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s, err = sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a corrupted database succeeded")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("error does not wrap store.ErrCorrupt: %v", err)
	}
	for _, want := range []string{path, "restore the database from a backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, damaged) {
		t.Error("Open modified the corrupted file")
	}
}

// TestReadOnly: a database this process cannot write is refused at Open,
// and one that stops taking writes while open makes Writable fail with
// the cause, and recovers with it.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	open(t, path).Close()

	// chmod does not bind root; SQLite's query_only does, with the same
	// SQLITE_READONLY a read-only file or mount gives.
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		s, err := sqlite.Open(ctx, path)
		if err == nil {
			s.Close()
			t.Error("Open of a 0400 database succeeded")
		} else if !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("Open of a 0400 database: %v, want ErrReadOnly", err)
		}
		os.Chmod(path, 0o600)
	} else {
		t.Log("running as root: file permissions do not apply; using query_only")
	}
	s, err := sqlite.OpenWithWriterPragmas(ctx, path, "query_only(1)")
	if err == nil {
		s.Close()
		t.Fatal("Open of a read-only database succeeded")
	}
	t.Logf("Open: %v", err)
	if !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Open of a read-only database: %v, want ErrReadOnly naming the cause", err)
	}

	s = open(t, path)
	if err := s.Writable(ctx); err != nil {
		t.Fatalf("Writable: %v", err)
	}
	if err := sqlite.SetWriterPragma(ctx, s, "query_only = 1"); err != nil {
		t.Fatal(err)
	}
	err = s.Writable(ctx)
	t.Logf("Writable: %v", err)
	if !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), "mounted read-write") {
		t.Errorf("Writable of a read-only database = %v, want ErrReadOnly with a hint", err)
	}
	a := storetest.Alert("e", "r", time.Now())
	if _, err := s.AddAlert(ctx, a, store.Evidence{}); !errors.Is(err, store.ErrReadOnly) {
		t.Errorf("AddAlert into a read-only database = %v, want ErrReadOnly", err)
	}
	if err := sqlite.SetWriterPragma(ctx, s, "query_only = 0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Writable(ctx); err != nil {
		t.Errorf("Writable after the database became writable again: %v", err)
	}
}

// TestFull caps the database with max_page_count, SQLite's own size limit,
// which stands in for a full disk: the write fails with SQLITE_FULL.
func TestFull(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	fill(t, s, 50)
	if err := sqlite.SetWriterPragma(ctx, s, "max_page_count = 1"); err != nil { // clamps to the current size
		t.Fatal(err)
	}
	err := s.Writable(ctx)
	t.Logf("Writable: %v", err)
	if !errors.Is(err, store.ErrFull) || !strings.Contains(err.Error(), "page limit") {
		t.Errorf("Writable of a full database = %v, want ErrFull naming the limit", err)
	}
	a := storetest.Alert("big", "r", time.Now())
	_, err = s.AddAlert(ctx, a, storetest.Evidence(a, bytes.Repeat([]byte("x"), 1<<20)))
	t.Logf("AddAlert: %v", err)
	if !errors.Is(err, store.ErrFull) {
		t.Errorf("AddAlert into a full database = %v, want ErrFull", err)
	}
	if _, err := s.Alert(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the alert that did not fit was partly stored: %v", err)
	}
	if err := sqlite.SetWriterPragma(ctx, s, "max_page_count = 4294967294"); err != nil {
		t.Fatal(err)
	}
	if err := s.Writable(ctx); err != nil {
		t.Errorf("Writable once there is room again: %v", err)
	}
	if _, err := s.AddAlert(ctx, a, storetest.Evidence(a, bytes.Repeat([]byte("x"), 1<<20))); err != nil {
		t.Errorf("AddAlert once there is room again: %v", err)
	}
}

// TestPruneBatches prunes more rows than one transaction takes.
func TestPruneBatches(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	a := storetest.Alert("e", "r", time.Now())
	var targets []string
	for i := range 2500 {
		targets = append(targets, fmt.Sprintf("t%04d", i))
	}
	if _, err := s.AddAlertNotify(ctx, a, store.Evidence{}, targets); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec(`UPDATE outbox SET delivered = '2025-01-01T00:00:00.000000000Z' WHERE target >= 't0500'`); err != nil {
		t.Fatal(err)
	}
	stats, err := s.Prune(ctx, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC))
	if err != nil || stats.Deliveries != 2000 {
		t.Fatalf("Prune = %+v, %v; want 2000", stats, err)
	}
	if _, err := s.AddAlertNotify(ctx, a, store.Evidence{}, targets); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 500 {
		t.Errorf("OutboxDepth after prune and re-notify = %d, %v; want the 500 never delivered", n, err)
	}
	var pruned int
	if err := db.QueryRow(`SELECT COUNT(*) FROM outbox_pruned`).Scan(&pruned); err != nil || pruned != 2000 {
		t.Errorf("outbox_pruned has %d keys, %v; want 2000", pruned, err)
	}
}

// TestOutboxPlans guards the indexes: delivered and dead rows pile up, and
// polling, counting and pruning must not scan them.
func TestOutboxPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	open(t, path)
	db := rawDB(t, path)
	const ts = "2025-01-01T00:00:00.000000000Z"
	for _, tc := range []struct {
		name, q, index string
		args           []any
	}{
		{"claim", sqlite.ClaimSQL, "outbox_pending", []any{"o", ts, ts, 100}},
		{"dead", sqlite.DeadSQL, "outbox_dead", []any{100}},
		{"dead count", sqlite.DeadCountSQL, "outbox_dead", nil},
		{"prune", sqlite.PruneSQL, "outbox_delivered", []any{ts, 100}},
	} {
		p := plan(t, db, tc.q, tc.args...)
		t.Logf("%s: %s", tc.name, p)
		if !strings.Contains(p, tc.index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want %s without a sort", tc.name, p, tc.index)
		}
	}
}

// plan returns SQLite's query plan for q, one step per "; ".
func plan(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "; ")
}
