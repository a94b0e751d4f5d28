package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, path string) store.Store { return open(t, path) })
}

func TestWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	if _, err := s.AddAlert(context.Background(), storetest.Alert("e", "r", time.Now()), store.Evidence{}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file next to the database: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %v, want 0600", perm)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != sqlite.LatestSchemaVersion() || v < 1 {
		t.Fatalf("SchemaVersion = %d, LatestSchemaVersion = %d", v, sqlite.LatestSchemaVersion())
	}
	applied := func() string {
		db := rawDB(t, path)
		rows, err := db.Query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		n := 0
		for rows.Next() {
			var (
				v  int
				at string
			)
			if err := rows.Scan(&v, &at); err != nil {
				t.Fatal(err)
			}
			if want := sqlite.MigrationVersions(); n >= len(want) || v != want[n] {
				t.Errorf("migration row %d has version %d, want the versions %v", n+1, v, want)
			}
			n++
			if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
				t.Errorf("applied_at %q: %v", at, err)
			}
			fmt.Fprintf(&b, "%d@%s ", v, at)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != len(sqlite.MigrationVersions()) {
			t.Errorf("%d migrations recorded, want %d", n, len(sqlite.MigrationVersions()))
		}
		return b.String()
	}
	first := applied()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path) // reopening is the test: it must not apply migrations again
	if again := applied(); again != first {
		t.Errorf("reopening re-applied migrations:\nbefore %s\nafter  %s", first, again)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	open(t, path).Close()
	future := sqlite.LatestSchemaVersion() + 1
	db := rawDB(t, path)
	if _, err := db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", future, "2099-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	var tooNew *sqlite.SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != future || tooNew.Known != future-1 {
		t.Errorf("error %v (%T), want SchemaTooNewError{%d, %d}", err, err, future, future-1)
	}
	want := fmt.Sprintf("database schema version %d is newer than this breakglass supports (%d): the store was written by a newer breakglass; upgrade breakglass", future, future-1)
	if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, path) {
		t.Errorf("error %q: want it to name %s and say %q", msg, path, want)
	}
}

func TestCreatesParentDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "c", "bg.db")
	s := open(t, path)
	if _, err := s.AddAlert(context.Background(), storetest.Alert("e", "r", time.Now()), store.Evidence{}); err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path = %q, want %q", s.Path(), path)
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("created directory mode = %v, want 0700", perm)
	}
}

func TestOddPath(t *testing.T) {
	// URI syntax characters in a path must still name that file.
	path := filepath.Join(t.TempDir(), "dir with space", "a?b#c%20d.db")
	open(t, path).Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %q: %v", path, err)
	}
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	junk := bytes.Repeat([]byte("this is not an sqlite database\n"), 200)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a non-SQLite file succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path %s", err, path)
	}
	t.Logf("error: %v", err)
	if b, _ := os.ReadFile(path); !bytes.Equal(b, junk) {
		t.Error("Open modified the non-SQLite file")
	}

	// A directory where the file should be.
	dir := filepath.Join(t.TempDir(), "isdir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(context.Background(), dir); err == nil {
		s.Close()
		t.Error("Open of a directory succeeded")
	} else if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the path %s", err, dir)
	}
}

