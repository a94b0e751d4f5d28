package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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
// id). It must be a string or null: a number or object there means the record
// is not what it claims to be, and it is rejected rather than misread.
type ident string

func (t *ident) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*t = ""
		return nil
	}
	if len(b) == 0 || b[0] != '"' {
		// An UnmarshalTypeError gets the field path added by encoding/json.
		return &json.UnmarshalTypeError{Value: describe(b), Type: reflect.TypeFor[string]()}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = ident(strings.TrimSpace(s))
	return nil
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
// table types as string). Undecodable content is ignored: it is descriptive.
type dyn[T any] struct {
	V  T
	OK bool
}

func (d *dyn[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil
		}
		b = bytes.TrimSpace([]byte(s))
	}
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		// A wrong-typed identity inside is rejected, as at top level.
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return err
		}
		return nil
	}
	d.V, d.OK = v, true
	return nil
}

// Time layouts seen in Entra exports: Graph and diagnostic records use ISO
// 8601 with 0–7 fractional digits and Z or an offset; Log Analytics exports
// may omit the zone; the portal's CSV export uses a US locale form.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"1/2/2006, 3:04:05.999999999 PM",
	"1/2/2006 3:04:05.999999999 PM",
	"1/2/2006, 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
}

// ParseTime parses an event timestamp in any of the forms Entra exports use.
// Times without a zone are UTC, as Log Analytics stores them.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty timestamp")
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			// Entra has no events before 2000 or after 9999; such a time
			// is a corrupt field, not an event time.
			if y := t.UTC().Year(); y < 2000 || y > 9999 {
				return time.Time{}, fmt.Errorf("implausible timestamp %q", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", s)
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
