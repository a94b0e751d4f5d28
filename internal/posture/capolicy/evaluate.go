package capolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Subject is an account as Conditional Access sees it when it signs in.
type Subject struct {
	ID string
	// UserType is Graph's userType, "Member" or "Guest"; empty when not
	// collected (a verdict that depends on it is then Unknown).
	UserType string
	// External is true for a B2B account whose identity lives in another
	// tenant or provider (an external user), false for a local account.
	External bool
	// ExternalKnown is true when External was determined; a guest
	// dimension's verdict needs it.
	ExternalKnown bool
	// GuestType overrides the guest or external user type derived from
	// UserType and External (e.g. b2bDirectConnectUser or serviceProvider,
	// which userType cannot express).
	GuestType string
	// HomeTenantID is the tenant an external user comes from, for
	// externalTenants lists; empty when unknown.
	HomeTenantID string

	// Groups are the ids of every group the account belongs to,
	// transitively (nested membership included). GroupsKnown says the list
	// is complete. With GroupsKnown false the list may be partial: a group
	// in it is a certain membership, a group not in it is unknown (never
	// "not a member").
	Groups      []string
	GroupsKnown bool
	// DirectGroups optionally lists the groups the account is a direct
	// member of, so an explanation can say "via nested membership".
	DirectGroups []string

	// Roles are the role template ids of the account's active directory
	// role assignments at tenant scope, direct or through a role-assignable
	// group (what Conditional Access compares includeRoles and excludeRoles
	// with; eligible PIM assignments count only once activated). RolesKnown
	// says the list is complete; without it, as for Groups, a listed role
	// is certain and an unlisted one unknown.
	Roles      []string
	RolesKnown bool
}

// guestType returns the account's guest or external user type ("" for an
// internal member) and whether it is known.
func (s Subject) guestType() (string, bool) {
	if s.GuestType != "" {
		return s.GuestType, true
	}
	guest := strings.EqualFold(s.UserType, "Guest")
	member := strings.EqualFold(s.UserType, "Member")
	if !guest && !member {
		return "", false
	}
	if !s.ExternalKnown {
		// An internal member is the common case, but "Member" is also the
		// userType of a B2B collaboration member: without knowing where
		// the identity lives the type is not known.
		return "", false
	}
	switch {
	case s.External && guest:
		return GuestB2BCollaboration, true
	case s.External && member:
		return MemberB2BCollaboration, true
	case guest:
		return GuestInternal, true
	}
	return "", true
}

// Applicability is the verdict of Evaluate: whether a policy applies to an
// account, and why.
type Applicability struct {
	PolicyID    string
	DisplayName string
	State       string

	// Targetable is false for a policy that cannot target this account at
	// all: a workload or agent identity policy, includeUsers "None", a
	// guest-only policy for a member. Reason says why.
	Targetable bool
	Reason     string

	// Included and IncludedBy: the dimensions that include the account,
	// e.g. "includeUsers: All" or "includeRoles: Global Administrator
	// (62e90394-…)".
	Included   bool
	IncludedBy []string
	// Excluded and ExcludedBy: every exclusion that matches the account.
	Excluded   bool
	ExcludedBy []string
	// IncludedMatches and ExcludedMatches are IncludedBy and ExcludedBy as
	// data: the field and the id or value that matched.
	IncludedMatches []Match
	ExcludedMatches []Match

	// Applies is Targetable && Included && !Excluded. It is false when
	// Unknown is true: a caller must look at Unknown first.
	Applies bool
	// Unknown is true when the verdict depends on data the Subject lacks
	// (its groups, roles, user type or home tenant); UnknownReason says
	// which.
	Unknown       bool
	UnknownReason string

	// Resource says what the policy protects: "all resources",
	// "applications: …", "user actions: …" or "authentication context: …".
	Resource string
	// UserActions and AuthContext are true for policies that protect user
	// actions (registering security information, joining devices) or an
	// authentication context rather than applications.
	UserActions bool
	AuthContext bool
	// Conditions lists what narrows the policy beyond users and resources
	// (client app types, platforms, locations, risk, device filters): a
	// policy that applies may still only act under them.
	Conditions []string
}

