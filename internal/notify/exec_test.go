package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// TestExecHelperProcess is not a test: the exec channel's tests run the
// test binary itself as the command (os.Args[0] -test.run=^this$ -- MODE
// ARGS). It does nothing in a normal run.
func TestExecHelperProcess(t *testing.T) {
	i := slices.Index(os.Args, "--")
	if i < 0 || os.Getenv("BG_EXEC_HELPER") != "1" {
		return
	}
	args := os.Args[i+1:]
	switch args[0] {
	case "record": // record stdin and the environment in args[1]
		var in map[string]any
		if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
			fmt.Fprintln(os.Stderr, "stdin is not JSON:", err)
			os.Exit(2)
		}
		out, _ := json.Marshal(map[string]any{"stdin": in, "env": os.Environ()})
		if err := os.WriteFile(args[1], out, 0o600); err != nil {
			os.Exit(2)
		}
	case "fail": // exit 3 after a diagnostic that echoes a secret
		fmt.Fprintf(os.Stderr, "paging API said 401 for token=%s and arg %s\n", os.Getenv("PAGER_TOKEN"), args[1])
		os.Exit(3)
	case "fail-late": // the secret just where the 500-character excerpt is cut
		fmt.Fprintf(os.Stderr, "%s%s and more\n", strings.Repeat("x", 493), os.Getenv("PAGER_TOKEN"))
		os.Exit(3)
	case "flood": // 1 MiB of stderr, then failure
		os.Stderr.Write([]byte(strings.Repeat("x", 1<<20)))
		os.Exit(1)
	case "ignore-stdin": // exit 0 without reading stdin
	case "hang": // start a grandchild, record its pid in args[1], then hang
		child := exec.Command(os.Args[0], "-test.run=^TestExecHelperProcess$", "--", "sleep")
		child.Env = os.Environ()
		if err := child.Start(); err != nil {
			os.Exit(2)
		}
		os.WriteFile(args[1], []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		time.Sleep(time.Minute)
	case "sleep":
		time.Sleep(time.Minute)
	}
	os.Exit(0)
}

func helperExec(t *testing.T, timeout time.Duration, env map[string]secret.Secret, mode ...string) Notifier {
	t.Helper()
	if env == nil {
		env = map[string]secret.Secret{}
	}
	env["BG_EXEC_HELPER"] = "1"
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &ExecConfig{Command: append([]string{exe, "-test.run=^TestExecHelperProcess$", "--"}, mode...), Env: env}
	c.Validate(func(field, msg string) { t.Fatalf("Validate: %s: %s", field, msg) })
	n, err := c.Build(BuildEnv{Target: "oncall/exec", Timeout: timeout})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return n
}

func execNotification() Notification {
	return Notification{ID: NotificationID("e1", store.StatusFiring), Status: store.StatusFiring, Alert: testAlert("e1"), Attempt: 2,
		Sent: time.Date(2026, 7, 1, 12, 0, 1, 0, time.UTC)}
}

