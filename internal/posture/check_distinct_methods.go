package posture

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"breakglass/internal/graph/collect"
)

// distinctMethods checks that the break-glass accounts do not sign in the
// way the other Global Administrators do. A failure of that method (an
// Authenticator outage, a phone network down, a compromised OATH seed
// store) must not take out the emergency path along with the daily one.
//
// The verdict, per break-glass account, over its methods (password and
// Temporary Access Passes ignored: one is always there, the other is not
// a standing credential):
//   - fail: a method type other than FIDO2 that another Global
//     Administrator also uses (Microsoft's own example: Authenticator on
//     the daily account, so not Authenticator on the break-glass one);
//   - warn: a FIDO2 key of the same model (AAGUID) as another Global
//     Administrator's. It is a different credential, so it is not shared,
//     but a flaw, recall or key-restriction change aimed at that model
//     hits both at once: worth a second model, not a failed audit;
//   - pass: otherwise. FIDO2 on both sides with different models passes:
//     Microsoft asks every admin to use phishing-resistant methods, so
//     failing "both use FIDO2" would fail every well-run tenant.
type distinctMethods struct{}

func init() { Register(distinctMethods{}) }

func (distinctMethods) Info() Info {
	return Info{
		ID:           "distinct-methods",
		Title:        "Methods distinct from the other Global Administrators'",
		Severity:     SeverityMedium,
		Requirements: []string{"R8"},
		Rationale: "Microsoft asks that emergency accounts do not use the same authentication methods as the other administrative " +
			"accounts (R8): if the admins use Microsoft Authenticator, the break-glass accounts use a FIDO2 key, so one method's " +
			"outage or compromise cannot disable both. FIDO2 keys are compared by AAGUID (the key model).",
		PerAccount: true,
		Order:      70,
	}
}

func (c distinctMethods) Run(env *Env) []Result {
	info := c.Info()
	t := env.Tenant
	bg := breakGlassIDs(t)
	admins := roleHolders(t, collect.RoleGlobalAdministrator)
	var others []string
	for id := range admins.users {
		if !bg[id] {
			others = append(others, id)
		}
	}
	sort.Strings(others)

	// Who uses what, among the other Global Administrators.
	typeUsers := map[string][]string{}   // method type -> admin ids
	aaguidUsers := map[string][]string{} // lower aaguid -> admin ids
	var unread []string
	for _, id := range others {
		ms, _, ok := methodsOf(t, id)
		if !ok {
			unread = append(unread, userLabel(t, id))
			continue
		}
		for _, m := range ms {
			if ignoredForComparison(m.Type) || m.Invalid {
				continue
			}
			if !slices.Contains(typeUsers[m.Type], id) {
				typeUsers[m.Type] = append(typeUsers[m.Type], id)
			}
			if m.Type == "fido2AuthenticationMethod" && m.AAGUID != "" {
				g := strings.ToLower(m.AAGUID)
				if !slices.Contains(aaguidUsers[g], id) {
					aaguidUsers[g] = append(aaguidUsers[g], id)
				}
			}
		}
	}

	var out []Result
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			out = append(out, unresolvedResult(info, a))
			continue
		}
		out = append(out, c.account(info, t, a, admins, others, typeUsers, aaguidUsers, unread))
	}
	return out
}

