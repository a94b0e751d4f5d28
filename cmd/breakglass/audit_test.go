package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"breakglass/internal/config"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/posture"
	"breakglass/internal/report"
)

// The bundled example: examples/breakglass.yaml's accounts, and a snapshot
// of a tenant where bg-admin1 is set up right and bg-admin2 is not.
var (
	exampleConfig   = filepath.Join("..", "..", "examples", "breakglass.yaml")
	exampleSnapshot = filepath.Join("..", "..", "examples", "snapshot")
)

const (
	exampleGood = "bg-admin1@contoso.onmicrosoft.com"
	exampleBad  = "bg-admin2@contoso.onmicrosoft.com"
)

// exampleArgs audits the example as of the day after it was collected, as
// make demo does: its verdicts do not change with the calendar.
func exampleArgs() []string {
	return []string{"-c", exampleConfig, "--snapshot", exampleSnapshot, "--as-of", "2026-12-01"}
}

func auditJSON(t *testing.T, args ...string) (*posture.Report, result) {
	t.Helper()
	r := runBinary(t, []string{"BREAKGLASS_CONFIG=", "NO_COLOR="}, append([]string{"audit", "--format", "json"}, args...)...)
	var rep posture.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("audit --format json: %v (exit %d)\n%s\n%s", err, r.code, r.stdout, r.stderr)
	}
	return &rep, r
}

// TestAuditExampleSnapshot: the bundled example is what it claims to be:
// bg-admin1 has no failing result, bg-admin2 fails the checks its snapshot
// breaks, and the default --fail-on high exits 1 for it.
func TestAuditExampleSnapshot(t *testing.T) {
	rep, r := auditJSON(t, exampleArgs()...)
	if r.code != exitFindings {
		t.Errorf("exit %d, want %d (bg-admin2 fails high checks):\n%s", r.code, exitFindings, r.stderr)
	}
	if !strings.Contains(r.stderr, "failing result") || !strings.Contains(r.stderr, exampleBad) {
		t.Errorf("stderr does not name the failing results:\n%s", r.stderr)
	}
	if rep.Tenant.ID == "" || rep.Source != "snapshot "+exampleSnapshot || len(rep.Results) == 0 {
		t.Fatalf("report: tenant %+v, source %q, %d results", rep.Tenant, rep.Source, len(rep.Results))
	}
	badFails := map[string]bool{}
	for _, res := range rep.Results {
		switch res.AccountUPN {
		case exampleGood:
			if res.Status == posture.StatusFail || res.Status == posture.StatusError {
				t.Errorf("compliant %s: %s is %s: %s", exampleGood, res.Check, res.Status, res.Message)
			}
		case exampleBad:
			if res.Status == posture.StatusFail {
				badFails[res.Check] = true
			}
		}
	}
	for _, check := range []string{"cloud-only", "permanent-global-admin", "phishing-resistant-credential", "password-expiry"} {
		if _, registered := posture.Lookup(check); registered && !badFails[check] {
			t.Errorf("broken %s does not fail %s (fails: %v)", exampleBad, check, badFails)
		}
	}
	if len(badFails) < 3 {
		t.Errorf("broken %s fails only %v", exampleBad, badFails)
	}
}

