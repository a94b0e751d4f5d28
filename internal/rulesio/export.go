package rulesio

import (
	"bytes"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/notify"
	"breakglass/internal/route"
)

// API versions written by Export. scheduledQueryRules 2023-03-15-preview
// is the version the brief's schema (criteria.allOf, failingPeriods,
// muteActionsDuration, autoMitigate) is documented with; action groups use
// their GA 2023-01-01.
const (
	TypeScheduledQueryRule = "Microsoft.Insights/scheduledQueryRules"
	TypeActionGroup        = "Microsoft.Insights/actionGroups"
	APIScheduledQueryRules = "2023-03-15-preview"
	APIActionGroups        = "2023-01-01"
	armSchema              = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
	paramWorkspace         = "workspaceId"
	paramLocation          = "location"
	maxActionGroupsPerRule = 5  // Azure's limit per alert rule
	maxShortName           = 12 // groupShortName
	maxReceiversPerType    = 10 // Azure's limit for SMS, voice, webhook per action group
)

// Problem is something that does not carry over between breakglass and
// Azure. Where names the rule or channel; Note problems are information
// that changes nothing (they do not make a command exit 1).
type Problem struct {
	Where   string `json:"where"`
	Message string `json:"message"`
	Note    bool   `json:"note,omitempty"`
}

func (p Problem) String() string {
	if p.Note {
		return p.Where + ": note: " + p.Message
	}
	return p.Where + ": " + p.Message
}

// Lost reports whether any problem is more than a note.
func Lost(ps []Problem) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return !p.Note })
}

// Exported is the result of Export: the template, in either syntax, and
// what did not carry over.
type Exported struct {
	params    []tmplParam
	resources []tmplResource
	Problems  []Problem
	// Rules and Groups count the exported resources.
	Rules, Groups int
}

type tmplParam struct {
	name, typ, desc string
	secure          bool
	def             *node
}

type tmplResource struct {
	symbol, typ, api, name string
	location               *node
	kind                   string
	props                  *node
	dependsOn              []string // symbols
}

