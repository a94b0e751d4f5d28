package posture

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"breakglass/internal/graph/collect"
)

// inactivityCleanup checks that nothing removes a break-glass account for
// being unused. Unused is what a break-glass account is, by design, between
// drills: a lifecycle workflow triggered by inactivity, or an access review
// of inactive users that applies its decisions on its own, would disable
// it, delete it or strip its role, silently, before the day it is needed.
type inactivityCleanup struct{}

func init() { Register(inactivityCleanup{}) }

func (inactivityCleanup) Info() Info {
	return Info{
		ID:           "inactivity-cleanup",
		Title:        "Not in scope of inactivity cleanup",
		Severity:     SeverityHigh,
		Requirements: []string{"R9"},
		Rationale: "Microsoft requires that the emergency credential must not be in scope of automated cleanup due to lack of use (R9). " +
			"Break-glass accounts are unused between drills, so a lifecycle workflow with an inactivity trigger, or an access review of " +
			"inactive users that auto-applies its decisions, removes them exactly when nobody is watching.",
		PerAccount: true,
		Order:      100,
	}
}

const (
	lcwSource        = "lifecycle_workflows: GET /v1.0/identityGovernance/lifecycleWorkflows/workflows"
	lcwScopeSource   = "workflow_scope.{id}: GET /v1.0/identityGovernance/lifecycleWorkflows/workflows/{id}/executionScope"
	reviewsSource    = "access_review_definitions: GET /v1.0/identityGovernance/accessReviews/definitions"
	inactivityTrig   = "#microsoft.graph.identityGovernance.userInactivityTrigger"
	inactiveScopeTyp = "#microsoft.graph.accessReviewInactiveUsersQueryScope"
)

// workflow is the part of a lifecycle workflow this check reads.
type workflow struct {
	ID                  string `json:"id"`
	DisplayName         string `json:"displayName"`
	Category            string `json:"category"`
	IsEnabled           *bool  `json:"isEnabled"`
	IsSchedulingEnabled *bool  `json:"isSchedulingEnabled"`
	ExecutionConditions *struct {
		Type    string `json:"@odata.type"`
		Trigger *struct {
			Type                   string `json:"@odata.type"`
			InactivityPeriodInDays *int   `json:"inactivityPeriodInDays"`
		} `json:"trigger"`
	} `json:"executionConditions"`
}

// lcwKind sorts a workflow: inactivity-triggered, unreadable trigger, or
// not about inactivity.
func (w workflow) kind() string {
	ec := w.ExecutionConditions
	switch {
	case ec == nil:
		return "unknown"
	case strings.HasSuffix(ec.Type, "onDemandExecutionOnly"):
		return "other"
	case ec.Trigger == nil:
		return "unknown"
	case ec.Trigger.Type == inactivityTrig:
		return "inactivity"
	case strings.HasSuffix(ec.Trigger.Type, "timeBasedAttributeTrigger"),
		strings.HasSuffix(ec.Trigger.Type, "attributeChangeTrigger"),
		strings.HasSuffix(ec.Trigger.Type, "membershipChangeTrigger"):
		return "other"
	}
	return "unknown"
}

// review is the part of an access review definition this check reads.
type review struct {
	ID          string          `json:"id"`
	DisplayName string          `json:"displayName"`
	Status      string          `json:"status"`
	Scope       json.RawMessage `json:"scope"`
	Enumeration json.RawMessage `json:"instanceEnumerationScope"`
	Settings    *struct {
		AutoApplyDecisionsEnabled bool   `json:"autoApplyDecisionsEnabled"`
		DefaultDecisionEnabled    bool   `json:"defaultDecisionEnabled"`
		DefaultDecision           string `json:"defaultDecision"`
		ApplyActions              []struct {
			Type string `json:"@odata.type"`
		} `json:"applyActions"`
	} `json:"settings"`
}

type finding struct {
	status Status
	text   string
}

