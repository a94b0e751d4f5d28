package postgres_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
)

// TestInspect: Inspect reports what an older binary left behind, on an
// empty schema, a stale one and a current one, and migrates nothing.
func TestInspect(t *testing.T) {
	ctx := context.Background()
	known := postgres.KnownMigrations()
	if len(known) < 3 {
		t.Fatalf("KnownMigrations() = %v", known)
	}

	empty := pgtest.SchemaDSN(t, t.Name()+"_empty")
	if applied, got, err := postgres.Inspect(ctx, empty); err != nil || len(applied) != 0 || !slices.Equal(got, known) {
		t.Errorf("empty schema: %v, %v, %v; want nothing applied", applied, got, err)
	}

	stale := pgtest.SchemaDSN(t, t.Name()+"_stale")
	if err := postgres.CreateAtVersion(ctx, stale, 3); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time proves the first changed nothing
		if applied, _, err := postgres.Inspect(ctx, stale); err != nil || !slices.Equal(applied, known[:3]) {
			t.Errorf("stale schema: %v, %v; want %v", applied, err, known[:3])
		}
	}

	cur := pgtest.SchemaDSN(t, t.Name()+"_cur")
	s := open(t, cur)
	defer s.Close()
	if applied, _, err := postgres.Inspect(ctx, cur); err != nil || !slices.Equal(applied, known) {
		t.Errorf("current schema: %v, %v; want %v", applied, err, known)
	}

	if _, _, err := postgres.Inspect(ctx, "postgres://u:hunter2-secret@203.0.113.9/db"); err == nil ||
		!strings.Contains(err.Error(), "sslmode") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("plaintext remote DSN: %v; want the TLS refusal without the password", err)
	}
}
