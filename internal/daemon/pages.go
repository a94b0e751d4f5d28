package daemon

import (
	"context"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/drill"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kqlrule"
)

// This file gives the API and the dashboard the KQL rules, the query
// endpoint's catalog and the drill calendar (dashboard.go calls
// pageOptions).

// pageOptions fills the API options the rules, query and drills pages
// need: the compiled rules (setupKQL), their evaluation state in the
// store, a read-only catalog over the records the store keeps, the
// config's watchlists, and the drill status with drill.interval.
func (d *Daemon) pageOptions(o *api.Options, acts *Actions) {
	for _, r := range d.kql.rules {
		o.Rules = append(o.Rules, kqlrule.Describe(r))
	}
	o.RuleState = func(ctx context.Context, id string) (time.Time, time.Time, error) {
		w, at, err := kqlrule.LastEvaluated(ctx, d.st, id)
		if err != nil {
			d.log.Error("dashboard: a KQL rule's evaluation state could not be read", "rule", id, "err", err)
		}
		return w, at, err
	}
	o.Catalog = tables.NewEvidence(d.st)
	o.Watchlists = kqlrule.Watchlists(d.cfg)
	if geo, err := kqlrule.Geo(d.cfg); err != nil {
		// Config validation opened it already; a file gone since is said
		// in each answer (every location null), not fatal to the dashboard.
		d.log.Error("dashboard queries: the GeoIP database cannot be read", "err", err)
	} else {
		o.Geo = geo
	}
	o.DrillStatus = acts.DrillStatus
	o.Logger = d.log.With("part", "api")
}

// DrillStatus is every configured account's drills and when the next is
// due, at now, with the config's drill.interval (as drill status says).
func (a *Actions) DrillStatus(ctx context.Context) ([]drill.AccountStatus, error) {
	return a.ev.Status(ctx, a.st, a.cfg.Users(), a.now())
}
