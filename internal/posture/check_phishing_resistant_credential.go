package posture

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/graph/collect"
)

// phishingResistantCredential checks that each break-glass account can sign
// in with a phishing-resistant credential that does not depend on a person:
// a FIDO2 passkey, or certificate-based authentication. Since mandatory MFA
// reached the admin portals, an account without one cannot sign in there at
// all on the day it is needed.
type phishingResistantCredential struct{}

func init() { Register(phishingResistantCredential{}) }

func (phishingResistantCredential) Info() Info {
	return Info{
		ID:           "phishing-resistant-credential",
		Title:        "Phishing-resistant credential registered",
		Severity:     SeverityHigh,
		Requirements: []string{"R6", "R7"},
		Rationale: "Microsoft asks for a passwordless, phishing-resistant method on every emergency access account: " +
			"a FIDO2 passkey (preferred), or certificate-based authentication where a PKI already exists (R6). " +
			"Mandatory MFA on the admin portals applies to break-glass accounts too, and a Conditional Access policy " +
			"requiring phishing-resistant strength (R7) can only be met with one of these, so an account with only a " +
			"password cannot be used on the worst day. The password method is always listed and is ignored.",
		PerAccount: true,
		Order:      50,
	}
}

func (c phishingResistantCredential) Run(env *Env) []Result {
	info := c.Info()
	t := env.Tenant
	var out []Result
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			out = append(out, unresolvedResult(info, a))
			continue
		}
		out = append(out, c.account(info, t, a))
	}
	return out
}

