package eval

import (
	"crypto/sha1"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"breakglass/internal/kql/value"
)

const genSeed = 12

// generatedQueries builds queries over the six tables from templates, with
// columns picked by a seeded random source (the seed is logged).
func generatedQueries(t *testing.T) []schemaCase {
	t.Logf("generated queries: seed %d", genSeed)
	cat := sixCatalog(t)
	rng := rand.New(rand.NewSource(genSeed))
	names := cat.Tables()
	pick := func(cols []value.Column, want func(value.Column) bool) string {
		var ok []string
		for _, c := range cols {
			if want(c) && !strings.ContainsAny(c.Name, " -") {
				ok = append(ok, c.Name)
			}
		}
		if len(ok) == 0 {
			return "TimeGenerated"
		}
		return ok[rng.Intn(len(ok))]
	}
	isT := func(t value.Type) func(value.Column) bool {
		return func(c value.Column) bool { return c.Type == t }
	}
	any := func(value.Column) bool { return true }
	scalarCol := func(c value.Column) bool { return c.Type != value.Dynamic }
	templates := []func(tb string, cols []value.Column, other string, ocols []value.Column) string{
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | project %s, %s", tb, pick(cols, any), pick(cols, any))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | extend x = tostring(%s.id), %s.displayName", tb, pick(cols, isT(value.Dynamic)), pick(cols, isT(value.Dynamic)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | summarize count(), dcount(%s), make_set(%s) by %s", tb, pick(cols, scalarCol), pick(cols, isT(value.String)), pick(cols, scalarCol))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | summarize arg_max(TimeGenerated, *) by %s", tb, pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | where %s == \"x\" | project-away %s, %s", tb, pick(cols, isT(value.String)), pick(cols, any), pick(cols, any))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | project-rename Renamed = %s | project-reorder %s", tb, pick(cols, any), pick(cols, any))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | distinct %s, %s", tb, pick(cols, scalarCol), pick(cols, scalarCol))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | top 5 by %s asc nulls last | take 3", tb, pick(cols, scalarCol))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			d := pick(cols, isT(value.Dynamic))
			return fmt.Sprintf("%s | mv-expand %s | mv-expand x = %s.items to typeof(string)", tb, d, pick(cols, isT(value.Dynamic)))
		},
		func(tb string, cols []value.Column, o string, ocols []value.Column) string {
			k := pick(cols, isT(value.String))
			kinds := []string{"inner", "innerunique", "leftouter", "rightouter", "fullouter", "leftsemi", "leftanti", "rightsemi", "rightanti"}
			return fmt.Sprintf("%s | join kind=%s (%s | project %s, %s) on $left.%s == $right.%s", tb, kinds[rng.Intn(len(kinds))], o, pick(ocols, isT(value.String)), pick(ocols, any), k, pick(ocols, isT(value.String)))
		},
		func(tb string, cols []value.Column, o string, ocols []value.Column) string {
			k := pick(cols, isT(value.String))
			return fmt.Sprintf("%s | lookup (%s | summarize n = count() by %s = %s) on %s", tb, o, k, pick(ocols, isT(value.String)), k)
		},
		func(tb string, cols []value.Column, o string, _ []value.Column) string {
			kinds := []string{"inner", "outer"}
			return fmt.Sprintf("union kind=%s withsource=Src %s, %s", kinds[rng.Intn(2)], tb, o)
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | summarize Count = count() by bin(TimeGenerated, 1h), %s | sort by Count", tb, pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | extend %s, tolower(%s), %s = 1", tb, pick(cols, any), pick(cols, isT(value.String)), pick(cols, any))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | parse %s with a \"/\" b:long \"/\" * | project a, b", tb, pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | where %s has \"admin\" or %s startswith \"x\" | count", tb, pick(cols, isT(value.String)), pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("let t = %s | where TimeGenerated > ago(1d); t | summarize min(TimeGenerated), max(%s), avg(%s) by %s", tb, pick(cols, scalarCol), pick(cols, isT(value.Long)), pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | extend age = now() - TimeGenerated, n = strlen(%s) * 2, r = 1.0 * strlen(%s) | project age, n, r", tb, pick(cols, isT(value.String)), pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | summarize countif(%s == \"x\"), percentile(%s, 95), take_any(%s) by %s", tb, pick(cols, isT(value.String)), pick(cols, isT(value.Long)), pick(cols, any), pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | project-keep %s, T* | getschema", tb, pick(cols, any))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			d := pick(cols, isT(value.Dynamic))
			return fmt.Sprintf("%s | mv-apply e = %s on (where isnotempty(e) | take 1) | project e, %s", tb, d, pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | project %s.a, %s['b'], %s[0]", tb, pick(cols, isT(value.Dynamic)), pick(cols, isT(value.Dynamic)), pick(cols, isT(value.Dynamic)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			d := pick(cols, isT(value.Dynamic))
			return fmt.Sprintf("%s | summarize count(), arg_min(TimeGenerated, %s) by tostring(%s.id), %s", tb, pick(cols, any), d, pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | extend tostring(%s.a.b), %s + 1h, strcat(%s, \"x\"), iff(isempty(%s), 1, 2)", tb, pick(cols, isT(value.Dynamic)), pick(cols, isT(value.DateTime)), pick(cols, isT(value.String)), pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | join kind=inner (%s) on %s | project-away *1", tb, tb, pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, o string, _ []value.Column) string {
			return fmt.Sprintf("%s | union (%s | extend %s = 1) | getschema | count", tb, o, pick(cols, isT(value.String)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			d := pick(cols, isT(value.Dynamic))
			return fmt.Sprintf("%s | mv-expand %s.items, x = %s to typeof(long) limit 10 | project-keep *items*, x", tb, d, pick(cols, isT(value.Dynamic)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | summarize make_list(%s), dcountif(%s, %s != \"\"), sumif(%s, true) by bin(TimeGenerated, 5m)", tb, pick(cols, any), pick(cols, isT(value.String)), pick(cols, isT(value.String)), pick(cols, isT(value.Long)))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("print now(), x = ago(1h), 1 + 2, %q, dynamic([1])[0]", tb)
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("let f = (t:(*)) { t | take 1 }; %s | invoke f() | project %s, %s", tb, pick(cols, any), pick(cols, any))
		},
		func(tb string, cols []value.Column, _ string, _ []value.Column) string {
			return fmt.Sprintf("%s | where %s in~ (\"a\", \"b\") and %s !between (1 .. 10) | sort by %s desc | project-rename X = %s", tb, pick(cols, isT(value.String)), pick(cols, isT(value.Long)), pick(cols, scalarCol), pick(cols, any))
		},
	}
	// Kusto's promotion rules, pinned by the oracle.
	out := []schemaCase{{id: "gtypes", query: `print a = int(1) + 1, b = 1 + 1.5, c = 1h + 1h, d = datetime(2024-01-01) - 1d, e = 1h * 1.5, f = 10 % 3, g = 1h / 2.5, h = -int(1), i = 2 * 1h, j = 1.5 - int(2), k = dynamic(1) + 1, l = 1d % 1h, m = int(1) * int(2), n = 1h + datetime(2024-01-01), o = dynamic(1) * dynamic(2), p = -dynamic(1), q = decimal(1) + 1, r = decimal(1) + 1.5, s = int(3) / int(2), t = 5 / 2.0, u = int(1) > 0.5, v = -1d, w = 1h / 1h, x = datetime(2024-01-02) - datetime(2024-01-01)`}}
	for i := 0; i < 3; i++ {
		for _, tmpl := range templates {
			tb := names[rng.Intn(len(names))]
			o := names[rng.Intn(len(names))]
			q := tmpl(tb, cat.tables[tb].Columns, o, cat.tables[o].Columns)
			h := sha1.Sum([]byte(q))
			out = append(out, schemaCase{id: fmt.Sprintf("g%x", h[:6]), query: q})
		}
	}
	// union isfuzzy=true with a table outside the catalog (an open table):
	// its columns are the names the query gives it, some of them also
	// columns of the known table beside it.
	invented := []string{"EventID", "Computer", "Account", "SourceIP", "Activity"}
	name := func(cols []value.Column) string {
		if rng.Intn(2) == 0 {
			return invented[rng.Intn(len(invented))]
		}
		return pick(cols, scalarCol)
	}
	// real is n when it is a column of the known table, else one that is.
	real := func(n string, cols []value.Column) string {
		for _, c := range cols {
			if c.Name == n {
				return n
			}
		}
		return pick(cols, scalarCol)
	}
	openTemplates := []func(tb string, cols []value.Column) string{
		func(tb string, cols []value.Column) string {
			a, b, k := name(cols), name(cols), name(cols)
			return fmt.Sprintf("union isfuzzy=true (SecurityEvent | where %s > 1 | extend y = tostring(%s) | summarize count(), m = min(%s) by %s), (%s | project %s, %s)", a, b, a, k, tb, real(a, cols), real(k, cols))
		},
		func(tb string, cols []value.Column) string {
			a, b, c := name(cols), name(cols), name(cols)
			return fmt.Sprintf("union isfuzzy=true (%s | project %s, %s), (Syslog | project %s, x = %s) | where %s == \"x\" | project %s, x, %s", tb, real(a, cols), real(b, cols), a, c, b, a, c)
		},
		func(tb string, cols []value.Column) string {
			a, b := name(cols), name(cols)
			return fmt.Sprintf("union isfuzzy=true (OfficeActivity | where %s has \"x\" | extend t = iff(%s > 0, %s, 0)), %s | summarize arg_max(TimeGenerated, %s), dcount(%s) by %s", a, b, b, tb, a, b, a)
		},
	}
	for i := 0; i < 4; i++ {
		for _, tmpl := range openTemplates {
			tb := names[rng.Intn(len(names))]
			q := tmpl(tb, cat.tables[tb].Columns)
			h := sha1.Sum([]byte(q))
			out = append(out, schemaCase{id: fmt.Sprintf("g%x", h[:6]), query: q})
		}
	}
	return out
}

// TestOracleSchemaGenerated: the same comparison on generated queries.
func TestOracleSchemaGenerated(t *testing.T) {
	if sharedDir(t) == "" && testing.Short() {
		t.Skip("short")
	}
	cases := generatedQueries(t)
	v := verdictsFor(t, cases, "testdata/oracle_schema_generated.tsv", fmt.Sprintf(verdictHeader, "TestOracleSchemaGenerated"))
	agree, total := compareSchemas(t, cases, v, loadKnown(t, "testdata/oracle_schema_known.tsv"))
	if total < 40 {
		t.Errorf("only %d generated queries are oracle-clean; the generator has drifted", total)
	}
	_ = agree
}
