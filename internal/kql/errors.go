package kql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pos is a place in the query text: 1-based line and column (in runes),
// and the 0-based byte offset.
type Pos struct {
	Offset int `json:"offset"`
	Line   int `json:"line"`
	Col    int `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// PosOf converts a byte offset of src into a Pos.
func PosOf(src string, off int) Pos {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	before := src[:off]
	line := strings.Count(before, "\n") + 1
	ls := strings.LastIndexByte(before, '\n') + 1
	return Pos{Offset: off, Line: line, Col: utf8.RuneCountInString(before[ls:]) + 1}
}

// SyntaxError is a query that is not valid KQL.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// UnsupportedError is valid KQL that breakglass cannot run (yet): an
// operator such as make-series or evaluate. Callers exit 3 on it, not 2.
type UnsupportedError struct {
	Pos     Pos
	Feature string // e.g. "make-series"
	Msg     string
}

func (e *UnsupportedError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }
