package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/config"
	"breakglass/internal/leader"
	"breakglass/internal/membership"
	"breakglass/internal/posture"
	"breakglass/internal/source"
	"breakglass/internal/store"
)

// This file runs serve's scheduled work on one replica at a time. Several
// serve processes may share one store (PostgreSQL); what they each must do
// (read their sources, send the deliveries they claim, build incidents)
// runs everywhere, but work that is store-wide and would be done twice
// runs only on the replica holding the scheduler lease: the posture audit,
// the KQL scheduled rules, drill reminders and due dates, retention and
// incident pruning, Graph polling (graph sources, group refresh), the
// escalator and the canary.
//
// One lease for all of it, not one per loop: the work is light (a few
// Graph calls and store scans a minute), so spreading it buys little,
// while one leader is one thing to reason about and to read off /readyz
// and the metrics: "replica X does the scheduled work". The lease is
// renewed every third of server.lease_ttl; a replica that dies hands the
// work over within the TTL and a third (its last renewal's TTL, then the
// next try of another); a clean stop hands it over at once.

// schedulerLease names the one lease of the scheduled work.
const schedulerLease = "scheduler"

// scheduleSource keeps, as checkpoints keyed by lease owner, when each
// replica last started the scheduled posture audit: a replica that takes
// the lease over continues the schedule instead of auditing again at once.
const scheduleSource = "bg.schedule/posture-audit"

// leadership is the scheduler lease of this replica and the terms in
// which it holds it; scheduled loops run inside a term.
type leadership struct {
	el    *leader.Elector
	owner string
	ttl   time.Duration
	// audited: this process started a scheduled audit already, so a
	// later term (the lease lost and taken back) continues its schedule.
	audited atomic.Bool

	mu     sync.Mutex
	term   context.Context // nil while not leading
	change chan struct{}   // closed and replaced when term changes
	active sync.WaitGroup  // loops running in the current term
}

// setupLeader builds the elector and its metrics, and puts the graph
// sources under it (they poll the tenant's logs: once, not per replica).
func (d *Daemon) setupLeader(ctx context.Context, reg prometheus.Registerer, owner string) error {
	owner = electionOwner(d.cfg, d.ln, owner)
	held := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "breakglass_lease_held",
		Help: "1 while this replica holds the lease (scheduler: it runs the scheduled work: audit, rules, drills, retention, Graph polling, escalation, canary), else 0."}, []string{"lease"})
	changes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_lease_changes_total",
		Help: "Times this replica took (acquired) or lost the lease."}, []string{"lease", "change"})
	reg.MustRegister(held, changes)
	held.WithLabelValues(schedulerLease).Set(0)
	changes.WithLabelValues(schedulerLease, "acquired")
	changes.WithLabelValues(schedulerLease, "lost")
	ttl := d.o.LeaseTTL
	if ttl <= 0 {
		ttl = d.cfg.Server.LeaseTTLOrDefault()
	}
	l := &leadership{owner: owner, ttl: ttl, change: make(chan struct{})}
	l.el = leader.New(d.st, schedulerLease, owner, leader.Options{
		TTL: ttl, Logger: d.log, KeepOnStop: d.o.KeepLeases,
		OnChange: func(h bool) {
			if h {
				held.WithLabelValues(schedulerLease).Set(1)
				changes.WithLabelValues(schedulerLease, "acquired").Inc()
			} else {
				held.WithLabelValues(schedulerLease).Set(0)
				changes.WithLabelValues(schedulerLease, "lost").Inc()
			}
		},
	})
	d.lead = l
	if d.auditor != nil {
		d.auditor = fencedAuditor{d.auditor, l.el}
	}
	for i, src := range d.sources {
		sc := d.cfg.Sources[i]
		if sc.Type != config.SourceTypeGraph {
			continue
		}
		// Its silence is the leader's to judge: on the others it is not
		// polled, and quiet is no sign of trouble.
		if err := d.pipeline.Silence().Watch(ctx, sc.Name, 0); err != nil {
			return err
		}
		d.sources[i] = &ledSource{Source: src, d: d, maxSilence: sc.MaxSilence}
	}
	return nil
}

