package backup_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/store"
	"breakglass/internal/store/backup"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

// holdEnv makes the test binary a helper process that opens the store it
// names and keeps it open until killed (TestRestoreRefusesInUse).
const holdEnv = "BREAKGLASS_BACKUP_TEST_HOLD"

func TestMain(m *testing.M) {
	if p := os.Getenv(holdEnv); p != "" {
		s, err := sqlite.Open(context.Background(), p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer s.Close()
		fmt.Println("open")
		time.Sleep(time.Minute)
		return
	}
	os.Exit(m.Run())
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addAlert stores alert i with its evidence, and logs an evidence entry,
// the way the daemon writes both.
func addAlert(ctx context.Context, s *sqlite.Store, i int) (string, error) {
	a := storetest.Alert(fmt.Sprintf("evt-%06d", i), "bg.signin", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second))
	if _, err := s.AddAlertNotify(ctx, a, storetest.Evidence(a, []byte(`{"id":"`+a.EventID+`"}`)), []string{"oncall/console"}); err != nil {
		return "", err
	}
	if _, err := s.AppendLog(ctx, store.LogEntry{Kind: store.LogNotify, Ref: a.ID, Content: []byte(a.ID)}); err != nil {
		return "", err
	}
	return a.ID, nil
}

func rawDB(t *testing.T, path string) *sql.DB {
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

// TestBackupWhileWriting: a writer keeps adding alerts and evidence
// entries during the backup; the copy holds every alert stored before the
// backup began, a whole chain, and is private to its owner.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "bg.db")
	s := openStore(t, src)
	var (
		mu     sync.Mutex
		stored []string
	)
	for i := range 200 {
		id, err := addAlert(ctx, s, i)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, id)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 200; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id, err := addAlert(ctx, s, i)
			if err != nil {
				werr.Store(err)
				return
			}
			mu.Lock()
			stored = append(stored, id)
			mu.Unlock()
		}
	}()
	time.Sleep(20 * time.Millisecond) // let the writer get going
	mu.Lock()
	before := append([]string(nil), stored...)
	mu.Unlock()
	out := filepath.Join(dir, "backups", "bg.bak")
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		t.Fatal(err)
	}
	var progress []string
	res, err := backup.Backup(ctx, src, out, backup.Options{Progress: func(s string) { progress = append(progress, s) }})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if e := werr.Load(); e != nil {
		t.Fatalf("the writer failed during the backup: %v", e)
	}
	t.Logf("progress: %q", progress)
	t.Logf("backup: %+v", res.Check)
	if res.Check.Integrity != "ok" || !res.Check.Evidence.OK() || res.Check.Schema != sqlite.LatestSchemaVersion() {
		t.Errorf("check = %+v", res.Check)
	}
	// Alert and evidence entry are two transactions here, so the snapshot
	// may fall between them.
	if res.Check.Counts.Alerts < int64(len(before)) || res.Check.Evidence.Entries < int64(len(before)) {
		t.Errorf("backup holds %d alerts and %d evidence entries; %d were stored before it began",
			res.Check.Counts.Alerts, res.Check.Evidence.Entries, len(before))
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(out + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.tmp left behind: %v", out, err)
	}
	copyStore := openStore(t, out)
	for _, id := range before {
		if _, err := copyStore.Alert(ctx, id); err != nil {
			t.Fatalf("alert %s, stored before the backup, is not in it: %v", id, err)
		}
	}

	// A second backup to the same name is refused, the first untouched.
	if _, err := backup.Backup(ctx, src, out, backup.Options{}); !errors.Is(err, backup.ErrExists) {
		t.Errorf("backup over an existing file: %v, want ErrExists", err)
	}
}

func TestBackupRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := backup.Backup(ctx, filepath.Join(dir, "none.db"), filepath.Join(dir, "x.bak"), backup.Options{}); err == nil || !strings.Contains(err.Error(), "no store there") {
		t.Errorf("backup of a missing store: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	if _, err := backup.Backup(ctx, empty, filepath.Join(dir, "y.bak"), backup.Options{}); !errors.Is(err, sqlite.ErrEmptyFile) {
		t.Errorf("backup of an empty store: %v", err)
	}
	src := filepath.Join(dir, "bg.db")
	s := openStore(t, src)
	if _, err := addAlert(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	// An interrupted backup's tmp file is never overwritten or used.
	out := filepath.Join(dir, "z.bak")
	os.WriteFile(out+".tmp", []byte("partial"), 0o600)
	if _, err := backup.Backup(ctx, src, out, backup.Options{}); !errors.Is(err, backup.ErrExists) || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("backup with a stale tmp file: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed backup left %s", out)
	}
}

