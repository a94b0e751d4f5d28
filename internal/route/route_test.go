package route

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMatcher(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Matcher // re is not compared
		wantErr string
	}{
		{in: `rule="bg.signin"`, want: Matcher{Name: "rule", Op: Equal, Value: "bg.signin"}},
		{in: `rule=bg.signin`, want: Matcher{Name: "rule", Op: Equal, Value: "bg.signin"}},
		{in: `  rule = "bg.signin"  `, want: Matcher{Name: "rule", Op: Equal, Value: "bg.signin"}},
		{in: `severity!="Sev4"`, want: Matcher{Name: "severity", Op: NotEqual, Value: "Sev4"}},
		{in: `severity=~"Sev[01]"`, want: Matcher{Name: "severity", Op: Regexp, Value: "Sev[01]"}},
		{in: `account!~"bg-.*"`, want: Matcher{Name: "account", Op: NotRegexp, Value: "bg-.*"}},
		{in: `source=""`, want: Matcher{Name: "source", Op: Equal, Value: ""}},
		{in: `source=`, want: Matcher{Name: "source", Op: Equal, Value: ""}},
		{in: `title="a \"b\" c"`, want: Matcher{Name: "title", Op: Equal, Value: `a "b" c`}},
		{in: `x.y_z="v"`, want: Matcher{Name: "x.y_z", Op: Equal, Value: "v"}},

		{in: ``, wantErr: "want name="},
		{in: `rule`, wantErr: "want name="},
		{in: `="x"`, wantErr: "want name="},
		{in: `rule!x`, wantErr: "unknown operator"},
		{in: `1rule="x"`, wantErr: "is not a label name"},
		{in: `ru-le="x"`, wantErr: "is not a label name"},
		{in: `rule="bg.signin`, wantErr: "not closed"},
		{in: `rule="a\q"`, wantErr: "bad escape"},
		{in: `rule=a b`, wantErr: "quote a value"},
		{in: `rule='bg.signin'`, wantErr: "double quotes"},
		{in: `rule=="bg.signin"`, wantErr: `starts with "="`},
		{in: `rule=~~"x"`, wantErr: `starts with "~"`},
		{in: `rule=~"("`, wantErr: "bad regular expression"},
		// Unbalanced on its own; wrapped in ^(?:...)$ it would compile to
		// an unanchored expression.
		{in: `rule=~"a)|(b"`, wantErr: "bad regular expression"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := ParseMatcher(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseMatcher(%q) = %v, %v; want error containing %q", tc.in, m, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m.re = nil
			if m != tc.want {
				t.Fatalf("ParseMatcher(%q) = %+v, want %+v", tc.in, m, tc.want)
			}
		})
	}
}

// TestMatcherRoundTrip: String reads back as the same matcher.
func TestMatcherRoundTrip(t *testing.T) {
	for _, s := range []string{`a="x"`, `a!="x y"`, `a=~"Sev[0-2]"`, `a!~".*\\d"`, `a="quote\"d"`, `a=""`} {
		m := MustParse(s)
		again, err := ParseMatcher(m.String())
		if err != nil {
			t.Fatalf("%s: String %q does not parse: %v", s, m.String(), err)
		}
		if again.Name != m.Name || again.Op != m.Op || again.Value != m.Value {
			t.Errorf("%s: round trip %+v, want %+v", s, again, m)
		}
	}
}

func TestMatcherMatches(t *testing.T) {
	labels := map[string]string{"rule": "bg.signin", "severity": "Sev0", "account": "bg-1"}
	for _, tc := range []struct {
		m    string
		want bool
	}{
		{`rule="bg.signin"`, true},
		{`rule="bg.sign"`, false},
		{`rule!="bg.signin"`, false},
		{`rule!="bg.change"`, true},
		{`severity=~"Sev[01]"`, true},
		{`severity=~"Sev"`, false},      // anchored: no substring match
		{`severity=~"ev0"`, false},      // anchored at the start too
		{`severity=~"Sev0|Sev1"`, true}, // alternation stays inside the anchors
		{`severity=~"Sev1|Sev0x"`, false},
		{`severity!~"Sev[01]"`, false},
		{`severity!~"Sev[23]"`, true},
		{`missing=""`, true}, // a label the alert lacks matches as ""
		{`missing!=""`, false},
		{`missing=~".*"`, true},
		{`missing="x"`, false},
	} {
		if got := MustParse(tc.m).Matches(labels); got != tc.want {
			t.Errorf("%s.Matches = %v, want %v", tc.m, got, tc.want)
		}
	}
}

