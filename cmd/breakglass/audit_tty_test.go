//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what the command writes to tty
// reads back from the returned buffer once tty is closed.
func openPTY(t *testing.T) (tty *os.File, out func() string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&buf, master); close(done) }()
	return tty, func() string { tty.Close(); <-done; return buf.String() }
}

// TestAuditColourOnTerminal: the table is coloured when stdout is a
// terminal, and not when NO_COLOR is set or the report goes to a file.
func TestAuditColourOnTerminal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		noColor bool
		want    bool
	}{{"terminal", false, true}, {"terminal with NO_COLOR", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noColor {
				t.Setenv("NO_COLOR", "1")
			} else {
				t.Setenv("NO_COLOR", "") // restored after the test
				os.Unsetenv("NO_COLOR")
			}
			tty, out := openPTY(t)
			if !isTerminal(tty) {
				t.Fatal("the pseudo-terminal is not a terminal to isTerminal")
			}
			root := newRootCmd()
			root.SetArgs(append([]string{"audit", "--fail-on", "none"}, exampleArgs()...))
			root.SetOut(tty)
			root.SetErr(io.Discard)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			got := out()
			if !strings.Contains(got, exampleBad) {
				t.Fatalf("no report on the terminal:\n%.300s", got)
			}
			if has := strings.Contains(got, "\x1b["); has != tc.want {
				t.Errorf("colour %v, want %v:\n%.300q", has, tc.want, got)
			}
		})
	}
	if useColor("report.txt", os.Stdout) {
		t.Error("colour in a report written to a file")
	}
}
