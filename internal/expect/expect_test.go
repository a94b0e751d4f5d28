package expect

import (
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

func ptr(b bool) *bool { return &b }

// TestEvaluate covers each kind's held, broken and unknown cases,
// including the record forms the decoders produce.
func TestEvaluate(t *testing.T) {
	const paw = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
	devices := &entra.Expect{Devices: []string{paw}}
	nets := &entra.Expect{Networks: map[string][]string{"paw-vlan": {"203.0.113.0/24", "2001:db8:100::/48"}, "jump": {"198.51.100.7/32"}}}
	countries := &entra.Expect{Countries: []string{"NO", "SE"}}
	pr := &entra.Expect{PhishingResistant: true, Strengths: []string{"BG keys only"}}
	ca := &entra.Expect{ConditionalAccess: CANotApplied}
	step := func(m, d string, ok *bool) entra.Auth {
		return entra.Auth{Known: true, Steps: []entra.AuthStep{{Method: m, Detail: d, Succeeded: ok}}}
	}
	cases := []struct {
		name string
		e    *entra.Expect
		ev   entra.Event
		want Status
		why  string // a substring of the reason
	}{
		{"device approved", devices, entra.Event{Device: entra.Device{Known: true, ID: paw}}, Held, "is an approved workstation"},
		{"device approved, braces and case", devices, entra.Event{Device: entra.Device{Known: true, ID: "{" + strings.ToUpper(paw) + "}"}}, Held, "approved"},
		{"device other", devices, entra.Event{Device: entra.Device{Known: true, ID: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", Name: "LAPTOP-9"}}, Broken, "(LAPTOP-9) is not an approved workstation"},
		{"device unregistered", devices, entra.Event{Device: entra.Device{Known: true, OS: "Windows 10", Browser: "Edge"}}, Broken, "not registered in Entra"},
		{"device missing", devices, entra.Event{}, Unknown, "no device details"},
		{"network v4", nets, entra.Event{IPAddress: "203.0.113.99"}, Held, "in paw-vlan (203.0.113.0/24)"},
		{"network single address", nets, entra.Event{IPAddress: "198.51.100.7"}, Held, "in jump"},
		{"network v6", nets, entra.Event{IPAddress: "2001:db8:100:5::1"}, Held, "2001:db8:100::/48"},
		{"network v4-mapped", nets, entra.Event{IPAddress: "::ffff:203.0.113.5"}, Held, "203.0.113.5 is in paw-vlan"},
		{"network with port", nets, entra.Event{IPAddress: "203.0.113.5:51234"}, Held, "paw-vlan"},
		{"network outside", nets, entra.Event{IPAddress: "198.51.100.8"}, Broken, "not in an approved network (jump, paw-vlan)"},
		{"network unreadable", nets, entra.Event{IPAddress: "not-an-ip"}, Unknown, "cannot be read"},
		{"network missing", nets, entra.Event{}, Unknown, "no IP address"},
		{"country", countries, entra.Event{Country: "no"}, Held, "from NO"},
		{"country from location", countries, entra.Event{Location: "Stockholm, Stockholm, SE"}, Held, "from SE"},
		{"country other", countries, entra.Event{Country: "RU"}, Broken, "RU, not an approved country (NO, SE)"},
		{"country missing", countries, entra.Event{Location: "Oslo"}, Unknown, "no country"},
		{"fido2", pr, entra.Event{Auth: step("FIDO2 security key", "", ptr(true))}, Held, "FIDO2"},
		{"whfb after password", pr, entra.Event{Auth: entra.Auth{Known: true, Steps: []entra.AuthStep{{Method: "Password", Succeeded: ptr(true)}, {Method: "Windows Hello for Business", Succeeded: ptr(true)}}}}, Held, "Windows Hello"},
		{"passkey", pr, entra.Event{Auth: step("Passkey (device-bound)", "", nil)}, Held, "Passkey"},
		{"cba multifactor", pr, entra.Event{Auth: step("X.509 Certificate", "Multifactor authentication", ptr(true))}, Held, "X.509"},
		{"cba single factor", pr, entra.Event{Auth: step("X.509 Certificate", "Single-factor", ptr(true))}, Broken, "X.509 Certificate, which is not"},
		{"methods used FIDO", pr, entra.Event{Auth: entra.Auth{Known: true, MethodsUsed: []string{"Password", "FIDO"}}}, Held, "FIDO"},
		{"password and sms", pr, entra.Event{Auth: entra.Auth{Known: true, Steps: []entra.AuthStep{{Method: "Password", Succeeded: ptr(true)}, {Method: "Text message", Succeeded: ptr(true)}}}}, Broken, "Password, Text message"},
		{"failed password", pr, entra.Event{Auth: step("Password", "", ptr(false))}, Broken, "attempted with Password (failed)"},
		{"failed fido only", pr, entra.Event{Auth: step("FIDO2 security key", "", ptr(false))}, Unknown, "no step succeeded"},
		{"previously satisfied", pr, entra.Event{Auth: step("Previously satisfied", "", ptr(true))}, Unknown, "reused an earlier session"},
		{"builtin strength", pr, entra.Event{Auth: entra.Auth{StrengthsKnown: true, Strengths: []entra.AuthStrength{{ID: PhishingResistantStrengthID, Name: "Phishing-resistant MFA", Result: "satisfied", Policy: "BG"}}}}, Held, "Phishing-resistant MFA (policy BG)"},
		{"custom strength", pr, entra.Event{Auth: entra.Auth{StrengthsKnown: true, Strengths: []entra.AuthStrength{{Name: "bg keys only", Result: "satisfied"}}}}, Held, "bg keys only"},
		{"strength not satisfied", pr, entra.Event{Auth: entra.Auth{StrengthsKnown: true, Strengths: []entra.AuthStrength{{ID: PhishingResistantStrengthID, Result: "cannotSatisfy"}}}}, Unknown, "names no authentication method"},
		{"auth missing", pr, entra.Event{}, Unknown, "no authentication details"},
		{"ca held", ca, entra.Event{ConditionalAccess: "notApplied"}, Held, "was notApplied"},
		{"ca portal spelling", ca, entra.Event{ConditionalAccess: "Not Applied"}, Held, "notApplied"},
		{"ca defender code", ca, entra.Event{ConditionalAccess: "0"}, Broken, "was success, expected notApplied"},
		{"ca odd value", ca, entra.Event{ConditionalAccess: "weird"}, Unknown, `"weird"`},
		{"ca missing", ca, entra.Event{}, Unknown, "no Conditional Access status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := Evaluate(tc.e, &tc.ev)
			if len(vs) != 1 {
				t.Fatalf("verdicts %+v, want one", vs)
			}
			if vs[0].Status != tc.want || !strings.Contains(vs[0].Why, tc.why) {
				t.Errorf("verdict %s, want %s (...%s...)", vs[0], tc.want, tc.why)
			}
		})
	}
}

func TestEvaluateOrderAndNothing(t *testing.T) {
	if vs := Evaluate(nil, &entra.Event{}); vs != nil {
		t.Errorf("nil expect: %+v", vs)
	}
	if vs := Evaluate(&entra.Expect{}, &entra.Event{}); vs != nil {
		t.Errorf("empty expect: %+v", vs)
	}
	e := &entra.Expect{ConditionalAccess: CASuccess, Devices: []string{"x"}, PhishingResistant: true, Countries: []string{"NO"}, Networks: map[string][]string{"n": {"10.0.0.0/8"}}}
	var kinds []string
	for _, v := range Evaluate(e, &entra.Event{}) {
		kinds = append(kinds, v.Kind)
	}
	if got := strings.Join(kinds, ","); got != "device,network,country,phishing_resistant,conditional_access" {
		t.Errorf("order %s", got)
	}
}

func TestApply(t *testing.T) {
	held := Verdict{KindDevice, Held, "device d is an approved workstation"}
	unknown := Verdict{KindCountry, Unknown, "the record has no country"}
	broken := Verdict{KindPhishingResistant, Broken, "authenticated with Password, which is not phishing-resistant"}
	for _, tc := range []struct {
		name  string
		sev   alert.Severity
		vs    []Verdict
		label string
		want  alert.Severity
	}{
		{"held", alert.Sev1, []Verdict{held}, "held", alert.Sev1},
		{"held Sev0 is an expected use", alert.Sev0, []Verdict{held}, "held", alert.Sev1},
		{"unknown keeps Sev0", alert.Sev0, []Verdict{held, unknown}, "unknown", alert.Sev0},
		{"unknown raises nothing", alert.Sev1, []Verdict{held, unknown}, "unknown", alert.Sev1},
		{"broken raises", alert.Sev1, []Verdict{held, unknown, broken}, "broken", alert.Sev0},
		{"broken Sev0 stays", alert.Sev0, []Verdict{broken}, "broken", alert.Sev0},
	} {
		a := alert.Alert{Title: "Break-glass account sign-in (success)", Severity: tc.sev}
		Apply(&a, tc.vs)
		if a.Labels[alert.LabelExpectation] != tc.label || a.Severity != tc.want {
			t.Errorf("%s: label %q severity %v, want %q %v", tc.name, a.Labels[alert.LabelExpectation], a.Severity, tc.label, tc.want)
		}
		for _, v := range tc.vs {
			if a.Annotations[AnnPrefix+v.Kind] != v.String() {
				t.Errorf("%s: annotation %s = %q", tc.name, v.Kind, a.Annotations[AnnPrefix+v.Kind])
			}
		}
		broke, allHeld := tc.label == "broken", tc.label == "held"
		if broke != strings.Contains(a.Title, "EXPECTATION BROKEN: not phishing-resistant") || broke != strings.HasPrefix(a.Annotations[AnnSummary], "broken: ") {
			t.Errorf("%s: title %q summary %q", tc.name, a.Title, a.Annotations[AnnSummary])
		}
		if allHeld != strings.Contains(a.Title, " - expected use, every expectation held") || allHeld != strings.HasPrefix(a.Annotations[AnnSummary], "held: ") {
			t.Errorf("%s: title %q summary %q; want the expected use named only when every expectation held", tc.name, a.Title, a.Annotations[AnnSummary])
		}
	}
	var a alert.Alert
	Apply(&a, nil)
	if a.Labels != nil || a.Annotations != nil {
		t.Errorf("no verdicts changed the alert: %+v", a)
	}
}

// FuzzEvaluate: any record content and any expectation give one verdict
// per configured kind, each with a status and a reason, and never panic.
func FuzzEvaluate(f *testing.F) {
	f.Add("3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "203.0.113.7", "Oslo, NO", "FIDO2 security key", "success", "10.0.0.0/8", "NO")
	f.Add("", "::ffff:1.2.3.4", ",", "Previously satisfied", "2", "1.2.3.4", "")
	f.Fuzz(func(t *testing.T, dev, ip, loc, method, ca, cidr, cc string) {
		e := &entra.Expect{Devices: []string{dev}, Networks: map[string][]string{"n": {cidr}}, Countries: []string{cc},
			PhishingResistant: true, Strengths: []string{method}, ConditionalAccess: CASuccess}
		ev := &entra.Event{Device: entra.Device{Known: dev != "", ID: dev}, IPAddress: ip, Location: loc, ConditionalAccess: ca,
			Auth: entra.Auth{Known: true, Steps: []entra.AuthStep{{Method: method}}, MethodsUsed: []string{method},
				Strengths: []entra.AuthStrength{{Name: method, Result: ca}}}}
		vs := Evaluate(e, ev)
		if len(vs) != 5 {
			t.Fatalf("%d verdicts", len(vs))
		}
		for _, v := range vs {
			if v.Status != Held && v.Status != Broken && v.Status != Unknown || v.Why == "" {
				t.Fatalf("verdict %+v", v)
			}
		}
		var a alert.Alert
		Apply(&a, vs)
		if a.Labels[alert.LabelExpectation] == "" {
			t.Fatal("no label")
		}
	})
}
