package auth

import (
	"strings"
	"testing"
)

// FuzzSplitSessionSource: a stored session source (read back from the
// store) always splits into a provider without the separator and tenant
// ids that are non-empty and without commas; never a panic.
func FuzzSplitSessionSource(f *testing.F) {
	f.Add("oidc")
	f.Add("oidc;tenants=a,b")
	f.Add("oidc;tenants=")
	f.Add(";tenants=,,;tenants=x")
	f.Fuzz(func(t *testing.T, stored string) {
		src, tenants := splitSessionSource(stored)
		if !strings.Contains(stored, sessionTenants) {
			if src != stored || tenants != nil {
				t.Fatalf("%q: %q %v, want it unchanged and no limit", stored, src, tenants)
			}
			return
		}
		if tenants == nil || strings.Contains(src, sessionTenants) {
			t.Fatalf("%q: %q %v: a limited session lost its limit", stored, src, tenants)
		}
		for _, x := range tenants {
			if x == "" || strings.Contains(x, ",") {
				t.Fatalf("%q: tenant %q", stored, x)
			}
		}
	})
}
