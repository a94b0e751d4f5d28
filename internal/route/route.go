// Package route decides which action groups an alert reaches, and when:
// routes match on alert labels (Alertmanager-style matchers) and name groups
// in order; a group with an escalation delay holds back the groups after it
// until that delay has passed without an acknowledgement. An alert no route
// matches goes to every group: an alert nobody is told about is no alert.
package route

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Op is how a matcher compares a label.
type Op string

// Matcher operators, as in Alertmanager.
const (
	Equal     Op = "="
	NotEqual  Op = "!="
	Regexp    Op = "=~"
	NotRegexp Op = "!~"
)

// Matcher tests one label. A label the alert does not have matches as "".
type Matcher struct {
	Name  string
	Op    Op
	Value string
	re    *regexp.Regexp // anchored, for Regexp and NotRegexp
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.]*$`)

// ParseMatcher parses `name="value"`, `name!="value"`, `name=~"regex"` or
// `name!~"regex"`. The value may be unquoted when it has no spaces; a
// quoted value takes Go escapes. Regular expressions are anchored at both
// ends, as in Alertmanager: severity=~"Sev[01]" matches Sev0, not Sev01.
func ParseMatcher(s string) (Matcher, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return Matcher{}, fmt.Errorf("matcher %q: want name=\"value\", name!=\"value\", name=~\"regex\" or name!~\"regex\"", s)
	}
	name := strings.TrimSpace(s[:i])
	rest := s[i:]
	var op Op
	for _, o := range []Op{Regexp, NotRegexp, NotEqual, Equal} {
		if strings.HasPrefix(rest, string(o)) {
			op = o
			break
		}
	}
	if op == "" {
		return Matcher{}, fmt.Errorf("matcher %q: unknown operator; use =, !=, =~ or !~", s)
	}
	if !labelName.MatchString(name) {
		return Matcher{}, fmt.Errorf("matcher %q: %q is not a label name", s, name)
	}
	val := strings.TrimSpace(rest[len(op):])
	if strings.HasPrefix(val, `"`) {
		u, err := strconv.Unquote(val)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: the quoted value is not closed or has a bad escape", s)
		}
		val = u
	} else {
		switch {
		case strings.HasPrefix(val, "'"):
			// 'x' would be matched with its quotes, and match nothing.
			return Matcher{}, fmt.Errorf("matcher %q: quote the value with double quotes (\"...\"), not single quotes", s)
		case strings.HasPrefix(val, "=") || strings.HasPrefix(val, "~"):
			// name==x or name=~~x: the value would start with the stray character.
			return Matcher{}, fmt.Errorf("matcher %q: the value starts with %q; the operators are =, !=, =~ and !~", s, val[:1])
		case strings.ContainsAny(val, " \t\""):
			return Matcher{}, fmt.Errorf("matcher %q: quote a value that has spaces or quotes", s)
		}
	}
	m := Matcher{Name: name, Op: op, Value: val}
	if op == Regexp || op == NotRegexp {
		// Compiled alone first: a value such as `a)|(b` is no regular
		// expression, yet wrapped in ^(?:...)$ it would compile to one that
		// is no longer anchored and matches far more than intended.
		if _, err := regexp.Compile(val); err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad regular expression: %v", s, err)
		}
		re, err := regexp.Compile("^(?:" + val + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad regular expression: %v", s, err)
		}
		m.re = re
	}
	return m, nil
}

// MustParse is ParseMatcher for values known to be valid (tests, built-ins).
func MustParse(s string) Matcher {
	m, err := ParseMatcher(s)
	if err != nil {
		panic(err)
	}
	return m
}

// String formats m so that ParseMatcher reads it back.
func (m Matcher) String() string { return m.Name + string(m.Op) + strconv.Quote(m.Value) }

// Matches reports whether labels satisfy m.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case Equal:
		return v == m.Value
	case NotEqual:
		return v != m.Value
	case Regexp:
		return m.re.MatchString(v)
	case NotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

// Group is an action group as routing sees it.
type Group struct {
	Name    string
	Targets []string // its channels, as outbox targets ("group/channel")
	// EscalateAfter, when positive, holds back the groups after this one in
	// a route until the alert has gone unacknowledged this long.
	EscalateAfter time.Duration
}

// Route sends the alerts all of whose Matchers match to Groups. The first
// route that matches decides, unless it says Continue: then later routes
// are tried too and their groups added.
type Route struct {
	Matchers []Matcher
	Groups   []string
	Continue bool
}