func TestMemoryRefused(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		if s, err := sqlite.Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func batch(n int, rules ...string) []sqlite.AlertWithEvidence {
	items := make([]sqlite.AlertWithEvidence, 0, n)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; len(items) < n; i++ {
		for _, r := range rules {
			a := storetest.Alert(fmt.Sprintf("evt-%06d", i), r, t0.Add(time.Duration(i)*time.Millisecond))
			items = append(items, sqlite.AlertWithEvidence{Alert: a, Evidence: storetest.Evidence(a, []byte(`{"id":"`+a.EventID+`"}`))})
			if len(items) == n {
				break
			}
		}
	}
	return items
}

func TestAddAlerts(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	items := batch(6, "r1", "r2")
	if ins, err := s.AddAlert(ctx, items[2].Alert, items[2].Evidence); err != nil || !ins {
		t.Fatalf("AddAlert = %v, %v", ins, err)
	}
	in := append(items, items[0]) // a repeat inside the batch
	ins, err := s.AddAlerts(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, true, false, true, true, true, false}
	if fmt.Sprint(ins) != fmt.Sprint(want) {
		t.Errorf("inserted = %v, want %v", ins, want)
	}
	for _, it := range items {
		got, err := s.Alert(ctx, it.Alert.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := storetest.EqualAlerts(got, it.Alert); d != "" {
			t.Error(d)
		}
	}
	if ins, err := s.AddAlerts(ctx, nil); err != nil || len(ins) != 0 {
		t.Errorf("AddAlerts(nil) = %v, %v", ins, err)
	}
}

func TestAddAlertsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	items := batch(4, "r")
	items[3].Evidence.EventID = "some other event" // invalid: evidence for another record
	if _, err := s.AddAlerts(ctx, items); err == nil {
		t.Fatal("AddAlerts with mismatched evidence succeeded")
	}
	if got, err := s.Alerts(ctx, store.AlertFilter{}); err != nil || len(got) != 0 {
		t.Errorf("after failed batch: %d alerts, %v; want none stored", len(got), err)
	}
	// Cancelled mid-way (before start here) stores nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddAlerts(cctx, batch(4, "r")); err == nil {
		t.Fatal("AddAlerts with a cancelled context succeeded")
	}
	if got, _ := s.Alerts(ctx, store.AlertFilter{}); len(got) != 0 {
		t.Errorf("after cancelled batch: %d alerts stored", len(got))
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	good := storetest.Alert("e", "r", time.Now())
	for name, mut := range map[string]func(*alert.Alert){
		"empty id":       func(a *alert.Alert) { a.ID = "" },
		"empty event id": func(a *alert.Alert) { a.EventID = "" },
		"year 10000":     func(a *alert.Alert) { a.EventTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		a := good
		mut(&a)
		if _, err := s.AddAlert(ctx, a, store.Evidence{}); err == nil {
			t.Errorf("%s: AddAlert succeeded", name)
		}
	}
	if _, err := s.Alerts(ctx, store.AlertFilter{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

func TestTamperedEvidence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	a := storetest.Alert("e", "r", time.Now())
	if _, err := s.AddAlert(ctx, a, storetest.Evidence(a, []byte("original"))); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec("UPDATE evidence SET raw = ? WHERE event_id = ?", []byte("forged"), "e"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Evidence(ctx, "e"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Evidence of altered bytes: err = %v, want a digest mismatch", err)
	}
}

// Large enough that per-alert commits would show, small enough for -race.
func TestBatchSpeed(t *testing.T) {
	n := 10000
	if raceEnabled || testing.Short() {
		n = 2000
	}
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	items := batch(n, "r1", "r2")
	start := time.Now()
	ins, err := s.AddAlerts(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	for i, b := range ins {
		if !b {
			t.Fatalf("item %d not inserted", i)
		}
	}
	t.Logf("AddAlerts of %d alerts: %v", n, elapsed)
	if !raceEnabled && elapsed > 3*time.Second {
		t.Errorf("AddAlerts of %d alerts took %v", n, elapsed)
	}
}

func BenchmarkAddAlert(b *testing.B) {
	ctx := context.Background()
	s := open(b, filepath.Join(b.TempDir(), "bg.db"))
	items := batch(b.N, "r")
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.AddAlert(ctx, items[i].Alert, items[i].Evidence); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddAlertsBatch(b *testing.B) {
	const size = 10000
	ctx := context.Background()
	s := open(b, filepath.Join(b.TempDir(), "bg.db"))
	items := batch(size*b.N, "r1", "r2")
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.AddAlerts(ctx, items[i*size:(i+1)*size]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(size*b.N), "ns/alert")
}
