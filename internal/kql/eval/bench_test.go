package eval

import (
	"context"
	"math/rand"
	"testing"

	"breakglass/internal/kql"
)

func benchCatalog(b *testing.B, n int) *memCatalog {
	six := sixCatalog(b)
	rng := rand.New(rand.NewSource(1))
	cols := six.tables["SigninLogs"].Columns
	t := &Table{Columns: cols}
	for _, r := range syntheticSignins(rng, cols, n) {
		t.Rows = append(t.Rows, r.row)
	}
	six.tables["SigninLogs"] = t
	return six
}

func benchQuery(b *testing.B, q string) {
	cat := benchCatalog(b, 20000)
	sc, err := kql.Parse(q)
	if err != nil {
		b.Fatal(err)
	}
	cq, err := Compile(sc, cat, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cq.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*20000)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkFilterMatch: the per-record form of a break-glass filter rule.
func BenchmarkFilterMatch(b *testing.B) {
	cat := benchCatalog(b, 20000)
	sc, _ := kql.Parse(`SigninLogs | where UserPrincipalName in~ ("bg-admin1@contoso.com", "bg-admin2@contoso.com") | project TimeGenerated, UserPrincipalName, IPAddress`)
	q, err := Compile(sc, cat, Options{})
	if err != nil {
		b.Fatal(err)
	}
	f, _ := q.Filter()
	rows := cat.tables["SigninLogs"].Rows
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Match(rows[i%len(rows)])
	}
}

func BenchmarkSummarizeBy(b *testing.B) {
	benchQuery(b, `SigninLogs | summarize n = count(), apps = make_set(AppDisplayName) by UserPrincipalName, bin(TimeGenerated, 1h)`)
}

func BenchmarkJoin(b *testing.B) {
	benchQuery(b, `SigninLogs | where ResultType != "0" | join kind=inner (SigninLogs | where ResultType == "0" | summarize by UserPrincipalName) on UserPrincipalName | count`)
}