// electionOwner is owner (leaseOwner), except when server.listen lets the
// system pick the port: then several daemons on one host and store would
// share the name, so the bound address is part of it.
func electionOwner(cfg *config.Config, ln net.Listener, owner string) string {
	if _, port, err := net.SplitHostPort(cfg.Server.Listen); err != nil || port != "0" {
		return owner
	}
	h := sha256.Sum256([]byte(owner + "\x00" + ln.Addr().String()))
	return "breakglass-" + hex.EncodeToString(h[:8])
}

// runLeadership campaigns for the scheduler lease until ctx ends.
func (d *Daemon) runLeadership(ctx context.Context) {
	d.lead.el.Run(ctx, d.lead.hold)
}

// hold is the elector's work: publish the term to the scheduled loops,
// and when it ends wait until they have all stopped, so the lease is not
// given up (or lost) while one still runs.
func (l *leadership) hold(ctx context.Context) {
	l.setTerm(ctx)
	<-ctx.Done()
	l.setTerm(nil)
	l.active.Wait()
}

func (l *leadership) setTerm(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.term = ctx
	close(l.change)
	l.change = make(chan struct{})
}

// enter returns the current term (nil when not leading), counting the
// caller as active in it, and a channel closed at the next change.
func (l *leadership) enter() (context.Context, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term != nil {
		l.active.Add(1)
	}
	return l.term, l.change
}

// scheduled runs loop in every term this replica holds the scheduler
// lease, until ctx ends: loop's context ends with the term. A loop that
// returns early waits for the next term.
func (d *Daemon) scheduled(ctx context.Context, loop func(ctx context.Context)) {
	_ = d.lead.each(ctx, func(ctx context.Context) error { loop(ctx); return nil })
}

// each runs fn in every term until ctx ends, and returns the first error
// fn returns while its term still runs (a failure, not a handover).
func (l *leadership) each(ctx context.Context, fn func(ctx context.Context) error) error {
	for ctx.Err() == nil {
		term, change := l.enter()
		if term != nil {
			rctx, cancel := context.WithCancel(term)
			stop := context.AfterFunc(ctx, cancel)
			err := fn(rctx)
			failed := err != nil && rctx.Err() == nil
			stop()
			cancel()
			l.active.Done()
			if failed {
				return err
			}
		}
		select {
		case <-ctx.Done():
		case <-change:
		}
	}
	return nil
}

// scheduledGroups refreshes the break-glass groups from Graph on the
// leader; the other replicas apply the members it stored, as often, so
// every replica watches the same accounts.
func (d *Daemon) scheduledGroups(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { d.scheduled(ctx, d.members.Run) })
	every := d.o.GroupRefresh
	if every <= 0 {
		every = membership.DefaultRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d.lead.el.Held() {
			continue
		}
		if err := d.members.Load(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("reading the group members the leader stored", "error", err)
		}
	}
}

// ledSource is a graph source that polls only while this replica leads.
// Elsewhere its Run just waits, and counts as running: a replica that is
// not the leader is not unready.
type ledSource struct {
	source.Source
	d          *Daemon
	maxSilence time.Duration
}

func (s *ledSource) Run(ctx context.Context, sink source.Sink) error {
	d := s.d
	return d.lead.each(ctx, func(tctx context.Context) error {
		// The leader judges its silence, from a full max_silence at
		// the takeover; an open silence is picked up from the store.
		if err := d.pipeline.Silence().Watch(tctx, s.Name(), s.maxSilence); err != nil {
			d.log.Error("graph source: reading its silence state", "source", s.Name(), "error", err)
		}
		defer func() {
			if err := d.pipeline.Silence().Watch(context.WithoutCancel(tctx), s.Name(), 0); err != nil {
				d.log.Error("graph source: handing its silence watch over", "source", s.Name(), "error", err)
			}
		}()
		return s.Source.Run(tctx, sink)
	})
}

// fencedAuditor checks, once an audit has run and before its results are
// recorded, that this replica still holds the lease in the term it ran
// in: a replica that froze during an audit and woke after another took
// over must not record stale verdicts over the new leader's. The fence
// ends the term, so the audit loop drops the report without a word (it
// is no failure of the audit).
type fencedAuditor struct {
	Auditor
	el *leader.Elector
}

