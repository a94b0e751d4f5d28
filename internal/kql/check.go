package kql

import "errors"

// Problem is one error found by CheckText, placed in the whole text.
type Problem struct {
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	// Kind is "syntax" (not valid KQL) or "unsupported" (valid, but
	// breakglass cannot run it).
	Kind string `json:"kind"`
}

// TextReport is the verdict on a text of one or more queries.
type TextReport struct {
	Blocks   int // queries found (blocks with code)
	Problems []Problem
}

// Syntax reports whether any block has a syntax error; Unsupported whether
// any uses something the engine cannot run.
func (r TextReport) Syntax() bool      { return r.has("syntax") }
func (r TextReport) Unsupported() bool { return r.has("unsupported") }

func (r TextReport) has(kind string) bool {
	for _, p := range r.Problems {
		if p.Kind == kind {
			return true
		}
	}
	return false
}

// CheckText checks a text the way the Kusto editors treat a hunting file:
// split into blocks at blank lines (SplitBlocks), each block one query.
// Problems carry line:col in the whole text. A text with no code has
// Blocks == 0 and no problems; callers decide whether that is an error.
func CheckText(text string) TextReport {
	var r TextReport
	if len(text) > MaxQueryBytes {
		r.Problems = append(r.Problems, Problem{Line: 1, Col: 1, Kind: "syntax",
			Message: "the text is larger than 1 MiB; that is not a query"})
		return r
	}
	for _, b := range SplitBlocks(text) {
		r.Blocks++
		sc, err := Parse(b.Text)
		var se *SyntaxError
		if errors.As(err, &se) {
			r.Problems = append(r.Problems, place(b, se.Pos, se.Msg, "syntax"))
			continue
		}
		for _, u := range sc.Unsupported {
			r.Problems = append(r.Problems, place(b, u.Pos, u.Msg, "unsupported"))
		}
	}
	return r
}

// place moves a position inside block b to the whole text. Blocks start at
// the beginning of a line, so only the line moves.
func place(b Block, p Pos, msg, kind string) Problem {
	return Problem{Line: b.Line + p.Line - 1, Col: p.Col, Message: msg, Kind: kind}
}
