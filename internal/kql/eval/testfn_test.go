package eval

// Stand-ins for the functions the tests need, registered only when
// internal/kql/fn (helper fn's branch) has not registered them yet: once it
// has, the real ones are tested here instead.

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"breakglass/internal/kql/fn"
	"breakglass/internal/kql/value"
)

func fixed(t value.Type) func([]value.Type) (value.Type, error) {
	return func([]value.Type) (value.Type, error) { return t, nil }
}

func regScalar(f *fn.Scalar) {
	if fn.Lookup(f.Name) == nil {
		for _, a := range f.Aliases {
			if fn.Lookup(a) != nil {
				return
			}
		}
		fn.Register(f)
	}
}

func regAgg(a *fn.Agg) {
	if fn.LookupAgg(a.Name) == nil {
		fn.RegisterAgg(a)
	}
}

type countState struct {
	n    int64
	cond bool
}

func (s *countState) Add(a []value.Value) {
	if !s.cond || truthy(a[0]) {
		s.n++
	}
}
func (s *countState) Result() value.Value { return value.NewLong(s.n) }

type sumState struct {
	t    value.Type
	i    int64
	f    float64
	any  bool
	cond bool
}

func (s *sumState) Add(a []value.Value) {
	if s.cond && !truthy(a[1]) {
		return
	}
	v := scalar(a[0])
	if v.IsNull() {
		return
	}
	s.any = true
	i, f, _, ok := num(v)
	if !ok {
		return
	}
	s.i += i
	s.f += f
}
func (s *sumState) Result() value.Value {
	if s.t == value.Real {
		return value.NewReal(s.f)
	}
	return value.Value{T: s.t, I: s.i}
}

type extState struct {
	sign int
	has  bool
	v    value.Value
}

func (s *extState) Add(a []value.Value) {
	if a[0].IsNull() {
		return
	}
	if !s.has {
		s.has, s.v = true, a[0]
		return
	}
	if c, ok := compare(a[0], s.v); ok && c*s.sign > 0 {
		s.v = a[0]
	}
}
func (s *extState) Result() value.Value {
	if !s.has {
		return value.NullOf(s.v.T)
	}
	return s.v
}

type setState struct {
	seen map[string]bool
	list []any
	set  bool
}

func (s *setState) Add(a []value.Value) {
	if a[0].IsNull() {
		return
	}
	k := value.JSON(a[0].Dynamic())
	if s.set {
		if s.seen[k] {
			return
		}
		s.seen[k] = true
	}
	s.list = append(s.list, a[0].Dynamic())
}
func (s *setState) Result() value.Value {
	if s.list == nil {
		return value.NewDynamic([]any{})
	}
	return value.NewDynamic(s.list)
}

type dcountState struct{ seen map[string]bool }

func (s *dcountState) Add(a []value.Value) {
	if !a[0].IsNull() {
		s.seen[value.JSON(a[0].Dynamic())] = true
	}
}
func (s *dcountState) Result() value.Value { return value.NewLong(int64(len(s.seen))) }

func firstArgType(ts []value.Type) (value.Type, error) {
	if len(ts) == 0 {
		return value.Dynamic, nil
	}
	if ts[0] == value.Int {
		return value.Long, nil
	}
	return ts[0], nil
}

