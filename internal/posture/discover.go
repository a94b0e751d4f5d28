package posture

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"breakglass/internal/graph/collect"
	"breakglass/internal/posture/capolicy"
)

// Role template ids the audit reads.
const (
	RoleGlobalAdministrator         = capolicy.RoleGlobalAdministrator
	RolePrivilegedRoleAdministrator = capolicy.RolePrivilegedRoleAdministrator
)

// Candidate is a privileged user that Discover judged as a possible
// break-glass account. Discover only suggests: nothing is adopted until an
// admin adds it to accounts:.
type Candidate struct {
	ID          string `json:"id"`
	UPN         string `json:"upn"`
	DisplayName string `json:"display_name,omitempty"`
	// Score is 0..100: how much the account looks like a break-glass
	// account.
	Score int `json:"score"`
	// Likely is true when the account holds active Global Administrator
	// directly, is not known to be synced or disabled, and scores at least
	// LikelyScore. A fact that was not collected (a role holder's sync
	// state, when accounts: does not list it yet) does not rule it out:
	// its reason starts with "?", and the audit checks it once the account
	// is configured.
	Likely bool `json:"likely"`
	// Configured is true when accounts: already lists it.
	Configured bool `json:"configured"`
	// Reasons are the signals, each starting with "+" (for), "-"
	// (against) or "?" (could not tell, with why).
	Reasons []string `json:"reasons"`
	// Policies counts the enabled and report-only Conditional Access
	// policies that can target the account.
	Policies CandidatePolicies `json:"policies"`
}

// CandidatePolicies counts a candidate's Conditional Access verdicts over
// the enabled and report-only policies.
type CandidatePolicies struct {
	// Targetable is the number of policies that can target users.
	Targetable int `json:"targetable"`
	// Excluded counts those that exclude the account by id or group
	// (excludeRoles is not counted: it excludes every holder of the role).
	Excluded int `json:"excluded"`
	// ExcludedByRole counts those that exclude it only through a role.
	ExcludedByRole int `json:"excluded_by_role"`
	// ExcludedByLargeGroup counts those that exclude it only through
	// groups of more than LargeGroup members: an exempt-everyone group is
	// weak evidence.
	ExcludedByLargeGroup int `json:"excluded_by_large_group"`
	// NotIncluded counts those that do not include it at all.
	NotIncluded int `json:"not_included"`
	Applies     int `json:"applies"`
	Unknown     int `json:"unknown"`
	// Undecodable counts policies that could not be read.
	Undecodable int `json:"undecodable"`
}

// LikelyScore is the score from which a candidate is likely.
const LikelyScore = 60

// LargeGroup is the member count above which an excluding group is not
// evidence of a break-glass account (Maester skips groups over 20 for the
// same reason).
const LargeGroup = 20

// Discover suggests the break-glass accounts among the snapshot's
// privileged users (the holders of Global Administrator and Privileged
// Role Administrator, active or eligible, directly or through groups) and
// the configured accounts, best first. It judges users, never groups, and
// only users whose object is in the snapshot: the traps of "the object
// excluded from most policies" heuristics (a service-account group, a
// deleted user still excluded, a group of thousands) cannot be picked,
// since none of them is a privileged user with an object. Nothing is
// adopted: the caller shows the candidates and their reasons.
func Discover(t *Tenant) []Candidate {
	if t == nil {
		return nil
	}
	policies, undecodable, caReason, caMissing := discoverPolicies(t)
	var out []Candidate
	for _, uid := range privilegedUsers(t) {
		u := t.Users[uid]
		if u == nil {
			continue
		}
		c := Candidate{ID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName}
		c.Configured = t.isConfigured(u)
		var s scorer
		ga := t.globalAdmin(uid)
		s.add(ga.points, ga.reason)
		direct := ga.kind == gaPermanentDirect || ga.kind == gaActiveDirect
		notCloud := scoreCloudOnly(&s, u)
		enabled := true
		if u.AccountEnabled != nil && !*u.AccountEnabled {
			enabled = false
			s.add(-50, "- account is disabled (accountEnabled false): it cannot sign in in an emergency")
		} else if u.AccountEnabled == nil {
			s.add(0, "? accountEnabled was not collected")
		}
		c.Policies = scoreCA(&s, t, uid, policies, undecodable, caReason, caMissing)
		scoreMethods(&s, t, uid)
		scoreNames(&s, t, u)
		c.Score = min(max(s.score, 0), 100)
		c.Reasons = s.reasons
		c.Likely = direct && !notCloud && enabled && c.Score >= LikelyScore
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		return cmp.Or(-cmp.Compare(a.Score, b.Score), cmp.Compare(strings.ToLower(a.UPN), strings.ToLower(b.UPN)), cmp.Compare(a.ID, b.ID))
	})
	return out
}

