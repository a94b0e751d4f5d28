package main

import (
	"fmt"
	"io"

	"breakglass/internal/kql"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kqlrule"
)

// queryWarnings prints what a query that runs will not see
// (kqlrule.Warnings), naming its line in the file or argument.
func queryWarnings(w io.Writer, b kql.Block, q *eval.Query, opt eval.Options) {
	for _, s := range kqlrule.Warnings(q, opt.Geo) {
		fmt.Fprintf(w, "warning: line %d: %s\n", b.Line, s)
	}
}
