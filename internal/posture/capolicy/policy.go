package capolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Policy states as Graph sends them.
const (
	StateEnabled    = "enabled"
	StateDisabled   = "disabled"
	StateReportOnly = "enabledForReportingButNotEnforced"
)

// Special values of the users condition.
const (
	All                   = "All"
	None                  = "None"
	GuestsOrExternalUsers = "GuestsOrExternalUsers"
)

// Guest and external user types (guestOrExternalUserTypes).
const (
	GuestInternal          = "internalGuest"
	GuestB2BCollaboration  = "b2bCollaborationGuest"
	MemberB2BCollaboration = "b2bCollaborationMember"
	B2BDirectConnectUser   = "b2bDirectConnectUser"
	OtherExternalUser      = "otherExternalUser"
	ServiceProvider        = "serviceProvider"
)

// Policy is one conditionalAccessPolicy. Slices are nil when Graph sent
// null or nothing; pointers are nil for an absent or null object.
type Policy struct {
	ID          string
	DisplayName string
	// State is enabled, disabled or enabledForReportingButNotEnforced as
	// Graph sent it; a value this version does not know is kept.
	State string

	Users              Users
	Applications       Applications
	ClientApplications *ClientApplications
	ClientAppTypes     []string
	Platforms          *IncludeExclude
	Locations          *IncludeExclude
	// DeviceFilter is conditions.devices.deviceFilter.rule, with its mode.
	DeviceFilter     string
	DeviceFilterMode string

	SignInRiskLevels           []string
	UserRiskLevels             []string
	ServicePrincipalRiskLevels []string
	// InsiderRiskLevels and AuthenticationFlows are beta conditions; they
	// only narrow a policy, so they are reported, not evaluated.
	InsiderRiskLevels   string
	AuthenticationFlows string

	// Grant is nil when the policy has no grant controls (session
	// controls only).
	Grant *GrantControls
	// SessionControls is true when the policy sets any session control.
	SessionControls bool

	// Notes records conditions that could not be read because Graph sent
	// an unexpected shape; they only narrow a policy, so decoding goes on
	// and the note is shown with the verdict.
	Notes []string
	Raw   json.RawMessage
}

// Users is conditions.users.
type Users struct {
	IncludeUsers  []string
	ExcludeUsers  []string
	IncludeGroups []string
	ExcludeGroups []string
	IncludeRoles  []string
	ExcludeRoles  []string
	// IncludeGuestsOrExternalUsers and ExcludeGuestsOrExternalUsers are nil
	// when the dimension is not set.
	IncludeGuestsOrExternalUsers *GuestsOrExternal
	ExcludeGuestsOrExternalUsers *GuestsOrExternal
	// Present is false when the policy has no users condition at all.
	Present bool
}

// GuestsOrExternal is conditionalAccessGuestsOrExternalUsers.
type GuestsOrExternal struct {
	// Types are the guestOrExternalUserTypes, split from the
	// comma-separated string Graph sends ("internalGuest,b2bCollaborationGuest").
	Types []string
	// ExternalTenants: MembershipKind is "all" or "enumerated" (Members
	// then lists tenant ids); empty when Graph sent no externalTenants,
	// which means all tenants.
	MembershipKind string
	Members        []string
}

// Applications is conditions.applications.
type Applications struct {
	IncludeApplications []string
	ExcludeApplications []string
	IncludeUserActions  []string
	// IncludeAuthenticationContextClassReferences are the authentication
	// context ids (c1, c2, …) the policy protects.
	IncludeAuthenticationContextClassReferences []string
	// ApplicationFilter is applicationFilter.rule (beta and v1.0), with its
	// mode.
	ApplicationFilter     string
	ApplicationFilterMode string
}

// ClientApplications is conditions.clientApplications: the workload
// (service principal) and agent identity targets.
type ClientApplications struct {
	IncludeServicePrincipals        []string
	ExcludeServicePrincipals        []string
	ServicePrincipalFilter          string
	IncludeAgentIDServicePrincipals []string
	ExcludeAgentIDServicePrincipals []string
	AgentIDServicePrincipalFilter   string
}

