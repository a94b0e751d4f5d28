package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/notify"
)

// hookRecorder is a loopback webhook endpoint that records what it was sent.
type hookRecorder struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (rc *hookRecorder) handler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.mu.Unlock()
		// A failing receiver echoes the request URI: the secret in the
		// URL must not reach the output through it.
		w.WriteHeader(status)
		fmt.Fprintf(w, "rejected %s", r.URL.RequestURI())
	}
}

func (rc *hookRecorder) got() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

// checkDrill asserts that a payload (webhook body or exec stdin) is the
// labelled test notification, not something a receiver could take for a
// real alert.
func checkDrill(t *testing.T, where string, body []byte, wantSev int) {
	t.Helper()
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: payload is not JSON: %v\n%s", where, err, body)
	}
	if p.Labels[notify.LabelTest] == "" {
		t.Errorf("%s: payload lacks the %q label: %v", where, notify.LabelTest, p.Labels)
	}
	if !strings.HasPrefix(p.Title, "TEST:") {
		t.Errorf("%s: title %q does not start with TEST:", where, p.Title)
	}
	if !strings.HasPrefix(p.AlertID, "test-") || !strings.HasPrefix(p.ID, "test-") {
		t.Errorf("%s: ids %q/%q are not synthetic test- ids", where, p.ID, p.AlertID)
	}
	if p.Severity != wantSev {
		t.Errorf("%s: severity %d, want %d", where, p.Severity, wantSev)
	}
	if p.Status != "firing" {
		t.Errorf("%s: status %q, want firing (no resolution is sent)", where, p.Status)
	}
}

type notifyTestSetup struct {
	cfg               string
	ok, failing, slow *hookRecorder
	execOut           string
}

const hookSecret = "s3cr3t-hook-token-4711"

func newNotifyTestSetup(t *testing.T) *notifyTestSetup {
	t.Helper()
	dir := t.TempDir()
	s := &notifyTestSetup{ok: &hookRecorder{}, failing: &hookRecorder{}, slow: &hookRecorder{}, execOut: filepath.Join(dir, "exec-stdin.json")}
	okSrv := httptest.NewServer(s.ok.handler(http.StatusOK))
	t.Cleanup(okSrv.Close)
	failSrv := httptest.NewServer(s.failing.handler(http.StatusInternalServerError))
	t.Cleanup(failSrv.Close)
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.slow.handler(http.StatusOK)(httptest.NewRecorder(), r)
		<-r.Context().Done() // hangs until the client gives up
	}))
	t.Cleanup(slowSrv.Close)
	cfg := fmt.Sprintf(`accounts: [{upn: bg1@contoso.example}]
notify:
  groups:
    - name: drill
      channels:
        - type: webhook
          name: hook
          url: %[1]s/hook
          schema: breakglass
          timeout: 5s
        - type: webhook
          name: broken-hook
          url: %[2]s/hook/%[5]s
          schema: breakglass
          timeout: 5s
        - type: exec
          name: script
          command: [/bin/sh, -c, 'cat > "$1"', sh, %[4]s]
        - type: exec
          name: failing-script
          command: [/bin/sh, -c, 'echo "pager API down" >&2; exit 3']
        - type: console
    - name: good
      channels:
        - type: webhook
          url: %[1]s/good
          schema: breakglass
        - type: exec
          command: [/bin/sh, -c, 'cat >/dev/null']
    - name: slow
      channels:
        - {type: webhook, name: a, url: %[3]s/a, timeout: 1s}
        - {type: webhook, name: b, url: %[3]s/b, timeout: 1s}
        - {type: webhook, name: c, url: %[3]s/c, timeout: 1s}
`, okSrv.URL, failSrv.URL, slowSrv.URL, s.execOut, hookSecret)
	s.cfg = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNotifyTestTable: every channel of the group gets one test
