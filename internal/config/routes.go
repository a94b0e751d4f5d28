package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/canary"
	"breakglass/internal/detect"
	"breakglass/internal/membership"
	"breakglass/internal/route"
	"breakglass/internal/watch"
)

// MinEscalateAfter is the shortest notify.groups[].escalate_after: a
// shorter one is a typo ("10" for 10m reads as 10ns) and would page the
// next group before anyone could acknowledge.
const MinEscalateAfter = time.Second

// RouteLabels are the label keys routed alerts carry, the only names a
// notify.routes matcher may test: a matcher on any other label tests "",
// so a route written for it silently never (or always) matches. A package
// that adds a label to the alerts it raises adds its key here.
var RouteLabels = []string{
	alert.LabelRule, alert.LabelSeverity, alert.LabelAccount, alert.LabelTenant,
	alert.LabelSource, alert.LabelCategory, watch.LabelCheck, alert.LabelExpectation,
	alert.LabelDrill,
	canary.Label,
}

var expectationValues = []string{"held", "broken", "unknown"}

// Severities are the values of the severity label.
var Severities = []string{"Sev0", "Sev1", "Sev2", "Sev3", "Sev4"}

// unroutedRules are rules whose alerts do not go through notify.routes:
// an undeliverable notice (bg.notify) goes to every other channel, whatever
// the routes say, and so cannot be muted either.
var unroutedRules = []string{detect.RuleNotify}

// validateRoutes checks notify.routes, notify.groups[].escalate_after and
// notify.mute_for (see package route for what they mean).
func (c *Config) validateRoutes(d *decoder) {
	// follows: groups that some route lists another group after, which is
	// the only place an escalate_after takes effect.
	follows := map[string]bool{}
	c.validateRouteList(d, "notify.routes", c.Notify.Routes, follows)
	routed := len(c.Notify.Routes) > 0
	if c.validateTenantRoutes(d, follows) { // tenants.go
		routed = true
	}
	for i, g := range c.Notify.Groups {
		f := "notify.groups[" + strconv.Itoa(i) + "].escalate_after"
		if g.EscalateAfter == 0 || d.failed[f] {
			continue
		}
		switch {
		case g.EscalateAfter < 0:
			d.errorf(d.lines[f], f, "must not be negative")
		case g.EscalateAfter < MinEscalateAfter:
			d.errorf(d.lines[f], f, "must be at least %v (write a unit: 10m, 1h)", MinEscalateAfter)
		case !routed:
			// An error, not a warning: the operator believes someone else
			// is paged when this group does not acknowledge, and nobody is.
			d.errorf(d.lines[f], f, "has no effect: without notify.routes every alert goes to every group at once; add a route that lists another group after %q", g.Name)
		case !follows[g.Name]:
			d.errorf(d.lines[f], f, "has no effect: no route lists a group after %q, so there is nobody to escalate to; add one after it in a route, or remove escalate_after", g.Name)
		}
	}
	c.validateMute(d)
}

