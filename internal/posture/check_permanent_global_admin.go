package posture

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/graph/collect"
)

// permanentGACheck: Global Administrator is held directly, active and
// permanently, at the tenant scope.
type permanentGACheck struct{}

func init() { Register(permanentGACheck{}) }

var permanentGAInfo = Info{
	ID:           "permanent-global-admin",
	Title:        "Break-glass account holds Global Administrator directly, active and permanent",
	Severity:     SeverityHigh,
	Requirements: []string{"R4", "R5"},
	Rationale: "In an emergency there may be no one to approve a PIM activation, no MFA for it, or no working group " +
		"management: the guidance asks for Global Administrator as a permanent active assignment, not an eligible one (R4, R5). " +
		"A time-bound assignment silently lapses, and one held only through a group is lost when the group is changed.",
	PerAccount: true,
	Order:      40,
}

func (permanentGACheck) Info() Info { return permanentGAInfo }

func (permanentGACheck) Run(env *Env) []Result {
	t := env.Tenant
	info := permanentGAInfo
	raReason, raMissing := t.Missing(collect.DatasetRoleAssignments)
	schReason, schMissing := t.Missing(collect.DatasetRoleAssignmentSchedules)
	if raMissing && schMissing {
		if len(t.Accounts) == 0 {
			return noAccounts(info)
		}
		return skipEach(info, t, raReason+"; "+schReason)
	}
	// Without PIM (no Entra ID P2 licence) there are no schedules, and
	// every assignment in roleAssignments is permanent.
	noPIM := false
	if f, ok := failureOf(t, collect.DatasetRoleAssignmentSchedules); schMissing && ok && f.Reason == collect.ReasonLicence {
		noPIM = true
	}
	_, eligMissing := t.Missing(collect.DatasetRoleEligibilitySchedules)
	now := auditNow(env.Options)
	return accountVerdicts(info, t, func(a *AccountInfo, u *User) Result {
		uid := strings.ToLower(a.ID)
		groups := userGroups(t, uid)
		holds := func(principal string) (direct, viaGroup bool) {
			p := strings.ToLower(principal)
			return p == uid, slices.Contains(groups, p)
		}
		var (
			ev                                    []Evidence
			directActive, groupActive, otherScope bool
			permanent, timeBound, activated, elig bool
			pimDirect, pimInvalid, notStarted     bool
			expires, starts                       string
			groupName                             string
		)
		for _, ra := range t.RoleAssignments {
			if ra.RoleDefinitionID != collect.RoleGlobalAdministrator {
				continue
			}
			direct, viaGroup := holds(ra.PrincipalID)
			if !direct && !viaGroup {
				continue
			}
			e := Evidence{Object: "roleAssignment " + ra.ID, Field: "principalId, directoryScopeId", Value: ra.PrincipalID + " at " + ra.DirectoryScopeID, Source: t.Source(collect.DatasetRoleAssignments)}
			switch {
			case ra.DirectoryScopeID != "/":
				otherScope = true
				e.Note = "scoped below the tenant"
			case direct:
				directActive = true
				e.Note = "active, direct"
			default:
				groupActive = true
				groupName = groupLabel(t, ra.PrincipalID)
				e.Note = "active through group " + groupName
			}
			ev = append(ev, e)
		}
		for _, s := range t.AssignmentSchedules {
			if s.RoleDefinitionID != collect.RoleGlobalAdministrator {
				continue
			}
			direct, viaGroup := holds(s.PrincipalID)
			if !direct && !viaGroup {
				continue
			}
			e := Evidence{Object: "roleAssignmentSchedule " + s.ID, Field: "assignmentType, memberType, scheduleInfo.expiration.type",
				Value: fmt.Sprintf("%s, %s, %s", s.AssignmentType, s.MemberType, s.ExpirationType), Source: t.Source(collect.DatasetRoleAssignmentSchedules)}
			switch {
			case s.Invalid:
				pimInvalid = true
				e.Note = "unreadable: a field had the wrong type"
			case strings.EqualFold(s.AssignmentType, "Assigned") && s.ExpirationType == "" && direct:
				pimInvalid = true
				e.Note = "no scheduleInfo.expiration: permanence unknown"
			case s.DirectoryScopeID != "/":
				otherScope = true
				e.Note = "scoped below the tenant"
			case viaGroup || strings.EqualFold(s.MemberType, "Group") || strings.EqualFold(s.MemberType, "Inherited"):
				// Inherited, like Group, is not an assignment to the
				// account itself (the guidance, and ScubaGear, want Direct).
				groupActive = true
				groupName = groupLabel(t, s.PrincipalID)
				e.Note = "through group " + groupName
			case strings.EqualFold(s.AssignmentType, "Activated"):
				activated = true
				e.Note = "an activation of an eligible assignment"
			case strings.EqualFold(s.AssignmentType, "Assigned") && s.StartDateTime != nil && s.StartDateTime.After(now):
				// A scheduled assignment: PIM lists it before it starts,
				// and until then the account holds nothing.
				notStarted, pimDirect = true, true
				starts = s.StartDateTime.UTC().Format(time.RFC3339)
				e.Note = "not active yet: starts " + starts
			case strings.EqualFold(s.AssignmentType, "Assigned") && strings.EqualFold(s.ExpirationType, "noExpiration"):
				permanent, pimDirect = true, true
				e.Note = "permanent, active, direct"
			case strings.EqualFold(s.AssignmentType, "Assigned"):
				timeBound, pimDirect = true, true
				if s.EndDateTime != nil {
					expires = s.EndDateTime.UTC().Format("2006-01-02")
					e.Note = "time-bound: ends " + expires
				} else {
					e.Note = "expiration " + s.ExpirationType + ": not permanent"
				}
			default:
				e.Note = "unrecognised assignmentType " + s.AssignmentType
			}
			ev = append(ev, e)
		}
		for _, list := range [][]RoleSchedule{t.EligibilitySchedules, t.EligibilityInstances} {
			for _, s := range list {
				if s.RoleDefinitionID != collect.RoleGlobalAdministrator {
					continue
				}
				if direct, viaGroup := holds(s.PrincipalID); direct || viaGroup {
					elig = true
					ev = append(ev, Evidence{Object: "roleEligibility " + s.ID, Field: "memberType, scheduleInfo.expiration.type",
						Value: s.MemberType + ", " + s.ExpirationType, Source: t.Source(collect.DatasetRoleEligibilitySchedules), Note: "eligible: needs activation"})
				}
			}
		}
		// The instances are the assignment as in force now: a permanent
		// schedule whose every instance ends is contradicted by them.
		var instEnds string
		instPermanent := false
		for _, s := range t.AssignmentInstances {
			if s.RoleDefinitionID != collect.RoleGlobalAdministrator || strings.ToLower(s.PrincipalID) != uid || s.DirectoryScopeID != "/" ||
				!strings.EqualFold(s.AssignmentType, "Assigned") {
				continue
			}
			if s.EndDateTime == nil && !s.Invalid {
				instPermanent = true
			} else if s.EndDateTime != nil {
				instEnds = s.EndDateTime.UTC().Format(time.RFC3339)
				ev = append(ev, Evidence{Object: "roleAssignmentScheduleInstance " + s.ID, Field: "endDateTime", Value: instEnds,
					Source: t.Source(collect.DatasetRoleAssignmentInstances), Note: "the assignment in force ends"})
			}
		}
		fix := permanentGAFix(a)
		fail := func(format string, args ...any) Result {
			r := info.Result(a, StatusFail, format, args...)
			r.Evidence, r.Remediation = evidenceOrNone(ev, t, a), fix
			return r
		}
		name := accountName(a)
		switch {
		case permanent && !raMissing && !directActive:
			// roleAssignments lists every active assignment, PIM's too:
			// a permanent schedule it does not show is not in force.
			r := info.Result(a, StatusWarn, "%s: PIM lists a permanent Global Administrator schedule, but roleAssignments holds no active direct tenant-wide assignment for it, so it may not be in force", name)
			r.Evidence, r.Remediation = evidenceOrNone(ev, t, a), fix
			return r
		case permanent && instEnds != "" && !instPermanent:
			r := info.Result(a, StatusWarn, "%s: PIM lists a permanent Global Administrator schedule, but the assignment in force (its schedule instance) ends %s", name, instEnds)
			r.Evidence, r.Remediation = ev, fix
			return r
		case permanent:
			r := info.Result(a, StatusPass, "%s holds Global Administrator directly, active and permanent", name)
			r.Evidence = ev
			return r
		case !schMissing && pimInvalid:
			r := info.Result(a, StatusError, "%s: its Global Administrator schedule is unreadable or has no expiration in the snapshot, so permanence is unknown", name)
			r.Evidence = ev
			return r
		case notStarted:
			return fail("%s holds Global Administrator only from %s: the assignment has not started, so the account holds nothing today", name, starts)
		case timeBound:
			if expires != "" {
				return fail("%s holds Global Administrator only time-bound: the assignment ends %s and must be permanent", name, expires)
			}
			return fail("%s holds Global Administrator only time-bound (not noExpiration)", name)
		case activated:
			return fail("%s holds Global Administrator only through an activation of an eligible assignment; it lapses when the activation ends", name)
		case directActive && schMissing && noPIM:
			r := info.Result(a, StatusPass, "%s holds Global Administrator directly and active; the tenant has no PIM, so the assignment is permanent", name)
			r.Evidence = ev
			return r
		case directActive && schMissing:
			r := info.Result(a, StatusWarn, "%s holds Global Administrator directly and active, but whether it is permanent is unknown: %s", name, schReason)
			r.Evidence, r.Remediation = ev, fix
			return r
		case directActive && !pimDirect:
			r := info.Result(a, StatusWarn, "%s holds Global Administrator directly per roleAssignments, but PIM lists no assignment schedule for it, so permanence is unknown", name)
			r.Evidence, r.Remediation = ev, fix
			return r
		case groupActive:
			return fail("%s holds Global Administrator only through group %s; it must be assigned directly", name, groupName)
		case elig:
			return fail("%s is only eligible for Global Administrator: it must activate first, which needs PIM, MFA and maybe approval", name)
		case otherScope:
			return fail("%s holds Global Administrator only below the tenant scope; it must be assigned at /", name)
		case eligMissing && !noPIM:
			return fail("%s holds no active Global Administrator assignment (eligible ones are unknown)", name)
		}
		return fail("%s does not hold Global Administrator", name)
	})
}

