package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"breakglass/internal/secret"
)

// ChannelExec is the exec channel's type name.
const ChannelExec = "exec"

// DefaultExecTimeout bounds one run of an exec channel's command: long
// enough for a script that calls an API and retries once, short enough
// that a hung script is killed and retried.
const DefaultExecTimeout = 30 * time.Second

// ExecPath is the PATH an exec command runs with unless env sets one.
const ExecPath = "/usr/local/bin:/usr/bin:/bin"

// maxExecStderr is how much of a failing command's standard error is kept
// for its error message.
const maxExecStderr = 4 << 10

func init() {
	RegisterChannel(ChannelType{
		Name:           ChannelExec,
		Doc:            "runs a command (no shell) with the alert JSON on standard input",
		New:            func() ChannelConfig { return &ExecConfig{} },
		DefaultTimeout: DefaultExecTimeout,
	})
}

// ExecConfig is the exec channel's configuration.
//
// The command runs without a shell, with standard input the notification
// as JSON (Payload, the webhook's schema: breakglass body) and an
// environment of only:
//
//	PATH=/usr/local/bin:/usr/bin:/bin (unless env sets PATH)
//	BREAKGLASS_NOTIFICATION_ID  the id to dedupe on (same on every retry;
//	                            shared by the channels the notification goes
//	                            to: a command two channels run dedupes on it
//	                            with BREAKGLASS_TARGET)
//	BREAKGLASS_ALERT_ID, BREAKGLASS_STATUS (firing|resolved),
//	BREAKGLASS_RULE, BREAKGLASS_SEVERITY (Sev0..Sev4),
//	BREAKGLASS_TARGET (group/name), BREAKGLASS_ATTEMPT (1, 2, ...)
//	and each entry of env.
//
// Exit status 0 means delivered. Anything else, or running past the
// timeout (the command's whole process group is then killed), is a failed
// delivery that is retried; the error carries the start of standard error,
// with command arguments and env values removed. Standard output is
// discarded.
type ExecConfig struct {
	// Command is the program (an absolute path) and its arguments. config
	// check prints them: put tokens in Env, which it redacts.
	Command []string `yaml:"command,omitempty"`
	// Env adds variables; values are secrets (tokens for the script).
	Env map[string]secret.Secret `yaml:"env,omitempty"`
}

// Validate checks the command and the variable names.
func (c *ExecConfig) Validate(report func(field, msg string)) {
	switch {
	case len(c.Command) == 0:
		report("command", "required for type exec: the program and its arguments as a list, for example [/usr/local/bin/page-me, --urgent]")
	case c.Command[0] == "":
		report("command[0]", "empty program path")
	case !filepath.IsAbs(c.Command[0]):
		report("command[0]", "must be an absolute path (the command runs without a shell and with a minimal PATH)")
	default:
		// Checked here, on the machine config check runs on, so that a
		// typo fails the check (and the daemon's start), not a page at
		// 3 a.m.
		if msg := checkProgram(c.Command[0]); msg != "" {
			report("command[0]", msg)
		}
	}
	for i, a := range c.Command {
		if strings.IndexByte(a, 0) >= 0 {
			report("command["+strconv.Itoa(i)+"]", "contains a NUL byte")
		}
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := FieldKey("env", k)
		switch {
		case !validEnvName(k):
			report(f, "not a variable name (letters, digits and _, not starting with a digit)")
		case strings.HasPrefix(strings.ToUpper(k), "BREAKGLASS_"):
			report(f, "BREAKGLASS_ variables are set by breakglass; use another name")
		case strings.IndexByte(c.Env[k].Reveal(), 0) >= 0:
			report(f, "value contains a NUL byte")
		}
	}
}

// checkProgram says what is wrong with prog as a program to run, or "".
func checkProgram(prog string) string {
	st, err := os.Stat(prog)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return prog + ": no such file on this machine"
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return prog + ": " + err.Error()
	case st.IsDir():
		return prog + " is a directory"
	case st.Mode().Perm()&0o111 == 0:
		return prog + " is not executable (chmod +x it)"
	}
	return ""
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case i > 0 && '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}

