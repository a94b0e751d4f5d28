package eval

import (
	"math"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999",
	"2006-01-02 15:04:05.9999999Z07:00",
	"2006-01-02 15:04:05.9999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006-01",
	time.RFC1123Z,
	time.RFC1123,
	time.RFC822Z,
	time.RFC822,
	time.RFC850,
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2006/01/02 15:04:05",
	"2006/01/02",
	"01/02/2006 15:04:05",
	"01/02/2006",
}

// parseDateTime reads the datetime forms Kusto accepts (ISO 8601 first);
// times without a zone are UTC.
func parseDateTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

var unitDur = map[string]time.Duration{
	"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second,
	"ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond, "tick": 100 * time.Nanosecond,
	"day": 24 * time.Hour, "days": 24 * time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"min": time.Minute, "minute": time.Minute, "minutes": time.Minute, "sec": time.Second, "second": time.Second,
	"seconds": time.Second, "milli": time.Millisecond, "millis": time.Millisecond, "millisecond": time.Millisecond,
	"milliseconds": time.Millisecond, "micro": time.Microsecond, "micros": time.Microsecond,
	"microsecond": time.Microsecond, "microseconds": time.Microsecond, "nanosecond": time.Nanosecond,
	"nanoseconds": time.Nanosecond, "ticks": 100 * time.Nanosecond,
}

// parseTimeSpanText reads "1.02:03:04.5", "02:03:04", "1h", "7d", "1.5h".
func parseTimeSpanText(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	d, ok := parseSpan(s)
	if neg {
		d = -d
	}
	return d, ok
}

func parseSpan(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	if strings.Contains(s, ":") {
		var days int64
		if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
			n, err := strconv.ParseInt(s[:i], 10, 64)
			if err != nil {
				return 0, false
			}
			days, s = n, s[i+1:]
		}
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return 0, false
		}
		h, err1 := strconv.ParseInt(parts[0], 10, 64)
		m, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		var sec float64
		if len(parts) == 3 {
			f, err := strconv.ParseFloat(parts[2], 64)
			if err != nil {
				return 0, false
			}
			sec = f
		}
		return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
			time.Duration(math.Round(sec*1e7))*100, true
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	unit := strings.ToLower(s[i:])
	if unit == "" {
		unit = "d" // a bare number in time(...) is days
	}
	u, ok := unitDur[unit]
	if !ok {
		return 0, false
	}
	return time.Duration(f * float64(u)), true
}

// literal converts a parsed literal to its value.
func literal(l *kql.Literal) (value.Value, error) {
	t, ok := value.ParseType(string(l.Kind))
	if l.Kind == kql.LitNull {
		return value.NewDynamic(nil), nil
	}
	if !ok {
		return value.Value{}, errorf("unknown literal kind %q", l.Kind)
	}
	if l.Null {
		return value.NullOf(t), nil
	}
	raw := l.Raw
	switch l.Kind {
	case kql.LitString:
		return value.NewString(raw), nil
	case kql.LitLong, kql.LitInt:
		n, err := parseInt(raw)
		if err != nil {
			return value.Value{}, errorf("%q is not a %s", raw, l.Kind)
		}
		if l.Kind == kql.LitInt {
			return value.NewInt(int32(n)), nil
		}
		return value.NewLong(n), nil
	case kql.LitReal, kql.LitDecimal:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			switch strings.ToLower(strings.TrimSpace(raw)) {
			case "nan":
				f = math.NaN()
			case "+inf", "inf":
				f = math.Inf(1)
			case "-inf":
				f = math.Inf(-1)
			default:
				return value.Value{}, errorf("%q is not a real", raw)
			}
		}
		return value.Value{T: t, F: f}, nil
	case kql.LitBool:
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true", "1":
			return value.NewBool(true), nil
		case "false", "0":
			return value.NewBool(false), nil
		}
		return value.Value{}, errorf("%q is not a bool", raw)
	case kql.LitDatetime:
		tm, ok := parseDateTime(raw)
		if !ok {
			return value.Value{}, errorf("datetime(%s) is not a date and time I can read; use ISO 8601, e.g. datetime(2024-01-31 13:00:00)", raw)
		}
		return value.NewDateTime(tm), nil
	case kql.LitTimespan:
		text := raw
		if l.Unit != "" && !strings.HasSuffix(strings.ToLower(raw), l.Unit) {
			text = raw + l.Unit
		}
		d, ok := parseTimeSpanText(text)
		if !ok {
			return value.Value{}, errorf("%q is not a timespan", raw)
		}
		return value.NewTimeSpan(d), nil
	case kql.LitGuid:
		g, ok := value.NewGuid(raw)
		if !ok {
			return value.Value{}, errorf("guid(%s) is not a guid", raw)
		}
		return g, nil
	}
	return value.Value{}, errorf("unknown literal kind %q", l.Kind)
}

func parseInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return int64(u), err
	}
	return strconv.ParseInt(s, 10, 64)
}