// TestAuditExitCodes: 0 below --fail-on, 1 at or above it, 2 for every
// usage, configuration and collection error, through the binary.
func TestAuditExitCodes(t *testing.T) {
	dir := t.TempDir()
	// A snapshot cut short: the manifest promises more items than a file has.
	cut := filepath.Join(dir, "cut")
	copyDir(t, exampleSnapshot, cut)
	os.WriteFile(filepath.Join(cut, "domains.json"), []byte(`{"value":[]}`), 0o644)
	noGraph := filepath.Join(dir, "nograph.yaml")
	os.WriteFile(noGraph, []byte("accounts:\n  - upn: bg-admin1@contoso.onmicrosoft.com\n"), 0o600)
	// Graph configured, but nothing listens there: collection cannot start.
	down := filepath.Join(dir, "down.yaml")
	os.WriteFile(down, []byte("accounts:\n  - upn: bg-admin1@contoso.onmicrosoft.com\ngraph:\n  auth: access_token\n  base_url: http://127.0.0.1:1\n"), 0o600)

	// A snapshot in which Graph refused everything: every check skips.
	refused := filepath.Join(dir, "refused")
	if err := os.MkdirAll(refused, 0o755); err != nil {
		t.Fatal(err)
	}
	var man map[string]any
	raw, err := os.ReadFile(filepath.Join(exampleSnapshot, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	var failed []any
	for _, d := range man["datasets"].([]any) {
		name := d.(map[string]any)["name"]
		failed = append(failed, map[string]any{"name": name, "endpoint": d.(map[string]any)["endpoint"], "status": 403, "code": "Authorization_RequestDenied", "reason": "permission"})
	}
	man["datasets"], man["failed"], man["unresolved"] = []any{}, failed, []any{}
	raw, _ = json.Marshal(man)
	if err := os.WriteFile(filepath.Join(refused, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}

	twoAccounts := filepath.Join(dir, "two.yaml")
	os.WriteFile(twoAccounts, []byte("accounts:\n  - upn: bg-admin1@contoso.onmicrosoft.com\n  - upn: bg-admin2@contoso.onmicrosoft.com\n"), 0o600)

	snap := exampleArgs()
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"findings at the default high", snap, 1, "at or above high"},
		{"findings, fail-on critical", append(snap, "--fail-on", "critical"), 1, "at or above critical"},
		{"fail-on none", append(snap, "--fail-on", "none"), 0, ""},
		{"everything skipped", []string{"-c", twoAccounts, "--snapshot", refused, "--fail-on", "none"}, 2, "nothing could be judged"},
		{"unknown format", append(snap, "--format", "pdf"), 2, `--format: unknown format "pdf"`},
		{"unknown fail-on", append(snap, "--fail-on", "severe"), 2, `--fail-on: unknown severity "severe"`},
		{"info is not a threshold", append(snap, "--fail-on", "info"), 2, "--fail-on"},
		{"unknown flag", append(snap, "--bogus"), 2, "unknown flag"},
		{"bad as-of", append(snap, "--as-of", "yesterday"), 2, `--as-of "yesterday": want YYYY-MM-DD`},
		{"stray argument", append(snap, "extra"), 2, "takes no arguments"},
		{"no config", []string{"--snapshot", exampleSnapshot}, 2, "BREAKGLASS_CONFIG"},
		{"missing config", []string{"-c", filepath.Join(dir, "none.yaml"), "--snapshot", exampleSnapshot}, 2, "none.yaml"},
		{"not a snapshot", []string{"-c", exampleConfig, "--snapshot", dir}, 2, "no manifest.json"},
		{"snapshot cut short", []string{"-c", exampleConfig, "--snapshot", cut}, 2, "dataset domains: 0 items, the manifest says"},
		{"output is a directory", append(snap, "--output", dir), 2, "is a directory"},
		{"output directory missing", append(snap, "--output", filepath.Join(dir, "no", "such", "r.txt")), 2, "r.txt: directory " + filepath.Join(dir, "no", "such") + " does not exist"},
		{"live without graph", []string{"-c", noGraph}, 2, "no graph: section"},
		{"live, Graph unreachable", []string{"-c", down}, 2, "collection stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG=", "BREAKGLASS_GRAPH_TOKEN=test-token"}, append([]string{"audit"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", r.code, tt.code, tt.msg, r.stderr)
			}
			if tt.code == 2 && r.stdout != "" {
				t.Errorf("exit 2 with a report on stdout:\n%s", r.stdout)
			}
		})
	}
}

