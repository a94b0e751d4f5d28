package fn

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"breakglass/internal/kql/value"
)

// Datetime and timespan functions
// (https://learn.microsoft.com/kusto/query/datetime-timespan-arithmetic).
// All times are UTC; weeks start on Sunday, as in Kusto.

const day = 24 * time.Hour

func init() {
	dtPart := func(name string, f func(t time.Time) int64) *Scalar {
		return &Scalar{Name: name, Min: 1, Max: 1, Result: sig(value.Int, kDT),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() || a[0].T != value.DateTime {
					return nullInt
				}
				return value.NewInt(int32(f(a[0].Time())))
			}}
	}
	start := func(name string, f func(t time.Time, off int64) time.Time, end bool) *Scalar {
		return &Scalar{Name: name, Min: 1, Max: 2, Result: sig(value.DateTime, kDT, kInt),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() || a[0].T != value.DateTime {
					return nullDT
				}
				off := int64(0)
				if len(a) > 1 {
					var ok bool
					if off, ok = intArg(a[1]); !ok {
						return nullDT
					}
				}
				if end {
					off++
				}
				t := f(a[0].Time(), off)
				if end {
					t = t.Add(-100 * time.Nanosecond)
				}
				return dtValue(t)
			}}
	}
	Register(
		&Scalar{Name: "now", Min: 0, Max: 1, Result: sig(value.DateTime, kTS),
			Call: func(c *Ctx, a []value.Value) value.Value {
				t := c.Now
				if len(a) > 0 {
					if a[0].IsNull() {
						return nullDT
					}
					t = t.Add(a[0].Duration())
				}
				return dtValue(t)
			}},
		&Scalar{Name: "ago", Min: 1, Max: 1, Result: sig(value.DateTime, kTS),
			Call: func(c *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() || a[0].T != value.TimeSpan {
					return nullDT
				}
				return dtValue(c.Now.Add(-a[0].Duration()))
			}},
		&Scalar{Name: "datetime_add", Min: 3, Max: 3, Const: []int{0}, Result: sig(value.DateTime, kStr, kInt, kDT), ResultConst: partChecked(value.DateTime, 0, sig(value.DateTime, kStr, kInt, kDT)), Call: datetimeAdd},
		&Scalar{Name: "datetime_diff", Min: 3, Max: 3, Const: []int{0}, Result: sig(value.Long, kStr, kDT, kDT), ResultConst: partChecked(value.Long, 0, sig(value.Long, kStr, kDT, kDT)), Call: datetimeDiff},
		&Scalar{Name: "datetime_part", Aliases: []string{"datepart"}, Min: 2, Max: 2, Const: []int{0}, Result: sig(value.Int, kStr, kDT), ResultConst: partChecked(value.Int, 0, sig(value.Int, kStr, kDT)), Call: datetimePart},
		start("startofday", func(t time.Time, off int64) time.Time { return truncDay(t).AddDate(0, 0, int(off)) }, false),
		start("startofweek", func(t time.Time, off int64) time.Time { return truncWeek(t).AddDate(0, 0, 7*int(off)) }, false),
		start("startofmonth", func(t time.Time, off int64) time.Time {
			return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, int(off), 0)
		}, false),
		start("startofyear", func(t time.Time, off int64) time.Time {
			return time.Date(t.Year()+int(off), 1, 1, 0, 0, 0, 0, time.UTC)
		}, false),
		start("endofday", func(t time.Time, off int64) time.Time { return truncDay(t).AddDate(0, 0, int(off)) }, true),
		start("endofweek", func(t time.Time, off int64) time.Time { return truncWeek(t).AddDate(0, 0, 7*int(off)) }, true),
		start("endofmonth", func(t time.Time, off int64) time.Time {
			return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, int(off), 0)
		}, true),
		start("endofyear", func(t time.Time, off int64) time.Time {
			return time.Date(t.Year()+int(off), 1, 1, 0, 0, 0, 0, time.UTC)
		}, true),
		// dayofweek is a timespan: the days since the Sunday before
		// (https://learn.microsoft.com/kusto/query/dayofweek-function).
		&Scalar{Name: "dayofweek", Min: 1, Max: 1, Result: sig(value.TimeSpan, kDT),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() || a[0].T != value.DateTime {
					return nullTS
				}
				return value.NewTimeSpan(time.Duration(a[0].Time().Weekday()) * day)
			}},
		dtPart("dayofmonth", func(t time.Time) int64 { return int64(t.Day()) }),
		dtPart("dayofyear", func(t time.Time) int64 { return int64(t.YearDay()) }),
		dtPart("hourofday", func(t time.Time) int64 { return int64(t.Hour()) }),
		dtPart("getmonth", func(t time.Time) int64 { return int64(t.Month()) }),
		dtPart("monthofyear", func(t time.Time) int64 { return int64(t.Month()) }),
		dtPart("getyear", func(t time.Time) int64 { return int64(t.Year()) }),
		dtPart("week_of_year", func(t time.Time) int64 { _, w := t.ISOWeek(); return int64(w) }),
		&Scalar{Name: "make_datetime", Min: 3, Max: 7, Result: sig(value.DateTime, kNum), Call: makeDatetime},
		&Scalar{Name: "make_timespan", Min: 2, Max: 4, Result: sig(value.TimeSpan, kInt), Call: makeTimespan},
		unixTo("unixtime_seconds_todatetime", 1e9),
		unixTo("unixtime_milliseconds_todatetime", 1e6),
		unixTo("unixtime_microseconds_todatetime", 1e3),
		unixTo("unixtime_nanoseconds_todatetime", 1),
		&Scalar{Name: "format_datetime", Min: 2, Max: 2, Const: []int{1}, Result: sig(value.String, kDT, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() || a[0].T != value.DateTime {
					return str("")
				}
				return str(FormatDateTime(a[0].Time(), text(a[1])))
			}},
		&Scalar{Name: "format_timespan", Min: 2, Max: 2, Const: []int{1}, Result: sig(value.String, kTS, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if a[0].IsNull() || a[0].T != value.TimeSpan {
					return str("")
				}
				return str(FormatTimeSpanAs(a[0].Duration(), text(a[1])))
			}},
	)
}

