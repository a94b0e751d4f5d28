package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/drill"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/posture"
	"breakglass/internal/scan"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/watch"
)

// Timings of the drill schedule. Due dates are days apart, so a check a
// minute is plenty; the first runs a minute after start, once the sources
// and the group members have settled.
const (
	// DefaultDrillCheckInterval is how often serve checks the schedule.
	DefaultDrillCheckInterval = time.Minute
	// drillFailuresToAlert: a schedule whose checks fail this many times
	// in a row raises bg.source (source drill-schedule); one busy store
	// is not worth a page, a schedule that has stopped working is.
	drillFailuresToAlert = 3
)

// setupDrillSchedule builds the schedule (drill.interval,
// drill.remind_before) before the pipeline, whose observer it is: key
// changes in the audit logs make drills due early.
func (d *Daemon) setupDrillSchedule(reg prometheus.Registerer, route func(map[string]string) []string) error {
	s, err := schedule.New(schedule.Options{
		Store: d.st, Accounts: d.currentAccounts, Interval: d.cfg.Drill.Interval, RemindBefore: d.cfg.Drill.RemindBefore,
		Route: route, Tenant: tenantOf(d.cfg), TenantOf: d.ten.accountTenantFunc(), Wake: func() { d.disp.Wake(); d.wakeIncidents() }, Logger: d.log.With("component", "drill-schedule"), Now: d.o.Now,
	})
	if err != nil {
		return fmt.Errorf("drill schedule: %w", err)
	}
	d.drills = s
	d.drillEval, d.drillRoute = drill.Evaluator{Bounds: d.cfg.Drill, Targets: route}, route // drill.go
	watch.RegisterGauge(reg, "breakglass_drills_overdue", "Break-glass accounts with bg.drill_overdue firing: past their drill due date, or never drilled.",
		func(ctx context.Context) (int, error) {
			cs, err := d.st.Conditions(ctx, schedule.RuleOverdue)
			return len(cs), err
		})
	return nil
}

// drillObservers is the pipeline's observer of key changes.
func (d *Daemon) drillObservers() []watch.Observer {
	if d.drills == nil {
		return nil
	}
	return []watch.Observer{{Rule: schedule.Rule(), Observe: func(ctx context.Context, f scan.Finding) error {
		t := schedule.TriggerOf(f.Alert)
		t.Tenant = d.ten.triggerTenant(f.Alert.Source, f.Raw) // tenants.go
		return d.drills.Observe(ctx, t)
	}}}
}

// runDrillSchedule checks the schedule until ctx ends; checks that keep
// failing raise bg.source, resolved by the next check that works.
func (d *Daemon) runDrillSchedule(ctx context.Context) {
	every := d.o.DrillCheckInterval
	if every <= 0 {
		every = DefaultDrillCheckInterval
	}
	health := d.pipeline.Health()
	failures := 0
	d.drills.Run(ctx, every, func(err error) {
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if failures++; failures >= drillFailuresToAlert {
				health.Failing(ctx, schedule.Source, "check", fmt.Errorf("drill schedule: %d checks in a row failed; reminders and overdue alerts are not being sent: %w", failures, err))
			}
			return
		}
		failures = 0
		health.Recovered(ctx, schedule.Source, "check")
	})
}

// drillLister is the store's list of drills.
type drillLister interface {
	Drills(ctx context.Context, f store.DrillFilter) ([]store.Drill, error)
}

// PassedDrills are the store's passed drills as evidence for the posture
// audit (posture.Options.Drills: last-sign-in accepts a recent one).
func PassedDrills(ctx context.Context, st drillLister) ([]posture.PassedDrill, error) {
	ds, err := st.Drills(ctx, store.DrillFilter{State: store.DrillFinished, Result: store.DrillPassed})
	if err != nil {
		return nil, fmt.Errorf("reading passed drills: %w", err)
	}
	out := make([]posture.PassedDrill, 0, len(ds))
	for _, d := range ds {
		if d.Result != store.DrillPassed {
			continue
		}
		out = append(out, posture.PassedDrill{ID: d.ID, AccountID: d.AccountID, AccountUPN: d.AccountUPN, At: schedule.RanAt(d)})
	}
	return out, nil
}

// StoredDrills reads the passed drills of the store at path for the audit
// command. No store there is no drill (nil, nil): the audit never creates
// one.
func StoredDrills(ctx context.Context, path string) ([]posture.PassedDrill, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	defer st.Close()
	return PassedDrills(ctx, st)
}
