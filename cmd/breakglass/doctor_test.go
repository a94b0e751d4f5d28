package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorCommand: the binary's exit codes and formats. A store and a
// console channel that are fine exit 0 (json parses, every result ok or
// skip); an unreachable SMTP server exits 1 naming the channel; an
// invalid configuration and a bad flag exit 2.
func TestDoctorCommand(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "a.json"), []byte("{}\n"), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	write := func(name, channels string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(fmt.Sprintf(`accounts:
  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70
store:
  path: %s
server:
  listen: 127.0.0.1:0
sources:
  - type: file
    path: %s
notify:
  groups:
    - name: oncall
      channels:
%s`, filepath.Join(dir, "data", name+".db"), logs, channels)), 0o600)
		return p
	}
	green := write("green.yaml", "        - type: console\n")
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "doctor", "-c", green, "--format", "json")
	if r.code != 0 {
		t.Fatalf("green: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		OK      bool
		Results []struct{ Check, Item, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.OK || len(rep.Results) == 0 {
		t.Fatalf("green: json %v: %s", err, r.stdout)
	}
	for _, res := range rep.Results {
		// No store yet: serve creates it (a warning, not a failure).
		if res.Status == "fail" {
			t.Errorf("green: %s %s failed: %s", res.Check, res.Item, res.Detail)
		}
	}
	if !strings.Contains(r.stderr, "doctor: checking store") {
		t.Errorf("no progress on stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "green.yaml.db")); err == nil {
		t.Error("doctor created the store")
	}

	smtp := write("smtp.yaml", fmt.Sprintf("        - type: email\n          host: 127.0.0.1\n          port: %d\n          from: bg@contoso.com\n          to: [oncall@contoso.com]\n", closed))
	r = runBinary(t, []string{"BREAKGLASS_CONFIG="}, "doctor", "-c", smtp)
	if r.code != 1 || !strings.Contains(r.stdout, "[FAIL] channels: oncall/email (email) dry run") ||
		!strings.Contains(r.stdout, fmt.Sprintf("cannot connect to 127.0.0.1:%d", closed)) || !strings.Contains(r.stderr, "findings failed") {
		t.Errorf("unreachable SMTP: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("accounts: []\nbogus: 1\n"), 0o600)
	r = runBinary(t, []string{"BREAKGLASS_CONFIG="}, "doctor", "-c", bad)
	if r.code != 2 || !strings.Contains(r.stdout, "[FAIL] config") || !strings.Contains(r.stdout, "bogus") {
		t.Errorf("invalid config: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"doctor", "-c", green, "--format", "xml"}, {"doctor"}, {"doctor", "-c", green, "extra"}, {"doctor", "-c", green, "--severity", "9"}} {
		if r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2:\n%s", args, r.code, r.stderr)
		}
	}
}
