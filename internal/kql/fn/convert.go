package fn

import (
	"math"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/kql/value"
)

// Conversions: tostring, toint, tolong, todouble/toreal, todecimal, tobool,
// todatetime, totimespan, toguid, parse_json/todynamic, and the null and
// empty tests. Each gives a null of its type when the input cannot be
// converted (https://learn.microsoft.com/kusto/query/tolong-function).

func init() {
	Register(
		&Scalar{Name: "tostring", Min: 1, Max: 1, Result: sig(value.String, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return str(a[0].String()) }},
		&Scalar{Name: "toint", Min: 1, Max: 1, Result: sig(value.Int, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if i, ok := toLong(a[0]); ok && i >= math.MinInt32 && i <= math.MaxInt32 {
					return value.NewInt(int32(i))
				}
				return nullInt
			}},
		&Scalar{Name: "tolong", Min: 1, Max: 1, Result: sig(value.Long, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if i, ok := toLong(a[0]); ok {
					return long(i)
				}
				return nullLong
			}},
		&Scalar{Name: "todouble", Aliases: []string{"toreal"}, Min: 1, Max: 1, Result: sig(value.Real, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if f, ok := toReal(a[0]); ok {
					return real(f)
				}
				return nullReal
			}},
		&Scalar{Name: "todecimal", Min: 1, Max: 1, Result: sig(value.Decimal, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if f, ok := toReal(a[0]); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
					return value.Value{T: value.Decimal, F: f}
				}
				return value.NullOf(value.Decimal)
			}},
		&Scalar{Name: "tobool", Aliases: []string{"toboolean"}, Min: 1, Max: 1, Result: sig(value.Bool, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if b, ok := toBool(a[0]); ok {
					return boolean(b)
				}
				return nullBool
			}},
		&Scalar{Name: "todatetime", Min: 1, Max: 1, Result: sig(value.DateTime, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return toDateTime(a[0]) }},
		&Scalar{Name: "totimespan", Aliases: []string{"totime"}, Min: 1, Max: 1, Result: sig(value.TimeSpan, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return toTimeSpan(a[0]) }},
		&Scalar{Name: "toguid", Min: 1, Max: 1, Result: sig(value.Guid, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].T == value.Guid {
					return a[0]
				}
				g, _ := value.NewGuid(a[0].String())
				return g
			}},
		// parse_json of a dynamic uses it as is.
		&Scalar{Name: "parse_json", Aliases: []string{"todynamic", "parsejson", "toobject"}, Min: 1, Max: 1,
			Result: sig(value.Dynamic, kStr),
			Call:   func(_ *Ctx, a []value.Value) value.Value { return parseJSON(a[0]) }},
		&Scalar{Name: "isnull", Min: 1, Max: 1, Result: sig(value.Bool, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return boolean(a[0].IsNull()) }},
		&Scalar{Name: "isnotnull", Min: 1, Max: 1, Result: sig(value.Bool, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return boolean(!a[0].IsNull()) }},
		&Scalar{Name: "isempty", Min: 1, Max: 1, Result: sig(value.Bool, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return boolean(a[0].IsEmpty()) }},
		&Scalar{Name: "isnotempty", Aliases: []string{"notempty"}, Min: 1, Max: 1, Result: sig(value.Bool, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return boolean(!a[0].IsEmpty()) }},
		&Scalar{Name: "isnan", Min: 1, Max: 1, Result: sig(value.Bool, kReal),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() {
					return nullBool
				}
				f, _ := toReal(a[0])
				return boolean(math.IsNaN(f))
			}},
		&Scalar{Name: "isinf", Min: 1, Max: 1, Result: sig(value.Bool, kReal),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() {
					return nullBool
				}
				f, _ := toReal(a[0])
				return boolean(math.IsInf(f, 0))
			}},
		&Scalar{Name: "gettype", Min: 1, Max: 1, Result: sig(value.String, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return str(getType(a[0])) }},
	)
}

