// Package kqlbench holds the speed comparison of issue 12: on one file of
// 200,000 generated records (mixed shapes, some break-glass activity), the
// built-in scan against a KQL filter rule, a summarize-by rule, a join
// rule, and jq with the equivalent filter, in one `go test -bench` run
// (make bench). The file is generated deterministically (seed 7) unless
// $BREAKGLASS_KQL_BENCH_FILE names one.
package kqlbench