// IncludeExclude is the shape of conditions.platforms and
// conditions.locations.
type IncludeExclude struct {
	Include []string
	Exclude []string
}

// GrantControls is grantControls.
type GrantControls struct {
	// Operator is AND or OR as Graph sent it.
	Operator                    string
	BuiltInControls             []string
	CustomAuthenticationFactors []string
	TermsOfUse                  []string
	// AuthenticationStrength is the strength the policy requires, as
	// embedded in the policy (its allowedCombinations may be missing:
	// resolve it by id with the authentication_strength_policies).
	AuthenticationStrength *Strength
}

// Strength is an authenticationStrengthPolicy.
type Strength struct {
	ID                    string
	DisplayName           string
	PolicyType            string // builtIn or custom
	RequirementsSatisfied string
	// AllowedCombinations are the authentication method modes, e.g.
	// "fido2" or "password,microsoftAuthenticatorPush".
	AllowedCombinations []string
	Raw                 json.RawMessage
}

// Enabled reports whether the policy is enforced.
func (p Policy) Enabled() bool { return p.State == StateEnabled }

// ReportOnly reports whether the policy is in report-only mode.
func (p Policy) ReportOnly() bool { return p.State == StateReportOnly }

// Disabled reports whether the policy is off.
func (p Policy) Disabled() bool { return p.State == StateDisabled }

// StateKnown reports whether State is one of the three Graph documents; a
// caller should treat any other value as possibly enforced.
func (p Policy) StateKnown() bool { return p.Enabled() || p.ReportOnly() || p.Disabled() }

// Name returns "displayName (id)", for messages and evidence.
func (p Policy) Name() string {
	switch {
	case p.DisplayName != "" && p.ID != "":
		return fmt.Sprintf("%q (%s)", p.DisplayName, p.ID)
	case p.ID != "":
		return p.ID
	case p.DisplayName != "":
		return fmt.Sprintf("%q", p.DisplayName)
	}
	return "(policy without id)"
}

// wire types. Fields that decide applicability or the grant are typed, so
// a wrong type is an error; conditions that only narrow a policy are kept
// raw and read leniently.
type wirePolicy struct {
	ID              *string         `json:"id"`
	DisplayName     *string         `json:"displayName"`
	State           *string         `json:"state"`
	Conditions      *wireConditions `json:"conditions"`
	GrantControls   *wireGrant      `json:"grantControls"`
	SessionControls json.RawMessage `json:"sessionControls"`
}

type wireConditions struct {
	Users                      *wireUsers        `json:"users"`
	Applications               *wireApplications `json:"applications"`
	ClientApplications         *wireClientApps   `json:"clientApplications"`
	ClientAppTypes             json.RawMessage   `json:"clientAppTypes"`
	Platforms                  json.RawMessage   `json:"platforms"`
	Locations                  json.RawMessage   `json:"locations"`
	Devices                    json.RawMessage   `json:"devices"`
	SignInRiskLevels           json.RawMessage   `json:"signInRiskLevels"`
	UserRiskLevels             json.RawMessage   `json:"userRiskLevels"`
	ServicePrincipalRiskLevels json.RawMessage   `json:"servicePrincipalRiskLevels"`
	InsiderRiskLevels          json.RawMessage   `json:"insiderRiskLevels"`
	AuthenticationFlows        json.RawMessage   `json:"authenticationFlows"`
}

type wireUsers struct {
	IncludeUsers                 []string              `json:"includeUsers"`
	ExcludeUsers                 []string              `json:"excludeUsers"`
	IncludeGroups                []string              `json:"includeGroups"`
	ExcludeGroups                []string              `json:"excludeGroups"`
	IncludeRoles                 []string              `json:"includeRoles"`
	ExcludeRoles                 []string              `json:"excludeRoles"`
	IncludeGuestsOrExternalUsers *wireGuestsOrExternal `json:"includeGuestsOrExternalUsers"`
	ExcludeGuestsOrExternalUsers *wireGuestsOrExternal `json:"excludeGuestsOrExternalUsers"`
}