// parseJSON is parse_json: a dynamic is used as is; text that is not JSON
// becomes a dynamic string (https://learn.microsoft.com/kusto/query/parse-json-function).
func parseJSON(v value.Value) value.Value {
	if v.T == value.Dynamic {
		if s, ok := v.D.(string); ok && !v.Null {
			return parseJSON(str(s))
		}
		return v
	}
	if v.T != value.String {
		return value.NewDynamic(v.Dynamic())
	}
	if strings.TrimSpace(v.S) == "" {
		return nullDyn // gettype(parse_json('')) is "null" in the docs
	}
	return value.ParseJSON(v.S)
}

// scalarOf unwraps a dynamic holding a scalar (so todouble(d.x) sees the
// number or the string inside).
func scalarOf(v value.Value) value.Value {
	if v.T == value.Dynamic && !v.Null {
		return value.FromDynamic(v.D)
	}
	return v
}

// toLong converts as tolong does: numbers truncate toward zero, strings
// parse (decimal integers or reals), bools are 0/1, datetimes and
// timespans give their 100 ns ticks.
func toLong(v value.Value) (int64, bool) {
	v = scalarOf(v)
	if v.IsNull() {
		return 0, false
	}
	switch v.T {
	case value.Bool, value.Int, value.Long:
		return v.I, true
	case value.Real, value.Decimal:
		if math.IsNaN(v.F) || v.F >= 9.2233720368547758e18 || v.F < -9.2233720368547758e18 {
			return 0, false
		}
		return int64(v.F), true
	case value.DateTime:
		return v.I/100 + unixEpochTicks, true
	case value.TimeSpan:
		return v.I / 100, true
	case value.String:
		s := strings.TrimSpace(v.S)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 9.2e18 {
			return int64(f), true
		}
	}
	return 0, false
}

// unixEpochTicks is 1970-01-01 in .NET ticks (100 ns since 0001-01-01).
const unixEpochTicks = 621355968000000000

