package postgres_test

import (
	"context"
	"testing"

	"breakglass/internal/store"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	pgtest.Need(t)
	storetest.Run(t, func(t *testing.T, path string) store.Store {
		return open(t, pgtest.SchemaDSN(t, path))
	})
}

func TestRecordsSuite(t *testing.T) {
	pgtest.Need(t)
	storetest.Records(t, func(t *testing.T, path string) store.Records {
		return open(t, pgtest.SchemaDSN(t, path))
	})
}

func TestPruneConformance(t *testing.T) {
	pgtest.Need(t)
	storetest.RunPrune(t, func(t *testing.T, path string) storetest.PruneStore {
		return open(t, pgtest.SchemaDSN(t, path))
	})
}
