package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/simulate"
	"breakglass/internal/store"
	"breakglass/internal/store/backup"
	"breakglass/internal/store/sqlite"
)

// storedAlertIDs opens the store beside a running daemon, as any CLI
// command does, and lists every alert id.
func storedAlertIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, a := range all {
		ids[a.ID] = true
	}
	return ids
}

// TestStoreBackupRestoreWhileServing is issue 15's must-show: a backup
// taken while serve ingests a followed file holds every alert stored
// before it, with an intact evidence chain; restore refuses while serve
// runs, then (serve stopped) puts it back with the old store kept;
// evidence verify passes on the restored store, and serve started on it
// works: it resumes from the backup's checkpoints and stores every alert.
func TestStoreBackupRestoreWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	accounts := simulate.DemoAccounts()
	var logs, truth bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &logs, simulate.Options{
		Seed: seed, Count: 3000, Shape: simulate.ShapeStorage, BGShare: 0.03, Accounts: accounts,
	}, &truth); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	sc := bufio.NewScanner(&truth)
	for sc.Scan() {
		var tr simulate.Truth
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		for _, r := range tr.Rules {
			want[alert.Key(tr.EventID, r)] = true
		}
	}
	lines := strings.SplitAfter(logs.String(), "\n")

	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", accounts, "")
	db := filepath.Join(d.dir, "bg.db")
	env := []string{"E2E_TOKEN=" + d.token}
	cmd := d.start(t)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !d.waitReady(t, 10*time.Second) {
		t.Fatal("daemon not ready")
	}

	// Records arrive continuously while the backup runs.
	feedDone := make(chan error, 1)
	midway := make(chan struct{})
	go func() {
		f, err := os.OpenFile(filepath.Join(d.dir, "logs", "PT1H.json"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			feedDone <- err
			return
		}
		defer f.Close()
		for i := 0; i < len(lines); i += 30 {
			if _, err := f.WriteString(strings.Join(lines[i:min(i+30, len(lines))], "")); err != nil {
				feedDone <- err
				return
			}
			if i == 900 {
				close(midway)
			}
			time.Sleep(15 * time.Millisecond)
		}
		feedDone <- nil
	}()
	<-midway
	before := storedAlertIDs(t, db)
	if len(before) == 0 {
		t.Fatal("no alert stored before the backup")
	}
	bak := filepath.Join(t.TempDir(), "bg.bak")
	r := runBinary(t, env, "store", "backup", "-c", d.cfg, "--out", bak, "--format", "json")
	if r.code != 0 {
		t.Fatalf("store backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("backup progress:\n%s", r.stderr)
	var res backup.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("backup summary %q: %v", r.stdout, err)
	}
	if err := <-feedDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("backup: %d alerts, %d evidence entries; %d alerts stored when it began, %d expected in all",
		res.Check.Counts.Alerts, res.Check.Evidence.Entries, len(before), len(want))
	if !res.Check.Evidence.OK() || res.Check.Evidence.Entries == 0 || res.Check.Integrity != "ok" {
		t.Errorf("backup check: %+v", res.Check)
	}
	inBackup := storedAlertIDs(t, bak)
	for id := range before {
		if !inBackup[id] {
			t.Errorf("alert %s was stored before the backup and is not in it", id)
		}
	}

	// The daemon kept working: everything reaches the webhook.
	deadline := time.Now().Add(30 * time.Second)
	for rcv.count(want) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := rcv.count(want); got != len(want) {
		t.Fatalf("webhook received %d of %d alerts while the backup ran", got, len(want))
	}

	// Restore refuses while serve runs, and changes nothing.
	r = runBinary(t, env, "store", "restore", "-c", d.cfg, "--from", bak)
	if r.code != 1 || !strings.Contains(r.stderr, "store in use") || !strings.Contains(r.stderr, d.listen) {
		t.Errorf("restore while serving: exit %d, stderr %q; want 1 naming %s", r.code, r.stderr, d.listen)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	if m, _ := filepath.Glob(db + ".before-restore-*"); len(m) > 0 {
		t.Fatalf("the refused restore moved the store aside: %v", m)
	}

	r = runBinary(t, env, "store", "restore", "-c", d.cfg, "--from", bak, "--format", "json")
	if r.code != 0 {
		t.Fatalf("store restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("restore progress:\n%s", r.stderr)
	var rr backup.RestoreResult
	if err := json.Unmarshal([]byte(r.stdout), &rr); err != nil {
		t.Fatalf("restore summary %q: %v", r.stdout, err)
	}
	if !strings.HasPrefix(rr.MovedAside, db+".before-restore-") {
		t.Errorf("moved aside to %q", rr.MovedAside)
	}
	if old, err := backup.Verify(context.Background(), rr.MovedAside); err != nil || old.Counts.Alerts < int64(len(want)) {
		t.Errorf("the store moved aside: %+v, %v; want all %d alerts kept", old.Counts, err, len(want))
	}
	restored := storedAlertIDs(t, db)
	for id := range before {
		if !restored[id] {
			t.Errorf("alert %s is not in the restored store", id)
		}
	}
	if len(restored) != len(inBackup) {
		t.Errorf("restored store holds %d alerts, the backup %d", len(restored), len(inBackup))
	}
	if r := runBinary(t, env, "evidence", "verify", "-c", d.cfg); r.code != 0 {
		t.Errorf("evidence verify on the restored store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// serve on the restored store resumes from its checkpoints: the
	// records after the backup are read again and every alert is stored.
	cmd = d.start(t)
	if !d.waitReady(t, 10*time.Second) {
		t.Fatal("daemon on the restored store not ready")
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		got := storedAlertIDs(t, db)
		missing := 0
		for id := range want {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve on the restored store: %d of %d alerts still missing", missing, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve on the restored store did not stop cleanly: %v", err)
	}
	if r := runBinary(t, env, "evidence", "verify", "-c", d.cfg); r.code != 0 {
		t.Errorf("evidence verify after serving the restored store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestStoreBackupUsage: the exit codes and messages of what is refused
// before anything is copied.
func TestStoreBackupUsage(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("accounts:\n  - upn: bg@contoso.com\nstore:\n  path: %s\n", filepath.Join(dir, "bg.db"))), 0o600)
	pg := filepath.Join(dir, "pg.yaml")
	os.WriteFile(pg, []byte("accounts:\n  - upn: bg@contoso.com\nstore:\n  driver: postgres\n  dsn: ${PGDSN}\n"), 0o600)
	env := []string{"PGDSN=postgres://u:SECRETPW@db/bg?sslmode=verify-full"}
	exists := filepath.Join(dir, "exists.bak")
	os.WriteFile(exists, []byte("x"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no out", []string{"store", "backup", "-c", cfg}, 2, []string{"--out FILE is required"}},
		{"no from", []string{"store", "restore", "-c", cfg}, 2, []string{"--from FILE is required"}},
		{"no store", []string{"store", "backup", "-c", cfg, "--out", filepath.Join(dir, "a.bak")}, 1, []string{"no store there"}},
		{"out exists", []string{"store", "backup", "-c", cfg, "--out", exists}, 2, []string{"file exists", "choose another name"}},
		{"restore junk", []string{"store", "restore", "-c", cfg, "--from", exists}, 1, []string{"cannot be restored, nothing was changed"}},
		{"postgres backup", []string{"store", "backup", "-c", pg, "--out", "/b/x.dump"}, 2, []string{"pg_dump --format=custom --no-owner --file=/b/x.dump --dbname=\"$BREAKGLASS_STORE_DSN\""}},
		{"postgres restore", []string{"store", "restore", "-c", pg, "--from", "/b/x.dump"}, 2, []string{"pg_restore --exit-on-error --single-transaction --no-owner --dbname=\"$BREAKGLASS_STORE_DSN\" /b/x.dump"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, env, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not say %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "SECRETPW") {
				t.Error("the DSN's password was printed")
			}
		})
	}
}
