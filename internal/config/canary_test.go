package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const canaryHead = "accounts: [{id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70, upn: bg1@contoso.com}]\n" +
	"notify:\n  groups:\n    - {name: oncall, channels: [{type: console}, {type: console, name: second}]}\n" +
	"    - {name: test, channels: [{type: console}]}\n"

// TestCanarySettings: defaults, limits and the identity and group rules,
// each error at its line.
func TestCanarySettings(t *testing.T) {
	tests := []struct {
		yaml    string
		want    CanaryConfig
		wantErr string
	}{
		{yaml: "canary: {identity: {upn: c@contoso.com}, group: test}",
			want: CanaryConfig{Identity: CanaryIdentity{UPN: "c@contoso.com"}, Group: "test", Every: DefaultCanaryEvery, Timeout: DefaultCanaryTimeout}},
		{yaml: "canary: {identity: {id: c0ffee00-1111-4222-8333-444455556666}, group: test, every: 1h}",
			want: CanaryConfig{Identity: CanaryIdentity{ID: "c0ffee00-1111-4222-8333-444455556666"}, Group: "test", Every: time.Hour, Timeout: 10 * time.Minute}},
		{yaml: "canary: {identity: {upn: c@contoso.com}, group: test, every: 7d, timeout: 30s}",
			want: CanaryConfig{Identity: CanaryIdentity{UPN: "c@contoso.com"}, Group: "test", Every: 7 * 24 * time.Hour, Timeout: 30 * time.Second}},
		{yaml: "canary: {identity: {upn: bg1@CONTOSO.com}, group: test}", wantErr: "canary.identity.upn: is the break-glass account accounts[0]"},
		{yaml: "canary: {identity: {id: 7D5F3B2A-4c1e-4f6b-9a8d-2e3c4b5a6f70}, group: test}", wantErr: "canary.identity.id: is the break-glass account accounts[0]"},
		{yaml: "canary: {identity: {id: not-a-guid}, group: test}", wantErr: "canary.identity.id: not a GUID"},
		{yaml: "canary: {identity: {upn: c@contoso.com}}", wantErr: "canary.group: required"},
		{yaml: "canary: {identity: {upn: c@contoso.com}, group: managers}", wantErr: `canary.group: no group "managers" (groups: oncall, test)`},
		{yaml: "canary: {identity: {upn: c@contoso.com}, group: test, every: 59m}", wantErr: "canary.every: must be between 1h and 7d"},
		{yaml: "canary: {identity: {upn: c@contoso.com}, group: test, every: 8d}", wantErr: "canary.every: must be between 1h and 7d"},
		{yaml: "canary: {identity: {upn: c@contoso.com}, group: test, timeout: 0s}", wantErr: "canary.timeout: must be at least 30s"},
		{yaml: "canary: {identity: {upn: c@contoso.com}, group: test, every: 1h, timeout: 1h}", wantErr: "canary.timeout: must be shorter than canary.every"},
		{yaml: "canary: [x]", wantErr: "canary: expected"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(canaryHead+tt.yaml+"\n"), nil)
			if tt.wantErr != "" {
				// A flow mapping puts every key on the canary: line.
				if err == nil || !strings.Contains(err.Error(), "t.yaml:6: "+tt.wantErr) {
					t.Fatalf("error = %v, want t.yaml:6: %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Canary == nil || *cfg.Canary != tt.want {
				t.Errorf("canary = %+v, want %+v", cfg.Canary, tt.want)
			}
		})
	}
}

func TestCanaryTargets(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(canaryHead+"canary: {identity: {upn: c@contoso.com}, group: test}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	test, real := cfg.CanaryTargets()
	if !slices.Equal(test, []string{"test/console"}) || !slices.Equal(real, []string{"oncall/console", "oncall/second"}) {
		t.Errorf("CanaryTargets = %v, %v", test, real)
	}
	cfg.Canary = nil
	if test, real := cfg.CanaryTargets(); test != nil || real != nil {
		t.Errorf("without canary: %v, %v", test, real)
	}
}

// TestReadmeCanaryExample: the README's canary: example loads and means
// what it says.
func TestReadmeCanaryExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "### Daily canary: `canary:`")
	if !ok {
		t.Fatal("README has no canary section")
	}
	_, block, _ := strings.Cut(section, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	head := "accounts: [{upn: bg1@contoso.com}]\nnotify:\n  groups:\n    - {name: oncall, channels: [{type: console}]}\n" +
		"    - {name: canary-test, channels: [{type: console}]}\n"
	cfg, err := Parse("README.md", []byte(head+block), nil)
	if err != nil {
		t.Fatalf("README canary example does not load:\n%v\n%s", err, block)
	}
	want := CanaryConfig{Identity: CanaryIdentity{ID: "c0ffee00-1111-4222-8333-444455556666", UPN: "canary@contoso.com"},
		Group: "canary-test", Every: 24 * time.Hour, Timeout: 10 * time.Minute}
	if cfg.Canary == nil || *cfg.Canary != want {
		t.Errorf("README example read as %+v, want %+v", cfg.Canary, want)
	}
}
