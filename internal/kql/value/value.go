// Package value is the KQL engine's data model: the scalar types of Kusto
// and one Value that holds any of them, with Kusto's null rules. The
// parser (internal/kql) knows nothing of it; the evaluator
// (internal/kql/eval), the function library (internal/kql/fn) and the table
// builders (internal/kql/tables) all speak it.
//
// Representation: one small struct, no interface boxing for scalars, so a
// row of values is one allocation. Datetimes are Unix nanoseconds (Kusto's
// tick is 100 ns; log times fit the int64 range), timespans nanoseconds,
// dynamic values the JSON-like Go values encoding/json produces (nil, bool,
// int64, float64, string, []any, map[string]any) with numbers normalised to
// int64 when integral in the source and float64 otherwise.
package value

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Type is a Kusto scalar type.
type Type uint8

// The Kusto scalar types. Dynamic is the zero value on purpose: a value of
// unknown type is dynamic (and a null dynamic is the zero Value).
const (
	Dynamic Type = iota
	Bool
	Int
	Long
	Real
	Decimal
	String
	DateTime
	TimeSpan
	Guid
	// Unknown is the static type Microsoft's analyser gives a column it
	// cannot know: a column named on a table outside the catalog in a
	// union isfuzzy=true (an "open" table). It has no values of its own:
	// at run time such a column holds dynamic values (a dynamic null, as
	// the table has no rows), so NullOf(Unknown) is the dynamic null.
	// ParseType does not read it: no query declares a column unknown.
	Unknown
)

var typeNames = [...]string{"dynamic", "bool", "int", "long", "real", "decimal", "string", "datetime", "timespan", "guid", "unknown"}

// String returns the Kusto name of the type ("long", "datetime", ...), the
// spelling Microsoft's analyser uses in result schemas.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType reads a type name with Kusto's aliases (boolean, int64, double,
// date, time, uniqueid), case-sensitively as Kusto does.
func ParseType(s string) (Type, bool) {
	switch s {
	case "bool", "boolean":
		return Bool, true
	case "int":
		return Int, true
	case "long", "int64":
		return Long, true
	case "real", "double":
		return Real, true
	case "decimal":
		return Decimal, true
	case "string":
		return String, true
	case "datetime", "date":
		return DateTime, true
	case "timespan", "time":
		return TimeSpan, true
	case "guid", "uniqueid":
		return Guid, true
	case "dynamic":
		return Dynamic, true
	}
	return 0, false
}

// Numeric reports whether t is int, long, real or decimal.
func (t Type) Numeric() bool { return t == Int || t == Long || t == Real || t == Decimal }

// Value is one KQL scalar. The zero Value is a null dynamic.
//
// Null rules (Kusto): every type but string has a null; a string is never
// null, only empty. Null(String) therefore returns the empty string.
type Value struct {
	T    Type
	Null bool
	I    int64   // bool (0/1), int, long, datetime (Unix ns), timespan (ns)
	F    float64 // real, decimal
	S    string  // string, guid (lower-case canonical text)
	D    any     // dynamic: nil, bool, int64, float64, string, []any, map[string]any
}

// Constructors.

// NullOf returns the null of type t (the empty string for String).
func NullOf(t Type) Value {
	switch t {
	case String:
		return Value{T: String}
	case Unknown:
		return Value{T: Dynamic, Null: true}
	}
	return Value{T: t, Null: true}
}

// NewBool returns a bool.
func NewBool(b bool) Value {
	v := Value{T: Bool}
	if b {
		v.I = 1
	}
	return v
}

// NewInt returns an int (32-bit in Kusto; kept in I).
func NewInt(i int32) Value { return Value{T: Int, I: int64(i)} }

// NewLong returns a long.
func NewLong(i int64) Value { return Value{T: Long, I: i} }

// NewReal returns a real. NaN and infinities are values, not nulls, as in Kusto.
func NewReal(f float64) Value { return Value{T: Real, F: f} }