type scorer struct {
	score   int
	reasons []string
}

func (s *scorer) add(points int, reason string) {
	s.score += points
	if reason != "" {
		s.reasons = append(s.reasons, reason)
	}
}

// privilegedUsers lists the lower-case ids of the users holding Global
// Administrator or Privileged Role Administrator in any role dataset,
// directly or through a group, and of the resolved configured accounts.
func privilegedUsers(t *Tenant) []string {
	seen := map[string]bool{}
	var ids []string
	addUser := func(id string) {
		id = strings.ToLower(id)
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	addPrincipal := func(pid, ptype, role string) {
		if !strings.EqualFold(role, RoleGlobalAdministrator) && !strings.EqualFold(role, RolePrivilegedRoleAdministrator) {
			return
		}
		pid = strings.ToLower(pid)
		if _, isUser := t.Users[pid]; isUser && (ptype == "" || ptype == "user") {
			addUser(pid)
			return
		}
		for _, m := range t.GroupMembers[pid] {
			addUser(m)
		}
	}
	for _, a := range t.RoleAssignments {
		addPrincipal(a.PrincipalID, a.PrincipalType, a.RoleDefinitionID)
	}
	for _, list := range [][]RoleSchedule{t.AssignmentSchedules, t.AssignmentInstances, t.EligibilitySchedules, t.EligibilityInstances} {
		for _, a := range list {
			addPrincipal(a.PrincipalID, a.PrincipalType, a.RoleDefinitionID)
		}
	}
	for _, a := range t.Accounts {
		if a.Resolved {
			if _, ok := t.Users[strings.ToLower(a.ID)]; ok {
				addUser(a.ID)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

func (t *Tenant) isConfigured(u *User) bool {
	for _, a := range t.Accounts {
		if a.Resolved && a.ID != "" && strings.EqualFold(a.ID, u.ID) {
			return true
		}
	}
	return false
}

type gaKind int

const (
	gaNone gaKind = iota
	gaEligible
	gaGroup
	gaTimeBound
	gaActiveDirect
	gaPermanentDirect
)

type gaVerdict struct {
	kind   gaKind
	points int
	reason string
}

// globalAdmin judges how the user holds Global Administrator: from the
// PIM schedules when they were collected, else from the active
// assignments (permanent by nature on a tenant without PIM's licence).
func (t *Tenant) globalAdmin(uid string) gaVerdict {
	isGA := func(role, scope string) bool {
		return strings.EqualFold(role, RoleGlobalAdministrator) && (scope == "/" || scope == "")
	}
	userGroups := t.MemberOf[uid]
	viaGroup := func(pid string) (string, bool) {
		pid = strings.ToLower(pid)
		if slices.Contains(t.GroupMembers[pid], uid) || slices.ContainsFunc(userGroups, func(g string) bool { return strings.EqualFold(g, pid) }) {
			return pid, true
		}
		return "", false
	}
	// Positive evidence: a schedule that is there counts even when the
	// list is incomplete (the other role's call failed).
	pimReason, pimMissing := t.absent("role_assignment_schedules")
	var group string
	if !pimMissing {
		var timeBound *RoleSchedule
		for i, s := range t.AssignmentSchedules {
			if !isGA(s.RoleDefinitionID, s.DirectoryScopeID) {
				continue
			}
			if !strings.EqualFold(s.PrincipalID, uid) {
				if g, ok := viaGroup(s.PrincipalID); ok {
					group = g
				}
				continue
			}
			if !strings.EqualFold(s.AssignmentType, "Assigned") {
				continue // an activated eligible assignment is temporary
			}
			if strings.EqualFold(s.ExpirationType, "noExpiration") || (s.EndDateTime == nil && (s.ExpirationType == "" || strings.EqualFold(s.ExpirationType, "notSpecified"))) {
				return gaVerdict{gaPermanentDirect, 35, "+ permanent active Global Administrator, assigned directly (roleAssignmentSchedules: Assigned, noExpiration)"}
			}
			timeBound = &t.AssignmentSchedules[i]
		}
		if timeBound != nil {
			until := "a set date"
			if timeBound.EndDateTime != nil {
				until = timeBound.EndDateTime.UTC().Format("2006-01-02")
			}
			return gaVerdict{gaTimeBound, 10, "- Global Administrator is time-bound (expires " + until + "): a break-glass assignment must not expire"}
		}
		// Active per roleAssignments but in no schedule: the datasets
		// disagree, so permanence is not known.
		for _, a := range t.RoleAssignments {
			if isGA(a.RoleDefinitionID, a.DirectoryScopeID) && strings.EqualFold(a.PrincipalID, uid) {
				return gaVerdict{gaActiveDirect, 25, "? active Global Administrator, assigned directly (roleAssignments), but no roleAssignmentSchedule says whether it is permanent"}
			}
		}
	} else {
		for _, a := range t.RoleAssignments {
			if !isGA(a.RoleDefinitionID, a.DirectoryScopeID) {
				continue
			}
			if strings.EqualFold(a.PrincipalID, uid) {
				if f, ok := t.failure("role_assignment_schedules"); ok && f.Reason == collect.ReasonLicence {
					return gaVerdict{gaPermanentDirect, 35, "+ active Global Administrator, assigned directly (no PIM licence: active assignments are permanent)"}
				}
				return gaVerdict{gaActiveDirect, 25, "? active Global Administrator, assigned directly; permanence unknown: " + pimReason}
			}
			if g, ok := viaGroup(a.PrincipalID); ok {
				group = g
			}
		}
	}
	if group != "" {
		return gaVerdict{gaGroup, 5, "- Global Administrator only through group " + group + ": a break-glass account should hold it directly"}
	}
	for _, list := range [][]RoleSchedule{t.EligibilitySchedules, t.EligibilityInstances} {
		for _, s := range list {
			if isGA(s.RoleDefinitionID, s.DirectoryScopeID) && strings.EqualFold(s.PrincipalID, uid) {
				return gaVerdict{gaEligible, 0, "- Global Administrator is eligible only: it needs activation (and possibly approval) when it is needed most"}
			}
		}
	}
	return gaVerdict{gaNone, 0, "- does not hold Global Administrator (listed as a Privileged Role Administrator or a configured account)"}
}

func (t *Tenant) failure(name string) (collect.Failure, bool) {
	if t.Snapshot == nil {
		return collect.Failure{}, false
	}
	return t.Snapshot.Failure(name)
}

// scoreCloudOnly scores the sync state; it returns true when the account
// is known not to be cloud-only.
func scoreCloudOnly(s *scorer, u *User) bool {
	synced := u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled
	immutable := u.OnPremisesImmutableID != nil && *u.OnPremisesImmutableID != ""
	switch {
	case synced:
		s.add(-40, "- synced from on-premises (onPremisesSyncEnabled true): unlikely, a break-glass account must be cloud-only")
		return true
	case immutable:
		s.add(-30, "- has an onPremisesImmutableId: it was, or can be, matched to an on-premises account")
		return true
	case !u.Present["onPremisesSyncEnabled"] && u.OnPremisesSyncEnabled == nil:
		s.add(0, "? onPremisesSyncEnabled was not collected (add the account to accounts: and collect again to know)")
		return false
	}
	s.add(15, "+ cloud-only (never synced from on-premises)")
	return false
}

// discoverPolicies decodes the enabled and report-only policies.
func discoverPolicies(t *Tenant) (ps []capolicy.Policy, undecodable int, reason string, missing bool) {
	if reason, missing = t.Missing("conditional_access_policies"); missing {
		return nil, 0, reason, true
	}
	for _, raw := range t.ConditionalAccessPolicies {
		p, err := capolicy.Decode(raw)
		if err != nil {
			undecodable++
			continue
		}
		if p.Disabled() {
			continue
		}
		ps = append(ps, p)
	}
	return ps, undecodable, "", false
}

func scoreCA(s *scorer, t *Tenant, uid string, ps []capolicy.Policy, undecodable int, reason string, missing bool) CandidatePolicies {
	var st CandidatePolicies
	st.Undecodable = undecodable
	if missing {
		s.add(0, "? Conditional Access exclusions unknown: "+reason)
		return st
	}
	sub := t.CASubject(uid)
	strengths := t.strengths()
	var dedicated []string
	for _, p := range ps {
		a := capolicy.Evaluate(p, sub)
		if a.Applies && p.Enabled() && slices.ContainsFunc(a.IncludedMatches, func(m capolicy.Match) bool { return m.Field == "includeUsers" && m.Value != capolicy.All }) {
			if ok, _ := capolicy.RequiresPhishingResistant(p, strengths); ok {
				dedicated = append(dedicated, p.Name())
			}
		}
		if !a.Targetable && !a.Unknown {
			continue
		}
		st.Targetable++
		switch {
		case a.Unknown:
			st.Unknown++
		case a.Excluded && onlyRoles(a.ExcludedMatches):
			st.ExcludedByRole++
		case a.Excluded && t.onlyLargeGroups(a.ExcludedMatches):
			st.ExcludedByLargeGroup++
		case a.Excluded:
			st.Excluded++
		case !a.Included:
			st.NotIncluded++
		default:
			st.Applies++
		}
	}
	if undecodable > 0 {
		s.add(0, fmt.Sprintf("? %s could not be read and not counted", plural(undecodable, "Conditional Access policy", "Conditional Access policies")))
	}
	if st.Targetable == 0 {
		s.add(0, "? no enabled or report-only Conditional Access policy can target users: exclusions tell nothing")
		return st
	}
	// Only exclusions by id or group single an account out; a role
	// exclusion covers every holder of the role.
	s.add(30*st.Excluded/st.Targetable, fmt.Sprintf("%s excluded from %d of %d enabled or report-only policies that can target users",
		sign(st.Excluded*2 >= st.Targetable), st.Excluded, st.Targetable))
	if st.Excluded == st.Targetable {
		s.add(5, "")
	}
	if st.ExcludedByRole > 0 {
		s.add(0, fmt.Sprintf("- excluded from %d only through excludeRoles, which excludes every holder of the role: not distinctive", st.ExcludedByRole))
	}
	if len(dedicated) > 0 {
		// The pattern Microsoft's current guidance asks for: a policy
		// naming the account that requires phishing-resistant MFA.
		s.add(10, "+ named in an enabled policy requiring phishing-resistant authentication: "+strings.Join(dedicated, ", "))
	}
	if st.ExcludedByLargeGroup > 0 {
		s.add(0, fmt.Sprintf("- excluded from %d only through groups of more than %d members: weak evidence", st.ExcludedByLargeGroup, LargeGroup))
	}
	if st.Unknown > 0 {
		s.add(0, fmt.Sprintf("? %s could not be judged (the account's groups or roles were not collected)", plural(st.Unknown, "policy", "policies")))
	}
	return st
}

// strengths decodes the authentication strengths by lower-case id; an
// item that does not decode is left out (a policy naming it then counts as
// not shown to require phishing resistance).
func (t *Tenant) strengths() map[string]capolicy.Strength {
	out := map[string]capolicy.Strength{}
	for _, raw := range t.AuthStrengthPolicies {
		if st, err := capolicy.DecodeStrength(raw); err == nil {
			out[strings.ToLower(st.ID)] = st
		}
	}
	return out
}

func onlyRoles(by []capolicy.Match) bool {
	for _, m := range by {
		if m.Field != "excludeRoles" {
			return false
		}
	}
	return len(by) > 0
}

// onlyLargeGroups reports whether every exclusion is through a group
// known to have more than LargeGroup members.
func (t *Tenant) onlyLargeGroups(by []capolicy.Match) bool {
	for _, m := range by {
		if m.Field != "excludeGroups" || len(t.GroupMembers[strings.ToLower(m.Value)]) <= LargeGroup {
			return false
		}
	}
	return len(by) > 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func sign(good bool) string {
	if good {
		return "+"
	}
	return "-"
}

// personalMethods are method types tied to a person or their device.
var personalMethods = map[string]string{
	"phoneAuthenticationMethod":                              "phone",
	"emailAuthenticationMethod":                              "email",
	"microsoftAuthenticatorAuthenticationMethod":             "Microsoft Authenticator",
	"softwareOathAuthenticationMethod":                       "software OATH",
	"passwordlessMicrosoftAuthenticatorAuthenticationMethod": "Microsoft Authenticator (passwordless)",
	"windowsHelloForBusinessAuthenticationMethod":            "Windows Hello for Business (one person's device)",
}

func scoreMethods(s *scorer, t *Tenant, uid string) {
	methods, ok := t.AuthMethods[uid]
	if !ok {
		why := "not collected"
		if r, missing := t.Missing(collect.KeyedName("auth_methods", uid)); missing {
			why = r
		}
		s.add(0, "? authentication methods unknown: "+why)
		return
	}
	fido2 := 0
	var personal []string
	for _, m := range methods {
		switch {
		case m.Type == "fido2AuthenticationMethod":
			fido2++
		case personalMethods[m.Type] != "":
			if !slices.Contains(personal, personalMethods[m.Type]) {
				personal = append(personal, personalMethods[m.Type])
			}
		case m.Type == "temporaryAccessPassAuthenticationMethod" && (m.IsUsable == nil || *m.IsUsable):
			personal = append(personal, "a usable Temporary Access Pass")
		}
	}
	if fido2 > 0 {
		s.add(10, "+ "+plural(fido2, "FIDO2 passkey", "FIDO2 passkeys")+" registered")
	}
	if len(personal) > 0 {
		s.add(-20, "- has methods tied to a person: "+strings.Join(personal, ", ")+" (looks like someone's admin account)")
	} else {
		s.add(10, "+ no phone, email, Authenticator or OATH method tied to a person")
	}
}

var nameHints = []string{"breakglass", "break-glass", "break glass", "break.glass", "break_glass", "emergency", "bga", "bg-admin", "bgadmin"}

func scoreNames(s *scorer, t *Tenant, u *User) {
	local, domain, _ := strings.Cut(strings.ToLower(u.UPN), "@")
	if strings.HasSuffix(domain, ".onmicrosoft.com") && !strings.Contains(local, "#ext#") {
		s.add(5, "+ UPN on a *.onmicrosoft.com domain")
	}
	name := local + " " + strings.ToLower(u.DisplayName)
	for _, h := range nameHints {
		if strings.Contains(name, h) {
			s.add(5, "+ the name suggests an emergency account ("+h+")")
			break
		}
	}
}

// CASubject is a user as Conditional Access sees it, from what the
// snapshot holds: its user type, whether it is external (#EXT# in the
// UPN), its transitive groups (member_of) and its active tenant-wide roles
// (principal_role_assignments for the break-glass users, the
// Global/Privileged Role Administrator assignments for everyone). What
// was not collected is marked unknown, so Evaluate answers Unknown rather
// than guess.
func (t *Tenant) CASubject(userID string) capolicy.Subject {
	uid := strings.ToLower(userID)
	s := capolicy.Subject{ID: userID}
	u := t.Users[uid]
	if u != nil {
		s.ID = u.ID
		s.UserType = u.UserType
		if u.UPN != "" {
			s.ExternalKnown = true
			s.External = strings.Contains(strings.ToUpper(u.UPN), "#EXT#")
		}
	}
	groups, ok := t.MemberOf[uid]
	s.Groups, s.GroupsKnown = slices.Clone(groups), ok
	inGroup := func(pid string) bool {
		return slices.ContainsFunc(s.Groups, func(g string) bool { return strings.EqualFold(g, pid) })
	}
	addRole := func(a RoleAssignment) {
		if (a.DirectoryScopeID == "/" || a.DirectoryScopeID == "") && (strings.EqualFold(a.PrincipalID, uid) || inGroup(a.PrincipalID)) {
			if !slices.ContainsFunc(s.Roles, func(r string) bool { return strings.EqualFold(r, a.RoleDefinitionID) }) {
				s.Roles = append(s.Roles, strings.ToLower(a.RoleDefinitionID))
			}
		}
	}
	for _, a := range t.PrincipalRoles {
		addRole(a)
	}
	for _, a := range t.RoleAssignments {
		addRole(a)
	}
	// principal_role_assignments covers the break-glass users (and their
	// role-assignable groups) only; for anyone else the list is partial.
	if _, missing := t.Missing("principal_role_assignments"); !missing && s.GroupsKnown && t.isConfigured(&User{ID: uid}) {
		if _, partial := t.Partial("principal_role_assignments", ""); !partial {
			s.RolesKnown = true
		}
	}
	return s
}