func (distinctMethods) account(info Info, t *Tenant, a *AccountInfo, admins holders, others []string,
	typeUsers, aaguidUsers map[string][]string, unread []string) Result {
	obj := "user " + accountLabel(a)
	r := info.Result(a, StatusPass, "")
	r.Remediation = Remediation{
		Summary: "Give the break-glass account a method the other Global Administrators do not use: a FIDO2 security key of a " +
			"different model (AAGUID) from theirs, kept in the safe. Remove the shared method from the break-glass account.",
		Portal: "Entra admin center > Identity > Users > All users > (account) > Authentication methods",
		Graph: "GET https://graph.microsoft.com/v1.0/users/" + a.ID + "/authentication/methods (compare with the admins'), " +
			"DELETE /v1.0/users/" + a.ID + "/authentication/{methodType}Methods/{methodId} for the shared one",
		PowerShell: "Get-MgUserAuthenticationMethod -UserId " + a.ID + " | Select-Object Id,@{n='Type';e={$_.AdditionalProperties['@odata.type']}}",
	}
	if admins.missing != "" {
		r.Status = StatusSkip
		r.Message = "Cannot tell who the other Global Administrators are: " + admins.missing + "."
		r.Evidence = []Evidence{{Object: "Global Administrator role", Field: "assignments", Value: nil, Source: roleAssignmentsSource, Note: admins.missing}}
		return r
	}
	ms, why, ok := methodsOf(t, a.ID)
	if !ok {
		r.Status = StatusSkip
		r.Message = "The account's authentication methods could not be read: " + why + "."
		r.Evidence = []Evidence{{Object: obj, Field: "authentication/methods", Value: nil, Source: methodsSource, Note: "not read: " + why}}
		return r
	}
	r.Evidence = append(r.Evidence, Evidence{Object: "Global Administrator role", Field: "other holders", Value: len(others),
		Source: roleAssignmentsSource, Note: "users holding the role (active or eligible, directly or through a group), break-glass accounts excluded"})

	var shared, sameModel, distinct []string
	ownUnread := 0
	for _, m := range ms {
		if ignoredForComparison(m.Type) {
			continue
		}
		if m.Invalid {
			r.Evidence = append(r.Evidence, Evidence{Object: obj, Field: "authentication/methods", Value: m.Type, Source: methodsSource,
				Note: "unreadable item: not compared"})
			ownUnread++
			continue
		}
		if m.Type == "fido2AuthenticationMethod" {
			users := aaguidUsers[strings.ToLower(m.AAGUID)]
			e := Evidence{Object: obj, Field: "authentication/methods[fido2] aaGuid", Value: m.AAGUID, Source: methodsSource}
			switch {
			case m.AAGUID == "":
				e.Note = "no AAGUID: the model cannot be compared"
				sameModel = append(sameModel, describeKey(m)+" (model unknown)")
			case len(users) > 0:
				e.Note = "same key model as " + labels(t, users)
				sameModel = append(sameModel, describeKey(m)+" also used by "+labels(t, users))
			default:
				e.Note = fmt.Sprintf("no other Global Administrator has this model (%d use FIDO2 with other models)", len(typeUsers[m.Type]))
				distinct = append(distinct, describeKey(m))
			}
			r.Evidence = append(r.Evidence, e)
			continue
		}
		users := typeUsers[m.Type]
		e := Evidence{Object: obj, Field: "authentication/methods", Value: m.Type, Source: methodsSource}
		if len(users) > 0 {
			e.Note = "also used by " + labels(t, users)
			shared = append(shared, strings.TrimSuffix(m.Type, "AuthenticationMethod")+" (also used by "+labels(t, users)+")")
		} else {
			e.Note = "no other Global Administrator uses this type"
			distinct = append(distinct, strings.TrimSuffix(m.Type, "AuthenticationMethod"))
		}
		r.Evidence = append(r.Evidence, e)
	}
	for _, u := range unread {
		r.Evidence = append(r.Evidence, Evidence{Object: "user " + u, Field: "authentication/methods", Value: nil, Source: methodsSource,
			Note: "not read: not compared"})
	}
	for _, g := range admins.unknownGroups {
		r.Evidence = append(r.Evidence, Evidence{Object: "group " + g, Field: "transitiveMembers", Value: nil, Source: groupMembersSource,
			Note: "holds Global Administrator; members not collected, so not compared"})
	}
	incomplete := len(unread) > 0 || len(admins.unknownGroups) > 0 || ownUnread > 0
	switch {
	case len(shared) > 0:
		r.Status = StatusFail
		r.Message = "Shares methods with other Global Administrators: " + strings.Join(shared, "; ") + "."
	case len(sameModel) > 0:
		r.Status = StatusWarn
		r.Message = "Same FIDO2 key model as other Global Administrators: " + strings.Join(sameModel, "; ") +
			". A different credential, but one flaw or recall of that model would hit both."
	case len(distinct) == 0:
		r.Status = StatusSkip
		r.Message = "The account has no method other than a password to compare (see phishing-resistant-credential)."
	case incomplete:
		r.Status = StatusWarn
		r.Message = fmt.Sprintf("No shared method found, but %d of the account's own methods and the methods of %d other Global Administrator(s) or group(s) could not be read.",
			ownUnread, len(unread)+len(admins.unknownGroups))
	case len(others) == 0:
		r.Message = "No other Global Administrator to share methods with."
	default:
		r.Message = fmt.Sprintf("Distinct from the %d other Global Administrator(s): %s.", len(others), strings.Join(distinct, ", "))
	}
	return r
}

