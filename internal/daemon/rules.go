package daemon

import (
	"context"
	"maps"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kqlrule"
	"breakglass/internal/scan"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// This file wires the KQL alert rules (rules:, package kqlrule) into the
// daemon: filter rules run in the pipeline's scanner beside the
// built-ins, scheduled rules get their records from an observer and are
// evaluated by a kqlrule.Scheduler, and every alert goes through the
// pipeline's store, routes and outbox.

// KQLSource is the source label of scheduled KQL rule alerts.
const KQLSource = "kql"

// kqlState is the daemon's KQL rules.
type kqlState struct {
	rules []*kqlrule.Rule
	sched *kqlrule.Scheduler // nil without scheduled rules
}

// checkRules compiles the rules for CheckConfig: a dimension or measure
// that is not a result column, an unknown column or table, is a
// configuration error at its file:line.
func checkRules(cfg *config.Config) error {
	_, err := kqlrule.Compile(cfg)
	return err
}

// setupKQL compiles the rules (New; CheckConfig reported their errors).
func (d *Daemon) setupKQL() error {
	rules, err := kqlrule.Compile(d.cfg)
	if err != nil {
		return &ConfigError{err}
	}
	d.kql.rules = rules
	return nil
}

// pipelineAccounts is the pipeline's current break-glass list.
func (d *Daemon) pipelineAccounts() *entra.AccountSet {
	if d.pipeline != nil {
		return d.pipeline.Accounts()
	}
	return entra.NewAccountSet(configUsers(d.cfg))
}

// kqlFilterRules are the filter rules, for the pipeline's scanner.
func (d *Daemon) kqlFilterRules() []detect.Rule {
	return kqlrule.FilterRules(d.kql.rules, d.pipelineAccounts)
}

// kqlMuteFor adds the filter rules' mute_for to notify.mute_for: a filter
// rule is muted per account like the built-ins (scheduled rules mute per
// dimension group themselves).
func (d *Daemon) kqlMuteFor(base map[string]time.Duration) map[string]time.Duration {
	out := maps.Clone(base)
	for _, r := range d.kql.rules {
		if r.Kind == kqlrule.KindFilter && r.Cfg.MuteFor > 0 {
			if out == nil {
				out = map[string]time.Duration{}
			}
			out[r.ID] = r.Cfg.MuteFor
		}
	}
	return out
}

// kqlRaiser stores scheduled rules' alerts through the pipeline, with
// their tenant when tenants: is configured (tenants.go).
type kqlRaiser struct {
	p  *watch.Pipeline
	tn *tenancy
}

func (k kqlRaiser) Raise(ctx context.Context, a alert.Alert, ev store.Evidence, muted bool) (bool, error) {
	k.tn.attributeRule(&a)
	return k.p.Raise(ctx, KQLSource, a, ev, muted)
}

func (k kqlRaiser) Resolve(ctx context.Context, id string) error { return k.p.ResolveAlert(ctx, id) }

// setupKQLScheduler makes the scheduler of the scheduled rules, once the
// pipeline exists.
func (d *Daemon) setupKQLScheduler() {
	s := kqlrule.NewScheduler(kqlrule.SchedulerOptions{
		Rules: d.kql.rules, Records: d.st, State: d.st, Raise: kqlRaiser{d.pipeline, d.ten},
		Accounts: d.pipelineAccounts, Now: d.o.Now, Logger: d.log,
	})
	if len(s.Rules()) > 0 {
		d.kql.sched = s
	}
}

// kqlObservers hand the records of the scheduled rules' tables to the
// scheduler's store as they arrive. The scheduler is made after the
// pipeline, so the observer reads it when called.
func (d *Daemon) kqlObservers() []watch.Observer {
	probe := kqlrule.NewScheduler(kqlrule.SchedulerOptions{Rules: d.kql.rules})
	tables := probe.Tables()
	if len(tables) == 0 {
		return nil
	}
	return []watch.Observer{{Rule: kqlrule.NewRecordRule(tables), Observe: func(ctx context.Context, f scan.Finding) error {
		if d.kql.sched == nil {
			return nil
		}
		return d.kql.sched.Record(ctx, f.Alert.Category, f.Alert.Source, f.Raw)
	}}}
}

// runKQL evaluates the scheduled rules until ctx ends.
func (d *Daemon) runKQL(ctx context.Context) {
	if d.kql.sched == nil {
		return
	}
	d.log.Info("KQL rules scheduled", "rules", len(d.kql.sched.Rules()), "tables", d.kql.sched.Tables())
	d.kql.sched.Run(ctx)
}
