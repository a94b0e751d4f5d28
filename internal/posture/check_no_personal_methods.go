package posture

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/graph/collect"
)

// noPersonalMethods checks that no break-glass account depends on a person:
// a phone number, a mailbox, an Authenticator app or OATH app on someone's
// phone, or self-service password reset details. Those fail when that
// person is away, has left, or when the phone network is down, which are
// the situations the account exists for; and anyone holding the device can
// reset or approve. A usable Temporary Access Pass is a standing way in
// that bypasses the safe.
type noPersonalMethods struct{}

func init() { Register(noPersonalMethods{}) }

func (noPersonalMethods) Info() Info {
	return Info{
		ID:           "no-personal-methods",
		Title:        "No personal or phone-based methods",
		Severity:     SeverityHigh,
		Requirements: []string{"R10", "R11"},
		Rationale: "Emergency access credentials must not be tied to an individual or to employee devices such as phones (R10), " +
			"and no MFA or self-service password reset may be registered to a person's device or details (R11): the account " +
			"is for the day those people, phones or networks are unavailable. A live Temporary Access Pass is a credential outside " +
			"the safe.",
		PerAccount: true,
		Order:      60,
	}
}

// personalMethodTypes are the method types bound to a person or a phone,
// with what to call them: each fails the check.
var personalMethodTypes = map[string]string{
	"phoneAuthenticationMethod":                              "phone (SMS/voice)",
	"emailAuthenticationMethod":                              "email (SSPR)",
	"microsoftAuthenticatorAuthenticationMethod":             "Microsoft Authenticator",
	"passwordlessMicrosoftAuthenticatorAuthenticationMethod": "Microsoft Authenticator (passwordless)",
	"softwareOathAuthenticationMethod":                       "software OATH app",
}

// deviceBoundMethodTypes are bound to one device or an outside provider:
// fine on a shared privileged access workstation (R12), a dependency
// otherwise, so they warn.
var deviceBoundMethodTypes = map[string]string{
	"windowsHelloForBusinessAuthenticationMethod": "Windows Hello for Business (bound to one PC)",
	"platformCredentialAuthenticationMethod":      "platform credential (bound to one Mac)",
	"externalAuthenticationMethod":                "external MFA provider (a dependency outside Entra)",
	"qrCodePinAuthenticationMethod":               "QR code and PIN",
}

// personalRegistered are userRegistrationDetails.methodsRegistered values
// bound to a person or a phone.
var personalRegistered = map[string]string{
	"mobilePhone":                        "mobile phone",
	"alternateMobilePhone":               "alternate mobile phone",
	"officePhone":                        "office phone",
	"email":                              "email",
	"securityQuestion":                   "security questions",
	"microsoftAuthenticatorPush":         "Microsoft Authenticator push",
	"microsoftAuthenticatorPasswordless": "Microsoft Authenticator passwordless",
	"softwareOneTimePasscode":            "software one-time passcode",
	"appNotification":                    "authenticator app notification",
	"appCode":                            "authenticator app code",
	"passKeyDeviceBoundAuthenticator":    "passkey in Microsoft Authenticator (a phone)",
}

// authenticatorPasskeyAAGUIDs are the AAGUIDs of passkeys held in
// Microsoft Authenticator (iOS, Android): a FIDO2 method that lives on a
// phone.
var authenticatorPasskeyAAGUIDs = map[string]string{
	"90a3ccdf-635c-4729-a248-9b709135078f": "Microsoft Authenticator (iOS)",
	"de1e552d-db1d-4423-a619-566b625cdc84": "Microsoft Authenticator (Android)",
}

func (c noPersonalMethods) Run(env *Env) []Result {
	info := c.Info()
	t := env.Tenant
	now := auditNow(env.Options)
	var out []Result
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			out = append(out, unresolvedResult(info, a))
			continue
		}
		out = append(out, c.account(info, t, a, now))
	}
	return out
}

