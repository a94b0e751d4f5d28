package config

import (
	"strings"
	"testing"
	"time"
)

var defaultIncidents = IncidentsConfig{Gap: DefaultIncidentGap, Retention: DefaultIncidentRetention}

func TestIncidentSettings(t *testing.T) {
	tests := []struct {
		yaml    string
		want    IncidentsConfig
		wantErr string
	}{
		{yaml: "", want: defaultIncidents},
		{yaml: "incidents: {}", want: defaultIncidents},
		{yaml: "incidents: {gap: 30m, retention: 730d}", want: IncidentsConfig{Gap: 30 * time.Minute, Retention: 730 * 24 * time.Hour}},
		{yaml: "incidents: {gap: 1m, retention: 30d}", want: IncidentsConfig{Gap: time.Minute, Retention: 30 * 24 * time.Hour}},
		{yaml: "incidents: {gap: 7d}", want: IncidentsConfig{Gap: 7 * 24 * time.Hour, Retention: DefaultIncidentRetention}},
		{yaml: "incidents: {gap: 0s}", wantErr: "incidents.gap: must be between 1m and 7d (default 2h)"},
		{yaml: "incidents: {gap: -2h}", wantErr: "incidents.gap: must be between 1m and 7d"},
		{yaml: "incidents: {gap: 59s}", wantErr: "incidents.gap: must be between 1m and 7d"},
		{yaml: "incidents: {gap: 8d}", wantErr: "incidents.gap: must be between 1m and 7d"},
		{yaml: "incidents: {gap: soon}", wantErr: "incidents.gap: expected a duration"},
		{yaml: "incidents: {retention: 29d}", wantErr: "incidents.retention: must be at least 30d"},
		{yaml: "incidents: {retention: 0s}", wantErr: "incidents.retention: must be at least 30d"},
		{yaml: "incidents: {retention: 1y}", wantErr: "incidents.retention: expected a duration"},
		{yaml: "incidents: {gaps: 2h}", wantErr: "incidents.gaps: unknown"},
		{yaml: "incidents: [gap]", wantErr: "incidents: expected"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte("accounts: [{upn: a@b.c}]\n"+tt.yaml+"\n"), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "t.yaml:2: "+tt.wantErr) {
					t.Fatalf("error = %v, want t.yaml:2: %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Incidents != tt.want {
				t.Errorf("incidents = %+v, want %+v", cfg.Incidents, tt.want)
			}
		})
	}
}

// TestIncidentErrorsTogether: both fields wrong are both reported, each on
// its own line.
func TestIncidentErrorsTogether(t *testing.T) {
	_, err := Parse("t.yaml", []byte("accounts: [{upn: a@b.c}]\nincidents:\n  gap: 1s\n  retention: 1d\n"), nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"t.yaml:3: incidents.gap:", "t.yaml:4: incidents.retention:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
