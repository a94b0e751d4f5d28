package fn

import (
	"fmt"
	"math"
	"time"

	"breakglass/internal/kql/value"
)

// Numeric functions and bin (https://learn.microsoft.com/kusto/query/bin-function).

func init() {
	realFn := func(name string, f func(float64) float64) *Scalar {
		return &Scalar{Name: name, Min: 1, Max: 1, Result: sig(value.Real, kNum),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				x, ok := toReal(a[0])
				if !ok {
					return nullReal
				}
				return real(f(x))
			}}
	}
	Register(
		&Scalar{Name: "bin", Aliases: []string{"floor"}, Min: 2, Max: 2, Result: binType, Call: bin},
		&Scalar{Name: "bin_at", Min: 3, Max: 3, Result: binAtType, Call: binAt},
		&Scalar{Name: "ceiling", Min: 1, Max: 1, Result: sameNum, Call: func(_ *Ctx, a []value.Value) value.Value { return roundWith(a[0], math.Ceil) }},
		&Scalar{Name: "round", Min: 1, Max: 2, Const: []int{1}, Result: roundType, Call: round},
		&Scalar{Name: "abs", Min: 1, Max: 1, Result: absType, Call: abs},
		&Scalar{Name: "sign", Min: 1, Max: 1, Result: sig(value.Real, kNum),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				x, ok := toReal(a[0])
				switch {
				case !ok:
					return nullReal
				case x > 0:
					return real(1)
				case x < 0:
					return real(-1)
				}
				return real(0)
			}},
		realFn("sqrt", math.Sqrt),
		realFn("exp", math.Exp),
		realFn("exp2", math.Exp2),
		realFn("exp10", func(x float64) float64 { return math.Pow(10, x) }),
		realFn("log", math.Log),
		realFn("log2", math.Log2),
		realFn("log10", math.Log10),
		realFn("degrees", func(x float64) float64 { return x * 180 / math.Pi }),
		realFn("radians", func(x float64) float64 { return x * math.Pi / 180 }),
		&Scalar{Name: "pow", Min: 2, Max: 2, Result: sig(value.Real, kNum, kNum),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				x, ok1 := toReal(a[0])
				y, ok2 := toReal(a[1])
				if !ok1 || !ok2 {
					return nullReal
				}
				return real(math.Pow(x, y))
			}},
		&Scalar{Name: "pi", Min: 0, Max: 0, Result: sig(value.Real), Call: func(*Ctx, []value.Value) value.Value { return real(math.Pi) }},
		&Scalar{Name: "isfinite", Min: 1, Max: 1, Result: sig(value.Bool, kReal),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				x, ok := toReal(a[0])
				if !ok {
					return nullBool
				}
				return boolean(!math.IsNaN(x) && !math.IsInf(x, 0))
			}},
		binaryFn("binary_and", func(x, y int64) int64 { return x & y }),
		binaryFn("binary_or", func(x, y int64) int64 { return x | y }),
		binaryFn("binary_xor", func(x, y int64) int64 { return x ^ y }),
		binaryFn("binary_shift_left", func(x, y int64) int64 { return x << uint(y&63) }),
		binaryFn("binary_shift_right", func(x, y int64) int64 { return x >> uint(y&63) }),
		&Scalar{Name: "binary_not", Min: 1, Max: 1, Result: sig(value.Long, kInt),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() {
					return nullLong
				}
				return long(^a[0].I)
			}},
	)
}

func binaryFn(name string, f func(x, y int64) int64) *Scalar {
	return &Scalar{Name: name, Min: 2, Max: 2, Result: sig(value.Long, kInt, kInt),
		Call: func(_ *Ctx, a []value.Value) value.Value {
			if a[0].IsNull() || a[1].IsNull() {
				return nullLong
			}
			return long(f(a[0].I, a[1].I))
		}}
}

