package scan

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/expect"
)

// The expectations of break-glass sign-ins, end to end: records of every
// shape that carries sign-ins go through the real pipeline (split,
// classify, decode, detect), and the same sign-in from an approved and from
// an unapproved workstation gives different verdicts, labels, titles and,
// where the rule's own severity is below Sev0 (bg.risk), severities.

const (
	exBG       = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	exUPN      = "bg-admin1@contoso.onmicrosoft.com"
	exPAW      = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
	exOtherDev = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
)

// exSignIn is one sign-in's facts; each shape writes them its own way.
// Empty fields are left out of the record.
type exSignIn struct {
	device, ip, country, method, ca string
}

var approved = exSignIn{device: exPAW, ip: "203.0.113.7", country: "NO", method: "FIDO2 security key", ca: "success"}

// unapproved breaks the one expectation kind.
func unapproved(kind string) exSignIn {
	s := approved
	switch kind {
	case expect.KindDevice:
		s.device = exOtherDev
	case expect.KindNetwork:
		s.ip = "198.51.100.99"
	case expect.KindCountry:
		s.country = "RU"
	case expect.KindPhishingResistant:
		s.method = "Password"
	case expect.KindConditionalAccess:
		s.ca = "notApplied"
	}
	return s
}

// expectOf configures only the one kind, so each verdict is tested alone.
func expectOf(kind string) *entra.Expect {
	switch kind {
	case expect.KindDevice:
		return &entra.Expect{Devices: []string{exPAW}}
	case expect.KindNetwork:
		return &entra.Expect{Networks: map[string][]string{"paw-vlan": {"203.0.113.0/24"}}}
	case expect.KindCountry:
		return &entra.Expect{Countries: []string{"NO", "SE"}}
	case expect.KindPhishingResistant:
		return &entra.Expect{PhishingResistant: true}
	case expect.KindConditionalAccess:
		return &entra.Expect{ConditionalAccess: expect.CASuccess}
	}
	panic(kind)
}

func jsonField(k, v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(`,%q:%q`, k, v)
}

// graphObj is the Graph signIn object (beta: with authenticationDetails),
// which diagnostic records carry in properties.
func graphObj(s exSignIn, id string) string {
	o := `{"id":"` + id + `","createdDateTime":"2026-07-18T06:30:12Z","userId":"` + exBG + `","userPrincipalName":"` + exUPN + `","appDisplayName":"Azure Portal","status":{"errorCode":0}` +
		jsonField("ipAddress", s.ip) + jsonField("conditionalAccessStatus", s.ca)
	if s.device != "" {
		o += `,"deviceDetail":{"deviceId":"` + s.device + `","displayName":"PAW-01","operatingSystem":"Windows 11"}`
	}
	if s.country != "" {
		o += `,"location":{"city":"X","countryOrRegion":"` + s.country + `"}`
	}
	if s.method != "" {
		o += `,"authenticationDetails":[{"authenticationMethod":"` + s.method + `","succeeded":true,"authenticationStepRequirement":"Primary authentication"}]`
	}
	return o + "}"
}

