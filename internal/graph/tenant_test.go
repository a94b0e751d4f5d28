package graph

import (
	"strings"
	"testing"
)

func TestValidateTenantID(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		errWant string
	}{
		{"72f988bf-86f1-41af-91ab-2d7cd011db47", true, ""},
		{"72F988BF-86F1-41AF-91AB-2D7CD011DB47", true, ""},
		{"contoso.onmicrosoft.com", true, ""},
		{"contoso.com", true, ""},
		{"sub-1.contoso.co.uk", true, ""},
		{"xn--bcher-kva.example", true, ""},
		{"", false, "empty"},
		{" contoso.com", false, "spaces"},
		{"contoso", false, "not a tenant ID"},
		{"common", false, "multi-tenant alias"},
		{"Organizations", false, "multi-tenant alias"},
		{"consumers", false, "multi-tenant alias"},
		{"contoso..com", false, "label"},
		{".contoso.com", false, "label"},
		{"contoso.com.", false, "label"},
		{"-contoso.com", false, "label"},
		{"contoso-.com", false, "label"},
		{"contoso.com/evil", false, "label"},
		{"contoso.com?x=1", false, "label"},
		{"contoso_1.com", false, "label"},
		{"10.0.0.1", false, "all digits"},
		{"72f988bf-86f1-41af-91ab-2d7cd011db4", false, "not a tenant ID"}, // a GUID one digit short is no domain
		{strings.Repeat("a", 64) + ".com", false, "label"},
		{strings.Repeat("abcdefghi.", 26) + "com", false, "too long"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			err := ValidateTenantID(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("ValidateTenantID(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tc.errWant) {
				t.Errorf("error %q, want it to say %q", err, tc.errWant)
			}
		})
	}
}

// FuzzValidateTenantID: whatever it accepts is safe to put in the
// authority URL (azidentity's own charset) and is a GUID or a dotted name.
func FuzzValidateTenantID(f *testing.F) {
	for _, s := range []string{"contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db47", "common", "a..b", "x/y.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateTenantID(s) != nil {
			return
		}
		for _, r := range s {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.') {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
		if !guidRE.MatchString(s) && !strings.Contains(s, ".") {
			t.Fatalf("accepted %q: neither GUID nor domain", s)
		}
	})
}
