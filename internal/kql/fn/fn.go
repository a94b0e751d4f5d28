// Package fn is the KQL engine's function library: scalar functions
// (ago, tostring, parse_json, iff, strcat, ...) and aggregation functions
// (count, dcount, make_set, arg_max, ...), each registered once by name.
// The evaluator (internal/kql/eval) looks functions up here at compile
// time, asks each for its result type (so a query's result schema is known
// before any row is read, as in Kusto), and calls it per row or per group.
//
// Adding a function touches one file of this package and its tests.
package fn

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"breakglass/internal/kql/value"
)

// Ctx is what a call may depend on besides its arguments. Now is fixed for
// the whole query (now() and ago() agree across rows, as in Kusto).
type Ctx struct {
	Now time.Time
}

// Scalar is a scalar function.
type Scalar struct {
	Name     string
	Aliases  []string // iif for iff, todynamic for parse_json, ...
	Min, Max int      // argument count; Max < 0 means variadic
	// Result returns the result type for the argument types, or an error
	// naming the argument that has the wrong type (reported at compile time
	// with the call's line:col).
	Result func(args []value.Type) (value.Type, error)
	// Const lists the argument positions that must be constants (a regex
	// pattern, a format string, a bin size); the evaluator checks it and
	// may precompute from them once.
	Const []int
	// Call computes the function for one row. It never panics on bad
	// input: a value it cannot use gives a null of the result type, as in
	// Kusto.
	Call func(c *Ctx, args []value.Value) value.Value
}

// Agg is an aggregation function (the functions summarize takes).
type Agg struct {
	Name     string
	Aliases  []string
	Min, Max int
	Result   func(args []value.Type) (value.Type, error)
	// Column is the default output column name when the aggregate is not
	// named in the query: count() is count_, dcount(X) dcount_X,
	// make_set(X) set_X, sum(X) sum_X, ... arg names the first argument's
	// column (its expression name, "" when it has none).
	Column func(arg string) string
	// New returns a fresh state for one group. Memory per state must stay
	// bounded (make_set and make_list honour their max size argument and
	// Kusto's default cap of 1,048,576 elements).
	New func(c *Ctx, consts []value.Value) State
}

// State accumulates one group's values.
type State interface {
	// Add takes one row's argument values.
	Add(args []value.Value)
	// Result returns the aggregate's value for the rows added so far.
	Result() value.Value
}

var (
	scalars = map[string]*Scalar{}
	aggs    = map[string]*Agg{}
)

// Register adds scalar functions; it panics on a duplicate name (a
// programming error caught by every test run).
func Register(fs ...*Scalar) {
	for _, f := range fs {
		for _, n := range append([]string{f.Name}, f.Aliases...) {
			if _, dup := scalars[n]; dup {
				panic(fmt.Sprintf("kql/fn: scalar function %q registered twice", n))
			}
			scalars[n] = f
		}
	}
}

// RegisterAgg adds aggregation functions; it panics on a duplicate name.
func RegisterAgg(as ...*Agg) {
	for _, a := range as {
		for _, n := range append([]string{a.Name}, a.Aliases...) {
			if _, dup := aggs[n]; dup {
				panic(fmt.Sprintf("kql/fn: aggregation %q registered twice", n))
			}
			aggs[n] = a
		}
	}
}

// Lookup returns the scalar function of that name (KQL function names are
// case-sensitive), or nil.
func Lookup(name string) *Scalar { return scalars[name] }

// LookupAgg returns the aggregation of that name, or nil.
func LookupAgg(name string) *Agg { return aggs[name] }

// Names lists every registered scalar and aggregation name, sorted (for
// "unknown function" suggestions and the README's function list).
func Names() []string {
	var out []string
	for n := range scalars {
		out = append(out, n)
	}
	for n := range aggs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Suggest returns a registered name close to an unknown one ("" if none):
// the case-insensitive match first (Tostring → tostring).
func Suggest(name string) string {
	for _, n := range Names() {
		if strings.EqualFold(n, name) {
			return n
		}
	}
	return ""
}
