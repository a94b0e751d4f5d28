package migrate_test

import (
	"context"
	"strings"
	"testing"

	"breakglass/internal/store"
	"breakglass/internal/store/migrate"
)

// fakeDump and fakeLoad are schemas without a database, for the checks
// that pair two schemas before anything is copied.
type fakeDump struct {
	version int
	tables  []store.Table
}

func (d fakeDump) SchemaVersion() int    { return d.version }
func (d fakeDump) Tables() []store.Table { return d.tables }
func (d fakeDump) Rows(context.Context, string, func([]any) error) error {
	return nil
}
func (d fakeDump) LogEntries(context.Context, int64, int) ([]store.LogEntry, error) { return nil, nil }
func (d fakeDump) Dump(ctx context.Context, fn func(store.Dump) error) error        { return fn(d) }

type fakeLoad struct {
	fakeDump
	derived  []string
	inserted int
}

func (l *fakeLoad) Derived() []string { return l.derived }
func (l *fakeLoad) Insert(context.Context, string, []string, []any) error {
	l.inserted++
	return nil
}
func (l *fakeLoad) SetNext(string, int64)                                     {}
func (l *fakeLoad) Load(ctx context.Context, fn func(store.Load) error) error { return fn(l) }

// TestPlanRefusesMismatch: schemas that differ (a table or column one side
// lacks, a derived table carried, another version) copy nothing and say
// what differs.
func TestPlanRefusesMismatch(t *testing.T) {
	base := []store.Table{{Name: "alerts", Columns: []string{"seq", "id"}}, {Name: "outbox", Columns: []string{"id", "alert_id"}}}
	with := func(ts ...store.Table) []store.Table { return append(append([]store.Table{}, base...), ts...) }
	for _, tc := range []struct {
		name     string
		src, dst fakeDump
		derived  []string
		want     string
	}{
		{"table only in the source", fakeDump{9, with(store.Table{Name: "leases", Columns: []string{"name"}})}, fakeDump{9, base}, nil, "the target has no table leases"},
		{"table only in the target", fakeDump{9, base}, fakeDump{9, with(store.Table{Name: "leases", Columns: []string{"name"}})}, nil, "the source has no table leases"},
		{"column only in the source", fakeDump{9, []store.Table{{Name: "alerts", Columns: []string{"seq", "id", "tenant"}}, base[1]}}, fakeDump{9, base}, nil, "table alerts has no column tenant"},
		{"derived table carried", fakeDump{9, with(store.Table{Name: "alert_labels", Columns: []string{"alert_id"}})}, fakeDump{9, base}, []string{"alert_labels"}, "derives itself"},
		{"versions differ", fakeDump{10, base}, fakeDump{9, base}, nil, "source schema version 10, target 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &fakeLoad{fakeDump: tc.dst, derived: tc.derived}
			_, err := migrate.Copy(context.Background(), tc.src, l, migrate.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("copy = %v, want %q", err, tc.want)
			}
			if l.inserted != 0 {
				t.Errorf("%d rows inserted despite the mismatch", l.inserted)
			}
		})
	}
	// The same schemas copy.
	if _, err := migrate.Copy(context.Background(), fakeDump{9, base}, &fakeLoad{fakeDump: fakeDump{9, base}}, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
}