func (phishingResistantCredential) account(info Info, t *Tenant, a *AccountInfo) Result {
	methods, methodsWhy, methodsKnown := methodsOf(t, a.ID)
	policy := readMethodsPolicy(t)
	var ev []Evidence
	var fido []string // usable keys, described
	var unusable []string
	var fidoDoubt []string
	invalid := 0
	if methodsKnown {
		for _, m := range methods {
			if m.Invalid {
				invalid++
				ev = append(ev, Evidence{Object: "user " + accountLabel(a), Field: "authentication/methods", Value: m.Type,
					Source: methodsSource, Note: "unreadable item"})
				continue
			}
			if m.Type != "fido2AuthenticationMethod" {
				continue
			}
			desc := describeKey(m)
			e := Evidence{Object: "user " + accountLabel(a), Field: "authentication/methods[fido2] aaGuid", Value: m.AAGUID,
				Source: methodsSource, Note: desc}
			use, why := policy.fido2Usable(t, a.ID, m.AAGUID)
			switch use {
			case triYes:
				fido = append(fido, desc)
			case triNo:
				unusable = append(unusable, desc+": "+why)
				e.Note += "; not usable: " + why
			default:
				fidoDoubt = append(fidoDoubt, desc+": "+why)
				e.Note += "; usability unknown: " + why
			}
			ev = append(ev, e)
		}
		if len(ev) == 0 {
			ev = append(ev, Evidence{Object: "user " + accountLabel(a), Field: "authentication/methods", Value: methodTypes(methods),
				Source: methodsSource, Note: "no fido2AuthenticationMethod (password ignored)"})
		}
	} else {
		ev = append(ev, Evidence{Object: "user " + accountLabel(a), Field: "authentication/methods", Value: nil,
			Source: methodsSource, Note: "not read: " + methodsWhy})
	}
	if policy.known {
		ev = append(ev, policy.evidence("Fido2"))
	} else {
		ev = append(ev, Evidence{Object: "authenticationMethodsPolicy", Field: "authenticationMethodConfigurations[Fido2]", Value: nil,
			Source: methodsPolicySource, Note: "not read: " + policy.why})
	}

	cba, cbaWhy, cbaEv := cbaEvidence(t, a, policy)
	ev = append(ev, cbaEv...)

	r := info.Result(a, StatusPass, "")
	r.Evidence = ev
	r.Remediation = Remediation{
		Summary: "Register a FIDO2 security key (kept in the safe, not on anyone's phone) on the account, and make sure the " +
			"Passkey (FIDO2) method is enabled for it in the authentication methods policy; or bind a smart-card certificate " +
			"(certificateUserIds) and enable certificate-based authentication.",
		Portal: "Entra admin center > Protection > Authentication methods > Policies > Passkey (FIDO2): Enable, target the break-glass " +
			"accounts; then sign in as the account at https://aka.ms/mysecurityinfo > Add sign-in method > Passkey",
		Graph: "PATCH https://graph.microsoft.com/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2 " +
			`{"@odata.type":"#microsoft.graph.fido2AuthenticationMethodConfiguration","state":"enabled"}` +
			" (then register the key signed in as the account, or provision it on the account's behalf with the beta " +
			"GET /beta/users/" + a.ID + "/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=10) and POST .../fido2Methods)",
		PowerShell: `Update-MgPolicyAuthenticationMethodPolicyAuthenticationMethodConfiguration -AuthenticationMethodConfigurationId Fido2 ` +
			`-BodyParameter @{"@odata.type"="#microsoft.graph.fido2AuthenticationMethodConfiguration"; state="enabled"}`,
	}
	switch {
	case len(fido) > 0 && cba == triYes:
		r.Message = fmt.Sprintf("FIDO2 passkey (%s) and certificate-based authentication are both usable.", strings.Join(fido, ", "))
	case len(fido) > 0:
		r.Message = fmt.Sprintf("FIDO2 passkey registered and enabled: %s.", strings.Join(fido, ", "))
	case cba == triYes:
		r.Message = "Certificate-based authentication: certificateUserIds are bound and the X.509 method is enabled for the account."
	case len(fidoDoubt) > 0 || cba == triUnknown:
		// Something phishing-resistant is there but we cannot confirm it
		// works: not a pass, and not a proven failure.
		var why []string
		why = append(why, fidoDoubt...)
		if cba == triUnknown {
			why = append(why, "certificate-based authentication: "+cbaWhy)
		}
		r.Status = StatusWarn
		r.Message = "A phishing-resistant credential is registered but could not be confirmed usable: " + strings.Join(why, "; ") + "."
	case !methodsKnown || cba == triUnread:
		r.Status = StatusSkip
		var why []string
		if !methodsKnown {
			why = append(why, "authentication methods not read: "+methodsWhy)
		} else {
			why = append(why, "no usable FIDO2 key")
		}
		if cba == triUnread {
			why = append(why, cbaWhy)
		} else {
			why = append(why, "no certificate-based authentication evidence")
		}
		r.Message = "Cannot tell whether a phishing-resistant credential exists: " + strings.Join(why, "; ") + "."
	case invalid > 0 && len(unusable) == 0:
		r.Status = StatusSkip
		r.Message = fmt.Sprintf("No usable FIDO2 key or certificate found, but %d of the account's methods could not be read: one may be a passkey.", invalid)
	case len(unusable) > 0:
		r.Status = StatusFail
		r.Message = "The FIDO2 key registered cannot be used to sign in: " + strings.Join(unusable, "; ") + "."
	default:
		r.Status = StatusFail
		r.Message = "No FIDO2 passkey and no certificate-based authentication: the account has " + describeTypes(methods) + "."
		if cbaWhy != "" {
			r.Message = strings.TrimSuffix(r.Message, ".") + "; " + cbaWhy + "."
		}
		if slices.ContainsFunc(methods, func(m AuthMethod) bool {
			return m.Type == "windowsHelloForBusinessAuthenticationMethod" || m.Type == "platformCredentialAuthenticationMethod"
		}) {
			r.Message += " Windows Hello and platform credentials resist phishing but live on one device; the emergency-access guidance asks for a passkey or a certificate."
		}
	}
	return r
}

// cbaEvidence says whether certificate-based authentication can sign the
// account in: a certificate binding (certificateUserIds), and the X.509
// method enabled for the account when the methods policy was read.
func cbaEvidence(t *Tenant, a *AccountInfo, policy methodsPolicy) (tri, string, []Evidence) {
	ids, bound := t.CertificateUserIDs[strings.ToLower(a.ID)]
	if !bound || len(ids) == 0 {
		if why, missing := t.Missing(collect.DatasetUserAuthorizationInfo); missing {
			return triUnread, "certificateUserIds not read (" + why + ")", []Evidence{{Object: "user " + accountLabel(a),
				Field: "authorizationInfo.certificateUserIds", Value: nil, Source: authInfoSource, Note: "not read: " + why}}
		}
		return triNo, "", []Evidence{{Object: "user " + accountLabel(a), Field: "authorizationInfo.certificateUserIds",
			Value: []string{}, Source: authInfoSource, Note: "no certificate bound"}}
	}
	ev := []Evidence{{Object: "user " + accountLabel(a), Field: "authorizationInfo.certificateUserIds", Value: len(ids),
		Source: authInfoSource, Note: "certificate bindings present (values not shown)"}}
	if !policy.known {
		ev = append(ev, Evidence{Object: "authenticationMethodsPolicy", Field: "authenticationMethodConfigurations[X509Certificate].state",
			Value: nil, Source: methodsPolicySource, Note: "not read: " + policy.why})
		return triUnknown, "a certificate is bound but the authentication methods policy was not read, so it is unknown whether the X.509 method is enabled (" + policy.why + ")", ev
	}
	ev = append(ev, policy.evidence("X509Certificate"))
	st, why := policy.enabledFor(t, "X509Certificate", a.ID)
	switch st {
	case triYes:
		return x509MultiFactor(policy.configs["x509certificate"], ev)
	case triNo:
		return triNo, "a certificate is bound but certificate-based authentication " + why, ev
	}
	return triUnknown, why, ev
}

