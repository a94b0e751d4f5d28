package tables

import (
	"os"
	"testing"
)

// BenchmarkRow: the row of a diagnostic-settings sign-in (the Event Hubs
// shape), from its decoded event and bytes.
func BenchmarkRow(b *testing.B) {
	data, err := os.ReadFile("testdata/same-signin.diagnostic.json")
	if err != nil {
		b.Fatal(err)
	}
	rec := records(b, data)[0]
	b.SetBytes(int64(len(rec.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		r := *rec
		Row(&r)
	}
}
