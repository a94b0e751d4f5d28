// Package tables is what the KQL engine runs over: the six Log Analytics
// tables of Entra's logs (SigninLogs, AADNonInteractiveUserSignInLogs,
// AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs, AuditLogs,
// MicrosoftGraphActivityLogs) with their Log Analytics column names and
// types, and the row of each record breakglass decodes, whatever shape it
// arrived in (a Log Analytics row, a diagnostic-settings record, a Graph
// object). Memory and Files are catalogs of such rows for internal/kql/eval.
//
// Fail closed: a record is never dropped for an odd field. A column that is
// missing, wrong-typed or unreadable is the null of its type and the row is
// still produced, so that a query over the table still sees the record.
package tables

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"strings"

	"breakglass/internal/kql/value"
)

// schemaCSV holds the six tables' rows of sentinelninja's
// la_table_schemas.csv (table_name, column_name, column_type), in that
// file's order; TestSchemaMatchesCorpus keeps it equal to the source.
//
//go:embed schema.csv
var schemaCSV string

// standardColumns are the Log Analytics standard columns every table with a
// TimeGenerated has but the schema CSV omits; appended, as Microsoft's
// analyser (the oracle) declares them, when a table lacks them.
var standardColumns = []value.Column{
	{Name: "TenantId", Type: value.String},
	{Name: "_ItemId", Type: value.String},
	{Name: "_ResourceId", Type: value.String},
	{Name: "_SubscriptionId", Type: value.String},
	{Name: "_TimeReceived", Type: value.DateTime},
}

// tableNames is the order Names returns.
var tableNames = []string{
	"SigninLogs",
	"AADNonInteractiveUserSignInLogs",
	"AADServicePrincipalSignInLogs",
	"AADManagedIdentitySignInLogs",
	"AuditLogs",
	"MicrosoftGraphActivityLogs",
}

// table is one table's schema with its column index.
type table struct {
	cols  []value.Column
	index map[string]int // exact column name -> position
	fold  map[string]int // lower-case column name -> position
}

var schemas = mustLoad(schemaCSV)

func mustLoad(text string) map[string]*table {
	m, err := loadSchemas(text)
	if err != nil {
		panic("tables: embedded schema.csv: " + err.Error())
	}
	return m
}

func loadSchemas(text string) (map[string]*table, error) {
	r := csv.NewReader(strings.NewReader(text))
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || len(recs[0]) < 3 || recs[0][0] != "table_name" {
		return nil, fmt.Errorf("no header")
	}
	m := map[string]*table{}
	for i, rec := range recs[1:] {
		typ, ok := value.ParseType(rec[2])
		if !ok {
			return nil, fmt.Errorf("line %d: unknown type %q", i+2, rec[2])
		}
		t := m[rec[0]]
		if t == nil {
			t = &table{index: map[string]int{}, fold: map[string]int{}}
			m[rec[0]] = t
		}
		if _, dup := t.index[rec[1]]; dup {
			continue // the oracle keeps the first declaration too
		}
		t.add(value.Column{Name: rec[1], Type: typ})
	}
	for _, name := range tableNames {
		t := m[name]
		if t == nil {
			return nil, fmt.Errorf("table %s missing", name)
		}
		if _, ok := t.index["TimeGenerated"]; !ok {
			continue
		}
		for _, c := range standardColumns {
			if _, ok := t.index[c.Name]; !ok {
				t.add(c)
			}
		}
	}
	return m, nil
}

func (t *table) add(c value.Column) {
	t.index[c.Name] = len(t.cols)
	if _, ok := t.fold[strings.ToLower(c.Name)]; !ok {
		t.fold[strings.ToLower(c.Name)] = len(t.cols)
	}
	t.cols = append(t.cols, c)
}

// Schema returns a table's columns, in Log Analytics' order with the
// standard columns last; false when the table is not one of Names. The
// slice is a copy the caller may keep.
func Schema(name string) ([]value.Column, bool) {
	t, ok := schemas[name]
	if !ok {
		return nil, false
	}
	return append([]value.Column(nil), t.cols...), true
}

// Names returns the tables' names.
func Names() []string { return append([]string(nil), tableNames...) }