func (c inactivityCleanup) Run(env *Env) []Result {
	info := c.Info()
	t := env.Tenant
	lcwWhy, lcwMissing := t.Missing(collect.DatasetLifecycleWorkflows)
	arWhy, arMissing := t.Missing(collect.DatasetAccessReviewDefinitions)
	var out []Result
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			out = append(out, unresolvedResult(info, a))
			continue
		}
		r := info.Result(a, StatusPass, "")
		r.Remediation = inactivityRemedy(a)
		var found []finding
		var unread []string
		if lcwMissing {
			unread = append(unread, "lifecycle workflows: "+lcwWhy)
			r.Evidence = append(r.Evidence, Evidence{Object: "lifecycle workflows", Value: nil, Source: lcwSource, Note: "not read: " + lcwWhy})
		} else {
			f, ev := c.workflows(t, a)
			found, r.Evidence = append(found, f...), append(r.Evidence, ev...)
		}
		if arMissing {
			unread = append(unread, "access reviews: "+arWhy)
			r.Evidence = append(r.Evidence, Evidence{Object: "access review definitions", Value: nil, Source: reviewsSource, Note: "not read: " + arWhy})
		} else {
			f, ev := c.reviews(t, a)
			found, r.Evidence = append(found, f...), append(r.Evidence, ev...)
		}
		st := StatusPass
		var texts []string
		// Failures first, so the message leads with what removes the account.
		slices.SortStableFunc(found, func(x, y finding) int { return slices.Index(Statuses, x.status) - slices.Index(Statuses, y.status) })
		for _, f := range found {
			st = worse(st, f.status)
			texts = append(texts, f.text)
		}
		switch {
		case st == StatusFail || st == StatusWarn:
			r.Status, r.Message = st, capitalize(joinFew(texts, 3))+"."
			if len(unread) > 0 {
				r.Message += " Not read: " + strings.Join(unread, "; ") + "."
			}
		case len(unread) > 0:
			r.Status = StatusSkip
			r.Message = "Cannot rule out inactivity cleanup: " + strings.Join(unread, "; ") + "."
		default:
			r.Message = "No lifecycle workflow or access review removes the account for inactivity."
		}
		out = append(out, r)
	}
	return out
}

func (inactivityCleanup) workflows(t *Tenant, a *AccountInfo) ([]finding, []Evidence) {
	var found []finding
	var ev []Evidence
	relevant := 0
	for i, raw := range t.LifecycleWorkflows {
		var w workflow
		if err := json.Unmarshal(raw, &w); err != nil {
			found = append(found, finding{StatusWarn, fmt.Sprintf("lifecycle workflow %d could not be read (%v): it may remove inactive users", i, err)})
			ev = append(ev, Evidence{Object: fmt.Sprintf("lifecycle_workflows[%d]", i), Value: nil, Source: lcwSource, Note: err.Error()})
			continue
		}
		kind := w.kind()
		if kind == "other" {
			continue
		}
		relevant++
		name := fmt.Sprintf("workflow %q (%s)", w.DisplayName, w.ID)
		trig := "executionConditions.trigger"
		var trigVal any
		if w.ExecutionConditions != nil && w.ExecutionConditions.Trigger != nil {
			trigVal = w.ExecutionConditions.Trigger
		}
		ev = append(ev, Evidence{Object: name, Field: trig, Value: trigVal, Source: lcwSource,
			Note: fmt.Sprintf("isEnabled %v, isSchedulingEnabled %v", boolText(w.IsEnabled), boolText(w.IsSchedulingEnabled))})
		scope, known := t.WorkflowScope[strings.ToLower(w.ID)]
		if !known {
			why, _ := t.Missing(collect.KeyedName(DatasetWorkflowScope, strings.ToLower(w.ID)))
			if why == "" {
				why = "not collected"
			}
			found = append(found, finding{StatusWarn, fmt.Sprintf("%s may remove inactive users, and its scope could not be read (%s)", name, why)})
			ev = append(ev, Evidence{Object: name, Field: "executionScope", Value: nil, Source: lcwScopeSource, Note: "not read: " + why})
			continue
		}
		in := slices.ContainsFunc(scope, func(id string) bool { return strings.EqualFold(id, a.ID) })
		ev = append(ev, Evidence{Object: name, Field: "executionScope contains the account", Value: in, Source: lcwScopeSource,
			Note: fmt.Sprintf("%d users in scope", len(scope))})
		if !in {
			continue
		}
		what := "an inactivity trigger"
		if kind == "unknown" {
			what = "a trigger this version cannot read"
		}
		if isTrue(w.IsEnabled) && isTrue(w.IsSchedulingEnabled) {
			st := StatusFail
			if kind == "unknown" {
				st = StatusWarn
			}
			found = append(found, finding{st, fmt.Sprintf("in scope of %s, which has %s and runs on schedule", name, what)})
		} else {
			found = append(found, finding{StatusWarn, fmt.Sprintf("in scope of %s, which has %s (not scheduled now, but one switch away)", name, what)})
		}
	}
	if relevant == 0 {
		ev = append(ev, Evidence{Object: "lifecycle workflows", Field: "executionConditions.trigger", Value: len(t.LifecycleWorkflows),
			Source: lcwSource, Note: "none has an inactivity trigger"})
	}
	return found, ev
}

var (
	roleQuery  = regexp.MustCompile(`(?i)roleDefinition(?:s/|Id\s+eq\s+')([0-9a-f-]{36})`)
	groupQuery = regexp.MustCompile(`(?i)/groups/([0-9a-f-]{36})`)
	guestOnly  = regexp.MustCompile(`(?i)userType\s+eq\s+'Guest'`)
)

