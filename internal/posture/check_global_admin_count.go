package posture

import (
	"fmt"
	"slices"
	"strings"

	"breakglass/internal/graph/collect"
)

// globalAdminCountCheck: the number of Global Administrators, break-glass
// accounts included, against the CIS (2–4) and CISA (2–8) bounds.
type globalAdminCountCheck struct{}

func init() { Register(globalAdminCountCheck{}) }

// Bounds on the number of Global Administrators.
const (
	GlobalAdminsMin     = 2 // CIS and CISA
	GlobalAdminsCISMax  = 4 // CIS Microsoft 365 Foundations 1.1.3
	GlobalAdminsCISAMax = 8 // CISA SCuBA MS.AAD.7.1
)

// maxHolderEvidence caps the per-holder evidence; the count is exact.
const maxHolderEvidence = 50

var globalAdminCountInfo = Info{
	ID:           "global-admin-count",
	Title:        "Number of Global Administrators is within the CIS and CISA bounds",
	Severity:     SeverityLow,
	Requirements: []string{"R1"},
	Rationale: fmt.Sprintf("Fewer than %d Global Administrators leaves no second way in (R1); every extra one is another account "+
		"that can take over the tenant. CIS asks for %d to %d, CISA for %d to %d, counting the break-glass accounts and "+
		"eligible (PIM) assignments.", GlobalAdminsMin, GlobalAdminsMin, GlobalAdminsCISMax, GlobalAdminsMin, GlobalAdminsCISAMax),
	Order: 130,
}

func (globalAdminCountCheck) Info() Info { return globalAdminCountInfo }

type gaHolder struct {
	id, how string
}

