package config

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"breakglass/internal/notify"
)

// TestRateLimitsEffective: the limits the dispatcher gets, with and
// without notify.rate_limits, and with kinds left out or off.
func TestRateLimitsEffective(t *testing.T) {
	const head = "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\n"
	for _, tc := range []struct {
		name, yaml string
		want       map[string]notify.RateLimit
	}{
		{"absent", head, map[string]notify.RateLimit{
			"sms": {Count: 1, Per: 5 * time.Minute}, "voice": {Count: 1, Per: 5 * time.Minute}, "email": {Count: 100, Per: time.Hour}}},
		{"partial", head + "notify:\n  rate_limits:\n    email: 10/1d\n", map[string]notify.RateLimit{
			"sms": {Count: 1, Per: 5 * time.Minute}, "voice": {Count: 1, Per: 5 * time.Minute}, "email": {Count: 10, Per: 24 * time.Hour}}},
		{"off", head + "notify:\n  rate_limits:\n    sms: \"off\"\n    voice: \"off\"\n    email: \"off\"\n", map[string]notify.RateLimit{
			"sms": {}, "voice": {}, "email": {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(tc.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Notify.Limits(); !maps.Equal(got, tc.want) {
				t.Errorf("Limits() = %v, want %v", got, tc.want)
			}
		})
	}
	if got, want := DefaultRateLimits(), notify.DefaultRateLimits(); !maps.Equal(got, want) {
		t.Errorf("config defaults %v differ from notify's %v", got, want)
	}
}

// TestReadmeRateLimitsExample: the README's rate-limit example loads and
// means what the text says (sms 1/5m, voice off, email by default).
func TestReadmeRateLimitsExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "### Rate limits: `notify.rate_limits`")
	if !ok {
		t.Fatal("README has no rate-limit section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("no yaml block in the rate-limit section")
	}
	cfg, err := Parse("README.md", []byte("accounts:\n  - upn: bg1@contoso.com\n"+block), nil)
	if err != nil {
		t.Fatalf("README rate-limit example does not load:\n%v\n%s", err, block)
	}
	want := map[string]notify.RateLimit{"sms": {Count: 1, Per: 5 * time.Minute}, "voice": {}, "email": {Count: 100, Per: time.Hour}}
	if got := cfg.Notify.Limits(); !maps.Equal(got, want) {
		t.Errorf("README example read as %v, want %v", got, want)
	}
}
