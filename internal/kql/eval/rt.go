package eval

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"breakglass/internal/kql/value"
)

// Runtime helpers: Kusto's comparison, arithmetic and string-operator rules
// on value.Value. None of them panics; a value they cannot use gives null.

// truthy reports whether v is a non-null true (where keeps only those).
func truthy(v value.Value) bool {
	switch v.T {
	case value.Bool:
		return !v.Null && v.I != 0
	case value.Dynamic:
		b, ok := v.D.(bool)
		return ok && b
	}
	return false
}

// scalar unwraps a dynamic scalar to its typed value (arrays and bags stay dynamic).
func scalar(v value.Value) value.Value {
	if v.T == value.Dynamic {
		if v.Null || v.D == nil {
			return v
		}
		return value.FromDynamic(v.D)
	}
	return v
}

func nullBool() value.Value { return value.NullOf(value.Bool) }

// num returns v as a number: ok false for null or non-numbers.
func num(v value.Value) (i int64, f float64, isReal, ok bool) {
	v = scalar(v)
	if v.IsNull() {
		return 0, 0, false, false
	}
	switch v.T {
	case value.Int, value.Long:
		return v.I, float64(v.I), false, true
	case value.Real, value.Decimal:
		return 0, v.F, true, true
	case value.Bool:
		return v.I, float64(v.I), false, true
	}
	return 0, 0, false, false
}

