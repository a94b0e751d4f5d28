package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/evidence"
)

// TestDemoConfigAlerts runs examples/demo.yaml as `make demo` does (from the
// repository root, so its relative path examples/logs is resolved against
// the working directory) and checks that every example file raises its
// alerts on the console. `make demo` once read nothing at all (a relative
// followed path was refused by the symlink check) and no test noticed.
func TestDemoConfigAlerts(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	data := t.TempDir()
	t.Setenv("BREAKGLASS_DATA", data)
	t.Setenv("BREAKGLASS_INGEST_TOKEN", "demo-token")
	t.Setenv("BREAKGLASS_ACK_SECRET", "")
	// The demo's email channel goes to its mail sink, not run here: a port
	// nothing listens on, so this test never mails another test's sink.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BREAKGLASS_DEMO_SMTP_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	ln.Close()
	// scripts/demo.sh makes the evidence signing key before serve starts.
	_, key, err := evidence.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := evidence.PrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "demo-evidence.key"), pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := loadCfg(t, filepath.Join("examples", "demo.yaml"))
	// The demo's fixed ports could be taken on a shared machine.
	cfg.Server.Listen = "127.0.0.1:0"
	for i := range cfg.Sources {
		if cfg.Sources[i].Listen != "" {
			cfg.Sources[i].Listen = "127.0.0.1:0"
		}
	}
	entries, err := os.ReadDir(filepath.Join("examples", "logs"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("examples/logs: %d files, %v", len(entries), err)
	}
	r := start(t, cfg, Options{})
	waitFor(t, 10*time.Second, "an alert from every example file", func() bool {
		out := r.out.String()
		for _, e := range entries {
			if !strings.Contains(out, "source="+filepath.Join("examples", "logs", e.Name())+":") {
				return false
			}
		}
		return true
	}, func() string { return r.out.String() + r.logs.String() })
	if n := strings.Count(r.out.String(), " FIRING "); n < 10 {
		t.Errorf("%d alerts on the console, want the example's dozen:\n%s", n, r.out.String())
	}
}
