package schedule

import (
	"fmt"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
)

// Role template ids: the same in every tenant. A role target's id in a PIM
// record is the role definition id, which for built-in roles is the
// template id; Core Directory records carry it as Role.TemplateId.
const (
	TemplateGlobalAdmin      = "62e90394-69f5-4237-9190-012177145e10"
	TemplatePrivRoleAdmin    = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	roleGlobalAdmin          = "Global Administrator"
	rolePrivilegedRoleAdmin  = "Privileged Role Administrator"
	legacyGlobalAdminName    = "Company Administrator" // the role's name in older records and APIs
	wellKnownGlobalAdminName = "TenantAdmins"          // Role.WellKnownObjectName of Global Administrator
)

// Kinds of key change.
const (
	KindRole         = "role"         // a Global or Privileged Role Administrator added or removed
	KindLicence      = "licence"      // a licence assigned or removed
	KindSubscription = "subscription" // the tenant's subscriptions (plans) changed
)

// RuleTrigger is the id of the record rule that finds key changes. Its
// findings are observations, never alerts (watch.Options.Observers).
const RuleTrigger = "drill.trigger"

// Trigger is a key change seen in the audit logs: the guidance asks for a
// drill after each, so the next drill of every account falls due early.
type Trigger struct {
	Kind    string
	Reason  string // for people: what happened, to what, by whom
	EventID string
	Time    time.Time // the event's time (when it happened)
	// Tenant is the tenant the change happened in, when known (with
	// tenants:): only that tenant's accounts fall due. "" makes every
	// account due: a drill too many costs little.
	Tenant string
}

// Classify reports whether a decoded record is a key change. Records that
// are not audit events, failed operations and role changes of other roles
// are not. A role-membership change that does not say which role it
// concerns is one (it may be Global Administrator; a drill too many costs
// little, a staff change missed costs the proof).
func Classify(ev *entra.Event) (Trigger, bool) {
	if ev == nil || ev.Kind != entra.KindAudit || failed(ev.Result) {
		return Trigger{}, false
	}
	op := strings.TrimSuffix(strings.TrimSpace(ev.Operation), ".")
	low := strings.ToLower(op)
	t := Trigger{EventID: ev.ID, Time: ev.Time}
	by := actor(ev)
	switch {
	case (strings.Contains(low, "member to role") || strings.Contains(low, "member from role")) && !strings.Contains(low, "activation"):
		// PIM activations and their expiry are someone using a role they
		// already hold, not a staff change.
		role, known := privilegedRole(ev)
		if !known {
			if role != "" {
				return Trigger{}, false // another role
			}
			role = "a role the record does not name"
		}
		t.Kind = KindRole
		t.Reason = fmt.Sprintf("%q (%s) for %s%s", op, role, member(ev), by)
	case strings.Contains(low, "license") || strings.Contains(low, "licence") ||
		(low == "update user" && hasProperty(ev, "assignedlicense", "assignedplan")):
		t.Kind = KindLicence
		t.Reason = fmt.Sprintf("%q for %s%s", op, member(ev), by)
	case strings.Contains(low, "subscription"):
		t.Kind = KindSubscription
		t.Reason = fmt.Sprintf("%q%s", op, by)
	case low == "update company" || low == "set company information":
		// Company updates carry many settings; only plan changes (a
		// subscription bought, renewed or ended) are key changes. A record
		// that lists no properties may be one.
		if len(properties(ev)) > 0 && !hasProperty(ev, "assignedplan", "provisionedplan", "subscription", "license", "licence", "sku") {
			return Trigger{}, false
		}
		t.Kind = KindSubscription
		t.Reason = fmt.Sprintf("%q (the tenant's plans)%s", op, by)
	default:
		return Trigger{}, false
	}
	return t, true
}

func failed(result string) bool {
	r := strings.ToLower(strings.TrimSpace(result))
	return r == "failure" || r == "timeout" || r == "failed"
}

