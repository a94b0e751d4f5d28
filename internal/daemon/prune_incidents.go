package daemon

import (
	"context"
	"errors"
	"io/fs"

	"breakglass/internal/evidence"
	"breakglass/internal/incident"
)

// pruneIncidents applies incidents.retention (issue 10 item 8): closed
// incidents whose last activity is older are pruned (their evidence keeps
// its chained headers, a prune entry records why, a tombstone keeps the
// account and classification). Only expired ones: exported incidents go
// only when an operator runs 'incidents prune --exported'. It runs with
// the store's retention (pruneLoop), at start and every PruneInterval.
//
// A failure raises bg.source for source "incidents" (key "prune"): a log
// that does not verify is never pruned, and that must reach people.
func (d *Daemon) pruneIncidents(ctx context.Context) {
	health := d.pipeline.Health()
	fail := func(err error) {
		if ctx.Err() != nil {
			return
		}
		d.log.Error("pruning incidents", "error", err)
		health.Failing(ctx, incident.HealthSource, "prune", err)
	}
	var refs []evidence.HeadRef
	heads, err := evidence.LoadHeads(d.cfg.Evidence.HeadsFile)
	switch {
	case err == nil:
		for _, h := range heads {
			refs = append(refs, h.Ref())
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		fail(err)
		return
	}
	o := incident.PruneOptions{Retention: d.cfg.Incidents.Retention, Now: d.o.Now()}
	items, err := incident.Prune(ctx, d.st, o, refs, false)
	for _, it := range items {
		switch {
		case it.Done:
			d.log.Info("pruned incident", "incident", it.Incident, "reason", it.Reason, "account", it.AccountUPN,
				"classification", it.Class, "closed", it.Closed, "last_activity", it.LastActivity,
				"retention", d.cfg.Incidents.Retention, "entries", it.Entries, "prune_seq", it.Seq)
		case it.Reason == "" && it.Held != "":
			d.log.Debug("incident past retention kept", "incident", it.Incident, "why", it.Held)
		}
	}
	if err != nil {
		fail(err)
		return
	}
	health.Recovered(ctx, incident.HealthSource, "prune")
}
