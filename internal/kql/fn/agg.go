package fn

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"breakglass/internal/kql/value"
)

// Aggregation functions (https://learn.microsoft.com/kusto/query/aggregation-functions).
// Every aggregate ignores null values. On no input count, countif, sum,
// dcount give 0, the make_* functions [], and the others null.
//
// Accuracy: dcount and dcountif are exact up to dcountExact distinct
// values per group, then switch to a HyperLogLog estimate (2^14
// registers, about 0.8% standard error: the size of Kusto's default
// accuracy level 1, which is exact only up to 1,000 values), so between
// 1,000 and dcountExact this is exact where Kusto may be off by about 1%. percentile and percentiles are exact (nearest rank on the sorted
// values; Kusto estimates with a t-digest) up to percentileExact values
// per group, then work on a uniform reservoir sample of that size.

const (
	dcountExact     = 1 << 16
	percentileExact = 1 << 18
	defaultSetCap   = 1 << 20 // Kusto's default make_set / make_list size
)

func init() {
	pre := func(p string) func(string) string { return func(a string) string { return p + a } }
	RegisterAgg(
		&Agg{Name: "count", Min: 0, Max: 1, Result: aggSig(value.Long, kBool), Column: pre("count_"),
			New: func(*Ctx, []value.Value) State { return &countState{pred: -1} }},
		&Agg{Name: "countif", Min: 1, Max: 1, Result: aggSig(value.Long, kBool), Column: pre("countif_"),
			New: func(*Ctx, []value.Value) State { return &countState{pred: 0} }},
		&Agg{Name: "dcount", Min: 1, Max: 2, Const: []int{1}, Result: aggSig(value.Long, kAny, kInt), Column: pre("dcount_"),
			New: func(*Ctx, []value.Value) State { return newDcount(-1) }},
		&Agg{Name: "dcountif", Min: 2, Max: 3, Const: []int{2}, Result: aggSig(value.Long, kAny, kBool, kInt), Column: pre("dcountif_"),
			New: func(*Ctx, []value.Value) State { return newDcount(1) }},
		&Agg{Name: "count_distinct", Min: 1, Max: 1, Result: aggSig(value.Long, kScalar), Column: pre("count_distinct_"),
			New: func(*Ctx, []value.Value) State { return newDcount(-1) }},
		&Agg{Name: "count_distinctif", Min: 2, Max: 2, Result: aggSig(value.Long, kScalar, kBool), Column: pre("count_distinctif_"),
			New: func(*Ctx, []value.Value) State { return newDcount(1) }},
		&Agg{Name: "make_set", Aliases: []string{"makeset"}, Min: 1, Max: 2, Const: []int{1}, Result: aggSig(value.Dynamic, kAny, kInt), Column: pre("set_"),
			New: func(_ *Ctx, c []value.Value) State { return newCollect(true, -1, capArg(c, 1), false) }},
		&Agg{Name: "make_set_if", Min: 2, Max: 3, Const: []int{2}, Result: aggSig(value.Dynamic, kAny, kBool, kInt), Column: pre("set_"),
			New: func(_ *Ctx, c []value.Value) State { return newCollect(true, 1, capArg(c, 2), false) }},
		&Agg{Name: "make_list", Aliases: []string{"makelist"}, Min: 1, Max: 2, Const: []int{1}, Result: aggSig(value.Dynamic, kAny, kInt), Column: pre("list_"),
			New: func(_ *Ctx, c []value.Value) State { return newCollect(false, -1, capArg(c, 1), false) }},
		&Agg{Name: "make_list_if", Min: 2, Max: 3, Const: []int{2}, Result: aggSig(value.Dynamic, kAny, kBool, kInt), Column: pre("list_"),
			New: func(_ *Ctx, c []value.Value) State { return newCollect(false, 1, capArg(c, 2), false) }},
		&Agg{Name: "make_list_with_nulls", Min: 1, Max: 1, Result: aggSig(value.Dynamic, kAny, kInt), Column: pre("list_"),
			New: func(_ *Ctx, c []value.Value) State { return newCollect(false, -1, capArg(c, 1), true) }},
		&Agg{Name: "make_bag", Min: 1, Max: 2, Const: []int{1}, Result: aggSig(value.Dynamic, kDyn, kInt), Column: pre("bag_"),
			New: func(_ *Ctx, c []value.Value) State {
				return &bagState{pred: -1, cap: capArg(c, 1), bag: map[string]any{}}
			}},
		&Agg{Name: "make_bag_if", Min: 2, Max: 3, Const: []int{2}, Result: aggSig(value.Dynamic, kDyn, kBool, kInt), Column: pre("bag_"),
			New: func(_ *Ctx, c []value.Value) State {
				return &bagState{pred: 1, cap: capArg(c, 2), bag: map[string]any{}}
			}},
		&Agg{Name: "sum", Min: 1, Max: 1, Result: sumType(false), Column: pre("sum_"),
			New: func(_ *Ctx, c []value.Value) State { return newSum(c, -1, false) }},
		&Agg{Name: "sumif", Min: 2, Max: 2, Result: sumType(true), Column: pre("sumif_"),
			New: func(_ *Ctx, c []value.Value) State { return newSum(c, 1, false) }},
		&Agg{Name: "avg", Min: 1, Max: 1, Result: avgType(false), Column: pre("avg_"),
			New: func(_ *Ctx, c []value.Value) State { return newSum(c, -1, true) }},
		&Agg{Name: "avgif", Min: 2, Max: 2, Result: avgType(true), Column: pre("avgif_"),
			New: func(_ *Ctx, c []value.Value) State { return newSum(c, 1, true) }},
		&Agg{Name: "min", Min: 1, Max: 1, Result: orderType(false), Column: pre("min_"),
			New: func(_ *Ctx, c []value.Value) State {
				return &extremeState{pred: -1, sign: -1, t: hint(c), typed: hinted(c)}
			}},
		&Agg{Name: "max", Min: 1, Max: 1, Result: orderType(false), Column: pre("max_"),
			New: func(_ *Ctx, c []value.Value) State {
				return &extremeState{pred: -1, sign: 1, t: hint(c), typed: hinted(c)}
			}},
		&Agg{Name: "minif", Min: 2, Max: 2, Result: orderType(true), Column: pre("minif_"),
			New: func(_ *Ctx, c []value.Value) State {
				return &extremeState{pred: 1, sign: -1, t: hint(c), typed: hinted(c)}
			}},
		&Agg{Name: "maxif", Min: 2, Max: 2, Result: orderType(true), Column: pre("maxif_"),
			New: func(_ *Ctx, c []value.Value) State {
				return &extremeState{pred: 1, sign: 1, t: hint(c), typed: hinted(c)}
			}},
		&Agg{Name: "take_any", Min: 1, Max: -1, Result: firstType, Column: namedOr("any_arg0"), Multi: anyColumns(""),
			New: func(_ *Ctx, c []value.Value) State { return &anyState{pred: -1, row: hintRow(c, -1)} }},
		&Agg{Name: "any", Min: 1, Max: -1, Result: firstType, Column: pre("any_"), Multi: anyColumns("any_"),
			New: func(_ *Ctx, c []value.Value) State { return &anyState{pred: -1, row: hintRow(c, -1)} }},
		&Agg{Name: "take_anyif", Min: 2, Max: 2, Result: aggSig2(kAny, kBool), Column: namedOr("Column1"),
			New: func(_ *Ctx, c []value.Value) State { return &anyState{pred: 1, row: hintRow(c, 1)} }},
		&Agg{Name: "arg_max", Min: 1, Max: -1, Result: orderType(false), Column: namedOr("max_"), Multi: argColumns("max_"),
			New: func(_ *Ctx, c []value.Value) State { return &argState{sign: 1, row: hintRow(c, -1)} }},
		&Agg{Name: "arg_min", Min: 1, Max: -1, Result: orderType(false), Column: namedOr("min_"), Multi: argColumns("min_"),
			New: func(_ *Ctx, c []value.Value) State { return &argState{sign: -1, row: hintRow(c, -1)} }},
		&Agg{Name: "percentile", Min: 2, Max: 2, Const: []int{1}, Result: percentileType(1), Column: pre("percentile_"), Multi: percentileColumns(1),
			New: func(_ *Ctx, c []value.Value) State { return newPercentile(c, 1, false) }},
		&Agg{Name: "percentiles", Min: 2, Max: 65, Const: constFrom(1, 65), Result: percentileType(1), Column: pre("percentile_"), Multi: percentileColumns(1),
			New: func(_ *Ctx, c []value.Value) State { return newPercentile(c, 1, false) }},
		&Agg{Name: "percentilew", Min: 3, Max: 3, Const: []int{2}, Result: percentileType(2), Column: pre("percentile_"), Multi: percentileColumns(2),
			New: func(_ *Ctx, c []value.Value) State { return newPercentile(c, 2, true) }},
		&Agg{Name: "percentilesw", Min: 3, Max: 66, Const: constFrom(2, 66), Result: percentileType(2), Column: pre("percentile_"), Multi: percentileColumns(2),
			New: func(_ *Ctx, c []value.Value) State { return newPercentile(c, 2, true) }},
		varAgg("stdev", -1, true, true), varAgg("stdevif", 1, true, true), varAgg("stdevp", -1, true, false),
		varAgg("variance", -1, false, true), varAgg("varianceif", 1, false, true), varAgg("variancep", -1, false, false),
	)
}

