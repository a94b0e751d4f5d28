package eval

import (
	"context"
	"math/rand"
	"strings"
	"testing"
	"time"

	"breakglass/internal/kql"
)

// TestCorpusRuns: every corpus query that compiles over the six tables also
// runs, over a few hundred seeded sign-in records and the real AuditLogs
// rows, without an error (a runtime error in a detection is a silent miss).
func TestCorpusRuns(t *testing.T) {
	cases := loadCorpus(t)
	six := sixCatalog(t)
	seed := int64(7)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, name := range []string{"SigninLogs", "AADNonInteractiveUserSignInLogs"} {
		tb := six.tables[name]
		for _, r := range syntheticSignins(rng, tb.Columns, 300) {
			tb.Rows = append(tb.Rows, r.row)
		}
	}
	for _, r := range realAuditRecords(t, six.tables["AuditLogs"].Columns) {
		six.tables["AuditLogs"].Rows = append(six.tables["AuditLogs"].Rows, r.row)
	}
	ran, rows := 0, 0
	for _, c := range cases {
		sc, err := kql.Parse(c.query)
		if err != nil {
			continue
		}
		q, err := Compile(sc, six, Options{Now: time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), Watchlists: anyWatchlist{&Table{}}.m(c.query)})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Errorf("%s: %v", c.id, err)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := q.Run(ctx)
		cancel()
		if err != nil {
			t.Errorf("%s: %v\n  %.300s", c.id, err, c.query)
			continue
		}
		ran++
		rows += len(res.Rows)
	}
	t.Logf("%d corpus queries ran, %d result rows in all", ran, rows)
}