func (a fencedAuditor) Audit(ctx context.Context) (*posture.Report, error) {
	rep, err := a.Auditor.Audit(ctx)
	if err != nil {
		return rep, err
	}
	if ferr := a.el.Fence(ctx); errors.Is(ferr, leader.ErrNotLeader) {
		return nil, fmt.Errorf("audit report dropped: %w", ferr)
	}
	// A fence that could not read the lease records the report: the
	// store is likely failing, and recording says so with its own alert.
	return rep, nil
}

// Scheduled work keeps its schedule across a change of leader: the new
// one continues where the old one was.

// auditFirstDelay is how long the scheduled audit waits at the start of a
// term: AuditDelay in the first term after a start, when the last audit
// was this replica's own (a restart, as with one replica); otherwise
// (another replica audited last, or this one did in an earlier term)
// until the last audit started is due again, or, if that one can no
// longer be running and never finished, once it would have timed out:
// it died with its replica. Never sooner than AuditDelay.
func (d *Daemon) auditFirstDelay(ctx context.Context) time.Duration {
	if d.lead == nil {
		return d.o.AuditDelay
	}
	last, ok := d.lastAudit(ctx)
	if !ok || (last.Key == d.lead.owner && !d.lead.audited.Load()) {
		return d.o.AuditDelay
	}
	now := d.o.Now()
	due := last.Updated.Add(d.o.AuditInterval)
	if last.Offset == auditStarted {
		due = minTime(due, last.Updated.Add(d.o.AuditTimeout))
	}
	return max(d.o.AuditDelay, due.Sub(now))
}

// Checkpoint offsets of scheduleSource.
const (
	auditStarted  = 0
	auditFinished = 1
)

// auditStart records that this replica starts a scheduled audit at at,
// and reports whether to go on: not when the term has just ended (the
// next leader audits instead, on the schedule the marks tell it).
func (d *Daemon) auditStart(ctx context.Context, at time.Time) bool {
	d.auditMark(ctx, at, auditStarted)
	return ctx.Err() == nil
}

// auditMark records that this replica started (or finished) a scheduled
// audit at at.
func (d *Daemon) auditMark(ctx context.Context, at time.Time, state int64) {
	if d.lead == nil {
		return
	}
	d.lead.audited.Store(true)
	if err := d.st.SetCheckpoint(ctx, store.Checkpoint{Source: scheduleSource, Key: d.lead.owner, Offset: state, Updated: at}); err != nil && ctx.Err() == nil {
		d.log.Warn("recording the audit schedule; a new leader may audit again early", "error", err)
	}
}

// lastAudit is the newest audit start recorded by any replica.
func (d *Daemon) lastAudit(ctx context.Context) (store.Checkpoint, bool) {
	cps, err := d.st.Checkpoints(ctx, scheduleSource)
	if err != nil {
		d.log.Warn("reading the audit schedule", "error", err)
		return store.Checkpoint{}, false
	}
	var last store.Checkpoint
	found := false
	for _, c := range cps {
		if strings.HasPrefix(c.Key, "breakglass-") && (!found || c.Updated.After(last.Updated)) {
			last, found = c, true
		}
	}
	return last, found
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// leaseTrouble is an error once this replica has failed to reach the
// scheduler lease for longer than its TTL: it cannot tell whether any
// replica runs the scheduled work, so it is not ready, and the
// dead-man's switch stops (heartbeat.go). Standing by is no trouble.
func (d *Daemon) leaseTrouble() error {
	if d.lead == nil {
		return nil
	}
	since, err := d.lead.el.Trouble()
	if err == nil {
		return nil
	}
	if down := time.Since(since); down >= d.lead.ttl {
		return fmt.Errorf("the scheduler lease cannot be taken or renewed for %v (%v): the scheduled work (audit, rules, escalation, Graph polling) may be running on no replica; check the store", down.Round(time.Second), err)
	}
	return nil
}

// writeLeases adds the leases this replica holds to /readyz's body. Not
// holding one is no reason to be unready: another replica does the work.
func (d *Daemon) writeLeases(w http.ResponseWriter) {
	if d.lead == nil {
		return
	}
	held, epoch, since := d.lead.el.Status()
	if !held {
		fmt.Fprintf(w, "lease %s: held by another replica (or none yet); this one stands by\n", schedulerLease)
		return
	}
	fmt.Fprintf(w, "lease %s: held by this replica since %s (term %d): it runs the scheduled work\n", schedulerLease, since.UTC().Format(time.RFC3339), epoch)
}
