package collect

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"breakglass/internal/graph"
)

// The datasets in this file are derived from others: what a break-glass
// user belongs to, the roles Conditional Access compares it with, the
// groups that exclude it, the workflows that could disable it and the
// people who approve a role activation. Each costs calls per privileged
// user, per break-glass group, per workflow or per approver, never per
// user of the tenant.

// memberOfSelect is what the checks read from a group a privileged user
// belongs to.
var memberOfSelect = []string{
	"id", "displayName", "isAssignableToRole", "securityEnabled", "mailEnabled",
	"groupTypes", "membershipRule", "onPremisesSyncEnabled",
}

// caGroupSelect adds isManagementRestricted (beta only): a group in a
// restricted management administrative unit is as safe an exclusion as a
// role-assignable one.
var caGroupSelect = []string{
	"id", "displayName", "isAssignableToRole", "isManagementRestricted", "securityEnabled",
	"mailEnabled", "groupTypes", "membershipRule", "onPremisesSyncEnabled", "visibility",
}

var approverSelect = []string{"id", "userPrincipalName", "displayName", "accountEnabled"}

var scopeSelect = []string{"id", "userPrincipalName", "displayName", "accountEnabled"}

const memberOfPath = "/users/{id}/transitiveMemberOf/microsoft.graph.group"

// memberOf writes member_of.<id> per privileged user and returns the
// groups by lower-case user id, for the users whose groups were listed.
func (c *collector) memberOf(users []string) map[string][]json.RawMessage {
	return c.keyedLists(DatasetMemberOf, memberOfPath, graph.Query{Select: memberOfSelect}, users)
}

// groupsOf returns the groups the break-glass users are in, in order of
// first appearance, and the users whose groups are unknown.
func groupsOf(bgUsers []string, memberOf map[string][]json.RawMessage) (groups []groupRef, unknown []string) {
	seen := map[string]bool{}
	for _, u := range bgUsers {
		items, ok := memberOf[strings.ToLower(u)]
		if !ok {
			unknown = append(unknown, u)
			continue
		}
		for _, raw := range items {
			var g groupRef
			if json.Unmarshal(raw, &g) != nil || g.ID == "" || seen[strings.ToLower(g.ID)] {
				continue
			}
			seen[strings.ToLower(g.ID)] = true
			groups = append(groups, g)
		}
	}
	return groups, unknown
}

type groupRef struct {
	ID                 string `json:"id"`
	IsAssignableToRole *bool  `json:"isAssignableToRole"`
}

// principalRoles writes principal_role_assignments: every active role
// assignment, of any role, of the break-glass users and of the
// role-assignable groups they are in. Conditional Access includeRoles and
// excludeRoles are compared with these.
func (c *collector) principalRoles(bgUsers []string, memberOf map[string][]json.RawMessage) {
	const path = "/roleManagement/directory/roleAssignments"
	groups, unknown := groupsOf(bgUsers, memberOf)
	principals := slices.Clone(bgUsers)
	for _, g := range groups {
		// Only a role-assignable group can hold a directory role; an
		// unreadable flag is asked about rather than guessed.
		if g.IsAssignableToRole == nil || *g.IsAssignableToRole {
			principals = append(principals, g.ID)
		}
	}
	var calls []call
	for _, id := range principals {
		calls = append(calls, call{v: graph.V1, path: path, q: graph.Query{Filter: "principalId eq '" + quote(id) + "'", Expand: "principal"}})
	}
	name := DatasetPrincipalRoleAssignments
	_, ok := c.listDataset(name, name, endpointOf(path, graph.Query{Filter: "principalId eq '{id}'", Expand: "principal"}), graph.V1, calls)
	for _, u := range unknown {
		c.failDependent(name, memberOfFailure(u), ok, "roles held through the groups of user "+u+" are missing")
	}
}

