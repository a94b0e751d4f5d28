package fn

import (
	"fmt"
	"strings"

	"breakglass/internal/kql/value"
)

// Conditional and choice functions: iff/iif, case, coalesce, min_of,
// max_of, not (https://learn.microsoft.com/kusto/query/iff-function).

func init() {
	Register(
		&Scalar{Name: "iff", Aliases: []string{"iif"}, Min: 3, Max: 3, Result: iffType,
			Call: func(_ *Ctx, a []value.Value) value.Value {
				t := common([]value.Type{a[1].T, a[2].T})
				if a[0].T == value.Bool && !a[0].IsNull() && a[0].Bool() {
					return castTo(a[1], t)
				}
				return castTo(a[2], t)
			}},
		&Scalar{Name: "case", Min: 3, Max: -1, Result: caseType,
			Call: func(_ *Ctx, a []value.Value) value.Value {
				ts := make([]value.Type, 0, len(a)/2+1)
				for i := 1; i < len(a); i += 2 {
					ts = append(ts, a[i].T)
				}
				ts = append(ts, a[len(a)-1].T)
				t := common(ts)
				for i := 0; i+1 < len(a); i += 2 {
					if a[i].T == value.Bool && !a[i].IsNull() && a[i].Bool() {
						return castTo(a[i+1], t)
					}
				}
				return castTo(a[len(a)-1], t)
			}},
		&Scalar{Name: "coalesce", Min: 2, Max: 64, Result: commonType,
			Call: func(_ *Ctx, a []value.Value) value.Value {
				t := common(types(a))
				for _, v := range a {
					if !v.IsEmpty() {
						return castTo(v, t)
					}
				}
				return value.NullOf(t)
			}},
		&Scalar{Name: "min_of", Min: 2, Max: 64, Result: commonType, Call: func(_ *Ctx, a []value.Value) value.Value { return extremeOf(a, -1) }},
		&Scalar{Name: "max_of", Min: 2, Max: 64, Result: commonType, Call: func(_ *Ctx, a []value.Value) value.Value { return extremeOf(a, 1) }},
		&Scalar{Name: "not", Min: 1, Max: 1, Result: sig(value.Bool, kBool),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() || a[0].T != value.Bool {
					return nullBool
				}
				return boolean(!a[0].Bool())
			}},
	)
}

func types(a []value.Value) []value.Type {
	ts := make([]value.Type, len(a))
	for i, v := range a {
		ts[i] = v.T
	}
	return ts
}

func iffType(args []value.Type) (value.Type, error) {
	if err := check(args, kBool, kAny, kAny); err != nil {
		return common(args[1:]), err
	}
	return common(args[1:]), nil
}

func caseType(args []value.Type) (value.Type, error) {
	if len(args)%2 == 0 {
		return value.Dynamic, fmt.Errorf("case takes predicate, value pairs and a final else value: an odd number of arguments")
	}
	var ts []value.Type
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] != value.Bool {
			return value.Dynamic, fmt.Errorf("argument %d: expected bool, got %s", i+1, args[i])
		}
		ts = append(ts, args[i+1])
	}
	ts = append(ts, args[len(args)-1])
	return common(ts), nil
}

func commonType(args []value.Type) (value.Type, error) {
	t, ok := unify(args, false)
	if !ok {
		return t, fmt.Errorf("the arguments must all have one type (or all be numbers), got %s", typeList(args))
	}
	return t, nil
}

func typeList(ts []value.Type) string {
	var b []string
	for _, t := range ts {
		b = append(b, t.String())
	}
	return strings.Join(b, ", ")
}

// extremeOf: https://learn.microsoft.com/kusto/query/max-of-function
// (max_of(10, 1) is 10; nulls are ignored; all null gives null).
func extremeOf(a []value.Value, sign int) value.Value {
	t := common(types(a))
	var best value.Value
	found := false
	for _, v := range a {
		if v.IsNull() {
			continue
		}
		v = castTo(v, t)
		if v.IsNull() {
			continue
		}
		if !found || compare(v, best)*sign > 0 {
			best, found = v, true
		}
	}
	if !found {
		return value.NullOf(t)
	}
	return best
}

// compare orders two non-null values of one type (numbers across types);
// 0 when they cannot be ordered.
func compare(x, y value.Value) int {
	if numRank(x.T) > 0 && numRank(y.T) > 0 {
		if (x.T == value.Int || x.T == value.Long) && (y.T == value.Int || y.T == value.Long) {
			return cmp3(x.I < y.I, x.I > y.I)
		}
		fx, _ := toReal(x)
		fy, _ := toReal(y)
		return cmp3(fx < fy, fx > fy)
	}
	switch x.T {
	case value.Bool, value.DateTime, value.TimeSpan:
		return cmp3(x.I < y.I, x.I > y.I)
	case value.String, value.Guid:
		return cmp3(x.S < y.S, x.S > y.S)
	case value.Dynamic:
		sx, sy := x.String(), y.String()
		return cmp3(sx < sy, sx > sy)
	}
	return 0
}

func cmp3(lt, gt bool) int {
	switch {
	case lt:
		return -1
	case gt:
		return 1
	}
	return 0
}
