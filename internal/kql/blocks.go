package kql

import "strings"

// Block is one query of a multi-query text.
type Block struct {
	Text string // the block's text, unchanged
	Off  int    // byte offset of Text in the whole text
	Line int    // 1-based line of its first line
}

// SplitBlocks splits text the way Microsoft's Kusto editors do
// (Kusto.Language.Editor.CodeScript): a line that is empty or holds only
// white space ends a block. Blocks of only white space and comments are
// dropped: there is nothing in them to run. Hunting files put a Sentinel
// and a Defender version of a query one after the other this way. A blank
// line inside a multi-line string (```...```) does not split, as in the
// editors.
func SplitBlocks(text string) []Block {
	inString := multiLineStrings(text)
	var out []Block
	start, line, startLine := 0, 1, 1
	flush := func(end int) {
		b := text[start:end]
		if hasCode(b) {
			out = append(out, Block{Text: b, Off: start, Line: startLine})
		}
	}
	for i := 0; i <= len(text); {
		j := strings.IndexByte(text[i:], '\n')
		var ln string
		next := len(text) + 1
		if j < 0 {
			ln = text[i:]
		} else {
			ln = text[i : i+j]
			next = i + j + 1
		}
		if strings.TrimSpace(ln) == "" && !inString(i) {
			flush(i)
			start, startLine = min(next, len(text)), line+1
		}
		i = next
		line++
	}
	if start < len(text) {
		flush(len(text))
	}
	return out
}

// hasCode reports whether s holds anything other than white space and // comments.
func hasCode(s string) bool {
	for _, ln := range strings.Split(s, "\n") {
		t := strings.TrimSpace(ln)
		if t != "" && !strings.HasPrefix(t, "//") {
			return true
		}
	}
	return false
}

// multiLineStrings returns a test of whether an offset lies inside a
// multi-line string literal, found by a light scan that skips comments and
// ordinary strings (a ``` inside them opens nothing).
func multiLineStrings(text string) func(int) bool {
	var spans [][2]int
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '/' && i+1 < len(text) && text[i+1] == '/':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case strings.HasPrefix(text[i:], "```") || strings.HasPrefix(text[i:], "~~~"):
			end := strings.Index(text[i+3:], text[i:i+3])
			if end < 0 {
				spans = append(spans, [2]int{i, len(text)})
				i = len(text)
			} else {
				spans = append(spans, [2]int{i, i + 3 + end + 3})
				i += 3 + end + 3
			}
		case c == '\'' || c == '"':
			verbatim := i > 0 && text[i-1] == '@'
			i++
			for i < len(text) && text[i] != '\n' {
				if text[i] == '\\' && !verbatim {
					i += 2
					continue
				}
				if text[i] == c {
					if verbatim && i+1 < len(text) && text[i+1] == c {
						i += 2
						continue
					}
					break
				}
				i++
			}
			i++
		default:
			i++
		}
	}
	return func(off int) bool {
		for _, sp := range spans {
			if off > sp[0] && off < sp[1] {
				return true
			}
		}
		return false
	}
}
