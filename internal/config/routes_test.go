package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
)

// TestRouteLabelsCoverAlerts: every label a stored alert carries can be
// routed on, so validation never rejects a matcher that would work.
func TestRouteLabelsCoverAlerts(t *testing.T) {
	a := alert.Alert{Rule: "bg.signin", Severity: alert.Sev0, Category: "SignInLogs", AccountID: "x",
		Labels: map[string]string{alert.LabelSource: "s", alert.LabelTenant: "t"}}
	for k := range a.StandardLabels() {
		if !slices.Contains(RouteLabels, k) {
			t.Errorf("alerts carry label %q, which RouteLabels lacks", k)
		}
	}
	for _, s := range Severities {
		if !slices.ContainsFunc([]alert.Severity{alert.Sev0, alert.Sev1, alert.Sev2, alert.Sev3, alert.Sev4},
			func(v alert.Severity) bool { return v.String() == s }) {
			t.Errorf("severity %q is not an alert.Severity", s)
		}
	}
}

// TestEscalateAfterFollowed: escalate_after is accepted exactly when some
// route lists another group after the group.
func TestEscalateAfterFollowed(t *testing.T) {
	const head = "accounts:\n  - upn: bg1@contoso.com\nnotify:\n  groups:\n" +
		"    - name: a\n      escalate_after: 5m\n      channels: [{type: console}]\n" +
		"    - name: b\n      channels: [{type: console}]\n"
	for _, tc := range []struct {
		routes string
		ok     bool
	}{
		{"  routes:\n    - groups: [a, b]\n", true},
		{"  routes:\n    - groups: [b, a]\n", false},
		{"  routes:\n    - matchers: ['rule=\"bg.change\"']\n      groups: [a]\n    - groups: [a, b]\n", true},
		{"  routes:\n    - groups: [a]\n", false},
		{"", false},
	} {
		_, err := Parse("c.yaml", []byte(head+tc.routes), nil)
		if (err == nil) != tc.ok {
			t.Errorf("routes %q: err %v, want ok=%v", tc.routes, err, tc.ok)
		}
	}
}

// TestReadmeRoutingExample: the README's routing example is a valid
// configuration (with an accounts: list).
func TestReadmeRoutingExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "### Routing and muting")
	if !ok {
		t.Fatal("README has no routing section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("no yaml block in the routing section")
	}
	cfg, err := Parse("README.md", []byte("accounts:\n  - upn: bg1@contoso.com\n"+block), nil)
	if err != nil {
		t.Fatalf("README routing example does not load:\n%v\n%s", err, block)
	}
	if len(cfg.Notify.Routes) != 2 || cfg.Notify.MuteFor["bg.change"] != 15*time.Minute {
		t.Errorf("README example read as %+v", cfg.Notify)
	}
}