// Export turns the rules and action groups of cfg into Azure resources.
// It does not fail on what Azure cannot express: each such thing is a
// Problem, so the person deploying knows what the second path lacks.
func Export(cfg *config.Config) (*Exported, error) {
	e := &Exported{}
	e.params = append(e.params,
		tmplParam{name: paramWorkspace, typ: "string", desc: "Resource id of the Log Analytics workspace the rules query (/subscriptions/…/providers/Microsoft.OperationalInsights/workspaces/NAME)."},
		tmplParam{name: paramLocation, typ: "string", desc: "Region of the alert rules (the workspace's region).", def: expr("resourceGroup().location", "resourceGroup().location")},
	)
	syms := map[string]bool{}
	symbol := func(prefix, name string) string {
		s := prefix + "_" + symbolPart(name)
		for i := 2; syms[s]; i++ {
			s = prefix + "_" + symbolPart(name) + "_" + strconv.Itoa(i)
		}
		syms[s] = true
		return s
	}

	// Action groups, in configuration order.
	type agInfo struct {
		symbol, name string
		ok           bool // has at least one receiver
	}
	ags := map[string]agInfo{}
	var rgroups []route.Group
	shortNames := map[string]bool{}
	for gi, g := range cfg.Notify.Groups {
		rgroups = append(rgroups, route.Group{Name: g.Name, EscalateAfter: g.EscalateAfter})
		where := fmt.Sprintf("notify.groups[%d] (%s)", gi, g.Name)
		name, changed := resourceName(g.Name)
		if changed {
			e.Problems = append(e.Problems, Problem{Where: where, Message: fmt.Sprintf("exported as action group %q: Azure names cannot hold some of its characters", name), Note: true})
		}
		props := obj()
		short := shortName(g.Name, shortNames)
		props.set("groupShortName", str(short))
		props.set("enabled", boolean(true))
		recv := e.receivers(gi, g)
		n := 0
		for _, k := range []string{"emailReceivers", "smsReceivers", "voiceReceivers", "webhookReceivers"} {
			if items := recv[k]; len(items) > 0 {
				props.set(k, arr(items...))
				n += len(items)
			}
		}
		if n == 0 {
			e.Problems = append(e.Problems, Problem{Where: where, Message: "no channel maps to an Azure receiver: action group not exported"})
			ags[g.Name] = agInfo{}
			continue
		}
		sym := symbol("ag", g.Name)
		ags[g.Name] = agInfo{symbol: sym, name: name, ok: true}
		e.resources = append(e.resources, tmplResource{symbol: sym, typ: TypeActionGroup, api: APIActionGroups, name: name, location: str("Global"), props: props})
		e.Groups++
	}
	var routes []route.Route
	for ri, rc := range cfg.Notify.Routes {
		rt := route.Route{Groups: rc.Groups, Continue: rc.Continue}
		for _, ms := range rc.Matchers {
			m, err := route.ParseMatcher(ms)
			if err != nil {
				return nil, fmt.Errorf("notify.routes[%d]: %w", ri, err)
			}
			rt.Matchers = append(rt.Matchers, m)
		}
		routes = append(routes, rt)
	}
	router, err := route.New(rgroups, routes)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}

	names := map[string]bool{}
	for ri, r := range cfg.Rules {
		where := fmt.Sprintf("rules[%d] (%s)", ri, r.Name)
		props, probs, ok := ruleProperties(r)
		for _, p := range probs {
			p.Where = where
			e.Problems = append(e.Problems, p)
		}
		if !ok {
			continue
		}
		name, changed := resourceName(r.Name)
		for i := 2; names[strings.ToLower(name)]; i++ {
			name, changed = fmt.Sprintf("%s-%d", strings.TrimRight(name[:min(len(name), 250)], "-"), i), true
		}
		names[strings.ToLower(name)] = true
		if changed {
			e.Problems = append(e.Problems, Problem{Where: where, Message: fmt.Sprintf("exported as %q (displayName keeps the name): Azure names cannot hold some of its characters", name), Note: true})
		}
		// The action groups are the ones breakglass's routes pick for
		// this rule's alerts.
		// The labels a KQL rule's alerts carry (package kqlrule).
		labels := map[string]string{alert.LabelRule: r.ID(), alert.LabelSeverity: r.Sev().String()}
		for k, v := range r.Labels {
			labels[k] = v
		}
		plan := router.Plan(labels)
		var refs []*node
		var deps []string
		for si, st := range plan.Steps {
			for _, g := range st.Groups {
				ag := ags[g]
				if !ag.ok {
					continue
				}
				if len(refs) == maxActionGroupsPerRule {
					e.Problems = append(e.Problems, Problem{Where: where, Message: fmt.Sprintf("Azure takes at most %d action groups per rule: group %s not attached", maxActionGroupsPerRule, g)})
					continue
				}
				if si > 0 {
					e.Problems = append(e.Problems, Problem{Where: where, Message: fmt.Sprintf("group %s is an escalation after %s here; Azure notifies it at once", g, FormatConfig(st.After)), Note: true})
				}
				refs = append(refs, expr(fmt.Sprintf("resourceId(%s, %s)", armQuote(TypeActionGroup), armQuote(ag.name)), ag.symbol+".id"))
				deps = append(deps, ag.symbol)
			}
		}
		if len(refs) == 0 {
			e.Problems = append(e.Problems, Problem{Where: where, Message: "reaches no exported action group: in Azure this rule would fire and notify nobody; add an action group with an email, SMS, voice or webhook receiver"})
		}
		actions := obj().set("actionGroups", arr(refs...))
		if len(r.Labels) > 0 {
			cp := obj()
			for _, k := range sortedKeys(r.Labels) {
				cp.set(k, str(r.Labels[k]))
			}
			actions.set("customProperties", cp)
		}
		props.set("actions", actions)
		e.resources = append(e.resources, tmplResource{symbol: symbol("rule", r.Name), typ: TypeScheduledQueryRule, api: APIScheduledQueryRules, name: name, location: param(paramLocation), kind: "LogAlert", props: props, dependsOn: deps})
		e.Rules++
	}
	if e.Rules > 0 {
		e.Problems = append(e.Problems, Problem{Where: "rules", Note: true, Message: "Azure windows these rules on TimeGenerated, breakglass on ingestion time: in Azure a record that arrives later than its window (Entra publishes some minutes late) is missed; to keep it, add | where ingestion_time() > ago(FREQUENCY) to the query and set overrideQueryTimeRange (PT1H) in the template"})
	}
	return e, nil
}

// azureOperator maps config's threshold operators to Azure's static ones.
// Azure has no "not equal" for log search alerts.
var azureOperator = map[string]string{
	">":  "GreaterThan",
	">=": "GreaterThanOrEqual",
	"<":  "LessThan",
	"<=": "LessThanOrEqual",
	"==": "Equals",
}

