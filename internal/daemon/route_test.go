package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/detect"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// routeConfig is four groups, one webhook each, on the receiver's paths,
// an http source and a file source whose path is missing (so it is silent
// and failing), plus extra (routes, mute_for).
func routeConfig(e *env, rcv *receiver, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `sources:
  - type: http
    name: push
    listen: %%[2]s
    token: ${%s}
  - type: file
    name: files
    path: %s
    poll: 100ms
    max_silence: 1s
notify:
  groups:
`, tokenEnv, filepath.Join(e.dir, "missing", "*.json"))
	for _, g := range []string{"oncall", "managers", "security", "audit"} {
		fmt.Fprintf(&b, "    - name: %s\n      channels:\n        - type: webhook\n          url: %s/%s\n", g, rcv.srv.URL, g)
	}
	return b.String() + extra
}

// reached lists the receiver paths that got a firing of rule.
func reached(rcv *receiver, rule string) []string {
	var out []string
	for _, g := range []string{"oncall", "managers", "security", "audit"} {
		if rcv.rule("/"+g+" "+rule+" firing") > 0 {
			out = append(out, g)
		}
	}
	return out
}

// TestRoutesThroughDaemon: a Sev0 sign-in and a bg.silence each reach
// exactly the channels their routes name; with no routes, every channel.
func TestRoutesThroughDaemon(t *testing.T) {
	for _, tc := range []struct {
		name                string
		routes              string
		wantSignIn, wantSil string
	}{
		{
			name: "routed",
			routes: `  routes:
    - matchers: ['severity="Sev0"', 'source="push"']
      groups: [oncall]
    - matchers: ['rule=~"bg.(silence|source)"']
      groups: [security, audit]
`,
			wantSignIn: "oncall", wantSil: "security audit",
		},
		{name: "no routes", wantSignIn: "oncall managers security audit", wantSil: "oncall managers security audit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rcv := newReceiver(t)
			cfg := e.config(t, routeConfig(e, rcv, tc.routes))
			r := start(t, cfg, Options{})
			if code := post(t, r.ingest(t), []byte(signIn("route-1"))); code != 202 {
				t.Fatalf("POST = %d", code)
			}
			want := func(rule, groups string) func() bool {
				return func() bool { return strings.Join(reached(rcv, rule), " ") == groups }
			}
			debug := func() string { return fmt.Sprint(rcv.rules, "\n", r.logs.String()) }
			waitFor(t, 15*time.Second, "the sign-in at "+tc.wantSignIn, want("bg.signin", tc.wantSignIn), debug)
			waitFor(t, 15*time.Second, "the silence at "+tc.wantSil, want("bg.silence", tc.wantSil), debug)
			// Nothing else arrives later: the outbox held only these.
			time.Sleep(500 * time.Millisecond)
			if got := strings.Join(reached(rcv, "bg.signin"), " "); got != tc.wantSignIn {
				t.Errorf("bg.signin reached %q, want %q", got, tc.wantSignIn)
			}
			if got := strings.Join(reached(rcv, "bg.silence"), " "); got != tc.wantSil {
				t.Errorf("bg.silence reached %q, want %q", got, tc.wantSil)
			}
		})
	}
}

// TestMuteForThroughDaemon: with notify.mute_for, a second sign-in of the
// account within the window is stored and marked muted, not delivered,
// and counted in the muted metric.
func TestMuteForThroughDaemon(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, routeConfig(e, rcv, "  mute_for:\n    bg.signin: 1h\n"))
	r := start(t, cfg, Options{})
	addr := r.ingest(t)
	for _, id := range []string{"mute-1", "mute-2"} {
		if code := post(t, addr, []byte(signIn(id))); code != 202 {
			t.Fatalf("POST = %d", code)
		}
	}
	waitFor(t, 15*time.Second, "the first sign-in delivered", func() bool { return rcv.rule("/oncall bg.signin firing") > 0 },
		func() string { return r.logs.String() })
	time.Sleep(500 * time.Millisecond)
	if n := rcv.rule("/oncall bg.signin firing"); n != 1 {
		t.Errorf("%d sign-in deliveries to oncall, want 1 (the second is muted)", n)
	}
	as, err := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: "bg.signin"})
	if err != nil || len(as) != 2 {
		t.Fatalf("alerts %d %v, want 2 stored", len(as), err)
	}
	muted := 0
	for _, a := range as {
		if a.Annotations[watch.AnnMuted] != "" {
			muted++
		}
	}
	if muted != 1 {
		t.Errorf("%d alerts marked muted, want 1", muted)
	}
	_, body := get(t, "http://"+r.d.Addr().String()+"/metrics")
	if !strings.Contains(body, `breakglass_alerts_muted_total{rule="bg.signin"} 1`) {
		t.Errorf("muted metric missing:\n%s", grepLines(body, "muted"))
	}
	if !strings.Contains(r.logs.String(), "alert muted") {
		t.Errorf("no log line for the muted alert:\n%s", r.logs.String())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReach: the reach `config check` prints, for routes that escalate,
// vary by category, continue, and leave rules to the default.
func TestReach(t *testing.T) {
	for _, tc := range []struct{ fixture, golden string }{
		{"testdata/reach.yaml", "testdata/reach.golden"},
		{"testdata/reach_default.yaml", "testdata/reach_default.golden"},
	} {
		cfg := loadCfg(t, tc.fixture)
		got, err := Reach(cfg)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, tc.golden, []byte(got))
	}
}

// TestReachCoversRules: every registered rule has its categories listed
// (or is deliberately left varying), so the printout plans with the
// labels its alerts really carry.
func TestReachCoversRules(t *testing.T) {
	for _, m := range detect.All() {
		if _, ok := ruleCategories[m.ID]; !ok {
			t.Errorf("rule %s: no entry in ruleCategories", m.ID)
		}
	}
}
