package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"breakglass/internal/alert"
	"breakglass/internal/store"
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

// FuzzDecodeCursor: any string is a cursor or ErrInvalidCursor, never a
// crash, and a cursor decodes to what it was made of.
func FuzzDecodeCursor(f *testing.F) {
	a := alert.Alert{ID: "id-1", EventTime: time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)}
	f.Add(encodeCursor(a))
	f.Add("")
	f.Add("YTEA")
	f.Fuzz(func(t *testing.T, c string) {
		tm, id, err := decodeCursor(c)
		if err != nil {
			if !errors.Is(err, store.ErrInvalidCursor) {
				t.Fatalf("decodeCursor(%q) = %v, want ErrInvalidCursor", c, err)
			}
			return
		}
		if id == "" || tm == "" {
			t.Fatalf("decodeCursor(%q) = %q, %q without error", c, tm, id)
		}
	})
	if tm, id, err := decodeCursor(encodeCursor(a)); err != nil || id != a.ID || tm != "2025-03-14T15:09:26.535897932Z" {
		f.Errorf("round trip = %q, %q, %v", tm, id, err)
	}
}
