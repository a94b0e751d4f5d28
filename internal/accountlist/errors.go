package accountlist

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in an imported file, at a position a person can go
// to.
type Error struct {
	File  string
	Line  int    // 1-based; 0 for the file as a whole
	Col   int    // 1-based byte column; 0 when unknown
	Field string // e.g. "GlobalSettings.EmergencyAccessAccounts[2].Id"
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one file, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// maxErrors bounds the problems reported for one file: a hostile or
// wrong file can have one per entry, and nobody reads the millionth.
const maxErrors = 100

// errs collects problems for one file.
type errs struct {
	file string
	list ErrorList
	more int // problems found beyond maxErrors
}

func (e *errs) add(line, col int, field, format string, args ...any) {
	if len(e.list) >= maxErrors {
		e.more++
		return
	}
	e.list = append(e.list, &Error{File: e.file, Line: line, Col: col, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	slices.SortStableFunc(e.list, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	if e.more > 0 {
		last := e.list[len(e.list)-1]
		e.list = append(e.list, &Error{File: e.file, Line: last.Line, Msg: fmt.Sprintf("and %d more problems after this line; fix these first", e.more)})
		e.more = 0
	}
	return e.list
}

// lineIndex finds the line and column of byte offsets in one file in
// logarithmic time: positions are asked for every entry, and counting
// lines from the start each time made a large file quadratic.
type lineIndex struct {
	data []byte
	nl   []int // offsets of the '\n' bytes; nil until first used
}

// lineCol converts a byte offset into a 1-based line and column.
func (x *lineIndex) lineCol(off int64) (int, int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(x.data)) {
		off = int64(len(x.data))
	}
	if x.nl == nil {
		x.nl = []int{}
		for i, b := range x.data {
			if b == '\n' {
				x.nl = append(x.nl, i)
			}
		}
	}
	o := int(off)
	n := sort.SearchInts(x.nl, o) // newlines before o
	start := 0
	if n > 0 {
		start = x.nl[n-1] + 1
	}
	return n + 1, o - start + 1
}