func ignoredForComparison(typ string) bool {
	return typ == "passwordAuthenticationMethod" || typ == "temporaryAccessPassAuthenticationMethod"
}

func labels(t *Tenant, ids []string) string {
	const max = 3
	var out []string
	for i, id := range ids {
		if i == max {
			out = append(out, fmt.Sprintf("and %d more", len(ids)-max))
			break
		}
		out = append(out, userLabel(t, id))
	}
	return strings.Join(out, ", ")
}

// breakGlassIDs is the set of resolved break-glass user ids, lower-case.
func breakGlassIDs(t *Tenant) map[string]bool {
	out := map[string]bool{}
	for _, a := range t.Accounts {
		if a.Resolved && a.ID != "" {
			out[strings.ToLower(a.ID)] = true
		}
	}
	return out
}

const (
	roleAssignmentsSource = "role_assignments, role_*_schedule(_instance)s: GET /v1.0/roleManagement/directory/..."
	groupMembersSource    = "group_members.{id}: GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user"
)

// holders are the users holding a role, from every role dataset.
type holders struct {
	// users maps a lower-case user id to how it holds the role.
	users map[string][]string
	// active are the users holding it now (an assignment, active schedule
	// or instance), as opposed to eligible only.
	active map[string]bool
	// unknownGroups are groups holding the role whose members were not
	// collected.
	unknownGroups []string
	// missing is why the role's holders cannot be known at all.
	missing string
	// pimMissing is why eligibility is unknown (PIM datasets absent).
	pimMissing string
}

// roleHolders returns the users holding role: active assignments
// (role_assignments, any licence), and PIM assignment and eligibility
// schedules and instances where collected; group principals expand to
// their transitive user members.
func roleHolders(t *Tenant, role string) holders {
	h := holders{users: map[string][]string{}, active: map[string]bool{}}
	if why, missing := t.Missing(collect.DatasetRoleAssignments); missing {
		h.missing = why
		return h
	}
	if why, missing := t.Missing(collect.DatasetRoleEligibilitySchedules, collect.DatasetRoleEligibilityInstances); missing {
		h.pimMissing = why
	}
	seenGroup := map[string]bool{}
	add := func(principal, ptype, how string, active bool) {
		p := strings.ToLower(principal)
		if p == "" {
			return
		}
		isGroup := strings.EqualFold(ptype, "group")
		if ptype == "" {
			_, isGroup = t.Groups[p]
			if _, members := t.GroupMembers[p]; members {
				isGroup = true
			}
		}
		if strings.EqualFold(ptype, "servicePrincipal") {
			return
		}
		if isGroup {
			members, ok := t.GroupMembers[p]
			if !ok {
				if !seenGroup[p] {
					seenGroup[p] = true
					h.unknownGroups = append(h.unknownGroups, p)
				}
				return
			}
			for _, m := range members {
				addUser(&h, strings.ToLower(m), how+" through group "+p, active)
			}
			return
		}
		addUser(&h, p, how, active)
	}
	for _, ra := range t.RoleAssignments {
		if strings.EqualFold(ra.RoleDefinitionID, role) {
			add(ra.PrincipalID, ra.PrincipalType, "active assignment", true)
		}
	}
	for _, s := range append(slices.Clone(t.AssignmentSchedules), t.AssignmentInstances...) {
		if strings.EqualFold(s.RoleDefinitionID, role) {
			add(s.PrincipalID, s.PrincipalType, "active PIM assignment", true)
		}
	}
	for _, s := range append(slices.Clone(t.EligibilitySchedules), t.EligibilityInstances...) {
		if strings.EqualFold(s.RoleDefinitionID, role) {
			add(s.PrincipalID, s.PrincipalType, "eligible (PIM)", false)
		}
	}
	return h
}

func addUser(h *holders, id, how string, active bool) {
	if !slices.Contains(h.users[id], how) {
		h.users[id] = append(h.users[id], how)
	}
	if active {
		h.active[id] = true
	}
}
