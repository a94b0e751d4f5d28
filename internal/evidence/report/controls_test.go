package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestHostileCharacters: record fields are attacker-controlled. A bidi
// override (U+202E) reorders what a reader sees, so an attacker's UPN or
// target reads as a colleague's; a terminal escape reaches whoever prints
// the report; invalid UTF-8 is not text. Markdown and HTML spell them out
// (\u202e, \x1b) and the raw characters never reach the page.
func TestHostileCharacters(t *testing.T) {
	src := fixture(t)
	a := src.alerts["a2"]
	a.Title = "Added \u202emoc.osotnoc@yrollam\u202c to Global Administrator\x1b]0;pwned\x07 \xff\u200b"
	src.alerts["a2"] = a
	r := build(t, src)
	for name, render := range map[string]func(*bytes.Buffer) error{
		"markdown": func(b *bytes.Buffer) error { return Markdown(b, r) },
		"html":     func(b *bytes.Buffer) error { return HTML(b, r) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, bad := range []string{"\u202e", "\u202c", "\x1b", "\x07", "\xff", "\u200b"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: raw %q in the output", name, bad)
			}
		}
		if !strings.Contains(out, `\u202e`) {
			t.Errorf("%s: the override is not spelled out as \\u202e", name)
		}
	}
}
