package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/canary"
	"breakglass/internal/config"
	"breakglass/internal/route"
	"breakglass/internal/store"
)

const (
	// escalateInterval is how often the escalator looks for alerts whose
	// next group is due: an escalation is at most this late.
	escalateInterval = 5 * time.Second
	// escalateMargin is how long past the longest escalation delay an
	// alert is still looked at, so that a daemon that was down when a step
	// fell due still notifies that group when it comes back (up to a day
	// later); an alert unacknowledged that long has been seen by everyone
	// it will reach.
	escalateMargin = 24 * time.Hour
	// escalateFailures is how many sweeps in a row may fail before the
	// failure raises bg.source (source "escalation"): a store hiccup
	// passes, an escalator that cannot work pages people.
	escalateFailures = 3
	// escalationSource names the escalator in bg.source alerts.
	escalationSource = "escalation"
)

// healthSink raises and resolves bg.source (the pipeline's SourceHealth).
type healthSink interface {
	Failing(ctx context.Context, source, key string, err error)
	Recovered(ctx context.Context, source, key string)
}

// escalationStore is what the escalator needs from the store.
type escalationStore interface {
	Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error)
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
	Update(ctx context.Context, fn func(tx store.Tx) error) error
}

// escalator notifies the later groups of an alert's route once it has gone
// unacknowledged for their escalate_after. It keeps no state of its own:
// what was escalated is what the outbox holds, and Enqueue is idempotent,
// so a crash or a restart neither loses an escalation nor repeats one. It
// only escalates alerts that were notified at all (that have a firing
// delivery): one muted, or stored without notifying, reached nobody first.
type escalator struct {
	st     escalationStore
	router *route.Router
	wake   func()
	log    *slog.Logger
	now    func() time.Time
	window time.Duration
	// done caches alerts whose every step is enqueued, so a sweep does not
	// read their deliveries again; it is only a cache.
	done map[string]bool
	// health, when set, hears of sweeps that keep failing.
	health   healthSink
	failures int
	raised   bool
}

// newEscalator returns nil when no route escalates.
func newEscalator(st escalationStore, r *route.Router, wake func(), log *slog.Logger, now func() time.Time) *escalator {
	maxEsc := r.MaxEscalation()
	if maxEsc <= 0 {
		return nil
	}
	if wake == nil {
		wake = func() {}
	}
	return &escalator{st: st, router: r, wake: wake, log: log, now: now, window: maxEsc + escalateMargin, done: map[string]bool{}}
}