// dtValue keeps a time in Kusto's range and 100 ns ticks (null outside).
func dtValue(t time.Time) value.Value {
	if t.Year() < 1 || t.Year() > 9999 {
		return nullDT
	}
	if t.Year() < 1678 || t.Year() > 2261 { // beyond int64 Unix nanoseconds
		return nullDT
	}
	return value.NewDateTime(t.Truncate(100 * time.Nanosecond))
}

func truncDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func truncWeek(t time.Time) time.Time {
	d := truncDay(t)
	return d.AddDate(0, 0, -int(d.Weekday()))
}

func unixTo(name string, unit float64) *Scalar {
	return &Scalar{Name: name, Min: 1, Max: 1, Result: sig(value.DateTime, kNum),
		Call: func(_ *Ctx, a []value.Value) value.Value {
			f, ok := toReal(a[0])
			if !ok || math.IsNaN(f) {
				return nullDT
			}
			ns := f * unit
			if ns > 9.2e18 || ns < -9.2e18 {
				return nullDT
			}
			return dtValue(time.Unix(0, int64(ns)).UTC())
		}}
}

// partChecked wraps a Result: when argument i is a constant, it must be
// a part name datetime_add/diff/part know.
func partChecked(ret value.Type, i int, base func([]value.Type) (value.Type, error)) func([]value.Type, []value.Value) (value.Type, error) {
	return func(args []value.Type, consts []value.Value) (value.Type, error) {
		if t, err := base(args); err != nil {
			return t, err
		}
		if i < len(consts) && consts[i].T == value.String {
			if _, ok := normPart(consts[i].S); !ok {
				return ret, fmt.Errorf("argument %d: unknown period %q (want year, quarter, month, week, day, hour, minute, second, millisecond, microsecond or nanosecond)", i+1, consts[i].S)
			}
		}
		return ret, nil
	}
}

func normPart(p string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "year", "years", "yy", "yyyy":
		return "year", true
	case "quarter", "quarters", "qq", "q":
		return "quarter", true
	case "month", "months", "mm", "m":
		return "month", true
	case "week", "weeks", "wk", "ww", "week_of_year", "weekofyear":
		return "week", true
	case "day", "days", "dd", "d":
		return "day", true
	case "dayofyear", "dy", "y":
		return "dayofyear", true
	case "hour", "hours", "hh":
		return "hour", true
	case "minute", "minutes", "mi", "n":
		return "minute", true
	case "second", "seconds", "ss", "s":
		return "second", true
	case "millisecond", "milliseconds", "ms":
		return "millisecond", true
	case "microsecond", "microseconds", "mcs":
		return "microsecond", true
	case "nanosecond", "nanoseconds", "ns":
		return "nanosecond", true
	}
	return "", false
}

