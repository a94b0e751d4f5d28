package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"breakglass/internal/store"
)

// AuthTenants checks that users and API tokens keep the tenants they are
// limited to (store.User.Tenants, store.Token.Tenants; migration 0011), and
// that one without is limited to none (every tenant), in any backend.
func AuthTenants(t *testing.T, s store.Auth) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	const ta, tb = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	for _, u := range []store.User{
		{Name: "msp-a", Role: "responder", PasswordHash: "$argon2id$a", Tenants: []string{"6B1E4E1C-3D5A-4C2B-9F10-2A3B4C5D6E7F"}, Created: t0},
		{Name: "msp-ab", Role: "viewer", PasswordHash: "$argon2id$b", Tenants: []string{ta, tb}, Created: t0},
		{Name: "all", Role: "admin", PasswordHash: "$argon2id$c", Created: t0},
	} {
		if err := s.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{"msp-a": {ta}, "msp-ab": {ta, tb}, "all": nil}
	for name, w := range want {
		u, err := s.User(ctx, name)
		if err != nil || !slices.Equal(u.Tenants, w) {
			t.Errorf("User(%s).Tenants = %q, %v; want %q", name, u.Tenants, err, w)
		}
	}
	us, err := s.Users(ctx)
	if err != nil || len(us) != 3 {
		t.Fatalf("Users = %d, %v", len(us), err)
	}
	for _, u := range us {
		if !slices.Equal(u.Tenants, want[u.Name]) {
			t.Errorf("Users: %s has tenants %q, want %q", u.Name, u.Tenants, want[u.Name])
		}
	}
	tok := store.Token{Name: "ci-b", Role: "viewer", Hash: "beef", Created: t0, Expires: t0.Add(time.Hour), CreatedBy: "all", Tenants: []string{tb}}
	if err := s.AddToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, store.Token{Name: "ci-all", Role: "viewer", Hash: "cafe", Created: t0, Expires: t0.Add(time.Hour), CreatedBy: "all"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokenByHash(ctx, "beef"); err != nil || !slices.Equal(got.Tenants, []string{tb}) {
		t.Errorf("TokenByHash.Tenants = %q, %v", got.Tenants, err)
	}
	ts, err := s.Tokens(ctx)
	if err != nil || len(ts) != 2 {
		t.Fatalf("Tokens = %d, %v", len(ts), err)
	}
	for _, tk := range ts {
		if w := map[string][]string{"ci-b": {tb}, "ci-all": nil}[tk.Name]; !slices.Equal(tk.Tenants, w) {
			t.Errorf("Tokens: %s has tenants %q, want %q", tk.Name, tk.Tenants, w)
		}
	}
}
