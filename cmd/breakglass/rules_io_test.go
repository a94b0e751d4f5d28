package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rulesioData = filepath.Join("..", "..", "internal", "rulesio", "testdata")

// TestRulesExportCLI runs the built binary: the template on stdout equals
// the package's golden file, problems go to stderr, exit codes follow the
// conventions.
func TestRulesExportCLI(t *testing.T) {
	full := filepath.Join(rulesioData, "export", "full.yaml")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		golden string // file whose content stdout must equal
		stderr string
	}{
		{"arm", []string{"rules", "export", "-c", full}, 1, "full.arm.json", "rule not exported"},
		{"bicep", []string{"rules", "export", "-c", full, "--format", "bicep"}, 1, "full.bicep", "type slack: Azure action groups have no such receiver"},
		{"bad format", []string{"rules", "export", "-c", full, "--format", "yaml"}, 2, "", "use arm or bicep"},
		{"no config", []string{"rules", "export", "-c", "/nonexistent.yaml"}, 2, "", "/nonexistent.yaml"},
		{"stray arg", []string{"rules", "export", "-c", full, "x"}, 2, "", "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if tc.golden != "" {
				want, err := os.ReadFile(filepath.Join(rulesioData, "export", tc.golden))
				if err != nil {
					t.Fatal(err)
				}
				if r.stdout != string(want) {
					t.Errorf("stdout is not %s:\n%s", tc.golden, r.stdout)
				}
			}
			for _, s := range []string{"SECRETSIG", "0123456789abcdef", "test-token-not-real"} {
				if strings.Contains(r.stdout+r.stderr, s) {
					t.Errorf("a secret (%s) is printed", s)
				}
			}
		})
	}
}

// TestRulesImportCLI: exit 0 when all carried over, 1 when something was
// not, 2 for unreadable input (with the place), and the round trip
// through the binary: export, import, same rules.
func TestRulesImportCLI(t *testing.T) {
	imp := filepath.Join(rulesioData, "import")
	r := runBinary(t, nil, "rules", "import", filepath.Join(imp, "sentinel_mfa_short.yaml"))
	if r.code != 0 || !strings.HasPrefix(r.stdout, "rules:\n") || !strings.Contains(r.stderr, "every one carried over") {
		t.Fatalf("clean import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, nil, "rules", "import", filepath.Join(imp, "sentinel_nrt.yaml"), filepath.Join(imp, "arm_2018_bare.json"))
	if r.code != 1 || !strings.Contains(r.stdout, "NOT CARRIED OVER: incidentConfiguration") || !strings.Contains(r.stderr, "2 lost something") {
		t.Fatalf("lossy import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, nil, "rules", "import", "--format", "json", filepath.Join(imp, "sentinel_hunting.yaml"))
	var out []struct {
		Rule struct {
			Name string `json:"name"`
		} `json:"rule"`
		Parses  bool `json:"parses"`
		Carried bool `json:"carried_over"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || len(out) != 1 || out[0].Parses || out[0].Carried {
		t.Fatalf("json import: exit %d, %v, %+v\n%s", r.code, err, out, r.stderr)
	}
	bad := filepath.Join(rulesioData, "bad")
	for _, tc := range []struct{ file, want string }{
		{"trailing_comma.json", "trailing_comma.json:3:"},
		{"dup_key.yaml", `dup_key.yaml:3: key "name" appears twice`},
	} {
		r := runBinary(t, nil, "rules", "import", filepath.Join(imp, "sentinel_mfa_short.yaml"), filepath.Join(bad, tc.file))
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %s", tc.file, r.code, r.stdout, r.stderr)
		}
	}
	if r := runBinary(t, nil, "rules", "import"); r.code != 2 {
		t.Errorf("no file: exit %d", r.code)
	}

	// Round trip through the binary.
	dir := t.TempDir()
	exp := runBinary(t, nil, "rules", "export", "-c", filepath.Join(rulesioData, "export", "escapes.yaml"))
	if exp.code != 0 {
		t.Fatalf("export: exit %d\n%s", exp.code, exp.stderr)
	}
	arm := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(arm, []byte(exp.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	back := runBinary(t, nil, "rules", "import", arm)
	if back.code != 0 {
		t.Fatalf("import of the export: exit %d\n%s%s", back.code, back.stdout, back.stderr)
	}
	cfg := filepath.Join(dir, "pasted.yaml")
	if err := os.WriteFile(cfg, []byte("accounts:\n  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee\n"+back.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	again := runBinary(t, nil, "rules", "export", "-c", cfg)
	// The pasted configuration has no notify: groups, so the rule
	// reaches no action group (exit 1); the rule itself is the same.
	ruleProps := func(out string) string {
		var tmpl struct {
			Resources []map[string]any `json:"resources"`
		}
		if err := json.Unmarshal([]byte(out), &tmpl); err != nil {
			t.Fatal(err)
		}
		for _, r := range tmpl.Resources {
			if r["type"] == "Microsoft.Insights/scheduledQueryRules" {
				p := r["properties"].(map[string]any)
				delete(p, "actions")
				b, _ := json.Marshal(p)
				return string(b)
			}
		}
		t.Fatal("no rule in the export")
		return ""
	}
	if a, b := ruleProps(exp.stdout), ruleProps(again.stdout); a != b {
		t.Errorf("export → import → export changed the rule:\n%s\n%s", a, b)
	}
}
