package sqlite

import (
	"strings"
	"time"
)

// listFilter builds the WHERE clause of a list query (Alerts, Incidents,
// Drills): each filter field that is set adds one condition and its
// arguments; a zero value adds nothing.
type listFilter struct {
	conds []string
	args  []any
	err   error // the first time that could not be encoded
}

// add adds cond with its arguments.
func (c *listFilter) add(cond string, args ...any) {
	c.conds = append(c.conds, cond)
	c.args = append(c.args, args...)
}

// text adds cond (one "?") when v is set.
func (c *listFilter) text(cond, v string) {
	if v != "" {
		c.add(cond, v)
	}
}

// time adds cond (one "?") with t encoded when t is set; field names it
// in the error of a time that cannot be stored.
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

// where is the WHERE clause, "" without listFilter.
func (c *listFilter) where() string {
	if len(c.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(c.conds, " AND ")
}
