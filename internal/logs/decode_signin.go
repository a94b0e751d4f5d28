package logs

import (
	"encoding/json"
	"strings"

	"breakglass/internal/entra"
)

// This file reads what a sign-in says about its device and its
// authentication (entra.Event.Device and .Auth), which the expectations of
// break-glass sign-ins (internal/expect) are judged on. Graph objects,
// diagnostic records' properties and Log Analytics rows share one struct:
// encoding/json matches keys case-insensitively, so deviceDetail and
// DeviceDetail are the same field, and dyn reads each as JSON or as JSON
// text. Log Analytics names the applied policies ConditionalAccessPolicies
// (dynamic) besides AppliedConditionalAccessPolicies (text); either is read.
// The admin center download and Defender rows are mapped by column.
//
// None of this is identity: a field that cannot be read is named in
// ev.Unreadable and costs nothing else, and the expectation it feeds is then
// "unknown", never "held".

// signInDetail is embedded in graphSignIn and laRow.
type signInDetail struct {
	DeviceDetail              dyn[deviceDetail] `json:"deviceDetail"`
	AuthenticationDetails     dyn[[]authDetail] `json:"authenticationDetails"`
	AuthenticationMethodsUsed dyn[[]text]       `json:"authenticationMethodsUsed"`
	MfaDetail                 dyn[mfaDetail]    `json:"mfaDetail"`
	AppliedCAPolicies         dyn[[]caPolicy]   `json:"appliedConditionalAccessPolicies"`
	CAPolicies                dyn[[]caPolicy]   `json:"conditionalAccessPolicies"`
}

type deviceDetail struct {
	DeviceID        text `json:"deviceId"`
	DisplayName     text `json:"displayName"`
	OperatingSystem text `json:"operatingSystem"`
	Browser         text `json:"browser"`
	TrustType       text `json:"trustType"`
}

type authDetail struct {
	AuthenticationMethod          text     `json:"authenticationMethod"`
	AuthenticationMethodDetail    text     `json:"authenticationMethodDetail"`
	Succeeded                     flexBool `json:"succeeded"`
	AuthenticationStepRequirement text     `json:"authenticationStepRequirement"`
}

type mfaDetail struct {
	AuthMethod text `json:"authMethod"`
	AuthDetail text `json:"authDetail"`
}

type caPolicy struct {
	DisplayName            text `json:"displayName"`
	AuthenticationStrength *struct {
		ID     text `json:"authenticationStrengthId"`
		Name   text `json:"displayName"`
		Result text `json:"authenticationStrengthResult"`
	} `json:"authenticationStrength"`
}

// maxSteps bounds what one record contributes, as maxTargets does.
const maxSteps = 64

func (s *signInDetail) fill(ev *entra.Event, n notes, prefix string) {
	dynBad(n, prefix+"deviceDetail", s.DeviceDetail, false)
	if s.DeviceDetail.OK {
		d := s.DeviceDetail.V
		ev.Device = entra.Device{ID: strings.TrimSpace(string(d.DeviceID)), Name: string(d.DisplayName),
			OS: string(d.OperatingSystem), Browser: string(d.Browser), TrustType: string(d.TrustType)}
		ev.Device.Known = ev.Device != (entra.Device{})
	}
	a := &ev.Auth
	dynBad(n, prefix+"authenticationDetails", s.AuthenticationDetails, false)
	if s.AuthenticationDetails.Set && s.AuthenticationDetails.Bad == "" {
		a.Known = true
	}
	for i, st := range s.AuthenticationDetails.V {
		if i == maxSteps {
			break
		}
		step := entra.AuthStep{Method: strings.TrimSpace(string(st.AuthenticationMethod)), Detail: string(st.AuthenticationMethodDetail),
			Requirement: string(st.AuthenticationStepRequirement)}
		if st.Succeeded.Set {
			ok := st.Succeeded.V
			step.Succeeded = &ok
		}
		a.Steps = append(a.Steps, step)
	}
	dynBad(n, prefix+"authenticationMethodsUsed", s.AuthenticationMethodsUsed, false)
	if s.AuthenticationMethodsUsed.Set && s.AuthenticationMethodsUsed.Bad == "" {
		a.Known = true
	}
	for i, m := range s.AuthenticationMethodsUsed.V {
		if v := strings.TrimSpace(string(m)); v != "" && i < maxSteps {
			a.MethodsUsed = append(a.MethodsUsed, v)
		}
	}
	dynBad(n, prefix+"mfaDetail", s.MfaDetail, false)
	if m := strings.TrimSpace(string(s.MfaDetail.V.AuthMethod)); s.MfaDetail.OK && m != "" {
		a.Known = true
		a.MethodsUsed = append(a.MethodsUsed, m)
	}
	pols := s.AppliedCAPolicies
	name := prefix + "appliedConditionalAccessPolicies"
	if !pols.OK && s.CAPolicies.Set {
		pols, name = s.CAPolicies, prefix+"conditionalAccessPolicies"
	}
	dynBad(n, name, pols, false)
	if pols.Set && pols.Bad == "" {
		a.StrengthsKnown = true
	}
	a.Strengths = strengths(pols.V)
}