// privilegedRole names the role a role-membership record is about: known
// is set for Global Administrator or Privileged Role Administrator; a
// name with known unset is another role; "" means the record names none.
func privilegedRole(ev *entra.Event) (name string, known bool) {
	check := func(v string) (string, bool) {
		v = strings.Trim(strings.TrimSpace(v), `"[]`)
		switch {
		case strings.EqualFold(v, TemplateGlobalAdmin), strings.EqualFold(v, roleGlobalAdmin),
			strings.EqualFold(v, legacyGlobalAdminName), strings.EqualFold(v, wellKnownGlobalAdminName):
			return roleGlobalAdmin, true
		case strings.EqualFold(v, TemplatePrivRoleAdmin), strings.EqualFold(v, rolePrivilegedRoleAdmin):
			return rolePrivilegedRoleAdmin, true
		}
		return v, false
	}
	for _, tg := range ev.Targets {
		if strings.EqualFold(tg.Type, "Role") {
			for _, v := range []string{tg.ID, tg.DisplayName} {
				if n, ok := check(v); ok {
					return n, true
				}
			}
			if name == "" && tg.DisplayName != "" {
				name = tg.DisplayName
			}
		}
		for _, p := range tg.ModifiedProperties {
			switch strings.ToLower(p.Name) {
			case "role.templateid", "role.displayname", "role.wellknownobjectname", "roledefinitionoriginid", "roledefinitionid":
				for _, v := range []string{p.NewValue, p.OldValue} {
					if strings.Trim(strings.TrimSpace(v), `"[]`) == "" {
						continue
					}
					n, ok := check(v)
					if ok {
						return n, true
					}
					if name == "" && strings.EqualFold(p.Name, "role.displayname") {
						name = n
					}
				}
			}
		}
	}
	return name, false
}

func properties(ev *entra.Event) []entra.ModifiedProperty {
	var out []entra.ModifiedProperty
	for _, tg := range ev.Targets {
		out = append(out, tg.ModifiedProperties...)
	}
	return out
}

// hasProperty reports whether a modified property's name contains one of
// the words (lower case).
func hasProperty(ev *entra.Event, words ...string) bool {
	for _, p := range properties(ev) {
		n := strings.ToLower(p.Name)
		for _, w := range words {
			if strings.Contains(n, w) {
				return true
			}
		}
	}
	return false
}

// member names the user or group the change is about.
func member(ev *entra.Event) string {
	for _, tg := range ev.Targets {
		if strings.EqualFold(tg.Type, "Role") {
			continue
		}
		for _, v := range []string{tg.UserPrincipalName, tg.DisplayName, tg.ID} {
			if v != "" {
				return v
			}
		}
	}
	return "an unnamed target"
}

func actor(ev *entra.Event) string {
	for _, v := range []string{ev.Initiator.UserPrincipalName, ev.Initiator.AppDisplayName, ev.Initiator.UserID, ev.Initiator.AppID} {
		if v != "" {
			return ", by " + v
		}
	}
	return ""
}

// triggerRule finds key changes for the scanner. Its literals let the
// scanner's prefilter pass the records Classify may accept (the fast path
// skips every other record undecoded).
type triggerRule struct{}

// Rule returns the record rule whose findings (alerts with rule
// RuleTrigger, never stored) are key changes; pair it with Observe.
func Rule() detect.Rule { return triggerRule{} }

func (triggerRule) Meta() detect.Meta {
	return detect.Meta{ID: RuleTrigger, Severity: alert.Sev4, Title: "Key change: the next drill falls due early"}
}

func (triggerRule) Needs() detect.Needs {
	return detect.Needs{Literals: []string{"member to role", "member from role", "license", "licence", "subscription",
		"update company", "set company information"}}
}

func (triggerRule) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	t, ok := Classify(rec.Event)
	if !ok {
		return dst
	}
	when := t.Time
	if when.IsZero() {
		when = rec.Now
	}
	return append(dst, alert.Alert{
		ID: alert.Key(t.EventID, RuleTrigger), Rule: RuleTrigger, Severity: alert.Sev4, Title: t.Reason,
		EventID: t.EventID, EventTime: when.UTC(), Category: rec.Event.Category, Source: rec.Source, Detected: rec.Now.UTC(),
		Annotations: map[string]string{"kind": t.Kind},
	})
}

// TriggerOf turns a finding of Rule back into its Trigger.
func TriggerOf(a alert.Alert) Trigger {
	return Trigger{Kind: a.Annotations["kind"], Reason: a.Title, EventID: a.EventID, Time: a.EventTime}
}