// notification; the table says which failed and why; exit 1.
func TestNotifyTestTable(t *testing.T) {
	s := newNotifyTestSetup(t)
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "notify", "test", "-c", s.cfg, "--group", "drill")
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d (two channels fail)\n%s%s", r.code, exitFailure, r.stdout, r.stderr)
	}
	rows := map[string]*regexp.Regexp{
		"drill/hook":           regexp.MustCompile(`(?m)^drill/hook +webhook +ok +[0-9.]+[µnm]?s +-$`),
		"drill/broken-hook":    regexp.MustCompile(`(?m)^drill/broken-hook +webhook +FAILED +[0-9.]+[µnm]?s +.*500`),
		"drill/script":         regexp.MustCompile(`(?m)^drill/script +exec +ok +[0-9.]+[µnm]?s +-$`),
		"drill/failing-script": regexp.MustCompile(`(?m)^drill/failing-script +exec +FAILED +[0-9.]+[µnm]?s +.*exit status 3.*pager API down`),
		"drill/console":        regexp.MustCompile(`(?m)^drill/console +console +ok `),
	}
	for target, re := range rows {
		if !re.MatchString(r.stdout) {
			t.Errorf("no row for %s matching %s in:\n%s", target, re, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^test notification test-\S+ to group drill$`).MatchString(r.stdout) {
		t.Errorf("stdout lacks the header naming the notification:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "2 of 5 channels of group drill failed") {
		t.Errorf("stderr lacks the summary:\n%s", r.stderr)
	}
	// The console channel writes to stderr, and says TEST.
	if !strings.Contains(r.stderr, "TEST: breakglass test notification") {
		t.Errorf("console output lacks the test title:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, hookSecret) {
		t.Errorf("the webhook URL's secret reached the output:\n%s%s", r.stdout, r.stderr)
	}
	// Both receivers saw exactly one test notification: no resolution,
	// and the failure was not retried.
	for name, rc := range map[string]*hookRecorder{"hook": s.ok, "broken-hook": s.failing} {
		got := rc.got()
		if len(got) != 1 {
			t.Fatalf("%s received %d requests, want 1", name, len(got))
		}
		checkDrill(t, name, got[0], 0) // default: Sev0, as a sign-in
	}
	stdin, err := os.ReadFile(s.execOut)
	if err != nil {
		t.Fatalf("the exec script did not run: %v", err)
	}
	checkDrill(t, "exec stdin", stdin, 0)
}

// TestNotifyTestJSON: the JSON output is one parseable document on stdout
// (the console channel's message goes to stderr), with one entry per channel.
func TestNotifyTestJSON(t *testing.T) {
	s := newNotifyTestSetup(t)
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "notify", "test", "-c", s.cfg, "--group", "drill", "--format", "json")
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", r.code, exitFailure, r.stdout, r.stderr)
	}
	var rep notifyTestReport
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
	}
	if rep.OK || rep.Group != "drill" || !strings.HasPrefix(rep.NotificationID, "test-") {
		t.Errorf("report header = %+v", rep)
	}
	want := []struct {
		target, typ string
		ok          bool
		err         string
	}{
		{"drill/hook", "webhook", true, ""},
		{"drill/broken-hook", "webhook", false, "500"},
		{"drill/script", "exec", true, ""},
		{"drill/failing-script", "exec", false, "pager API down"},
		{"drill/console", "console", true, ""},
	}
	if len(rep.Channels) != len(want) {
		t.Fatalf("%d channels, want %d: %+v", len(rep.Channels), len(want), rep.Channels)
	}
	for i, w := range want {
		c := rep.Channels[i]
		if c.Target != w.target || c.Type != w.typ || c.OK != w.ok || (w.ok) != (c.Error == "") || !strings.Contains(c.Error, w.err) || c.ElapsedMS <= 0 {
			t.Errorf("channel %d = %+v, want %s %s ok=%v error containing %q", i, c, w.target, w.typ, w.ok, w.err)
		}
	}
	if strings.Contains(r.stdout+r.stderr, hookSecret) {
		t.Errorf("the webhook URL's secret reached the output")
	}
}

// TestNotifyTestAllOK: exit 0 only when every channel accepted it; the
// drill carries the severity asked for.
func TestNotifyTestAllOK(t *testing.T) {
	s := newNotifyTestSetup(t)
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "notify", "test", "-c", s.cfg, "--group", "good", "--severity", "sev3")
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, " ok "); n != 2 {
		t.Errorf("%d ok rows, want 2:\n%s", n, r.stdout)
	}
	got := s.ok.got()
	if len(got) != 1 {
		t.Fatalf("webhook received %d requests, want 1", len(got))
	}
	checkDrill(t, "good/webhook", got[0], 3)
}

// TestNotifyTestTimeouts: a receiver that never answers fails after its
// channel's timeout, and the channels are tried at once, not one by one.
func TestNotifyTestTimeouts(t *testing.T) {
	s := newNotifyTestSetup(t)
	start := time.Now()
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "notify", "test", "-c", s.cfg, "--group", "slow", "--format", "json")
	took := time.Since(start)
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", r.code, exitFailure, r.stdout, r.stderr)
	}
	var rep notifyTestReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Channels) != 3 {
		t.Fatalf("%d channels, want 3", len(rep.Channels))
	}
	for _, c := range rep.Channels {
		if c.OK || c.ElapsedMS < 900 || c.ElapsedMS > 2500 {
			t.Errorf("%s: ok=%v after %.0fms, want a failure after its 1s timeout", c.Target, c.OK, c.ElapsedMS)
		}
	}
	// Three 1s timeouts one after another would take 3s.
	if took > 2500*time.Millisecond {
		t.Errorf("took %s: channels were not sent concurrently", took)
	}
	if n := len(s.slow.got()); n != 3 {
		t.Errorf("slow hookRecorder saw %d requests, want 3", n)
	}
}

// TestNotifyTestUsage: what the caller got wrong exits 2 and says what to
// do; an unknown group lists the configured ones.
func TestNotifyTestUsage(t *testing.T) {
	s := newNotifyTestSetup(t)
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown group", []string{"-c", s.cfg, "--group", "nope"}, `no notification group "nope"; configured groups: drill, good, slow`},
		{"no group", []string{"-c", s.cfg}, "--group: required: one of drill, good, slow"},
		{"bad format", []string{"-c", s.cfg, "--group", "good", "--format", "yaml"}, `--format: unknown format "yaml"`},
		{"bad severity", []string{"-c", s.cfg, "--group", "good", "--severity", "Sev5"}, `--severity: "Sev5" is not Sev0..Sev4`},
		{"no config", []string{"--group", "good"}, "BREAKGLASS_CONFIG"},
		{"missing config", []string{"-c", "/nonexistent/bg.yaml", "--group", "good"}, "/nonexistent/bg.yaml"},
		{"stray argument", []string{"-c", s.cfg, "--group", "good", "x"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, append([]string{"notify", "test"}, tt.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s%s", r.code, exitUsage, tt.msg, r.stdout, r.stderr)
			}
		})
	}
	if n := len(s.ok.got()) + len(s.failing.got()); n != 0 {
		t.Errorf("a usage error still sent %d notifications", n)
	}
	if r := runBinary(t, nil, "notify", "tset"); r.code != exitUsage || !strings.Contains(r.stderr, `Did you mean "test"?`) {
		t.Errorf("notify tset: exit %d: %s", r.code, r.stderr)
	}
}

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"Sev0", 0, true}, {"sev3", 3, true}, {"SEV4", 4, true}, {"2", 2, true}, {" Sev1 ", 1, true},
		{"Sev5", 0, false}, {"-1", 0, false}, {"", 0, false}, {"sev", 0, false}, {"Sev10", 0, false}, {"critical", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSeverity(tt.in)
		if ok != tt.ok || (ok && int(got) != tt.want) {
			t.Errorf("parseSeverity(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTableCell(t *testing.T) {
	for in, want := range map[string]string{
		"plain error":                       "plain error",
		"exit 3: stderr:\n  line1\n\tline2": "exit 3: stderr: line1 line2",
		"evil \x1b[2Jcleared\x07":           "evil ?[2Jcleared?",
		"":                                  "",
	} {
		if got := tableCell(in); got != want {
			t.Errorf("tableCell(%q) = %q, want %q", in, got, want)
		}
	}
}
