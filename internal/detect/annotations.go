package detect

import (
	"strconv"
	"strings"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

// Annotation keys the record rules set, for the people reading the alert
// (notify's messages show them). They carry what the record says beyond
// the alert's own fields; a key is set only when the record has a value.
const (
	// Sign-ins (bg.signin).
	AnnErrorCode         = "error_code"         // Entra error code; "0" is success and is not set
	AnnErrorText         = "error_text"         // the record's own description of the error
	AnnClientApp         = "client_app"         // clientAppUsed: Browser, Mobile Apps and Desktop clients, IMAP, ...
	AnnConditionalAccess = "conditional_access" // conditionalAccessStatus: success, failure, notApplied
	AnnAuthRequirement   = "auth_requirement"   // singleFactorAuthentication, multiFactorAuthentication
	AnnResource          = "resource"           // what was signed in to
	AnnDevice            = "device"             // the device: name, OS, browser, join type, Entra device id
	// Audits (bg.activity, bg.change).
	AnnTarget       = "target"        // what the operation acted on
	AnnResultReason = "result_reason" // why it failed, when it did
)

// annotate sets the non-empty pairs on a.
func annotate(a *alert.Alert, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if v := strings.TrimSpace(kv[i+1]); v != "" {
			if a.Annotations == nil {
				a.Annotations = map[string]string{}
			}
			a.Annotations[kv[i]] = v
		}
	}
}

func signInAnnotations(a *alert.Alert, ev *entra.Event) {
	// A success carries no error, whatever description the export wrote
	// ("Other." in some shapes).
	code, text := ev.ResultType, ev.ResultDescription
	if code == "0" {
		code, text = "", ""
	}
	annotate(a, AnnErrorCode, code, AnnErrorText, text, AnnClientApp, ev.ClientAppUsed,
		AnnConditionalAccess, ev.ConditionalAccess, AnnAuthRequirement, ev.AuthRequirement, AnnResource, ev.ResourceDisplayName,
		AnnDevice, deviceText(ev.Device))
}

// deviceText describes a sign-in's device for people: "ADMIN-PAW01
// (Windows 11, Edge, Microsoft Entra joined, device id 3f2a…)". A record
// that describes a device without an Entra id says the device is not
// registered: that is what an unmanaged laptop looks like.
func deviceText(d entra.Device) string {
	if !d.Known {
		return ""
	}
	var parts []string
	for _, p := range []string{d.OS, d.Browser, d.TrustType} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if d.ID != "" {
		parts = append(parts, "device id "+d.ID)
	} else {
		parts = append(parts, "not registered in Entra")
	}
	name := strings.TrimSpace(d.Name)
	if name == "" {
		return strings.Join(parts, ", ")
	}
	return name + " (" + strings.Join(parts, ", ") + ")"
}

// auditAnnotations names the targets (at most three, then a count) and
// the failure reason.
func auditAnnotations(a *alert.Alert, ev *entra.Event) {
	var names []string
	for i, t := range ev.Targets {
		if i == 3 {
			names = append(names, "and "+strconv.Itoa(len(ev.Targets)-3)+" more")
			break
		}
		n := firstNonEmpty(t.UserPrincipalName, t.DisplayName, t.ID)
		if n == "" {
			continue
		}
		if t.Type != "" {
			n += " (" + t.Type + ")"
		}
		names = append(names, n)
	}
	annotate(a, AnnTarget, strings.Join(names, ", "), AnnResultReason, ev.ResultReason)
}
