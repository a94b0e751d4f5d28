package config

import (
	"strings"
	"testing"
	"time"
)

// TestAckConfig: notify.ack's defaults, and that no message about a
// secret ever repeats it (the fixtures cover each error's wording).
func TestAckConfig(t *testing.T) {
	const head = "accounts:\n  - upn: bg1@contoso.com\n"
	const secret = "k8Jd0s-THIS-IS-THE-SECRET-VALUE-qq"
	for _, tc := range []struct {
		name, yaml string
		links      bool
		baseURL    string
		ttl        time.Duration
		wantErr    string
	}{
		{"none", "", false, "", 0, ""},
		{"links on, defaults", "server:\n  listen: 127.0.0.1:9000\nnotify:\n  ack:\n    secret: " + secret + "\n", true, "http://127.0.0.1:9000", DefaultAckTTL, ""},
		{"webhooks only", "notify:\n  ack:\n    pagerduty_secret: " + secret + "\n", false, "http://" + DefaultListen, DefaultAckTTL, ""},
		{"trailing slash and path kept", "notify:\n  ack:\n    base_url: https://bg.example/breakglass/\n    secret: " + secret + "\n    ttl: 90m\n", true, "https://bg.example/breakglass", 90 * time.Minute, ""},
		{"short secret not echoed", "notify:\n  ack:\n    secret: " + secret[:20] + "\n", false, "", 0, "too short"},
		{"opsgenie token with newline not echoed", "notify:\n  ack:\n    opsgenie_token: \"" + secret + "\\n\"\n", false, "", 0, "control character"},
		{"secret from a file", "notify:\n  ack:\n    secret_file: testdata/ack/secret.txt\n", true, "http://" + DefaultListen, DefaultAckTTL, ""},
		{"unreadable file", "notify:\n  ack:\n    secret_file: testdata/ack/missing.txt\n", false, "", 0, "cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(head+tc.yaml), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret[:20]) {
					t.Fatalf("error repeats the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := cfg.Notify.Ack
			if got := a.Links(); got != tc.links {
				t.Errorf("Links() = %v, want %v", got, tc.links)
			}
			if a == nil {
				return
			}
			if tc.name == "secret from a file" && a.Secret.Reveal() != "c2VjcmV0LWZyb20tYS1maWxlLWF0LWxlYXN0LTMyLWJ5dGVzLWxvbmcK" {
				t.Errorf("secret_file not read (trimmed)")
			}
			if a.BaseURL != tc.baseURL || a.TTL != tc.ttl {
				t.Errorf("base_url %q ttl %v, want %q %v", a.BaseURL, a.TTL, tc.baseURL, tc.ttl)
			}
			out, err := cfg.Redacted()
			if err != nil || strings.Contains(string(out), secret) {
				t.Errorf("Redacted shows the secret (%v):\n%s", err, out)
			}
		})
	}
}