func (e *escalator) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_, err := e.sweep(ctx)
		if ctx.Err() == nil {
			e.report(ctx, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// report logs a failed sweep and, once sweeps keep failing, raises
// bg.source: the monitor failing to escalate must itself alert, since the
// next person is not being told. A sweep that works again resolves it.
func (e *escalator) report(ctx context.Context, err error) {
	if err == nil {
		e.failures = 0
		if e.raised && e.health != nil {
			e.health.Recovered(ctx, escalationSource, "alerts")
			e.raised = false
		}
		return
	}
	e.failures++
	e.log.Error("escalation: could not check alerts; nobody further is being notified until this works", "error", err, "failures_in_a_row", e.failures)
	if e.failures >= escalateFailures && !e.raised && e.health != nil {
		e.health.Failing(ctx, escalationSource, "alerts", fmt.Errorf("escalation to the next group is not working: %w", err))
		e.raised = true
	}
}

// sweep enqueues every step now due of every firing alert in the window
// and reports how many alerts it escalated.
func (e *escalator) sweep(ctx context.Context) (int, error) {
	now := e.now()
	as, err := e.st.Alerts(ctx, store.AlertFilter{State: alert.StateFiring, DetectedSince: now.Add(-e.window)})
	if err != nil {
		return 0, fmt.Errorf("listing firing alerts: %w", err)
	}
	// The cache keeps only what is still firing and in the window.
	done := make(map[string]bool, len(e.done))
	escalated := 0
	var errs []error
	for _, a := range as {
		if e.done[a.ID] {
			done[a.ID] = true
			continue
		}
		all, n, err := e.escalate(ctx, a, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert %s: %w", a.ID, err))
			continue
		}
		done[a.ID] = all
		escalated += n
	}
	e.done = done
	if escalated > 0 {
		e.wake()
	}
	if len(errs) > 0 {
		return escalated, fmt.Errorf("%d alerts not escalated: %w", len(errs), errs[0])
	}
	return escalated, nil
}

// escalate enqueues a's due steps. done reports that every step of its
// plan is enqueued; n is 1 when it enqueued something.
func (e *escalator) escalate(ctx context.Context, a alert.Alert, now time.Time) (done bool, n int, err error) {
	labels := a.StandardLabels()
	if canary.IsCanary(labels) {
		return true, 0, nil // the canary's test alert reaches its test group only (canary.go)
	}
	plan := e.router.Plan(labels)
	if len(plan.Steps) < 2 {
		return true, 0, nil
	}
	elapsed := now.Sub(a.Detected)
	if elapsed < plan.Steps[1].After {
		return false, 0, nil // nothing due yet: no need to read
	}
	ds, err := e.st.AlertDeliveries(ctx, a.ID)
	if err != nil {
		return false, 0, err
	}
	have := map[string]bool{}
	for _, d := range ds {
		if d.Status == store.StatusFiring {
			have[d.Target] = true
		}
	}
	if len(have) == 0 {
		// Never notified (muted, or stored without notifying): escalating it would
		// be its first notice, which is the pipeline's to give.
		return false, 0, nil
	}
	var (
		missing      []string
		from, to     []string
		due, pending bool
	)
	for _, s := range plan.Steps {
		if s.After > elapsed {
			pending = true
			continue
		}
		if s.After == 0 {
			from = append(from, s.Groups...)
			continue
		}
		stepMissing := false
		for _, t := range s.Targets {
			if !have[t] && !slices.Contains(missing, t) {
				missing, stepMissing = append(missing, t), true
			}
		}
		if stepMissing {
			to = append(to, s.Groups...)
			due = true
		} else {
			from = append(from, s.Groups...)
		}
	}
	if !due {
		return !pending, 0, nil
	}
	// Checked again in the transaction that enqueues: an acknowledgement
	// that landed since the list was read stops the escalation.
	var state string
	err = e.st.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Alert(ctx, a.ID)
		if err != nil {
			return err
		}
		if state = cur.State; state != alert.StateFiring {
			return nil
		}
		return tx.Enqueue(ctx, a.ID, store.StatusFiring, missing)
	})
	if err != nil {
		return false, 0, err
	}
	if state != alert.StateFiring {
		return true, 0, nil
	}
	e.log.Warn("escalating: alert not acknowledged", "alert", a.ID, "rule", a.Rule, "account", accountLabel(a),
		"unacknowledged_for", elapsed.Round(time.Second).String(), "from_groups", from, "to_groups", to, "targets", missing)
	return !pending, 1, nil
}

func accountLabel(a alert.Alert) string {
	if a.AccountUPN != "" {
		return a.AccountUPN
	}
	return a.AccountID
}

// setupEscalation builds the escalator when some route escalates.
func (d *Daemon) setupEscalation() error {
	r, err := routerOf(d.cfg)
	if err != nil {
		return configErrorf("%s: %v", d.cfg.Path, err)
	}
	d.esc = newEscalator(d.st, r, d.disp.Wake, d.log.With("part", "escalation"), d.o.Now)
	if d.esc != nil {
		d.esc.health = d.pipeline
		d.metrics.AddSource(escalationSource)
		d.log.Info("escalation on", "longest", r.MaxEscalation(), "every", d.escalateEvery())
	}
	return nil
}

// EscalationPlans returns the plan of each alert under cfg's groups and
// routes (who is notified at once, who after how long unacknowledged), the
// one the escalator follows, for `breakglass alerts show`.
func EscalationPlans(cfg *config.Config) (func(a alert.Alert) route.Plan, error) {
	r, err := routerOf(cfg)
	if err != nil {
		return nil, configErrorf("%s: %v", cfg.Path, err)
	}
	return func(a alert.Alert) route.Plan {
		l := a.StandardLabels()
		return canaryPlan(cfg, l, r.Plan(l)) // canary.go
	}, nil
}

func (d *Daemon) escalateEvery() time.Duration {
	if d.o.EscalateInterval > 0 {
		return d.o.EscalateInterval
	}
	return escalateInterval
}