// x509MultiFactor says whether a certificate sign-in counts as
// multifactor: a single-factor certificate cannot satisfy mandatory MFA or
// a phishing-resistant strength on its own, and the account has nothing
// else to add.
func x509MultiFactor(c methodConfig, ev []Evidence) (tri, string, []Evidence) {
	mc := c.AuthenticationModeConfiguration
	if mc == nil {
		return triUnknown, "a certificate is bound and the X.509 method is enabled, but its authenticationModeConfiguration (single- or multifactor) was not in the policy", ev
	}
	if strings.EqualFold(mc.DefaultMode, "x509CertificateMultiFactor") {
		return triYes, "", ev
	}
	for _, r := range mc.Rules {
		if strings.EqualFold(r.Mode, "x509CertificateMultiFactor") {
			return triUnknown, "certificates are single-factor by default and only those matching an issuer or policy OID rule are multifactor; which rule the account's certificate matches cannot be told offline", ev
		}
	}
	return triNo, "certificate-based authentication is single-factor (x509CertificateAuthenticationDefaultMode " + orNull(mc.DefaultMode) +
		"), so it satisfies neither mandatory MFA nor a phishing-resistant strength", ev
}

// tri is a three-valued answer: what the snapshot proves, disproves or
// leaves open.
type tri int

const (
	triUnknown tri = iota
	triYes
	triNo
	// triUnread: the data that would answer was not collected.
	triUnread
)

// methodsPolicy is the part of the authentication methods policy the
// method checks read.
type methodsPolicy struct {
	known   bool
	why     string // when !known
	configs map[string]methodConfig
}

type methodConfig struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	IncludeTargets []struct {
		TargetType string `json:"targetType"`
		ID         string `json:"id"`
		// AllowedPasskeyProfiles are the passkey profiles (Fido2 only)
		// that apply to the target; empty: the default profile.
		AllowedPasskeyProfiles []string `json:"allowedPasskeyProfiles"`
	} `json:"includeTargets"`
	ExcludeTargets []struct {
		TargetType string `json:"targetType"`
		ID         string `json:"id"`
	} `json:"excludeTargets"`
	KeyRestrictions *keyRestrictions `json:"keyRestrictions"`
	// PasskeyProfiles replace KeyRestrictions once a tenant has migrated
	// to passkey profiles (Fido2 only).
	PasskeyProfiles []struct {
		ID              string           `json:"id"`
		Name            string           `json:"name"`
		KeyRestrictions *keyRestrictions `json:"keyRestrictions"`
	} `json:"passkeyProfiles"`
	DefaultPasskeyProfile string `json:"defaultPasskeyProfile"`
	// AuthenticationModeConfiguration is the X.509 method's single- or
	// multi-factor binding.
	AuthenticationModeConfiguration *struct {
		DefaultMode string `json:"x509CertificateAuthenticationDefaultMode"`
		Rules       []struct {
			Mode string `json:"x509CertificateAuthenticationMode"`
		} `json:"rules"`
	} `json:"authenticationModeConfiguration"`
	raw json.RawMessage
}

func readMethodsPolicy(t *Tenant) methodsPolicy {
	if why, missing := t.Missing(collect.DatasetAuthMethodsPolicy); missing || len(t.AuthMethodsPolicy) == 0 {
		if why == "" {
			why = collect.DatasetAuthMethodsPolicy + " is empty"
		}
		return methodsPolicy{why: why}
	}
	var doc struct {
		Configs []json.RawMessage `json:"authenticationMethodConfigurations"`
	}
	if err := json.Unmarshal(t.AuthMethodsPolicy, &doc); err != nil {
		return methodsPolicy{why: fmt.Sprintf("%s: authenticationMethodConfigurations: %v", collect.DatasetAuthMethodsPolicy, err)}
	}
	p := methodsPolicy{known: true, configs: map[string]methodConfig{}}
	for i, raw := range doc.Configs {
		var c methodConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			// One unreadable configuration must not hide the others, but
			// the one it was stays unknown rather than "not configured".
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &id)
			if id.ID != "" {
				p.configs[strings.ToLower(id.ID)] = methodConfig{ID: id.ID, State: "unreadable: " + fmt.Sprintf("authenticationMethodConfigurations[%d]: %v", i, err)}
			}
			continue
		}
		c.raw = raw
		p.configs[strings.ToLower(c.ID)] = c
	}
	return p
}

