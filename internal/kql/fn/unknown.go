package fn

import "breakglass/internal/kql/value"

// Arguments of type unknown (a column of an open table: see value.Unknown).
//
// Microsoft's analyser lets an unknown argument stand for any type and
// resolves the call's overloads with it: when every overload the unknown
// could select gives one result type, the call has that type (tostring(U)
// is string, dcount(U) long, ago(U) datetime); when they differ, the call
// is unknown (min(U), sum(U), bin(U, 1h), U + 1). Functions whose result
// is the common type of their value arguments (iff, case, coalesce,
// min_of, max_of) are unknown as soon as one of those is. The engine does
// the same by trying each concrete type in the unknown positions.
// TestOracleTypes checks it on every function, with each argument unknown.

// substitutes are the types an unknown argument may stand for.
var substitutes = []value.Type{value.Bool, value.Int, value.Long, value.Real, value.Decimal, value.String,
	value.DateTime, value.TimeSpan, value.Guid, value.Dynamic}

// maxUnknownArgs bounds the combinations tried; further unknown arguments
// stand for dynamic.
const maxUnknownArgs = 3

// valueArg reports whether argument i of n is one whose type the result
// follows (the analyser's "common" and "parameter" return kinds): iff's
// and case's values (not their conditions), coalesce's and min_of's
// arguments, the array of the array functions that return it reshaped.
// An unknown there makes the call unknown.
func valueArg(name string, i, n int) bool {
	switch name {
	case "iff", "iif":
		return i > 0
	case "case":
		return i%2 == 1 || i == n-1
	case "coalesce", "min_of", "max_of", "array_concat":
		return true
	case "array_reverse", "array_rotate_left", "array_rotate_right", "array_shift_left", "array_shift_right",
		"array_slice", "array_split":
		return i == 0
	}
	return false
}

// firstArgTyped: functions whose result is their first argument's type
// (bin(L, U) is long); an unknown elsewhere takes that type too.
var firstArgTyped = map[string]bool{"bin": true, "floor": true, "bin_at": true}

func hasUnknown(ts []value.Type) bool {
	for _, t := range ts {
		if t == value.Unknown {
			return true
		}
	}
	return false
}

// resolveUnknown gives the result type of a call with unknown arguments:
// res is the function's own rule for concrete types.
func resolveUnknown(name string, args []value.Type, res func([]value.Type) (value.Type, error)) (value.Type, error) {
	for i, t := range args {
		if t == value.Unknown && valueArg(name, i, len(args)) {
			return value.Unknown, nil
		}
	}
	if firstArgTyped[name] && args[0] != value.Unknown {
		same := append([]value.Type(nil), args...)
		for i, t := range same {
			if t == value.Unknown {
				same[i] = args[0]
			}
		}
		if t, err := res(same); err == nil {
			return t, nil
		}
	}
	var pos []int
	try := append([]value.Type(nil), args...)
	for i, t := range args {
		if t != value.Unknown {
			continue
		}
		if len(pos) < maxUnknownArgs {
			pos = append(pos, i)
		} else {
			try[i] = value.Dynamic
		}
	}
	results := map[value.Type]bool{}
	var first error
	var walk func(k int)
	walk = func(k int) {
		if k == len(pos) {
			t, err := res(try)
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			results[t] = true
			return
		}
		for _, s := range substitutes {
			try[pos[k]] = s
			walk(k + 1)
		}
	}
	walk(0)
	switch {
	case len(results) == 0:
		// No type would do: the call is wrong whatever the column holds.
		return value.Dynamic, first
	case len(results) > 1:
		return value.Unknown, nil
	}
	for t := range results {
		return t, nil
	}
	return value.Unknown, nil
}

// multiUnknown types the columns of a Multi aggregate (arg_max, take_any,
// percentiles, ...) with unknown arguments: each unknown stands for the
// first type the aggregate takes there, and the columns of unknown
// arguments are unknown (all of them for the percentiles of an unknown).
func multiUnknown(name string, names []string, types []value.Type, consts []value.Value,
	m func([]string, []value.Type, []value.Value) ([]value.Column, error)) ([]value.Column, error) {
	ts := append([]value.Type(nil), types...)
	for i, t := range ts {
		if t == value.Unknown {
			ts[i] = value.Dynamic
		}
	}
	for i, t := range types {
		if t != value.Unknown {
			continue
		}
		for _, s := range substitutes {
			ts[i] = s
			if _, err := m(names, ts, consts); err == nil {
				break
			}
		}
	}
	cols, err := m(names, ts, consts)
	if err != nil {
		return nil, err
	}
	switch {
	case len(cols) == len(types):
		for i, t := range types {
			if t == value.Unknown {
				cols[i].Type = value.Unknown
			}
		}
	case types[0] == value.Unknown:
		for i := range cols {
			cols[i].Type = value.Unknown
		}
	}
	return cols, nil
}
