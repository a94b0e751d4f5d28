package tables

import (
	"os"
	"testing"

	"breakglass/internal/detect"
	"breakglass/internal/entra"
)

// FuzzRow: any bytes, split and decoded as the scanner does, or handed to
// Row as the raw record of each table, give a full row of the table's
// types, without panicking; the row's size is bounded by its column count.
func FuzzRow(f *testing.F) {
	for _, p := range samples {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"properties":"{\"location\":[{}]}","category":"SignInLogs","time":1}`))
	f.Add([]byte(`{"Type":"AuditLogs","InitiatedBy":"[[[[","TargetResources":{"a":1},"DurationMs":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		for _, rec := range records(t, data) {
			table, row := Row(rec)
			if cols, ok := Schema(table); ok {
				named(t, table, row)
				if len(row) != len(cols) {
					t.Fatalf("%s: %d values", table, len(row))
				}
			} else if row != nil {
				t.Fatalf("%s: a row for a table without a schema", table)
			}
		}
		for _, name := range Names() {
			_, row := Row(&detect.Record{Table: name, Raw: data, Event: &entra.Event{}})
			named(t, name, row)
			// The bytes read as each shape, whatever Classify says.
			tb := schemas[name]
			for _, shape := range []int{shapeLA, shapeDiagnostic, shapeGraph} {
				src := newRawSource(data, shape, tb)
				for i, c := range tb.cols {
					if v := column(i, c, nil, src, shape == shapeLA); v.T != c.Type {
						t.Fatalf("%s.%s: a %s value", name, c.Name, v.T)
					}
				}
			}
		}
	})
}