func (globalAdminCountCheck) Run(env *Env) []Result {
	t := env.Tenant
	info := globalAdminCountInfo
	raReason, raMissing := t.Missing(collect.DatasetRoleAssignments)
	schReason, schMissing := t.Missing(collect.DatasetRoleAssignmentSchedules)
	if raMissing && schMissing {
		return []Result{info.Result(nil, StatusSkip, "cannot count Global Administrators: %s; %s", raReason, schReason)}
	}
	holders := map[string][]string{} // user id -> how it holds the role
	var unknownGroups, servicePrincipals []string
	add := func(principal, ptype, how string) {
		p := strings.ToLower(principal)
		switch principalKind(t, p, ptype) {
		case "group":
			members, ok := t.GroupMembers[p]
			if !ok {
				if !slices.Contains(unknownGroups, p) {
					unknownGroups = append(unknownGroups, p)
				}
				return
			}
			for _, m := range members {
				holders[m] = appendOnce(holders[m], how+" through group "+groupLabel(t, p))
			}
		case "servicePrincipal":
			if !slices.Contains(servicePrincipals, p) {
				servicePrincipals = append(servicePrincipals, p)
			}
		default:
			holders[p] = appendOnce(holders[p], how)
		}
	}
	for _, ra := range t.RoleAssignments {
		if ra.RoleDefinitionID == collect.RoleGlobalAdministrator {
			add(ra.PrincipalID, ra.PrincipalType, "active")
		}
	}
	for _, list := range [][]RoleSchedule{t.AssignmentSchedules, t.AssignmentInstances} {
		for _, s := range list {
			if s.RoleDefinitionID == collect.RoleGlobalAdministrator {
				add(s.PrincipalID, s.PrincipalType, "active")
			}
		}
	}
	for _, list := range [][]RoleSchedule{t.EligibilitySchedules, t.EligibilityInstances} {
		for _, s := range list {
			if s.RoleDefinitionID == collect.RoleGlobalAdministrator {
				add(s.PrincipalID, s.PrincipalType, "eligible")
			}
		}
	}
	ids := make([]string, 0, len(holders))
	for id := range holders {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(holderName(t, a), holderName(t, b)) })
	n := len(ids)
	var ev []Evidence
	ev = append(ev, Evidence{Object: "Global Administrator (" + collect.RoleGlobalAdministrator + ")", Field: "users holding the role", Value: n,
		Source: t.Source(collect.DatasetRoleAssignments) + "; " + t.Source(collect.DatasetRoleEligibilitySchedules),
		Note:   "active and eligible, direct and through groups, each user once"})
	for i, id := range ids {
		if i == maxHolderEvidence {
			ev = append(ev, Evidence{Object: "more holders", Value: n - maxHolderEvidence, Note: "not listed"})
			break
		}
		ev = append(ev, Evidence{Object: "user " + holderName(t, id), Field: "Global Administrator", Value: strings.Join(holders[id], "; ")})
	}
	var caveats []string
	if len(unknownGroups) > 0 {
		caveats = append(caveats, fmt.Sprintf("the members of %d group(s) holding the role were not collected", len(unknownGroups)))
		for _, g := range unknownGroups {
			ev = append(ev, Evidence{Object: "group " + groupLabel(t, g), Field: "Global Administrator", Value: "members unknown"})
		}
	}
	for _, ds := range []string{collect.DatasetRoleAssignments, collect.DatasetRoleAssignmentSchedules, collect.DatasetRoleAssignmentInstances,
		collect.DatasetRoleEligibilitySchedules, collect.DatasetRoleEligibilityInstances} {
		if p := t.ProblemsIn(ds); len(p) > 0 {
			caveats = append(caveats, fmt.Sprintf("%d item(s) of %s could not be read", len(p), ds))
			ev = append(ev, Evidence{Object: "snapshot " + ds, Field: "problems", Value: p, Source: t.Source(ds), Note: "left out of the count"})
		}
	}
	eligReason, eligMissing := t.Missing(collect.DatasetRoleEligibilitySchedules)
	if f, ok := failureOf(t, collect.DatasetRoleEligibilitySchedules); eligMissing && !(ok && f.Reason == collect.ReasonLicence) {
		caveats = append(caveats, "eligible assignments are unknown ("+eligReason+")")
	}
	if len(servicePrincipals) > 0 {
		ev = append(ev, Evidence{Object: "service principals", Field: "Global Administrator", Value: servicePrincipals,
			Note: "applications holding Global Administrator; not counted, but review them"})
	}
	fix := Remediation{
		Summary: fmt.Sprintf("Keep %d to %d Global Administrators (CIS; CISA allows up to %d), the break-glass accounts included: "+
			"move day-to-day admins to least-privileged roles, or add a second break-glass account if there are fewer than %d.",
			GlobalAdminsMin, GlobalAdminsCISMax, GlobalAdminsCISAMax, GlobalAdminsMin),
		Portal: "Entra admin center > Identity > Roles & admins > Global Administrator > Assignments",
		Graph: "GET https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '" +
			collect.RoleGlobalAdministrator + "'&$expand=principal",
		PowerShell: "Get-MgRoleManagementDirectoryRoleAssignment -Filter \"roleDefinitionId eq '" + collect.RoleGlobalAdministrator +
			"'\" -ExpandProperty Principal | ForEach-Object { $_.Principal.AdditionalProperties.userPrincipalName }",
	}
	unsure := len(caveats) > 0
	atLeast := ""
	if unsure {
		atLeast = "at least "
	}
	var r Result
	switch {
	case n > GlobalAdminsCISAMax:
		r = info.Result(nil, StatusFail, "%s%d Global Administrators: above the CISA maximum of %d (CIS: %d to %d)", atLeast, n, GlobalAdminsCISAMax, GlobalAdminsMin, GlobalAdminsCISMax)
		r.Remediation = fix
	case unsure:
		r = info.Result(nil, StatusWarn, "at least %d Global Administrators, but the count is incomplete: %s", n, strings.Join(caveats, "; "))
		r.Remediation = fix
		r.Remediation.Summary = "Grant the collecting application the missing read permission and collect again, so every Global Administrator is counted. " + fix.Summary
	case n < GlobalAdminsMin:
		r = info.Result(nil, StatusFail, "%d Global Administrator(s): fewer than the %d both CIS and CISA require", n, GlobalAdminsMin)
		r.Remediation = fix
	case n > GlobalAdminsCISMax:
		r = info.Result(nil, StatusWarn, "%d Global Administrators: within CISA's %d to %d, above CIS's maximum of %d", n, GlobalAdminsMin, GlobalAdminsCISAMax, GlobalAdminsCISMax)
		r.Remediation = fix
	default:
		r = info.Result(nil, StatusPass, "%d Global Administrators: within CIS's %d to %d and CISA's %d to %d", n, GlobalAdminsMin, GlobalAdminsCISMax, GlobalAdminsMin, GlobalAdminsCISAMax)
	}
	r.Evidence = ev
	return []Result{r}
}

// principalKind tells user, group or servicePrincipal apart, from the
// expanded principal or the objects the snapshot holds.
func principalKind(t *Tenant, id, ptype string) string {
	switch {
	case ptype != "":
		return ptype
	case t.Group(id) != nil:
		return "group"
	}
	if _, ok := t.GroupMembers[id]; ok {
		return "group"
	}
	return "user"
}

func holderName(t *Tenant, id string) string {
	if u := t.User(id); u != nil && u.UPN != "" {
		return u.UPN + " (" + id + ")"
	}
	return id
}

func appendOnce(l []string, s string) []string {
	if slices.Contains(l, s) {
		return l
	}
	return append(l, s)
}