// NewString returns a string.
func NewString(s string) Value { return Value{T: String, S: s} }

// NewDateTime returns a datetime; the zero time is a null datetime.
func NewDateTime(t time.Time) Value {
	if t.IsZero() {
		return NullOf(DateTime)
	}
	return Value{T: DateTime, I: t.UnixNano()}
}

// NewTimeSpan returns a timespan.
func NewTimeSpan(d time.Duration) Value { return Value{T: TimeSpan, I: int64(d)} }

// NewGuid returns a guid from its text; false when s is not a guid.
func NewGuid(s string) (Value, bool) {
	g, ok := canonicalGuid(s)
	if !ok {
		return NullOf(Guid), false
	}
	return Value{T: Guid, S: g}, true
}

// NewDynamic returns a dynamic from a JSON-like Go value (see the package
// comment). json.Number, int, float32 and the other Go number types are
// normalised; an unknown Go type becomes its fmt text.
func NewDynamic(x any) Value {
	if x == nil {
		return Value{T: Dynamic, Null: true}
	}
	return Value{T: Dynamic, D: normalise(x)}
}

// Accessors.

// Bool returns the bool of a non-null bool.
func (v Value) Bool() bool { return v.I != 0 }

// Time returns a datetime as a UTC time (zero when null).
func (v Value) Time() time.Time {
	if v.Null {
		return time.Time{}
	}
	return time.Unix(0, v.I).UTC()
}

// Duration returns a timespan.
func (v Value) Duration() time.Duration { return time.Duration(v.I) }

// IsNull reports Kusto's isnull(): true for the null of any type. An empty
// string is not null (isempty is the test for it).
func (v Value) IsNull() bool {
	if v.T == Dynamic {
		return v.Null || v.D == nil
	}
	return v.Null
}

// IsEmpty reports Kusto's isempty(): null, or an empty string (also an
// empty dynamic string).
func (v Value) IsEmpty() bool {
	if v.IsNull() {
		return true
	}
	switch v.T {
	case String:
		return v.S == ""
	case Dynamic:
		s, ok := v.D.(string)
		return ok && s == ""
	}
	return false
}

// String renders the value as Kusto's tostring() does: null is "",
// datetimes are ISO 8601 with 7 fractional digits and a Z, timespans
// [-][d.]hh:mm:ss[.fffffff], dynamic values compact JSON (a dynamic string
// is its text, unquoted), reals in the shortest form that reads back.
func (v Value) String() string {
	if v.IsNull() {
		return ""
	}
	switch v.T {
	case Bool:
		if v.I != 0 {
			return "true"
		}
		return "false"
	case Int, Long:
		return strconv.FormatInt(v.I, 10)
	case Real, Decimal:
		return FormatReal(v.F)
	case String, Guid:
		return v.S
	case DateTime:
		return v.Time().Format("2006-01-02T15:04:05.0000000Z")
	case TimeSpan:
		return FormatTimeSpan(time.Duration(v.I))
	case Dynamic:
		if s, ok := v.D.(string); ok {
			return s
		}
		return JSON(v.D)
	}
	return fmt.Sprint(v.D)
}

// FormatReal prints a real as Kusto does: integral values without a
// fraction, NaN and infinities by name.
func FormatReal(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// FormatTimeSpan prints [-][d.]hh:mm:ss[.fffffff].
func FormatTimeSpan(d time.Duration) string {
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		fmt.Fprintf(&b, "%d.", days)
	}
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	d -= s * time.Second
	fmt.Fprintf(&b, "%02d:%02d:%02d", h, m, s)
	if ticks := d / 100; ticks > 0 {
		fmt.Fprintf(&b, ".%07d", ticks)
	}
	return b.String()
}

func canonicalGuid(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}

// Column is one column of a table or a result: its name and type.
type Column struct {
	Name string
	Type Type
}