// caGroups writes ca_groups: every group that a Conditional Access policy
// excludes and that a break-glass user is in, with group_members.<id> for
// each, so that the exclusion group can be judged (role-assignable or
// restricted, few members, none but break-glass accounts).
func (c *collector) caGroups(bgUsers []string, memberOf map[string][]json.RawMessage, policies listed) {
	name := DatasetCAGroups
	endpoint := endpointOf("/groups/{id}", graph.Query{Select: caGroupSelect})
	if !policies.ok {
		c.failDependent(name, DatasetConditionalAccessPolicies, false, "the groups Conditional Access excludes are unknown")
		return
	}
	excluded := map[string]bool{}
	for _, raw := range policies.items {
		var p struct {
			Conditions struct {
				Users struct {
					ExcludeGroups []string `json:"excludeGroups"`
				} `json:"users"`
			} `json:"conditions"`
		}
		_ = json.Unmarshal(raw, &p) // an undecodable policy is the audit's to report
		for _, g := range p.Conditions.Users.ExcludeGroups {
			excluded[strings.ToLower(g)] = true
		}
	}
	groups, unknown := groupsOf(bgUsers, memberOf)
	var ids []string
	for _, g := range groups {
		if excluded[strings.ToLower(g.ID)] {
			ids = append(ids, g.ID)
		}
	}
	var calls []call
	for _, id := range ids {
		calls = append(calls, call{v: graph.Beta, path: "/groups/" + id, q: graph.Query{Select: caGroupSelect}, get: true})
	}
	ok := c.getDataset(name, endpoint, graph.Beta, calls, ids, false)
	for _, u := range unknown {
		c.failDependent(name, memberOfFailure(u), ok, "the excluding groups of user "+u+" are unknown")
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { c.groupMembers(id) })
	}
	wg.Wait()
}

// workflowScopes writes workflow_scope.<id>, the users in the execution
// scope of every lifecycle workflow that disables inactive users. A
// workflow whose trigger cannot be read is asked about too: it might be
// one.
func (c *collector) workflowScopes(workflows listed) {
	if !workflows.ok {
		c.failDependent(DatasetWorkflowScope, DatasetLifecycleWorkflows, false, "the workflows are unknown")
		return
	}
	var ids []string
	for _, raw := range workflows.items {
		var w struct {
			ID         string `json:"id"`
			Conditions *struct {
				Type    string `json:"@odata.type"`
				Trigger *struct {
					Type string `json:"@odata.type"`
				} `json:"trigger"`
			} `json:"executionConditions"`
		}
		if json.Unmarshal(raw, &w) != nil || w.ID == "" {
			continue // no id, nothing to ask; the audit reports the item
		}
		if w.Conditions != nil && (strings.HasSuffix(w.Conditions.Type, "onDemandExecutionOnly") ||
			w.Conditions.Trigger != nil && otherTriggers[strings.TrimPrefix(w.Conditions.Trigger.Type, "#")]) {
			continue
		}
		ids = append(ids, w.ID)
	}
	c.keyedLists(DatasetWorkflowScope, "/identityGovernance/lifecycleWorkflows/workflows/{id}/executionScope", graph.Query{Select: scopeSelect}, ids)
}

// otherTriggers are the workflow triggers known not to be about
// inactivity: joiners, movers and scheduled leavers.
var otherTriggers = map[string]bool{
	"microsoft.graph.identityGovernance.timeBasedAttributeTrigger": true,
	"microsoft.graph.identityGovernance.attributeChangeTrigger":    true,
	"microsoft.graph.identityGovernance.membershipChangeTrigger":   true,
}

// roleApprovers writes role_approvers, the users the PIM rules of the
// collected roles name as approvers, and group_members.<id> for the
// approver groups. A deleted approver is kept as a NotFoundMarker item.
func (c *collector) roleApprovers(policies listed) {
	name := DatasetRoleApprovers
	endpoint := endpointOf("/users/{id}", graph.Query{Select: approverSelect})
	if !policies.ok {
		c.failDependent(name, DatasetRoleManagementPolicies, false, "the approvers are unknown")
		return
	}
	users, groups := approvers(policies.items)
	var calls []call
	for _, id := range users {
		calls = append(calls, call{v: graph.V1, path: "/users/" + id, q: graph.Query{Select: approverSelect}, get: true})
	}
	c.getDataset(name, endpoint, graph.V1, calls, users, true)
	var wg sync.WaitGroup
	for _, id := range groups {
		wg.Go(func() { c.groupMembers(id) })
	}
	wg.Wait()
}

