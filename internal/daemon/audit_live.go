package daemon

import (
	"context"
	"fmt"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/posture"
	"breakglass/internal/version"
)

// liveAuditor is the scheduled audit: collect the tenant in memory through
// Graph, exactly what `breakglass collect` writes, and run every check with
// the configuration's options and exceptions.
type liveAuditor struct {
	d *Daemon
	g graph.Lister
	// cfg, when set, is the audited tenant's view of the configuration
	// (tenants.go); else the daemon's.
	cfg *config.Config
}

func (a *liveAuditor) Audit(ctx context.Context) (*posture.Report, error) {
	cfg := a.d.cfg
	if a.cfg != nil {
		cfg = a.cfg
	}
	snap, err := collect.CollectSnapshot(ctx, a.g, collect.Options{
		Accounts: cfg.Accounts, Groups: cfg.Groups(), ToolVersion: version.Version,
		TenantID: cfg.Graph.TenantID, Now: a.d.o.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the tenant from Graph stopped: %w", err)
	}
	t, err := posture.FromSnapshot(snap)
	if err != nil {
		return nil, fmt.Errorf("decoding what Graph returned: %w", err)
	}
	o := PostureOptions(cfg, a.d.o.Now())
	if o.Drills, err = PassedDrills(ctx, a.d.st); err != nil { // drillschedule.go
		// The sign-ins are still judged; a drill is only extra evidence.
		a.d.log.Warn("posture audit without drill evidence", "error", err)
	}
	return posture.Run(t, o), nil
}

// PostureOptions are the audit options of the configuration (defaults are
// config's, already applied): the one mapping from the audit: and
// exceptions: keys to the engine, shared by serve's scheduled audit and
// the audit command, which overrides Source.
func PostureOptions(cfg *config.Config, now time.Time) posture.Options {
	o := posture.Options{
		ConditionalAccessMode:    cfg.Audit.ConditionalAccessMode,
		DrillInterval:            cfg.Audit.DrillInterval,
		MaxExclusionGroupMembers: cfg.Audit.MaxExclusionGroupMembers,
		Now:                      now,
		Source:                   "Microsoft Graph (live, scheduled by serve)",
		ToolVersion:              version.Version,
	}
	for _, e := range cfg.Exceptions {
		o.Exceptions = append(o.Exceptions, posture.Exception{
			Check: e.Check, Account: e.Account, Reason: e.Reason, AcceptedBy: e.AcceptedBy,
			Expires: e.ExpiresAt, Where: cfg.Where(e.Line),
		})
	}
	return o
}