// Matches reports whether every matcher of r matches labels (a route
// without matchers matches everything).
func (r Route) Matches(labels map[string]string) bool {
	for _, m := range r.Matchers {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// Router plans notifications. It is immutable and safe for concurrent use.
type Router struct {
	groups []Group
	byName map[string]int
	routes []Route
}

// New returns a router over groups and routes. With no routes every alert
// goes to every group at once. A route naming a group that does not exist,
// or naming no group, is an error.
func New(groups []Group, routes []Route) (*Router, error) {
	r := &Router{groups: slices.Clone(groups), byName: map[string]int{}, routes: slices.Clone(routes)}
	for i, g := range groups {
		if _, dup := r.byName[g.Name]; dup {
			return nil, fmt.Errorf("group %q is defined twice", g.Name)
		}
		r.byName[g.Name] = i
	}
	for i, rt := range routes {
		if len(rt.Groups) == 0 {
			return nil, fmt.Errorf("route %d names no group", i)
		}
		for _, g := range rt.Groups {
			if _, ok := r.byName[g]; !ok {
				return nil, fmt.Errorf("route %d: no group %q", i, g)
			}
		}
	}
	return r, nil
}

// Step is one stage of a plan: the groups (and their targets) notified once
// the alert has gone unacknowledged for After.
type Step struct {
	After   time.Duration
	Groups  []string
	Targets []string
}

// Plan is who an alert reaches and when, earliest step first. Steps[0] has
// After 0 and is notified at once.
type Plan struct {
	Steps []Step
	// Routes are the indexes of the routes that matched; nil when none did
	// and the alert went to every group (Default).
	Routes  []int
	Default bool
}

// Plan returns the plan for an alert with labels.
func (r *Router) Plan(labels map[string]string) Plan {
	var p Plan
	at := map[string]time.Duration{} // group -> earliest After
	for i, rt := range r.routes {
		if !rt.Matches(labels) {
			continue
		}
		p.Routes = append(p.Routes, i)
		var after time.Duration
		for j, g := range rt.Groups {
			if prev, ok := at[g]; !ok || after < prev {
				at[g] = after
			}
			if e := r.groups[r.byName[g]].EscalateAfter; e > 0 && j < len(rt.Groups)-1 {
				after += e
			}
		}
		if !rt.Continue {
			break
		}
	}
	if len(p.Routes) == 0 {
		p.Default = true
		for _, g := range r.groups {
			at[g.Name] = 0
		}
	}
	// Steps in After order; groups within a step in configuration order.
	for _, g := range r.groups {
		after, ok := at[g.Name]
		if !ok {
			continue
		}
		k := slices.IndexFunc(p.Steps, func(s Step) bool { return s.After == after })
		if k < 0 {
			p.Steps = append(p.Steps, Step{After: after})
			k = len(p.Steps) - 1
		}
		p.Steps[k].Groups = append(p.Steps[k].Groups, g.Name)
		p.Steps[k].Targets = append(p.Steps[k].Targets, g.Targets...)
	}
	slices.SortStableFunc(p.Steps, func(a, b Step) int { return cmp.Compare(a.After, b.After) })
	if len(p.Steps) > 0 && p.Steps[0].After != 0 {
		// Cannot happen (every route's first group is at 0), but a plan
		// whose first step waits would notify nobody at first.
		p.Steps[0].After = 0
	}
	return p
}

// Now lists the targets notified at once.
func (p Plan) Now() []string {
	if len(p.Steps) == 0 {
		return nil
	}
	return p.Steps[0].Targets
}

// DueBy lists the targets of every step due once the alert has gone
// unacknowledged for elapsed.
func (p Plan) DueBy(elapsed time.Duration) []string {
	var out []string
	for _, s := range p.Steps {
		if s.After <= elapsed {
			out = append(out, s.Targets...)
		}
	}
	return out
}

// Last is the After of the last step: after that, nothing more escalates.
func (p Plan) Last() time.Duration {
	if len(p.Steps) == 0 {
		return 0
	}
	return p.Steps[len(p.Steps)-1].After
}

// Groups lists the configured groups, in order.
func (r *Router) Groups() []Group { return slices.Clone(r.groups) }

// Targets lists every target of every group.
func (r *Router) Targets() []string {
	var out []string
	for _, g := range r.groups {
		out = append(out, g.Targets...)
	}
	return out
}

// MaxEscalation is the longest Last of any route: how long after it was
// detected an alert may still escalate.
func (r *Router) MaxEscalation() time.Duration {
	var m time.Duration
	for _, rt := range r.routes {
		var after time.Duration
		for j, g := range rt.Groups {
			if e := r.groups[r.byName[g]].EscalateAfter; e > 0 && j < len(rt.Groups)-1 {
				after += e
			}
		}
		m = max(m, after)
	}
	return m
}