func strengths(pols []caPolicy) []entra.AuthStrength {
	var out []entra.AuthStrength
	for _, p := range pols {
		if s := p.AuthenticationStrength; s != nil && (s.ID != "" || s.Name != "") && len(out) < maxSteps {
			out = append(out, entra.AuthStrength{Policy: string(p.DisplayName), ID: strings.TrimSpace(string(s.ID)),
				Name: strings.TrimSpace(string(s.Name)), Result: strings.TrimSpace(string(s.Result))})
		}
	}
	return out
}

// fillPortalDetail maps the download's device and MFA columns. Empty cells
// are not in the row, so a device described only by browser or operating
// system is known and has no device id (not registered).
func fillPortalDetail(r portalRow, ev *entra.Event) {
	ev.Device = entra.Device{ID: r.get("device id"), OS: r.get("operating system"), Browser: r.get("browser"), TrustType: r.get("join type")}
	ev.Device.Known = ev.Device != (entra.Device{})
	if m := r.get("multifactor authentication auth method"); m != "" {
		ev.Auth = entra.Auth{Known: true, MethodsUsed: []string{m}}
	}
	if ev.Country == "" {
		ev.Country = countryOf(ev.Location)
	}
}

// fillDefenderDetail maps AADSignInEventsBeta's device columns (only
// AadDeviceId is an Entra device id; IdentityLogonEvents has none), its
// ConditionalAccessPolicies (JSON text) and the country.
func fillDefenderDetail(r portalRow, ev *entra.Event, n notes) {
	_, hasID := r["aaddeviceid"]
	if id := r.get("aaddeviceid"); hasID || id != "" {
		ev.Device = entra.Device{Known: true, ID: id, Name: r.get("devicename"), OS: r.get("osplatform"), Browser: r.get("browser"),
			TrustType: r.get("devicetrusttype")}
	}
	if p := strings.TrimSpace(r.get("conditionalaccesspolicies")); p != "" {
		var pols []caPolicy
		if err := json.Unmarshal([]byte(p), &pols); err != nil {
			n.bad("ConditionalAccessPolicies", "invalid JSON text "+quoteHead([]byte(p)))
		} else {
			ev.Auth.StrengthsKnown, ev.Auth.Strengths = true, strengths(pols)
		}
	}
	if ev.Country == "" {
		ev.Country = strings.ToUpper(r.get("country", "countrycode"))
	}
	if ev.Country == "" {
		ev.Country = countryOf(ev.Location)
	}
}

// countryOf reads the two-letter country that ends "City, State, CC" (or is
// all of it).
func countryOf(loc string) string {
	i := strings.LastIndexByte(loc, ',')
	cc := strings.TrimSpace(loc[i+1:])
	if len(cc) == 2 && isLetters(cc) {
		return strings.ToUpper(cc)
	}
	return ""
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
