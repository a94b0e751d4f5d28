package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"breakglass/internal/kql"
)

// FuzzCompileRun: Compile and Run of any text over the probe tables never
// panics (the engine's recover turns a panic into an "internal error",
// which fails here) and stays bounded (small MaxRows/MaxGroups, a deadline).
func FuzzCompileRun(f *testing.F) {
	if fh, err := os.Open("testdata/probes.jsonl"); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var p probe
			if json.Unmarshal(sc.Bytes(), &p) == nil {
				f.Add(p.Query)
			}
		}
		fh.Close()
	}
	for _, s := range []string{
		`T | join kind=fullouter U on User | mv-expand Props.tags | summarize make_set(App) by tostring(Props_tags)`,
		`let f = (x:long) { f(x) }; print f(1)`,
		`range x from 1 to 100000000 step 1 | count`,
		`T | mv-apply t = Props.tags on (top 1 by tostring(t)) | parse User with a "@" b | project-away P*`,
		`union withsource=S T, U, (print x = 1) | sort by S nulls first | distinct *`,
		`let m = materialize(T); m | lookup (m | summarize arg_max(TimeGenerated, *) by User) on User`,
		`datatable(a:long, b:dynamic)[1, dynamic([1,[2,[3]]]), 2, dynamic({"k":{"j":1}})] | mv-expand bagexpansion=array b | extend c = b[0][-1].x`,
		`union isfuzzy=true (X | where A > 1 | summarize arg_max(B, *), m = min(C) by D), (T | project User) | join kind=leftouter (union isfuzzy=true (Y | project User, Q)) on User | extend z = iff(A > 1, Q.k[0], "x") | mv-expand Q | sort by z`,
	} {
		f.Add(s)
	}
	cat := probeCatalog(f)
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			return
		}
		sc, err := kql.Parse(text)
		if err != nil {
			return
		}
		q, err := Compile(sc, cat, Options{Now: testNow, MaxRows: 100, MaxGroups: 1000})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("compile panicked: %v\n%s", err, text)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := q.Run(ctx)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("run panicked: %v\n%s", err, text)
			}
			return
		}
		if len(res.Rows) > 100 {
			t.Fatalf("%d rows over MaxRows 100", len(res.Rows))
		}
		for _, r := range res.Rows {
			if len(r) != len(q.Columns()) {
				t.Fatalf("a row of %d values for %d columns: %s", len(r), len(q.Columns()), text)
			}
		}
		if flt, ok := q.Filter(); ok {
			for _, row := range cat.tables[flt.Table].Rows {
				if out, ok := flt.Match(row); ok && len(out) != len(flt.Columns) {
					t.Fatalf("Match gave %d values for %d columns: %s", len(out), len(flt.Columns), text)
				}
			}
		}
	})
}