// Verdict is a one-word summary: applies, excluded, not-included,
// not-targetable or unknown.
func (a Applicability) Verdict() string {
	switch {
	case a.Unknown:
		return "unknown"
	case !a.Targetable:
		return "not-targetable"
	case a.Excluded:
		return "excluded"
	case !a.Included:
		return "not-included"
	}
	return "applies"
}

// Match is one user dimension that matched the account.
type Match struct {
	// Field is the users condition field, e.g. "excludeGroups".
	Field string
	// Value is the id, role template id, guest type or special value
	// ("All", "GuestsOrExternalUsers") that matched.
	Value string
}

// tri is a three-valued truth: the match is certain, impossible, or
// depends on data that was not collected.
type tri int

const (
	no tri = iota
	maybe
	yes
)

// dimension collects the matches of one side (include or exclude).
type dimension struct {
	val     tri
	by      []string
	matches []Match
	unknown []string
}

func (d *dimension) match(field, value, why string) {
	d.val = yes
	d.by = append(d.by, why)
	d.matches = append(d.matches, Match{Field: field, Value: value})
}

func (d *dimension) unsure(why string) {
	if d.val == no {
		d.val = maybe
	}
	d.unknown = append(d.unknown, why)
}

// Evaluate decides whether policy p applies to account s. It follows
// Conditional Access: included by any include dimension, excluded by any
// exclude dimension, exclusion wins. It never looks at p.State.
func Evaluate(p Policy, s Subject) Applicability {
	a := Applicability{PolicyID: p.ID, DisplayName: p.DisplayName, State: p.State, Targetable: true}
	a.Resource, a.UserActions, a.AuthContext = resource(p)
	a.Conditions = conditions(p)
	if s.ID == "" {
		a.Unknown, a.UnknownReason = true, "the account has no object id (unresolved)"
		return a
	}
	u := p.Users
	gt, gtKnown := s.guestType()

	// Which accounts could the policy target at all?
	includesPeople := false
	for _, v := range u.IncludeUsers {
		if !strings.EqualFold(v, None) {
			includesPeople = true
		}
	}
	includesPeople = includesPeople || len(u.IncludeGroups) > 0 || len(u.IncludeRoles) > 0 ||
		(u.IncludeGuestsOrExternalUsers != nil && len(u.IncludeGuestsOrExternalUsers.Types) > 0)
	if !includesPeople {
		a.Targetable = false
		switch ca := p.ClientApplications; {
		case ca != nil && len(ca.IncludeAgentIDServicePrincipals) > 0:
			a.Reason = "agent identity policy: conditions.clientApplications.includeAgentIdServicePrincipals is " + list(ca.IncludeAgentIDServicePrincipals) + "; user accounts cannot be targeted or excluded"
		case ca != nil && len(ca.IncludeServicePrincipals) > 0:
			a.Reason = "workload identity policy: conditions.clientApplications.includeServicePrincipals is " + list(ca.IncludeServicePrincipals) + "; user accounts cannot be targeted or excluded"
		case !u.Present:
			// Graph always sends conditions.users for a policy that is not
			// a workload or agent identity policy: without it the policy
			// was cut or edited, and may well target everyone.
			a.Targetable = true
			a.Unknown = true
			a.UnknownReason = "the policy has no conditions.users (and no clientApplications): its targets are unknown"
		case slices.ContainsFunc(u.IncludeUsers, func(v string) bool { return strings.EqualFold(v, None) }):
			a.Reason = "conditions.users.includeUsers is None: the policy targets no user"
		default:
			a.Reason = "conditions.users includes no user, group, role or guest type: the policy targets no user"
		}
		return a
	}

	guestOnly := len(u.IncludeGroups) == 0 && len(u.IncludeRoles) == 0
	for _, v := range u.IncludeUsers {
		if !strings.EqualFold(v, GuestsOrExternalUsers) && !strings.EqualFold(v, None) {
			guestOnly = false
		}
	}
	if guestOnly {
		switch {
		case !gtKnown:
			a.Unknown = true
			a.UnknownReason = "the policy targets only guests and external users, and the account's user type (userType, and whether it is an external identity) was not collected"
			return a
		case gt == "":
			a.Targetable = false
			a.Reason = "the policy targets only guests and external users (" + guestScope(u) + "); the account is an internal member"
			return a
		}
	}

	inc := include(u, s, gt, gtKnown)
	exc := exclude(u, s, gt, gtKnown)
	a.IncludedBy, a.ExcludedBy = inc.by, exc.by
	a.IncludedMatches, a.ExcludedMatches = inc.matches, exc.matches
	a.Included, a.Excluded = inc.val == yes, exc.val == yes
	switch {
	case guestOnly && inc.val == no:
		// A guest whose type or home tenant the policy does not list.
		a.Targetable = false
		who := gt
		if s.HomeTenantID != "" && gt != GuestInternal {
			who += ", home tenant " + s.HomeTenantID
		}
		a.Reason = "the policy targets only guests and external users (" + guestScope(u) + "); this account (" + who + ") is not among them"
	case exc.val == yes || inc.val == no:
		// Exclusion wins, and a certain non-inclusion needs nothing more.
	case inc.val == yes && exc.val == no:
		a.Applies = true
	default:
		a.Unknown = true
		a.UnknownReason = strings.Join(append(inc.unknown, exc.unknown...), "; ")
	}
	return a
}