// TestVerify: each way a copy can be unusable is named.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	s := openStore(t, good)
	for i := range 5 {
		if _, err := addAlert(ctx, s, i); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	mk := func(name string, damage func(db *sql.DB)) string {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, b, 0o600)
		if damage != nil {
			db := rawDB(t, p)
			damage(db)
			db.Close()
		}
		return p
	}
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte(strings.Repeat("not sqlite ", 500)), 0o600)
	plain := filepath.Join(dir, "plain.db")
	db := rawDB(t, plain)
	db.Exec(`CREATE TABLE t (x)`)
	db.Close()
	exec := func(q string) func(*sql.DB) {
		return func(db *sql.DB) {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name, path string
		is         error
		want       string
	}{
		{"good", mk("copy.db", nil), nil, ""},
		{"newer schema", mk("new.db", exec(fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '2099-01-01T00:00:00Z')`, sqlite.LatestSchemaVersion()+3))), nil,
			fmt.Sprintf("schema version %d is newer than this breakglass supports (%d)", sqlite.LatestSchemaVersion()+3, sqlite.LatestSchemaVersion())},
		{"not sqlite", junk, store.ErrCorrupt, "not a database"},
		{"not a store", plain, backup.ErrNotAStore, "records no schema migrations"},
		{"chain broken", mk("edited.db", func(db *sql.DB) {
			exec(`DROP TRIGGER evidence_log_no_update`)(db)
			exec(`UPDATE evidence_log SET content = CAST('forged' AS BLOB) WHERE seq = 3`)(db)
		}), nil, "evidence log broken at entry 3"},
		{"missing", filepath.Join(dir, "nope.db"), fs.ErrNotExist, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := backup.Verify(ctx, tc.path)
			t.Logf("check %+v, error: %v", c, err)
			if tc.want == "" && tc.is == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Counts.Alerts != 5 || c.Evidence.Entries != 5 {
					t.Errorf("counts %+v, evidence %+v", c.Counts, c.Evidence)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify passed")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestRestore: the backup replaces the store, the store it replaced is
// kept beside it (with its WAL), and the restored store opens and holds
// what the backup held.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "data", "bg.db")
	s := openStore(t, live)
	var ids []string
	for i := range 10 {
		id, err := addAlert(ctx, s, i)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	bak := filepath.Join(dir, "bg.bak")
	if _, err := backup.Backup(ctx, live, bak, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 15; i++ { // after the backup: gone from the restored store, kept aside
		if _, err := addAlert(ctx, s, i); err != nil {
			t.Fatal(err)
		}
	}
	// Heads published at entries 5 (in the backup) and 12 (after it).
	heads := live + ".heads"
	for _, seq := range []int64{5, 12} {
		es, err := s.LogEntries(ctx, seq-1, 1)
		if err != nil || len(es) != 1 {
			t.Fatal(es, err)
		}
		if err := evidence.AppendHead(heads, evidence.SignedHead{Seq: seq, Hash: es[0].Hash, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	now := time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC)
	res, err := backup.Restore(ctx, live, bak, "", heads, backup.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Heads == nil || res.Heads.Kept != 1 || res.Heads.Past != 1 || res.Heads.MovedAside != heads+".before-restore-20261202T063000Z" {
		t.Errorf("heads: %+v", res.Heads)
	}
	kept, err := evidence.LoadHeads(heads)
	if err != nil || len(kept) != 1 || kept[0].Seq != 5 {
		t.Errorf("heads file after restore: %+v, %v", kept, err)
	}
	// Each store verifies against its own heads.
	for _, tc := range []struct{ db, heads string }{{live, heads}, {res.MovedAside, res.Heads.MovedAside}} {
		hs, err := evidence.LoadHeads(tc.heads)
		if err != nil {
			t.Fatal(err)
		}
		var refs []evidence.HeadRef
		for _, h := range hs {
			refs = append(refs, h.Ref())
		}
		snap, err := sqlite.OpenSnapshot(ctx, tc.db)
		if err != nil {
			t.Fatal(err)
		}
		r, err := evidence.Verify(ctx, snap, refs)
		snap.Close()
		if err != nil || !r.OK() || r.HeadsChecked != len(refs) {
			t.Errorf("%s against %s: %+v, %v", tc.db, tc.heads, r, err)
		}
	}
	wantAside := live + ".before-restore-20261202T063000Z"
	if res.MovedAside != wantAside {
		t.Errorf("moved aside to %q, want %q", res.MovedAside, wantAside)
	}
	if res.Restored.Counts.Alerts != 10 || !res.Restored.Evidence.OK() {
		t.Errorf("restored: %+v", res.Restored)
	}
	aside, err := backup.Verify(ctx, wantAside)
	if err != nil || aside.Counts.Alerts != 15 {
		t.Errorf("the store moved aside: %+v, %v; want its 15 alerts", aside.Counts, err)
	}
	r := openStore(t, live)
	for _, id := range ids {
		if _, err := r.Alert(ctx, id); err != nil {
			t.Errorf("restored store lacks %s: %v", id, err)
		}
	}
	// Restoring a second time in the same second would need the same
	// aside name: refused, nothing changed.
	r.Close()
	if _, err := backup.Restore(ctx, live, bak, "", "", backup.Options{Now: func() time.Time { return now }}); !errors.Is(err, backup.ErrExists) {
		t.Errorf("second restore onto the same aside name: %v", err)
	}
	if c, err := backup.Verify(ctx, live); err != nil || c.Counts.Alerts != 10 {
		t.Errorf("after the refused restore: %+v, %v", c.Counts, err)
	}
}

func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "bg.db")
	s := openStore(t, live)
	if _, err := addAlert(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	bak := filepath.Join(dir, "bg.bak")
	if _, err := backup.Backup(ctx, live, bak, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(live)
	unchanged := func(t *testing.T) {
		t.Helper()
		if b, _ := os.ReadFile(live); string(b) != string(before) {
			t.Error("the store changed")
		}
		if m, _ := filepath.Glob(live + ".before-restore-*"); len(m) > 0 {
			t.Errorf("moved aside: %v", m)
		}
	}

	t.Run("newer backup", func(t *testing.T) {
		nb := filepath.Join(dir, "newer.bak")
		b, _ := os.ReadFile(bak)
		os.WriteFile(nb, b, 0o600)
		db := rawDB(t, nb)
		db.Exec(fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, 'x')`, sqlite.LatestSchemaVersion()+1))
		db.Close()
		_, err := backup.Restore(ctx, live, nb, "", "", backup.Options{})
		var tooNew *sqlite.SchemaTooNewError
		if !errors.As(err, &tooNew) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("restore of a newer backup: %v", err)
		}
		unchanged(t)
	})
	t.Run("serve answers", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, err = backup.Restore(ctx, live, bak, ln.Addr().String(), "", backup.Options{})
		if !errors.Is(err, backup.ErrInUse) || !strings.Contains(err.Error(), ln.Addr().String()) {
			t.Errorf("restore while serve answers: %v", err)
		}
		unchanged(t)
	})
	t.Run("held open", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), holdEnv+"="+live)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		buf := make([]byte, 5)
		if _, err := out.Read(buf); err != nil || string(buf[:4]) != "open" {
			t.Fatalf("helper did not open the store: %q %v", buf, err)
		}
		before, _ = os.ReadFile(live)
		_, err = backup.Restore(ctx, live, bak, "", "", backup.Options{})
		if !errors.Is(err, backup.ErrInUse) || !strings.Contains(err.Error(), "has "+live+" open") {
			t.Errorf("restore while another process has the store open: %v", err)
		}
		unchanged(t)
		cmd.Process.Kill()
		cmd.Wait()
		// Once it is gone, restore works.
		if _, err := backup.Restore(ctx, live, bak, "", "", backup.Options{}); err != nil {
			t.Errorf("restore after the holder died: %v", err)
		}
	})
}