// binType: bin(int|long, int|long) is long, a real on either side real,
// bin(datetime, timespan) datetime, bin(timespan, timespan) timespan.
func binType(args []value.Type) (value.Type, error) {
	if err := check(args, kBinVal, kBinSize); err != nil {
		return value.Long, err
	}
	v, s := args[0], args[1]
	switch {
	case v == value.DateTime || v == value.TimeSpan:
		if s != value.TimeSpan {
			return v, fmt.Errorf("argument 2: bin of a %s wants a timespan size (1h, 1d), got %s", v, s)
		}
		return v, nil
	case s == value.TimeSpan:
		return value.Long, fmt.Errorf("argument 2: a number is binned by a number, got %s", s)
	case v == value.Decimal || s == value.Decimal:
		return value.Decimal, nil
	case v == value.Real || s == value.Real:
		return value.Real, nil
	}
	return value.Long, nil
}

func binAtType(args []value.Type) (value.Type, error) {
	t, err := binType(args[:2])
	if err != nil {
		return t, err
	}
	if args[2] == value.Decimal && t == value.Real {
		t = value.Decimal
	}
	if args[2] != args[0] && !(args[0].Numeric() && args[2].Numeric()) {
		return t, fmt.Errorf("argument 3: the fixed point must be a %s like the value, got %s", args[0], args[2])
	}
	return t, nil
}

// binFloor rounds x down to a multiple of size (floor, so -4.5 bins to -5
// with size 1); false when size is not positive.
func binFloor(x, size int64) (int64, bool) {
	if size <= 0 {
		return 0, false
	}
	q := x / size
	if x%size != 0 && (x < 0) != (size < 0) {
		q--
	}
	return q * size, true
}

// bin: https://learn.microsoft.com/kusto/query/bin-function
// (bin(4.5, 1) is 4, bin(time(16d), 7d) is 14d,
// bin(datetime(1970-05-11 13:45:07), 1d) is 1970-05-11; a null or
// non-positive size gives null).
func bin(_ *Ctx, a []value.Value) value.Value {
	v, s := a[0], a[1]
	if v.IsNull() || s.IsNull() {
		return binNull(v, s)
	}
	switch v.T {
	case value.DateTime:
		size := s.I
		if s.T != value.TimeSpan { // a number of ticks
			f, _ := toReal(s)
			size = int64(f) * 100
		}
		// Kusto bins datetimes on ticks since 0001-01-01 (a Monday): 7d
		// bins start on Mondays.
		ticks := v.I/100 + unixEpochTicks
		sz := size / 100
		b, ok := binFloor(ticks, sz)
		if !ok || sz == 0 {
			return nullDT
		}
		return value.Value{T: value.DateTime, I: (b - unixEpochTicks) * 100}
	case value.TimeSpan:
		size := s.I
		if s.T != value.TimeSpan {
			f, _ := toReal(s)
			size = int64(f * 1e9)
		}
		b, ok := binFloor(v.I, size)
		if !ok {
			return nullTS
		}
		return value.NewTimeSpan(time.Duration(b))
	}
	if v.T == value.Real || v.T == value.Decimal || s.T == value.Real || s.T == value.Decimal {
		t := value.Real
		if v.T == value.Decimal || s.T == value.Decimal {
			t = value.Decimal
		}
		x, ok1 := toReal(v)
		sz, ok2 := toReal(s)
		if !ok1 || !ok2 || sz <= 0 || math.IsNaN(sz) || math.IsNaN(x) {
			return value.NullOf(t)
		}
		return value.Value{T: t, F: math.Floor(x/sz) * sz}
	}
	b, ok := binFloor(v.I, s.I)
	if !ok {
		return nullLong
	}
	return long(b)
}

func binNull(v, s value.Value) value.Value {
	t, err := binType([]value.Type{v.T, s.T})
	if err != nil {
		return value.NullOf(v.T)
	}
	return value.NullOf(t)
}