// ruleProperties builds the properties of one scheduled query rule. ok is
// false when the rule cannot be expressed at all.
func ruleProperties(r config.Rule) (*node, []Problem, bool) {
	var probs []Problem
	p := obj()
	p.set("displayName", str(r.Name))
	if r.Description != "" {
		p.set("description", str(r.Description))
	}
	// config applies the defaults when it loads a file; a Rule built
	// otherwise gets the same ones.
	sev := int(r.Sev())
	if sev < 0 || sev > 4 {
		return nil, []Problem{{Message: fmt.Sprintf("severity %d is not 0-4: rule not exported", sev)}}, false
	}
	freq := r.Frequency
	if freq == 0 {
		freq = config.DefaultRuleFrequency
	}
	period := r.Period
	if period == 0 {
		period = freq
	}
	p.set("severity", num(float64(sev)))
	p.set("enabled", boolean(true))
	p.set("evaluationFrequency", str(FormatISO(freq)))
	p.set("windowSize", str(FormatISO(period)))
	if !slices.Contains(azureFrequencies, freq) {
		probs = append(probs, Problem{Message: fmt.Sprintf("frequency %s is not one Azure accepts (1m, 5m, 10m, 15m, 30m, 45m, 1h-6h, 12h, 1d): deploying fails until you pick one", FormatConfig(freq))})
	}
	if !slices.Contains(azureWindows, period) {
		probs = append(probs, Problem{Message: fmt.Sprintf("period %s is not a window size Azure accepts (1m, 5m, 10m, 15m, 30m, 45m, 1h-6h, 1d, 2d): deploying fails until you pick one", FormatConfig(period))})
	}
	p.set("scopes", arr(param(paramWorkspace)))

	c := obj()
	c.set("query", str(r.Query))
	if strings.Contains(strings.ToLower(r.Query), "_getwatchlist") {
		probs = append(probs, Problem{Message: "the query reads a Sentinel watchlist (_GetWatchlist): in Azure the workspace needs that watchlist with the accounts; breakglass fills it from accounts:", Note: true})
	}
	th := r.Threshold
	if th == nil {
		th = &config.RuleThreshold{Operator: ">", Value: 0}
	}
	op, ok := azureOperator[strings.TrimSpace(th.Operator)]
	if !ok {
		return nil, []Problem{{Message: fmt.Sprintf("threshold operator %q has no Azure equivalent (Azure: > >= < <= ==): rule not exported; rewrite the query so a row means a breach and drop the threshold", th.Operator)}}, false
	}
	if th.Column == "" {
		c.set("timeAggregation", str("Count"))
	} else {
		// breakglass compares each row's value; the Azure aggregation
		// that fires whenever one row would is the extreme on the side
		// of the operator.
		agg := "Maximum"
		switch op {
		case "LessThan", "LessThanOrEqual":
			agg = "Minimum"
		case "Equals":
			agg = "Total"
			probs = append(probs, Problem{Message: "== on a measure column: Azure compares the column's total per dimension, breakglass each row's value", Note: true})
		}
		c.set("timeAggregation", str(agg))
		c.set("metricMeasureColumn", str(th.Column))
	}
	c.set("operator", str(op))
	c.set("threshold", num(th.Value))
	if len(r.Dimensions) > 0 {
		if len(r.Dimensions) > 6 {
			probs = append(probs, Problem{Message: fmt.Sprintf("%d dimensions: Azure takes at most 6; deploying fails", len(r.Dimensions))})
		}
		var ds []*node
		for _, d := range r.Dimensions {
			ds = append(ds, obj().set("name", str(d)).set("operator", str("Include")).set("values", arr(str("*"))))
		}
		c.set("dimensions", arr(ds...))
	}
	of, minv := 1, 1
	if r.Violations != nil {
		of, minv = r.Violations.Of, r.Violations.Min
		probs = append(probs, Problem{Message: "violations: Azure counts them per window of the query's datetime column, so the result needs one (TimeGenerated)", Note: true})
	}
	c.set("failingPeriods", obj().set("numberOfEvaluationPeriods", num(float64(of))).set("minFailingPeriodsToAlert", num(float64(minv))))
	p.set("criteria", obj().set("allOf", arr(c)))
	if r.MuteFor > 0 {
		p.set("muteActionsDuration", str(FormatISO(r.MuteFor)))
		if !slices.Contains(azureMutes, r.MuteFor) {
			probs = append(probs, Problem{Message: fmt.Sprintf("mute_for %s is not one Azure accepts (1m, 5m, 15m, 30m, 1h, 6h, 12h, 1d)", FormatConfig(r.MuteFor))})
		}
	}
	p.set("autoMitigate", boolean(r.AutoResolve))
	return p, probs, true
}

