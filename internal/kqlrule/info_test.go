package kqlrule

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// TestDescribe: a rule's description says how it runs and when it fires,
// as `rules list`, GET /api/v1/rules and the rules page show it.
func TestDescribe(t *testing.T) {
	rules, err := Compile(loadFixture(t, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Info{}
	for _, r := range rules {
		byID[r.ID] = Describe(r)
	}
	tests := []struct {
		id                                    string
		kind, freq, period, threshold, violat string
		sev                                   int
		literal                               string
	}{
		{"kql.bg-signin-id", "filter", "", "", "rows > 0", "", -1, "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"},
		{"kql.Failures.By-App", "scheduled", "10m", "1h", "Failures > 5", "2 of 3", 1, ""},
	}
	for _, tt := range tests {
		in, ok := byID[tt.id]
		if !ok {
			t.Fatalf("no rule %s in %v", tt.id, byID)
		}
		if in.Kind != tt.kind || in.Frequency != tt.freq || in.Period != tt.period || in.Threshold != tt.threshold || in.Violations != tt.violat {
			t.Errorf("%s: %+v", tt.id, in)
		}
		if tt.sev >= 0 && in.Severity != tt.sev {
			t.Errorf("%s: severity %d, want %d", tt.id, in.Severity, tt.sev)
		}
		if in.Query == "" || in.Tables == nil || in.Literals == nil {
			t.Errorf("%s: query, tables or literals missing: %+v", tt.id, in)
		}
		if tt.literal != "" && (len(in.Literals) == 0 || !strings.EqualFold(in.Literals[0], tt.literal)) {
			t.Errorf("%s: literals %v, want %s", tt.id, in.Literals, tt.literal)
		}
	}
	for d, want := range map[time.Duration]string{5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Second: "1m30s", 36 * time.Hour: "36h"} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestLastEvaluated reads the scheduler's own state from a real store:
// never evaluated is zero, a saved window end is returned, and a state
// that cannot be read is an error rather than "never".
func TestLastEvaluated(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, at, err := LastEvaluated(ctx, st, "kql.x")
	if err != nil || !w.IsZero() || !at.IsZero() {
		t.Fatalf("never evaluated: %v %v %v", w, at, err)
	}
	end := time.Date(2026, 12, 1, 3, 10, 0, 0, time.UTC)
	s := NewScheduler(SchedulerOptions{State: st, Now: func() time.Time { return end.Add(3 * time.Second) }})
	if err := s.save(ctx, &Rule{ID: "kql.x"}, &schedState{Last: end}); err != nil {
		t.Fatal(err)
	}
	w, at, err = LastEvaluated(ctx, st, "kql.x")
	if err != nil || !w.Equal(end) || !at.Equal(end.Add(3*time.Second)) {
		t.Errorf("after a save: window %v at %v err %v; want %v at %v", w, at, err, end, end.Add(3*time.Second))
	}
	if err := st.SetCondition(ctx, store.Condition{Rule: StateRule, Key: "kql.bad", Since: end, Updated: end, Data: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LastEvaluated(ctx, st, "kql.bad"); err == nil || !strings.Contains(err.Error(), "kql.bad") {
		t.Errorf("an unreadable state: %v, want an error naming the rule", err)
	}
}
