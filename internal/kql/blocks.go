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
// and a Defender version of a query one after the other this way.
func SplitBlocks(text string) []Block {
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
		if strings.TrimSpace(ln) == "" {
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
