package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/posture"
	"breakglass/internal/preserve"
	"breakglass/internal/version"
)

// This file wires internal/preserve into serve: the Graph pull of each
// account incident's window (at open and an hour later) and the account's
// state at open, both appended to the incident's evidence log.

const (
	// stateTimeout bounds one live collection of the account's state.
	stateTimeout = 2 * time.Minute
	// stateReuse is how long a live collection is reused: several
	// incidents opening together (one use of two accounts) read the
	// tenant once.
	stateReuse = 5 * time.Minute
)

// preserveSources are the internal sources the preserver raises bg.source
// under, so that ResolveRemoved leaves its episodes alone while Graph is
// configured.
func preserveSources(cfg *config.Config, o Options) []string {
	if o.Graph != nil || cfg.Graph.Configured() {
		return []string{preserve.Source}
	}
	return nil
}

// setupPreserve builds the preserver. It always runs: without Graph it
// still writes each incident's state entry, which then says that no state
// is available and why.
func (d *Daemon) setupPreserve() error {
	o := preserve.Options{
		Store: d.st, Health: d.pipeline, Context: d.cfg.Incidents.ContextWindow(),
		Interval: d.o.PreserveInterval, Logger: d.log, Now: d.o.Now,
	}
	if d.graph != nil || d.cfg.Graph.Configured() {
		g, err := d.graphClient()
		if err != nil {
			return err
		}
		o.Graph = g
		o.State = (&liveState{cfg: d.cfg, g: g, now: d.o.Now}).state
	}
	p, err := preserve.New(o)
	if err != nil {
		return fmt.Errorf("incident evidence: %w", err)
	}
	d.pres = p
	return nil
}

// liveState reads the account's state at open through Graph, the same
// collection the scheduled posture audit makes, and keeps the last one: a
// collection that fails falls back to it (saying how old it is).
type liveState struct {
	cfg *config.Config
	g   graph.Lister
	now func() time.Time

	mu   sync.Mutex
	last *posture.Tenant
	at   time.Time
}

func (l *liveState) state(ctx context.Context, accountID, accountUPN string) (*preserve.State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.last != nil && now.Sub(l.at) < stateReuse {
		return preserve.StateFromTenant(l.last, accountID, accountUPN, "live posture collection through Graph"), nil
	}
	cctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	t, err := l.collect(cctx)
	if err == nil {
		l.last, l.at = t, now
		return preserve.StateFromTenant(t, accountID, accountUPN, "live posture collection through Graph"), nil
	}
	if l.last == nil {
		return nil, err
	}
	st := preserve.StateFromTenant(l.last, accountID, accountUPN,
		fmt.Sprintf("the last posture collection (%s; reading the tenant now failed: %v)", l.at.UTC().Format(time.RFC3339), err))
	return st, nil
}

func (l *liveState) collect(ctx context.Context) (*posture.Tenant, error) {
	snap, err := collect.CollectSnapshot(ctx, l.g, collect.Options{
		Accounts: l.cfg.Accounts, Groups: l.cfg.Groups(), ToolVersion: version.Version,
		TenantID: l.cfg.Graph.TenantID, Now: l.now,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the tenant from Graph: %w", err)
	}
	t, err := posture.FromSnapshot(snap)
	if err != nil {
		return nil, fmt.Errorf("decoding what Graph returned: %w", err)
	}
	return t, nil
}