func (p methodsPolicy) evidence(id string) Evidence {
	c, ok := p.configs[strings.ToLower(id)]
	if !ok {
		return Evidence{Object: "authenticationMethodsPolicy", Field: "authenticationMethodConfigurations[" + id + "]", Value: nil,
			Source: methodsPolicySource, Note: "not in the policy: the method is not configured, so it is off"}
	}
	return Evidence{Object: "authenticationMethodsPolicy", Field: "authenticationMethodConfigurations[" + id + "]", Value: c.raw,
		Source: methodsPolicySource}
}

// enabledFor says whether method configuration id is enabled and targets
// the user: includeTargets all_users or a group the user is in, and no
// excludeTargets group the user is in.
func (p methodsPolicy) enabledFor(t *Tenant, id, userID string) (tri, string) {
	c, ok := p.configs[strings.ToLower(id)]
	if !ok {
		return triNo, "is not configured in the authentication methods policy (off)"
	}
	if strings.HasPrefix(c.State, "unreadable") {
		return triUnknown, "its method configuration is " + c.State
	}
	if !strings.EqualFold(c.State, "enabled") {
		return triNo, fmt.Sprintf("is %s in the authentication methods policy", orNull(c.State))
	}
	groups, groupsKnown := t.MemberOf[strings.ToLower(userID)]
	in := func(gid string) tri {
		if strings.EqualFold(gid, "all_users") || strings.EqualFold(gid, userID) {
			return triYes
		}
		if !groupsKnown {
			return triUnknown
		}
		if slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(g, gid) }) {
			return triYes
		}
		return triNo
	}
	for _, x := range c.ExcludeTargets {
		switch in(x.ID) {
		case triYes:
			return triNo, fmt.Sprintf("is enabled but excludes the account (excludeTargets %s)", x.ID)
		case triUnknown:
			return triUnknown, fmt.Sprintf("excludes group %s and the account's group memberships were not collected", x.ID)
		}
	}
	unknown := ""
	for _, x := range c.IncludeTargets {
		switch in(x.ID) {
		case triYes:
			return triYes, ""
		case triUnknown:
			unknown = x.ID
		}
	}
	if unknown != "" {
		return triUnknown, fmt.Sprintf("targets group %s and the account's group memberships were not collected", unknown)
	}
	return triNo, "is enabled but its includeTargets do not include the account"
}

// fido2Usable says whether a FIDO2 key with aaguid can sign the user in:
// the Fido2 method enabled for the user and the key model not blocked by
// key restrictions. Without the policy this is unknown.
func (p methodsPolicy) fido2Usable(t *Tenant, userID, aaguid string) (tri, string) {
	if !p.known {
		return triUnknown, "the authentication methods policy was not read (" + p.why + ")"
	}
	st, why := p.enabledFor(t, "Fido2", userID)
	if st != triYes {
		return st, "Passkey (FIDO2) " + why
	}
	c := p.configs["fido2"]
	if len(c.PasskeyProfiles) == 0 {
		return c.KeyRestrictions.allows(aaguid, "key restrictions")
	}
	// Passkey profiles: the key must be allowed by one of the profiles
	// that the targets including the account grant.
	groups, groupsKnown := t.MemberOf[strings.ToLower(userID)]
	var profiles []string
	unknownTarget := ""
	for _, x := range c.IncludeTargets {
		switch {
		case strings.EqualFold(x.ID, "all_users") || strings.EqualFold(x.ID, userID) ||
			slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(g, x.ID) }):
			if len(x.AllowedPasskeyProfiles) == 0 {
				profiles = append(profiles, c.DefaultPasskeyProfile)
			}
			profiles = append(profiles, x.AllowedPasskeyProfiles...)
		case !groupsKnown:
			unknownTarget = x.ID
		}
	}
	var refused []string
	for _, pp := range c.PasskeyProfiles {
		if !slices.ContainsFunc(profiles, func(id string) bool { return strings.EqualFold(id, pp.ID) }) {
			continue
		}
		st, why := pp.KeyRestrictions.allows(aaguid, "the key restrictions of passkey profile "+orNull(pp.Name))
		switch st {
		case triYes:
			return triYes, ""
		case triNo:
			refused = append(refused, why)
		default:
			return triUnknown, why
		}
	}
	switch {
	case unknownTarget != "":
		return triUnknown, "passkey profiles are granted per group (" + unknownTarget + ") and the account's group memberships were not collected"
	case len(refused) > 0:
		return triNo, strings.Join(refused, "; ")
	}
	return triNo, "no passkey profile applies to the account"
}

