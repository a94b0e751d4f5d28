package posture

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"breakglass/internal/graph/collect"
	"breakglass/internal/posture/capolicy"
)

// pimLockout checks that the PIM activation settings of Global
// Administrator and Privileged Role Administrator cannot lock the tenant
// out. Microsoft names the case: the roles are eligible, activation needs
// approval, and no approver is left; nobody can become Global
// Administrator, "unless emergency access accounts are used". So the check
// looks at both sides: whether eligible admins can still activate (a valid
// approver, an MFA method if activation asks for one, an authentication
// context no policy blocks), and whether a permanent active Global
// Administrator (the break-glass accounts) exists as the safeguard.
//
// Verdicts:
//   - activation broken, no safeguard: fail (a lockout today);
//   - activation broken, safeguard present: warn (only the break-glass
//     accounts can repair it, which means using them);
//   - activation works, no safeguard: warn (one approver removal away);
//   - activation works and a safeguard exists: pass;
//   - what cannot be read is a skip, never a pass.
type pimLockout struct{}

func init() { Register(pimLockout{}) }

func (pimLockout) Info() Info {
	return Info{
		ID:           "pim-lockout",
		Title:        "PIM activation cannot lock the tenant out",
		Severity:     SeverityHigh,
		Requirements: []string{"R4", "R5"},
		Rationale: "If Global Administrator and Privileged Role Administrator are eligible-only and activation requires an approval nobody " +
			"can give (approvers deleted, disabled or empty groups), or an MFA or authentication-context requirement nobody can meet, " +
			"administration is locked; Microsoft lists this among the reasons for emergency access accounts. The safeguard is a " +
			"permanent active Global Administrator assignment on the break-glass accounts (R4, R5).",
		PerAccount: false,
		Order:      115,
	}
}

const pimSource = "role_management_policies: GET /v1.0/policies/roleManagementPolicyAssignments?$expand=policy($expand=rules)"

type pimSubject struct {
	Type    string `json:"@odata.type"`
	UserID  string `json:"userId"`
	GroupID string `json:"groupId"`
}

type pimRule struct {
	Type    string `json:"@odata.type"`
	ID      string `json:"id"`
	Setting *struct {
		IsApprovalRequired bool `json:"isApprovalRequired"`
		ApprovalStages     []struct {
			IsEscalationEnabled bool         `json:"isEscalationEnabled"`
			Primary             []pimSubject `json:"primaryApprovers"`
			Escalation          []pimSubject `json:"escalationApprovers"`
		} `json:"approvalStages"`
	} `json:"setting"`
	IsEnabled    *bool    `json:"isEnabled"`
	ClaimValue   string   `json:"claimValue"`
	EnabledRules []string `json:"enabledRules"`
}

