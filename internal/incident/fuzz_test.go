package incident_test

import (
	"strings"
	"testing"

	"breakglass/internal/incident"
)

// FuzzParseAttest: any --attest value gives a group of the list and a
// non-empty attestation, or an error; never a panic.
func FuzzParseAttest(f *testing.F) {
	for _, s := range []string{"oncall=yes", "security= role added =x", "=", "", "oncall", "ops=yes", "oncall=\x00"} {
		f.Add(s)
	}
	groups := []string{"oncall", "security"}
	f.Fuzz(func(t *testing.T, s string) {
		g, v, err := incident.ParseAttest(s, groups)
		if err != nil {
			return
		}
		if g != "oncall" && g != "security" {
			t.Fatalf("ParseAttest(%q) accepted group %q", s, g)
		}
		if strings.TrimSpace(v) == "" {
			t.Fatalf("ParseAttest(%q) accepted an empty attestation", s)
		}
	})
}