func evidenceOrNone(ev []Evidence, t *Tenant, a *AccountInfo) []Evidence {
	if len(ev) > 0 {
		return ev
	}
	return []Evidence{{Object: userObject(nil, a), Field: "Global Administrator assignments", Value: []string{},
		Source: t.Source(collect.DatasetRoleAssignments) + "; " + t.Source(collect.DatasetRoleAssignmentSchedules) + "; " + t.Source(collect.DatasetRoleEligibilitySchedules),
		Note:   "none found for this account"}}
}

func permanentGAFix(a *AccountInfo) Remediation {
	id := psUser(a)
	return Remediation{
		Summary: "Assign Global Administrator to the account itself (not to a group), as Active and Permanently assigned, at the tenant scope; remove the time-bound or eligible assignment.",
		Portal: "Entra admin center > Identity governance > Privileged Identity Management > Microsoft Entra roles > Roles > Global Administrator > " +
			"Add assignments > Assignment type: Active > Permanently assigned",
		Graph: "POST https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignmentScheduleRequests " +
			`{"action": "adminAssign", "justification": "break-glass: permanent active Global Administrator", "roleDefinitionId": "` + collect.RoleGlobalAdministrator +
			`", "directoryScopeId": "/", "principalId": "` + id + `", "scheduleInfo": {"startDateTime": "<now>", "expiration": {"type": "noExpiration"}}}`,
		PowerShell: "New-MgRoleManagementDirectoryRoleAssignmentScheduleRequest -Action adminAssign -Justification 'break-glass: permanent active Global Administrator' " +
			"-RoleDefinitionId '" + collect.RoleGlobalAdministrator + "' -DirectoryScopeId '/' -PrincipalId '" + id + "' " +
			"-ScheduleInfo @{ StartDateTime = (Get-Date).ToUniversalTime(); Expiration = @{ Type = 'noExpiration' } }",
	}
}

// userGroups returns the lower-case ids of the groups a user is in,
// transitively: from member_of and from every collected group_members.
func userGroups(t *Tenant, uid string) []string {
	uid = strings.ToLower(uid)
	groups := slices.Clone(t.MemberOf[uid])
	for gid, members := range t.GroupMembers {
		if slices.Contains(members, uid) && !slices.Contains(groups, gid) {
			groups = append(groups, gid)
		}
	}
	slices.Sort(groups)
	return groups
}

func groupLabel(t *Tenant, id string) string {
	if g := t.Group(id); g != nil && g.DisplayName != "" {
		return fmt.Sprintf("%s (%s)", g.DisplayName, id)
	}
	return id
}

// failureOf is the manifest's failure for a dataset.
func failureOf(t *Tenant, ds string) (collect.Failure, bool) {
	if t.Snapshot == nil {
		return collect.Failure{}, false
	}
	return t.Snapshot.Failure(ds)
}