// The values Azure's documentation lists for these fields.
var (
	azureFrequencies = durs("1m 5m 10m 15m 30m 45m 1h 2h 3h 4h 5h 6h 12h 24h")
	azureWindows     = durs("1m 5m 10m 15m 30m 45m 1h 2h 3h 4h 5h 6h 24h 48h")
	azureMutes       = durs("1m 5m 15m 30m 1h 6h 12h 24h")
)

func durs(s string) []time.Duration {
	var out []time.Duration
	for _, f := range strings.Fields(s) {
		d, err := time.ParseDuration(f)
		if err != nil {
			panic(err)
		}
		out = append(out, d)
	}
	return out
}

// receivers maps the channels of one group to Azure receivers, by kind.
func (e *Exported) receivers(gi int, g config.GroupConfig) map[string][]*node {
	out := map[string][]*node{}
	used := map[string]bool{}
	rname := func(base string, i, n int) string {
		s := base
		if n > 1 {
			s = fmt.Sprintf("%s-%d", base, i+1)
		}
		for k := 2; used[s]; k++ {
			s = fmt.Sprintf("%s-%d", base, k)
		}
		used[s] = true
		return s
	}
	for ci, ch := range g.Channels {
		where := fmt.Sprintf("notify.groups[%d].channels[%d] (%s/%s)", gi, ci, g.Name, ch.Name)
		lost := func(msg string) { e.Problems = append(e.Problems, Problem{Where: where, Message: msg}) }
		switch s := ch.Settings.(type) {
		case *notify.EmailConfig:
			for i, to := range s.To {
				addr := to
				if a, err := mail.ParseAddress(to); err == nil {
					addr = a.Address
				}
				out["emailReceivers"] = append(out["emailReceivers"], obj().
					set("name", str(rname(ch.Name, i, len(s.To)))).
					set("emailAddress", str(addr)).
					set("useCommonAlertSchema", boolean(true)))
			}
			if s.SubjectPrefix != "" {
				e.Problems = append(e.Problems, Problem{Where: where, Message: "subject_prefix: Azure writes its own subject", Note: true})
			}
		case *notify.SMSConfig, *notify.VoiceConfig:
			key, to := "smsReceivers", []string(nil)
			if v, ok := s.(*notify.VoiceConfig); ok {
				key, to = "voiceReceivers", v.To
			} else {
				to = s.(*notify.SMSConfig).To
			}
			for i, number := range to {
				cc, rest, ok := splitE164(number)
				if !ok {
					lost(fmt.Sprintf("number %d is not E.164 (+CCNNN…): not exported", i+1))
					continue
				}
				if len(out[key]) == maxReceiversPerType {
					lost(fmt.Sprintf("Azure takes at most %d %s per action group: number %d not exported", maxReceiversPerType, strings.TrimSuffix(key, "Receivers"), i+1))
					continue
				}
				out[key] = append(out[key], obj().
					set("name", str(rname(ch.Name, i, len(to)))).
					set("countryCode", str(cc)).
					set("phoneNumber", str(rest)))
			}
		case *notify.WebhookConfig:
			// The URL is a secret (it often carries the credential): it
			// becomes a secure parameter, never part of the output.
			pname := "webhookUri_" + symbolPart(g.Name) + "_" + symbolPart(ch.Name)
			for k := 2; slices.ContainsFunc(e.params, func(p tmplParam) bool { return p.name == pname }); k++ {
				pname = fmt.Sprintf("webhookUri_%s_%s_%d", symbolPart(g.Name), symbolPart(ch.Name), k)
			}
			e.params = append(e.params, tmplParam{name: pname, typ: "securestring", secure: true, desc: fmt.Sprintf("URL of webhook channel %s/%s (a secret: pass it at deployment).", g.Name, ch.Name)})
			out["webhookReceivers"] = append(out["webhookReceivers"], obj().
				set("name", str(rname(ch.Name, 0, 1))).
				set("serviceUri", param(pname)).
				set("useCommonAlertSchema", boolean(true)))
			if s.Schema == notify.SchemaBreakglass {
				lost("schema breakglass: Azure sends the Common Alert Schema; the receiver must read that")
			}
			if len(s.Headers) > 0 {
				lost("headers: Azure webhooks send no custom headers (only credentials in the URL)")
			}
			if s.HMACSecret != "" {
				lost("hmac_secret: Azure does not sign webhook requests; a receiver that checks the signature rejects them")
			}
		default:
			lost(fmt.Sprintf("type %s: Azure action groups have no such receiver; not exported (a Logic App or webhook can stand in)", ch.Type))
		}
	}
	return out
}

