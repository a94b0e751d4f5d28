package postgres

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	for _, tc := range []struct {
		in      string
		escaped bool
	}{
		{"", false},
		{"plain", false},
		{"ünïcödé ✓", false},
		{"nul\x00inside", true},
		{"\x00", true},
		{"bad \xff utf-8", true},
		{escapeMark, true},
		{escapeMark + "looks escaped", true},
		{"mark " + escapeMark + " inside", false},
	} {
		got := escapeText(tc.in)
		if (got != tc.in) != tc.escaped {
			t.Errorf("escapeText(%q) = %q, escaped = %v, want %v", tc.in, got, got != tc.in, tc.escaped)
		}
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 {
			t.Errorf("escapeText(%q) = %q, which PostgreSQL text cannot hold", tc.in, got)
		}
		var back text
		if err := back.Scan(got); err != nil || string(back) != tc.in {
			t.Errorf("round trip of %q = %q, %v", tc.in, back, err)
		}
	}
	var bad text
	if err := bad.Scan(escapeMark + "!!not base64"); err == nil {
		t.Error("a corrupted escaped text scanned without error")
	}
}

// FuzzEscapeText: every string escapes to text PostgreSQL can hold and
// comes back unchanged, and different strings never escape alike.
func FuzzEscapeText(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "\xff", escapeMark, escapeMark + "QQ==", "a\x00b"} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea := escapeText(a)
		if !utf8.ValidString(ea) || strings.IndexByte(ea, 0) >= 0 {
			t.Fatalf("escapeText(%q) = %q", a, ea)
		}
		back, err := unescapeText(ea)
		if err != nil || back != a {
			t.Fatalf("unescapeText(escapeText(%q)) = %q, %v", a, back, err)
		}
		if a != b && ea == escapeText(b) {
			t.Fatalf("%q and %q both escape to %q", a, b, ea)
		}
	})
}