func groups() []Group {
	return []Group{
		{Name: "oncall", Targets: []string{"oncall/sms", "oncall/email"}, EscalateAfter: 10 * time.Minute},
		{Name: "managers", Targets: []string{"managers/email"}, EscalateAfter: 5 * time.Minute},
		{Name: "security", Targets: []string{"security/webhook"}},
		{Name: "audit", Targets: []string{"audit/email"}},
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		groups  []Group
		routes  []Route
		wantErr string
	}{
		{"duplicate group", []Group{{Name: "a"}, {Name: "a"}}, nil, `group "a" is defined twice`},
		{"route without groups", groups(), []Route{{}}, "route 0 names no group"},
		{"unknown group", groups(), []Route{{Groups: []string{"oncall"}}, {Groups: []string{"nobody"}}}, `route 1: no group "nobody"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.groups, tc.routes)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	signin := map[string]string{"rule": "bg.signin", "severity": "Sev0", "account": "bg-1"}
	change := map[string]string{"rule": "bg.change", "severity": "Sev1", "account": "bg-2"}
	silence := map[string]string{"rule": "bg.silence", "severity": "Sev1", "source": "eventhub"}
	step := func(after time.Duration, groups []string, targets ...string) Step {
		return Step{After: after, Groups: groups, Targets: targets}
	}
	for _, tc := range []struct {
		name        string
		routes      []Route
		labels      map[string]string
		want        []Step
		wantRoutes  []int
		wantDefault bool
	}{
		{
			name: "no routes: every group at once", labels: signin, wantDefault: true,
			want: []Step{step(0, []string{"oncall", "managers", "security", "audit"},
				"oncall/sms", "oncall/email", "managers/email", "security/webhook", "audit/email")},
		},
		{
			name:   "no route matches: every group at once",
			routes: []Route{{Matchers: []Matcher{MustParse(`rule="bg.change"`)}, Groups: []string{"audit"}}},
			labels: signin, wantDefault: true,
			want: []Step{step(0, []string{"oncall", "managers", "security", "audit"},
				"oncall/sms", "oncall/email", "managers/email", "security/webhook", "audit/email")},
		},
		{
			name:   "escalation chain: each escalate_after adds to the next group's delay",
			routes: []Route{{Matchers: []Matcher{MustParse(`severity="Sev0"`)}, Groups: []string{"oncall", "managers", "security"}}},
			labels: signin, wantRoutes: []int{0},
			want: []Step{
				step(0, []string{"oncall"}, "oncall/sms", "oncall/email"),
				step(10*time.Minute, []string{"managers"}, "managers/email"),
				step(15*time.Minute, []string{"security"}, "security/webhook"),
			},
		},
		{
			name:   "a group without escalate_after is notified with the next",
			routes: []Route{{Groups: []string{"security", "audit", "oncall", "managers"}}},
			labels: signin, wantRoutes: []int{0},
			want: []Step{
				step(0, []string{"oncall", "security", "audit"}, "oncall/sms", "oncall/email", "security/webhook", "audit/email"),
				step(10*time.Minute, []string{"managers"}, "managers/email"),
			},
		},
		{
			name:   "the last group's escalate_after is ignored",
			routes: []Route{{Groups: []string{"managers"}}},
			labels: change, wantRoutes: []int{0},
			want: []Step{step(0, []string{"managers"}, "managers/email")},
		},
		{
			name: "first match wins",
			routes: []Route{
				{Matchers: []Matcher{MustParse(`rule="bg.change"`)}, Groups: []string{"audit"}},
				{Matchers: []Matcher{MustParse(`severity=~"Sev[01]"`)}, Groups: []string{"security"}},
			},
			labels: change, wantRoutes: []int{0},
			want: []Step{step(0, []string{"audit"}, "audit/email")},
		},
		{
			name: "every matcher of a route must match",
			routes: []Route{
				{Matchers: []Matcher{MustParse(`rule="bg.change"`), MustParse(`account="bg-1"`)}, Groups: []string{"audit"}},
				{Groups: []string{"security"}},
			},
			labels: change, wantRoutes: []int{1},
			want: []Step{step(0, []string{"security"}, "security/webhook")},
		},
		{
			name: "continue adds the later routes' groups, earliest delay wins",
			routes: []Route{
				{Matchers: []Matcher{MustParse(`rule="bg.signin"`)}, Groups: []string{"oncall", "managers"}, Continue: true},
				{Matchers: []Matcher{MustParse(`rule="bg.change"`)}, Groups: []string{"audit"}},
				{Groups: []string{"managers", "security"}},
			},
			labels: signin, wantRoutes: []int{0, 2},
			// oncall at 0 and managers at 10m by the first route; managers
			// at 0 and security at 5m by the third.
			want: []Step{
				step(0, []string{"oncall", "managers"}, "oncall/sms", "oncall/email", "managers/email"),
				step(5*time.Minute, []string{"security"}, "security/webhook"),
			},
		},
		{
			name: "continue on the last matching route",
			routes: []Route{
				{Matchers: []Matcher{MustParse(`source="eventhub"`)}, Groups: []string{"security"}, Continue: true},
			},
			labels: silence, wantRoutes: []int{0},
			want: []Step{step(0, []string{"security"}, "security/webhook")},
		},
		{
			name:   "a group named twice in a route takes its earliest place",
			routes: []Route{{Groups: []string{"oncall", "managers", "oncall"}}},
			labels: signin, wantRoutes: []int{0},
			want: []Step{
				step(0, []string{"oncall"}, "oncall/sms", "oncall/email"),
				step(10*time.Minute, []string{"managers"}, "managers/email"),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(groups(), tc.routes)
			if err != nil {
				t.Fatal(err)
			}
			p := r.Plan(tc.labels)
			if !reflect.DeepEqual(p.Steps, tc.want) {
				t.Errorf("steps:\n got %+v\nwant %+v", p.Steps, tc.want)
			}
			if !slices.Equal(p.Routes, tc.wantRoutes) || p.Default != tc.wantDefault {
				t.Errorf("routes %v default %v, want %v %v", p.Routes, p.Default, tc.wantRoutes, tc.wantDefault)
			}
			if !slices.Equal(p.Now(), tc.want[0].Targets) {
				t.Errorf("Now = %v, want %v", p.Now(), tc.want[0].Targets)
			}
			if last := tc.want[len(tc.want)-1].After; p.Last() != last {
				t.Errorf("Last = %v, want %v", p.Last(), last)
			}
			// Deterministic: the same labels give the same plan (resolutions
			// are re-planned and must reach the firing's targets).
			if again := r.Plan(maps(tc.labels)); !reflect.DeepEqual(again, p) {
				t.Errorf("second Plan differs: %+v vs %+v", again, p)
			}
		})
	}
}

func maps(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestDueBy(t *testing.T) {
	r, err := New(groups(), []Route{{Groups: []string{"oncall", "managers", "security"}}})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Plan(nil)
	for _, tc := range []struct {
		elapsed time.Duration
		want    []string
	}{
		{0, []string{"oncall/sms", "oncall/email"}},
		{10*time.Minute - time.Nanosecond, []string{"oncall/sms", "oncall/email"}},
		{10 * time.Minute, []string{"oncall/sms", "oncall/email", "managers/email"}},
		{15 * time.Minute, []string{"oncall/sms", "oncall/email", "managers/email", "security/webhook"}},
		{time.Hour, []string{"oncall/sms", "oncall/email", "managers/email", "security/webhook"}},
	} {
		if got := p.DueBy(tc.elapsed); !slices.Equal(got, tc.want) {
			t.Errorf("DueBy(%v) = %v, want %v", tc.elapsed, got, tc.want)
		}
	}
	if got := (Plan{}).Now(); got != nil {
		t.Errorf("empty plan Now = %v", got)
	}
	if got := (Plan{}).Last(); got != 0 {
		t.Errorf("empty plan Last = %v", got)
	}
}

func TestMaxEscalation(t *testing.T) {
	for _, tc := range []struct {
		routes []Route
		want   time.Duration
	}{
		{nil, 0},
		{[]Route{{Groups: []string{"oncall"}}}, 0},
		{[]Route{{Groups: []string{"oncall", "managers"}}}, 10 * time.Minute},
		{[]Route{{Groups: []string{"oncall", "managers"}}, {Groups: []string{"oncall", "managers", "audit"}}}, 15 * time.Minute},
		{[]Route{{Groups: []string{"security", "oncall"}}}, 0},
	} {
		r, err := New(groups(), tc.routes)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.MaxEscalation(); got != tc.want {
			t.Errorf("%+v: MaxEscalation = %v, want %v", tc.routes, got, tc.want)
		}
	}
}

// TestPlanInvariants checks random routings: every plan starts at once,
// steps are ordered and distinct, every group of the plan is configured and
// appears once, and no plan is empty (an alert always reaches someone).
func TestPlanInvariants(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	gs := groups()
	names := []string{"oncall", "managers", "security", "audit"}
	vals := []string{"a", "b", "c"}
	ops := []Op{Equal, NotEqual, Regexp, NotRegexp}
	for range 500 {
		var routes []Route
		for range rng.IntN(4) {
			var rt Route
			for range rng.IntN(3) {
				m := MustParse("k" + vals[rng.IntN(3)] + string(ops[rng.IntN(4)]) + `"` + vals[rng.IntN(3)] + `"`)
				rt.Matchers = append(rt.Matchers, m)
			}
			for range 1 + rng.IntN(3) {
				rt.Groups = append(rt.Groups, names[rng.IntN(4)])
			}
			rt.Continue = rng.IntN(2) == 0
			routes = append(routes, rt)
		}
		r, err := New(gs, routes)
		if err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{}
		for _, k := range vals {
			if rng.IntN(2) == 0 {
				labels["k"+k] = vals[rng.IntN(3)]
			}
		}
		p := r.Plan(labels)
		if len(p.Steps) == 0 || p.Steps[0].After != 0 || len(p.Now()) == 0 {
			t.Fatalf("routes %+v labels %v: plan %+v does not notify anyone at once", routes, labels, p)
		}
		seen := map[string]bool{}
		for i, s := range p.Steps {
			if i > 0 && s.After <= p.Steps[i-1].After {
				t.Fatalf("plan %+v: steps out of order", p)
			}
			for _, g := range s.Groups {
				if seen[g] || !slices.Contains(names, g) {
					t.Fatalf("plan %+v: group %q twice or unknown", p, g)
				}
				seen[g] = true
			}
		}
		if p.Last() > r.MaxEscalation() {
			t.Fatalf("plan %+v: Last %v beyond MaxEscalation %v", p, p.Last(), r.MaxEscalation())
		}
	}
}

// FuzzParseMatcher: no input crashes the parser, and what it accepts
// formats back to a matcher that parses to the same thing.
func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{`rule="bg.signin"`, `a=~"x|y"`, `a!~"("`, `a!=b`, `a="\u00e9"`, `=`, `a=~"a)|(b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatcher(s)
		if err != nil {
			return
		}
		again, err := ParseMatcher(m.String())
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, m.String(), err)
		}
		if again.Name != m.Name || again.Op != m.Op || again.Value != m.Value {
			t.Fatalf("%q: round trip %+v, want %+v", s, again, m)
		}
		m.Matches(map[string]string{m.Name: m.Value})
	})
}

