package postgres

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// PostgreSQL text cannot hold a NUL byte or invalid UTF-8, which SQLite
// stores as given and a hostile or broken record may carry in any field. An
// alert must never be refused for that, so such strings are stored escaped:
// escapeMark followed by the base64 of the bytes. The mark is a
// noncharacter no log source writes; a string that starts with it is
// escaped too, so the encoding is one-to-one and every string round-trips.
// Equality filters escape their arguments the same way; only the order of
// escaped strings among others differs from byte order.
const escapeMark = "\uffff"

func escapeText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && !strings.HasPrefix(s, escapeMark) {
		return s
	}
	return escapeMark + base64.StdEncoding.EncodeToString([]byte(s))
}

func unescapeText(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, escapeMark)
	if !ok {
		return s, nil
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("escaped text does not decode: %w", err)
	}
	return string(b), nil
}

// text scans a TEXT column into a string, undoing escapeText.
type text string

func (t *text) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
		s = ""
	default:
		return fmt.Errorf("text column holds %T", src)
	}
	u, err := unescapeText(s)
	if err != nil {
		return err
	}
	*t = text(u)
	return nil
}

// escapeArgs escapes every string argument of a query, and every element
// of a []string one (an array parameter). Times and JSON are strings too,
// but valid UTF-8 without NUL, which escapeText leaves alone; JSON passed
// as *string is not escaped.
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = escapeText(v)
		case []string:
			e := make([]string, len(v))
			for j, s := range v {
				e[j] = escapeText(s)
			}
			out[i] = e
		default:
			out[i] = a
		}
	}
	return out
}

// scanner is a row or rows.
type scanner interface{ Scan(dest ...any) error }

// scan is sc.Scan with every *string destination unescaped.
func scan(sc scanner, dest ...any) error {
	for i, d := range dest {
		if p, ok := d.(*string); ok {
			dest[i] = (*text)(p)
		}
	}
	return sc.Scan(dest...)
}
