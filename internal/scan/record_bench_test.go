package scan

import (
	"bytes"
	"context"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/simulate"
)

// BenchmarkRecordPath measures the per-record fast path (classify,
// prefilter, and decode+detect for the few records that may concern an
// account) on simulated input, one worker so that the pipeline's
// parallelism does not blur it.
func BenchmarkRecordPath(b *testing.B) {
	for _, shape := range []string{simulate.ShapeStorage, simulate.ShapeEventHub, simulate.ShapeLAJSON, simulate.ShapeGraph} {
		b.Run(shape, func(b *testing.B) {
			accounts := simulate.DemoAccounts()
			var in bytes.Buffer
			if _, err := simulate.Generate(context.Background(), &in, simulate.Options{Seed: 7, Count: 20000, Shape: shape, Accounts: accounts}, nil); err != nil {
				b.Fatal(err)
			}
			s := New(Options{Accounts: entra.NewAccountSet(accounts), Workers: 1})
			b.SetBytes(int64(in.Len()))
			b.ReportAllocs()
			for b.Loop() {
				var st Stats
				if err := s.Scan(context.Background(), "bench", bytes.NewReader(in.Bytes()), &st, func(Finding) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