type wireGuestsOrExternal struct {
	GuestOrExternalUserTypes *string `json:"guestOrExternalUserTypes"`
	ExternalTenants          *struct {
		MembershipKind *string  `json:"membershipKind"`
		Members        []string `json:"members"`
	} `json:"externalTenants"`
}

type wireApplications struct {
	IncludeApplications                         []string    `json:"includeApplications"`
	ExcludeApplications                         []string    `json:"excludeApplications"`
	IncludeUserActions                          []string    `json:"includeUserActions"`
	IncludeAuthenticationContextClassReferences []string    `json:"includeAuthenticationContextClassReferences"`
	ApplicationFilter                           *wireFilter `json:"applicationFilter"`
}

type wireFilter struct {
	Mode *string `json:"mode"`
	Rule *string `json:"rule"`
}

type wireClientApps struct {
	IncludeServicePrincipals        []string    `json:"includeServicePrincipals"`
	ExcludeServicePrincipals        []string    `json:"excludeServicePrincipals"`
	ServicePrincipalFilter          *wireFilter `json:"servicePrincipalFilter"`
	IncludeAgentIDServicePrincipals []string    `json:"includeAgentIdServicePrincipals"`
	ExcludeAgentIDServicePrincipals []string    `json:"excludeAgentIdServicePrincipals"`
	AgentIDServicePrincipalFilter   *wireFilter `json:"agentIdServicePrincipalFilter"`
}

type wireGrant struct {
	Operator                    *string       `json:"operator"`
	BuiltInControls             []string      `json:"builtInControls"`
	CustomAuthenticationFactors []string      `json:"customAuthenticationFactors"`
	TermsOfUse                  []string      `json:"termsOfUse"`
	AuthenticationStrength      *wireStrength `json:"authenticationStrength"`
}

type wireStrength struct {
	ID                    *string  `json:"id"`
	DisplayName           *string  `json:"displayName"`
	PolicyType            *string  `json:"policyType"`
	RequirementsSatisfied *string  `json:"requirementsSatisfied"`
	AllowedCombinations   []string `json:"allowedCombinations"`
}

