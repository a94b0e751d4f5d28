package notify

import (
	"testing"
	"time"
)

// FuzzParseRetryAfter: any header value parses without panicking; accepted
// delays are positive and capped.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "5", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "99999999999999999999", " 7 "} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := parseRetryAfter(v, now); ok && (d <= 0 || d > maxRetryAfter) {
			t.Fatalf("delay %v for %q", d, v)
		}
	})
}
