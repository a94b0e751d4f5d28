package daemon

import (
	"context"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/drill"
	"breakglass/internal/store"
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
		for _, state := range []string{store.DrillRunning, store.DrillPlanned} {
			ds, err := d.st.Drills(ctx, store.DrillFilter{State: state})
			if err != nil {
				d.log.Warn("reading drills", "error", err)
				continue
			}
			for _, dr := range ds {
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
