package config

import (
	"errors"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/alert"
	"breakglass/internal/kql"
)

// Defaults and limits of rules: (Azure Monitor's scheduled query rules).
const (
	// DefaultRuleFrequency is Azure's portal default evaluation frequency.
	DefaultRuleFrequency = 5 * time.Minute
	// MinRuleFrequency and MaxRuleFrequency are Azure's: "one minute to
	// one day".
	MinRuleFrequency = time.Minute
	MaxRuleFrequency = 24 * time.Hour
	// MaxRuleLookback bounds period × violations.of: Azure's query time
	// range is at most two days, and the records kept for scheduled rules
	// (the store's records table) grow with it.
	MaxRuleLookback = 48 * time.Hour
	// MaxRuleMuteFor is Azure's longest muteActionsDuration (P1D).
	MaxRuleMuteFor = 24 * time.Hour
	// MaxRuleStatefulFrequency: Azure does not support auto-resolve
	// (stateful) rules evaluated less often than every 12 hours.
	MaxRuleStatefulFrequency = 12 * time.Hour
	// MaxRuleDimensions is Azure's limit on split-by dimensions.
	MaxRuleDimensions = 6
	// MaxRuleViolationsOf bounds violations.of: state per dimension
	// combination is kept for that many evaluations.
	MaxRuleViolationsOf = 100
	// RuleIDPrefix makes a KQL rule's id: "kql." + name. The prefix keeps
	// rule ids apart from the built-ins (bg.*) in alerts and routes.
	RuleIDPrefix = "kql."
	// WatchlistAccounts is the only source a kql.watchlists alias can
	// name today: the accounts: list.
	WatchlistAccounts = "accounts"
)

// DefaultWatchlists are the _GetWatchlist aliases that exist without any
// kql.watchlists: the names Sentinel's break-glass content uses (the
// analytics rules say breakGlassAccounts, the hunting pack
// BreakGlassAccounts).
var DefaultWatchlists = map[string]string{
	"breakGlassAccounts": WatchlistAccounts,
	"BreakGlassAccounts": WatchlistAccounts,
}

// RuleOperators are the threshold operators, in the KQL spelling the
// effective configuration uses. Azure's (GreaterThan, ...) and Sentinel's
// (gt, ...) names are accepted and normalised to these.
var RuleOperators = []string{">", ">=", "<", "<=", "==", "!="}

var ruleOperatorAliases = map[string]string{
	"greaterthan": ">", "greaterthanorequal": ">=", "lessthan": "<", "lessthanorequal": "<=",
	"equals": "==", "equal": "==", "notequals": "!=", "notequal": "!=",
	"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!=",
	"=": "==", "<>": "!=",
}

// ruleNameRE: a name becomes part of the rule id, of alert ids and of
// route matchers (rule=kql.NAME), so it is a plain word.
var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Rule is a KQL alert rule (rules:), with the semantics of an Azure
// Monitor scheduled query rule: the query runs every Frequency over the
// records ingested in the last Period, and fires when Threshold holds.
// A pure filter query (a where/extend/project chain over one table) runs
// per record as it arrives instead, with no timer.
type Rule struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
	// Description is shown in alerts and `rules list`.
	Description string        `yaml:"description,omitempty"`
	Frequency   time.Duration `yaml:"frequency,omitempty"`
	Period      time.Duration `yaml:"period,omitempty"`
	// Threshold: nil fires when the query returns any row.
	Threshold *RuleThreshold `yaml:"threshold,omitempty"`
	// Severity 0 (critical) to 4 (verbose), as in Azure Monitor.
	Severity *int `yaml:"severity,omitempty"`
	// MuteFor suppresses further notifications of this rule (per
	// dimension combination) for this long after one fires.
	MuteFor time.Duration `yaml:"mute_for,omitempty"`
	// AutoResolve marks the alert resolved when the condition no longer
	// holds (stateful rules only).
	AutoResolve bool `yaml:"auto_resolve,omitempty"`
	// Dimensions split the alert by these result columns.
	Dimensions []string `yaml:"dimensions,omitempty"`
	// Violations: fire only when Min of the last Of evaluations violated.
	Violations *RuleViolations `yaml:"violations,omitempty"`
	// Labels are added to the rule's alerts (for notify.routes).
	Labels map[string]string `yaml:"labels,omitempty"`

	// QueryLine and QueryLineOffset place the query in the file: query
	// line k (1-based) is file line QueryLine+k-1 when QueryExact, else
	// only QueryLine (the query: key) is known. Set by Parse; later errors
	// about the query (the compiled schema, see Config.RuleQueryError) use them.
	QueryLine  int  `yaml:"-"`
	QueryExact bool `yaml:"-"`
	// Lines are the file lines of the rule's keys ("dimensions[0]",
	// "threshold.column", ...), for errors found after Parse.
	Lines map[string]int `yaml:"-"`
}

