package web

import (
	"testing"
	"time"

	"breakglass/internal/drill"
)

// TestCalendar: months laid out Monday first, every day once, and each
// mark on its day (an overdue account on today).
func TestCalendar(t *testing.T) {
	due := time.Date(2027, 1, 20, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		now        time.Time
		months     []string
		lead       []int // empty cells before the 1st, per month
		weeks      []int
		markMonth  int
		markDay    int
		markKind   string
		accountDue *time.Time
		overdue    bool
	}{
		{time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC), []string{"December 2026", "January 2027", "February 2027"}, []int{1, 4, 0}, []int{5, 5, 4}, 1, 20, "due", &due, false},
		{time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), []string{"December 2026", "January 2027", "February 2027"}, []int{1, 4, 0}, []int{5, 5, 4}, 0, 31, "overdue", &due, true},
		{time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC), []string{"February 2027", "March 2027", "April 2027"}, []int{0, 0, 3}, []int{4, 5, 5}, 0, 14, "overdue", nil, true},
	}
	for _, tt := range tests {
		ms := calendar(tt.now, []drillAccount{{AccountStatus: drill.AccountStatus{Due: tt.accountDue, Overdue: tt.overdue}, Label: "bg1"}})
		if len(ms) != len(tt.months) {
			t.Fatalf("%v: %d months", tt.now, len(ms))
		}
		for i, m := range ms {
			if m.Name != tt.months[i] || len(m.Weeks) != tt.weeks[i] {
				t.Errorf("%v: month %d is %s with %d weeks, want %s with %d", tt.now, i, m.Name, len(m.Weeks), tt.months[i], tt.weeks[i])
			}
			lead, days, prev := 0, 0, 0
			for _, w := range m.Weeks {
				if len(w) != 7 {
					t.Errorf("%s: a week of %d days", m.Name, len(w))
				}
				for _, d := range w {
					switch {
					case d.Day == 0 && days == 0:
						lead++
					case d.Day != 0:
						days++
						if d.Day != prev+1 || d.Date.Weekday() != []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}[(lead+d.Day-1)%7] {
							t.Errorf("%s: day %d after %d, on a %s", m.Name, d.Day, prev, d.Date.Weekday())
						}
						prev = d.Day
					}
				}
			}
			if lead != tt.lead[i] {
				t.Errorf("%s: %d empty cells before the 1st, want %d", m.Name, lead, tt.lead[i])
			}
		}
		var marked []calDay
		for _, m := range ms {
			marked = append(marked, m.Marks...)
		}
		if len(marked) != 1 || marked[0].Day != tt.markDay || marked[0].Events[0].Kind != tt.markKind || marked[0].Events[0].Account != "bg1" ||
			ms[tt.markMonth].Marks == nil {
			t.Errorf("%v: marks %+v, want %s on day %d of month %d", tt.now, marked, tt.markKind, tt.markDay, tt.markMonth)
		}
		if tt.markKind == "overdue" && !marked[0].Today {
			t.Errorf("%v: an overdue mark not on today", tt.now)
		}
	}
}