func init() {
	regAgg(&fn.Agg{Name: "count", Min: 0, Max: 0, Result: fixed(value.Long), Column: func(string) string { return "count_" },
		New: func(*fn.Ctx, []value.Value) fn.State { return &countState{} }})
	regAgg(&fn.Agg{Name: "countif", Min: 1, Max: 1, Result: fixed(value.Long), Column: func(string) string { return "countif_" },
		New: func(*fn.Ctx, []value.Value) fn.State { return &countState{cond: true} }})
	regAgg(&fn.Agg{Name: "sum", Min: 1, Max: 1, Result: firstArgType, Column: func(a string) string { return "sum_" + a },
		New: func(*fn.Ctx, []value.Value) fn.State { return &sumState{t: value.Long} }})
	regAgg(&fn.Agg{Name: "min", Min: 1, Max: 1, Result: firstArgType, Column: func(a string) string { return "min_" + a },
		New: func(*fn.Ctx, []value.Value) fn.State { return &extState{sign: -1} }})
	regAgg(&fn.Agg{Name: "max", Min: 1, Max: 1, Result: firstArgType, Column: func(a string) string { return "max_" + a },
		New: func(*fn.Ctx, []value.Value) fn.State { return &extState{sign: 1} }})
	regAgg(&fn.Agg{Name: "dcount", Min: 1, Max: 2, Result: fixed(value.Long), Column: func(a string) string { return "dcount_" + a },
		New: func(*fn.Ctx, []value.Value) fn.State { return &dcountState{seen: map[string]bool{}} }})
	regAgg(&fn.Agg{Name: "make_set", Min: 1, Max: 2, Result: fixed(value.Dynamic), Column: func(a string) string { return "set_" + a },
		New: func(*fn.Ctx, []value.Value) fn.State { return &setState{seen: map[string]bool{}, set: true} }})
	regAgg(&fn.Agg{Name: "make_list", Min: 1, Max: 2, Result: fixed(value.Dynamic), Column: func(a string) string { return "list_" + a },
		New: func(*fn.Ctx, []value.Value) fn.State { return &setState{} }})

	regScalar(&fn.Scalar{Name: "tostring", Min: 1, Max: 1, Result: fixed(value.String),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return value.NewString(a[0].String()) }})
	regScalar(&fn.Scalar{Name: "toint", Min: 1, Max: 1, Result: fixed(value.Int),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return convert(a[0], value.Int) }})
	regScalar(&fn.Scalar{Name: "tolong", Min: 1, Max: 1, Result: fixed(value.Long),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return convert(a[0], value.Long) }})
	regScalar(&fn.Scalar{Name: "todouble", Aliases: []string{"toreal"}, Min: 1, Max: 1, Result: fixed(value.Real),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return convert(a[0], value.Real) }})
	regScalar(&fn.Scalar{Name: "todatetime", Min: 1, Max: 1, Result: fixed(value.DateTime),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return convert(a[0], value.DateTime) }})
	regScalar(&fn.Scalar{Name: "parse_json", Aliases: []string{"todynamic"}, Min: 1, Max: 1, Result: fixed(value.Dynamic),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			if a[0].T == value.String {
				return value.ParseJSON(a[0].S)
			}
			return convert(a[0], value.Dynamic)
		}})
	regScalar(&fn.Scalar{Name: "isnull", Min: 1, Max: 1, Result: fixed(value.Bool),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return value.NewBool(a[0].IsNull()) }})
	regScalar(&fn.Scalar{Name: "isnotnull", Min: 1, Max: 1, Result: fixed(value.Bool),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return value.NewBool(!a[0].IsNull()) }})
	regScalar(&fn.Scalar{Name: "isempty", Min: 1, Max: 1, Result: fixed(value.Bool),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return value.NewBool(a[0].IsEmpty()) }})
	regScalar(&fn.Scalar{Name: "isnotempty", Min: 1, Max: 1, Result: fixed(value.Bool),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return value.NewBool(!a[0].IsEmpty()) }})
	regScalar(&fn.Scalar{Name: "tolower", Min: 1, Max: 1, Result: fixed(value.String),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return value.NewString(strings.ToLower(a[0].String())) }})
	regScalar(&fn.Scalar{Name: "strlen", Min: 1, Max: 1, Result: fixed(value.Long),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value { return value.NewLong(int64(len([]rune(a[0].String())))) }})
	regScalar(&fn.Scalar{Name: "strcat", Min: 1, Max: -1, Result: fixed(value.String),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			var b strings.Builder
			for _, v := range a {
				b.WriteString(v.String())
			}
			return value.NewString(b.String())
		}})
	regScalar(&fn.Scalar{Name: "array_length", Min: 1, Max: 1, Result: fixed(value.Long),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			if d, ok := a[0].D.([]any); ok && a[0].T == value.Dynamic {
				return value.NewLong(int64(len(d)))
			}
			return value.NullOf(value.Long)
		}})
	supertype := func(ts []value.Type) value.Type {
		t := ts[0]
		for _, x := range ts[1:] {
			if x == value.Real || t == value.Int && x == value.Long {
				t = x
			}
		}
		return t
	}
	regScalar(&fn.Scalar{Name: "iff", Aliases: []string{"iif"}, Min: 3, Max: 3,
		Result: func(ts []value.Type) (value.Type, error) { return supertype(ts[1:]), nil },
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			if truthy(a[0]) {
				return a[1]
			}
			return a[2]
		}})
	regScalar(&fn.Scalar{Name: "case", Min: 3, Max: -1,
		Result: func(ts []value.Type) (value.Type, error) {
			var vs []value.Type
			for i := 1; i < len(ts); i += 2 {
				vs = append(vs, ts[i])
			}
			vs = append(vs, ts[len(ts)-1])
			return supertype(vs), nil
		},
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			for i := 0; i+1 < len(a); i += 2 {
				if truthy(a[i]) {
					return a[i+1]
				}
			}
			return a[len(a)-1]
		}})
	regScalar(&fn.Scalar{Name: "now", Min: 0, Max: 1, Result: fixed(value.DateTime),
		Call: func(c *fn.Ctx, a []value.Value) value.Value { return value.NewDateTime(c.Now) }})
	regScalar(&fn.Scalar{Name: "ago", Min: 1, Max: 1, Result: fixed(value.DateTime),
		Call: func(c *fn.Ctx, a []value.Value) value.Value {
			return value.NewDateTime(c.Now.Add(-a[0].Duration()))
		}})
	regScalar(&fn.Scalar{Name: "bin", Aliases: []string{"floor"}, Min: 2, Max: 2, Const: []int{1},
		Result: func(ts []value.Type) (value.Type, error) { return firstArgType(ts) },
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			v, s := a[0], a[1]
			if v.IsNull() || s.IsNull() {
				return value.NullOf(v.T)
			}
			switch v.T {
			case value.DateTime, value.TimeSpan:
				if s.I <= 0 {
					return value.NullOf(v.T)
				}
				q := v.I / s.I * s.I
				if v.I < 0 && v.I%s.I != 0 {
					q -= s.I
				}
				return value.Value{T: v.T, I: q}
			case value.Real:
				_, sf, _, _ := num(s)
				if sf <= 0 {
					return value.NullOf(v.T)
				}
				return value.NewReal(float64(int64(v.F/sf)) * sf)
			case value.Long, value.Int:
				if s.I <= 0 {
					return value.NullOf(v.T)
				}
				return value.Value{T: value.Long, I: v.I / s.I * s.I}
			}
			return value.NullOf(v.T)
		}})
	regScalar(&fn.Scalar{Name: "extract", Min: 3, Max: 4, Const: []int{0, 1}, Result: fixed(value.String),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			re, err := regexp.Compile(a[0].S)
			if err != nil {
				return value.NewString("")
			}
			m := re.FindStringSubmatch(a[2].String())
			if m == nil || int(a[1].I) >= len(m) {
				return value.NewString("")
			}
			return value.NewString(m[a[1].I])
		}})
	regScalar(&fn.Scalar{Name: "format_datetime", Min: 2, Max: 2, Const: []int{1}, Result: fixed(value.String),
		Call: func(_ *fn.Ctx, a []value.Value) value.Value {
			if a[0].IsNull() {
				return value.NewString("")
			}
			r := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05")
			return value.NewString(a[0].Time().Format(r.Replace(a[1].S)))
		}})
	_ = fmt.Sprint
	_ = time.Second
}
