package entra

import (
	"slices"
	"strings"
	"testing"
)

func TestAccountSetMatch(t *testing.T) {
	s := NewAccountSet([]Account{
		{ID: "7D5F3B2A-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.onmicrosoft.com"},
		{UPN: "Emergency@Contoso.onmicrosoft.com"},
	})
	tests := []struct {
		name, id, upn string
		want          bool
	}{
		{"id, any case", "7d5f3b2a-4C1E-4f6b-9a8d-2e3c4b5a6f70", "", true},
		{"id decides over upn", "00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "bg1@contoso.onmicrosoft.com", false},
		{"upn when record has no id", "", "BG1@contoso.onmicrosoft.com", true},
		{"zero GUID counts as no id", "00000000-0000-0000-0000-000000000000", "bg1@contoso.onmicrosoft.com", true},
		{"upn-only account matches despite record id", "11111111-2222-3333-4444-555555555555", "emergency@contoso.onmicrosoft.com", true},
		{"spaces trimmed", " 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70 ", "", true},
		{"other user", "11111111-2222-3333-4444-555555555555", "alice@contoso.com", false},
		{"nothing", "", "", false},
	}
	for _, tt := range tests {
		if _, got := s.Match(tt.id, tt.upn); got != tt.want {
			t.Errorf("%s: Match(%q, %q) = %v, want %v", tt.name, tt.id, tt.upn, got, tt.want)
		}
	}
}

func TestFoldASCII(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "AbC@X.com": "abc@x.com", "ÄB": "Äb"} {
		if got := FoldASCII(in); got != want {
			t.Errorf("FoldASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalID(t *testing.T) {
	const g = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	s := NewAccountSet([]Account{{ID: strings.ToUpper(g)}})
	for _, in := range []string{g, strings.ToUpper(g), "{" + g + "}", " {" + strings.ToUpper(g) + "} ", "(" + g + ")",
		"urn:uuid:" + g, "URN:UUID:" + g, "{urn:uuid:" + g + "}"} {
		if CanonicalID(in) != g {
			t.Errorf("CanonicalID(%q) = %q", in, CanonicalID(in))
		}
		if _, ok := s.Match(in, ""); !ok {
			t.Errorf("Match(%q) failed", in)
		}
		if _, ok := s.MatchAny(in); !ok {
			t.Errorf("MatchAny(%q) failed", in)
		}
	}
	for _, in := range []string{"{" + g, g + "}", g + "0", "not-a-guid", "", strings.ReplaceAll(g, "-", "")} {
		if _, ok := s.Match(in, ""); ok {
			t.Errorf("Match(%q) matched", in)
		}
	}
	// A record id that is not a GUID cannot overrule the UPN.
	u := NewAccountSet([]Account{{ID: g, UPN: "bg@contoso.com"}})
	if _, ok := u.Match("12345", "BG@contoso.com"); !ok {
		t.Error("a non-GUID id overruled the UPN")
	}
}

// FuzzCanonicalID: canonicalising is idempotent, and whatever Match accepts
// as an id contains one of Needles() (ASCII-folded): the prefilter's
// contract that it never rejects what decoding would match.
func FuzzCanonicalID(f *testing.F) {
	const g = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	for _, s := range []string{g, "{" + g + "}", "urn:uuid:" + g, " (" + strings.ToUpper(g) + ")"} {
		f.Add(s)
	}
	s := NewAccountSet([]Account{{ID: g, UPN: "bg@contoso.com"}})
	needles := s.Needles()
	f.Fuzz(func(t *testing.T, in string) {
		c := CanonicalID(in)
		if CanonicalID(c) != c {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, c, CanonicalID(c))
		}
		for _, try := range []func() bool{
			func() bool { _, ok := s.Match(in, ""); return ok },
			func() bool { _, ok := s.Match("", in); return ok },
			func() bool { _, ok := s.MatchAny(in); return ok },
		} {
			if !try() {
				continue
			}
			folded := FoldASCII(in)
			if !slices.ContainsFunc(needles, func(n string) bool { return strings.Contains(folded, n) }) {
				t.Fatalf("%q matches but contains no needle of %v", in, needles)
			}
		}
	})
}
