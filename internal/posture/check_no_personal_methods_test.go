package posture

import (
	"testing"
	"time"

	"breakglass/internal/graph/collect"
)

func TestNoPersonalMethods(t *testing.T) {
	const id = "no-personal-methods"
	addMethod := func(m AuthMethod) func(*Tenant) {
		return func(t *Tenant) { t.AuthMethods[hBG1] = append(t.AuthMethods[hBG1], m) }
	}
	tap := func(usable *bool, start time.Time, minutes int) func(*Tenant) {
		m := AuthMethod{Type: "temporaryAccessPassAuthenticationMethod", ID: "tap", IsUsable: usable, LifetimeInMinutes: minutes}
		if !start.IsZero() {
			m.StartDateTime = tptr(start)
		}
		return addMethod(m)
	}
	runHandCases(t, id, Options{}, []handCase{
		{name: "compliant", account: hBG1, want: StatusPass},
		{name: "compliant second account", account: hBG2, want: StatusPass},
		{name: "sms phone", account: hBG1, want: StatusFail, contains: "phone (SMS/voice)",
			mutate: addMethod(AuthMethod{Type: "phoneAuthenticationMethod", PhoneNumber: "+1 5555550100", PhoneType: "mobile"})},
		{name: "email", account: hBG1, want: StatusFail, contains: "email",
			mutate: addMethod(AuthMethod{Type: "emailAuthenticationMethod", Email: "someone@example.com"})},
		{name: "authenticator", account: hBG1, want: StatusFail, contains: "Microsoft Authenticator",
			mutate: addMethod(AuthMethod{Type: "microsoftAuthenticatorAuthenticationMethod", DisplayName: "Pixel 8"})},
		{name: "software oath", account: hBG1, want: StatusFail, contains: "software OATH",
			mutate: addMethod(AuthMethod{Type: "softwareOathAuthenticationMethod"})},
		{name: "usable TAP", account: hBG1, want: StatusFail, contains: "isUsable is true", mutate: tap(bptr(true), hTime.Add(-time.Hour), 60)},
		{name: "TAP window open", account: hBG1, want: StatusFail, contains: "valid until", mutate: tap(nil, hTime.Add(-time.Hour), 120)},
		{name: "TAP starts in the future", account: hBG1, want: StatusFail, contains: "valid until", mutate: tap(bptr(false), hTime.Add(24*time.Hour), 60)},
		{name: "TAP expired", account: hBG1, want: StatusPass, mutate: tap(bptr(false), hTime.Add(-48*time.Hour), 60)},
		{name: "TAP of unknown validity", account: hBG1, want: StatusFail, contains: "cannot be computed", mutate: tap(nil, time.Time{}, 0)},
		{name: "sspr registered", account: hBG1, want: StatusFail, contains: "self-service password reset",
			mutate: func(t *Tenant) { t.Registration[hBG1].IsSsprRegistered = bptr(true) }},
		{name: "registered mobile phone", account: hBG1, want: StatusFail, contains: "mobile phone",
			mutate: func(t *Tenant) {
				t.Registration[hBG1].MethodsRegistered = []string{"passKeyDeviceBound", "mobilePhone"}
			}},
		{name: "security questions", account: hBG1, want: StatusFail, contains: "security questions",
			mutate: func(t *Tenant) { t.Registration[hBG1].MethodsRegistered = []string{"securityQuestion"} }},
		{name: "passkey in authenticator warns", account: hBG1, want: StatusWarn, contains: "Microsoft Authenticator (iOS)",
			mutate: addMethod(AuthMethod{Type: "fido2AuthenticationMethod", AAGUID: "90A3CCDF-635C-4729-A248-9B709135078F"})},
		{name: "windows hello warns", account: hBG1, want: StatusWarn, contains: "Windows Hello",
			mutate: addMethod(AuthMethod{Type: "windowsHelloForBusinessAuthenticationMethod", DisplayName: "PAW-01"})},
		{name: "mobilePhone on the user warns", account: hBG1, want: StatusWarn, contains: "mobilePhone",
			mutate: func(t *Tenant) { t.Users[hBG1].MobilePhone = sptr("+1 5555550100") }},
		{name: "methods refused", account: hBG1, want: StatusSkip, contains: "authentication methods",
			mutate: func(t *Tenant) {
				delete(t.AuthMethods, hBG1)
				drop(t, collect.ReasonPermission, collect.KeyedName(collect.DatasetAuthMethods, hBG1))
			}},
		{name: "methods refused, registration shows a phone", account: hBG1, want: StatusFail, contains: "mobile phone",
			mutate: func(t *Tenant) {
				delete(t.AuthMethods, hBG1)
				drop(t, collect.ReasonPermission, collect.KeyedName(collect.DatasetAuthMethods, hBG1))
				t.Registration[hBG1].MethodsRegistered = []string{"mobilePhone"}
			}},
		{name: "registration unlicensed", account: hBG2, want: StatusSkip, contains: "needs a licence",
			mutate: func(t *Tenant) {
				t.Registration = map[string]*RegistrationDetails{}
				drop(t, collect.ReasonLicence, collect.DatasetUserRegistrationDetails)
			}},
		{name: "no registration entry", account: hBG2, want: StatusSkip, contains: "no entry",
			mutate: func(t *Tenant) { delete(t.Registration, hBG2) }},
		{name: "unreadable method", account: hBG1, want: StatusSkip, contains: "could not be read",
			mutate: addMethod(AuthMethod{Type: "phoneAuthenticationMethod", Invalid: true})},
		{name: "unreadable registration field", account: hBG1, want: StatusSkip, contains: "isSsprRegistered unreadable",
			mutate: func(t *Tenant) {
				t.Registration[hBG1].IsSsprRegistered = nil
				t.Registration[hBG1].Invalid = map[string]string{"isSsprRegistered": "want a boolean, got string \"no\""}
			}},
		{name: "unresolved account is skipped (the accounts check errors)", account: "", want: StatusSkip,
			mutate: func(t *Tenant) {
				t.Accounts = append(t.Accounts, AccountInfo{Entry: "accounts[2] id x", Reason: "not found"})
			}},
	})
}

