package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanExpectations runs the binary: expect: in the file reaches
// detection, and the same sign-in from the approved workstation and from
// another device gives a plain and an EXPECTATION BROKEN alert.
func TestScanExpectations(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "breakglass.yaml")
	if err := os.WriteFile(cfg, []byte(`accounts:
  - id: 4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b
    upn: bg-admin1@contoso.onmicrosoft.com
expect:
  devices: [3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	signIn := func(id, dev string) string {
		return `{"id":"` + id + `","createdDateTime":"2026-07-18T06:30:12Z","userId":"4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b","userPrincipalName":"bg-admin1@contoso.onmicrosoft.com","status":{"errorCode":0},"deviceDetail":{"deviceId":"` + dev + `"}}`
	}
	in := filepath.Join(dir, "signins.json")
	if err := os.WriteFile(in, []byte(`{"value":[`+signIn("a1b2c3d4-0000-4000-8000-00000000f001", "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")+","+
		signIn("a1b2c3d4-0000-4000-8000-00000000f002", "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, nil, "scan", "--config", cfg, "--no-store", "--format", "json", in)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	titles := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var a struct {
			EventID string            `json:"event_id"`
			Title   string            `json:"title"`
			Labels  map[string]string `json:"labels"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		titles[a.EventID] = a.Title + " [" + a.Labels["expectation"] + "]"
	}
	if got := titles["a1b2c3d4-0000-4000-8000-00000000f001"]; got != "Break-glass account sign-in (success) - expected use, every expectation held [held]" {
		t.Errorf("approved workstation: title %q", got)
	}
	if got := titles["a1b2c3d4-0000-4000-8000-00000000f002"]; !strings.HasSuffix(got, "EXPECTATION BROKEN: unapproved device [broken]") {
		t.Errorf("other device: title %q", got)
	}

	// config check shows the effective expect of the account.
	r = runBinary(t, nil, "config", "check", "--config", cfg)
	if r.code != 0 || strings.Count(r.stdout, "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b") != 2 {
		t.Errorf("config check: exit %d, want the device in the account and the global expect:\n%s%s", r.code, r.stdout, r.stderr)
	}
}
