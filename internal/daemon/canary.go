package daemon

import (
	"context"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/canary"
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/route"
)

// This file wires canary: (issue 11, item 6): the daily synthetic sign-in
// that serve pushes through its own pipeline (internal/canary). What keeps
// canary and real alerts apart lives here and in config/canary.go:
//
//   - the canary identity is matched by the canary's own rule, added to
//     the pipeline's scanner next to the built-ins; it is never in the
//     break-glass account list, so posture, incidents of accounts and
//     account status never see it;
//   - a bg.canary alert goes to the canary group's channels only, whatever
//     notify.routes say, and every other alert goes to its routed groups
//     minus the canary group (withCanaryRoute);
//   - bg.canary_failed goes to every channel of every other group.

// canaryIdentity is canary.identity.
func canaryIdentity(cfg *config.Config) canary.Identity {
	return canary.Identity{ID: cfg.Canary.Identity.ID, UPN: cfg.Canary.Identity.UPN}
}

// canaryRules are the record rules the pipeline runs besides the
// built-ins: bg.canary when canary: is configured.
func canaryRules(cfg *config.Config) []detect.Rule {
	if cfg.Canary == nil {
		return nil
	}
	return []detect.Rule{canary.NewRule(canaryIdentity(cfg))}
}

// withCanaryRoute wraps routing for canary:. A bg.canary alert (rule and
// label both) goes to the canary group's channels and nowhere else; any
// other alert goes where base sends it minus the canary group (which gets
// canary alerts only), unless that would leave nobody, when base's
// targets stand: a real alert is never dropped to keep a test group
// clean. Without canary: it is base itself.
func withCanaryRoute(cfg *config.Config, base func(map[string]string) []string) func(map[string]string) []string {
	if cfg.Canary == nil {
		return base
	}
	test, _ := cfg.CanaryTargets()
	return func(labels map[string]string) []string {
		if canary.IsCanary(labels) {
			return slices.Clone(test)
		}
		all := base(labels)
		out := slices.DeleteFunc(slices.Clone(all), func(t string) bool { return slices.Contains(test, t) })
		if len(out) == 0 {
			return all
		}
		return out
	}
}

// withoutCanaryGroup is withCanaryRoute for a plan (Reach prints plans):
// the canary group is taken out of every step it is not alone in.
func withoutCanaryGroup(cfg *config.Config, p route.Plan) route.Plan {
	if cfg.Canary == nil {
		return p
	}
	test, _ := cfg.CanaryTargets()
	steps := make([]route.Step, 0, len(p.Steps))
	for _, s := range p.Steps {
		groups := slices.DeleteFunc(slices.Clone(s.Groups), func(g string) bool { return g == cfg.Canary.Group })
		if len(groups) > 0 {
			s.Groups = groups
			s.Targets = slices.DeleteFunc(slices.Clone(s.Targets), func(t string) bool { return slices.Contains(test, t) })
		}
		steps = append(steps, s)
	}
	p.Steps = steps
	return p
}

// canaryPlan is the plan an alert with labels really follows: a canary
// alert's is its test group at once and nothing after; any other alert's
// is p without the canary group.
func canaryPlan(cfg *config.Config, labels map[string]string, p route.Plan) route.Plan {
	if cfg.Canary == nil {
		return p
	}
	if canary.IsCanary(labels) {
		test, _ := cfg.CanaryTargets()
		return route.Plan{Steps: []route.Step{{Groups: []string{cfg.Canary.Group}, Targets: test}}}
	}
	return withoutCanaryGroup(cfg, p)
}

// canaryReach is the reach line of the canary's rules, which are not
// routed (ok is false for every other rule).
func canaryReach(cfg *config.Config, rule string) (line string, ok bool) {
	switch rule {
	case detect.RuleCanary, detect.RuleCanaryFailed:
	default:
		return "", false
	}
	if cfg.Canary == nil {
		return " nobody (canary: is not configured, so it is never raised)\n", true
	}
	if rule == detect.RuleCanary {
		return " the canary's test group " + cfg.Canary.Group + " only, now (canary.group; not routed, and no other group ever gets it)\n", true
	}
	return " every channel of every group except the canary's test group " + cfg.Canary.Group + " (not routed)\n", true
}

// setupCanary builds the canary when canary: is configured, with its
// last-success metric, and reads its recorded state.
func (d *Daemon) setupCanary(ctx context.Context, reg prometheus.Registerer) {
	kc := d.cfg.Canary
	if kc == nil {
		return
	}
	test, real := d.cfg.CanaryTargets()
	var last atomic.Int64 // unix seconds of the last success, 0 for none
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "breakglass_canary_last_success_timestamp_seconds",
		Help: "When the daily canary last got through: its synthetic sign-in detected and delivered to every channel of canary.group (0: never). Alert when older than canary.every plus canary.timeout.",
	}, func() float64 { return float64(last.Load()) }))
	d.metrics.AddSource(canary.Source)
	id := canaryIdentity(d.cfg)
	d.canary = canary.New(canary.Options{
		Identity: id, Every: kc.Every, Timeout: kc.Timeout, Group: kc.Group,
		Targets: test, FailTargets: real, Tenant: d.canaryTenant(id), Store: d.st,
		Ingest: func(ctx context.Context, name string, r io.Reader) error {
			_, err := d.pipeline.Ingest(ctx, canary.Source, name, r)
			return err
		},
		// Group members are break-glass accounts too, which config cannot
		// know: checked against the list as last read, before each run.
		IsBreakGlass: func(id canary.Identity) bool {
			set := d.pipeline.Accounts()
			if _, ok := set.Match(id.ID, id.UPN); ok {
				return true
			}
			_, byID := set.MatchAny(id.ID)
			_, byUPN := set.MatchAny(id.UPN)
			return (id.ID != "" && byID) || (id.UPN != "" && byUPN)
		},
		Wake:      func() { d.disp.Wake(); d.wakeIncidents() },
		OnSuccess: func(t time.Time) { last.Store(t.Unix()) },
		Logger:    d.log.With("part", "canary"),
		Now:       d.o.Now,
		Poll:      d.o.CanaryPoll, FirstDelay: d.o.CanaryDelay,
	})
	if err := d.canary.Load(ctx); err != nil {
		d.log.Error("canary: its recorded state cannot be read; it runs again soon", "error", err)
	}
}

// runCanary runs the canary once serve is ready (its sources started).
func (d *Daemon) runCanary(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-d.ready:
	}
	d.canary.Run(ctx)
}

// canaryTenant is the tenant label of bg.canary_failed. Without tenants:
// the top level's. With tenants: the tenant that lists the canary's
// identity, which config never lets be a break-glass account (only a
// group member could be, and then the run refuses it), so in practice
// the only tenant when there is one; with several none: the canary tests
// the pipeline they all share, so its failure is every tenant's and goes
// to every real group (FailTargets, not routed), those of every tenant's
// routes among them.
func (d *Daemon) canaryTenant(id canary.Identity) string {
	if d.ten == nil {
		return tenantOf(d.cfg)
	}
	if t := d.ten.accountTenantFunc()(id.ID, id.UPN); t != "" {
		return t
	}
	if len(d.cfg.Tenants) == 1 {
		return d.cfg.Tenants[0].ID
	}
	return ""
}