// compare orders a and b: ok false when either is null or they are not comparable.
func compare(a, b value.Value) (c int, ok bool) {
	a, b = scalar(a), scalar(b)
	if a.IsNull() || b.IsNull() {
		return 0, false
	}
	if a.T.Numeric() || a.T == value.Bool {
		ai, af, ar, ok1 := num(a)
		bi, bf, br, ok2 := num(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		if !ar && !br {
			return cmpInt(ai, bi), true
		}
		return cmpFloat(af, bf), true
	}
	switch a.T {
	case value.DateTime, value.TimeSpan:
		if b.T != a.T {
			return 0, false
		}
		return cmpInt(a.I, b.I), true
	case value.String, value.Guid:
		if b.T != value.String && b.T != value.Guid {
			return 0, false
		}
		return strings.Compare(a.S, b.S), true
	case value.Dynamic:
		if b.T != value.Dynamic {
			return 0, false
		}
		return strings.Compare(value.JSON(a.D), value.JSON(b.D)), true
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// equal is ==: null == null is null, null == value is false.
func equal(a, b value.Value) value.Value {
	an, bn := a.IsNull(), b.IsNull()
	if an && bn {
		return nullBool()
	}
	if an || bn {
		return value.NewBool(false)
	}
	sa, sb := scalar(a), scalar(b)
	// A string compared with a number (ResultType == 0): Kusto accepts it
	// and compares the string's number.
	if sa.T == value.String && sb.T.Numeric() || sb.T == value.String && sa.T.Numeric() {
		if sa.T == value.String {
			sa = convert(sa, value.Real)
		} else {
			sb = convert(sb, value.Real)
		}
		if sa.IsNull() || sb.IsNull() {
			return value.NewBool(false)
		}
		c, _ := compare(sa, sb)
		return value.NewBool(c == 0)
	}
	// A dynamic string compared with a string, a guid with its text.
	if sa.T == value.String || sb.T == value.String || sa.T == value.Guid || sb.T == value.Guid {
		if isStrish(sa) && isStrish(sb) {
			return value.NewBool(sa.S == sb.S)
		}
		return value.NewBool(false)
	}
	if sa.T == value.Dynamic || sb.T == value.Dynamic {
		return value.NewBool(value.JSON(sa.Dynamic()) == value.JSON(sb.Dynamic()))
	}
	c, ok := compare(sa, sb)
	if !ok {
		return value.NewBool(false)
	}
	return value.NewBool(c == 0)
}

func isStrish(v value.Value) bool { return v.T == value.String || v.T == value.Guid }

func not(v value.Value) value.Value {
	if v.IsNull() {
		return v
	}
	return value.NewBool(!truthy(v))
}

// str is the text a string operator sees: tostring of the value.
func str(v value.Value) string { return v.String() }

// foldEq reports case-insensitive equality. ASCII letters fold by ASCII
// rules; other letters fold among themselves but never onto ASCII (so the
// prefilter's ASCII-case-insensitive literal test stays sound: see filter.go).
func foldEq(a, b string) bool {
	if len(a) == len(b) && asciiOnly(a) && asciiOnly(b) {
		return strings.EqualFold(a, b)
	}
	return fold(a) == fold(b)
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fold lower-cases s: ASCII letters by ASCII rules, other runes by Unicode
// unless that would turn them into ASCII (K KELVIN SIGN stays itself).
func fold(s string) string {
	if asciiOnly(s) {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
		} else if l := unicode.ToLower(unicode.ToUpper(r)); l >= utf8.RuneSelf {
			r = l
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isTermRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// hasTerm is Kusto's has: needle occurs in hay on term boundaries (a term
// is a maximal run of letters and digits). An edge of the needle that is
// not a letter or digit needs no boundary on that side, so "10.0.0" is in
// "10.0.0.1". prefix/suffix relax the far side (hasprefix, hassuffix).
func hasTerm(hay, needle string, cs, prefix, suffix bool) bool {
	if needle == "" {
		return true
	}
	if !cs {
		hay, needle = fold(hay), fold(needle)
	}
	first, _ := utf8.DecodeRuneInString(needle)
	last, _ := utf8.DecodeLastRuneInString(needle)
	needStart := isTermRune(first) && !suffix
	needEnd := isTermRune(last) && !prefix
	for from := 0; from <= len(hay)-len(needle); {
		i := strings.Index(hay[from:], needle)
		if i < 0 {
			return false
		}
		i += from
		ok := true
		if needStart && i > 0 {
			r, _ := utf8.DecodeLastRuneInString(hay[:i])
			ok = !isTermRune(r)
		}
		if ok && needEnd && i+len(needle) < len(hay) {
			r, _ := utf8.DecodeRuneInString(hay[i+len(needle):])
			ok = !isTermRune(r)
		}
		if ok {
			return true
		}
		_, w := utf8.DecodeRuneInString(hay[i:])
		from = i + w
	}
	return false
}

func containsCI(hay, needle string) bool  { return strings.Contains(fold(hay), fold(needle)) }
func hasPrefixCI(hay, needle string) bool { return strings.HasPrefix(fold(hay), fold(needle)) }
func hasSuffixCI(hay, needle string) bool { return strings.HasSuffix(fold(hay), fold(needle)) }

// stringOp applies a string operator (has, contains, startswith, ... with
// their _cs and negated forms) to the text of l and r.
func stringOp(op string, l, r value.Value) value.Value {
	neg := strings.HasPrefix(op, "!")
	base := strings.TrimPrefix(op, "!")
	h, n := str(l), str(r)
	var res bool
	switch base {
	case "has":
		res = hasTerm(h, n, false, false, false)
	case "has_cs":
		res = hasTerm(h, n, true, false, false)
	case "hasprefix":
		res = hasTerm(h, n, false, true, false)
	case "hasprefix_cs":
		res = hasTerm(h, n, true, true, false)
	case "hassuffix":
		res = hasTerm(h, n, false, false, true)
	case "hassuffix_cs":
		res = hasTerm(h, n, true, false, true)
	case "contains":
		res = containsCI(h, n)
	case "contains_cs":
		res = strings.Contains(h, n)
	case "startswith":
		res = hasPrefixCI(h, n)
	case "startswith_cs":
		res = strings.HasPrefix(h, n)
	case "endswith":
		res = hasSuffixCI(h, n)
	case "endswith_cs":
		res = strings.HasSuffix(h, n)
	case "=~":
		res = foldEq(h, n)
	case "~": // !~ after the prefix is cut
		res = foldEq(h, n)
	}
	if neg {
		res = !res
	}
	return value.NewBool(res)
}

// arith computes l op r with the result type t decided at compile time.
func arith(op string, t value.Type, l, r value.Value) value.Value {
	l, r = scalar(l), scalar(r)
	if l.IsNull() || r.IsNull() {
		return value.NullOf(t)
	}
	switch t {
	case value.Dynamic:
		// dynamic op dynamic: the numbers' own kinds decide (long unless a real takes part).
		_, _, ar, ok1 := num(l)
		_, _, br, ok2 := num(r)
		if !ok1 || !ok2 {
			return value.NullOf(t)
		}
		rt := value.Long
		if ar || br {
			rt = value.Real
		}
		return value.NewDynamic(arith(op, rt, l, r).Dynamic())
	case value.Real, value.Decimal:
		_, a, _, ok1 := num(l)
		_, b, _, ok2 := num(r)
		if l.T == value.TimeSpan && r.T == value.TimeSpan { // timespan / timespan
			a, b, ok1, ok2 = float64(l.I), float64(r.I), true, true
		}
		if !ok1 || !ok2 {
			return value.NullOf(t)
		}
		var f float64
		switch op {
		case "+":
			f = a + b
		case "-":
			f = a - b
		case "*":
			f = a * b
		case "/":
			f = a / b
		case "%":
			f = math.Mod(a, b)
			if f < 0 { // numerical-operators: 0 <= N % D < abs(D)
				f += math.Abs(b)
			}
		}
		return value.Value{T: t, F: f}
	case value.Int, value.Long:
		a, _, ar, ok1 := num(l)
		b, _, br, ok2 := num(r)
		if !ok1 || !ok2 {
			return value.NullOf(t)
		}
		if ar || br {
			// Only a dynamic operand can hold a real here (the analyser
			// types dynamic * long as long): compute on the numbers as
			// they are and cast the result to long, as tolong() would,
			// rather than give null and drop the row from a where.
			f := arith(op, value.Real, l, r)
			if f.IsNull() || math.IsNaN(f.F) || math.IsInf(f.F, 0) || math.Abs(f.F) >= 9.2e18 {
				return value.NullOf(t)
			}
			return convert(f, t)
		}
		var n int64
		switch op {
		case "+":
			n = a + b
		case "-":
			n = a - b
		case "*":
			n = a * b
		case "/":
			if b == 0 {
				return value.NullOf(t)
			}
			n = a / b
		case "%":
			if b == 0 {
				return value.NullOf(t)
			}
			n = floorMod(a, b)
		}
		return value.Value{T: t, I: n}
	case value.DateTime, value.TimeSpan:
		// datetime ± timespan, datetime - datetime, timespan ± timespan,
		// timespan * number, timespan / number, timespan % timespan.
		var a, b int64
		var bf float64
		bReal := false
		a = l.I
		if l.T != value.DateTime && l.T != value.TimeSpan {
			// number * timespan
			if op != "*" {
				return value.NullOf(t)
			}
			l, r = r, l
			a = l.I
		}
		switch r.T {
		case value.DateTime, value.TimeSpan:
			b = r.I
		default:
			bi, f, isR, ok := num(r)
			if !ok {
				return value.NullOf(t)
			}
			b, bf, bReal = bi, f, isR
		}
		var n int64
		switch op {
		case "+":
			n = a + b
		case "-":
			n = a - b
		case "*":
			if bReal {
				n = int64(float64(a) * bf)
			} else {
				n = a * b
			}
		case "/":
			if bReal {
				if bf == 0 {
					return value.NullOf(t)
				}
				n = int64(float64(a) / bf)
			} else {
				if b == 0 {
					return value.NullOf(t)
				}
				n = a / b
			}
		case "%":
			if b == 0 {
				return value.NullOf(t)
			}
			n = floorMod(a, b)
		}
		return value.Value{T: t, I: n}
	}
	return value.NullOf(t)
}

// floorMod is Kusto's modulo: "the modulo of two numbers always returns a
// small non-negative number", 0 <= a % b < abs(b) (numerical-operators:
// -14 % 12 is 10, 14 % -12 is 2, -14 % -12 is 10).
func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		if b < 0 {
			m -= b
		} else {
			m += b
		}
	}
	return m
}

// convert casts v to type t as Kusto's to* functions do (null when it cannot).
func convert(v value.Value, t value.Type) value.Value {
	if v.T == t || t == value.Unknown { // an unknown column holds any value
		return v
	}
	if t == value.Dynamic {
		return value.NewDynamic(v.Dynamic())
	}
	s := scalar(v)
	if s.IsNull() {
		return value.NullOf(t)
	}
	if s.T == t {
		return s
	}
	switch t {
	case value.String:
		return value.NewString(s.String())
	case value.Long, value.Int:
		i, f, isR, ok := num(s)
		if !ok {
			if s.T == value.String {
				if n, err := strconv.ParseInt(strings.TrimSpace(s.S), 10, 64); err == nil {
					return value.Value{T: t, I: n}
				}
				if x, err := strconv.ParseFloat(strings.TrimSpace(s.S), 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) && math.Abs(x) < 9.2e18 {
					return value.Value{T: t, I: int64(x)}
				}
			}
			return value.NullOf(t)
		}
		if isR {
			if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 9.2e18 {
				return value.NullOf(t)
			}
			i = int64(f)
		}
		if t == value.Int {
			i = int64(int32(i))
		}
		return value.Value{T: t, I: i}
	case value.Real, value.Decimal:
		_, f, _, ok := num(s)
		if !ok {
			if s.T == value.String {
				if x, err := strconv.ParseFloat(strings.TrimSpace(s.S), 64); err == nil {
					return value.Value{T: t, F: x}
				}
			}
			return value.NullOf(t)
		}
		return value.Value{T: t, F: f}
	case value.Bool:
		switch s.T {
		case value.String:
			switch strings.ToLower(strings.TrimSpace(s.S)) {
			case "true", "1":
				return value.NewBool(true)
			case "false", "0":
				return value.NewBool(false)
			}
			return value.NullOf(t)
		}
		i, f, isR, ok := num(s)
		if !ok {
			return value.NullOf(t)
		}
		if isR {
			return value.NewBool(f != 0)
		}
		return value.NewBool(i != 0)
	case value.Guid:
		g, ok := value.NewGuid(s.String())
		if !ok {
			return value.NullOf(t)
		}
		return g
	case value.DateTime:
		if s.T == value.String {
			if tm, ok := parseDateTime(s.S); ok {
				return value.NewDateTime(tm)
			}
		}
		return value.NullOf(t)
	case value.TimeSpan:
		if s.T == value.String {
			if d, ok := parseTimeSpanText(s.S); ok {
				return value.NewTimeSpan(d)
			}
		}
		if i, _, isR, ok := num(s); ok && !isR {
			return value.Value{T: t, I: i * 100} // ticks
		}
		return value.NullOf(t)
	}
	return value.NullOf(t)
}