func (inactivityCleanup) reviews(t *Tenant, a *AccountInfo) ([]finding, []Evidence) {
	var found []finding
	var ev []Evidence
	relevant := 0
	for i, raw := range t.AccessReviewDefinitions {
		var rv review
		if err := json.Unmarshal(raw, &rv); err != nil {
			found = append(found, finding{StatusWarn, fmt.Sprintf("access review %d could not be read (%v)", i, err)})
			ev = append(ev, Evidence{Object: fmt.Sprintf("access_review_definitions[%d]", i), Value: nil, Source: reviewsSource, Note: err.Error()})
			continue
		}
		var scopes []any
		for _, part := range []json.RawMessage{rv.Scope, rv.Enumeration} {
			var v any
			if len(part) > 0 && json.Unmarshal(part, &v) == nil {
				scopes = append(scopes, v)
			}
		}
		if !hasInactiveScope(scopes) {
			continue
		}
		relevant++
		name := fmt.Sprintf("access review %q (%s)", rv.DisplayName, rv.ID)
		var queries []string
		for _, s := range scopes {
			collectQueries(s, &queries)
		}
		slices.Sort(queries)
		ev = append(ev, Evidence{Object: name, Field: "scope (accessReviewInactiveUsersQueryScope) queries", Value: queries, Source: reviewsSource,
			Note: "status " + orNull(rv.Status)})
		if strings.EqualFold(rv.Status, "Completed") {
			continue // a finished review applies nothing more
		}
		cover, why := reviewCovers(t, a, queries)
		if cover == triNo {
			continue
		}
		auto := rv.Settings != nil && rv.Settings.AutoApplyDecisionsEnabled
		deny := rv.Settings != nil && rv.Settings.DefaultDecisionEnabled &&
			(strings.EqualFold(rv.Settings.DefaultDecision, "Deny") || strings.EqualFold(rv.Settings.DefaultDecision, "Recommendation"))
		action := "removes access"
		if rv.Settings != nil {
			for _, x := range rv.Settings.ApplyActions {
				if strings.HasSuffix(x.Type, "disableAndDeleteUserApplyAction") {
					action = "disables and deletes the user"
				}
			}
			ev = append(ev, Evidence{Object: name, Field: "settings", Value: rv.Settings, Source: reviewsSource})
		}
		switch {
		case cover == triUnknown:
			found = append(found, finding{StatusWarn, fmt.Sprintf("%s reviews inactive users and may cover the account (%s)", name, why)})
		case auto && deny:
			found = append(found, finding{StatusFail, fmt.Sprintf("%s covers the account (%s) and, when reviewers do not answer, auto-applies %s: it %s",
				name, why, rv.Settings.DefaultDecision, action)})
		case auto:
			found = append(found, finding{StatusWarn, fmt.Sprintf("%s covers the account (%s) and auto-applies a reviewer's deny (it %s)", name, why, action)})
		default:
			found = append(found, finding{StatusWarn, fmt.Sprintf("%s covers the account (%s): reviewers will be asked to remove an account that is unused by design", name, why)})
		}
	}
	if relevant == 0 {
		ev = append(ev, Evidence{Object: "access review definitions", Field: "scope", Value: len(t.AccessReviewDefinitions), Source: reviewsSource,
			Note: "none reviews inactive users"})
	}
	return found, ev
}

func hasInactiveScope(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if x["@odata.type"] == inactiveScopeTyp {
			return true
		}
		for _, y := range x {
			if hasInactiveScope(y) {
				return true
			}
		}
	case []any:
		for _, y := range x {
			if hasInactiveScope(y) {
				return true
			}
		}
	}
	return false
}

func collectQueries(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		if q, ok := x["query"].(string); ok {
			*out = append(*out, q)
		}
		for k, y := range x {
			if k != "query" {
				collectQueries(y, out)
			}
		}
	case []any:
		for _, y := range x {
			collectQueries(y, out)
		}
	}
}

