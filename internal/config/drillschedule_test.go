package config

import (
	"testing"
	"time"
)

// TestDrillRemindBeforeDefault: a week, or half a shorter interval (a
// reminder as long as the interval would always be open).
func TestDrillRemindBeforeDefault(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{
		{"", DefaultDrillRemindBefore},
		{"drill: {interval: 10d}\n", 5 * 24 * time.Hour},
		{"audit: {drill_interval: 4d}\n", 2 * 24 * time.Hour},
		{"drill: {interval: 30d, remind_before: 2h}\n", 2 * time.Hour},
	} {
		cfg, err := Parse("cfg.yaml", []byte("accounts:\n  - upn: bg1@contoso.com\n"+tc.yaml), nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if cfg.Drill.RemindBefore != tc.want {
			t.Errorf("%q: remind_before %s, want %s", tc.yaml, cfg.Drill.RemindBefore, tc.want)
		}
	}
}