// approvers picks the approver users and groups out of the approval rules
// of role management policies, in order of first appearance.
func approvers(policies []json.RawMessage) (users, groups []string) {
	type subject struct {
		Type    string `json:"@odata.type"`
		UserID  string `json:"userId"`
		GroupID string `json:"groupId"`
	}
	seen := map[string]bool{}
	add := func(list *[]string, id string) {
		if k := strings.ToLower(id); id != "" && !seen[k] {
			seen[k] = true
			*list = append(*list, id)
		}
	}
	for _, raw := range policies {
		var a struct {
			Policy struct {
				Rules []struct {
					Type    string `json:"@odata.type"`
					Setting struct {
						ApprovalStages []struct {
							Primary    []subject `json:"primaryApprovers"`
							Escalation []subject `json:"escalationApprovers"`
						} `json:"approvalStages"`
					} `json:"setting"`
				} `json:"rules"`
			} `json:"policy"`
		}
		_ = json.Unmarshal(raw, &a) // partly decoded is still worth asking about
		for _, r := range a.Policy.Rules {
			if !strings.HasSuffix(r.Type, "unifiedRoleManagementPolicyApprovalRule") {
				continue
			}
			for _, st := range r.Setting.ApprovalStages {
				for _, s := range slices.Concat(st.Primary, st.Escalation) {
					switch strings.TrimPrefix(s.Type, "#") {
					case "microsoft.graph.singleUser":
						add(&users, s.UserID)
					case "microsoft.graph.groupMembers":
						add(&groups, s.GroupID)
					}
				}
			}
		}
	}
	return users, groups
}

// getDataset fetches one object per call (keys name them) into a list
// dataset, in call order. With markNotFound, Graph answering 404 for a key
// is a fact, not a failure: the object was deleted, and the dataset holds
// {"id":key,NotFoundMarker:true} in its place. Other refusals are
// failures; the dataset is written unless every call was refused.
func (c *collector) getDataset(name, endpoint string, v graph.Version, calls []call, keys []string, markNotFound bool) bool {
	c.progress(name, "start", 0)
	f, ok := c.fetch(calls, nil)
	if !ok {
		return false
	}
	var items []json.RawMessage
	for i, ge := range f.byCall {
		switch {
		case ge == nil:
			items = append(items, f.results[i]...)
		case ge.Status == 404 && markNotFound:
			b, _ := json.Marshal(map[string]any{"id": keys[i], NotFoundMarker: true}) // strings only
			items = append(items, b)
		default:
			c.fail(failureOf(name, endpoint, ge, false))
		}
	}
	if len(calls) > 0 && len(items) == 0 {
		c.progress(name, "failed", 0)
		return false
	}
	if !c.writeList(name, endpoint, v, items) {
		return false
	}
	c.progress(name, "done", len(items))
	return true
}

// memberOfFailure names the dataset that holds a user's groups.
func memberOfFailure(user string) string { return KeyedName(DatasetMemberOf, user) }

// failDependent records that name lacks what its input, which is
// unavailable, would have given: the input's failure carried over, so
// the audit can say what to grant. written says whether name was still
// written (partial). From names the input's family, so that one record
// covers every user whose member_of is missing; the message names the
// first.
func (c *collector) failDependent(name, input string, written bool, what string) {
	c.mu.Lock()
	var from *Failure
	family, _, _ := strings.Cut(input, ".")
	for i, f := range c.failed {
		if f.Name == input || f.Name == family && from == nil {
			from = &c.failed[i]
			if f.Name == input {
				break
			}
		}
	}
	f := Failure{Name: name, Reason: ReasonError, Partial: written, From: family}
	if from != nil {
		f.Endpoint, f.Status, f.Code, f.Hint, f.Reason = from.Endpoint, from.Status, from.Code, from.Hint, from.Reason
	}
	f.Message = fmt.Sprintf("%s: %s is unavailable", what, input)
	c.mu.Unlock()
	c.fail(f)
}
