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
	Geo Geo // geo_info_from_ip_address's database; nil: none (null results)
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
	// ResultConst, when set, is used instead of Result by callers that
	// know the constant arguments: consts has one entry per argument, the
	// argument's value when it is a constant and the zero Value otherwise.
	// A typeof(T) argument is passed as the string Value "T" (both here and
	// to Call). extract(re, 1, s, typeof(long)) is long; bin_at and
	// datetime_diff check their part names here. Use ResultFor to call
	// whichever is set.
	ResultConst func(args []value.Type, consts []value.Value) (value.Type, error)
	// Call computes the function for one row. It never panics on bad
	// input: a value it cannot use gives a null of the result type, as in
	// Kusto.
	Call func(c *Ctx, args []value.Value) value.Value
}

// ResultFor returns the result type for these argument types and constant
// values (see ResultConst; consts may be nil).
func (f *Scalar) ResultFor(args []value.Type, consts []value.Value) (value.Type, error) {
	if f.ResultConst != nil {
		if consts == nil {
			consts = make([]value.Value, len(args))
		}
		return f.ResultConst(args, consts)
	}
	return f.Result(args)
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
	// Const lists the argument positions that must be constants
	// (percentile's P, make_set's max size, dcount's accuracy); positions
	// past the call's last argument are ignored.
	Const []int
	// New returns a fresh state for one group. consts has one entry per
	// argument: its value when it is a constant, else the zero Value or,
	// better, the null of the argument's type (value.NullOf(t)): states
	// use that type for their result over no rows (sum of nothing is a
	// 0 of its column's type, min of nothing a typed null).
	// Memory per state must stay bounded (make_set and make_list honour
	// their max size argument and Kusto's default cap of 1,048,576
	// elements). Add still receives every argument, constants included.
	New func(c *Ctx, consts []value.Value) State
	// Multi, when set, makes the aggregate yield several columns instead
	// of one (arg_max, arg_min, take_any over several arguments,
	// percentiles). names are the arguments' expression names ("" when
	// an argument has none; the engine expands * into one argument per
	// column first), types their types, consts as for New. The State then
	// also implements MultiState, whose Results line up with the columns.
	// Result and Column still describe the first column. The engine
	// resolves clashes between the names returned (UserId1, ...).
	Multi func(names []string, types []value.Type, consts []value.Value) ([]value.Column, error)
}

// MultiState is the State of an aggregate with Multi set.
type MultiState interface {
	State
	// Results returns one value per output column.
	Results() []value.Value
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
		guardScalar(f)
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
		guardAgg(a)
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

// arityError reports a call with the wrong number of arguments.
func arityError(name string, min, max, n int) error {
	switch {
	case max < 0:
		return fmt.Errorf("%s takes %d or more arguments, not %d", name, min, n)
	case min == max:
		return fmt.Errorf("%s takes %d arguments, not %d", name, min, n)
	}
	return fmt.Errorf("%s takes %d to %d arguments, not %d", name, min, max, n)
}

func badArity(min, max, n int) bool { return n < min || max >= 0 && n > max }

// guardScalar makes Result and ResultConst refuse a wrong argument count
// before the function's own checks index the arguments: they never panic.
func guardScalar(f *Scalar) {
	if r := f.Result; r != nil {
		f.Result = func(args []value.Type) (value.Type, error) {
			if badArity(f.Min, f.Max, len(args)) {
				return value.Dynamic, arityError(f.Name, f.Min, f.Max, len(args))
			}
			if hasUnknown(args) {
				return resolveUnknown(f.Name, args, r)
			}
			return r(args)
		}
	}
	if r := f.ResultConst; r != nil {
		f.ResultConst = func(args []value.Type, consts []value.Value) (value.Type, error) {
			if badArity(f.Min, f.Max, len(args)) || len(consts) != len(args) {
				return value.Dynamic, arityError(f.Name, f.Min, f.Max, len(args))
			}
			if hasUnknown(args) {
				return resolveUnknown(f.Name, args, func(ts []value.Type) (value.Type, error) { return r(ts, consts) })
			}
			return r(args, consts)
		}
	}
}

// guardAgg does the same for an aggregation's Result and Multi.
func guardAgg(a *Agg) {
	if r := a.Result; r != nil {
		a.Result = func(args []value.Type) (value.Type, error) {
			if badArity(a.Min, a.Max, len(args)) {
				return value.Dynamic, arityError(a.Name, a.Min, a.Max, len(args))
			}
			if hasUnknown(args) {
				return resolveUnknown(a.Name, args, r)
			}
			return r(args)
		}
	}
	if m := a.Multi; m != nil {
		a.Multi = func(names []string, types []value.Type, consts []value.Value) ([]value.Column, error) {
			if badArity(a.Min, a.Max, len(types)) {
				return nil, arityError(a.Name, a.Min, a.Max, len(types))
			}
			if !hasUnknown(types) {
				return m(names, types, consts)
			}
			return multiUnknown(a.Name, names, types, consts, m)
		}
	}
}
