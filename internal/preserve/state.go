package preserve

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/posture"
	"breakglass/internal/posture/capolicy"
)

// State is the account's state when the incident opened: the content of
// the RefState entry (JSON). Available false says there is none, and
// Reason why.
type State struct {
	Available  bool      `json:"available"`
	Reason     string    `json:"reason,omitempty"`
	AccountID  string    `json:"account_id,omitempty"`
	AccountUPN string    `json:"account_upn,omitempty"`
	Opened     time.Time `json:"incident_opened"`
	// ReadAt is when the entry was written: soon after Opened normally,
	// later when serve was down as the incident opened (the state is then
	// that of ReadAt, not of the opening).
	ReadAt time.Time `json:"read_at"`
	// Source says where the state was read ("live posture collection
	// through Graph", ...) and Collected when.
	Source      string    `json:"source,omitempty"`
	Collected   time.Time `json:"collected,omitzero"`
	DisplayName string    `json:"display_name,omitempty"`
	Enabled     *bool     `json:"account_enabled,omitempty"`
	// Groups are the groups the account is in (transitively), as ids.
	Groups       []string      `json:"groups,omitempty"`
	Roles        []Role        `json:"roles"`
	Methods      []Method      `json:"methods"`
	CAExclusions []CAExclusion `json:"conditional_access_exclusions"`
	// Unknown lists what the snapshot did not hold (a dataset not
	// collected), so that an empty list is never read as "none".
	Unknown  []string `json:"unknown,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// Role is one directory role the account holds.
type Role struct {
	Role  string `json:"role"` // name (template id), or the id
	Scope string `json:"scope,omitempty"`
	// Kind is active (a standing assignment), pim-active (an activated or
	// time-bound PIM assignment) or eligible (PIM, not active).
	Kind string `json:"kind"`
	// Via is the group it holds the role through, "" for direct.
	Via string `json:"via,omitempty"`
}

// Method is one registered authentication method.
type Method struct {
	Type        string `json:"type"`
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// CAExclusion is a Conditional Access policy that excludes the account.
type CAExclusion struct {
	PolicyID    string   `json:"policy_id"`
	DisplayName string   `json:"display_name,omitempty"`
	State       string   `json:"state,omitempty"`
	ExcludedBy  []string `json:"excluded_by"`
}

// StateFromTenant extracts one account's state from a decoded posture
// snapshot (the live collection or the last one). The account is matched
// on its object id, else its UPN, case-insensitively; an account the
// snapshot does not hold gives a State with Available false saying so.
func StateFromTenant(t *posture.Tenant, accountID, accountUPN, source string) *State {
	st := &State{Source: source, Roles: []Role{}, Methods: []Method{}, CAExclusions: []CAExclusion{}}
	if t == nil {
		st.Reason = "no snapshot of the tenant is available"
		return st
	}
	st.Collected = t.Collected
	var u *posture.User
	for id, cand := range t.Users {
		if (accountID != "" && strings.EqualFold(id, accountID)) || (accountID == "" && accountUPN != "" && strings.EqualFold(cand.UPN, accountUPN)) {
			u = cand
			break
		}
	}
	if u == nil {
		st.Reason = "the snapshot of " + t.Collected.UTC().Format(time.RFC3339) + " does not hold this account (deleted, renamed, or not yet collected)"
		return st
	}
	st.Available = true
	id := strings.ToLower(u.ID)
	st.DisplayName, st.Enabled = u.DisplayName, u.AccountEnabled
	groups, groupsKnown := t.MemberOf[u.ID]
	if !groupsKnown {
		groups, groupsKnown = t.MemberOf[id]
	}
	st.Groups = slices.Clone(groups)
	if !groupsKnown {
		st.Unknown = append(st.Unknown, "group memberships (member_of not collected): roles through groups and group exclusions may be missing")
	}
	inGroup := map[string]bool{}
	for _, g := range groups {
		inGroup[strings.ToLower(g)] = true
	}
	via := func(principal string) (string, bool) {
		p := strings.ToLower(principal)
		switch {
		case p == id:
			return "", true
		case inGroup[p]:
			return principal, true
		}
		return "", false
	}
	var roleIDs []string
	for _, ra := range t.PrincipalRoles {
		if g, ok := via(ra.PrincipalID); ok {
			st.Roles = append(st.Roles, Role{Role: capolicy.RoleName(ra.RoleDefinitionID), Scope: ra.DirectoryScopeID, Kind: "active", Via: g})
			if ra.DirectoryScopeID == "/" || ra.DirectoryScopeID == "" {
				roleIDs = append(roleIDs, ra.RoleDefinitionID)
			}
		}
	}
	for _, rs := range t.AssignmentInstances {
		if g, ok := via(rs.PrincipalID); ok && !strings.EqualFold(rs.AssignmentType, "Assigned") {
			st.Roles = append(st.Roles, Role{Role: capolicy.RoleName(rs.RoleDefinitionID), Scope: rs.DirectoryScopeID, Kind: "pim-active", Via: g})
		}
	}
	for _, rs := range t.EligibilitySchedules {
		if g, ok := via(rs.PrincipalID); ok {
			st.Roles = append(st.Roles, Role{Role: capolicy.RoleName(rs.RoleDefinitionID), Scope: rs.DirectoryScopeID, Kind: "eligible", Via: g})
		}
	}
	ms, ok := t.AuthMethods[u.ID]
	if !ok {
		ms, ok = t.AuthMethods[id]
	}
	if !ok {
		st.Unknown = append(st.Unknown, "authentication methods (not collected)")
	}
	for _, m := range ms {
		st.Methods = append(st.Methods, Method{Type: m.Type, ID: m.ID, DisplayName: m.DisplayName})
	}
	subj := capolicy.Subject{ID: u.ID, UserType: u.UserType, Groups: groups, GroupsKnown: groupsKnown, Roles: roleIDs}
	for i, raw := range t.ConditionalAccessPolicies {
		p, err := capolicy.Decode(raw)
		if err != nil {
			st.Problems = append(st.Problems, "conditional access policy "+strconv.Itoa(i)+": "+err.Error())
			continue
		}
		a := capolicy.Evaluate(p, subj)
		if a.Excluded {
			st.CAExclusions = append(st.CAExclusions, CAExclusion{PolicyID: p.ID, DisplayName: p.DisplayName, State: p.State, ExcludedBy: a.ExcludedBy})
		}
	}
	st.Problems = append(st.Problems, t.Problems...)
	return st
}