// TestAuditFormats: every format through the command, each parsed the way
// its consumer would.
func TestAuditFormats(t *testing.T) {
	want, _ := auditJSON(t, append(exampleArgs(), "--fail-on", "none")...)
	for _, format := range formatNames() {
		t.Run(format, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG=", "NO_COLOR="}, append([]string{"audit", "--fail-on", "none", "--format", format}, exampleArgs()...)...)
			if r.code != 0 || r.stdout == "" {
				t.Fatalf("exit %d, %d bytes:\n%s", r.code, len(r.stdout), r.stderr)
			}
			out := r.stdout
			switch format {
			case "json":
				var rep posture.Report
				if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Results) != len(want.Results) {
					t.Errorf("json: %v, %d results", err, len(rep.Results))
				}
			case "sarif":
				var log struct {
					Version string
					Runs    []struct{ Results []json.RawMessage }
				}
				if err := json.Unmarshal([]byte(out), &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
					t.Errorf("sarif: %v, version %q", err, log.Version)
				} else if n := want.Summary.Total - want.Summary.Pass; len(log.Runs[0].Results) != n {
					t.Errorf("sarif: %d results, want %d (all but the passes)", len(log.Runs[0].Results), n)
				}
				if err := validateSARIF(t, []byte(out)); err != nil {
					t.Errorf("the example's SARIF does not validate against SARIF 2.1.0: %v", err)
				}
			case "junit":
				var doc struct {
					Tests    int `xml:"tests,attr"`
					Failures int `xml:"failures,attr"`
				}
				if err := xml.Unmarshal([]byte(out), &doc); err != nil || doc.Tests != want.Summary.Total || doc.Failures != want.Summary.Fail {
					t.Errorf("junit: %v, %+v, summary %+v", err, doc, want.Summary)
				}
			case "html":
				if !strings.Contains(strings.ToLower(out), "<html") || !strings.Contains(out, exampleBad) {
					t.Errorf("html report lacks the page or the account")
				}
			default:
				if !strings.Contains(out, exampleGood) || !strings.Contains(out, exampleBad) {
					t.Errorf("%s report lacks the accounts:\n%s", format, out)
				}
				if strings.Contains(out, "\x1b[") {
					t.Errorf("%s: colour when stdout is not a terminal", format)
				}
			}
		})
	}
	if len(formatNames()) < 5 {
		t.Errorf("formats registered: %v", formatNames())
	}
}

// TestAuditOutputFile: --output writes the report, replacing an old one
// whole, leaves no temporary file, prints nothing on stdout and keeps the
// exit code of the findings.
func TestAuditOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "audit.md")
	os.WriteFile(out, []byte("old report"), 0o644)
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, append([]string{"audit", "--format", "markdown", "--output", out}, exampleArgs()...)...)
	if r.code != exitFindings || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q:\n%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(b), "# Break-glass posture audit") {
		t.Fatalf("%s: %v\n%.200s", out, err, b)
	}
	if !strings.Contains(r.stderr, "report: "+out) {
		t.Errorf("stderr does not name the file:\n%s", r.stderr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left beside the report: %v", entries)
	}
}

