package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// text accepts any JSON scalar (or a nested value, kept as JSON text) and
// never fails. It is for descriptive fields, where a wrong type must not
// cost us the record.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*t = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	default:
		*t = text(b)
	}
	return nil
}

// ident is a field that identifies something (an object id, a UPN, a record
// id). It never fails: a number or object where a string belongs is kept as
// Bad, so that the rest of the record, and the other identity fields, are
// still read (fail closed), and the decoder names the field. Duplicate keys
// are read the way the classifier reads them: the first value wins, and a
// later value that differs is kept in Dup so that detection can try it too.
type ident struct {
	V   string
	Bad string   // why the value could not be read; "" when it could
	Dup []string // other values of a duplicated key
	set bool
}

func (t *ident) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var v, bad string
	switch {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			bad = "invalid string"
		}
		v = strings.TrimSpace(s)
	default:
		bad = "expected a string, got " + describe(b) + " " + quoteHead(b)
	}
	if !t.set {
		t.V, t.Bad, t.set = v, bad, true
		return nil
	}
	if bad != "" && t.Bad == "" {
		t.Bad = "duplicate key, one value unreadable: " + bad
	}
	if v != "" && v != t.V && !slices.Contains(t.Dup, v) && len(t.Dup) < maxDup {
		t.Dup = append(t.Dup, v)
	}
	return nil
}

// maxDup bounds the values kept of one duplicated key.
const maxDup = 8

// quoteHead quotes at most 64 bytes of a value for an error message.
func quoteHead(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "..."
	}
	return strconv.Quote(string(b))
}

func describe(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	}
	return "number"
}

// flexBool accepts true/false as JSON booleans or as text ("True" in CSV).
type flexBool struct{ V, Set bool }

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`)) {
	case "true", "1":
		*f = flexBool{true, true}
	case "false", "0":
		*f = flexBool{false, true}
	}
	return nil
}

// dyn decodes a Log Analytics dynamic column, which arrives either as JSON or
// as JSON text inside a string (exports of dynamic columns, and columns the
// table types as string). It never fails: what encoding/json could read is
// kept (it reads on past a wrong-typed field), and Bad says what could not
// be read, for the decoder to name.
//
// A duplicated key keeps its first value, like ident; later values are
// kept in Dups for the decoder to check.
type dyn[T any] struct {
	V    T
	OK   bool
	Set  bool // the key was present, even if null
	Bad  string
	Dups []T
}

func (d *dyn[T]) UnmarshalJSON(b []byte) error {
	d.Set = true
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			d.Bad = "invalid string"
			return nil
		}
		b = bytes.TrimSpace([]byte(s))
	}
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		var ute *json.UnmarshalTypeError
		if !errors.As(err, &ute) {
			d.Bad = "invalid JSON text " + quoteHead(b)
			return nil
		}
		// encoding/json has read everything else: keep it.
		d.Bad = typeErr(ute)
	}
	if d.OK {
		if len(d.Dups) < maxDup {
			d.Dups = append(d.Dups, v)
		}
		return nil
	}
	d.V, d.OK = v, true
	return nil
}

func typeErr(ute *json.UnmarshalTypeError) string {
	if ute.Field != "" {
		return fmt.Sprintf("%s: expected %s, got %s", ute.Field, ute.Type, ute.Value)
	}
	return fmt.Sprintf("expected %s, got %s", ute.Type, ute.Value)
}

// Time layouts seen in Entra exports: Graph and diagnostic records use ISO
// 8601 with any number of fractional digits and Z or an offset; Log
// Analytics exports may omit the zone; the portal's CSV export uses a US
// locale form, sometimes with an offset after AM/PM; mail-style pipelines
// write RFC 1123. Epoch numbers are handled separately.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999 Z07:00",
	"2006-01-02 15:04:05.999999999 Z07:00",
	"2006-01-02 15:04:05.999999999 MST",
	"2006-01-02",
	"1/2/2006, 3:04:05.999999999 PM",
	"1/2/2006 3:04:05.999999999 PM",
	"1/2/2006, 15:04:05.999999999",
	"1/2/2006 15:04:05.999999999",
	"1/2/2006, 3:04:05.999999999 PM Z07:00",
	"1/2/2006 3:04:05.999999999 PM Z07:00",
	"1/2/2006 3:04:05.999999999 PM -0700",
	"1/2/2006, 3:04 PM",
	"1/2/2006 3:04 PM",
	time.RFC1123Z,
	time.RFC1123,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700",
	time.RFC850,
	time.ANSIC,
	time.UnixDate,
}

// ParseTime parses an event timestamp in any of the forms Entra exports use,
// including epoch seconds, milliseconds, microseconds or nanoseconds (told
// apart by magnitude, with or without a fraction). Times without a zone are
// UTC, as Log Analytics stores them. No year is implausible: a wrong clock
// is not a reason to drop an alert. Only times that cannot be written as
// RFC 3339 (years outside 0000-9999) are refused.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty timestamp")
	}
	if t, ok := parseEpoch(s); ok {
		return checkYear(t, s)
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return checkYear(t, s)
		}
	}
	// Go rejects a zone name it does not know only in some layouts;
	// "UTC"/"GMT" suffixes and a trailing "Z" after a space are common.
	for _, suf := range []string{" UTC", " GMT", " Z"} {
		if strings.HasSuffix(s, suf) {
			if t, err := ParseTime(strings.TrimSuffix(s, suf)); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %s", quoteHead([]byte(s)))
}

func checkYear(t time.Time, s string) (time.Time, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("timestamp %s is outside years 0000-9999", quoteHead([]byte(s)))
	}
	return t, nil
}

// parseEpoch reads a Unix time in seconds, milliseconds, microseconds or
// nanoseconds; the unit is the one that puts the time nearest the present
// era (a 10-digit number is seconds, 13 digits milliseconds, ...).
func parseEpoch(s string) (time.Time, bool) {
	intPart, frac, _ := strings.Cut(s, ".")
	digits := strings.TrimPrefix(intPart, "-")
	if digits == "" || len(digits) > 19 || strings.TrimLeft(digits, "0123456789") != "" || strings.TrimLeft(frac, "0123456789") != "" {
		return time.Time{}, false
	}
	if strings.HasPrefix(s, ".") || (strings.Contains(s, ".") && frac == "") {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	f, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64) // fraction in units of 1e-9
	if n < 0 {
		f = -f
	}
	abs := n
	if abs < 0 {
		abs = -abs
	}
	switch {
	case abs < 1e11: // seconds (up to year 5138)
		return time.Unix(n, f), true
	case abs < 1e14: // milliseconds
		return time.UnixMilli(n).Add(time.Duration(f / 1e3)), true
	case abs < 1e17: // microseconds
		return time.UnixMicro(n).Add(time.Duration(f / 1e6)), true
	default: // nanoseconds
		return time.Unix(0, n), true
	}
}

// auditResult normalises a result that may be text or Graph's enum number.
func auditResult(t text) string {
	switch s := string(t); s {
	case "0":
		return "success"
	case "1":
		return "failure"
	case "2":
		return "timeout"
	default:
		if _, err := strconv.Atoi(s); err == nil {
			return "unknownFutureValue"
		}
		return s
	}
}
