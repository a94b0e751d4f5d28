package daemon

import (
	"breakglass/internal/kqlrule"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/entra"
	"breakglass/internal/route"
	"breakglass/internal/watch"
)

// routerOf builds the router of cfg's notify.groups and notify.routes. The
// config package has validated both, so an error here is a bug, reported
// rather than ignored.
func routerOf(cfg *config.Config) (*route.Router, error) {
	var groups []route.Group
	for _, g := range cfg.Notify.Groups {
		rg := route.Group{Name: g.Name, EscalateAfter: g.EscalateAfter}
		for i := range g.Channels {
			rg.Targets = append(rg.Targets, g.Target(i))
		}
		groups = append(groups, rg)
	}
	var routes []route.Route
	for i, rc := range cfg.EffectiveRoutes() { // tenants' routes first (config/tenants.go)
		rt := route.Route{Groups: rc.Groups, Continue: rc.Continue}
		for _, s := range rc.Matchers {
			m, err := route.ParseMatcher(s)
			if err != nil {
				return nil, fmt.Errorf("notify.routes[%d]: %w", i, err)
			}
			rt.Matchers = append(rt.Matchers, m)
		}
		routes = append(routes, rt)
	}
	r, err := route.New(groups, routes)
	if err != nil {
		return nil, fmt.Errorf("notify.routes: %w", err)
	}
	return r, nil
}

// RouteFunc is the routing of serve's pipeline (and of scan's stored
// alerts): each alert goes to the groups its plan notifies at once (later
// steps are the escalator's).
func RouteFunc(cfg *config.Config) (func(labels map[string]string) []string, error) {
	r, err := routerOf(cfg)
	if err != nil {
		return nil, err
	}
	return withCanaryRoute(cfg, func(labels map[string]string) []string { return r.Plan(labels).Now() }), nil // canary.go
}

// ruleCategories are the category labels each built-in rule's alerts
// carry, first the most common; a rule absent here carries varying ones
// (bg.unparsed: the unreadable record's, or none). TestReachCoversRules
// keeps it in step with the registry.
var ruleCategories = map[string][]string{
	detect.RuleSignIn: {entra.CategorySignIn, entra.CategoryNonInteractive, entra.CategoryServicePrincipal,
		entra.CategoryManagedIdentity, entra.CategoryADFSSignIn},
	detect.RuleActivity:      {entra.CategoryAudit, entra.CategoryLegacyAudit},
	detect.RuleChange:        {entra.CategoryAudit, entra.CategoryLegacyAudit},
	detect.RuleGraphActivity: {entra.CategoryGraphActivity},
	detect.RuleRisk:          {entra.CategoryUserRiskEvents, entra.CategoryRiskyUsers},
	detect.RuleProvisioning:  {entra.CategoryProvisioning},
	detect.RuleSilence:       {"Source"},
	detect.RuleSource:        {"Source"},
	detect.RulePosture:       {"Posture"},
	detect.RuleUnparsed:      {""},
	detect.RuleDrillDue:      {schedule.Category}, // drillschedule.go
	detect.RuleDrillOverdue:  {schedule.Category},
	detect.RuleDrillFailed:   {schedule.Category}, // drill.go
	detect.RuleNotify:        nil,                 // not routed
	detect.RuleMisuse:        nil,                 // not routed: every group
	detect.RuleCanary:        nil,                 // not routed: the canary group (canary.go)
	detect.RuleCanaryFailed:  nil,                 // not routed: every other group
	kqlrule.RuleFailed:       {"kql"},             // rules.go
}

// perAlertLabels vary between alerts of one rule, so the reach printed
// for a rule cannot take them into account.
var perAlertLabels = []string{alert.LabelAccount, alert.LabelSource, alert.LabelTenant, watch.LabelCheck, "expectation"}

// carries reports whether alerts of rule can carry the per-alert label.
func carries(rule, label string) bool {
	switch label {
	case "expectation": // alert.LabelExpectation: sign-ins of accounts with expect:
		return rule == detect.RuleSignIn
	case watch.LabelCheck:
		return rule == detect.RulePosture
	case alert.LabelAccount:
		return rule != detect.RuleSilence && rule != detect.RuleSource
	}
	return true
}

