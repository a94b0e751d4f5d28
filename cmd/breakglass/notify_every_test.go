package main

import (
	"regexp"
	"strings"
	"testing"

	"breakglass/internal/simulate"
)

// TestNotifyTestEveryChannel: `notify test` through a group with one
// channel of every type (the e2e harness's "all": email, SMS through
// Twilio and a gateway, voice, ntfy, Pushover, Teams, Slack, PagerDuty,
// Opsgenie, both webhook schemas, exec, console), each at its loopback
// receiver: every channel reports ok, every receiver gets exactly one
// request, and each channel whose API has an idempotency key carries the
// test notification's key (the test id on that channel where breakglass
// owns the key, the test id itself for PagerDuty and Opsgenie).
func TestNotifyTestEveryChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	rs := newReceivers(t)
	d := newNotifyDaemon(t, rs, simulate.DemoAccounts())
	r := runBinary(t, append(notifyEnv(d), "BREAKGLASS_CONFIG="), "notify", "test", "-c", d.cfg, "--group", "all")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`(?m)^test notification (test-\S+) to group all$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no header naming the notification:\n%s", r.stdout)
	}
	id := m[1]
	for _, name := range channelNames {
		if !regexp.MustCompile(`(?m)^all/` + regexp.QuoteMeta(name) + ` +\S+ +ok `).MatchString(r.stdout) {
			t.Errorf("%s: no ok row in:\n%s", name, r.stdout)
		}
		if name == "console" {
			if !strings.Contains(r.stderr, "TEST: breakglass test notification") {
				t.Errorf("console: no test line on stderr:\n%s", r.stderr)
			}
			continue
		}
		reqs := rs.requests(t, name)
		if len(reqs) != 1 {
			t.Errorf("%s: %d requests, want 1", name, len(reqs))
			continue
		}
		want, ok := keyed[name]
		if name == "webhook-common" {
			// A test notification carries no tenant label, so its alertId
			// has no /tenants/<tenant> prefix.
			want = func(id string) string { return "/providers/breakglass/alerts/" + id + " Fired" }
		}
		if ok && reqs[0].Key != want(id) {
			t.Errorf("%s: idempotency key %q, want %q", name, reqs[0].Key, want(id))
		}
	}
	if strings.Contains(r.stdout+r.stderr, "e2eS3cretValue0099") {
		t.Errorf("a channel's secret reached the output:\n%s%s", r.stdout, r.stderr)
	}
}
