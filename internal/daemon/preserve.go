package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/posture"
	"breakglass/internal/preserve"
	"breakglass/internal/scan"
	"breakglass/internal/source"
	"breakglass/internal/version"
	"breakglass/internal/watch"
)

// This file wires internal/preserve into serve: the Graph pull of each
// account incident's window (at open and an hour later), the account's
// state at open, and the records the sources see that name an account
// without alerting, all appended to the incident's evidence log.

const (
	// stateTimeout bounds one live collection of the account's state.
	stateTimeout = 2 * time.Minute
	// stateReuse is how long a live collection is reused: several
	// incidents opening together (one use of two accounts) read the
	// tenant once.
	stateReuse = 5 * time.Minute
)

// preserveSources are the internal sources the preserver raises bg.source
// under (it always runs), so that ResolveRemoved leaves its episodes
// alone.
func preserveSources(*config.Config, Options) []string { return []string{preserve.Source} }

// setupPreserve builds the preserver. It always runs: without Graph it
// still writes each incident's state entry, which then says that no state
// is available and why.
func (d *Daemon) setupPreserve() error {
	o := preserve.Options{
		Store: d.st, Health: d.pipeline, Context: d.cfg.Incidents.ContextWindow(),
		Interval: d.o.PreserveInterval, Logger: d.log, Now: d.o.Now,
	}
	switch {
	case d.ten != nil:
		if err := d.tenantPreserve(&o); err != nil {
			return err
		}
	case d.graph != nil || d.cfg.Graph.Configured():
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
	d.keeper = preserve.NewContextKeeper(d.st, d.cfg.Incidents.ContextWindow(), d.o.Now)
	return nil
}

// tenantPreserve points o at each tenant's Graph: an incident's account is
// pulled, and its state read, through the Graph client of the tenant that
// lists it. An account no tenant lists now (a group member since removed)
// or of a tenant without graph: is not pulled, and its evidence log says
// why.
func (d *Daemon) tenantPreserve(o *preserve.Options) error {
	type tenantState struct {
		g    graph.Lister
		live *liveState
	}
	by := map[string]*tenantState{}
	for i := range d.cfg.Tenants {
		t := &d.cfg.Tenants[i]
		g, err := d.tenantGraph(t)
		if err != nil {
			return err
		}
		if g == nil {
			continue
		}
		by[t.ID] = &tenantState{g: g, live: &liveState{cfg: d.cfg.TenantView(t), g: g, now: d.o.Now}}
	}
	o.GraphFor = func(id, upn string) (graph.Lister, string) {
		t := d.ten.ownerOf(id, upn)
		if t == nil {
			return nil, "the account is listed under no tenant of tenants: now (a group member since removed, or renamed), " +
				"so no tenant's Graph can be asked for its records; read its sign-ins and audit logs in the Entra portal of its tenant"
		}
		ts := by[t.ID]
		if ts == nil {
			return nil, fmt.Sprintf("tenant %s (%s) has no graph: section, so its Graph cannot be asked for the account's records; "+
				"read its sign-ins and audit logs in the tenant's Entra portal, or add tenants[].graph", t.Name, t.ID)
		}
		return ts.g, ""
	}
	o.State = func(ctx context.Context, id, upn string) (*preserve.State, error) {
		t := d.ten.ownerOf(id, upn)
		if t == nil || by[t.ID] == nil {
			return &preserve.State{Reason: "no tenant's Graph answers for this account (see the pull entries), " +
				"so its roles, methods and Conditional Access exclusions at open are not recorded"}, nil
		}
		return by[t.ID].live.state(ctx, id, upn)
	}
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

// maxContextInput bounds how much of one input the context scan holds:
// a Graph page or an HTTP body is far smaller; a file chunk beyond it is
// scanned by the pipeline as always, only not for context records.
const maxContextInput = 64 << 20

// sourceSink is what the sources feed: the pipeline, and after it the
// context scan, which keeps the records that name a break-glass account
// without raising an alert in the account's open incident.
func (d *Daemon) sourceSink() source.Sink { return &contextSink{Pipeline: d.pipeline, d: d} }

type contextSink struct {
	*watch.Pipeline
	d *Daemon
}

func (s *contextSink) Ingest(ctx context.Context, src, name string, r io.Reader) (scan.Stats, error) {
	buf := &cappedBuffer{max: maxContextInput}
	st, err := s.Pipeline.Ingest(ctx, src, name, io.TeeReader(r, buf))
	if buf.over {
		s.d.log.Warn("input too large for the context scan: records in it that name a break-glass account without alerting are not kept in incidents",
			"source", src, "input", name, "limit_bytes", maxContextInput)
		return st, err
	}
	s.d.keepContext(ctx, src, name, buf.b.Bytes())
	return st, err
}

// keepContext runs the context scan over one input and keeps what it
// finds in the open incidents of the accounts named (held until one opens).
func (d *Daemon) keepContext(ctx context.Context, src, name string, data []byte) {
	if len(data) == 0 {
		return
	}
	recs, err := preserve.ScanContext(ctx, entra.NewAccountSet(d.currentAccounts()), name, data)
	if err != nil && len(recs) == 0 {
		d.log.Debug("context scan stopped", "source", src, "input", name, "error", err)
		return
	}
	if len(recs) == 0 {
		return
	}
	d.keepHeld(ctx, recs, src, name)
}

// keepHeld hands recs (nil: none new) to the keeper and logs the outcome.
func (d *Daemon) keepHeld(ctx context.Context, recs []preserve.ContextRecord, src, name string) {
	kept, err := d.keeper.Keep(ctx, recs)
	if err != nil {
		d.log.Error("keeping records that name a break-glass account in their incident failed; retried", "source", src, "input", name, "error", err)
	}
	if n := d.keeper.Drops(); n > 0 {
		d.log.Warn("records naming a break-glass account without an alert were not kept: no incident of the account opened within incidents.context",
			"records", n)
	}
	if kept > 0 || len(recs) > 0 {
		d.log.Info("records naming a break-glass account without an alert", "source", src, "input", name,
			"new", len(recs), "kept_in_incident", kept, "held_for_an_incident", d.keeper.Pending())
	}
}

// runPreserve runs the preserver, and retries the held context records
// every round.
func (d *Daemon) runPreserve(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { d.pres.Run(ctx) })
	defer wg.Wait()
	every := d.o.PreserveInterval
	if every <= 0 {
		every = preserve.DefaultInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d.keeper.Pending() > 0 {
				d.keepHeld(ctx, nil, "", "")
			}
		}
	}
}

// cappedBuffer keeps what is written up to max bytes, then only notes
// that there was more.
type cappedBuffer struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if !c.over && c.b.Len()+len(p) <= c.max {
		c.b.Write(p)
	} else if !c.over {
		c.over = true
		c.b = bytes.Buffer{}
	}
	return len(p), nil
}
