package main

import (
	"bytes"
	"context"
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
