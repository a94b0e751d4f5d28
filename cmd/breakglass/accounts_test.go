package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/entra"
)

const accountsCfg = `accounts:
  - id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
    upn: bg1@contoso.onmicrosoft.com
    name: Break-glass 1
  - upn: bg2@contoso.onmicrosoft.com
  - group: 5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f
`

var accountsSnapshot = filepath.Join("..", "..", "internal", "accountlist", "testdata", "snapshot")

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAccountsExportImport: each format the command exports and imports
// gives the configured list back through the binary, and the printed block
// loads as configuration.
func TestAccountsExportImport(t *testing.T) {
	cfg := writeTemp(t, "bg.yaml", accountsCfg)
	want := map[string][]entra.Account{
		"maester":   {{ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", UPN: "bg1@contoso.onmicrosoft.com"}, {UPN: "bg2@contoso.onmicrosoft.com"}, {Group: "5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"}},
		"scubagear": {{ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}, {ID: "9b2e7c1a-5d4f-4e3b-8a6c-1f0e2d3c4b5a"}, {Group: "5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"}},
	}
	want["zta"] = want["maester"]
	for format, accounts := range want {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "list")
			r := runBinary(t, nil, "accounts", "export", "-c", cfg, "--format", format, "--snapshot", accountsSnapshot, "--output", out)
			if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "wrote 3 entries as "+format+" to "+out) {
				t.Fatalf("export: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = runBinary(t, nil, "accounts", "import", "--from", format, out)
			if r.code != 0 {
				t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
			}
			got, err := config.Parse("printed", []byte(r.stdout), nil)
			if err != nil {
				t.Fatalf("printed block does not load: %v\n%s", err, r.stdout)
			}
			if !reflect.DeepEqual(got.Accounts, accounts) {
				t.Errorf("got %+v\nwant %+v\n%s", got.Accounts, accounts, r.stdout)
			}
		})
	}
	// To standard output, a watchlist of the users, the group expanded.
	r := runBinary(t, nil, "accounts", "export", "-c", cfg, "--format", "sentinel-watchlist", "--snapshot", accountsSnapshot)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 4 || !strings.HasPrefix(r.stdout, "User Principal Name,User AAD Object Id,UserPrincipalName,UserId,Tags\n") {
		t.Errorf("watchlist: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestAccountsErrors(t *testing.T) {
	cfg := writeTemp(t, "bg.yaml", accountsCfg)
	badCfg := writeTemp(t, "bad.yaml", "accounts:\n  - group: nope\n")
	otherTenant := writeTemp(t, "t.yaml", "tenant_id: 99999999-2222-3333-4444-555555555555\n"+accountsCfg)
	malformed := writeTemp(t, "m.json", "{\"GlobalSettings\": {\"EmergencyAccessAccounts\": [\n  {\"Id\": \"nope\", \"Type\": \"User\"},\n  {\"Type\": \"Robot\", \"Id\": \"3f2504e0-4f89-11d3-9a0c-0305e82c3301\"}]}}")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no format", []string{"accounts", "export", "-c", cfg}, 2, "--format: required: one of maester, scubagear, sentinel-watchlist, zta"},
		{"unknown format", []string{"accounts", "export", "-c", cfg, "--format", "csv"}, 2, `--format "csv": not one of`},
		{"bad config", []string{"accounts", "export", "-c", badCfg, "--format", "maester"}, 2, "bad.yaml:2: accounts[0].group: not a GUID"},
		{"needs a snapshot", []string{"accounts", "export", "-c", cfg, "--format", "scubagear"}, 2, "accounts[1] (bg2@contoso.onmicrosoft.com): ScubaGear takes object ids only"},
		{"group needs a snapshot", []string{"accounts", "export", "-c", cfg, "--format", "sentinel-watchlist"}, 2, "accounts[2] (group 5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f): a watchlist lists users"},
		{"no snapshot there", []string{"accounts", "export", "-c", cfg, "--format", "scubagear", "--snapshot", "/nonexistent"}, 2, "--snapshot: /nonexistent: no manifest.json"},
		{"snapshot of another tenant", []string{"accounts", "export", "-c", otherTenant, "--format", "scubagear", "--snapshot", accountsSnapshot}, 2, "is of tenant 11111111-2222-3333-4444-555555555555, but"},
		{"unwritable output", []string{"accounts", "export", "-c", cfg, "--format", "maester", "--output", "/nonexistent/dir/m.json"}, 1, "--output /nonexistent/dir/m.json: directory /nonexistent/dir does not exist"},
		{"import without --from", []string{"accounts", "import", malformed}, 2, "--from: required: one of maester, scubagear, zta"},
		{"import sentinel", []string{"accounts", "import", "--from", "sentinel-watchlist", malformed}, 2, `--from "sentinel-watchlist": not one of maester, scubagear, zta`},
		{"import two files", []string{"accounts", "import", "--from", "maester", malformed, malformed}, 2, "takes one FILE, got 2 arguments"},
		{"import missing file", []string{"accounts", "import", "--from", "maester", "/nonexistent.json"}, 1, "/nonexistent.json"},
		{"import malformed", []string{"accounts", "import", "--from", "maester", malformed}, 2, "m.json: 2 problems:\n" + malformed + ":2:4: GlobalSettings.EmergencyAccessAccounts[0].Id: not a GUID (expected the user's object id; a UPN goes in UserPrincipalName)\n" + malformed + ":3:3: GlobalSettings.EmergencyAccessAccounts[1].Type: must be User or Group"},
		{"unknown subcommand", []string{"accounts", "exprot"}, 2, `Did you mean "export"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s%s", r.code, tt.code, tt.msg, r.stdout, r.stderr)
			}
			if tt.code != 0 && r.stdout != "" {
				t.Errorf("output on failure:\n%s", r.stdout)
			}
		})
	}
}

// TestAccountsImportNotes: what needs a person's judgement is printed next
// to the account it concerns, and counted on stderr.
func TestAccountsImportNotes(t *testing.T) {
	scuba := writeTemp(t, "scuba.yaml", `Aad:
  MS.AAD.1.1v1:
    CapExclusions:
      Users: [3f2504e0-4f89-11d3-9a0c-0305e82c3301, 9b2e7c1a-5d4f-4e3b-8a6c-1f0e2d3c4b5a]
  MS.AAD.3.1v1:
    CapExclusions:
      Users: [3f2504e0-4f89-11d3-9a0c-0305e82c3301]
`)
	r := runBinary(t, nil, "accounts", "import", "--from", "scubagear", scuba)
	want := `# Break-glass accounts imported from scuba.yaml (scubagear) by breakglass accounts import.
# Paste into the configuration in place of its accounts: list.
accounts:
  - id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
  # check: only 1 of 2 exclusion lists name it (not MS.AAD.3.1v1 CapExclusions): check that it is a break-glass account
  - id: 9b2e7c1a-5d4f-4e3b-8a6c-1f0e2d3c4b5a
`
	if r.code != 0 || r.stdout != want || !strings.Contains(r.stderr, "1 thing to check before pasting") {
		t.Errorf("exit %d\n--- got ---\n%s--- want ---\n%s%s", r.code, r.stdout, want, r.stderr)
	}
}
