package oidc_test

import (
	"context"
	"strings"
	"testing"

	"breakglass/internal/oidc"
	"breakglass/internal/oidc/oidctest"
)

// FuzzVerify: any ID token text is refused or accepted without a panic,
// and nothing unsigned is ever accepted.
func FuzzVerify(f *testing.F) {
	p := oidctest.NewProvider(f)
	prov, err := oidc.Discover(context.Background(), oidc.Config{Issuer: p.URL, ClientID: "bg-client"})
	if err != nil {
		f.Fatal(err)
	}
	good := p.Sign(p.Claims("n"))
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add(strings.Repeat(".", 1000))
	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := prov.Verify(context.Background(), raw)
		if err == nil && raw != good {
			// Only a token the provider signed verifies; a mutation of
			// the good one that still verifies would be a forgery.
			parts := strings.Split(raw, ".")
			gp := strings.Split(good, ".")
			if len(parts) == 3 && (parts[0] != gp[0] || parts[2] != gp[2]) {
				t.Fatalf("a token the provider did not sign verified: %q → %v", raw, claims)
			}
		}
	})
}