// Reach describes, for `config check`, which groups each registered rule
// notifies at once and which by escalation, planned with the router serve
// uses on the labels the rule's alerts carry (rule, default severity,
// category):
//
//	bg.signin (Sev0): oncall now; managers after 10m unacknowledged
func Reach(cfg *config.Config) (string, error) {
	r, err := routerOf(cfg)
	if err != nil {
		return "", err
	}
	// The values routes single out with = on labels that differ per alert
	// (source="files"): their reach is printed as a variant.
	type pair struct{ name, value string }
	var pairs []pair
	var which, names []string
	fields := cfg.EffectiveRouteFields()
	for i, rc := range cfg.EffectiveRoutes() { // tenants' routes too: "with tenant=..." lines
		for _, s := range rc.Matchers {
			mt, err := route.ParseMatcher(s)
			if err != nil || !slices.Contains(perAlertLabels, mt.Name) {
				continue
			}
			if mt.Op == route.Equal && !slices.Contains(pairs, pair{mt.Name, mt.Value}) {
				pairs = append(pairs, pair{mt.Name, mt.Value})
			}
			if w := fields[i]; !slices.Contains(which, w) {
				which = append(which, w)
			}
			if !slices.Contains(names, mt.Name) {
				names = append(names, mt.Name)
			}
		}
	}
	none := "no route matches"
	if len(cfg.EffectiveRoutes()) == 0 {
		none = "no notify.routes"
	}
	var b strings.Builder
	b.WriteString("reach: the groups each rule notifies (notify.routes; escalation stops once the alert is acknowledged)\n")
	for _, m := range detect.All() {
		fmt.Fprintf(&b, "  %s (%s):", m.ID, m.Severity)
		cats, known := ruleCategories[m.ID]
		if m.ID == detect.RuleNotify {
			b.WriteString(" every channel except the one that failed (undeliverable notices are not routed)\n")
			continue
		}
		if m.ID == detect.RuleMisuse {
			b.WriteString(" every channel of every group (a review found misuse; not routed)\n")
			continue
		}
		if line, ok := canaryReach(cfg, m.ID); ok {
			b.WriteString(line)
			continue
		}
		if !known {
			cats = []string{""}
		}
		labelsOf := func(cat string) map[string]string {
			l := map[string]string{alert.LabelRule: m.ID, alert.LabelSeverity: m.Severity.String()}
			if cat != "" {
				l[alert.LabelCategory] = cat
			}
			return l
		}
		descs := make([]string, len(cats))
		for i, c := range cats {
			descs[i] = describePlan(withoutCanaryGroup(cfg, r.Plan(labelsOf(c))), none)
		}
		if !slices.ContainsFunc(descs, func(d string) bool { return d != descs[0] }) {
			b.WriteString(" " + descs[0] + "\n")
		} else {
			b.WriteString("\n")
			for i, c := range cats {
				fmt.Fprintf(&b, "    category %s: %s\n", c, descs[i])
			}
		}
		for _, pr := range pairs {
			if !carries(m.ID, pr.name) {
				continue
			}
			l := labelsOf(cats[0])
			l[pr.name] = pr.value
			if d := describePlan(withoutCanaryGroup(cfg, r.Plan(l)), none); d != descs[0] {
				fmt.Fprintf(&b, "    with %s=%q: %s\n", pr.name, pr.value, d)
			}
		}
	}
	if len(which) > 0 {
		verb := "matches"
		if len(which) > 1 {
			verb = "match"
		}
		fmt.Fprintf(&b, "  note: %s %s on %s, which differ per alert: each line is for alerts those matchers do not single out, \"with\" lines for the values they name\n",
			strings.Join(which, ", "), verb, strings.Join(names, ", "))
	}
	return b.String(), nil
}

// describePlan says who a plan notifies and when.
func describePlan(p route.Plan, none string) string {
	if len(p.Steps) == 0 {
		return "NOBODY (no group is configured)"
	}
	var parts []string
	for i, s := range p.Steps {
		who := strings.Join(s.Groups, ", ")
		if i == 0 {
			if p.Default {
				parts = append(parts, "every group now ("+who+"; "+none+")")
			} else {
				parts = append(parts, who+" now")
			}
			continue
		}
		parts = append(parts, who+" after "+shortDuration(s.After)+" unacknowledged")
	}
	return strings.Join(parts, "; ")
}

// shortDuration writes 10m rather than 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
