package daemon

import (
	"context"
	"fmt"
	"time"

	"breakglass/internal/drill/schedule"
	"breakglass/internal/scan"
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
func (d *Daemon) setupDrillSchedule(route func(map[string]string) []string) error {
	s, err := schedule.New(schedule.Options{
		Store: d.st, Accounts: d.currentAccounts, Interval: d.cfg.Drill.Interval, RemindBefore: d.cfg.Drill.RemindBefore,
		Route: route, Tenant: tenantOf(d.cfg), Wake: func() { d.disp.Wake(); d.wakeIncidents() }, Logger: d.log.With("component", "drill-schedule"), Now: d.o.Now,
	})
	if err != nil {
		return fmt.Errorf("drill schedule: %w", err)
	}
	d.drills = s
	return nil
}

// drillObservers is the pipeline's observer of key changes.
func (d *Daemon) drillObservers() []watch.Observer {
	if d.drills == nil {
		return nil
	}
	return []watch.Observer{{Rule: schedule.Rule(), Observe: func(ctx context.Context, f scan.Finding) error {
		return d.drills.Observe(ctx, schedule.TriggerOf(f.Alert))
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