func (noPersonalMethods) account(info Info, t *Tenant, a *AccountInfo, now time.Time) Result {
	obj := "user " + accountLabel(a)
	var ev []Evidence
	var fails, warns, unknown []string

	methods, methodsWhy, methodsKnown := methodsOf(t, a.ID)
	if methodsKnown {
		for i, m := range methods {
			switch {
			case m.Invalid:
				unknown = append(unknown, fmt.Sprintf("method %d of the account could not be read (type %s)", i, orNull(m.Type)))
				ev = append(ev, Evidence{Object: obj, Field: fmt.Sprintf("authentication/methods[%d]", i), Value: nil, Source: methodsSource,
					Note: "unreadable item: it may be a personal method"})
			case m.Type == "temporaryAccessPassAuthenticationMethod":
				usable, why := tapUsable(m, now)
				e := Evidence{Object: obj, Field: "authentication/methods[temporaryAccessPass]",
					Value:  map[string]any{"isUsable": m.IsUsable, "startDateTime": m.StartDateTime, "lifetimeInMinutes": m.LifetimeInMinutes},
					Source: methodsSource, Note: why}
				ev = append(ev, e)
				if usable {
					fails = append(fails, "a usable Temporary Access Pass ("+why+")")
				}
			case m.Type == "fido2AuthenticationMethod":
				if name, ok := authenticatorPasskeyAAGUIDs[strings.ToLower(m.AAGUID)]; ok {
					ev = append(ev, Evidence{Object: obj, Field: "authentication/methods[fido2] aaGuid", Value: m.AAGUID,
						Source: methodsSource, Note: "passkey held in " + name + ": it lives on a phone"})
					warns = append(warns, "a passkey in "+name+" (on a phone; keep it only if that phone is shared and in the safe)")
				}
			default:
				if name, ok := personalMethodTypes[m.Type]; ok {
					ev = append(ev, Evidence{Object: obj, Field: "authentication/methods", Value: m.Type, Source: methodsSource,
						Note: personalDetail(m)})
					fails = append(fails, name)
				} else if name, ok := deviceBoundMethodTypes[m.Type]; ok {
					ev = append(ev, Evidence{Object: obj, Field: "authentication/methods", Value: m.Type, Source: methodsSource,
						Note: personalDetail(m)})
					warns = append(warns, name+": keep it only on a shared, secured workstation")
				}
			}
		}
		if len(ev) == 0 {
			ev = append(ev, Evidence{Object: obj, Field: "authentication/methods", Value: methodTypes(methods), Source: methodsSource,
				Note: "no phone, email, Authenticator, OATH app or Temporary Access Pass"})
		}
	} else {
		unknown = append(unknown, "authentication methods: "+methodsWhy)
		ev = append(ev, Evidence{Object: obj, Field: "authentication/methods", Value: nil, Source: methodsSource, Note: "not read: " + methodsWhy})
	}

	reg, regOK := t.Registration[strings.ToLower(a.ID)]
	switch {
	case regOK && reg != nil:
		ev = append(ev, Evidence{Object: obj, Field: "userRegistrationDetails.isSsprRegistered", Value: reg.IsSsprRegistered, Source: registrationSource})
		for _, f := range []string{"isSsprRegistered", "methodsRegistered"} {
			if why, bad := reg.Invalid[f]; bad {
				unknown = append(unknown, "userRegistrationDetails."+f+" unreadable: "+why)
			}
		}
		if reg.IsSsprRegistered != nil && *reg.IsSsprRegistered {
			fails = append(fails, "self-service password reset registered")
		}
		var personal []string
		for _, m := range reg.MethodsRegistered {
			if name, ok := personalRegistered[m]; ok {
				personal = append(personal, name)
			}
		}
		ev = append(ev, Evidence{Object: obj, Field: "userRegistrationDetails.methodsRegistered", Value: slices.Clone(reg.MethodsRegistered),
			Source: registrationSource})
		if len(personal) > 0 {
			fails = append(fails, "registered "+strings.Join(personal, ", "))
		}
	default:
		why, missing := t.Missing(collect.DatasetUserRegistrationDetails)
		if !missing {
			why = "the account has no entry in " + collect.DatasetUserRegistrationDetails
		}
		unknown = append(unknown, "SSPR registration: "+why)
		ev = append(ev, Evidence{Object: obj, Field: "userRegistrationDetails", Value: nil, Source: registrationSource, Note: "not read: " + why})
	}

	// Contact details on the user object are not sign-in methods, but SSPR
	// and admins reach a person through them: a warning, not a failure.
	if u, ok := t.Users[strings.ToLower(a.ID)]; ok {
		if u.MobilePhone != nil && *u.MobilePhone != "" {
			ev = append(ev, Evidence{Object: obj, Field: "mobilePhone", Value: "(set)", Source: usersSource, Note: "value not shown"})
			warns = append(warns, "a mobilePhone on the user object")
		}
		if len(u.OtherMails) > 0 {
			ev = append(ev, Evidence{Object: obj, Field: "otherMails", Value: len(u.OtherMails), Source: usersSource, Note: "addresses not shown"})
			warns = append(warns, "otherMails (alternate addresses) on the user object")
		}
	}

	r := info.Result(a, StatusPass, "")
	r.Evidence = ev
	r.Remediation = Remediation{
		Summary: "Remove every phone, email, Authenticator, OATH app and Temporary Access Pass method from the account, and clear its " +
			"SSPR details; keep only the FIDO2 key(s) in the safe. Exclude break-glass accounts from SSPR and from the combined " +
			"registration campaign so they are not asked again.",
		Portal: "Entra admin center > Identity > Users > All users > (account) > Authentication methods: delete each listed method",
		Graph: "GET https://graph.microsoft.com/v1.0/users/" + a.ID + "/authentication/methods, then DELETE " +
			"/v1.0/users/" + a.ID + "/authentication/{phoneMethods|emailMethods|microsoftAuthenticatorMethods|softwareOathMethods|temporaryAccessPassMethods}/{methodId}",
		PowerShell: "Get-MgUserAuthenticationMethod -UserId " + a.ID + "; Remove-MgUserAuthenticationPhoneMethod -UserId " + a.ID +
			" -PhoneAuthenticationMethodId <id> (likewise Remove-MgUserAuthenticationEmailMethod, -MicrosoftAuthenticatorMethod, " +
			"-SoftwareOathMethod, -TemporaryAccessPassMethod)",
	}
	switch {
	case len(fails) > 0:
		r.Status = StatusFail
		r.Message = "Tied to a person or a phone: " + strings.Join(fails, "; ") + "."
	case len(unknown) > 0:
		r.Status = StatusSkip
		r.Message = "Cannot confirm the account has no personal methods: " + strings.Join(unknown, "; ") + "."
		if len(warns) > 0 {
			r.Status = StatusWarn
			r.Message += " Also found: " + strings.Join(warns, "; ") + "."
		}
	case len(warns) > 0:
		r.Status = StatusWarn
		r.Message = "No personal sign-in methods, but: " + strings.Join(warns, "; ") + "."
	default:
		r.Message = "No phone, email, Authenticator, OATH app, SSPR details or usable Temporary Access Pass."
	}
	return r
}

