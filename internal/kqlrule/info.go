package kqlrule

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Info describes a compiled rule for people and programs: `rules list`,
// the API's GET /rules and the dashboard's rules page say the same thing.
type Info struct {
	Name        string   `json:"name"`
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Why         string   `json:"why_scheduled,omitempty"`
	Description string   `json:"description,omitempty"`
	Query       string   `json:"query"`
	Tables      []string `json:"tables"`
	Frequency   string   `json:"frequency,omitempty"`
	Period      string   `json:"period,omitempty"`
	Threshold   string   `json:"threshold"`
	Severity    int      `json:"severity"`
	MuteFor     string   `json:"mute_for,omitempty"`
	AutoResolve bool     `json:"auto_resolve,omitempty"`
	Dimensions  []string `json:"dimensions,omitempty"`
	Violations  string   `json:"violations,omitempty"`
	// Literals are what the prefilter looks for (filter rules); empty:
	// every record of the table is read.
	Literals []string `json:"literals"`
}

// Describe returns r's Info. Durations are written short (5m, 1h).
func Describe(r *Rule) Info {
	c := r.Cfg
	in := Info{Name: c.Name, ID: r.ID, Kind: string(r.Kind), Why: r.Why, Description: c.Description, Query: c.Query,
		Tables: r.Tables, Threshold: "rows > 0", Severity: int(c.Sev()), AutoResolve: c.AutoResolve,
		Dimensions: c.Dimensions, Literals: r.Literals()}
	if in.Tables == nil {
		in.Tables = []string{}
	}
	if in.Literals == nil {
		in.Literals = []string{}
	}
	if t := c.Threshold; t != nil {
		what := "rows"
		if t.Column != "" {
			what = t.Column
		}
		in.Threshold = what + " " + t.Operator + " " + strconv.FormatFloat(t.Value, 'f', -1, 64)
	}
	if r.Kind == KindScheduled {
		in.Frequency, in.Period = ShortDuration(c.Frequency), ShortDuration(c.Period)
		if v := c.Violations; v != nil && (v.Of > 1 || v.Min > 1) {
			in.Violations = fmt.Sprintf("%d of %d", v.Min, v.Of)
		}
	}
	if c.MuteFor > 0 {
		in.MuteFor = ShortDuration(c.MuteFor)
	}
	return in
}

// ShortDuration writes d without Go's zero units: 5m0s is 5m, 1h0m0s 1h.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// LastEvaluated returns the end of the newest window the scheduler has
// evaluated for the scheduled rule id (its state in the store), and when
// that was recorded; both zero when it has never been evaluated. A state
// the scheduler could not read either is an error, not "never": the
// scheduler starts again from now, and the page must not claim a history.
func LastEvaluated(ctx context.Context, st StateStore, id string) (window, at time.Time, err error) {
	c, ok, err := st.Condition(ctx, StateRule, id)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("reading the state of rule %s: %w", id, err)
	}
	if !ok || len(c.Data) == 0 {
		return time.Time{}, time.Time{}, nil
	}
	var s schedState
	if err := json.Unmarshal(c.Data, &s); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("the state of rule %s is unreadable: %w", id, err)
	}
	return s.Last.UTC(), c.Updated.UTC(), nil
}
