package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/simulate"
	"breakglass/internal/store"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
)

// TestServePostgres runs serve with store.driver: postgres against a real
// PostgreSQL: it becomes ready, stores the alerts of pushed records in the
// database and pages each once; the DSN (with its password) never shows in
// the logs.
func TestServePostgres(t *testing.T) {
	srv := pgtest.StartT(t)
	dsn, err := srv.Schema(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	// The trust cluster ignores the password; it is here to be looked for.
	const pw = "e2e-pg-password-not-shown"
	dsnPW := dsn + " password=" + pw
	rcv := newReceiver(t)
	dir := t.TempDir()
	listen, ingest := freeAddr(t), freeAddr(t)
	var acc strings.Builder
	for _, a := range simulate.DemoAccounts() {
		fmt.Fprintf(&acc, "  - id: %s\n    upn: %s\n", a.ID, a.UPN)
	}
	cfg := fmt.Sprintf(`accounts:
%sstore:
  driver: postgres
  dsn: ${E2E_PG_DSN}
evidence:
  heads_file: %s
server:
  listen: %s
sources:
  - type: http
    name: push
    listen: %s
    token: ${E2E_TOKEN}
notify:
  groups:
    - name: hook
      channels:
        - type: webhook
          url: %s
          schema: breakglass
          timeout: 2s
log:
  level: info
`, acc.String(), filepath.Join(dir, "heads"), listen, ingest, rcv.srv.URL)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{dir: dir, cfg: cfgPath, listen: listen, ingest: ingest, token: "e2e-token"}
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "E2E_TOKEN="+d.token, "E2E_PG_DSN="+dsnPW)
	var logs syncLog
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if strings.Contains(logs.String(), pw) {
			t.Errorf("the logs show the DSN's password:\n%s", logs.String())
		}
	}()
	if !d.waitReady(t, 20*time.Second) {
		t.Fatalf("not ready; logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "postgres") {
		t.Errorf("the start line does not say the store is postgres:\n%s", logs.String())
	}

	var recs bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &recs, simulate.Options{Seed: 7, Count: 40, BGShare: 0.5}, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.post(ctx, recs.Bytes()); err != nil {
		t.Fatal(err)
	}

	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids map[string]bool
	for ctx.Err() == nil {
		as, err := st.Alerts(ctx, store.AlertFilter{Rule: "bg.signin"})
		if err != nil {
			t.Fatal(err)
		}
		ids = map[string]bool{}
		for _, a := range as {
			ids[a.ID] = true
		}
		if depth, _ := st.OutboxDepth(ctx); len(ids) > 0 && depth == 0 && rcv.count(ids) == len(ids) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(ids) == 0 || rcv.count(ids) != len(ids) {
		t.Fatalf("%d sign-in alerts in PostgreSQL, %d paged; logs:\n%s", len(ids), rcv.count(ids), logs.String())
	}
	rcv.mu.Lock()
	for id := range ids {
		if n := rcv.seen[id]; n != 1 {
			t.Errorf("alert %s paged %d times", id, n)
		}
	}
	rcv.mu.Unlock()
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGINT: %v\n%s", err, logs.String())
	}
	t.Logf("%d sign-in alerts stored in PostgreSQL and paged once each", len(ids))
}

// syncLog is a process's output, readable while the process writes it.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestScanPostgres: scan stores into the configured PostgreSQL store (a
// second scan adds nothing), and the commands that read the store read
// that database.
func TestScanPostgres(t *testing.T) {
	srv := pgtest.StartT(t)
	dsn, err := srv.Schema(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, err := os.ReadFile("testdata/scan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(base), "store:\n  path: ${BREAKGLASS_TEST_DIR:-.}/scan.db",
		"store:\n  driver: postgres\n  dsn: ${E2E_PG_DSN}\nevidence:\n  heads_file: "+filepath.Join(dir, "heads"), 1)
	if doc == string(base) {
		t.Fatal("testdata/scan.yaml has no store.path to replace")
	}
	cfgPath := filepath.Join(dir, "pg.yaml")
	if err := os.WriteFile(cfgPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"E2E_PG_DSN=" + dsn}
	args := append([]string{"scan", "-c", cfgPath, "--format", "json"}, goldenInputs...)
	first := runBinary(t, env, args...)
	if first.code != 0 {
		t.Fatalf("scan exit %d:\n%s", first.code, first.stderr)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	as, err := st.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	printed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(first.stdout), "\n") {
		var a struct{ ID string }
		if err := json.Unmarshal([]byte(line), &a); err != nil || a.ID == "" {
			t.Fatalf("scan output line %q: %v", line, err)
		}
		printed[a.ID] = true
	}
	stored := map[string]bool{}
	for _, a := range as {
		stored[a.ID] = true
	}
	if len(as) == 0 || fmt.Sprint(stored) != fmt.Sprint(printed) {
		t.Errorf("%d alerts in PostgreSQL, scan printed %d distinct", len(as), len(printed))
	}
	if second := runBinary(t, env, args...); second.code != 0 {
		t.Fatalf("second scan exit %d:\n%s", second.code, second.stderr)
	}
	if again, _ := st.Alerts(ctx, store.AlertFilter{}); len(again) != len(as) {
		t.Errorf("a second scan changed the alerts stored: %d, then %d", len(as), len(again))
	}
	// The dashboard's users live in the database too.
	add := exec.Command(binary, "users", "add", "dana", "--role", "admin", "-c", cfgPath)
	add.Env = append(os.Environ(), env...)
	add.Stdin = strings.NewReader("a-long-enough-passphrase\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	if r := runBinary(t, env, "users", "list", "-c", cfgPath, "--format", "json"); r.code != 0 || !strings.Contains(r.stdout, `"dana"`) {
		t.Errorf("users list: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if u, err := st.User(ctx, "DANA"); err != nil || u.Role != "admin" {
		t.Errorf("user in PostgreSQL: %+v, %v", u, err)
	}
	// The commands that read the store read the database: what scan
	// stored there, not a file beside the config.
	r := runBinary(t, env, "alerts", "list", "-c", cfgPath, "--format", "json", "--limit", "1000")
	var listed []json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &listed); r.code != 0 || err != nil || len(listed) != len(as) {
		t.Errorf("alerts list on postgres: exit %d, %d alerts (%v), want the %d stored; stderr %q", r.code, len(listed), err, len(as), r.stderr)
	}
	if r := runBinary(t, env, "incidents", "list", "-c", cfgPath); r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("%d stored alerts are in no incident yet", len(as))) {
		t.Errorf("incidents list on postgres: exit %d, stderr %q; want it to count the %d alerts in the database", r.code, r.stderr, len(as))
	}
	if r := runBinary(t, env, "accounts", "status", "-c", cfgPath); r.code != 0 {
		t.Errorf("accounts status on postgres: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "scan.db")); err == nil {
		t.Error("a command created an SQLite file beside a postgres config")
	}
}
