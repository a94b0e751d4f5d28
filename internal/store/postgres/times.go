package postgres

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// timeLayout is fixed-width so that text order is time order; see
// migrations/0001_init.sql. It is SQLite's layout, so both backends store
// the same text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func encodeTime(field string, t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("%s %s: year outside 0000-9999", field, t)
	}
	return t.Format(timeLayout), nil
}

func decodeTime(field, s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	return t.UTC(), nil
}

// encodeNullTime stores the zero time as NULL, for optional columns.
func encodeNullTime(field string, t time.Time) (sql.NullString, error) {
	if t.IsZero() {
		return sql.NullString{}, nil
	}
	s, err := encodeTime(field, t)
	return sql.NullString{String: s, Valid: err == nil}, err
}

func decodeNullTime(field string, s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return decodeTime(field, s.String)
}

// encodeJSON stores a nil map or slice as NULL and anything else as JSON, so
// nil and empty stay apart and alerts round-trip exactly. json.Marshal
// writes valid UTF-8 and escapes NUL, so the text needs no escaping.
func encodeJSON[T map[string]string | []string](v T) (sql.NullString, error) {
	if v == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(v) // map keys sorted: stable bytes for equal maps
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func decodeJSON[T map[string]string | []string](field string, s sql.NullString, v *T) error {
	if !s.Valid {
		*v = nil
		return nil
	}
	if err := json.Unmarshal([]byte(s.String), v); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// listFilter builds the WHERE clause of a list query (Alerts, Incidents,
// Drills): each filter field that is set adds one condition, whose "$?"
// placeholders are numbered in order; a zero value adds nothing.
type listFilter struct {
	conds []string
	args  []any
	err   error // the first time that could not be encoded
}

// add adds cond, each "$?" in it taking the next of args.
func (c *listFilter) add(cond string, args ...any) {
	for _, a := range args {
		c.args = append(c.args, a)
		cond = strings.Replace(cond, "$?", fmt.Sprintf("$%d", len(c.args)), 1)
	}
	c.conds = append(c.conds, cond)
}

// text adds cond (one "$?") when v is set.
func (c *listFilter) text(cond, v string) {
	if v != "" {
		c.add(cond, v)
	}
}

// time adds cond (one "$?") with t encoded when t is set; field names it in
// the error of a time that cannot be stored.
func (c *listFilter) time(cond, field string, t time.Time) {
	if t.IsZero() || c.err != nil {
		return
	}
	v, err := encodeTime(field, t)
	if err != nil {
		c.err = err
		return
	}
	c.add(cond, v)
}

// next is the placeholder of the next argument, for what follows the
// conditions (LIMIT).
func (c *listFilter) next(v any) string {
	c.args = append(c.args, v)
	return fmt.Sprintf("$%d", len(c.args))
}

// where is the WHERE clause, "" without conditions.
func (c *listFilter) where() string {
	if len(c.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(c.conds, " AND ")
}