// Decode reads one conditionalAccessPolicy as Graph sends it. Unknown
// fields are ignored. A field that decides applicability or the grant
// (the users lists, applications, clientApplications, state,
// grantControls) with the wrong type is an error naming the field path and
// the policy; so is a policy without id or state.
func Decode(raw json.RawMessage) (Policy, error) {
	name := policyName(raw)
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Policy{}, fmt.Errorf("conditional access policy %s: not a JSON object", name)
	}
	var w wirePolicy
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return Policy{}, fmt.Errorf("conditional access policy %s: %w", name, describeJSONError(err))
	}
	p := Policy{Raw: append(json.RawMessage(nil), trimmed...)}
	if w.ID == nil || *w.ID == "" {
		return Policy{}, fmt.Errorf("conditional access policy %s: id is missing", name)
	}
	p.ID = *w.ID
	if w.DisplayName != nil {
		p.DisplayName = *w.DisplayName
	}
	if w.State == nil || *w.State == "" {
		return Policy{}, fmt.Errorf("conditional access policy %s: state is missing", name)
	}
	p.State = *w.State
	if c := w.Conditions; c != nil {
		if u := c.Users; u != nil {
			p.Users = Users{
				IncludeUsers: u.IncludeUsers, ExcludeUsers: u.ExcludeUsers,
				IncludeGroups: u.IncludeGroups, ExcludeGroups: u.ExcludeGroups,
				IncludeRoles: u.IncludeRoles, ExcludeRoles: u.ExcludeRoles,
				IncludeGuestsOrExternalUsers: u.IncludeGuestsOrExternalUsers.model(),
				ExcludeGuestsOrExternalUsers: u.ExcludeGuestsOrExternalUsers.model(),
				Present:                      true,
			}
		}
		if a := c.Applications; a != nil {
			p.Applications = Applications{
				IncludeApplications: a.IncludeApplications, ExcludeApplications: a.ExcludeApplications,
				IncludeUserActions:                          a.IncludeUserActions,
				IncludeAuthenticationContextClassReferences: a.IncludeAuthenticationContextClassReferences,
			}
			p.Applications.ApplicationFilterMode, p.Applications.ApplicationFilter = a.ApplicationFilter.get()
		}
		if ca := c.ClientApplications; ca != nil {
			m := &ClientApplications{
				IncludeServicePrincipals: ca.IncludeServicePrincipals, ExcludeServicePrincipals: ca.ExcludeServicePrincipals,
				IncludeAgentIDServicePrincipals: ca.IncludeAgentIDServicePrincipals,
				ExcludeAgentIDServicePrincipals: ca.ExcludeAgentIDServicePrincipals,
			}
			_, m.ServicePrincipalFilter = ca.ServicePrincipalFilter.get()
			_, m.AgentIDServicePrincipalFilter = ca.AgentIDServicePrincipalFilter.get()
			p.ClientApplications = m
		}
		p.ClientAppTypes = p.lenientStrings("conditions.clientAppTypes", c.ClientAppTypes)
		p.Platforms = p.lenientIncludeExclude("conditions.platforms", c.Platforms, "includePlatforms", "excludePlatforms")
		p.Locations = p.lenientIncludeExclude("conditions.locations", c.Locations, "includeLocations", "excludeLocations")
		p.SignInRiskLevels = p.lenientStrings("conditions.signInRiskLevels", c.SignInRiskLevels)
		p.UserRiskLevels = p.lenientStrings("conditions.userRiskLevels", c.UserRiskLevels)
		p.ServicePrincipalRiskLevels = p.lenientStrings("conditions.servicePrincipalRiskLevels", c.ServicePrincipalRiskLevels)
		p.InsiderRiskLevels = p.lenientString("conditions.insiderRiskLevels", c.InsiderRiskLevels)
		if af := c.AuthenticationFlows; !isNull(af) {
			var flows struct {
				TransferMethods string `json:"transferMethods"`
			}
			if err := json.Unmarshal(af, &flows); err != nil {
				p.Notes = append(p.Notes, "conditions.authenticationFlows: unreadable, "+describeJSONError(err).Error())
			} else {
				p.AuthenticationFlows = flows.TransferMethods
			}
		}
		if d := c.Devices; !isNull(d) {
			var dev struct {
				DeviceFilter *struct {
					Mode string `json:"mode"`
					Rule string `json:"rule"`
				} `json:"deviceFilter"`
			}
			if err := json.Unmarshal(d, &dev); err != nil {
				p.Notes = append(p.Notes, "conditions.devices: unreadable, "+describeJSONError(err).Error())
			} else if dev.DeviceFilter != nil {
				p.DeviceFilter, p.DeviceFilterMode = dev.DeviceFilter.Rule, dev.DeviceFilter.Mode
			}
		}
	}
	if g := w.GrantControls; g != nil {
		gc := &GrantControls{BuiltInControls: g.BuiltInControls, CustomAuthenticationFactors: g.CustomAuthenticationFactors, TermsOfUse: g.TermsOfUse}
		if g.Operator != nil {
			gc.Operator = *g.Operator
		}
		if s := g.AuthenticationStrength; s != nil {
			gc.AuthenticationStrength = s.model(nil)
		}
		p.Grant = gc
	}
	p.SessionControls = hasSessionControls(w.SessionControls)
	return p, nil
}

// DecodeStrength reads one authenticationStrengthPolicy (an item of the
// authentication_strength_policies dataset).
func DecodeStrength(raw json.RawMessage) (Strength, error) {
	name := policyName(raw)
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Strength{}, fmt.Errorf("authentication strength %s: not a JSON object", name)
	}
	var w wireStrength
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return Strength{}, fmt.Errorf("authentication strength %s: %w", name, describeJSONError(err))
	}
	if w.ID == nil || *w.ID == "" {
		return Strength{}, fmt.Errorf("authentication strength %s: id is missing", name)
	}
	return *w.model(trimmed), nil
}

