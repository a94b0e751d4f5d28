package config

import (
	"errors"
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/notify"
	"breakglass/internal/store"
)

// TestNotifyMessages: notify.time_zone and notify.templates reach the
// renderer, and template errors point at the file line of the template's
// own line.
func TestNotifyMessages(t *testing.T) {
	const head = "accounts:\n  - upn: bg1@contoso.com\nnotify:\n"
	for _, tc := range []struct {
		name, yaml string
		wantErr    string // "" for success
		wantLine   int
	}{
		{"unset", "", "", 0},
		{"zone and one-line subject", "  time_zone: America/New_York\n  templates:\n    subject: \"{{.Severity}} {{.Account.Short}}\"\n", "", 0},
		{"README example", "  time_zone: Europe/Oslo\n  templates:\n    short: \"{{.Severity}} {{cut .Title 100}} {{.Account.Short}} {{.UTCClock}}Z {{.NextShort}}\"\n", "", 0},
		{"zone with spaces", "  time_zone: ' UTC '\n", "", 0},
		{"unknown zone", "  time_zone: Europe/Atlantis\n", `unknown time zone "Europe/Atlantis"`, 4},
		{"block template, error on its third line", "  templates:\n    text: |\n      one\n      two\n      {{.Nope}}\n", "notify.templates.text: template line 3: executing", 8},
		{"one-line template, parse error", "  templates:\n    short: '{{'\n", "notify.templates.short: template line 1:", 5},
		{"templates not a mapping", "  templates: [a]\n", "notify.templates: expected a mapping", 4},
		{"template not a string", "  templates:\n    html: {a: b}\n", "notify.templates.html: expected a string", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := head + tc.yaml
			if tc.yaml == "" {
				yaml = "accounts:\n  - upn: bg1@contoso.com\n"
			}
			cfg, err := Parse("c.yaml", []byte(yaml), nil)
			if tc.wantErr != "" {
				var list ErrorList
				if !errors.As(err, &list) || len(list) != 1 {
					t.Fatalf("Parse = %v, want one error", err)
				}
				if !strings.Contains(list[0].Error(), tc.wantErr) || list[0].Line != tc.wantLine {
					t.Fatalf("error %q at line %d, want %q at line %d", list[0], list[0].Line, tc.wantErr, tc.wantLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := cfg.Notify.RenderOptions(func(id string) string { return "https://bg.example/ack/" + id })
			r, err := notify.NewRenderer(o)
			if err != nil {
				t.Fatal(err)
			}
			a := alert.Alert{ID: "a1", Rule: "bg.signin", Title: "Break-glass account sign-in (success)", AccountUPN: "bg1@contoso.com", Result: "success"}
			m, _ := r.Render(notify.Notification{ID: "a1", Status: store.StatusFiring, Alert: a})
			if !strings.Contains(m.Short, "Ack: https://bg.example/ack/a1") {
				t.Errorf("ack link missing: %q", m.Short)
			}
			switch tc.name {
			case "unset":
				if o.TimeZone != nil || strings.Contains(m.Text, "local") {
					t.Errorf("no zone configured, got %v", o.TimeZone)
				}
			case "zone and one-line subject":
				if o.TimeZone == nil || o.TimeZone.String() != "America/New_York" || !strings.Contains(m.Text, "(America/New_York)") {
					t.Errorf("zone %v not shown:\n%s", o.TimeZone, m.Text)
				}
				if m.Subject != "Sev0 bg1@contoso.com" {
					t.Errorf("configured subject not used: %q", m.Subject)
				}
			case "zone with spaces":
				if cfg.Notify.TimeZone != "UTC" {
					t.Errorf("time_zone %q not trimmed", cfg.Notify.TimeZone)
				}
			}
		})
	}
}