// Line is the file line of one of the rule's keys, else of the query.
func (r *Rule) Line(key string) int {
	if l, ok := r.Lines[key]; ok && l > 0 {
		return l
	}
	return r.QueryLine
}

// ID is the rule's id in alerts and route matchers: kql.NAME.
func (r *Rule) ID() string { return RuleIDPrefix + r.Name }

// Sev is the rule's severity (after defaults: 0 when unset).
func (r *Rule) Sev() alert.Severity {
	if r.Severity == nil {
		return alert.Sev0
	}
	return alert.Severity(*r.Severity)
}

// FileLine maps a line of the query text to a line of the configuration
// file (see QueryLine).
func (r *Rule) FileLine(queryLine int) int {
	if r.QueryExact && queryLine > 0 {
		return r.QueryLine + queryLine - 1
	}
	return r.QueryLine
}

// RuleThreshold is the condition on the result: Operator (>, >=, <, <=,
// ==, !=) against Value, on the row count or on the measure Column.
type RuleThreshold struct {
	Operator string  `yaml:"operator"`
	Value    float64 `yaml:"value"`
	Column   string  `yaml:"column,omitempty"`
}

// Holds reports whether v breaches the threshold.
func (t *RuleThreshold) Holds(v float64) bool {
	switch t.Operator {
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case "==":
		return v == t.Value
	case "!=":
		return v != t.Value
	}
	return false
}

// RuleViolations is Azure's "number of violations to trigger the alert".
type RuleViolations struct {
	Of  int `yaml:"of"`
	Min int `yaml:"min"`
}

// KQLConfig is kql: settings shared by every KQL query breakglass runs.
type KQLConfig struct {
	// Watchlists maps _GetWatchlist aliases to what they return; the only
	// source today is "accounts" (the accounts: list, with the columns
	// Sentinel's break-glass rules use). DefaultWatchlists are added
	// unless an alias of the same name is given.
	Watchlists map[string]string `yaml:"watchlists,omitempty"`
	// GeoIPDatabase is a MaxMind City database file (GeoLite2-City.mmdb)
	// for geo_info_from_ip_address (kqlgeo.go). Without it a rule that
	// calls the function is refused.
	GeoIPDatabase string `yaml:"geoip_database,omitempty"`
}

// reservedRuleLabels are labels breakglass sets itself on every alert: a
// rule's labels: may not replace them, or routes would be misled.
var reservedRuleLabels = []string{
	alert.LabelRule, alert.LabelSeverity, alert.LabelAccount, alert.LabelTenant,
	alert.LabelSource, alert.LabelCategory, alert.LabelExpectation, alert.LabelDrill,
}

var labelKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// RuleLabelKeys are the label keys the configured rules add: routes may
// match on them (see checkMatcher).
func (c *Config) RuleLabelKeys() []string {
	var out []string
	for _, r := range c.Rules {
		for k := range r.Labels {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// RuleIDs are the ids of the configured rules (kql.NAME).
func (c *Config) RuleIDs() []string {
	var out []string
	for i := range c.Rules {
		if n := strings.TrimSpace(c.Rules[i].Name); n != "" {
			out = append(out, RuleIDPrefix+n)
		}
	}
	return out
}

// validateRules checks rules: and kql:. What needs the compiled query
// (dimensions and threshold.column are result columns, the query's
// tables exist) is checked by package kqlrule with RuleQueryError, so
// config check and serve report it the same way.
func (c *Config) validateRules(d *decoder) {
	c.validateWatchlists(d)
	c.validateGeoIP(d)
	seen := map[string]int{}
	for i := range c.Rules {
		r := &c.Rules[i]
		f := "rules[" + strconv.Itoa(i) + "]"
		if d.failed[f] {
			continue
		}
		line := func(k string) int {
			if l, ok := d.lines[f+"."+k]; ok {
				return l
			}
			return d.lines[f]
		}
		r.Name = strings.TrimSpace(r.Name)
		switch {
		case d.failed[f+".name"]:
		case r.Name == "":
			d.errorf(line("name"), f+".name", "required: a short name; the rule's alerts say rule=%sNAME", RuleIDPrefix)
		case !ruleNameRE.MatchString(r.Name):
			d.errorf(line("name"), f+".name", "%s: use letters, digits, '_', '.' and '-' (at most 64, starting with a letter or digit)", quoteShort(r.Name))
		default:
			k := strings.ToLower(r.Name)
			if j, dup := seen[k]; dup {
				d.errorf(line("name"), f+".name", "%q is also the name of rules[%d] (line %d); names are unique, ignoring case", r.Name, j, d.lines["rules["+strconv.Itoa(j)+"].name"])
			} else {
				seen[k] = i
			}
		}
		r.Lines = map[string]int{}
		for k, l := range d.lines {
			if rest, ok := strings.CutPrefix(k, f+"."); ok {
				r.Lines[rest] = l
			}
		}
		c.validateRuleQuery(d, r, f, line("query"))
		c.validateRuleTiming(d, r, f, line)
		c.validateRuleCondition(d, r, f, line)
		for k, v := range r.Labels {
			lf := f + "." + join("labels", k)
			switch {
			case d.failed[lf]:
			case !labelKeyRE.MatchString(k):
				d.errorf(line("labels"), lf, "label names are letters, digits and '_', starting with a letter or '_'")
			case slices.Contains(reservedRuleLabels, k):
				d.errorf(d.lines[lf], lf, "breakglass sets the %s label itself; choose another name", k)
			case strings.TrimSpace(v) == "":
				d.errorf(d.lines[lf], lf, "empty value; give one or remove the label")
			}
		}
	}
}

func (c *Config) validateRuleQuery(d *decoder, r *Rule, f string, line int) {
	qf := f + ".query"
	r.QueryLine = line
	if n := d.nodes[qf]; n != nil {
		switch {
		case n.Style&yaml.LiteralStyle != 0:
			// query: | ... : the text starts on the line after the key.
			r.QueryLine, r.QueryExact = n.Line+1, true
		case !strings.Contains(r.Query, "\n"):
			r.QueryLine, r.QueryExact = n.Line, true
		}
	}
	if d.failed[qf] {
		return
	}
	if strings.TrimSpace(r.Query) == "" {
		d.errorf(line, qf, "required: the KQL query (write it as a block: query: |)")
		return
	}
	if len(r.Query) > kql.MaxQueryBytes {
		d.errorf(line, qf, "longer than %d bytes", kql.MaxQueryBytes)
		return
	}
	_, err := kql.Check(r.Query)
	if err == nil {
		return
	}
	if blocks := kql.SplitBlocks(r.Query); len(blocks) > 1 {
		if _, err1 := kql.Parse(blocks[0].Text); err1 == nil {
			d.errorf(line, qf, "holds %d queries separated by blank lines; a rule runs one: give each its own rule", len(blocks))
			return
		}
	}
	e := ruleQueryError(r, err)
	d.errorf(e.Line, qf, "%s", e.Msg)
}

// RuleQueryError places an error about rules[i]'s query (a
// *kql.SyntaxError or *kql.UnsupportedError, possibly wrapped, as the
// compiler's errors are) in the configuration file: the file line the
// query line maps to, and the query's own line:col in the message. Any
// other error is placed at the query: key.
func (c *Config) RuleQueryError(i int, err error) *Error {
	r := &c.Rules[i]
	e := ruleQueryError(r, err)
	e.File, e.Field, e.Err = c.Path, "rules["+strconv.Itoa(i)+"].query", err
	return e
}

func ruleQueryError(r *Rule, err error) *Error {
	var se *kql.SyntaxError
	var ue *kql.UnsupportedError
	var pos kql.Pos
	var msg string
	switch {
	case errors.As(err, &se):
		pos, msg = se.Pos, se.Msg
	case errors.As(err, &ue):
		pos = ue.Pos
		msg = "breakglass cannot run this (" + ue.Msg + "); rewrite the query without it, or the rule would never fire"
		if ue.Feature != "" {
			msg = "breakglass cannot run " + ue.Feature + " (" + ue.Msg + "); rewrite the query without it, or the rule would never fire"
		}
	default:
		return &Error{Line: r.QueryLine, Msg: err.Error()}
	}
	return &Error{Line: r.FileLine(pos.Line), Msg: "query " + pos.String() + ": " + msg}
}

func (c *Config) validateRuleTiming(d *decoder, r *Rule, f string, line func(string) int) {
	ff, pf := f+".frequency", f+".period"
	freq := r.Frequency
	if freq == 0 {
		freq = DefaultRuleFrequency
	}
	if !d.failed[ff] && r.Frequency != 0 && (r.Frequency < MinRuleFrequency || r.Frequency > MaxRuleFrequency) {
		d.errorf(line("frequency"), ff, "must be between %v and %v, as in Azure Monitor (default %v)", fmtDur(MinRuleFrequency), fmtDur(MaxRuleFrequency), fmtDur(DefaultRuleFrequency))
	}
	period := r.Period
	if period == 0 {
		period = freq
	}
	of := 1
	if r.Violations != nil && r.Violations.Of > 0 {
		of = r.Violations.Of
	}
	switch {
	case d.failed[pf] || r.Period == 0:
	case r.Period < freq:
		// A window shorter than the interval leaves records that no
		// evaluation sees: a miss by construction.
		d.errorf(line("period"), pf, "must be at least the frequency (%v): records between two shorter windows would never be evaluated", fmtDur(freq))
	case r.Period%time.Second != 0:
		d.errorf(line("period"), pf, "must be whole seconds")
	}
	if !d.failed[pf] && !d.failed[f+".violations"] && period*time.Duration(of) > MaxRuleLookback && period <= MaxRuleLookback {
		d.errorf(line("violations"), f+".violations.of", "period × of (%v × %d) looks back more than %v", fmtDur(period), of, fmtDur(MaxRuleLookback))
	} else if !d.failed[pf] && period > MaxRuleLookback {
		d.errorf(line("period"), pf, "must be at most %v, as in Azure Monitor", fmtDur(MaxRuleLookback))
	}
	mf := f + ".mute_for"
	switch {
	case d.failed[mf]:
	case r.MuteFor < 0:
		d.errorf(line("mute_for"), mf, "must not be negative")
	case r.MuteFor > MaxRuleMuteFor:
		d.errorf(line("mute_for"), mf, "must be at most %v, as in Azure Monitor: a longer mute hides a second use of the account", fmtDur(MaxRuleMuteFor))
	}
	if r.AutoResolve && freq > MaxRuleStatefulFrequency && !d.failed[f+".auto_resolve"] {
		d.errorf(line("auto_resolve"), f+".auto_resolve", "needs a frequency of at most %v (Azure does not resolve rules that run less often)", fmtDur(MaxRuleStatefulFrequency))
	}
}

func (c *Config) validateRuleCondition(d *decoder, r *Rule, f string, line func(string) int) {
	tf := f + ".threshold"
	if t := r.Threshold; t != nil && !d.failed[tf] {
		op := strings.TrimSpace(t.Operator)
		if a, ok := ruleOperatorAliases[strings.ToLower(op)]; ok {
			op = a
		}
		switch {
		case d.failed[tf+".operator"]:
		case op == "":
			d.errorf(line("threshold"), tf+".operator", "required: one of %s", strings.Join(RuleOperators, " "))
		case !slices.Contains(RuleOperators, op):
			d.errorf(d.lines[tf+".operator"], tf+".operator", "%s: want one of %s (or Azure's GreaterThan, ...)", quoteShort(t.Operator), strings.Join(RuleOperators, " "))
		}
		t.Operator = op
		if math.IsNaN(t.Value) || math.IsInf(t.Value, 0) {
			d.errorf(d.lines[tf+".value"], tf+".value", "must be a finite number")
		}
		t.Column = strings.TrimSpace(t.Column)
	}
	if r.AutoResolve && r.Threshold == nil && !d.failed[tf] {
		d.errorf(line("auto_resolve"), f+".auto_resolve", "needs a threshold: without one the rule fires on any row and has no condition that clears")
	}
	sf := f + ".severity"
	if r.Severity != nil && !d.failed[sf] && (*r.Severity < 0 || *r.Severity > 4) {
		d.errorf(line("severity"), sf, "must be 0 (critical) to 4 (verbose), as in Azure Monitor")
	}
	df := f + ".dimensions"
	if len(r.Dimensions) > MaxRuleDimensions && !d.failed[df] {
		d.errorf(line("dimensions"), df, "at most %d dimensions, as in Azure Monitor", MaxRuleDimensions)
	}
	dims := map[string]int{}
	for j, dim := range r.Dimensions {
		jf := df + "[" + strconv.Itoa(j) + "]"
		if d.failed[jf] {
			continue
		}
		dim = strings.TrimSpace(dim)
		r.Dimensions[j] = dim
		if dim == "" {
			d.errorf(d.lines[jf], jf, "empty; name a column of the query's result")
		} else if k, dup := dims[dim]; dup {
			d.errorf(d.lines[jf], jf, "%q is also dimensions[%d]", dim, k)
		} else {
			dims[dim] = j
		}
	}
	vf := f + ".violations"
	if v := r.Violations; v != nil && !d.failed[vf] {
		switch {
		case d.failed[vf+".of"] || d.failed[vf+".min"]:
		case v.Of < 1 || v.Of > MaxRuleViolationsOf:
			d.errorf(d.lines[vf+".of"], vf+".of", "must be 1 to %d evaluations", MaxRuleViolationsOf)
		case v.Min < 1 || v.Min > v.Of:
			d.errorf(d.lines[vf+".min"], vf+".min", "must be 1 to of (%d)", v.Of)
		}
	}
}

// validateWatchlists checks kql.watchlists.
func (c *Config) validateWatchlists(d *decoder) {
	for alias, src := range c.KQL.Watchlists {
		wf := "kql." + join("watchlists", alias)
		if d.failed[wf] {
			continue
		}
		switch {
		case strings.TrimSpace(alias) == "" || strings.ContainsAny(alias, "'\"\n\r\t"):
			d.errorf(d.lines[wf], wf, "not a usable _GetWatchlist alias")
		case strings.TrimSpace(src) != WatchlistAccounts:
			d.errorf(d.lines[wf], wf, "%s: the only watchlist source is %q (the accounts: list)", quoteShort(src), WatchlistAccounts)
		}
	}
}

// applyRuleDefaults fills in each rule's frequency, period, severity and
// violations, and the default watchlist aliases.
func (c *Config) applyRuleDefaults() {
	for i := range c.Rules {
		r := &c.Rules[i]
		if r.Frequency == 0 {
			r.Frequency = DefaultRuleFrequency
		}
		if r.Period == 0 {
			r.Period = r.Frequency
		}
		if r.Severity == nil {
			sev := 0 // Microsoft's recipe: Critical (Sev 0)
			r.Severity = &sev
		}
		if r.Violations == nil {
			r.Violations = &RuleViolations{Of: 1, Min: 1}
		}
	}
	if len(c.Rules) > 0 || len(c.KQL.Watchlists) > 0 {
		if c.KQL.Watchlists == nil {
			c.KQL.Watchlists = map[string]string{}
		}
		for k, v := range DefaultWatchlists {
			if _, ok := c.KQL.Watchlists[k]; !ok {
				c.KQL.Watchlists[k] = v
			}
		}
	}
}

// fmtDur prints a duration as people write it: 5m, 1h, 24h.
func fmtDur(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}