// toReal converts as todouble does.
func toReal(v value.Value) (float64, bool) {
	v = scalarOf(v)
	if v.IsNull() {
		return 0, false
	}
	switch v.T {
	case value.Bool, value.Int, value.Long:
		return float64(v.I), true
	case value.Real, value.Decimal:
		return v.F, true
	case value.DateTime:
		return float64(v.I/100 + unixEpochTicks), true
	case value.TimeSpan:
		return float64(v.I / 100), true
	case value.String:
		s := strings.TrimSpace(v.S)
		switch s {
		case "NaN":
			return math.NaN(), true
		case "Infinity", "+Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		if s == "" || strings.ContainsAny(s, "xXpP_") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "+inf") || strings.EqualFold(s, "-inf") {
			return 0, false
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

// toBool converts as tobool does: "true"/"false" in any case, numbers are
// true when non-zero.
func toBool(v value.Value) (bool, bool) {
	v = scalarOf(v)
	if v.IsNull() {
		return false, false
	}
	switch v.T {
	case value.Bool, value.Int, value.Long:
		return v.I != 0, true
	case value.Real, value.Decimal:
		return v.F != 0, true
	case value.String:
		switch strings.ToLower(strings.TrimSpace(v.S)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		if i, err := strconv.ParseInt(strings.TrimSpace(v.S), 10, 64); err == nil {
			return i != 0, true
		}
	}
	return false, false
}

// toDateTime is todatetime: a datetime as is, text parsed (ISO 8601, RFC
// 822, RFC 850 and the common log forms), anything else null.
func toDateTime(v value.Value) value.Value {
	v = scalarOf(v)
	switch v.T {
	case value.DateTime:
		return v
	case value.String:
		if t, ok := ParseDateTime(v.S); ok {
			return dtValue(t) // null outside the range a Value holds (1678-2261)
		}
	}
	return nullDT
}

// dateLayouts are the text forms todatetime reads after ISO 8601 (which
// parseISO handles with any fraction and offset): the RFC 822, RFC 850 and
// sortable forms the docs list
// (https://learn.microsoft.com/kusto/query/scalar-data-types/datetime), the
// US month-day-year form of todatetime's example, and the common log forms.
var dateLayouts = []string{
	// RFC 822
	"Mon, 2 Jan 06 15:04:05 MST", "Mon, 2 Jan 06 15:04:05", "Mon, 2 Jan 06 15:04", "Mon, 2 Jan 06 15:04 MST",
	"2 Jan 06 15:04:05 MST", "2 Jan 06 15:04:05", "2 Jan 06 15:04", "2 Jan 06 15:04 MST",
	time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700",
	// RFC 850
	"Monday, 02-Jan-06 15:04:05 MST", "Monday, 02-Jan-06 15:04:05", "Monday, 02-Jan-06 15:04 MST", "Monday, 02-Jan-06 15:04",
	"02-Jan-06 15:04:05 MST", "02-Jan-06 15:04:05", "02-Jan-06 15:04 MST", "02-Jan-06 15:04",
	// sortable, with a zone name or unpadded month and day
	"2006-1-2 15:04:05", "2006-1-2 15:04:05 MST", "2006-1-2 15:04", "2006-1-2 15:04 MST",
	"2006-1-2T15:04:05", "2006-1-2T15:04:05 MST", "2006-1-2T15:04", "2006-1-2T15:04 MST",
	// MM-dd-yyyy (todatetime('12-02-2022') is 2022-12-02) and exports
	"01-02-2006", "01-02-2006 15:04:05", "01-02-2006 15:04",
	"1/2/2006 3:04:05 PM", "1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006",
	"2006/01/02 15:04:05", "2006/01/02",
	"Mon Jan _2 15:04:05 2006", "Mon Jan _2 15:04:05 MST 2006",
}

// ParseDateTime reads a datetime as Kusto's datetime() literal and
// todatetime() do; the result is UTC, in 100 ns ticks. Exported for the
// table builders (records carry times as text) and the fuzz target.
// Kusto accepts the years 1 to 9999; a Value holds Unix nanoseconds, so a
// time outside 1678-2261 is refused here rather than wrapped around.
func ParseDateTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}, false
	}
	t, ok := parseISO(s)
	for _, l := range dateLayouts {
		if ok {
			break
		}
		if pt, err := time.Parse(l, s); err == nil {
			t, ok = pt.UTC().Truncate(100*time.Nanosecond), true
		}
	}
	if !ok || t.Year() < 1678 || t.Year() > 2261 {
		return time.Time{}, false
	}
	return t, true
}

// parseISO reads yyyy-MM-dd[( |T)HH:mm[:ss[.f{1,9}]]][Z|±hh:mm|±hhmm].
func parseISO(s string) (time.Time, bool) {
	n := func(i, w int) (int, bool) {
		if i+w > len(s) {
			return 0, false
		}
		x := 0
		for _, c := range []byte(s[i : i+w]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int(c-'0')
		}
		return x, true
	}
	y, ok1 := n(0, 4)
	if !ok1 || len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	mo, ok2 := n(5, 2)
	d, ok3 := n(8, 2)
	if !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	var h, mi, sec, nsec int
	i := 10
	if i < len(s) && (s[i] == 'T' || s[i] == ' ') {
		var ok bool
		if h, ok = n(i+1, 2); !ok || i+3 >= len(s) || s[i+3] != ':' {
			return time.Time{}, false
		}
		if mi, ok = n(i+4, 2); !ok {
			return time.Time{}, false
		}
		i += 6
		if i < len(s) && s[i] == ':' {
			if sec, ok = n(i+1, 2); !ok {
				return time.Time{}, false
			}
			i += 3
			if i < len(s) && s[i] == '.' {
				i++
				digits := 0
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					if digits < 9 {
						nsec = nsec*10 + int(s[i]-'0')
						digits++
					}
					i++
				}
				if digits == 0 {
					return time.Time{}, false
				}
				for ; digits < 9; digits++ {
					nsec *= 10
				}
			}
		}
		if h > 23 || mi > 59 || sec > 59 {
			return time.Time{}, false
		}
	}
	loc := time.UTC
	offset := 0
	switch {
	case i == len(s):
	case s[i:] == "Z" || s[i:] == "z":
	case s[i] == '+' || s[i] == '-':
		rest := strings.ReplaceAll(s[i+1:], ":", "")
		if len(rest) != 4 && len(rest) != 2 {
			return time.Time{}, false
		}
		oh, err1 := strconv.Atoi(rest[:2])
		om := 0
		var err2 error
		if len(rest) == 4 {
			om, err2 = strconv.Atoi(rest[2:])
		}
		if err1 != nil || err2 != nil || oh > 14 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nsec, loc)
	if t.Day() != d { // 2023-02-30
		return time.Time{}, false
	}
	t = t.Add(-time.Duration(offset) * time.Second)
	// Kusto keeps 100 ns ticks.
	return t.Truncate(100 * time.Nanosecond), true
}