// Build makes the channel. Validate has checked the program.
func (c *ExecConfig) Build(env BuildEnv) (Notifier, error) {
	if len(c.Command) == 0 {
		return nil, errors.New("exec: no command")
	}
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = DefaultExecTimeout
	}
	e := &Exec{target: env.Target, argv: slices.Clone(c.Command), timeout: timeout, now: env.Now}
	if e.now == nil {
		e.now = time.Now
	}
	secrets := slices.Clone(c.Command[1:])
	hasPath := false
	for _, k := range slices.Sorted(mapKeys(c.Env)) {
		v := c.Env[k].Reveal()
		e.env = append(e.env, k+"="+v)
		secrets = append(secrets, v)
		hasPath = hasPath || k == "PATH"
	}
	if !hasPath {
		e.env = append(e.env, "PATH="+ExecPath)
	}
	e.scrub = newScrubber(secrets)
	return e, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Exec runs a command per notification; see ExecConfig.
type Exec struct {
	target  string
	argv    []string
	env     []string
	timeout time.Duration
	scrub   *strings.Replacer
	now     func() time.Time
}

// SendTimeout is the command's timeout; the dispatcher lets a send run
// that long (Bounded).
func (e *Exec) SendTimeout() time.Duration { return e.timeout }

// String names the channel and the program, never the arguments.
func (e *Exec) String() string { return "exec " + strconv.Quote(e.target) + " " + e.argv[0] }

// Notify runs the command once with n on standard input.
func (e *Exec) Notify(ctx context.Context, n Notification) error {
	p := NewPayload(n, e.now())
	body, err := json.Marshal(p)
	if err != nil {
		return Permanent(e.errorf("encode payload: %v", err))
	}
	body = append(body, '\n')
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.argv[0], e.argv[1:]...)
	cmd.Env = append(slices.Clone(e.env),
		"BREAKGLASS_NOTIFICATION_ID="+p.ID,
		"BREAKGLASS_ALERT_ID="+p.AlertID,
		"BREAKGLASS_STATUS="+p.Status,
		"BREAKGLASS_RULE="+p.Rule,
		"BREAKGLASS_SEVERITY="+p.SeverityLabel,
		"BREAKGLASS_TARGET="+e.target,
		"BREAKGLASS_ATTEMPT="+strconv.Itoa(n.Attempt),
	)
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(body)
	stderr := &boundedBuffer{max: maxExecStderr}
	cmd.Stderr = stderr
	killGroup(cmd)
	// A grandchild that keeps stderr open must not keep Wait waiting.
	cmd.WaitDelay = time.Second

	err = cmd.Run()
	if err == nil {
		return nil
	}
	excerpt := scrubbedExcerpt(e.scrub, stderr.Bytes(), 500)
	if excerpt != "" {
		excerpt = ": stderr: " + strconv.Quote(excerpt)
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return e.errorf("killed after %s without finishing%s: %w", e.timeout, excerpt, context.DeadlineExceeded)
	case ctx.Err() != nil:
		return e.errorf("%w", ctx.Err())
	case errors.As(err, &ee):
		return e.errorf("%s%s", ee.ProcessState.String(), excerpt)
	case errors.Is(err, exec.ErrWaitDelay):
		// It exited 0 but something it started still held stderr.
		return nil
	}
	// Could not start it (removed, permissions changed): retrying as is
	// will not help until someone fixes the file.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return Permanent(e.errorf("start: %v", err))
}

func (e *Exec) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &webhookError{msg: "exec " + strconv.Quote(e.target) + ": " + e.argv[0] + ": " + e.scrub.Replace(err.Error()), err: err}
}

// boundedBuffer keeps the first max bytes written and discards the rest,
// so a command flooding stderr costs no memory.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *boundedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.buf.Bytes())
}