// splitE164 splits +4712345678 into country code 47 and 12345678. Country
// calling codes are prefix-free: 1 and 7 have one digit, the two-digit
// ones are listed, every other code has three.
func splitE164(s string) (cc, rest string, ok bool) {
	t := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
	if len(t) < 8 || len(t) > 16 || t[0] != '+' {
		return "", "", false
	}
	digits := t[1:]
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", "", false
		}
	}
	n := 3
	switch {
	case digits[0] == '1' || digits[0] == '7':
		n = 1
	case slices.Contains(twoDigitCodes, digits[:2]):
		n = 2
	}
	return digits[:n], digits[n:], true
}

var twoDigitCodes = strings.Fields("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98")

// badName are the characters Azure refuses in these resource names.
var badName = regexp.MustCompile(`[*<>%{}&:\\?/#|\x00-\x1f\x7f]+`)

// resourceName makes s a valid resource name; changed says it had to.
func resourceName(s string) (string, bool) {
	n := strings.Trim(badName.ReplaceAllString(s, "-"), " .-")
	if len(n) > 260 {
		n = n[:260]
	}
	if n == "" {
		n = "rule"
	}
	return n, n != s
}

// symbolPart makes s usable in a Bicep identifier.
func symbolPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// shortName is a unique groupShortName of at most 12 characters.
func shortName(s string, used map[string]bool) string {
	base := s
	if len(base) > maxShortName {
		base = base[:maxShortName]
	}
	n := base
	for i := 2; used[n]; i++ {
		suf := strconv.Itoa(i)
		n = base[:min(len(base), maxShortName-len(suf))] + suf
	}
	used[n] = true
	return n
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// ARM returns the template as ARM JSON.
func (e *Exported) ARM() []byte {
	t := obj()
	t.set("$schema", str(armSchema))
	t.set("contentVersion", str("1.0.0.0"))
	ps := obj()
	for _, p := range e.params {
		pn := obj().set("type", str(p.typ))
		if p.def != nil {
			pn.set("defaultValue", p.def)
		}
		pn.set("metadata", obj().set("description", str(p.desc)))
		ps.set(p.name, pn)
	}
	t.set("parameters", ps)
	var rs []*node
	for _, r := range e.resources {
		rn := obj()
		rn.set("type", str(r.typ))
		rn.set("apiVersion", str(r.api))
		rn.set("name", str(r.name))
		rn.set("location", r.location)
		if r.kind != "" {
			rn.set("kind", str(r.kind))
		}
		if len(r.dependsOn) > 0 {
			var ds []*node
			for _, d := range r.dependsOn {
				ds = append(ds, e.resourceIDOf(d))
			}
			rn.set("dependsOn", arr(ds...))
		}
		rn.set("properties", r.props)
		rs = append(rs, rn)
	}
	t.set("resources", arr(rs...))
	var b bytes.Buffer
	t.writeJSON(&b, "")
	b.WriteByte('\n')
	return b.Bytes()
}

// resourceIDOf is the ARM dependsOn entry of a resource by symbol.
func (e *Exported) resourceIDOf(sym string) *node {
	for _, r := range e.resources {
		if r.symbol == sym {
			return expr(fmt.Sprintf("resourceId(%s, %s)", armQuote(r.typ), armQuote(r.name)), sym+".id")
		}
	}
	return str(sym) // cannot happen: dependsOn names exported resources
}

// Bicep returns the template as Bicep.
func (e *Exported) Bicep() []byte {
	var b bytes.Buffer
	b.WriteString("// Azure Monitor alert rules and action groups written by `breakglass rules export`.\n")
	b.WriteString("// Deploy: az deployment group create -g RG -f FILE -p workspaceId=WORKSPACE_RESOURCE_ID\n\n")
	for _, p := range e.params {
		b.WriteString("@description(" + bicepString(p.desc) + ")\n")
		if p.secure {
			b.WriteString("@secure()\n")
		}
		typ := p.typ
		if typ == "securestring" {
			typ = "string"
		}
		b.WriteString("param " + p.name + " " + typ)
		if p.def != nil {
			b.WriteString(" = ")
			p.def.writeBicep(&b, "")
		}
		b.WriteString("\n\n")
	}
	for i, r := range e.resources {
		body := obj()
		body.set("name", str(r.name))
		body.set("location", r.location)
		if r.kind != "" {
			body.set("kind", str(r.kind))
		}
		body.set("properties", r.props)
		b.WriteString("resource " + r.symbol + " " + bicepString(r.typ+"@"+r.api) + " = ")
		body.writeBicep(&b, "")
		b.WriteByte('\n')
		if i < len(e.resources)-1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