func TestExecDeliversJSONOnStdinWithMinimalEnv(t *testing.T) {
	t.Setenv("BG_PARENT_ONLY", "must-not-leak")
	out := filepath.Join(t.TempDir(), "record.json")
	n := helperExec(t, 10*time.Second, map[string]secret.Secret{"PAGER_TOKEN": "tok-123456"}, "record", out)
	if err := n.Notify(context.Background(), execNotification()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Stdin Payload  `json:"stdin"`
		Env   []string `json:"env"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Stdin.ID != "e1" || got.Stdin.Rule != "bg.signin" || got.Stdin.Attempt != 2 {
		t.Errorf("stdin = %+v", got.Stdin)
	}
	slices.Sort(got.Env)
	want := []string{
		"BG_EXEC_HELPER=1",
		"BREAKGLASS_ALERT_ID=e1", "BREAKGLASS_ATTEMPT=2", "BREAKGLASS_NOTIFICATION_ID=e1", "BREAKGLASS_RULE=bg.signin",
		"BREAKGLASS_SEVERITY=Sev0", "BREAKGLASS_STATUS=firing", "BREAKGLASS_TARGET=oncall/exec",
		"PAGER_TOKEN=tok-123456", "PATH=" + ExecPath,
	}
	if !slices.Equal(got.Env, want) {
		t.Errorf("environment:\n%s\nwant exactly:\n%s", strings.Join(got.Env, "\n"), strings.Join(want, "\n"))
	}
}

func TestExecFailures(t *testing.T) {
	const token, arg = "tok-s3cr3t-abc", "arg-s3cr3t-xyz"
	tests := []struct {
		name      string
		mode      []string
		timeout   time.Duration
		want      []string
		deadline  bool
		permanent bool
	}{
		{"non-zero exit carries scrubbed stderr", []string{"fail", arg}, 10 * time.Second,
			[]string{`exec "oncall/exec": `, "exit status 3", "paging API said 401 for token=[REDACTED] and arg [REDACTED]"}, false, false},
		{"a secret cut by the excerpt limit shows no half", []string{"fail-late"}, 10 * time.Second, []string{"exit status 3", "xxx"}, false, false},
		{"stderr is bounded", []string{"flood"}, 10 * time.Second, []string{"exit status 1", "xxx…"}, false, false},
		{"timeout kills it", []string{"sleep"}, 300 * time.Millisecond, []string{"killed after 300ms without finishing"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := helperExec(t, tt.timeout, map[string]secret.Secret{"PAGER_TOKEN": token}, tt.mode...)
			began := time.Now()
			err := n.Notify(context.Background(), execNotification())
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			msg := err.Error()
			t.Logf("error: %.300s", msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q: %.600s", w, msg)
				}
			}
			if len(msg) > 1000 {
				t.Errorf("error is %d bytes long", len(msg))
			}
			if strings.Contains(msg, token[:len(token)/2]) || strings.Contains(msg, arg) {
				t.Errorf("error leaks a secret: %s", msg)
			}
			if errors.Is(err, context.DeadlineExceeded) != tt.deadline || IsPermanent(err) != tt.permanent {
				t.Errorf("deadline %v permanent %v, want %v %v", errors.Is(err, context.DeadlineExceeded), IsPermanent(err), tt.deadline, tt.permanent)
			}
		})
	}
}

// A command that does not read its input and exits 0 has delivered.
func TestExecIgnoringStdin(t *testing.T) {
	if err := helperExec(t, 10*time.Second, nil, "ignore-stdin").Notify(context.Background(), execNotification()); err != nil {
		t.Fatal(err)
	}
}

// On timeout the whole process group dies, the script's children too.
func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	n := helperExec(t, time.Second, nil, "hang", pidFile)
	if err := n.Notify(context.Background(), execNotification()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the helper never started its child: %v", err)
	}
	pid, _ := strconv.Atoi(string(data))
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive: the process exists and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: trust kill
	}
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func TestExecConfig(t *testing.T) {
	tests := []struct {
		name string
		c    ExecConfig
		want []string
	}{
		{"ok", ExecConfig{Command: []string{"/bin/true"}, Env: map[string]secret.Secret{"TOKEN": "x"}}, nil},
		{"missing", ExecConfig{}, []string{"command: required for type exec: the program and its arguments as a list, for example [/usr/local/bin/page-me, --urgent]"}},
		{"relative", ExecConfig{Command: []string{"page-me"}}, []string{"command[0]: must be an absolute path (the command runs without a shell and with a minimal PATH)"}},
		{"bad env", ExecConfig{Command: []string{"/bin/true", "a\x00b"}, Env: map[string]secret.Secret{"1X": "v", "BREAKGLASS_STATUS": "v", "OK": "a\x00"}}, []string{
			"command[1]: contains a NUL byte",
			`env["1X"]: not a variable name (letters, digits and _, not starting with a digit)`,
			"env.BREAKGLASS_STATUS: BREAKGLASS_ variables are set by breakglass; use another name",
			"env.OK: value contains a NUL byte",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tt.c.Validate(func(field, msg string) { got = append(got, field+": "+msg) })
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	// The program is checked where config check runs.
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	for _, tc := range []struct{ prog, want string }{
		{filepath.Join(dir, "missing"), "command[0]: " + filepath.Join(dir, "missing") + ": no such file on this machine"},
		{dir, "command[0]: " + dir + " is a directory"},
		{notExec, "command[0]: " + notExec + " is not executable (chmod +x it)"},
	} {
		var got []string
		(&ExecConfig{Command: []string{tc.prog}}).Validate(func(field, msg string) { got = append(got, field+": "+msg) })
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("Validate(%s) = %q, want %q", tc.prog, got, tc.want)
		}
	}
}
