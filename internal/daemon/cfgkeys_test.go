package daemon

import (
	"slices"
	"testing"
)

func TestAccountLines(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []int
	}{
		{"block list", "store:\n  path: x\naccounts:\n  - id: a\n  - group: g\n    name: n\n", []int{4, 5}},
		{"flow list", "accounts: [{upn: a@b.c}, {group: g}]\n", []int{1, 1}},
		{"no accounts", "store: {}\n", nil},
		{"not a mapping", "- a\n", nil},
		{"broken", "accounts: [\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := accountLinesOf([]byte(tt.text)); !slices.Equal(got, tt.want) {
				t.Errorf("lines %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzAccountLines: any file gives lines or none, never a panic.
func FuzzAccountLines(f *testing.F) {
	f.Add([]byte("accounts:\n  - group: g\n"))
	f.Add([]byte("accounts: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range accountLinesOf(data) {
			if l < 0 {
				t.Fatalf("negative line %d", l)
			}
		}
	})
}