// validateRouteList checks one list of routes (notify.routes, or a
// tenant's) at field, adding to follows each group some route lists
// another group after.
func (c *Config) validateRouteList(d *decoder, field string, list []RouteConfig, follows map[string]bool) {
	groups := c.groupNames()
	known := strings.Join(groups, ", ")
	catchAll := -1 // the first route that takes every alert and stops
	for i := range list {
		r := &list[i]
		f := field + "[" + strconv.Itoa(i) + "]"
		if d.failed[f] {
			continue
		}
		line := d.lines[f]
		if catchAll >= 0 {
			d.errorf(line, f, "never reached: %s[%d] (line %d) has no matchers and no continue: true, so it takes every alert; move this route above it",
				field, catchAll, d.lines[field+"["+strconv.Itoa(catchAll)+"]"])
		}
		for j, s := range r.Matchers {
			mf := f + ".matchers[" + strconv.Itoa(j) + "]"
			if d.failed[mf] {
				continue
			}
			m, err := route.ParseMatcher(s)
			if err != nil {
				d.errorf(d.lines[mf], mf, "%v", err)
				continue
			}
			if msg := c.checkMatcherIn(field, m); msg != "" {
				d.errorf(d.lines[mf], mf, "matcher %s: %s", m, msg)
			}
		}
		if len(r.Matchers) == 0 && !r.Continue && !d.failed[f+".matchers"] && catchAll < 0 {
			catchAll = i
		}
		if len(r.Groups) == 0 && !d.failed[f+".groups"] {
			d.errorf(line, f+".groups", "list at least one group to notify (groups: %s)", known)
			continue
		}
		seen := map[string]int{}
		for j, g := range r.Groups {
			gf := f + ".groups[" + strconv.Itoa(j) + "]"
			if d.failed[gf] {
				continue
			}
			g = strings.TrimSpace(g)
			r.Groups[j] = g
			switch k, dup := seen[g]; {
			case !slices.Contains(groups, g):
				d.errorf(d.lines[gf], gf, "no group %s (groups: %s)", quoteShort(g), known)
			case dup:
				d.errorf(d.lines[gf], gf, "%q is listed twice in this route (also groups[%d]); list each group once, in the order to notify them", g, k)
			default:
				seen[g] = j
				if j > 0 {
					follows[r.Groups[j-1]] = true
				}
			}
		}
	}
}

// groupNames are the names of the action groups, notify.groups or, when
// it is empty, the default group.
func (c *Config) groupNames() []string {
	if len(c.Notify.Groups) == 0 {
		return []string{DefaultGroup}
	}
	var out []string
	for _, g := range c.Notify.Groups {
		if g.Name != "" {
			out = append(out, g.Name)
		}
	}
	return out
}

// ruleIDs lists the registered rules.
func ruleIDs() []string {
	var out []string
	for _, m := range detect.All() {
		out = append(out, m.ID)
	}
	return out
}

// checkMatcher says what is wrong with a matcher that parses but cannot do
// what it was written for, or "".
func (c *Config) checkMatcher(m route.Matcher) string {
	if !slices.Contains(RouteLabels, m.Name) && !slices.Contains(c.RuleLabelKeys(), m.Name) { // rules.go: labels of KQL rules
		return fmt.Sprintf("no alert carries the label %q (labels: %s)", m.Name, strings.Join(append(slices.Clone(RouteLabels), c.RuleLabelKeys()...), ", "))
	}
	switch m.Name {
	case alert.LabelRule:
		if (m.Op == route.Equal || m.Op == route.NotEqual) && slices.Contains(unroutedRules, m.Value) {
			return fmt.Sprintf("%s alerts are not routed: an undeliverable notice goes to every other channel", m.Value)
		}
		return checkDomain(m, "rule", append(ruleIDs(), c.RuleIDs()...), nil) // rules.go: KQL rules are kql.NAME
	case alert.LabelSeverity:
		return checkDomain(m, "severity", Severities, func(v string) string {
			if len(v) == 1 && v[0] >= '0' && v[0] <= '4' {
				return "; write Sev" + v
			}
			if i := slices.IndexFunc(Severities, func(s string) bool { return strings.EqualFold(s, v) }); i >= 0 {
				return "; write " + Severities[i] + " (labels are case-sensitive)"
			}
			return "; Sev0 is critical, Sev4 verbose"
		})
	case alert.LabelSource:
		return checkDomain(m, "source", c.sourceNames(), nil)
	case alert.LabelExpectation:
		return checkDomain(m, "expectation verdict", expectationValues, nil)
	case alert.LabelTenant:
		if msg, ok := c.checkTenantMatcher(m); ok { // tenants.go
			return msg
		}
		if m.Op != route.Equal && m.Op != route.NotEqual {
			return ""
		}
		t := cmp.Or(c.TenantID, c.Graph.TenantID)
		switch {
		case t == "" && c.Graph.Configured():
			// The tenant comes from the environment (workload identity):
			// posture alerts carry the audited tenant's id.
			return ""
		case t == "":
			return "alerts carry a tenant label only when tenant_id (or graph.tenant_id) is set"
		case m.Value != t:
			return fmt.Sprintf("alerts carry tenant=%q (tenant_id, else graph.tenant_id)", t)
		}
	case alert.LabelAccount:
		return c.checkAccount(m)
	}
	return ""
}