// toTimeSpan is totimespan: a timespan as is; text in the form
// [-][d.]hh:mm[:ss[.fffffff]] or a timespan literal (1d, 2h, 30m, 10s,
// 100ms); anything else null.
func toTimeSpan(v value.Value) value.Value {
	v = scalarOf(v)
	switch v.T {
	case value.TimeSpan:
		return v
	case value.String:
		if d, ok := ParseTimeSpan(v.S); ok {
			return value.NewTimeSpan(d)
		}
	}
	return nullTS
}

// ParseTimeSpan reads [-][d.]hh:mm[:ss[.fffffff]] or a KQL timespan
// literal body (1d, 1.5h, 30m, 10s, 100ms, 10microsecond, 5tick).
func ParseTimeSpan(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return 0, false
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	var d time.Duration
	var ok bool
	if strings.Contains(s, ":") {
		d, ok = parseClock(s)
	} else {
		d, ok = parseSpanLiteral(s)
	}
	if !ok {
		return 0, false
	}
	if neg {
		d = -d
	}
	return d, true
}

func parseClock(s string) (time.Duration, bool) {
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || n > 106751 {
			return 0, false
		}
		days, s = n, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(parts[1]) != 2 {
		return 0, false
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if len(parts) == 3 {
		sec, frac, _ := strings.Cut(parts[2], ".")
		sv, err := strconv.Atoi(sec)
		if err != nil || sv < 0 || sv > 59 || len(sec) != 2 {
			return 0, false
		}
		d += time.Duration(sv) * time.Second
		if frac != "" {
			if len(frac) > 7 {
				return 0, false
			}
			f, err := strconv.Atoi(frac)
			if err != nil || f < 0 {
				return 0, false
			}
			for i := len(frac); i < 7; i++ {
				f *= 10
			}
			d += time.Duration(f) * 100
		}
	}
	return d, true
}

var spanUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"microseconds", time.Microsecond}, {"microsecond", time.Microsecond},
	{"milliseconds", time.Millisecond}, {"millisecond", time.Millisecond},
	{"nanoseconds", time.Nanosecond}, {"nanosecond", time.Nanosecond},
	{"seconds", time.Second}, {"second", time.Second},
	{"minutes", time.Minute}, {"minute", time.Minute},
	{"hours", time.Hour}, {"hour", time.Hour},
	{"days", 24 * time.Hour}, {"day", 24 * time.Hour},
	{"ticks", 100}, {"tick", 100},
	{"ms", time.Millisecond}, {"d", 24 * time.Hour}, {"h", time.Hour},
	{"m", time.Minute}, {"s", time.Second},
}

func parseSpanLiteral(s string) (time.Duration, bool) {
	for _, u := range spanUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok && num != "" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 || num[0] == '+' || strings.ContainsAny(num, "eExXpPnN_") {
				return 0, false
			}
			x := f * float64(u.unit)
			if x > float64(math.MaxInt64) {
				return 0, false
			}
			return time.Duration(math.Round(x/100) * 100), true
		}
	}
	return 0, false
}

func getType(v value.Value) string {
	if v.T != value.Dynamic {
		switch v.T {
		case value.Real:
			return "real"
		case value.Long:
			return "long"
		}
		return v.T.String()
	}
	if v.IsNull() {
		return "null"
	}
	switch v.D.(type) {
	case bool:
		return "bool"
	case int64:
		if t := v.D.(int64); t >= math.MinInt32 && t <= math.MaxInt32 {
			return "int" // gettype(parse_json('1')) is "int" in the docs
		}
		return "long"
	case float64:
		return "real"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "dictionary"
	}
	return "dynamic"
}
