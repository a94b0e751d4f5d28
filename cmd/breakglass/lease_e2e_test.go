package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/store"
	"breakglass/internal/store/backend"
	"breakglass/internal/store/postgres/pgtest"
)

// leaseProc is one serve process of the lease test.
type leaseProc struct {
	listen string
	cmd    *exec.Cmd
	logs   *syncLog
}

func (p *leaseProc) readyz(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + p.listen + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != 200 {
		return ""
	}
	return string(b)
}

// TestLeaseSIGKILLSQLite and TestLeaseSIGKILLPostgres: two serve
// processes on one store; the scheduler lease's holder is SIGKILLed, so it
// releases nothing. The other takes the lease once it has expired (not
// before: no release happened) and within the TTL and a third; a SIGTERM
// then hands the lease back at once (it is released).
func TestLeaseSIGKILLSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bg.db")
	leaseSIGKILL(t, "store:\n  path: "+db+"\n", nil)
}

func TestLeaseSIGKILLPostgres(t *testing.T) {
	srv := pgtest.StartT(t)
	dsn, err := srv.Schema(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	leaseSIGKILL(t, "store:\n  driver: postgres\n  dsn: ${E2E_PG_DSN}\n", []string{"E2E_PG_DSN=" + dsn})
}

func leaseSIGKILL(t *testing.T, storeYAML string, env []string) {
	const ttl = 3 * time.Second
	start := func(name string) *leaseProc {
		dir := t.TempDir()
		p := &leaseProc{listen: freeAddr(t), logs: &syncLog{}}
		cfg := fmt.Sprintf("accounts:\n  - upn: bg1@contoso.onmicrosoft.com\n%sserver:\n  listen: %s\n  lease_ttl: %s\nevidence:\n  heads_file: %s\nlog:\n  level: info\n",
			storeYAML, p.listen, ttl, filepath.Join(dir, "heads"))
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(binary, "serve", "--config", path)
		p.cmd.Dir = dir
		p.cmd.Env = append(os.Environ(), env...)
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				p.cmd.Wait()
			}
		})
		d := &daemonProc{listen: p.listen}
		if !d.waitReady(t, 30*time.Second) {
			t.Fatalf("%s not ready; logs:\n%s", name, p.logs.String())
		}
		return p
	}
	waitBody := func(p *leaseProc, want string, timeout time.Duration) bool {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			if strings.Contains(p.readyz(t), want) {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	a := start("a")
	if !waitBody(a, "held by this replica", 10*time.Second) {
		t.Fatalf("a never took the lease: %q\n%s", a.readyz(t), a.logs.String())
	}
	b := start("b")
	if body := b.readyz(t); !strings.Contains(body, "stands by") {
		t.Fatalf("b /readyz = %q, want it standing by (and ready)", body)
	}

	ctx := context.Background()
	sc, err := config.Parse("store.yaml", []byte(os.Expand(storeYAML, func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	})+"accounts:\n  - upn: x@contoso.onmicrosoft.com\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := backend.Open(ctx, sc.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before, err := st.Lease(ctx, "scheduler")
	if err != nil {
		t.Fatal(err)
	}

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	a.cmd.Wait()
	if !waitBody(b, "held by this replica", 3*ttl) {
		t.Fatalf("b never took over: %q\n%s", b.readyz(t), b.logs.String())
	}
	took := time.Since(killed)
	t.Logf("b took the lease %v after a was killed (ttl %v)", took.Round(time.Millisecond), ttl)
	// a renewed at most a third of the TTL before it died, so its lease
	// ran at least two thirds of the TTL after; b polls every third.
	if took < ttl*2/3-200*time.Millisecond || took > ttl+ttl/3+time.Second {
		t.Errorf("takeover after %v, want between %v (the dead holder's lease) and %v", took, ttl*2/3, ttl+ttl/3)
	}
	after, err := st.Lease(ctx, "scheduler")
	if err != nil || after.Owner == before.Owner || after.Epoch != before.Epoch+1 {
		t.Errorf("after the takeover Lease = %+v, %v; want another owner than %s, epoch %d", after, err, before.Owner, before.Epoch+1)
	}
	if !strings.Contains(b.logs.String(), "became leader for scheduler") {
		t.Errorf("b's log does not say it became leader:\n%s", b.logs.String())
	}

	// A clean stop hands over at once.
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Wait(); err != nil {
		t.Errorf("b after SIGTERM: %v\n%s", err, b.logs.String())
	}
	if li, err := st.Lease(ctx, "scheduler"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after SIGTERM Lease = %+v, %v; want released", li, err)
	}
}
