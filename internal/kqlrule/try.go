package kqlrule

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/value"
)

// Firing is what one rule would raise on records that all arrived now
// (`breakglass rules test`).
type Firing struct {
	Rule       string   `json:"rule"`
	Kind       Kind     `json:"kind"`
	Dimensions []string `json:"dimensions,omitempty"`
	Condition  string   `json:"condition"`
	Count      int      `json:"row_count"`
	// Fires is false for a group that breaches but needs more
	// evaluations (violations.min > 1) to fire; Note says so.
	Fires bool             `json:"fires"`
	Note  string           `json:"note,omitempty"`
	Rows  []map[string]any `json:"rows"`
	cols  []value.Column
	raw   [][]value.Value
}

// Columns and RawRows give a firing's rows in column order (for tables).
func (f *Firing) Columns() []value.Column  { return f.cols }
func (f *Firing) RawRows() [][]value.Value { return f.raw }

// maxTestFirings bounds the firings Test returns per rule: a filter rule
// over a large file fires once per matching record.
const maxTestFirings = 200

// Test evaluates r once over cat, as the first evaluation after every
// record of cat arrived at now: what would fire. A filter rule fires once
// per matching record; a scheduled rule once per group that breaches its
// threshold. more is how many firings were left out past the cap.
func (r *Rule) Test(ctx context.Context, cat eval.Catalog, now time.Time) (out []Firing, more int, err error) {
	res, err := r.run(ctx, cat, now)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", r.ID, err)
	}
	if r.Kind == KindFilter {
		for _, row := range res.Rows {
			if len(out) == maxTestFirings {
				more++
				continue
			}
			out = append(out, firing(r, nil, "a matching record", [][]value.Value{row}, 1, true, ""))
		}
		return out, more, nil
	}
	ordered, _ := groups(r, res.Rows)
	for _, g := range ordered {
		v, ok := measure(r, g.rows)
		if !breaches(r, v, ok) {
			continue
		}
		fires, note := true, ""
		if vi := r.Cfg.Violations; vi != nil && vi.Min > 1 {
			fires = false
			note = fmt.Sprintf("breaches; fires when %d of the last %d evaluations (every %s) breach", vi.Min, vi.Of, shortDur(r.Cfg.Frequency))
		}
		if res.Truncated {
			note = strings.TrimPrefix(note+"; the result was truncated: the count is a lower bound", "; ")
		}
		if len(out) == maxTestFirings {
			more++
			continue
		}
		out = append(out, firing(r, g.dims, condition(r, v), g.rows, len(g.rows), fires, note))
	}
	return out, more, nil
}

func firing(r *Rule, dims []string, cond string, rows [][]value.Value, count int, fires bool, note string) Firing {
	f := Firing{Rule: r.ID, Kind: r.Kind, Dimensions: dims, Condition: cond, Count: count, Fires: fires, Note: note, cols: r.Columns}
	for i, row := range rows {
		if i == MaxAlertRows {
			break
		}
		f.raw = append(f.raw, row)
		m := map[string]any{}
		for j, c := range r.Columns {
			if j < len(row) {
				m[c.Name] = jsonCell(row[j])
			}
		}
		f.Rows = append(f.Rows, m)
	}
	if f.Rows == nil {
		f.Rows = []map[string]any{}
	}
	return f
}

// jsonCell is cellJSON as a Go value for encoding/json.
func jsonCell(v value.Value) any {
	if v.IsNull() && v.T != value.String {
		return nil
	}
	switch v.T {
	case value.Bool:
		return v.I != 0
	case value.Int, value.Long:
		return v.I
	case value.Real, value.Decimal:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return v.String()
		}
		return v.F
	case value.DateTime:
		return v.Time().UTC().Format(time.RFC3339Nano)
	case value.Dynamic:
		return v.D
	}
	return v.String()
}

// shortDur prints a duration without Go's zero units: 10m, 1h, 90s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