// keyRestrictions is fido2KeyRestrictions: which key models (AAGUIDs) may
// register and sign in.
type keyRestrictions struct {
	IsEnforced      bool     `json:"isEnforced"`
	EnforcementType string   `json:"enforcementType"`
	AAGUIDs         []string `json:"aaGuids"`
}

// allows says whether the restrictions let a key model through; nil or
// unenforced restrictions let every model through.
func (kr *keyRestrictions) allows(aaguid, what string) (tri, string) {
	if kr == nil || !kr.IsEnforced {
		return triYes, ""
	}
	listed := slices.ContainsFunc(kr.AAGUIDs, func(g string) bool { return strings.EqualFold(g, aaguid) })
	switch strings.ToLower(kr.EnforcementType) {
	case "allow":
		if !listed {
			return triNo, what + " allow only listed AAGUIDs and " + orNull(aaguid) + " is not one"
		}
	case "block":
		if listed {
			return triNo, what + " block AAGUID " + aaguid
		}
	default:
		return triUnknown, what + " are enforced with an unknown enforcementType " + orNull(kr.EnforcementType)
	}
	return triYes, ""
}

// --- helpers shared by the checks of this file family ---

const (
	methodsSource       = "auth_methods.{id}: GET /v1.0/users/{id}/authentication/methods"
	registrationSource  = "user_registration_details: GET /v1.0/reports/authenticationMethods/userRegistrationDetails"
	authInfoSource      = "user_authorization_info: GET /beta/users/{id}?$select=authorizationInfo"
	methodsPolicySource = "authentication_methods_policy: GET /v1.0/policies/authenticationMethodsPolicy"
	usersSource         = "breakglass_users: GET /v1.0/users/{id}"
)

// methodsOf returns the user's authentication methods, or why they are
// unknown.
func methodsOf(t *Tenant, userID string) ([]AuthMethod, string, bool) {
	if m, ok := t.AuthMethods[strings.ToLower(userID)]; ok {
		return m, "", true
	}
	why, _ := t.Missing(collect.KeyedName(collect.DatasetAuthMethods, strings.ToLower(userID)))
	if why == "" {
		why = "the methods of " + userID + " were not decoded"
	}
	return nil, why, false
}

func accountLabel(a *AccountInfo) string {
	if a.UPN != "" {
		return a.UPN + " (" + a.ID + ")"
	}
	return a.ID
}

func userLabel(t *Tenant, id string) string {
	if u, ok := t.Users[strings.ToLower(id)]; ok && u.UPN != "" {
		return u.UPN + " (" + id + ")"
	}
	return id
}

func describeKey(m AuthMethod) string {
	name := m.Model
	if name == "" {
		name = m.DisplayName
	}
	if name == "" {
		name = "FIDO2 key"
	}
	return fmt.Sprintf("%s, AAGUID %s", name, orNull(m.AAGUID))
}

// methodTypes lists the method types, password included, as Graph names
// them.
func methodTypes(ms []AuthMethod) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Type)
	}
	return out
}

// describeTypes names the non-password methods for a message.
func describeTypes(ms []AuthMethod) string {
	var out []string
	for _, m := range ms {
		if m.Type != "passwordAuthenticationMethod" {
			out = append(out, strings.TrimSuffix(m.Type, "AuthenticationMethod"))
		}
	}
	if len(out) == 0 {
		return "only a password"
	}
	return "only " + strings.Join(out, ", ") + " besides the password"
}

// joinFew joins the first n items with "; " and counts the rest, so a
// message stays readable when a tenant has hundreds of findings (the
// evidence lists them all).
func joinFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more (see evidence)", strings.Join(items[:n], "; "), len(items)-n)
}

func orNull(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// worse returns the worse of two statuses, in Statuses order.
func worse(a, b Status) Status {
	if slices.Index(Statuses, b) < slices.Index(Statuses, a) {
		return b
	}
	return a
}

// auditNow is the audit time.
func auditNow(o Options) time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}
