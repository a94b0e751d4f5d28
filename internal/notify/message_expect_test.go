package notify

import (
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/expect"
	"breakglass/internal/store"
)

// expectSample is the sample sign-in alert with its expectations judged
// by internal/expect on a record, as detection does: from an approved
// workstation (all held), or from another device with a password.
func expectSample(approved bool) alert.Alert {
	a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
	e := &entra.Expect{Devices: []string{"3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"}, Networks: map[string][]string{"paw-vlan": {"203.0.113.0/24"}},
		Countries: []string{"NO"}, PhishingResistant: true, ConditionalAccess: expect.CANotApplied}
	ev := &entra.Event{IPAddress: a.IPAddress, Location: a.Location, Country: "NO", ConditionalAccess: "notApplied",
		Device: entra.Device{Known: true, ID: "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", Name: "PAW-01"},
		Auth:   entra.Auth{Known: true, Steps: []entra.AuthStep{{Method: "FIDO2 security key"}}}}
	if !approved {
		ev.Device = entra.Device{Known: true, ID: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", Name: "DESKTOP-7QX"}
		ev.Auth = entra.Auth{Known: true, Steps: []entra.AuthStep{{Method: "Password"}}}
	}
	expect.Apply(&a, expect.Evaluate(e, ev))
	a.Labels = a.StandardLabels()
	return a
}

// TestMessageExpectGolden: a sign-in alert states every verdict, and one
// that broke an expectation says so in the subject, the short form and
// What.
func TestMessageExpectGolden(t *testing.T) {
	r := testRenderer(t, Templates{})
	for _, tc := range []struct {
		name     string
		approved bool
	}{{"held", true}, {"broken", false}} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, r, expectSample(tc.approved), store.StatusFiring)
			base := filepath.Join("testdata", "message", "expect", "bg.signin."+tc.name)
			checkMessageGolden(t, base+".txt", []byte(goldenText(m)))
			checkMessageGolden(t, base+".html", []byte(m.HTML))
			for _, want := range []string{"Approved workstation: ", "Approved network: ", "Approved country: ", "Phishing-resistant sign-in: ", "Expected Conditional Access: "} {
				if !strings.Contains(m.Text, want) {
					t.Errorf("text lacks %q", want)
				}
			}
			broken := strings.Contains(m.Subject, "EXPECTATION BROKEN") && strings.Contains(m.Short, "EXPECTATION BROKEN") &&
				strings.Contains(m.Text, "did NOT meet what is expected") && strings.Contains(m.Text, "BROKEN (device 0b1c2d3e")
			if broken == tc.approved {
				t.Errorf("approved=%v but the message says broken=%v:\n%s", tc.approved, broken, m.Text)
			}
			if tc.approved && (strings.Contains(m.Text, "did NOT meet") || !strings.Contains(m.Text, "It met what is expected")) {
				t.Errorf("the approved sign-in's message must say it met the expectations, never that it did not:\n%s", m.Text)
			}
		})
	}
}