func TestTAPUsable(t *testing.T) {
	now := hTime
	for _, tc := range []struct {
		name string
		m    AuthMethod
		want bool
	}{
		{"usable", AuthMethod{IsUsable: bptr(true)}, true},
		{"not usable, no window", AuthMethod{IsUsable: bptr(false)}, false},
		{"ends exactly now", AuthMethod{StartDateTime: tptr(now.Add(-time.Hour)), LifetimeInMinutes: 60}, false},
		{"ends a minute from now", AuthMethod{StartDateTime: tptr(now.Add(-time.Hour)), LifetimeInMinutes: 61}, true},
		{"negative lifetime, unknown usability", AuthMethod{StartDateTime: tptr(now), LifetimeInMinutes: -5}, true},
	} {
		if got, why := tapUsable(tc.m, now); got != tc.want {
			t.Errorf("%s: usable %v (%s), want %v", tc.name, got, why, tc.want)
		}
	}
}

var personalFixtureCases = []fixtureCase{
	{name: "no-personal-methods-sms", check: "no-personal-methods", account: fxBG1UPN, want: StatusFail, contains: "phone", dir: true,
		mutate: []mutation{addMethodItem(fxBG1, map[string]any{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
			"id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": "+1 2065550100", "phoneType": "mobile", "smsSignInState": "notEnabled"})}},
	{name: "no-personal-methods usable TAP", check: "no-personal-methods", account: fxBG2UPN, want: StatusFail, contains: "Temporary Access Pass",
		mutate: []mutation{addMethodItem(fxBG2, map[string]any{"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
			"id": "6f1b3a5e-0000-4000-8000-000000000001", "createdDateTime": "2026-11-30T05:00:00Z", "startDateTime": "2026-11-30T05:00:00Z",
			"lifetimeInMinutes": 480, "isUsableOnce": false, "isUsable": true, "methodUsabilityReason": "EnabledByPolicy"})}},
	{name: "no-personal-methods SSPR registered", check: "no-personal-methods", account: fxBG1UPN, want: StatusFail, contains: "self-service password reset",
		mutate: []mutation{func(f *fixture) {
			f.edit(collect.DatasetUserRegistrationDetails, byID(fxBG1), func(m map[string]any) {
				m["isSsprRegistered"] = true
				m["methodsRegistered"] = []any{"passKeyDeviceBound", "email"}
			})
		}}},
	{name: "no-personal-methods registration unlicensed", check: "no-personal-methods", account: fxBG2UPN, want: StatusSkip, contains: "licence",
		mutate: []mutation{func(f *fixture) { f.refuse(collect.DatasetUserRegistrationDetails, collect.ReasonLicence) }}},
}

func init() { allFixtureCases = append(allFixtureCases, personalFixtureCases...) }

func TestNoPersonalMethodsFixtures(t *testing.T) { runFixtureCases(t, personalFixtureCases) }
