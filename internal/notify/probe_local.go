package notify

import (
	"context"
	"errors"
)

// Probe checks, again and where doctor runs, that the exec channel's
// program exists and may be run; it is not run.
func (c *ExecConfig) Probe(context.Context) error {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return &ProbeError{ProbeLocal, "exec channel", errors.New("no command")}
	}
	if msg := checkProgram(c.Command[0]); msg != "" {
		return &ProbeError{ProbeLocal, c.Command[0], errors.New(msg)}
	}
	return nil
}

// Probe has nothing to reach: the console is serve's own output.
func (*ConsoleConfig) Probe(context.Context) error { return nil }
