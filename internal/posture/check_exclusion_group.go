package posture

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"breakglass/internal/graph/collect"
)

// exclusionGroup checks the groups through which Conditional Access
// excludes a break-glass account. Whoever can change such a group's
// membership can exempt any account from every policy that excludes it:
// the group must be protected (role-assignable, so only Privileged Role
// Administrators and Global Administrators manage it, or in a
// restricted-management administrative unit), static, cloud-managed, and
// hold the break-glass accounts and nothing else.
type exclusionGroup struct{}

func init() { Register(exclusionGroup{}) }

func (exclusionGroup) Info() Info {
	return Info{
		ID:           "exclusion-group",
		Title:        "Conditional Access exclusion group is protected",
		Severity:     SeverityHigh,
		Requirements: []string{"R19", "R13"},
		Rationale: "Break-glass accounts are commonly excluded from Conditional Access through a group (R19). Anyone who can add a " +
			"member to that group gets the same exemption, so the group must be role-assignable or restricted-management, have " +
			"static cloud membership (R13: no dependency on on-premises), few members, and none besides the break-glass accounts.",
		PerAccount: true,
		Order:      90,
	}
}

const (
	caSource       = "conditional_access_policies: GET /v1.0/identity/conditionalAccess/policies"
	caGroupsSource = "ca_groups: GET /beta/groups/{id}"
	memberOfSource = "member_of.{id}: GET /v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group"
)

