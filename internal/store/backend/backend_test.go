package backend_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/store/backend"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestDriversMatchConfig: every driver config accepts can be opened, and
// no backend is registered that config would refuse.
func TestDriversMatchConfig(t *testing.T) {
	want := slices.Sorted(slices.Values(config.StoreDrivers))
	if got := backend.Drivers(); !slices.Equal(got, want) {
		t.Errorf("backend.Drivers() = %v, config.StoreDrivers = %v", got, want)
	}
	if !slices.Contains(config.StoreDrivers, config.DefaultStoreDriver) {
		t.Errorf("default driver %q is not accepted", config.DefaultStoreDriver)
	}
}

func TestOpenByDriver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	for _, driver := range []string{"", config.StoreSQLite} {
		st, err := backend.Open(ctx, config.StoreConfig{Driver: driver, Path: path})
		if err != nil {
			t.Fatalf("Open(%q): %v", driver, err)
		}
		if _, ok := st.(*sqlite.Store); !ok {
			t.Errorf("Open(%q) = %T, want *sqlite.Store", driver, st)
		}
		st.Close()
	}
	dsn := pgtest.SchemaDSN(t, t.Name())
	st, err := backend.Open(ctx, config.StoreConfig{Driver: config.StorePostgres, FileDSN: config.Secret(dsn)})
	if err != nil {
		t.Fatalf("Open(postgres): %v", err)
	}
	defer st.Close()
	if _, ok := st.(*postgres.Store); !ok {
		t.Errorf("Open(postgres) = %T, want *postgres.Store", st)
	}
	if err := st.Writable(ctx); err != nil {
		t.Errorf("Writable: %v", err)
	}
	if _, err := backend.Open(ctx, config.StoreConfig{Driver: "mysql"}); err == nil || !strings.Contains(err.Error(), "sqlite") {
		t.Errorf("Open(mysql) = %v, want an error listing the drivers", err)
	}
}