func (s *wireStrength) model(raw []byte) *Strength {
	m := &Strength{AllowedCombinations: s.AllowedCombinations}
	if raw != nil {
		m.Raw = append(json.RawMessage(nil), raw...)
	}
	for dst, src := range map[*string]*string{&m.ID: s.ID, &m.DisplayName: s.DisplayName, &m.PolicyType: s.PolicyType, &m.RequirementsSatisfied: s.RequirementsSatisfied} {
		if src != nil {
			*dst = *src
		}
	}
	return m
}

func (g *wireGuestsOrExternal) model() *GuestsOrExternal {
	if g == nil {
		return nil
	}
	m := &GuestsOrExternal{}
	if g.GuestOrExternalUserTypes != nil {
		for _, t := range strings.Split(*g.GuestOrExternalUserTypes, ",") {
			if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, "none") {
				m.Types = append(m.Types, t)
			}
		}
	}
	if et := g.ExternalTenants; et != nil {
		if et.MembershipKind != nil {
			m.MembershipKind = *et.MembershipKind
		}
		m.Members = et.Members
	}
	return m
}

func (f *wireFilter) get() (mode, rule string) {
	if f == nil {
		return "", ""
	}
	if f.Mode != nil {
		mode = *f.Mode
	}
	if f.Rule != nil {
		rule = *f.Rule
	}
	return mode, rule
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func (p *Policy) lenientStrings(path string, raw json.RawMessage) []string {
	if isNull(raw) {
		return nil
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		p.Notes = append(p.Notes, path+": unreadable, "+describeJSONError(err).Error())
		return nil
	}
	return out
}

func (p *Policy) lenientString(path string, raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		p.Notes = append(p.Notes, path+": unreadable, "+describeJSONError(err).Error())
	}
	return out
}

func (p *Policy) lenientIncludeExclude(path string, raw json.RawMessage, inc, exc string) *IncludeExclude {
	if isNull(raw) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.Notes = append(p.Notes, path+": unreadable, "+describeJSONError(err).Error())
		return nil
	}
	return &IncludeExclude{
		Include: p.lenientStrings(path+"."+inc, m[inc]),
		Exclude: p.lenientStrings(path+"."+exc, m[exc]),
	}
}

func hasSessionControls(raw json.RawMessage) bool {
	if isNull(raw) {
		return false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		// Something is there, in a shape we do not know: say it is present.
		return true
	}
	for k, v := range m {
		if strings.HasPrefix(k, "@odata") || isNull(v) {
			continue
		}
		return true
	}
	return false
}

// policyName names a policy for an error from whatever of id and
// displayName can be read, without trusting the rest of the document.
func policyName(raw json.RawMessage) string {
	var n struct {
		ID          json.RawMessage `json:"id"`
		DisplayName json.RawMessage `json:"displayName"`
	}
	_ = json.Unmarshal(raw, &n)
	var id, dn string
	_ = json.Unmarshal(n.ID, &id)
	_ = json.Unmarshal(n.DisplayName, &dn)
	id, dn = clip(id), clip(dn)
	switch {
	case id != "" && dn != "":
		return fmt.Sprintf("%q (%s)", dn, id)
	case id != "":
		return id
	case dn != "":
		return fmt.Sprintf("%q", dn)
	}
	return "(without id)"
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// describeJSONError names the field path of a type error
// ("conditions.users.includeUsers: got string, want array of strings").
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(document)"
		}
		return fmt.Errorf("%s: got JSON %s, want %s", field, te.Value, goTypeWord(te.Type.String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	}
	return err
}

func goTypeWord(t string) string {
	switch t {
	case "[]string":
		return "an array of strings"
	case "string", "*string":
		return "a string"
	}
	if strings.HasPrefix(t, "*capolicy.wire") || strings.HasPrefix(t, "capolicy.wire") || strings.HasPrefix(t, "struct") || strings.HasPrefix(t, "*struct") {
		return "an object"
	}
	return t
}