func include(u Users, s Subject, gt string, gtKnown bool) dimension {
	var d dimension
	for _, v := range u.IncludeUsers {
		switch {
		case strings.EqualFold(v, All):
			d.match("includeUsers", All, "includeUsers: All")
		case strings.EqualFold(v, GuestsOrExternalUsers):
			guestsValue(&d, "includeUsers", gt, gtKnown)
		case strings.EqualFold(v, s.ID):
			d.match("includeUsers", v, "includeUsers: "+v+" (the account itself)")
		}
	}
	groups(&d, "includeGroups", u.IncludeGroups, s)
	roles(&d, "includeRoles", u.IncludeRoles, s)
	guests(&d, "includeGuestsOrExternalUsers", u.IncludeGuestsOrExternalUsers, s, gt, gtKnown)
	return d
}

func exclude(u Users, s Subject, gt string, gtKnown bool) dimension {
	var d dimension
	for _, v := range u.ExcludeUsers {
		switch {
		case strings.EqualFold(v, GuestsOrExternalUsers):
			guestsValue(&d, "excludeUsers", gt, gtKnown)
		case strings.EqualFold(v, s.ID):
			d.match("excludeUsers", v, "excludeUsers: "+v+" (the account itself)")
		}
	}
	groups(&d, "excludeGroups", u.ExcludeGroups, s)
	roles(&d, "excludeRoles", u.ExcludeRoles, s)
	guests(&d, "excludeGuestsOrExternalUsers", u.ExcludeGuestsOrExternalUsers, s, gt, gtKnown)
	return d
}

func guestsValue(d *dimension, field, gt string, gtKnown bool) {
	label := field + ": " + GuestsOrExternalUsers
	switch {
	case !gtKnown:
		d.unsure(label + " needs the account's user type, which was not collected")
	case gt != "":
		d.match(field, GuestsOrExternalUsers, label+" (the account is "+gt+")")
	}
}

func groups(d *dimension, field string, ids []string, s Subject) {
	if len(ids) == 0 {
		return
	}
	matched := false
	for _, g := range ids {
		if !containsFold(s.Groups, g) {
			continue
		}
		matched = true
		how := "member, directly or through nested groups"
		if len(s.DirectGroups) > 0 {
			if containsFold(s.DirectGroups, g) {
				how = "direct member"
			} else {
				how = "via nested membership"
			}
		}
		d.match(field, g, field+": "+g+" ("+how+")")
	}
	// A membership that is known is certain even when the list is
	// incomplete; only its absence needs the whole list.
	if !matched && !s.GroupsKnown {
		d.unsure(field + " lists " + fmt.Sprint(len(ids)) + " group(s) and the account's group memberships were not collected")
	}
}

func roles(d *dimension, field string, ids []string, s Subject) {
	if len(ids) == 0 {
		return
	}
	matched := false
	for _, r := range ids {
		if containsFold(s.Roles, r) {
			matched = true
			d.match(field, r, field+": "+RoleName(r))
		}
	}
	if !matched && !s.RolesKnown {
		d.unsure(field + " lists " + fmt.Sprint(len(ids)) + " role(s) and the account's active role assignments were not collected")
	}
}

