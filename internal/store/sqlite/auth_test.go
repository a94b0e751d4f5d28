package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/storetest"
)

func TestAuthStore(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	t0 := time.Date(2026, 3, 1, 3, 0, 0, 123456789, time.UTC)

	u := store.User{Name: "Dana", Role: "admin", PasswordHash: "$argon2id$x", Created: t0, Updated: t0}
	if err := s.AddUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, store.User{Name: "dana", Role: "viewer", PasswordHash: "h"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddUser with a name differing in case = %v, want ErrExists", err)
	}
	if err := s.AddUser(ctx, store.User{Name: "x", Role: "root", PasswordHash: "h"}); err == nil {
		t.Error("AddUser with an unknown role succeeded")
	}
	got, err := s.User(ctx, "DANA")
	if err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("User = %+v, %v; want %+v", got, err, u)
	}
	if _, err := s.User(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User(nobody) = %v", err)
	}

	se := store.Session{Hash: "h1", User: "dana", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour), Remote: "192.0.2.1"}
	if err := s.AddSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSession(ctx, store.Session{Hash: "h2", User: "x", Source: "oidc", Expires: t0.Add(time.Hour)}); err == nil {
		t.Error("a provider's session without a role was stored")
	}
	if err := s.AddSession(ctx, store.Session{Hash: "h2", User: "x", Role: "admin", Expires: t0.Add(time.Hour)}); err == nil {
		t.Error("a local session with a role of its own was stored")
	}
	// A provider's session of the same name is not the local user's.
	ext := store.Session{Hash: "ext", User: "dana", Source: "oidc", Role: "viewer", Created: t0, LastSeen: t0, Expires: t0.Add(10 * time.Hour), Remote: "192.0.2.9"}
	if err := s.AddSession(ctx, ext); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, "h1", t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByHash(ctx, "h1"); !got.LastSeen.Equal(t0) {
		t.Errorf("TouchSession moved LastSeen backwards: %v", got.LastSeen)
	}
	if err := s.SetUserPassword(ctx, "dana", "$argon2id$y", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after a password change: %v, want ErrNotFound", err)
	}
	if err := s.SetUserPassword(ctx, "nobody", "h", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetUserPassword(nobody) = %v", err)
	}
	for i, h := range []string{"old", "idle", "live"} {
		seen := t0
		if h == "idle" {
			seen = t0.Add(-2 * time.Hour)
		}
		exp := t0.Add(time.Duration(i) * time.Hour)
		if err := s.AddSession(ctx, store.Session{Hash: h, User: "dana", Created: seen, LastSeen: seen, Expires: exp.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteExpiredSessions(ctx, t0.Add(30*time.Minute), t0.Add(-time.Hour)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredSessions = %d, %v; want 2 (old, idle)", n, err)
	}
	if err := s.RemoveUser(ctx, "dana"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, "live"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after the user's removal: %v", err)
	}
	if got, err := s.SessionByHash(ctx, "ext"); err != nil || got != ext {
		t.Errorf("the provider's session after the local user's removal: %+v, %v; want %+v", got, err, ext)
	}
	if err := s.RemoveUser(ctx, "dana"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveUser twice = %v", err)
	}

	tok := store.Token{Name: "ci", Role: "viewer", Hash: "th", Created: t0, Expires: t0.Add(time.Hour), CreatedBy: "cli:root"}
	if err := s.AddToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, store.Token{Name: "other", Role: "viewer", Hash: "th", Expires: t0}); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddToken with a used hash = %v", err)
	}
	if err := s.AddToken(ctx, store.Token{Name: "never", Role: "viewer", Hash: "nh"}); err == nil {
		t.Error("a token without expiry was stored")
	}
	if err := s.TouchToken(ctx, "th", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "CI", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "ci", t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got2, err := s.TokenByHash(ctx, "th")
	if err != nil || !got2.Revoked.Equal(t0.Add(2*time.Minute)) || !got2.LastUsed.Equal(t0.Add(time.Minute)) || got2.CreatedBy != "cli:root" {
		t.Errorf("token = %+v, %v: want revoked at the first revocation, last used recorded", got2, err)
	}
	if err := s.RevokeToken(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeToken(nope) = %v", err)
	}

	for i, a := range []string{"login", "alert.ack", "login"} {
		if err := s.AddAudit(ctx, store.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "dana", Via: "session", Remote: "192.0.2.1", Action: a, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.AuditLog(ctx, store.AuditFilter{Action: "login"})
	if err != nil || len(es) != 2 || !es[0].At.After(es[1].At) || es[0].Seq <= es[1].Seq {
		t.Errorf("AuditLog(login) = %+v, %v: want 2, newest first", es, err)
	}
	if es, _ := s.AuditLog(ctx, store.AuditFilter{Since: t0.Add(time.Second), Actor: "DANA"}); len(es) != 2 {
		t.Errorf("AuditLog since, actor: %d entries, want 2", len(es))
	}
}

// TestAuthTenants: users and tokens keep their tenants (migration 0011).
func TestAuthTenants(t *testing.T) {
	storetest.AuthTenants(t, open(t, filepath.Join(t.TempDir(), "bg.db")))
}
