package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite golden files")

// binary is the real breakglass binary, built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "breakglass-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "breakglass")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building breakglass: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

var logsDir = filepath.Join("..", "..", "internal", "logs", "testdata")

func inputs(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(logsDir, n))
	}
	return out
}

// volatile masks what changes from run to run: detection time and timing.
var volatile = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`"detected":"[^"]*"`), `"detected":"<now>"`},
	// An alert on a record without a usable time carries the ingest time.
	{regexp.MustCompile(`("event_time_unknown":true[^\n]*"event_time":)"[^"]*"`), `$1"<now>"`},
	{regexp.MustCompile(`in [0-9.]+[µnm]?s \([^)]*\)`), `in <elapsed>`},
}

func mask(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.repl)
	}
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file (run with -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var goldenInputs = inputs("graph-signin-beta-page.json", "graph-audit-page.json", "PT1H.json.gz", "la-auditlogs.csv", "mixed.ndjson", "bad-mixed.ndjson")

func TestScanGolden(t *testing.T) {
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			args := append([]string{"scan", "--config", "testdata/scan.yaml", "--no-store", "--workers", "1", "--format", format}, goldenInputs...)
			r := runBinary(t, nil, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			golden(t, "scan."+format, mask(r.stdout))
			golden(t, "scan."+format+".stderr", mask(r.stderr))
			if format == "json" {
				for i, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("line %d not JSON: %v", i+1, err)
					}
					for _, k := range []string{"rule", "severity", "title", "account_id", "account_upn", "event_id", "event_time", "category", "source"} {
						if _, ok := m[k]; !ok {
							t.Errorf("line %d lacks %q: %s", i+1, k, line)
						}
					}
				}
			}
		})
	}
}

func TestScanVerboseNamesPlaces(t *testing.T) {
	r := runBinary(t, nil, append([]string{"scan", "-c", "testdata/scan.yaml", "--no-store", "--verbose"}, inputs("bad-mixed.ndjson")...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"bad-mixed.ndjson:2 ", "bad-mixed.ndjson:3 ", "bad-mixed.ndjson:4 ", "bad_field", "invalid_json", "truncated", "properties.userId"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("verbose output lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestScanTwiceSameStore: scanning mixed input twice into one store yields
// each alert exactly once, across both runs and in the store.
func TestScanTwiceSameStore(t *testing.T) {
	dir := t.TempDir()
	env := []string{"BREAKGLASS_TEST_DIR=" + dir}
	args := append([]string{"scan", "-c", "testdata/scan.yaml", "--format", "json"}, goldenInputs...)
	first := runBinary(t, env, args...)
	second := runBinary(t, env, args...)
	if first.code != 0 || second.code != 0 {
		t.Fatalf("exit codes %d, %d: %s %s", first.code, second.code, first.stderr, second.stderr)
	}
	ids := map[string]int{}
	for _, out := range []string{first.stdout, second.stdout} {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var a struct{ ID string }
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatal(err)
			}
			ids[a.ID]++
		}
	}
	if len(ids) == 0 {
		t.Fatal("no alerts at all")
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("alert %s reported %d times", id, n)
		}
	}
	if second.stdout != "" {
		t.Errorf("second scan reported alerts again:\n%s", second.stdout)
	}
	if !strings.Contains(second.stderr, fmt.Sprintf("alerts: 0 new, %d already known", len(ids)+1)) {
		// +1: mixed.ndjson holds one record in two shapes.
		t.Errorf("second summary: %s", second.stderr)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "scan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(ids) {
		t.Errorf("store holds %d alerts, want %d", len(stored), len(ids))
	}
	for _, a := range stored {
		ev, err := st.Evidence(context.Background(), a.EventID)
		if err != nil || len(ev.Raw) == 0 {
			t.Errorf("alert %s has no evidence: %v", a.ID, err)
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"version", []string{"version"}, 0, ""},
		{"unknown flag", []string{"scan", "--bogus"}, 2, "unknown flag"},
		{"no config", []string{"scan", "--no-store", "x"}, 2, "config"},
		{"bad format", []string{"scan", "-c", "testdata/scan.yaml", "--format", "xml", "x"}, 2, "--format"},
		{"no input", []string{"scan", "-c", "testdata/scan.yaml"}, 2, "no input"},
		{"missing file", []string{"scan", "-c", "testdata/scan.yaml", "--no-store", "does-not-exist.json"}, 2, "does-not-exist.json"},
		{"fail on alert", append([]string{"scan", "-c", "testdata/scan.yaml", "--no-store", "--fail-on-alert"}, inputs("PT1H.json")...), 3, "new alerts"},
		{"clean input", append([]string{"scan", "-c", "testdata/scan.yaml", "--no-store", "--fail-on-alert"}, inputs("empty.json")...), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr+r.stdout, tt.msg) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", r.code, tt.code, tt.msg, r.stdout, r.stderr)
			}
		})
	}
}

func TestScanStdin(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(logsDir, "PT1H.json"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "scan", "-c", "testdata/scan.yaml", "--no-store", "--format", "json", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	// Three rule alerts and bg.unparsed for the ProvisioningLogs record naming an account.
	if n := strings.Count(string(out), "\n"); n != 4 || !strings.Contains(string(out), `"source":"stdin:1"`) {
		t.Errorf("stdin scan gave %d alerts:\n%s", n, out)
	}
}