var fixedUnits = map[string]time.Duration{
	"day": day, "hour": time.Hour, "minute": time.Minute, "second": time.Second,
	"millisecond": time.Millisecond, "microsecond": time.Microsecond, "nanosecond": time.Nanosecond,
	"week": 7 * day,
}

// addMonths adds months the .NET way: the day is clamped to the month's
// last (2024-01-31 + 1 month is 2024-02-29, not March).
func addMonths(t time.Time, n int64) (time.Time, bool) {
	if n > 120000 || n < -120000 {
		return time.Time{}, false
	}
	y, m, d := t.Date()
	total := int64(y)*12 + int64(m-1) + n
	ny, nm := int(total/12), time.Month(total%12+1)
	last := time.Date(ny, nm+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if d > last {
		d = last
	}
	h, mi, s := t.Clock()
	return time.Date(ny, nm, d, h, mi, s, t.Nanosecond(), time.UTC), true
}

// datetimeAdd: https://learn.microsoft.com/kusto/query/datetime-add-function
// (datetime_add('month', 1, datetime(2017-01-31)) is 2017-02-28).
func datetimeAdd(_ *Ctx, a []value.Value) value.Value {
	part, ok := normPart(text(a[0]))
	n, ok2 := intArg(a[1])
	if !ok || !ok2 || a[2].IsNull() || a[2].T != value.DateTime {
		return nullDT
	}
	t := a[2].Time()
	switch part {
	case "year":
		t, ok = addMonths(t, n*12)
	case "quarter":
		t, ok = addMonths(t, n*3)
	case "month":
		t, ok = addMonths(t, n)
	case "dayofyear":
		ok = n < 1e6 && n > -1e6
		t = t.Add(time.Duration(n) * day)
	default:
		u := fixedUnits[part]
		if n > math.MaxInt64/int64(u) || n < math.MinInt64/int64(u) {
			return nullDT
		}
		t = t.Add(time.Duration(n) * u)
	}
	if !ok {
		return nullDT
	}
	return dtValue(t)
}

// datetimeDiff: https://learn.microsoft.com/kusto/query/datetime-diff-function
// counts the period boundaries between the two (datetime_diff('year',
// datetime(2017-01-01), datetime(2000-12-31)) is 17, 'week' over
// 2017-10-29 and 2017-09-30 23:59 is 5).
func datetimeDiff(_ *Ctx, a []value.Value) value.Value {
	part, ok := normPart(text(a[0]))
	if !ok || a[1].IsNull() || a[2].IsNull() || a[1].T != value.DateTime || a[2].T != value.DateTime {
		return nullLong
	}
	t1, t2 := a[1].Time(), a[2].Time()
	switch part {
	case "year":
		return long(int64(t1.Year() - t2.Year()))
	case "quarter":
		q := func(t time.Time) int64 { return int64(t.Year())*4 + int64(t.Month()-1)/3 }
		return long(q(t1) - q(t2))
	case "month":
		m := func(t time.Time) int64 { return int64(t.Year())*12 + int64(t.Month()-1) }
		return long(m(t1) - m(t2))
	case "week":
		return long(int64(truncWeek(t1).Sub(truncWeek(t2)) / (7 * day)))
	case "day", "dayofyear":
		return long(int64(truncDay(t1).Sub(truncDay(t2)) / day))
	}
	u := int64(fixedUnits[part])
	fl := func(x int64) int64 { // floor division, for times before 1970
		q := x / u
		if x%u < 0 {
			q--
		}
		return q
	}
	return long(fl(a[1].I) - fl(a[2].I))
}

// datetimePart: https://learn.microsoft.com/kusto/query/datetime-part-function
func datetimePart(_ *Ctx, a []value.Value) value.Value {
	part, ok := normPart(text(a[0]))
	if !ok || a[1].IsNull() || a[1].T != value.DateTime {
		return nullInt
	}
	t := a[1].Time()
	var n int
	switch part {
	case "year":
		n = t.Year()
	case "quarter":
		n = int(t.Month()-1)/3 + 1
	case "month":
		n = int(t.Month())
	case "week":
		_, n = t.ISOWeek()
	case "day":
		n = t.Day()
	case "dayofyear":
		n = t.YearDay()
	case "hour":
		n = t.Hour()
	case "minute":
		n = t.Minute()
	case "second":
		n = t.Second()
	case "millisecond":
		n = t.Nanosecond() / 1e6
	case "microsecond":
		n = t.Nanosecond() / 1e3
	case "nanosecond":
		n = t.Nanosecond()
	}
	return value.NewInt(int32(n))
}

// makeDatetime: https://learn.microsoft.com/kusto/query/make-datetime-function
// (make_datetime(2017,10,01,12,10) is 2017-10-01 12:10; the second may be
// fractional; an invalid date is null).
func makeDatetime(_ *Ctx, a []value.Value) value.Value {
	var parts [6]float64
	for i, v := range a {
		if i >= 6 {
			break
		}
		f, ok := toReal(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return nullDT
		}
		parts[i] = f
	}
	y, mo, d, h, mi := int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4])
	sec := parts[5]
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec >= 60 {
		return nullDT
	}
	t := time.Date(y, time.Month(mo), d, h, mi, 0, 0, time.UTC)
	if t.Day() != d {
		return nullDT
	}
	return dtValue(t.Add(time.Duration(math.Round(sec*1e7)) * 100))
}