func guests(d *dimension, field string, g *GuestsOrExternal, s Subject, gt string, gtKnown bool) {
	if g == nil || len(g.Types) == 0 {
		return
	}
	if !gtKnown {
		d.unsure(field + " needs the account's user type, which was not collected")
		return
	}
	if gt == "" || !containsFold(g.Types, gt) {
		return
	}
	label := field + ": " + gt
	// Internal guests belong to this tenant: externalTenants does not
	// apply to them.
	if gt == GuestInternal || g.MembershipKind == "" || strings.EqualFold(g.MembershipKind, "all") {
		d.match(field, gt, label)
		return
	}
	if s.HomeTenantID == "" {
		d.unsure(field + " lists external tenants and the account's home tenant is unknown")
		return
	}
	if containsFold(g.Members, s.HomeTenantID) {
		d.match(field, gt, label+" from tenant "+s.HomeTenantID)
	}
}

func guestScope(u Users) string {
	var parts []string
	for _, v := range u.IncludeUsers {
		if strings.EqualFold(v, GuestsOrExternalUsers) {
			parts = append(parts, "includeUsers: GuestsOrExternalUsers")
		}
	}
	if g := u.IncludeGuestsOrExternalUsers; g != nil && len(g.Types) > 0 {
		s := "includeGuestsOrExternalUsers: " + strings.Join(g.Types, ",")
		if strings.EqualFold(g.MembershipKind, "enumerated") {
			s += fmt.Sprintf(" from %d listed tenant(s)", len(g.Members))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func resource(p Policy) (desc string, userActions, authContext bool) {
	ap := p.Applications
	switch {
	case len(ap.IncludeUserActions) > 0:
		return "user actions: " + strings.Join(ap.IncludeUserActions, ", "), true, false
	case len(ap.IncludeAuthenticationContextClassReferences) > 0:
		return "authentication context: " + strings.Join(ap.IncludeAuthenticationContextClassReferences, ", "), false, true
	case AllResources(p):
		return "all resources", false, false
	case containsFold(ap.IncludeApplications, All):
		return fmt.Sprintf("all resources except %d excluded application(s)", len(ap.ExcludeApplications)), false, false
	case len(ap.IncludeApplications) > 0:
		return "applications: " + strings.Join(ap.IncludeApplications, ", "), false, false
	case ap.ApplicationFilter != "":
		return "applications matching filter: " + ap.ApplicationFilter, false, false
	}
	return "no resources", false, false
}

func conditions(p Policy) []string {
	var out []string
	if len(p.ClientAppTypes) > 0 && !(len(p.ClientAppTypes) == 1 && strings.EqualFold(p.ClientAppTypes[0], "all")) {
		out = append(out, "clientAppTypes: "+strings.Join(p.ClientAppTypes, ", "))
	}
	ie := func(name string, v *IncludeExclude) {
		if v == nil || (len(v.Include) == 0 && len(v.Exclude) == 0) {
			return
		}
		s := name + ": include " + list(v.Include)
		if len(v.Exclude) > 0 {
			s += ", exclude " + list(v.Exclude)
		}
		out = append(out, s)
	}
	ie("platforms", p.Platforms)
	ie("locations", p.Locations)
	for _, r := range []struct {
		name string
		v    []string
	}{{"signInRiskLevels", p.SignInRiskLevels}, {"userRiskLevels", p.UserRiskLevels}, {"servicePrincipalRiskLevels", p.ServicePrincipalRiskLevels}} {
		if len(r.v) > 0 {
			out = append(out, r.name+": "+strings.Join(r.v, ", "))
		}
	}
	if p.InsiderRiskLevels != "" {
		out = append(out, "insiderRiskLevels: "+p.InsiderRiskLevels)
	}
	if p.AuthenticationFlows != "" {
		out = append(out, "authenticationFlows: "+p.AuthenticationFlows)
	}
	if p.DeviceFilter != "" {
		out = append(out, "deviceFilter ("+p.DeviceFilterMode+"): "+p.DeviceFilter)
	}
	return append(out, p.Notes...)
}

func list(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	return "[" + strings.Join(v, ", ") + "]"
}

func containsFold(list []string, v string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return x == v || strings.EqualFold(x, v) })
}