// tapUsable says whether a Temporary Access Pass can still be used: Graph
// says so (isUsable), or its validity window has not ended. A pass whose
// window cannot be computed counts as usable: remove it.
func tapUsable(m AuthMethod, now time.Time) (bool, string) {
	if m.IsUsable != nil && *m.IsUsable {
		return true, "isUsable is true"
	}
	if m.StartDateTime == nil || m.LifetimeInMinutes <= 0 {
		if m.IsUsable != nil {
			return false, "isUsable is false"
		}
		return true, "its validity cannot be computed (no isUsable, startDateTime or lifetimeInMinutes)"
	}
	end := m.StartDateTime.Add(time.Duration(m.LifetimeInMinutes) * time.Minute)
	if end.After(now) {
		return true, fmt.Sprintf("valid until %s", end.UTC().Format(time.RFC3339))
	}
	return false, fmt.Sprintf("expired %s", end.UTC().Format(time.RFC3339))
}

// personalDetail says which person-bound detail a method carries, without
// printing it: phone numbers and addresses are personal data.
func personalDetail(m AuthMethod) string {
	d := personalKind(m)
	if m.ID != "" {
		d = strings.TrimPrefix(d+"; method id "+m.ID, "; ") // the id a DELETE names
	}
	return d
}

func personalKind(m AuthMethod) string {
	switch {
	case m.PhoneNumber != "":
		return "phone " + orNull(m.PhoneType) + " (number not shown)"
	case m.Email != "":
		return "email address (not shown)"
	case m.DisplayName != "":
		return "device " + m.DisplayName
	}
	return ""
}