// checkDomain checks a matcher on a label with a fixed set of values: an
// equality must name one of them, a regular expression must match one,
// and a negative matcher must exclude one. hint adds advice about a wrong
// value.
func checkDomain(m route.Matcher, what string, values []string, hint func(string) string) string {
	list := strings.Join(values, ", ")
	extra := ""
	if hint != nil {
		extra = hint(m.Value)
	}
	n := 0
	for _, v := range values {
		if m.Matches(map[string]string{m.Name: v}) {
			n++
		}
	}
	switch {
	case (m.Op == route.Equal || m.Op == route.NotEqual) && !slices.Contains(values, m.Value):
		return fmt.Sprintf("no %s %q (known: %s)%s", what, m.Value, list, extra)
	case n == 0:
		return fmt.Sprintf("matches no %s, so the route never applies (known: %s; a regular expression must match the whole value)%s", what, list, extra)
	case n == len(values) && (m.Op == route.NotEqual || m.Op == route.NotRegexp):
		return fmt.Sprintf("excludes no %s (known: %s; a regular expression must match the whole value)%s", what, list, extra)
	}
	return ""
}

// sourceNames are the values of the source label: the configured sources
// and the daemon's own (group membership, the posture audit).
func (c *Config) sourceNames() []string {
	var out []string
	for _, s := range c.Sources {
		if s.Name != "" {
			out = append(out, s.Name)
		}
	}
	out = append(out, c.tenantSourceNames()...) // tenants.go
	return append(out, membership.Source, watch.PostureSource)
}

// checkAccount checks an account matcher against accounts:. The label is
// the account's object id as written there, else its UPN, compared
// exactly. Members of group entries are only known at run time, so an
// unknown value is only an error when there are none.
func (c *Config) checkAccount(m route.Matcher) string {
	if m.Op != route.Equal && m.Op != route.NotEqual {
		return ""
	}
	for _, a := range c.Users() {
		switch {
		case a.ID != "" && m.Value == a.ID, a.ID == "" && m.Value == a.UPN:
			return ""
		case a.ID != "" && strings.EqualFold(m.Value, a.UPN):
			return fmt.Sprintf("alerts of %s carry its object id: write account=%q", a.UPN, a.ID)
		case strings.EqualFold(m.Value, a.ID) || strings.EqualFold(m.Value, a.UPN):
			return fmt.Sprintf("labels are case-sensitive: write account=%q, as in accounts:", cmp.Or(a.ID, a.UPN))
		}
	}
	if len(c.Groups()) > 0 {
		return "" // may be a member of a group entry
	}
	return "not an account of accounts: (the label is the account's object id, else its UPN)"
}

// validateMute checks notify.mute_for: rule id → how long further alerts
// of the rule for the same account (or source) are stored but not
// notified after one was.
func (c *Config) validateMute(d *decoder) {
	const f = "notify.mute_for"
	if d.failed[f] {
		return
	}
	rules := ruleIDs()
	keys := make([]string, 0, len(c.Notify.MuteFor))
	for k := range c.Notify.MuteFor {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(d.lines[join(f, a)], d.lines[join(f, b)]) })
	for _, k := range keys {
		kf := join(f, k)
		if d.failed[kf] {
			continue
		}
		switch v := c.Notify.MuteFor[k]; {
		case slices.Contains(unroutedRules, k):
			d.errorf(d.lines[kf], kf, "%s cannot be muted: an undeliverable notice is how people learn a channel is down", k)
		case !slices.Contains(rules, k):
			d.errorf(d.lines[kf], kf, "unknown rule %s (rules: %s)", quoteShort(k), strings.Join(rules, ", "))
		case v < 0:
			d.errorf(d.lines[kf], kf, "must not be negative (0 or no entry: never muted)")
		}
	}
}
