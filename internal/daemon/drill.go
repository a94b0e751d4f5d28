package daemon

import (
	"cmp"
	"context"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/drill"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// drillPoll is how often serve links the sign-ins of open drills to their
// incidents (pre-classifying those as drills).
const drillPoll = 5 * time.Second

// drillAnnotate is the pipeline's Annotate: sign-ins inside an announced
// drill's window are marked as the drill's (package drill). Drills are
// read from the store, so one planned by the CLI while serve runs applies
// within drill.DefaultRefresh.
func (d *Daemon) drillAnnotate() func(*alert.Alert) {
	// The cache ages by the wall clock, whatever clock the daemon is given:
	// matching itself uses the alert's event time.
	m := drill.NewMatcher(d.st, 0, nil, d.log)
	return m.Annotate
}

// drillLoop links the sign-in of every open drill to its incident once the
// incident builder has attached it, so the incident carries the drill
// pre-classification while it is still open.
func (d *Daemon) drillLoop(ctx context.Context) {
	t := time.NewTicker(drillPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, f := range []store.DrillFilter{{State: store.DrillRunning}, {State: store.DrillPlanned},
			// Finished before the incident builder attached the sign-in:
			// linked late, so the report still reaches the incident. The
			// newest suffice; the builder runs every few seconds.
			{State: store.DrillFinished, Limit: 20}} {
			ds, err := d.st.Drills(ctx, f)
			if err != nil {
				d.log.Warn("reading drills", "error", err)
				continue
			}
			for _, dr := range ds {
				if d.expireDrill(ctx, dr) {
					continue
				}
				ok, err := drill.Link(ctx, d.st, dr, d.o.Now())
				if err != nil {
					d.log.Warn("linking a drill to its incident", "drill", dr.ID, "error", err)
				} else if ok {
					d.log.Info("drill sign-in seen; its incident is pre-classified as a drill", "drill", dr.ID)
				}
			}
		}
	}
}

// expireDrill finishes a drill whose window and grace passed with no
// sign-in as failed "not detected", and raises bg.drill_failed so that
// people hear it: a drill nobody finished must not keep its finding to
// itself. It reports whether it finished the drill.
func (d *Daemon) expireDrill(ctx context.Context, dr store.Drill) bool {
	now := d.o.Now()
	r, done, err := d.drillEval.Expire(ctx, d.st, dr, now)
	if err != nil {
		d.log.Warn("finishing a drill whose window passed with no sign-in", "drill", dr.ID, "error", err)
		return false
	}
	if !done {
		return false
	}
	a, ev := drill.ExpiredAlert(dr, r, now)
	tenant := tenantOf(d.cfg)
	if f := d.ten.accountTenantFunc(); f != nil {
		if t := f(dr.AccountID, dr.AccountUPN); t != "" {
			tenant = t
		}
	}
	watch.Label(&a, "", tenant)
	targets := d.drillRoute(a.Labels)
	if len(targets) == 0 {
		d.log.Error("no notification target for bg.drill_failed: it is stored, but nobody is told; check notify.groups and notify.routes", "drill", dr.ID)
	}
	// The drill is finished already: a failure here is retried by nobody,
	// so it is logged as an error, with the drill report as the record.
	if _, err := d.st.AddAlertNotify(ctx, a, ev, targets); err != nil {
		d.log.Error("drill failed (not detected), but its alert could not be stored", "drill", dr.ID, "error", err)
		return true
	}
	d.disp.Wake()
	d.log.Warn("drill failed: its window passed with no sign-in of the account; bg.drill_failed raised", "drill", dr.ID, "account", cmp.Or(dr.AccountUPN, dr.AccountID), "alert_id", a.ID)
	return true
}
