package daemon

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"breakglass/internal/posture"
)

// DefaultAuditDelay is how long after start the first scheduled posture
// audit runs: soon, so drift present at start is known within minutes,
// but after the sources and the group members have settled.
const DefaultAuditDelay = time.Minute

// Auditor runs one posture audit of the tenant.
type Auditor interface {
	Audit(ctx context.Context) (*posture.Report, error)
}

// setupAudit chooses the auditor: the test's, else the live audit when
// Graph is configured, else none.
func (d *Daemon) setupAudit() error {
	if d.o.Auditor != nil {
		d.auditor = d.o.Auditor
		return nil
	}
	if !d.cfg.Graph.Configured() {
		return nil
	}
	// Exceptions naming no check were refused by checkConfig.
	g, err := d.graphClient()
	if err != nil {
		return err
	}
	d.auditor = &liveAuditor{d: d, g: g}
	return nil
}

// auditLoop runs the audit after AuditDelay and then every AuditInterval.
func (d *Daemon) auditLoop(ctx context.Context) {
	t := time.NewTimer(d.auditFirstDelay(ctx)) // leader.go
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := d.o.Now()
		if !d.auditStart(ctx, at) { // leader.go
			return
		}
		d.auditOnce(ctx)
		d.auditMark(ctx, at, auditFinished)
		t.Reset(d.o.AuditInterval)
	}
}

// auditOnce runs one audit and turns its report into drift alerts. A run
// that cannot complete (an error, a panic, or no answer within
// AuditTimeout) raises bg.source for the posture source.
func (d *Daemon) auditOnce(ctx context.Context) {
	start := time.Now()
	rep, err := d.runAudit(ctx)
	pw := d.pipeline.Posture()
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		d.log.Error("scheduled posture audit failed; drift cannot be seen until it runs again", "error", err, "next_in", d.o.AuditInterval)
		pw.AuditFailed(ctx, err)
		return
	}
	d.savePosture(ctx, "", rep) // posture_store.go
	if err := pw.Record(ctx, rep); err != nil {
		d.log.Error("recording the posture audit; bg.source raised for the posture source", "error", err)
	}
	s := posture.Summarize(rep.Results)
	d.log.Info("scheduled posture audit done", "took", time.Since(start).Round(time.Millisecond),
		"pass", s.Pass, "fail", s.Fail, "warn", s.Warn, "skip", s.Skip, "error", s.Error, "accepted", s.Accepted,
		"next_in", d.o.AuditInterval)
}

// runAudit runs the auditor within AuditTimeout and turns a panic into an
// error: an audit reads hostile data, and a crash there must not stop
// serve's watchers, nor a hang the schedule.
func (d *Daemon) runAudit(ctx context.Context) (*posture.Report, error) {
	return d.runAuditWith(ctx, d.auditor)
}

// runAuditWith is runAudit of one auditor (a tenant's, tenants.go).
func (d *Daemon) runAuditWith(ctx context.Context, auditor Auditor) (rep *posture.Report, err error) {
	actx, cancel := context.WithTimeout(ctx, d.o.AuditTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			d.log.Error("scheduled posture audit crashed (please report this bug)", "panic", v, "stack", string(debug.Stack()))
			rep, err = nil, fmt.Errorf("the posture audit crashed: %v (a bug; the stack is in the log)", v)
		}
	}()
	rep, err = auditor.Audit(actx)
	if err == nil && rep == nil {
		err = errors.New("the posture audit returned no report (a bug)")
	}
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		err = fmt.Errorf("the posture audit did not finish within %s: %w", d.o.AuditTimeout, err)
	}
	return rep, err
}