// TestPlanNoGroupCap: there is no limit on the groups one alert reaches
// (README, "No cap on groups per alert"): twelve groups over three routes
// joined by continue, with more than five notified at once and the rest
// by escalation, all end up in the plan, each once, in configuration
// order within a step.
func TestPlanNoGroupCap(t *testing.T) {
	var groups []Group
	var names []string
	for i := range 12 {
		n := "g" + string(rune('a'+i))
		g := Group{Name: n, Targets: []string{n + "/email"}}
		if i == 6 {
			g.EscalateAfter = 10 * time.Minute
		}
		groups = append(groups, g)
		names = append(names, n)
	}
	r, err := New(groups, []Route{
		{Matchers: []Matcher{MustParse(`rule="bg.signin"`)}, Groups: names[:4], Continue: true},
		{Matchers: []Matcher{MustParse(`severity="Sev0"`)}, Groups: names[2:8], Continue: true}, // gc, gd again; gh after gg's 10m
		{Groups: append([]string{names[6]}, names[8:]...)},                                      // gg, then gi..gl after 10m
	})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Plan(map[string]string{"rule": "bg.signin", "severity": "Sev0"})
	var got []string
	for _, s := range p.Steps {
		got = append(got, s.Groups...)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("groups %v, want all 12 once: %v", got, names)
	}
	if len(p.Steps) != 2 || len(p.Steps[0].Groups) != 7 || p.Steps[1].After != 10*time.Minute || len(p.Now()) != 7 {
		t.Fatalf("steps %+v, want ga..gg now and gh..gl after 10m", p.Steps)
	}
}
