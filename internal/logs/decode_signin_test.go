package logs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"breakglass/internal/entra"
)

// decodeAll splits, classifies and decodes every record of input.
func decodeAll(t *testing.T, input []byte) []entra.Event {
	t.Helper()
	recs, errs := collect(t, input)
	if len(errs) > 0 {
		t.Fatalf("split errors: %v", errs[0])
	}
	var out []entra.Event
	for _, r := range recs {
		var ev entra.Event
		if err := Decode(r.Data, Classify(r.Data), &ev); err != nil {
			t.Fatalf("Decode %s: %v", r.Data, err)
		}
		out = append(out, ev)
	}
	return out
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// TestDecodeSignInDetail reads device, authentication and strength in
// every shape that carries them, each as its source writes them.
func TestDecodeSignInDetail(t *testing.T) {
	const dev = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
	const bg = `"userId":"4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b","userPrincipalName":"bg@contoso.com","createdDateTime":"2026-07-18T06:30:12Z","id":"s1"`
	graph := `{` + bg + `,"conditionalAccessStatus":"success","deviceDetail":{"deviceId":"` + dev + `","displayName":"PAW-01","operatingSystem":"Windows 11","browser":"Edge","trustType":"Azure AD joined"},` +
		`"location":{"countryOrRegion":"NO"},"authenticationDetails":[{"authenticationMethod":"Password","succeeded":true},{"authenticationMethod":"FIDO2 security key","authenticationMethodDetail":"YubiKey 5","succeeded":"True","authenticationStepRequirement":"MFA"}],` +
		`"authenticationMethodsUsed":["Password","FIDO"],"appliedConditionalAccessPolicies":[{"displayName":"BG","authenticationStrength":{"authenticationStrengthId":"00000000-0000-0000-0000-000000000004","displayName":"Phishing-resistant MFA","authenticationStrengthResult":"satisfied"}},{"displayName":"other"}]}`
	wantFull := entra.Event{
		Device: entra.Device{Known: true, ID: dev, Name: "PAW-01", OS: "Windows 11", Browser: "Edge", TrustType: "Azure AD joined"},
		Auth: entra.Auth{Known: true, Steps: []entra.AuthStep{{Method: "Password", Succeeded: yes()}, {Method: "FIDO2 security key", Detail: "YubiKey 5", Succeeded: yes(), Requirement: "MFA"}},
			MethodsUsed: []string{"Password", "FIDO"}, StrengthsKnown: true,
			Strengths: []entra.AuthStrength{{Policy: "BG", ID: "00000000-0000-0000-0000-000000000004", Name: "Phishing-resistant MFA", Result: "satisfied"}}},
		Country: "NO", ConditionalAccess: "success",
	}
	laText := func(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }
	cases := []struct {
		name string
		in   string
		want entra.Event
	}{
		{"graph", `{"value":[` + graph + `]}`, wantFull},
		{"eventhub", `{"records":[{"time":"2026-07-18T06:30:12Z","category":"SignInLogs","properties":` + graph + `}]}`, wantFull},
		{"loganalytics dynamic as JSON text", `[{"Type":"SigninLogs","TimeGenerated":"2026-07-18T06:30:12Z","Id":"s1","UserId":"4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b","Location":"NO","ConditionalAccessStatus":"success",` +
			`"DeviceDetail":"{\"deviceId\":\"` + dev + `\",\"displayName\":\"PAW-01\",\"operatingSystem\":\"Windows 11\",\"browser\":\"Edge\",\"trustType\":\"Azure AD joined\"}",` +
			`"AuthenticationDetails":"` + laText(`[{"authenticationMethod":"Password","succeeded":true},{"authenticationMethod":"FIDO2 security key","authenticationMethodDetail":"YubiKey 5","succeeded":true,"authenticationStepRequirement":"MFA"}]`) + `",` +
			`"AuthenticationMethodsUsed":"[\"Password\",\"FIDO\"]","AppliedConditionalAccessPolicies":"[]",` +
			`"ConditionalAccessPolicies":[{"displayName":"BG","authenticationStrength":{"authenticationStrengthId":"00000000-0000-0000-0000-000000000004","displayName":"Phishing-resistant MFA","authenticationStrengthResult":"satisfied"}}]}]`,
			func() entra.Event {
				// The (empty) AppliedConditionalAccessPolicies text column
				// is read first; it lists no strengths.
				w := wantFull
				w.Auth.Strengths = nil
				return w
			}()},
		{"loganalytics mfaDetail", `[{"Type":"SigninLogs","TimeGenerated":"2026-07-18T06:30:12Z","Id":"s1","UserId":"4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b","MfaDetail":{"authMethod":"Windows Hello for Business"}}]`,
			entra.Event{Auth: entra.Auth{Known: true, MethodsUsed: []string{"Windows Hello for Business"}}}},
		{"graph unregistered device", `{` + bg + `,"deviceDetail":{"deviceId":"","operatingSystem":"Windows 10","browser":"Chrome"}}`,
			entra.Event{Device: entra.Device{Known: true, OS: "Windows 10", Browser: "Chrome"}}},
		{"graph v1.0 without details", `{` + bg + `}`, entra.Event{}},
		{"portal download", "Date (UTC),Request ID,User ID,Username,Status,Location,Device ID,Browser,Operating System,Join Type,Multifactor authentication auth method,Conditional Access\n" +
			"2026-07-18T06:30:12Z,s1,4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b,bg@contoso.com,Success,\"Oslo, Oslo, NO\"," + dev + ",Edge,Windows 11,Azure AD joined,FIDO2 security key,Not Applied\n",
			entra.Event{Device: entra.Device{Known: true, ID: dev, OS: "Windows 11", Browser: "Edge", TrustType: "Azure AD joined"},
				Auth: entra.Auth{Known: true, MethodsUsed: []string{"FIDO2 security key"}}, Country: "NO", ConditionalAccess: "Not Applied"}},
		{"defender", "Timestamp,LogonType,ErrorCode,AccountObjectId,AccountUpn,AadDeviceId,DeviceName,OSPlatform,DeviceTrustType,ConditionalAccessStatus,ConditionalAccessPolicies,Country,RequestId\n" +
			`2026-07-18T06:30:12Z,"[""interactiveUser""]",0,4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b,bg@contoso.com,` + dev + `,PAW-01,Windows11,Azure AD joined,2,"[{""displayName"":""BG"",""authenticationStrength"":{""displayName"":""Phishing-resistant MFA"",""authenticationStrengthResult"":""satisfied""}}]",no,s1` + "\n",
			entra.Event{Device: entra.Device{Known: true, ID: dev, Name: "PAW-01", OS: "Windows11", TrustType: "Azure AD joined"},
				Auth: entra.Auth{StrengthsKnown: true, Strengths: []entra.AuthStrength{{Policy: "BG", Name: "Phishing-resistant MFA", Result: "satisfied"}}}, Country: "NO", ConditionalAccess: "2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs := decodeAll(t, []byte(tc.in))
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			ev := evs[0]
			if len(ev.Unreadable) > 0 {
				t.Errorf("unreadable: %q", ev.Unreadable)
			}
			got := entra.Event{Device: ev.Device, Auth: ev.Auth, Country: ev.Country, ConditionalAccess: ev.ConditionalAccess}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestDecodeSignInDetailOdd: a wrong-typed detail is named and costs
// nothing else; the identity is still read.
func TestDecodeSignInDetailOdd(t *testing.T) {
	in := `{"id":"s1","createdDateTime":"2026-07-18T06:30:12Z","userId":"4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b","deviceDetail":"{not json","authenticationDetails":[{"authenticationMethod":7,"succeeded":false}],"appliedConditionalAccessPolicies":42}`
	evs := decodeAll(t, []byte(in))
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.UserID == "" || ev.IdentityUnknown != "" {
		t.Errorf("identity lost: %+v", ev)
	}
	joined := strings.Join(ev.Unreadable, "; ")
	for _, f := range []string{"deviceDetail", "appliedConditionalAccessPolicies"} {
		if !strings.Contains(joined, f) {
			t.Errorf("unreadable %q does not name %s", joined, f)
		}
	}
	if ev.Device.Known || ev.Auth.StrengthsKnown {
		t.Errorf("unreadable fields read as known: %+v %+v", ev.Device, ev.Auth)
	}
	// The number as a method is kept as text; the step says it failed.
	if len(ev.Auth.Steps) != 1 || ev.Auth.Steps[0].Method != "7" || ev.Auth.Steps[0].Succeeded == nil || *ev.Auth.Steps[0].Succeeded {
		t.Errorf("steps %+v", ev.Auth.Steps)
	}
}

// TestDecodeSignInDetailFixtures checks the fields on the real and
// documented samples.
func TestDecodeSignInDetailFixtures(t *testing.T) {
	read := func(name string) []entra.Event {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return decodeAll(t, b)
	}
	beta := read("real/beta-signin-list.example1.response.json")[0]
	if !beta.Device.Known || beta.Device.ID != "" || beta.Device.OS != "Windows 10" {
		t.Errorf("beta sample device %+v: want known, no id (unregistered), Windows 10", beta.Device)
	}
	if !beta.Auth.Known || len(beta.Auth.Steps) != 1 || beta.Auth.Steps[0].Method != "Password" || beta.Auth.Steps[0].Succeeded == nil || *beta.Auth.Steps[0].Succeeded {
		t.Errorf("beta sample auth %+v: want one failed Password step", beta.Auth)
	}
	if !beta.Auth.StrengthsKnown || len(beta.Auth.Strengths) != 0 {
		t.Errorf("beta sample strengths %+v: want known and none", beta.Auth)
	}
	portal := read("categories/portal-signins.csv")[0]
	if !portal.Device.Known || portal.Device.Browser != "Edge 120.0.0" || portal.Country != "NO" {
		t.Errorf("portal download: device %+v country %q", portal.Device, portal.Country)
	}
	def := read("formats/defender-aadsignineventsbeta.csv")[0]
	if def.Country != "NO" || def.ConditionalAccess != "2" {
		t.Errorf("defender row: country %q CA %q", def.Country, def.ConditionalAccess)
	}
}
