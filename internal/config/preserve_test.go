package config

import (
	"strings"
	"testing"
	"time"
)

func TestIncidentContext(t *testing.T) {
	tests := []struct {
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{yaml: "", want: DefaultIncidentContext},
		{yaml: "incidents: {}", want: DefaultIncidentContext},
		{yaml: "incidents: {context: 6h}", want: 6 * time.Hour},
		{yaml: "incidents: {context: 1h}", want: time.Hour},
		{yaml: "incidents: {context: 30d}", want: 30 * 24 * time.Hour},
		{yaml: "incidents: {context: 59m}", wantErr: "incidents.context: must be between 1h and 30d (default 1d)"},
		{yaml: "incidents: {context: 0s}", wantErr: "incidents.context: must be between 1h and 30d"},
		{yaml: "incidents: {context: -1h}", wantErr: "incidents.context: must be between 1h and 30d"},
		{yaml: "incidents: {context: 31d}", wantErr: "incidents.context: must be between 1h and 30d"},
		{yaml: "incidents: {context: a day}", wantErr: "incidents.context: expected a duration"},
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
			if got := cfg.Incidents.ContextWindow(); got != tt.want {
				t.Errorf("context = %s, want %s", got, tt.want)
			}
		})
	}
}