// TestAuditLive: without --snapshot the command collects from Graph (here a
// loopback server that knows one account and refuses one dataset), reports
// progress on stderr, and audits what it collected: the refused data is
// skipped with the reason, the unknown account is an error, never a pass.
func TestAuditLive(t *testing.T) {
	const bg1 = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	gs := graphtest.New(t)
	gs.Collection("/v1.0/organization", []any{map[string]any{"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "displayName": "Contoso"}}, 10)
	gs.Object("/v1.0/users/"+bg1, map[string]any{"id": bg1, "userPrincipalName": exampleGood, "accountEnabled": true})
	gs.Fail("/v1.0/users/ghost@contoso.onmicrosoft.com", http.StatusNotFound, 100, "", graphtest.GraphError("Request_ResourceNotFound", "Resource 'ghost@contoso.onmicrosoft.com' does not exist."))
	gs.Fail("/v1.0/identity/conditionalAccess/policies", http.StatusForbidden, 100, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("accounts:\n  - id: %s\n  - upn: ghost@contoso.onmicrosoft.com\ngraph:\n  auth: access_token\n  base_url: %s\n", bg1, gs.URL)), 0o600)

	r := runBinary(t, []string{"BREAKGLASS_CONFIG=", "BREAKGLASS_GRAPH_TOKEN=test-token"}, "audit", "-c", cfg, "--format", "json", "--fail-on", "none")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "reading the tenant from Microsoft Graph") || !strings.Contains(r.stderr, "conditional_access_policies unavailable") {
		t.Errorf("no collection progress on stderr:\n%s", r.stderr)
	}
	var rep posture.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Source != "Microsoft Graph (live)" {
		t.Errorf("source %q", rep.Source)
	}
	var ghost, caSkipped bool
	for _, res := range rep.Results {
		if res.AccountUPN == "ghost@contoso.onmicrosoft.com" && res.Status == posture.StatusPass {
			t.Errorf("unresolved account passes %s", res.Check)
		}
		if res.Check == "accounts" && res.Status == posture.StatusError && strings.Contains(res.Message, "ghost@contoso.onmicrosoft.com") {
			ghost = true
		}
		if res.Check == "conditional-access" {
			if res.Status == posture.StatusPass {
				t.Errorf("conditional-access passes with the policies refused: %s", res.Message)
			}
			if res.Status == posture.StatusSkip && strings.Contains(res.Message, "conditional_access_policies") {
				caSkipped = true
			}
		}
	}
	if _, ok := posture.Lookup("accounts"); ok && !ghost {
		t.Errorf("the unresolved entry is not an accounts error")
	}
	if _, ok := posture.Lookup("conditional-access"); ok && !caSkipped {
		t.Errorf("conditional-access is not skipped with the refusal as the reason")
	}
	for _, req := range gs.Requests() {
		if req.Method != http.MethodGet {
			t.Errorf("%s %s sent to Graph", req.Method, req.Path)
		}
	}
}

// TestDemoScriptWritesAudit runs scripts/demo.sh as make demo does, up to
// the point where it would start the daemon: it must write the HTML audit
// of examples/snapshot under the data directory and print its path.
func TestDemoScriptWritesAudit(t *testing.T) {
	if _, ok := report.Lookup("html"); !ok {
		t.Skip("the html report format is not registered in this build")
	}
	data := t.TempDir()
	cmd := []string{"BIN=" + binary, "BREAKGLASS_DATA=" + data, "BREAKGLASS_DEMO_AUDIT_ONLY=1", "BREAKGLASS_CONFIG="}
	r := runScript(t, filepath.Join("..", ".."), cmd, "scripts/demo.sh")
	if r.code != 0 {
		t.Fatalf("demo.sh exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	path := filepath.Join(data, "demo-audit.html")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("demo did not write the audit: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if !strings.Contains(strings.ToLower(string(b)), "<html") || !strings.Contains(string(b), exampleBad) {
		t.Errorf("%s is not the example's HTML audit", path)
	}
	if !strings.Contains(r.stdout, path) {
		t.Errorf("demo does not print the report's path %s:\n%s", path, r.stdout)
	}
}

// validateSARIF checks a document against the OASIS SARIF 2.1.0 schema
// vendored by the report package's tests.
func validateSARIF(t *testing.T, data []byte) error {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "internal", "report", "testdata", "sarif-schema-2.1.0-rtm.5.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(id, schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(doc)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

func runScript(t *testing.T, dir string, env []string, script string) result {
	t.Helper()
	c := exec.Command("bash", script)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", script, err)
	}
	return result{out.String(), errb.String(), code}
}

// TestExampleSnapshotIsACollectSnapshot: examples/snapshot is what collect
// writes (collect.Load accepts it: manifest, files, counts), decodes
// without a problem, and its accounts are examples/breakglass.yaml's, in
// order: two resolved, the UPN-only legacy entry unresolved.
func TestExampleSnapshotIsACollectSnapshot(t *testing.T) {
	snap, err := collect.Load(exampleSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	ten, err := posture.FromSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(ten.Problems) > 0 {
		t.Errorf("the example snapshot has decoding problems:\n%s", strings.Join(ten.Problems, "\n"))
	}
	cfg, err := config.Load(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(ten.Accounts) != len(cfg.Accounts) {
		t.Fatalf("%d accounts in the snapshot, %d configured: %+v", len(ten.Accounts), len(cfg.Accounts), ten.Accounts)
	}
	for i, a := range cfg.Accounts {
		got := ten.Accounts[i]
		if !strings.EqualFold(got.UPN, a.UPN) || (a.ID != "" && !strings.EqualFold(got.ID, a.ID)) {
			t.Errorf("account %d: snapshot %s/%s, configured %s/%s", i, got.ID, got.UPN, a.ID, a.UPN)
		}
		if got.Resolved != (a.ID != "") {
			t.Errorf("account %d (%s): resolved %v", i, a.UPN, got.Resolved)
		}
	}
}

// TestAuditHonoursConfig: what the configuration says about the audit is
// either applied or refused, never read and ignored. A configuration
// version without these keys refuses them (exit 2, naming the key); one
// with them must apply them: an exception turns bg-admin2's cloud-only
// failure into accepted with its file:line, the Conditional Access mode
// reaches the report, and an exception naming no check is a configuration
// error at its line.
func TestAuditHonoursConfig(t *testing.T) {
	dir := t.TempDir()
	accounts := "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\n    upn: bg-admin1@contoso.onmicrosoft.com\n  - id: 1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d\n    upn: bg-admin2@contoso.onmicrosoft.com\n  - upn: emergency@contoso.onmicrosoft.com\n"
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(accounts+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exc := write("exc.yaml", "exceptions:\n  - check: cloud-only\n    account: bg-admin2@contoso.onmicrosoft.com\n    reason: migration to a cloud account planned\n    accepted_by: alice@contoso.com\n    expires: 2026-12-31\n")
	mode := write("mode.yaml", "audit:\n  conditional_access_mode: phishing-resistant\n")
	unknown := write("unknown.yaml", "exceptions:\n  - check: no-such-check\n    reason: r\n    accepted_by: a\n    expires: 2026-12-31\n")

	run := func(cfg string) (*posture.Report, result) {
		r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "audit", "-c", cfg, "--snapshot", exampleSnapshot, "--as-of", "2026-12-01", "--format", "json", "--fail-on", "none")
		if r.code != 0 {
			return nil, r
		}
		var rep posture.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		return &rep, r
	}
	refused := func(r result, key string) bool { return r.code == exitUsage && strings.Contains(r.stderr, key) }

	rep, r := run(exc)
	if rep == nil {
		t.Fatalf("exceptions: exit %d:\n%s", r.code, r.stderr)
	}
	found := false
	for _, res := range rep.Results {
		if res.Check == "cloud-only" && res.AccountUPN == exampleBad {
			found = true
			if res.Status != posture.StatusAccepted || res.Exception == nil || !strings.Contains(res.Exception.Where, "exc.yaml:") {
				t.Errorf("configured exception not applied: %s %+v", res.Status, res.Exception)
			}
		}
	}
	if !found {
		t.Errorf("no cloud-only result for %s", exampleBad)
	}
	if rep, r = run(mode); rep == nil {
		t.Errorf("audit.conditional_access_mode: exit %d:\n%s", r.code, r.stderr)
	} else if rep.ConditionalAccessMode != posture.CAModePhishingResistant {
		t.Errorf("conditional_access_mode %q reported, configured phishing-resistant", rep.ConditionalAccessMode)
	}
	// The example's exclusion group holds both break-glass accounts: a
	// limit of one member makes exclusion-group fail, so the setting
	// reaches the check.
	exclusionStatus := func(rep *posture.Report) []posture.Status {
		var sts []posture.Status
		for _, res := range rep.Results {
			if res.Check == "exclusion-group" {
				sts = append(sts, res.Status)
			}
		}
		return sts
	}
	base, _ := run(write("base.yaml", ""))
	small, r := run(write("small.yaml", "audit:\n  max_exclusion_group_members: 1\n"))
	if base == nil || small == nil {
		t.Fatalf("max_exclusion_group_members: exit %d:\n%s", r.code, r.stderr)
	}
	if !slices.Contains(exclusionStatus(small), posture.StatusFail) || slices.Contains(exclusionStatus(base), posture.StatusFail) {
		t.Errorf("exclusion-group with the default limit %v, with max_exclusion_group_members 1 %v: want a fail only with the limit of 1",
			exclusionStatus(base), exclusionStatus(small))
	}
	if _, r := run(unknown); !refused(r, "unknown.yaml:") {
		t.Errorf("an exception for an unknown check: exit %d, want 2 at unknown.yaml:line:\n%s", r.code, r.stderr)
	}
}

// TestAuditSnapshotHonoursConfiguredAccounts: a snapshot is audited
// against the configuration's accounts: list. An account configured after
// the snapshot was taken is not in it, and must be reported unresolved
// (error), never silently left out of a passing audit; a snapshot of
// another tenant is refused.
func TestAuditSnapshotHonoursConfiguredAccounts(t *testing.T) {
	dir := t.TempDir()
	const extraUPN = "bg-admin3@contoso.onmicrosoft.com"
	const extraGroup = "5d1f0000-0000-4000-8000-00000000abcd"
	withExtra := filepath.Join(dir, "extra.yaml")
	os.WriteFile(withExtra, []byte("accounts:\n  - upn: bg-admin1@contoso.onmicrosoft.com\n  - upn: "+extraUPN+"\n  - group: "+extraGroup+"\n"), 0o600)
	rep, r := auditJSON(t, "-c", withExtra, "--snapshot", exampleSnapshot, "--as-of", "2026-12-01", "--fail-on", "none")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{extraUPN, extraGroup} {
		found := false
		for _, res := range rep.Results {
			if res.Check == "accounts" && res.Status == posture.StatusError && (strings.EqualFold(res.AccountUPN, want) || strings.EqualFold(res.AccountID, want)) &&
				strings.Contains(res.Message, "not in the snapshot") {
				found = true
			}
		}
		if !found {
			t.Errorf("configured %s, absent from the snapshot, has no accounts error result:\n%s", want, r.stdout)
		}
	}

	otherTenant := filepath.Join(dir, "other.yaml")
	os.WriteFile(otherTenant, []byte("accounts:\n  - upn: bg-admin1@contoso.onmicrosoft.com\ngraph:\n  tenant_id: 11111111-2222-4333-8444-555555555555\n  client_id: 11111111-2222-4333-8444-666666666666\n  auth: access_token\n"), 0o600)
	r = runBinary(t, []string{"BREAKGLASS_CONFIG=", "NO_COLOR="}, "audit", "-c", otherTenant, "--snapshot", exampleSnapshot, "--as-of", "2026-12-01")
	if r.code != 2 || !strings.Contains(r.stderr, "tenant") {
		t.Errorf("a snapshot of another tenant: exit %d, want 2 naming the tenants:\n%s", r.code, r.stderr)
	}
	// The tenant named by the top-level tenant_id: (no graph: section).
	topTenant := filepath.Join(dir, "top.yaml")
	os.WriteFile(topTenant, []byte("tenant_id: 11111111-2222-4333-8444-555555555555\naccounts:\n  - upn: bg-admin1@contoso.onmicrosoft.com\n"), 0o600)
	r = runBinary(t, []string{"BREAKGLASS_CONFIG=", "NO_COLOR="}, "audit", "-c", topTenant, "--snapshot", exampleSnapshot, "--as-of", "2026-12-01")
	if r.code != 2 || !strings.Contains(r.stderr, "is of tenant 7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f") {
		t.Errorf("a snapshot of another tenant (tenant_id:): exit %d, want 2 naming the tenants:\n%s", r.code, r.stderr)
	}
}