func constFrom(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func namedOr(def string) func(string) string {
	return func(a string) string {
		if a == "" {
			return def
		}
		return a
	}
}

func aggSig(ret value.Type, ks ...kinds) func([]value.Type) (value.Type, error) {
	return sig(ret, ks...)
}

func aggSig2(ks ...kinds) func([]value.Type) (value.Type, error) {
	return func(args []value.Type) (value.Type, error) { return args[0], check(args, ks...) }
}

func firstType(args []value.Type) (value.Type, error) {
	if len(args) == 0 {
		return value.Dynamic, fmt.Errorf("an argument is required")
	}
	return args[0], nil
}

// predOK reports whether the predicate argument at i (when i >= 0) is true.
func predOK(args []value.Value, i int) bool {
	if i < 0 {
		return true
	}
	if i >= len(args) {
		return false
	}
	p := args[i]
	return p.T == value.Bool && !p.IsNull() && p.Bool()
}

func capArg(c []value.Value, i int) int {
	if i < len(c) && !c[i].IsNull() {
		if n, ok := toLong(c[i]); ok && n > 0 && n < defaultSetCap {
			return int(n)
		}
	}
	return defaultSetCap
}

// valueKey identifies a value for distinct counting and make_set: the type
// and the text, so 1 (long) and "1" (string) differ.
func valueKey(v value.Value) string {
	switch v.T {
	case value.Dynamic:
		return "y" + value.JSON(v.D)
	case value.Int, value.Long:
		return "l" + strconv.FormatInt(v.I, 10)
	case value.Real, value.Decimal:
		return "r" + strconv.FormatFloat(v.F, 'g', -1, 64)
	case value.Bool, value.DateTime, value.TimeSpan:
		return string(rune('a'+v.T)) + strconv.FormatInt(v.I, 10)
	}
	return "s" + v.S
}

// count(), countif(p) (https://learn.microsoft.com/kusto/query/countif-aggregation-function).
type countState struct {
	pred int // -1: count() (count(p) counts the rows where p is true)
	n    int64
}

func (s *countState) Add(a []value.Value) {
	if s.pred < 0 && len(a) == 0 || predOK(a, max(s.pred, 0)) {
		s.n++
	}
}

func (s *countState) Result() value.Value { return long(s.n) }

// dcount: https://learn.microsoft.com/kusto/query/dcount-aggregation-function
// Strings (the usual case: users, apps, addresses) are kept by their text,
// without a per-row allocation; other values by valueKey.
type dcountState struct {
	pred int
	strs map[string]struct{}
	set  map[string]struct{}
	hll  *hll
}

func newDcount(pred int) *dcountState {
	return &dcountState{pred: pred, strs: map[string]struct{}{}, set: map[string]struct{}{}}
}

func (s *dcountState) Add(a []value.Value) {
	if len(a) == 0 || a[0].IsNull() || !predOK(a, s.pred) {
		return
	}
	v := a[0]
	if s.hll != nil {
		s.hll.add(valueKey(v))
		return
	}
	if v.T == value.String {
		s.strs[v.S] = struct{}{}
	} else {
		s.set[valueKey(v)] = struct{}{}
	}
	if len(s.strs)+len(s.set) > dcountExact {
		s.hll = newHLL()
		for k := range s.strs {
			s.hll.add("s" + k)
		}
		for k := range s.set {
			s.hll.add(k)
		}
		s.strs, s.set = nil, nil
	}
}

func (s *dcountState) Result() value.Value {
	if s.hll != nil {
		return long(s.hll.estimate())
	}
	return long(int64(len(s.strs) + len(s.set)))
}

// hll is a HyperLogLog sketch with 2^14 registers.
type hll struct{ reg [1 << 14]uint8 }

func newHLL() *hll { return &hll{} }

func (h *hll) add(k string) {
	x := xxh64([]byte(k))
	idx := x >> 50
	w := x<<14 | 1<<13
	rho := uint8(1)
	for w&(1<<63) == 0 {
		rho++
		w <<= 1
	}
	if rho > h.reg[idx] {
		h.reg[idx] = rho
	}
}

func (h *hll) estimate() int64 {
	const m = float64(1 << 14)
	sum, zeros := 0.0, 0
	for _, r := range h.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return int64(e + 0.5)
}

// make_set / make_list (https://learn.microsoft.com/kusto/query/make-set-aggregation-function):
// nulls are ignored (make_list_with_nulls keeps them), the size is capped
// by the max size argument (default 1,048,576).
type collectState struct {
	distinct, nulls bool
	pred, cap       int
	seen            map[string]struct{}
	out             []any
}

func newCollect(distinct bool, pred, cap int, nulls bool) *collectState {
	s := &collectState{distinct: distinct, pred: pred, cap: cap, nulls: nulls}
	if distinct {
		s.seen = map[string]struct{}{}
	}
	return s
}

func (s *collectState) Add(a []value.Value) {
	if len(a) == 0 || len(s.out) >= s.cap || !predOK(a, s.pred) {
		return
	}
	v := a[0]
	if v.IsNull() && !s.nulls {
		return
	}
	if s.distinct {
		// make_set of an array adds its elements (the docs' "set from
		// array column" example)
		if arr, ok := asArray(v); ok {
			for _, e := range arr {
				if e != nil && len(s.out) < s.cap {
					s.addDistinct(value.FromDynamic(e))
				}
			}
			return
		}
		s.addDistinct(v)
		return
	}
	s.out = append(s.out, v.Dynamic())
}

func (s *collectState) addDistinct(v value.Value) {
	k := valueKey(v)
	if _, dup := s.seen[k]; dup {
		return
	}
	s.seen[k] = struct{}{}
	s.out = append(s.out, v.Dynamic())
}

func (s *collectState) Result() value.Value {
	out := make([]any, len(s.out))
	copy(out, s.out)
	return dyn(out)
}

// make_bag: https://learn.microsoft.com/kusto/query/make-bag-aggregation-function
// (the union of the bags; a key seen twice keeps one value).
type bagState struct {
	pred, cap int
	bag       map[string]any
}

func (s *bagState) Add(a []value.Value) {
	if len(a) == 0 || !predOK(a, s.pred) {
		return
	}
	m, ok := asBag(a[0])
	if !ok {
		return
	}
	for k, e := range m {
		if _, dup := s.bag[k]; !dup && len(s.bag) < s.cap {
			s.bag[k] = e
		}
	}
}

func (s *bagState) Result() value.Value {
	out := make(map[string]any, len(s.bag))
	for k, e := range s.bag {
		out[k] = e
	}
	return dyn(out)
}

var kSum = kNum | kindOf(value.TimeSpan, value.DateTime)

func sumType(withPred bool) func([]value.Type) (value.Type, error) {
	return func(args []value.Type) (value.Type, error) {
		ks := []kinds{kSum}
		if withPred {
			ks = append(ks, kBool)
		}
		if err := check(args, ks...); err != nil {
			return args[0], fmt.Errorf("%w (sum wants a number, timespan or datetime)", err)
		}
		if args[0] == value.Int {
			return value.Long, nil
		}
		return args[0], nil
	}
}

func avgType(withPred bool) func([]value.Type) (value.Type, error) {
	return func(args []value.Type) (value.Type, error) {
		t, err := sumType(withPred)(args)
		if err != nil {
			return t, err
		}
		switch t {
		case value.Long, value.Dynamic:
			return value.Real, nil
		}
		return t, nil
	}
}

// hint returns the type of the first argument when the engine passed a
// typed null for it in consts (see Agg.New), so a state over no rows can
// still give a result of its column's type.
func hint(c []value.Value) value.Type {
	if len(c) > 0 {
		return c[0].T
	}
	return value.Dynamic
}

func hinted(c []value.Value) bool { return hint(c) != value.Dynamic }

// hintRow is a row of typed nulls from the type hints (the first n
// arguments; all when n < 0), or nil without hints.
func hintRow(c []value.Value, n int) []value.Value {
	if !hinted(c) {
		return nil
	}
	if n < 0 || n > len(c) {
		n = len(c)
	}
	row := make([]value.Value, n)
	for i, v := range c[:n] {
		row[i] = value.NullOf(v.T)
	}
	return row
}

func newSum(c []value.Value, pred int, avg bool) *sumState {
	return &sumState{pred: pred, avg: avg, t: hint(c), seen: hinted(c)}
}

// sum and avg (https://learn.microsoft.com/kusto/query/sum-aggregation-function):
// integers add exactly, reals in float64; timespans as ticks.
type sumState struct {
	pred  int
	avg   bool
	t     value.Type
	seen  bool // t is set
	i     int64
	f     float64
	n     int64
	float bool
}

func (s *sumState) Add(a []value.Value) {
	if len(a) == 0 {
		return
	}
	v := a[0]
	if !s.seen { // the type is known from the first row, counted or not
		s.t, s.seen = v.T, true
	}
	if v.IsNull() || !predOK(a, s.pred) {
		return
	}
	s.n++
	switch v.T {
	case value.Int, value.Long, value.TimeSpan, value.DateTime:
		s.i += v.I
		s.f += float64(v.I)
	default:
		f, ok := toReal(v)
		if !ok {
			s.n--
			return
		}
		s.float = true
		s.f += f
	}
}

func (s *sumState) Result() value.Value {
	t := s.t
	if t == value.Int {
		t = value.Long
	}
	if s.avg {
		switch t {
		case value.Long, value.Dynamic:
			t = value.Real
		}
		if s.n == 0 {
			return value.NullOf(t)
		}
		switch t {
		case value.TimeSpan, value.DateTime:
			return value.Value{T: t, I: int64(s.f / float64(s.n))}
		}
		return value.Value{T: t, F: s.f / float64(s.n)}
	}
	if s.n == 0 {
		switch t {
		case value.DateTime:
			return value.NullOf(t)
		case value.Dynamic: // no row and no type hint: sum of nothing is 0
			return long(0)
		}
		return value.Value{T: t} // 0 of the type (sum-aggregation-function)
	}
	switch t {
	case value.Long, value.TimeSpan, value.DateTime:
		return value.Value{T: t, I: s.i}
	case value.Dynamic:
		if s.float {
			return dyn(s.f)
		}
		return dyn(s.i)
	}
	return value.Value{T: t, F: s.f}
}

var kOrder = kNum | kindOf(value.TimeSpan, value.DateTime, value.String, value.Bool)

func orderType(withPred bool) func([]value.Type) (value.Type, error) {
	return func(args []value.Type) (value.Type, error) {
		if len(args) == 0 {
			return value.Dynamic, fmt.Errorf("an argument is required")
		}
		if !kOrder.has(args[0]) {
			return args[0], fmt.Errorf("argument 1: expected a value that orders (a number, timespan, datetime, string or bool), got %s", args[0])
		}
		if withPred {
			return args[0], check(args, kAny, kBool)
		}
		return args[0], nil
	}
}

// min / max (https://learn.microsoft.com/kusto/query/min-aggregation-function).
type extremeState struct {
	pred, sign int
	t          value.Type
	typed      bool
	best       value.Value
	found      bool
}

func (s *extremeState) Add(a []value.Value) {
	if len(a) == 0 {
		return
	}
	v := a[0]
	if !s.typed {
		s.t, s.typed = v.T, true
	}
	if v.IsNull() || v.T == value.String && v.S == "" || !predOK(a, s.pred) {
		return
	}
	if !s.found || compare(v, s.best)*s.sign > 0 {
		s.best, s.found = v, true
	}
}

func (s *extremeState) Result() value.Value {
	if !s.found {
		return value.NullOf(s.t)
	}
	return s.best
}

// take_any / any (https://learn.microsoft.com/kusto/query/take-any-aggregation-function):
// the first row whose first argument is not null.
type anyState struct {
	pred int
	row  []value.Value
	good bool
}

func (s *anyState) Add(a []value.Value) {
	if len(a) == 0 || s.good {
		return
	}
	n := len(a)
	if s.pred >= 0 {
		n = min(s.pred, n)
	}
	if !predOK(a, s.pred) {
		if s.row == nil { // typed nulls until a row is taken
			for _, v := range a[:n] {
				s.row = append(s.row, value.NullOf(v.T))
			}
		}
		return
	}
	s.row = append(s.row[:0], a[:n]...)
	s.good = !a[0].IsEmpty()
}

func (s *anyState) Result() value.Value {
	if len(s.row) == 0 {
		return nullDyn
	}
	return s.row[0]
}

func (s *anyState) Results() []value.Value { return append([]value.Value(nil), s.row...) }

func anyColumns(prefix string) func(names []string, types []value.Type, _ []value.Value) ([]value.Column, error) {
	return func(names []string, types []value.Type, _ []value.Value) ([]value.Column, error) {
		out := make([]value.Column, len(types))
		for i, t := range types {
			n := ""
			if i < len(names) {
				n = names[i]
			}
			switch {
			case n == "" && prefix == "":
				n = "any_arg" + strconv.Itoa(i)
			default:
				n = prefix + n
			}
			out[i] = value.Column{Name: n, Type: t}
		}
		return out, nil
	}
}

// arg_max / arg_min (https://learn.microsoft.com/kusto/query/arg-max-aggregation-function):
// the row where the first argument is greatest (least); nulls in it are
// ignored; the first such row wins a tie. Results is that row's values.
type argState struct {
	sign  int
	row   []value.Value
	found bool
}

func (s *argState) Add(a []value.Value) {
	if len(a) == 0 {
		return
	}
	if len(s.row) != len(a) {
		s.row = make([]value.Value, len(a))
		for i, v := range a { // typed nulls until a row wins
			s.row[i] = value.NullOf(v.T)
		}
	}
	v := a[0]
	if v.IsNull() {
		return
	}
	if !s.found || compare(v, s.row[0])*s.sign > 0 {
		copy(s.row, a)
		s.found = true
	}
}

func (s *argState) Result() value.Value {
	if s.row == nil {
		return nullDyn
	}
	return s.row[0]
}

func (s *argState) Results() []value.Value { return append([]value.Value(nil), s.row...) }

func argColumns(def string) func(names []string, types []value.Type, _ []value.Value) ([]value.Column, error) {
	return func(names []string, types []value.Type, _ []value.Value) ([]value.Column, error) {
		if len(types) == 0 || !kOrder.has(types[0]) {
			return nil, fmt.Errorf("argument 1: expected a value that orders")
		}
		out := make([]value.Column, len(types))
		for i, t := range types {
			n := ""
			if i < len(names) {
				n = names[i]
			}
			if i == 0 && n == "" {
				n = def
			}
			out[i] = value.Column{Name: n, Type: t}
		}
		return out, nil
	}
}

func percentileType(first int) func([]value.Type) (value.Type, error) {
	return func(args []value.Type) (value.Type, error) {
		ks := []kinds{kAny}
		if first == 2 {
			ks = append(ks, kInt)
		}
		ks = append(ks, kNum)
		if err := check(args, ks...); err != nil {
			return value.Real, err
		}
		switch args[0] {
		case value.Int:
			return value.Long, nil
		case value.Decimal:
			return value.Real, nil
		}
		return args[0], nil
	}
}

// percentName is how Kusto names percentile columns: 95 is "95", 50.5
// "50_5".
func percentName(v value.Value) string {
	f, _ := toReal(v)
	return strings.ReplaceAll(value.FormatReal(f), ".", "_")
}

func percentileColumns(first int) func(names []string, types []value.Type, consts []value.Value) ([]value.Column, error) {
	return func(names []string, types []value.Type, consts []value.Value) ([]value.Column, error) {
		t, err := percentileType(first)(types)
		if err != nil {
			return nil, err
		}
		name := ""
		if len(names) > 0 {
			name = names[0]
		}
		var out []value.Column
		for i := first; i < len(types); i++ {
			if i >= len(consts) {
				return nil, fmt.Errorf("argument %d: the percentile must be a constant", i+1)
			}
			f, ok := toReal(consts[i])
			if !ok || f < 0 || f > 100 {
				return nil, fmt.Errorf("argument %d: the percentile must be a number from 0 to 100", i+1)
			}
			out = append(out, value.Column{Name: "percentile_" + name + "_" + percentName(consts[i]), Type: t})
		}
		return out, nil
	}
}

// percentile: https://learn.microsoft.com/kusto/query/percentiles-aggregation-function
// (nearest rank: the smallest value with at least P% of the values at or
// below it).
type percentileState struct {
	ps       []float64
	weighted bool
	t        value.Type
	typed    bool
	vals     []pval
	seen     int64
	rng      uint64
}

type pval struct {
	v value.Value
	w int64
}

func newPercentile(c []value.Value, first int, weighted bool) *percentileState {
	s := &percentileState{weighted: weighted, rng: 0x9E3779B97F4A7C15, t: hint(c), typed: hinted(c)}
	for i := first; i < len(c); i++ {
		f, _ := toReal(c[i])
		s.ps = append(s.ps, f)
	}
	return s
}

func (s *percentileState) Add(a []value.Value) {
	if len(a) == 0 {
		return
	}
	v := a[0]
	if !s.typed {
		s.t, s.typed = v.T, true
	}
	if v.IsNull() {
		return
	}
	w := int64(1)
	if s.weighted {
		if len(a) < 2 || a[1].IsNull() {
			return
		}
		if w, _ = toLong(a[1]); w <= 0 {
			return
		}
	}
	s.seen++
	if len(s.vals) < percentileExact {
		s.vals = append(s.vals, pval{v, w})
		return
	}
	// reservoir sampling beyond the bound (deterministic generator).
	s.rng ^= s.rng << 13
	s.rng ^= s.rng >> 7
	s.rng ^= s.rng << 17
	if j := s.rng % uint64(s.seen); j < percentileExact {
		s.vals[j] = pval{v, w}
	}
}

func (s *percentileState) Result() value.Value { return s.Results()[0] }

func (s *percentileState) Results() []value.Value {
	t := s.t
	switch t {
	case value.Int:
		t = value.Long
	case value.Decimal:
		t = value.Real
	}
	out := make([]value.Value, max(len(s.ps), 1))
	if len(s.vals) == 0 {
		for i := range out {
			out[i] = value.NullOf(t)
		}
		return out
	}
	sort.SliceStable(s.vals, func(i, j int) bool { return compare(s.vals[i].v, s.vals[j].v) < 0 })
	var total int64
	for _, p := range s.vals {
		total += p.w
	}
	for i := range out {
		p := 0.0
		if i < len(s.ps) {
			p = s.ps[i]
		}
		rank := int64(math.Ceil(p / 100 * float64(total)))
		if rank < 1 {
			rank = 1
		}
		var acc int64
		pick := s.vals[len(s.vals)-1].v
		for _, pv := range s.vals {
			acc += pv.w
			if acc >= rank {
				pick = pv.v
				break
			}
		}
		out[i] = castTo(pick, t)
	}
	return out
}

func varAgg(name string, pred int, stdev, sample bool) *Agg {
	ks := []kinds{kNum | kTS | kDT}
	if pred > 0 {
		ks = append(ks, kBool)
	}
	return &Agg{Name: name, Min: 1 + max(pred, 0), Max: 1 + max(pred, 0), Result: aggSig(value.Real, ks...), Column: func(a string) string { return name + "_" + a },
		New: func(*Ctx, []value.Value) State { return &varState{pred: pred, stdev: stdev, sample: sample} }}
}

// stdev / variance (https://learn.microsoft.com/kusto/query/stdev-aggregation-function):
// the sample forms divide by n-1 (one value gives 0), the p forms by n;
// Welford's method keeps it stable.
type varState struct {
	pred          int
	stdev, sample bool
	n             int64
	mean, m2      float64
}

func (s *varState) Add(a []value.Value) {
	if len(a) == 0 || a[0].IsNull() || !predOK(a, s.pred) {
		return
	}
	var x float64
	if a[0].T == value.TimeSpan {
		x = float64(a[0].I / 100)
	} else {
		var ok bool
		if x, ok = toReal(a[0]); !ok {
			return
		}
	}
	s.n++
	d := x - s.mean
	s.mean += d / float64(s.n)
	s.m2 += d * (x - s.mean)
}

func (s *varState) Result() value.Value {
	if s.n == 0 {
		return nullReal
	}
	div := float64(s.n)
	if s.sample {
		div = float64(s.n - 1)
	}
	v := 0.0
	if div > 0 {
		v = s.m2 / div
	}
	if s.stdev {
		v = math.Sqrt(v)
	}
	return real(v)
}
