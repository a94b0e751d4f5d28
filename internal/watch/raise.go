package watch

import (
	"context"
	"fmt"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// Raise stores an alert that no record scan raised (the scheduled KQL
// rules, package kqlrule) exactly as record alerts are stored: standard
// labels plus source and tenant, Annotate, routed by its labels, muted by
// notify.mute_for, counted and logged, and the notifier woken. muted is
// the caller's own mute (a rule's mute_for): the alert is stored, marked
// by the caller's annotations, and notifies nobody. It reports whether the
// alert was new (an alert id seen before is neither stored nor notified
// again).
func (p *Pipeline) Raise(ctx context.Context, source string, a alert.Alert, ev store.Evidence, muted bool) (bool, error) {
	p.label(&a, source)
	if p.o.Annotate != nil {
		p.o.Annotate(&a)
	}
	var inserted bool
	var err error
	if muted {
		inserted, err = p.o.Store.AddAlertNotify(ctx, a, ev, nil)
	} else {
		inserted, muted, err = storeAlert(ctx, p.o, a, ev)
	}
	if err != nil {
		return false, fmt.Errorf("storing alert %s: %w", a.ID, err)
	}
	if inserted {
		p.o.Metrics.alert(source, a.Rule)
		if muted {
			p.o.Metrics.muted(a.Rule)
		}
		p.o.Logger.Warn("alert", "rule", a.Rule, "severity", int(a.Severity), "account", firstNonEmpty(a.AccountUPN, a.AccountID),
			"title", a.Title, "event_id", a.EventID, "source", source, "alert_id", a.ID, "muted", muted)
	}
	p.o.Wake()
	return inserted, nil
}

// ResolveAlert marks a stored alert resolved and queues its resolved
// notifications to where its firing went (a stateful KQL rule whose
// condition cleared).
func (p *Pipeline) ResolveAlert(ctx context.Context, alertID string) error {
	targets, err := resolutionTargets(ctx, p.o, alertID)
	if err != nil {
		return err
	}
	if err := p.o.Store.Enqueue(ctx, alertID, store.StatusResolved, targets); err != nil {
		return fmt.Errorf("queueing the resolution of %s: %w", alertID, err)
	}
	if ss, ok := p.o.Store.(stateSetter); ok {
		if err := ss.SetAlertState(ctx, alertID, alert.StateResolved, "breakglass", p.o.Now()); err != nil {
			p.o.Logger.Warn("recording alert state", "alert_id", alertID, "error", err)
		}
	}
	p.o.Wake()
	return nil
}
