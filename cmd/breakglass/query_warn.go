package main

import (
	"fmt"
	"io"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/kql"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/fn"
)

// queryWarnings says what a query that runs will not see: tables outside
// the six (union isfuzzy=true skips them) and locations without a GeoIP
// database (geo_info_from_ip_address is null). A rule is refused for
// either (package kqlrule); an ad hoc query runs and says so.
func queryWarnings(w io.Writer, b kql.Block, q *eval.Query, opt eval.Options) {
	if m := q.MissingTables(); len(m) > 0 {
		fmt.Fprintf(w, "warning: the query at line %d reads tables breakglass does not have (%s): union isfuzzy=true skips them, so none of their rows are in the result\n",
			b.Line, strings.Join(m, ", "))
	}
	if q.UsesGeo() && opt.Geo == nil {
		fmt.Fprintf(w, "warning: the query at line %d calls %s, but %s is not set (pass --config with it): every location is null\n",
			b.Line, fn.GeoFunc, config.GeoIPKey)
	}
}
