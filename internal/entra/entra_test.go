package entra

import "testing"

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