type pimAssignment struct {
	ID               string `json:"id"`
	PolicyID         string `json:"policyId"`
	ScopeID          string `json:"scopeId"`
	ScopeType        string `json:"scopeType"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	Policy           *struct {
		ID    string            `json:"id"`
		Rules []json.RawMessage `json:"rules"`
	} `json:"policy"`
}

// activation is what one role's activation settings allow.
type activation struct {
	state tri // yes: works; no: broken; unknown
	why   []string
	ev    []Evidence
}

func (c pimLockout) Run(env *Env) []Result {
	info := c.Info()
	t := env.Tenant
	r := info.Result(nil, StatusPass, "")
	r.Remediation = pimRemedy()
	if why, missing := t.Missing(collect.DatasetRoleManagementPolicies); missing {
		r.Status = StatusSkip
		r.Message = "The PIM role settings could not be read: " + why + "."
		r.Evidence = []Evidence{{Object: "roleManagementPolicyAssignments", Value: nil, Source: pimSource, Note: why}}
		return []Result{r}
	}
	safe, safeWhy, safeEv := permanentGlobalAdmins(t)
	r.Evidence = append(r.Evidence, safeEv...)

	overall := triYes
	var problems, unknowns []string
	for _, role := range collect.Roles {
		act := c.role(t, role)
		r.Evidence = append(r.Evidence, act.ev...)
		switch act.state {
		case triNo:
			overall = triNo
			problems = append(problems, roleName(role)+": "+strings.Join(act.why, "; "))
		case triUnknown:
			if overall != triNo {
				overall = triUnknown
			}
			unknowns = append(unknowns, roleName(role)+": "+strings.Join(act.why, "; "))
		}
	}
	guard := "no permanent active Global Administrator exists to recover"
	switch safe.state {
	case triYes:
		guard = "the permanent active Global Administrator assignment of " + safeguardNames(t, safe.why) + " keeps the tenant recoverable"
	case triUnknown:
		guard = "whether a permanent active Global Administrator exists is unknown (" + safeWhy + ")"
	}
	switch {
	case overall == triNo && safe.state == triYes:
		r.Status = StatusWarn
		r.Message = "Eligible admins cannot activate: " + strings.Join(problems, "; ") + ". Only " + guard + ": fix the role settings now."
	case overall == triNo:
		r.Status = StatusFail
		r.Message = "Lockout: eligible admins cannot activate (" + strings.Join(problems, "; ") + "), and " + guard + "."
	case overall == triUnknown && safe.state == triNo:
		r.Status = StatusWarn
		r.Message = "Activation could not be fully checked (" + strings.Join(unknowns, "; ") + "), and " + guard + "."
	case overall == triUnknown || safe.state == triUnknown:
		r.Status = StatusSkip
		var why []string
		why = append(why, unknowns...)
		if safe.state == triUnknown {
			why = append(why, guard)
		}
		r.Message = "Cannot rule out a PIM lockout: " + strings.Join(why, "; ") + "."
	case safe.state == triNo:
		r.Status = StatusWarn
		r.Message = "Activation works today, but " + guard + ": removing the last approver, or a broken MFA method, would lock the tenant."
	default:
		r.Message = "Activation of Global Administrator and Privileged Role Administrator works, and " + guard + "."
	}
	return []Result{r}
}

// role judges the activation settings of one role.
func (pimLockout) role(t *Tenant, role string) activation {
	var act activation
	name := roleName(role)
	h := roleHolders(t, role)
	if h.missing != "" {
		return activation{state: triUnknown, why: []string{"holders unknown: " + h.missing}}
	}
	var eligible []string // enabled, eligible-only users: those who would activate
	for id := range h.users {
		if h.active[id] {
			continue
		}
		if u, ok := t.Users[id]; ok && u.AccountEnabled != nil && !*u.AccountEnabled {
			continue
		}
		eligible = append(eligible, id)
	}
	sort.Strings(eligible)
	act.ev = append(act.ev, Evidence{Object: name, Field: "eligible holders", Value: len(eligible), Source: roleAssignmentsSource,
		Note: "enabled users eligible only, who activate through PIM"})
	if len(eligible) == 0 && len(h.unknownGroups) == 0 {
		if h.pimMissing != "" {
			return activation{state: triUnknown, why: []string{"eligibility unknown: " + h.pimMissing}, ev: act.ev}
		}
		act.state = triYes
		return act // nobody activates the role: its activation settings cannot lock anyone out
	}

	rules, found, bad := pimRules(t, role)
	if !found {
		act.state = triUnknown
		act.why = append(act.why, "no PIM policy assignment for the role in the snapshot")
		return act
	}
	if bad != "" {
		act.state = triUnknown
		act.why = append(act.why, bad)
		return act
	}
	act.state = triYes
	note := func(st tri, why string) {
		switch {
		case st == triNo:
			act.state = triNo
			act.why = append(act.why, why)
		case st == triUnknown && act.state != triNo:
			act.state = triUnknown
			act.why = append(act.why, why)
		}
	}

	if ap, ok := rules["approval_enduser_assignment"]; ok {
		act.ev = append(act.ev, Evidence{Object: name + " PIM policy", Field: "rules[Approval_EndUser_Assignment].setting", Value: ap.Setting, Source: pimSource})
		if ap.Setting != nil && ap.Setting.IsApprovalRequired {
			st, why, ev := approversLeft(t, role, ap, eligible)
			act.ev = append(act.ev, ev...)
			note(st, why)
		}
	}
	if en, ok := rules["enablement_enduser_assignment"]; ok {
		act.ev = append(act.ev, Evidence{Object: name + " PIM policy", Field: "rules[Enablement_EndUser_Assignment].enabledRules", Value: en.EnabledRules, Source: pimSource})
		if slices.ContainsFunc(en.EnabledRules, func(s string) bool { return strings.EqualFold(s, "MultiFactorAuthentication") }) {
			st, why := mfaCapable(t, eligible)
			note(st, why)
		}
	}
	if ac, ok := rules["authenticationcontext_enduser_assignment"]; ok && isTrue(ac.IsEnabled) && ac.ClaimValue != "" {
		act.ev = append(act.ev, Evidence{Object: name + " PIM policy", Field: "rules[AuthenticationContext_EndUser_Assignment].claimValue", Value: ac.ClaimValue, Source: pimSource})
		st, why, ev := contextBlocked(t, ac.ClaimValue, eligible)
		act.ev = append(act.ev, ev...)
		note(st, why)
	}
	for _, g := range h.unknownGroups {
		note(triUnknown, "members of group "+g+" (eligible through it) were not collected")
	}
	return act
}

// pimRules returns the rules, by lower-case id, of the role's directory
// policy.
func pimRules(t *Tenant, role string) (map[string]pimRule, bool, string) {
	for i, raw := range t.RoleManagementPolicies {
		var a pimAssignment
		if err := json.Unmarshal(raw, &a); err != nil {
			// Unreadable: it is the role's policy unless its role id says
			// otherwise.
			var id struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
			}
			if json.Unmarshal(raw, &id) != nil || id.RoleDefinitionID == "" || strings.EqualFold(id.RoleDefinitionID, role) {
				return nil, true, fmt.Sprintf("role_management_policies[%d] could not be read: %v", i, err)
			}
			continue
		}
		if !strings.EqualFold(a.RoleDefinitionID, role) || (a.ScopeID != "" && a.ScopeID != "/") {
			continue
		}
		if a.Policy == nil {
			return nil, true, fmt.Sprintf("role_management_policies[%d]: policy not expanded", i)
		}
		out := map[string]pimRule{}
		for j, rr := range a.Policy.Rules {
			var rule pimRule
			if err := json.Unmarshal(rr, &rule); err != nil {
				return nil, true, fmt.Sprintf("role_management_policies[%d].policy.rules[%d]: %v", i, j, err)
			}
			out[strings.ToLower(rule.ID)] = rule
		}
		return out, true, ""
	}
	return nil, false, ""
}

// approversLeft says whether anyone valid can approve an activation.
func approversLeft(t *Tenant, role string, ap pimRule, eligible []string) (tri, string, []Evidence) {
	var ev []Evidence
	var subjects []pimSubject
	for _, st := range ap.Setting.ApprovalStages {
		subjects = append(subjects, st.Primary...)
		if st.IsEscalationEnabled {
			subjects = append(subjects, st.Escalation...)
		}
	}
	valid := map[string]bool{}
	var invalid, unknown []string
	if len(subjects) == 0 {
		// No approvers chosen: the active Global and Privileged Role
		// Administrators are the default approvers.
		for _, r := range collect.Roles {
			h := roleHolders(t, r)
			for id := range h.active {
				if st, _ := userEnabled(t, id); st == triYes {
					valid[id] = true
				}
			}
		}
		ev = append(ev, Evidence{Object: roleName(role) + " PIM policy", Field: "approvalStages[].primaryApprovers", Value: []string{},
			Source: pimSource, Note: fmt.Sprintf("none chosen: the %d enabled active Global and Privileged Role Administrators approve", len(valid))})
	}
	deleted := deletedApprovers(t)
	for _, s := range subjects {
		switch {
		case strings.HasSuffix(s.Type, "singleUser"):
			id := strings.ToLower(s.UserID)
			st, why := userEnabled(t, id)
			if st == triUnknown && deleted[id] {
				st, why = triNo, "deleted (Graph answered 404)"
			}
			ev = append(ev, Evidence{Object: "approver " + userLabel(t, id), Field: "accountEnabled", Value: why, Source: "role_approvers: GET /v1.0/users/{id}"})
			switch st {
			case triYes:
				valid[id] = true
			case triNo:
				invalid = append(invalid, userLabel(t, id)+" "+why)
			default:
				unknown = append(unknown, userLabel(t, id)+" "+why)
			}
		case strings.HasSuffix(s.Type, "groupMembers"):
			gid := strings.ToLower(s.GroupID)
			members, ok := t.GroupMembers[gid]
			if !ok {
				why, _ := t.Missing(collect.KeyedName(collect.DatasetGroupMembers, gid))
				unknown = append(unknown, "group "+groupName(t, gid)+" members not read ("+orNull(why)+")")
				ev = append(ev, Evidence{Object: "approver group " + groupName(t, gid), Field: "transitiveMembers", Value: nil, Source: groupMembersSource, Note: why})
				continue
			}
			n, unk := 0, 0
			for _, m := range members {
				switch st, _ := userEnabled(t, strings.ToLower(m)); st {
				case triYes:
					valid[strings.ToLower(m)] = true
					n++
				case triUnknown:
					unk++
				}
			}
			ev = append(ev, Evidence{Object: "approver group " + groupName(t, gid), Field: "transitiveMembers", Value: len(members), Source: groupMembersSource,
				Note: fmt.Sprintf("%d enabled, %d of unknown state", n, unk)})
			switch {
			case n > 0:
			case unk > 0:
				unknown = append(unknown, fmt.Sprintf("group %s: %d members of unknown state", groupName(t, gid), unk))
			default:
				invalid = append(invalid, "group "+groupName(t, gid)+" has no enabled member")
			}
		default:
			unknown = append(unknown, "approver of type "+orNull(s.Type))
		}
	}
	// Nobody approves their own request: a sole eligible admin who is also
	// the sole approver cannot activate.
	if len(valid) == 1 && len(eligible) == 1 && valid[eligible[0]] {
		return triNo, "approval is required and the only approver is the only eligible admin, who cannot approve their own request", ev
	}
	bg := breakGlassIDs(t)
	nonBG := 0
	for id := range valid {
		if !bg[id] {
			nonBG++
		}
	}
	switch {
	case len(valid) > 0 && nonBG == 0:
		// Approvable, but only by signing in with a break-glass account:
		// every routine activation would spend the emergency path.
		return triNo, "approval is required and the only approvers left are break-glass accounts, so every activation means using one", ev
	case len(valid) > 0:
		return triYes, "", ev
	case len(unknown) > 0:
		return triUnknown, "approval is required and no approver could be confirmed: " + strings.Join(unknown, "; "), ev
	case len(subjects) == 0:
		return triNo, "approval is required, no approver is chosen, and there is no enabled active Global or Privileged Role Administrator to approve by default", ev
	}
	return triNo, "approval is required and no valid approver is left: " + strings.Join(invalid, "; "), ev
}

// userEnabled says whether a user exists and is enabled, as far as the
// snapshot knows.
func userEnabled(t *Tenant, id string) (tri, string) {
	u, ok := t.Users[strings.ToLower(id)]
	if !ok {
		return triUnknown, "not collected"
	}
	if u.AccountEnabled == nil {
		return triUnknown, "accountEnabled not read"
	}
	if !*u.AccountEnabled {
		return triNo, "disabled"
	}
	return triYes, "enabled"
}

// mfaCapable says whether any eligible admin can perform MFA: a method
// other than the password, or registration details saying so.
func mfaCapable(t *Tenant, eligible []string) (tri, string) {
	unknown := 0
	for _, id := range eligible {
		if ms, _, ok := methodsOf(t, id); ok {
			for _, m := range ms {
				if m.Type != "passwordAuthenticationMethod" {
					return triYes, ""
				}
			}
			continue
		}
		if reg, ok := t.Registration[id]; ok && reg != nil && reg.IsMfaRegistered != nil {
			if *reg.IsMfaRegistered {
				return triYes, ""
			}
			continue
		}
		unknown++
	}
	if unknown > 0 {
		return triUnknown, fmt.Sprintf("activation requires MFA and the methods of %d eligible admin(s) could not be read", unknown)
	}
	return triNo, "activation requires MFA and no eligible admin has an MFA method registered"
}

// contextBlocked says whether the authentication context activation asks
// for can be met by at least one eligible admin: it cannot for an admin
// whom an enabled policy on that context applies to and blocks, without
// further conditions. Applicability is capolicy.Evaluate's.
func contextBlocked(t *Tenant, claim string, eligible []string) (tri, string, []Evidence) {
	if why, missing := t.Missing(collect.DatasetConditionalAccessPolicies); missing {
		return triUnknown, "activation requires authentication context " + claim + " and the Conditional Access policies could not be read (" + why + ")", nil
	}
	var ev []Evidence
	var blocking []capolicy.Policy
	unreadable := 0
	for _, raw := range t.ConditionalAccessPolicies {
		p, err := capolicy.Decode(raw)
		if err != nil {
			if strings.Contains(string(raw), `"`+claim+`"`) {
				unreadable++
			}
			continue
		}
		if !p.Enabled() || !slices.ContainsFunc(p.Applications.IncludeAuthenticationContextClassReferences, func(s string) bool { return strings.EqualFold(s, claim) }) {
			continue
		}
		ev = append(ev, Evidence{Object: "conditionalAccessPolicy " + p.Name(), Field: "grantControls", Value: p.Grant, Source: caSource,
			Note: "applies to authentication context " + claim})
		// Evaluate lists the policy's narrowing conditions (locations,
		// platforms, …) whatever the subject: a block under conditions
		// can be stepped around.
		if capolicy.Blocks(p) && len(capolicy.Evaluate(p, capolicy.Subject{ID: "-"}).Conditions) == 0 {
			blocking = append(blocking, p)
		}
	}
	if len(blocking) == 0 {
		if unreadable > 0 {
			return triUnknown, fmt.Sprintf("activation requires authentication context %s and %d unreadable policies mention it", claim, unreadable), ev
		}
		return triYes, "", ev
	}
	unknown := 0
	for _, id := range eligible {
		blocked := false
		open := true
		for _, p := range blocking {
			ap := capolicy.Evaluate(p, t.CASubject(id))
			switch {
			case ap.Unknown:
				open = false
			case ap.Applies:
				blocked = true
			}
		}
		switch {
		case blocked:
		case open && unreadable == 0:
			return triYes, "", ev // this admin can meet the context
		default:
			unknown++
		}
	}
	if unknown > 0 {
		return triUnknown, fmt.Sprintf("activation requires authentication context %s, which %s blocks; whether it blocks %d eligible admin(s) is unknown",
			claim, blocking[0].Name(), unknown), ev
	}
	return triNo, fmt.Sprintf("activation requires authentication context %s, which %s blocks for every eligible admin", claim, blocking[0].Name()), ev
}

// permanentGlobalAdmins finds the safeguard: enabled users holding Global
// Administrator directly, active and without end. state yes carries their
// ids in why, break-glass accounts first.
func permanentGlobalAdmins(t *Tenant) (activation, string, []Evidence) {
	role := collect.RoleGlobalAdministrator
	var found []string // lower-case user ids
	add := func(id string) {
		id = strings.ToLower(id)
		if st, _ := userEnabled(t, id); st == triYes && !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	why, pimMissing := t.Missing(collect.DatasetRoleAssignmentSchedules)
	if !pimMissing {
		for _, s := range t.AssignmentSchedules {
			if strings.EqualFold(s.RoleDefinitionID, role) && strings.EqualFold(s.AssignmentType, "Assigned") &&
				strings.EqualFold(s.ExpirationType, "noExpiration") && !strings.EqualFold(s.MemberType, "Group") &&
				(s.PrincipalType == "" || strings.EqualFold(s.PrincipalType, "user")) && (s.DirectoryScopeID == "" || s.DirectoryScopeID == "/") {
				add(s.PrincipalID)
			}
		}
	} else if f, ok := snapshotFailure(t, collect.DatasetRoleAssignmentSchedules); ok && f.Reason == collect.ReasonLicence {
		// Without a PIM licence every assignment is permanent and active.
		if _, missing := t.Missing(collect.DatasetRoleAssignments); !missing {
			pimMissing = false
			for _, ra := range t.RoleAssignments {
				if strings.EqualFold(ra.RoleDefinitionID, role) && (ra.PrincipalType == "" || strings.EqualFold(ra.PrincipalType, "user")) {
					add(ra.PrincipalID)
				}
			}
		}
	}
	bg := breakGlassIDs(t)
	// Break-glass accounts first: they are the safeguard the guidance means.
	slices.SortFunc(found, func(a, b string) int {
		if bg[a] != bg[b] {
			if bg[a] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var names []string
	for _, id := range found {
		names = append(names, userLabel(t, id))
	}
	ev := []Evidence{{Object: "Global Administrator", Field: "permanent active direct assignments (enabled users)", Value: names,
		Source: "role_assignment_schedules: GET /v1.0/roleManagement/directory/roleAssignmentSchedules"}}
	switch {
	case len(found) > 0:
		return activation{state: triYes, why: found}, "", ev
	case pimMissing:
		ev[0].Note = "not read: " + why
		return activation{state: triUnknown}, why, ev
	}
	return activation{state: triNo}, "", ev
}

func pimRemedy() Remediation {
	return Remediation{
		Summary: "Keep at least two break-glass accounts with permanent active Global Administrator. In the PIM settings of Global " +
			"Administrator and Privileged Role Administrator, name approvers that exist and are enabled (two or more, or a group " +
			"with enabled members), and do not require an authentication context that a policy blocks.",
		Portal: "Entra admin center > Identity governance > Privileged Identity Management > Microsoft Entra roles > Settings > " +
			"Global Administrator (and Privileged Role Administrator) > Edit > Activation > Require approval to activate > Select approvers",
		Graph: "GET https://graph.microsoft.com/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole' " +
			"and roleDefinitionId eq '62e90394-69f5-4237-9190-012177145e10'&$expand=policy($expand=rules); then PATCH " +
			"/v1.0/policies/roleManagementPolicies/{policyId}/rules/Approval_EndUser_Assignment with the new approvalStages",
		PowerShell: "Update-MgPolicyRoleManagementPolicyRule -UnifiedRoleManagementPolicyId <policyId> " +
			"-UnifiedRoleManagementPolicyRuleId Approval_EndUser_Assignment -BodyParameter $rule",
	}
}

// deletedApprovers is the set of approver ids Graph answered 404 for.
func deletedApprovers(t *Tenant) map[string]bool {
	out := map[string]bool{}
	for _, id := range t.ApproversNotFound {
		out[strings.ToLower(id)] = true
	}
	return out
}

// safeguardNames names the permanent Global Administrators for a message:
// the break-glass ones, then a count of the others (the evidence lists
// them all).
func safeguardNames(t *Tenant, ids []string) string {
	bg := breakGlassIDs(t)
	var names []string
	others := 0
	for _, id := range ids {
		if bg[id] {
			names = append(names, userLabel(t, id))
		} else {
			others++
		}
	}
	switch {
	case len(names) == 0:
		return labels(t, ids) + " (none of them a break-glass account)"
	case others > 0:
		return fmt.Sprintf("%s (break-glass) and %d other(s)", strings.Join(names, ", "), others)
	}
	return strings.Join(names, ", ") + " (break-glass)"
}

// snapshotFailure is Snapshot.Failure, false for a tenant built without a
// snapshot.
func snapshotFailure(t *Tenant, name string) (collect.Failure, bool) {
	if t.Snapshot == nil {
		return collect.Failure{}, false
	}
	return t.Snapshot.Failure(name)
}