// makeTimespan: make_timespan(h, m[, s]) or (d, h, m, s).
func makeTimespan(_ *Ctx, a []value.Value) value.Value {
	fs := make([]float64, len(a))
	for i, v := range a {
		f, ok := toReal(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e8 {
			return nullTS
		}
		fs[i] = f
	}
	var d float64
	switch len(fs) {
	case 2:
		d = fs[0]*3600 + fs[1]*60
	case 3:
		d = fs[0]*3600 + fs[1]*60 + fs[2]
	default:
		d = fs[0]*86400 + fs[1]*3600 + fs[2]*60 + fs[3]
	}
	return value.NewTimeSpan(time.Duration(math.Round(d*1e7)) * 100)
}

// FormatDateTime formats as format_datetime does
// (https://learn.microsoft.com/kusto/query/format-datetime-function):
// d dd, f..fffffff, F..FFFFFFF, h hh, H HH, m mm, M MM, s ss, y yy yyyy,
// tt; other characters are copied.
func FormatDateTime(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		switch c {
		case 'd':
			pad(&b, t.Day(), min(n, 2))
		case 'f', 'F':
			n = min(n, 7)
			ticks := t.Nanosecond() / 100
			digits := fmt.Sprintf("%07d", ticks)[:n]
			if c == 'F' {
				digits = strings.TrimRight(digits, "0")
			}
			b.WriteString(digits)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(&b, h, min(n, 2))
		case 'H':
			pad(&b, t.Hour(), min(n, 2))
		case 'm':
			pad(&b, t.Minute(), min(n, 2))
		case 'M':
			pad(&b, int(t.Month()), min(n, 2))
		case 's':
			pad(&b, t.Second(), min(n, 2))
		case 'y':
			switch {
			case n >= 4:
				pad(&b, t.Year(), n)
			case n == 3:
				pad(&b, t.Year(), 3)
			case n == 2:
				pad(&b, t.Year()%100, 2)
			default:
				pad(&b, t.Year()%100, 1)
			}
		case 't':
			if t.Hour() < 12 {
				b.WriteString("AM"[:min(n, 2)])
			} else {
				b.WriteString("PM"[:min(n, 2)])
			}
		default:
			b.WriteString(f[i : i+n])
		}
		i += n
		if b.Len() > 4096 && i < len(f) && utf8.RuneStart(f[i]) {
			break
		}
	}
	return b.String()
}

func pad(b *strings.Builder, v, width int) {
	fmt.Fprintf(b, "%0*d", width, v)
}

// FormatTimeSpanAs formats as format_timespan does
// (https://learn.microsoft.com/kusto/query/format-timespan-function:
// format_timespan(time(29.09:00:05.12345), 'dd.hh:mm:ss:FF') is
// "29.09:00:05:12").
func FormatTimeSpanAs(d time.Duration, f string) string {
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	days := int(d / day)
	rest := d % day
	for i := 0; i < len(f); {
		c := f[i]
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		switch c {
		case 'd':
			pad(&b, days, min(n, 8))
		case 'h', 'H':
			pad(&b, int(rest/time.Hour), min(n, 2))
		case 'm':
			pad(&b, int(rest%time.Hour/time.Minute), min(n, 2))
		case 's':
			pad(&b, int(rest%time.Minute/time.Second), min(n, 2))
		case 'f', 'F':
			n = min(n, 7)
			digits := fmt.Sprintf("%07d", int(rest%time.Second/100))[:n]
			if c == 'F' {
				digits = strings.TrimRight(digits, "0")
			}
			b.WriteString(digits)
		default:
			b.WriteString(f[i : i+n])
		}
		i += n
		if b.Len() > 4096 && i < len(f) && utf8.RuneStart(f[i]) {
			break
		}
	}
	return b.String()
}
