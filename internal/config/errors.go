package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem found in a configuration file.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when the problem concerns the file as a whole
	Field string // key path such as "accounts[1].upn"; empty for file-level problems
	Msg   string
	Err   error // underlying cause when there is one, e.g. fs.ErrNotExist
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap exposes the cause so that callers can test for, say,
// fs.ErrNotExist with errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every problem found in one file, sorted by line. Load and
// Parse return it as their error so that callers can inspect each problem
// with errors.As; its message has one problem per line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	if len(l) == 0 {
		return "no configuration errors"
	}
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see each problem and its cause.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sort orders problems by line so they read top to bottom like the file;
// problems on one line keep the order in which they were found, which
// follows the document.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
}