// binAt: https://learn.microsoft.com/kusto/query/bin-at-function
// (bin_at(6.5, 2.5, 7) is 4.5; bins aligned on the fixed point).
func binAt(c *Ctx, a []value.Value) value.Value {
	v, s, at := a[0], a[1], a[2]
	null := func() value.Value {
		t, err := binAtType([]value.Type{v.T, s.T, at.T})
		if err != nil {
			return value.NullOf(v.T)
		}
		return value.NullOf(t)
	}
	if v.IsNull() || s.IsNull() || at.IsNull() {
		return null()
	}
	switch v.T {
	case value.DateTime, value.TimeSpan:
		if at.T != v.T || s.T != value.TimeSpan {
			return null()
		}
		b, ok := binFloor(v.I-at.I, s.I)
		if !ok {
			return null()
		}
		return value.Value{T: v.T, I: b + at.I}
	}
	x, ok1 := toReal(v)
	sz, ok2 := toReal(s)
	p, ok3 := toReal(at)
	if !ok1 || !ok2 || !ok3 || sz <= 0 {
		return null()
	}
	r := math.Floor((x-p)/sz)*sz + p
	t, _ := binAtType([]value.Type{v.T, s.T, at.T})
	if t == value.Long {
		return long(int64(r))
	}
	return value.Value{T: t, F: r}
}

func sameNum(args []value.Type) (value.Type, error) {
	if err := check(args, kNum); err != nil {
		return value.Real, err
	}
	return args[0], nil
}

func roundType(args []value.Type) (value.Type, error) {
	if err := check(args, kNum, kInt); err != nil {
		return value.Real, err
	}
	return args[0], nil
}

func absType(args []value.Type) (value.Type, error) {
	if err := check(args, kNum|kTS); err != nil {
		return value.Real, err
	}
	switch args[0] {
	case value.Int, value.Long:
		return value.Long, nil
	}
	return args[0], nil
}

func roundWith(v value.Value, f func(float64) float64) value.Value {
	if v.IsNull() {
		return value.NullOf(v.T)
	}
	switch v.T {
	case value.Int, value.Long:
		return v
	case value.Real, value.Decimal:
		return value.Value{T: v.T, F: f(v.F)}
	}
	return value.NullOf(v.T)
}

// round: https://learn.microsoft.com/kusto/query/round-function
// (round(2.98765, 3) is 2.988, round(2.15, 1) 2.2, round(-50.55, -2)
// -100; halves round away from zero).
func round(_ *Ctx, a []value.Value) value.Value {
	v := a[0]
	prec := int64(0)
	if len(a) > 1 {
		p, ok := intArg(a[1])
		if !ok {
			return value.NullOf(v.T)
		}
		prec = max(-18, min(p, 18))
	}
	if v.IsNull() {
		return value.NullOf(v.T)
	}
	m := math.Pow(10, float64(prec))
	switch v.T {
	case value.Int, value.Long:
		if prec >= 0 {
			return v
		}
		r := math.Round(float64(v.I)*m) / m
		return value.Value{T: v.T, I: int64(r)}
	case value.Real, value.Decimal:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return v
		}
		// Round the decimal text, not the binary value: 2.15 is stored as
		// 2.14999..., yet Kusto's round(2.15, 1) is 2.2.
		x := v.F * m
		r := math.Round(x)
		if math.Abs(x-math.Trunc(x)) > 0.4999999999 && math.Abs(x-math.Trunc(x)) < 0.5 {
			r = math.Trunc(x) + math.Copysign(1, x)
		}
		return value.Value{T: v.T, F: r / m}
	}
	return value.NullOf(v.T)
}

func abs(_ *Ctx, a []value.Value) value.Value {
	v := a[0]
	if v.IsNull() {
		t, _ := absType([]value.Type{v.T})
		return value.NullOf(t)
	}
	switch v.T {
	case value.Int, value.Long:
		if v.I < 0 {
			return long(-v.I)
		}
		return long(v.I)
	case value.TimeSpan:
		if v.I < 0 {
			return value.NewTimeSpan(time.Duration(-v.I))
		}
		return v
	case value.Real, value.Decimal:
		return value.Value{T: v.T, F: math.Abs(v.F)}
	}
	return nullReal
}
