package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

// memCatalog is a catalog of in-memory tables for tests.
type memCatalog struct {
	tables   map[string]*Table
	verbatim bool
}

func (m *memCatalog) Schema(t string) ([]value.Column, bool) {
	tb, ok := m.tables[t]
	if !ok {
		return nil, false
	}
	return tb.Columns, true
}

func (m *memCatalog) Scan(ctx context.Context, t string, f func([]value.Value) error) error {
	tb, ok := m.tables[t]
	if !ok {
		return fmt.Errorf("no table %s", t)
	}
	for _, r := range tb.Rows {
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memCatalog) Tables() []string {
	var out []string
	for n := range m.tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// verbatimCatalog vouches that every string and dynamic column is raw text.
type verbatimCatalog struct{ *memCatalog }

func (verbatimCatalog) Verbatim(table, column string) bool { return true }

// cell builds a typed value from JSON test data.
func cell(t value.Type, x any) value.Value {
	if x == nil {
		return value.NullOf(t)
	}
	switch t {
	case value.DateTime:
		tm, err := time.Parse(time.RFC3339Nano, x.(string))
		if err != nil {
			panic(err)
		}
		return value.NewDateTime(tm)
	case value.String:
		return value.NewString(x.(string))
	case value.Long:
		return value.NewLong(int64(x.(float64)))
	case value.Int:
		return value.NewInt(int32(x.(float64)))
	case value.Real:
		return value.NewReal(x.(float64))
	case value.Bool:
		return value.NewBool(x.(bool))
	case value.TimeSpan:
		d, _ := parseTimeSpanText(x.(string))
		return value.NewTimeSpan(d)
	}
	return value.NewDynamic(x)
}

// probeCatalog loads testdata/probe_data.json: tables T and U of the oracle's probes.
func probeCatalog(t testing.TB) *memCatalog {
	b, err := os.ReadFile("testdata/probe_data.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]struct {
		Columns [][2]string `json:"columns"`
		Rows    [][]any     `json:"rows"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	cat := &memCatalog{tables: map[string]*Table{}}
	for name, tb := range raw {
		out := &Table{}
		for _, c := range tb.Columns {
			typ, ok := value.ParseType(c[1])
			if !ok {
				t.Fatalf("type %q", c[1])
			}
			out.Columns = append(out.Columns, value.Column{Name: c[0], Type: typ})
		}
		for _, r := range tb.Rows {
			row := make([]value.Value, len(r))
			for i, x := range r {
				row[i] = cell(out.Columns[i].Type, x)
			}
			out.Rows = append(out.Rows, row)
		}
		cat.tables[name] = out
	}
	return cat
}

var testNow = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)

// run compiles and runs q over cat.
func run(t testing.TB, cat Catalog, q string) (*Query, *Result, error) {
	t.Helper()
	sc, err := kql.Parse(q)
	if err != nil {
		return nil, nil, err
	}
	cq, err := Compile(sc, cat, Options{Now: testNow})
	if err != nil {
		return nil, nil, err
	}
	res, err := cq.Run(context.Background())
	return cq, res, err
}

func colsString(cols []value.Column) string {
	s := ""
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += c.Name + ":" + c.Type.String()
	}
	return s
}