// reviewCovers says whether a review with these scope queries covers the
// account: a role it holds, a group it is in, or all users.
func reviewCovers(t *Tenant, a *AccountInfo, queries []string) (tri, string) {
	id := strings.ToLower(a.ID)
	// Guest-only reviews (the most common inactive-user review) cannot
	// cover a member account.
	if u, ok := t.Users[id]; ok && strings.EqualFold(u.UserType, "Member") {
		for _, q := range queries {
			if guestOnly.MatchString(q) {
				return triNo, ""
			}
		}
	}
	var roles, groups []string
	for _, q := range queries {
		for _, m := range roleQuery.FindAllStringSubmatch(q, -1) {
			roles = append(roles, strings.ToLower(m[1]))
		}
		for _, m := range groupQuery.FindAllStringSubmatch(q, -1) {
			groups = append(groups, strings.ToLower(m[1]))
		}
	}
	if len(roles) > 0 {
		for _, role := range roles {
			if holdsRole(t, id, role) {
				return triYes, "it holds role " + roleName(role)
			}
		}
		return triNo, ""
	}
	if len(groups) > 0 {
		memberOf, known := t.MemberOf[id]
		for _, g := range groups {
			if slices.ContainsFunc(memberOf, func(x string) bool { return strings.EqualFold(x, g) }) ||
				slices.ContainsFunc(t.GroupMembers[g], func(x string) bool { return strings.EqualFold(x, id) }) {
				return triYes, "it is a member of group " + groupName(t, g)
			}
		}
		if !known {
			return triUnknown, "the account's group memberships were not collected"
		}
		return triNo, ""
	}
	for _, q := range queries {
		qq := strings.TrimSpace(strings.ToLower(q))
		if qq == "/users" || qq == "/v1.0/users" || qq == "/beta/users" {
			return triYes, "it reviews all users"
		}
	}
	for _, q := range queries {
		if !strings.HasPrefix(strings.ToLower(q), "/groups?") {
			continue
		}
		memberOf, known := t.MemberOf[id]
		if known && len(memberOf) == 0 {
			return triNo, ""
		}
		// A review of every Microsoft 365 group cannot reach an account
		// that is in none.
		if known && strings.Contains(q, "'Unified'") && !slices.ContainsFunc(memberOf, func(g string) bool {
			grp, ok := t.Groups[strings.ToLower(g)]
			return !ok || grp.GroupTypes == nil && !grp.Present["groupTypes"] || slices.Contains(grp.GroupTypes, "Unified")
		}) {
			return triNo, ""
		}
	}
	return triUnknown, "its scope queries " + strings.Join(queries, ", ") + " cannot be evaluated offline"
}

// holdsRole says whether the user holds the role by template id: the
// Global/Privileged Role Administrator datasets, or the account's own role
// assignments (principal_role_assignments).
func holdsRole(t *Tenant, userID, role string) bool {
	if strings.EqualFold(role, collect.RoleGlobalAdministrator) || strings.EqualFold(role, collect.RolePrivilegedRoleAdministrator) {
		if _, ok := roleHolders(t, role).users[userID]; ok {
			return true
		}
	}
	for _, ra := range t.PrincipalRoles {
		if strings.EqualFold(ra.RoleDefinitionID, role) && strings.EqualFold(ra.PrincipalID, userID) {
			return true
		}
	}
	return false
}

func roleName(role string) string {
	switch strings.ToLower(role) {
	case collect.RoleGlobalAdministrator:
		return "Global Administrator"
	case collect.RolePrivilegedRoleAdministrator:
		return "Privileged Role Administrator"
	}
	return role
}

// capitalize upper-cases the first letter of a message built from parts.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func boolText(b *bool) string {
	if b == nil {
		return "unknown"
	}
	return fmt.Sprint(*b)
}

func inactivityRemedy(a *AccountInfo) Remediation {
	return Remediation{
		Summary: "Take the break-glass accounts out of every inactivity cleanup: change the lifecycle workflow's scope rule to exclude " +
			"them (e.g. `and (user.userPrincipalName -notIn [\"" + a.UPN + "\"])`, or exclude a break-glass group), and exclude them " +
			"from access reviews of inactive users, or turn off auto-apply with a Deny or Recommendation default decision.",
		Portal: "Entra admin center > Identity governance > Lifecycle workflows > Workflows > (workflow) > Execution conditions > Scope; " +
			"Identity governance > Access reviews > (review) > Settings",
		Graph: "PATCH https://graph.microsoft.com/v1.0/identityGovernance/lifecycleWorkflows/workflows/{id} " +
			`{"executionConditions":{"@odata.type":"#microsoft.graph.identityGovernance.triggerAndScopeBasedConditions","scope":{"@odata.type":"#microsoft.graph.identityGovernance.ruleBasedSubjectSet","rule":"<rule excluding the break-glass accounts>"},"trigger":{...}}}; ` +
			`PUT /v1.0/identityGovernance/accessReviews/definitions/{id} with settings.autoApplyDecisionsEnabled false`,
		PowerShell: "Update-MgIdentityGovernanceLifecycleWorkflow -WorkflowId <id> -BodyParameter $body; " +
			"Update-MgIdentityGovernanceAccessReviewDefinition -AccessReviewScheduleDefinitionId <id> -BodyParameter $body",
	}
}
