package eval

import (
	"slices"
	"strings"
	"testing"

	"breakglass/internal/kql/value"
)

// openCatalog has one known table, K (User, N); every other name is
// outside the catalog.
func openCatalog() *memCatalog {
	return &memCatalog{tables: map[string]*Table{"K": {
		Columns: []value.Column{{Name: "User", Type: value.String}, {Name: "N", Type: value.Long}},
		Rows: [][]value.Value{
			{value.NewString("bg1"), value.NewLong(1)},
			{value.NewString("bg2"), value.NewLong(2)},
			{value.NewString("alice"), value.NewLong(3)},
		},
	}}}
}

// TestOpenTableRun: an open table of a fuzzy union has no rows; the known
// tables' rows come through with the open columns null, and the query
// names the tables it could not read.
func TestOpenTableRun(t *testing.T) {
	cases := []struct {
		q       string
		cols    string
		rows    []string // each row's values joined by |
		missing []string
	}{
		{
			q:       `union isfuzzy=true (Missing | where B > 1 | extend x = 1), (K | where User startswith "bg") | extend y = strcat(User, "!") | project User, y, B, x`,
			cols:    "User:string, y:string, B:unknown, x:long",
			rows:    []string{"bg1|bg1!||", "bg2|bg2!||"},
			missing: []string{"Missing"},
		},
		{
			q:       `union isfuzzy=true Missing, K | count`,
			cols:    "Count:long",
			rows:    []string{"3"},
			missing: []string{"Missing"},
		},
		{
			// summarize by an unknown column: one group, its key null
			q:       `union isfuzzy=true (Missing | project A), K | summarize count(), m = max(A) by A`,
			cols:    "A:unknown, count_:long, m:unknown",
			rows:    []string{"|3|"},
			missing: []string{"Missing"},
		},
		{
			// an unknown-typed expression holds the values it computes
			q:       `union isfuzzy=true (Missing | project A), K | extend z = coalesce(A, User) | where z == "alice" | project z, isnull(A), tostring(A), N`,
			cols:    "z:unknown, Column1:bool, A:string, N:long",
			rows:    []string{"alice|true||3"},
			missing: []string{"Missing"},
		},
		{
			// where on an unknown column: null is not true
			q:       `union isfuzzy=true (Missing | where A == "x"), (Other | project A), K | where A == "bg1" or isnotempty(A) | count`,
			cols:    "Count:long",
			rows:    []string{"0"},
			missing: []string{"Missing", "Other"},
		},
		{
			// a join key of an open table matches nothing
			q:       `K | join kind=leftouter (union isfuzzy=true (Missing | project User, Extra)) on User | project User, Extra | sort by User asc`,
			cols:    "User:string, Extra:unknown",
			rows:    []string{"alice|", "bg1|", "bg2|"},
			missing: []string{"Missing"},
		},
		{
			// a column whose first two inputs agree on its type is one
			// column: the third input's values are converted to it
			q:    `union (print A = "x"), (print A = "y"), (print A = 1), (print A = "z", B = 2) | project A, B`,
			cols: "A:string, B:long",
			rows: []string{"x|", "y|", "1|", "z|2"},
		},
		{
			q:    `K | mv-expand x = dynamic([1, 2]) | summarize count()`,
			cols: "count_:long",
			rows: []string{"6"},
		},
	}
	for _, c := range cases {
		q, res, err := run(t, openCatalog(), c.q)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if got := colsString(q.Columns()); got != c.cols {
			t.Errorf("%s: columns %s, want %s", c.q, got, c.cols)
		}
		var rows []string
		for _, r := range res.Rows {
			var vs []string
			for _, v := range r {
				vs = append(vs, v.String())
			}
			rows = append(rows, strings.Join(vs, "|"))
		}
		if !slices.Equal(rows, c.rows) {
			t.Errorf("%s: rows %q, want %q", c.q, rows, c.rows)
		}
		if got := q.MissingTables(); !slices.Equal(got, c.missing) {
			t.Errorf("%s: MissingTables %v, want %v", c.q, got, c.missing)
		}
	}
}

// TestOpenTableRefused: outside union isfuzzy=true a table outside the
// catalog is an error, as the analyser says (KS204), in every position.
func TestOpenTableRefused(t *testing.T) {
	for _, q := range []string{
		`Missing | project A`,
		`union Missing, K`,
		`union (Missing | where A > 1), K`,
		`union isfuzzy=false (Missing | where A > 1), K`,
		`K | join (Missing) on User`,
		`union isfuzzy=true (K | where Nope > 1)`, // an unknown column of a known table stays an error
		`union isfuzzy=true (Missing | count) | project Q`,
	} {
		if _, _, err := run(t, openCatalog(), q); err == nil {
			t.Errorf("%s: compiled; want an error", q)
		} else if !strings.Contains(err.Error(), "unknown") {
			t.Errorf("%s: %v; want an unknown table or column error", q, err)
		}
	}
}