// exShapes write a sign-in as each export does; has says which kinds the
// shape can carry at all (the others must be unknown).
var exShapes = []struct {
	name  string
	write func(s exSignIn) string
	lacks []string
}{
	{"graph-beta-page", func(s exSignIn) string {
		return `{"value":[` + graphObj(s, "a1b2c3d4-0000-4000-8000-00000000e001") + `]}`
	}, nil},
	{"eventhub", func(s exSignIn) string {
		return `{"records":[{"time":"2026-07-18T06:30:12Z","category":"SignInLogs","operationName":"Sign-in activity","properties":` + graphObj(s, "a1b2c3d4-0000-4000-8000-00000000e002") + `}]}`
	}, nil},
	{"pt1h-properties-json-text", func(s exSignIn) string {
		return `{"time":"2026-07-18T06:30:12Z","category":"NonInteractiveUserSignInLogs","properties":` + fmt.Sprintf("%q", graphObj(s, "a1b2c3d4-0000-4000-8000-00000000e003")) + "}\n"
	}, nil},
	{"loganalytics-json", func(s exSignIn) string {
		r := `[{"Type":"SigninLogs","TimeGenerated":"2026-07-18T06:30:12Z","Id":"a1b2c3d4-0000-4000-8000-00000000e004","UserId":"` + exBG + `","UserPrincipalName":"` + exUPN + `","ResultType":"0"` +
			jsonField("IPAddress", s.ip) + jsonField("ConditionalAccessStatus", s.ca) + jsonField("Location", s.country)
		if s.device != "" {
			r += `,"DeviceDetail":{"deviceId":"` + s.device + `","operatingSystem":"Windows 11"}`
		}
		if s.method != "" {
			// AuthenticationDetails is a string column: JSON text.
			r += `,"AuthenticationDetails":"[{\"authenticationMethod\":\"` + s.method + `\",\"succeeded\":true}]"`
		}
		return r + "}]"
	}, nil},
	{"loganalytics-query-api", func(s exSignIn) string {
		// The query API answers dynamic columns as JSON text.
		cols := []string{"TimeGenerated", "Id", "UserId", "UserPrincipalName", "ResultType", "IPAddress", "Location", "ConditionalAccessStatus", "DeviceDetail", "AuthenticationDetails", "Type"}
		dev, auth := "", ""
		if s.device != "" {
			dev = `{"deviceId":"` + s.device + `"}`
		}
		if s.method != "" {
			auth = `[{"authenticationMethod":"` + s.method + `","succeeded":true}]`
		}
		vals := []string{"2026-07-18T06:30:12.1234567Z", "a1b2c3d4-0000-4000-8000-00000000e007", exBG, exUPN, "0", s.ip, s.country, s.ca, dev, auth, "SigninLogs"}
		var c, r []string
		for i, name := range cols {
			c = append(c, `{"name":"`+name+`","type":"string"}`)
			r = append(r, fmt.Sprintf("%q", vals[i]))
		}
		return `{"tables":[{"name":"PrimaryResult","columns":[` + strings.Join(c, ",") + `],"rows":[[` + strings.Join(r, ",") + `]]}]}`
	}, nil},
	{"adfs-loganalytics", func(s exSignIn) string {
		r := `[{"Type":"ADFSSignInLogs","Category":"ADFSSignInLogs","OperationName":"Sign-in activity","TimeGenerated":"2026-07-18T06:30:12Z","Id":"a1b2c3d4-0000-4000-8000-00000000e008","UserId":"` + exBG + `","UserPrincipalName":"` + exUPN + `","ResultType":"0","TokenIssuerType":"ADFederationServices"` +
			jsonField("IPAddress", s.ip) + jsonField("ConditionalAccessStatus", s.ca) + jsonField("Location", s.country)
		if s.device != "" {
			r += `,"DeviceDetail":"{\"deviceId\":\"` + s.device + `\"}"`
		}
		if s.method != "" {
			r += `,"AuthenticationDetails":"[{\"authenticationMethod\":\"` + s.method + `\",\"succeeded\":true}]"`
		}
		return r + "}]"
	}, nil},
	{"portal-download-csv", func(s exSignIn) string {
		loc := ""
		if s.country != "" {
			loc = "Oslo, Oslo, " + s.country
		}
		ca := map[string]string{"success": "Success", "notApplied": "Not Applied"}[s.ca]
		return "Date (UTC),Request ID,User ID,Username,Status,IP address,Location,Device ID,Browser,Multifactor authentication auth method,Conditional Access\n" +
			"2026-07-18T06:30:12Z,a1b2c3d4-0000-4000-8000-00000000e005," + exBG + "," + exUPN + ",Success," + s.ip + "," + csvQuote(loc) + "," + s.device + ",Edge 120.0.0," + s.method + "," + ca + "\n"
	}, nil},
	{"defender-aadsignineventsbeta-csv", func(s exSignIn) string {
		ca := map[string]string{"success": "0", "notApplied": "2"}[s.ca]
		return "Timestamp,Application,LogonType,ErrorCode,AccountObjectId,AccountUpn,AadDeviceId,DeviceName,ConditionalAccessStatus,IPAddress,Country,RequestId,ReportId\n" +
			"2026-07-18T06:30:12Z,Azure Portal,\"[\"\"interactiveUser\"\"]\",0," + exBG + "," + exUPN + "," + s.device + ",PAW-01," + ca + "," + s.ip + "," + s.country + ",a1b2c3d4-0000-4000-8000-00000000e006,r-e006\n"
	}, []string{expect.KindPhishingResistant}}, // Defender rows carry no authentication methods
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func exScan(t *testing.T, e *entra.Expect, in string) []alert.Alert {
	t.Helper()
	accts := entra.NewAccountSet([]entra.Account{{ID: exBG, UPN: exUPN, Expect: e}})
	var got []alert.Alert
	var st Stats
	err := New(Options{Accounts: accts}).Scan(context.Background(), "in", strings.NewReader(in), &st, func(fd Finding) error {
		got = append(got, fd.Alert)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var exKinds = []string{expect.KindDevice, expect.KindNetwork, expect.KindCountry, expect.KindPhishingResistant, expect.KindConditionalAccess}

func TestExpectationsApprovedVersusUnapproved(t *testing.T) {
	for _, sh := range exShapes {
		for _, kind := range exKinds {
			t.Run(sh.name+"/"+kind, func(t *testing.T) {
				lacks := false
				for _, l := range sh.lacks {
					lacks = lacks || l == kind
				}
				ok := exScan(t, expectOf(kind), sh.write(approved))
				bad := exScan(t, expectOf(kind), sh.write(unapproved(kind)))
				if len(ok) != 1 || len(bad) != 1 {
					t.Fatalf("alerts: %d approved, %d unapproved, want 1 each", len(ok), len(bad))
				}
				a, b := ok[0], bad[0]
				if a.Rule != "bg.signin" || b.Rule != "bg.signin" {
					t.Fatalf("rules %s, %s", a.Rule, b.Rule)
				}
				va, vb := a.Annotations[expect.AnnPrefix+kind], b.Annotations[expect.AnnPrefix+kind]
				t.Logf("approved: %s | unapproved: %s", va, vb)
				if lacks {
					for _, v := range []string{va, vb} {
						if !strings.HasPrefix(v, "unknown (") {
							t.Errorf("%s cannot carry %s: verdict %q, want unknown", sh.name, kind, v)
						}
					}
					if a.Labels[alert.LabelExpectation] != "unknown" {
						t.Errorf("label = %q, want unknown", a.Labels[alert.LabelExpectation])
					}
					return
				}
				if !strings.HasPrefix(va, "held (") {
					t.Errorf("approved verdict = %q, want held", va)
				}
				if !strings.HasPrefix(vb, "broken (") {
					t.Errorf("unapproved verdict = %q, want broken", vb)
				}
				if a.Labels[alert.LabelExpectation] != "held" || b.Labels[alert.LabelExpectation] != "broken" {
					t.Errorf("labels %q, %q; want held, broken", a.Labels[alert.LabelExpectation], b.Labels[alert.LabelExpectation])
				}
				if strings.Contains(a.Title, "EXPECTATION BROKEN") || !strings.Contains(b.Title, "EXPECTATION BROKEN") {
					t.Errorf("titles %q, %q: only the unapproved one must say the expectation broke", a.Title, b.Title)
				}
				if !strings.HasPrefix(b.Annotations[expect.AnnSummary], "broken: ") || !strings.HasPrefix(a.Annotations[expect.AnnSummary], "held: ") {
					t.Errorf("summary %q / %q: want held on the approved, broken on the unapproved alert", a.Annotations[expect.AnnSummary], b.Annotations[expect.AnnSummary])
				}
				// Different verdicts, different severities: the approved
				// sign-in is an expected use (Sev1), the unapproved one
				// stays Sev0 and says why.
				if a.Severity != alert.Sev1 || b.Severity != alert.Sev0 {
					t.Errorf("severities %v, %v; want Sev1 for the approved sign-in, Sev0 for the unapproved one", a.Severity, b.Severity)
				}
			})
		}
	}
}

// TestExpectationsUnknownWhenMissing: the same sign-in without the field
// is unknown, never held.
func TestExpectationsUnknownWhenMissing(t *testing.T) {
	for _, kind := range exKinds {
		s := approved
		switch kind {
		case expect.KindDevice:
			s.device = ""
		case expect.KindNetwork:
			s.ip = ""
		case expect.KindCountry:
			s.country = ""
		case expect.KindPhishingResistant:
			s.method = ""
		case expect.KindConditionalAccess:
			s.ca = ""
		}
		for _, sh := range exShapes[:4] {
			got := exScan(t, expectOf(kind), sh.write(s))
			if len(got) != 1 {
				t.Fatalf("%s/%s: %d alerts", sh.name, kind, len(got))
			}
			v := got[0].Annotations[expect.AnnPrefix+kind]
			if !strings.HasPrefix(v, "unknown (") || got[0].Labels[alert.LabelExpectation] != "unknown" {
				t.Errorf("%s/%s without the field: verdict %q, label %q; want unknown", sh.name, kind, v, got[0].Labels[alert.LabelExpectation])
			}
		}
	}
}

// TestExpectationsRaiseRiskSeverity: a risk detection (bg.risk, Sev1)
// carries the sign-in's IP address and country; from an unapproved network
// it is raised to Sev0 and says why, from an approved one it stays Sev1.
func TestExpectationsRaiseRiskSeverity(t *testing.T) {
	risk := func(ip, cc string) string {
		return `{"value":[{"id":"r-` + ip + `","riskEventType":"unfamiliarFeatures","riskState":"atRisk","riskLevel":"high","activity":"signin","ipAddress":"` + ip +
			`","location":{"city":"X","countryOrRegion":"` + cc + `"},"activityDateTime":"2026-07-17T10:07:37Z","detectedDateTime":"2026-07-17T10:07:37Z","userId":"` + exBG + `","userPrincipalName":"` + exUPN + `"}]}`
	}
	e := &entra.Expect{Networks: map[string][]string{"paw-vlan": {"203.0.113.0/24"}}, Countries: []string{"NO"}}
	cases := []struct {
		name, ip, cc string
		sev          alert.Severity
		label        string
	}{
		{"approved", "203.0.113.7", "NO", alert.Sev1, "held"},
		{"unapproved network", "198.51.100.99", "NO", alert.Sev0, "broken"},
		{"unapproved country", "203.0.113.7", "RU", alert.Sev0, "broken"},
	}
	for _, tc := range cases {
		got := exScan(t, e, risk(tc.ip, tc.cc))
		if len(got) != 1 || got[0].Rule != "bg.risk" {
			t.Fatalf("%s: alerts %+v, want one bg.risk", tc.name, got)
		}
		a := got[0]
		if a.Severity != tc.sev || a.Labels[alert.LabelExpectation] != tc.label {
			t.Errorf("%s: severity %v label %q, want %v %q (title %q)", tc.name, a.Severity, a.Labels[alert.LabelExpectation], tc.sev, tc.label, a.Title)
		}
		if tc.label == "broken" && !strings.Contains(a.Title, "EXPECTATION BROKEN") {
			t.Errorf("%s: title %q does not say why it was raised", tc.name, a.Title)
		}
	}
}