// caExcludedGroups returns, per lower-case group id, the display names of
// the policies whose conditions.users.excludeGroups name it, and the
// policies whose users condition could not be read.
func caExcludedGroups(t *Tenant) (map[string][]string, []string) {
	out := map[string][]string{}
	var bad []string
	for i, raw := range t.ConditionalAccessPolicies {
		var p struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
			Conditions  struct {
				Users struct {
					ExcludeGroups []string `json:"excludeGroups"`
				} `json:"users"`
			} `json:"conditions"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			bad = append(bad, fmt.Sprintf("conditional_access_policies[%d]: %v", i, err))
			continue
		}
		name := p.DisplayName
		if name == "" {
			name = p.ID
		}
		for _, g := range p.Conditions.Users.ExcludeGroups {
			g = strings.ToLower(g)
			if !slices.Contains(out[g], name) {
				out[g] = append(out[g], name)
			}
		}
	}
	return out, bad
}

func (c exclusionGroup) Run(env *Env) []Result {
	info := c.Info()
	t := env.Tenant
	bg := breakGlassIDs(t)
	limit := env.Options.MaxExclusionGroupMembers
	limitFrom := "audit.max_exclusion_group_members"
	if limit <= 0 {
		limit, limitFrom = len(bg), "the number of break-glass accounts"
	}
	missing, isMissing := t.Missing(collect.DatasetConditionalAccessPolicies)
	excluded, bad := caExcludedGroups(t)
	var out []Result
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			out = append(out, unresolvedResult(info, a))
			continue
		}
		r := info.Result(a, StatusPass, "")
		r.Remediation = exclusionGroupRemedy()
		if isMissing {
			r.Status = StatusSkip
			r.Message = "Conditional Access policies could not be read: " + missing + "."
			r.Evidence = []Evidence{{Object: "conditionalAccessPolicies", Value: nil, Source: caSource, Note: missing}}
			out = append(out, r)
			continue
		}
		id := strings.ToLower(a.ID)
		groups, known := t.MemberOf[id]
		var via []string // exclusion groups holding the account
		for g := range excluded {
			if (known && slices.ContainsFunc(groups, func(x string) bool { return strings.EqualFold(x, g) })) ||
				slices.ContainsFunc(t.GroupMembers[g], func(x string) bool { return strings.EqualFold(x, id) }) {
				via = append(via, g)
			}
		}
		sort.Strings(via)
		for _, b := range bad {
			r.Evidence = append(r.Evidence, Evidence{Object: "conditionalAccessPolicy", Field: "conditions.users", Value: nil, Source: caSource,
				Note: "not readable: " + b})
		}
		if !known && len(via) == 0 {
			why, _ := t.Missing(collect.KeyedName(DatasetMemberOf, id))
			if why == "" {
				why = "not decoded"
			}
			r.Status = StatusSkip
			r.Message = "The account's group memberships were not collected, so the groups that exclude it are unknown: " + why + "."
			r.Evidence = append(r.Evidence, Evidence{Object: "user " + accountLabel(a), Field: "transitiveMemberOf", Value: nil,
				Source: memberOfSource, Note: why})
			out = append(out, r)
			continue
		}
		var fails, warns, unknown []string
		for _, g := range via {
			f, w, u, ev := c.group(t, g, excluded[g], bg, limit, limitFrom)
			fails, warns, unknown = append(fails, f...), append(warns, w...), append(unknown, u...)
			r.Evidence = append(r.Evidence, ev...)
		}
		switch {
		case len(fails) > 0:
			r.Status = StatusFail
			r.Message = capitalize(joinFew(fails, 3)) + "."
		case len(warns) > 0:
			r.Status = StatusWarn
			r.Message = capitalize(joinFew(warns, 3)) + "."
		case len(unknown) > 0:
			r.Status = StatusSkip
			r.Message = "Cannot judge the exclusion group: " + joinFew(unknown, 3) + "."
		case !known:
			// Found through a group's member list, but other excluding
			// groups whose members were not collected may hold it too.
			r.Status = StatusSkip
			r.Message = fmt.Sprintf("%s checks out, but the account's group memberships were not collected, so other groups that exclude it are unknown.",
				groupNames(t, via))
		case len(bad) > 0:
			r.Status = StatusWarn
			r.Message = fmt.Sprintf("%d Conditional Access policies could not be read, so a group excluding the account may be missed.", len(bad))
		case len(via) == 0:
			r.Message = "No Conditional Access policy excludes the account through a group (exclusions, if any, are direct)."
			r.Evidence = append(r.Evidence, Evidence{Object: "user " + accountLabel(a), Field: "transitiveMemberOf", Value: len(groups),
				Source: memberOfSource, Note: "none of these groups is in any policy's excludeGroups"})
		default:
			r.Message = fmt.Sprintf("Excluded through %s: protected, static, and holding only break-glass accounts.", groupNames(t, via))
		}
		out = append(out, r)
	}
	return out
}

// group judges one exclusion group: what fails, what is doubtful, what is
// unknown, and the evidence.
func (exclusionGroup) group(t *Tenant, gid string, policies []string, bg map[string]bool, limit int, limitFrom string) (fails, warns, unknown []string, ev []Evidence) {
	name := groupName(t, gid)
	obj := "group " + name
	ev = append(ev, Evidence{Object: obj, Field: "excluded by (conditions.users.excludeGroups)", Value: policies, Source: caSource})
	g, ok := t.Groups[gid]
	if !ok {
		why, missing := t.Missing(DatasetCAGroups)
		if !missing {
			why = "not in " + DatasetCAGroups
		}
		unknown = append(unknown, name+": group object not read ("+why+")")
		ev = append(ev, Evidence{Object: obj, Value: nil, Source: caGroupsSource, Note: "not read: " + why})
	} else {
		ev = append(ev,
			Evidence{Object: obj, Field: "isAssignableToRole", Value: g.IsAssignableToRole, Source: caGroupsSource},
			Evidence{Object: obj, Field: "isManagementRestricted", Value: g.IsManagementRestricted, Source: caGroupsSource})
		switch {
		case isTrue(g.IsAssignableToRole) || isTrue(g.IsManagementRestricted):
		case g.IsAssignableToRole != nil && g.IsManagementRestricted != nil:
			fails = append(fails, name+" is neither role-assignable nor restricted-management: a Groups Administrator, User Administrator or group owner can add anyone to it and so bypass "+
				joinFew(policies, 3))
		default:
			warns = append(warns, name+" is not role-assignable and whether it is restricted-management is unknown (isManagementRestricted not read)")
		}
		if slices.ContainsFunc(g.GroupTypes, func(s string) bool { return strings.EqualFold(s, "DynamicMembership") }) ||
			(g.MembershipRule != nil && *g.MembershipRule != "") {
			ev = append(ev, Evidence{Object: obj, Field: "membershipRule", Value: g.MembershipRule, Source: caGroupsSource})
			fails = append(fails, name+" has dynamic membership: whoever can set the attribute its rule reads joins the exclusion")
		}
		if isTrue(g.OnPremisesSyncEnabled) {
			ev = append(ev, Evidence{Object: obj, Field: "onPremisesSyncEnabled", Value: true, Source: caGroupsSource})
			fails = append(fails, name+" is synchronised from on-premises: its membership is managed outside Entra")
		}
	}
	members, known := t.GroupMembers[gid]
	if !known {
		why, _ := t.Missing(collect.KeyedName(collect.DatasetGroupMembers, gid))
		if why == "" {
			why = "not collected"
		}
		unknown = append(unknown, name+": members not read ("+why+")")
		ev = append(ev, Evidence{Object: obj, Field: "transitiveMembers", Value: nil, Source: groupMembersSource, Note: "not read: " + why})
		return
	}
	var outside []string
	for _, m := range members {
		if !bg[strings.ToLower(m)] {
			outside = append(outside, m)
		}
	}
	ev = append(ev, Evidence{Object: obj, Field: "transitiveMembers (users)", Value: len(members), Source: groupMembersSource,
		Note: fmt.Sprintf("limit %d (%s); %d not break-glass accounts", limit, limitFrom, len(outside))})
	if len(outside) > 0 {
		fails = append(fails, fmt.Sprintf("%s holds %d member(s) outside the break-glass list: %s", name, len(outside), labels(t, outside)))
	}
	if len(members) > limit {
		fails = append(fails, fmt.Sprintf("%s has %d members, more than %d (%s)", name, len(members), limit, limitFrom))
	}
	return
}

func exclusionGroupRemedy() Remediation {
	return Remediation{
		Summary: "Exclude the break-glass accounts through a dedicated role-assignable security group (or one in a restricted-management " +
			"administrative unit) with assigned, cloud-only membership, holding only the break-glass accounts. Role-assignability can " +
			"only be set when a group is created: create a new group, move the accounts, and swap it into every policy's exclusions.",
		Portal: "Entra admin center > Identity > Groups > New group (Security, \"Microsoft Entra roles can be assigned to the group\": Yes, " +
			"membership type Assigned); then Protection > Conditional Access > each policy > Users > Exclude",
		Graph: `POST https://graph.microsoft.com/v1.0/groups {"displayName":"Break-glass CA exclusion","mailEnabled":false,"mailNickname":"bg-ca-exclusion",` +
			`"securityEnabled":true,"isAssignableToRole":true}; DELETE /v1.0/groups/{id}/members/{memberId}/$ref for members that are not break-glass accounts`,
		PowerShell: `New-MgGroup -DisplayName 'Break-glass CA exclusion' -MailEnabled:$false -MailNickname bg-ca-exclusion -SecurityEnabled -IsAssignableToRole; ` +
			`Remove-MgGroupMemberByRef -GroupId <groupId> -DirectoryObjectId <memberId>`,
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func groupName(t *Tenant, gid string) string {
	if g, ok := t.Groups[strings.ToLower(gid)]; ok && g.DisplayName != "" {
		return fmt.Sprintf("%q (%s)", g.DisplayName, gid)
	}
	return gid
}

func groupNames(t *Tenant, ids []string) string {
	var out []string
	for _, id := range ids {
		out = append(out, groupName(t, id))
	}
	return strings.Join(out, ", ")
}
