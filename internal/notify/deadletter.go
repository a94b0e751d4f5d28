package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// RuleNotify is the rule of the alert raised when a notification could not
// be delivered (a dead letter).
const (
	RuleNotify     = "bg.notify"
	SeverityNotify = alert.Sev1
	// CategoryNotify is the category of bg.notify alerts and their evidence.
	CategoryNotify = "Notify"
	// LabelTarget names the target a bg.notify alert could not reach.
	LabelTarget = "target"
)

// maxReason bounds the reason kept with a dead letter and shown in the
// bg.notify title.
const maxReason = 300

// deadLetter takes del out of the queue for good and, unless del itself
// carries a bg.notify alert (no cascades), raises a bg.notify alert to every
// other target first: the dead letter must never be silent. orig is del's
// alert when already loaded. On a store error nothing is recorded; the
// delivery stays leased and is handled again when the lease expires.
func (d *Dispatcher) deadLetter(ctx context.Context, del store.Delivery, orig *alert.Alert, reason string) {
	reason = truncate(reason, maxReason)
	now := d.o.Now()
	if orig == nil {
		a, err := d.ob.Alert(ctx, del.AlertID)
		switch {
		case err == nil:
			orig = &a
		case errors.Is(err, store.ErrNotFound):
			// Report it anyway, naming the alert id.
		default:
			d.limit.log(slog.LevelError, "notify: loading an undeliverable alert failed; will try again", "deadletter-load",
				append(d.attrs(del, del.Attempts), "reason", reason, "error", err)...)
			return
		}
	}
	raised := ""
	if orig == nil || orig.Rule != RuleNotify {
		na, ev := undeliverable(orig, del, reason, now)
		others := d.otherTargets(del.Target)
		if err := d.record(ctx, func(ctx context.Context) error {
			_, err := d.ob.AddAlertNotify(ctx, na, ev, others)
			return err
		}); err != nil {
			d.limit.log(slog.LevelError, "notify: storing the bg.notify alert for an undeliverable delivery failed; will try again", "deadletter-raise",
				append(d.attrs(del, del.Attempts), "reason", reason, "error", err)...)
			return
		}
		raised = na.ID
		if len(others) == 0 {
			d.log.Error("notify: no other target to report an undeliverable alert to; it is stored as bg.notify",
				append(d.attrs(del, del.Attempts), "bg_notify", raised)...)
		}
	}
	if err := d.record(ctx, func(ctx context.Context) error { return d.ob.DeadLetter(ctx, del.ID, now, reason) }); err != nil {
		d.limit.log(slog.LevelError, "notify: dead-lettering failed; will try again", "deadletter",
			append(d.attrs(del, del.Attempts), "reason", reason, "error", err)...)
		return
	}
	d.o.Observe(del.Target, ResultDeadLetter, 0)
	attrs := append(d.attrs(del, del.Attempts), "reason", reason)
	if raised != "" {
		d.log.Error("notify: delivery dead-lettered; raised bg.notify to the other targets", append(attrs, "bg_notify", raised)...)
		d.Wake()
	} else {
		d.log.Error("notify: bg.notify alert undeliverable too; dead-lettered without raising another", attrs...)
	}
}

// NotifyAlertID is the id of the bg.notify alert about alertID not reaching
// target: one per (alert, target), whatever the status or how often it is
// dead-lettered.
func NotifyAlertID(alertID, target string) string {
	return alert.Key(alertID+"\x00"+target, RuleNotify)
}

// deadLetterRecord is the evidence of a bg.notify alert: the delivery as
// JSON.
type deadLetterRecord struct {
	Delivery    int64     `json:"delivery"`
	AlertID     string    `json:"alert_id"`
	Status      string    `json:"status"`
	Target      string    `json:"target"`
	Attempts    int       `json:"attempts"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	Reason      string    `json:"reason"`
	DeadAt      time.Time `json:"dead_at"`
}

// undeliverable builds the bg.notify alert and its evidence for a dead
// letter, written for a person woken at 3 a.m.: which alert could not be
// delivered to which target, why, and since when.
func undeliverable(orig *alert.Alert, del store.Delivery, reason string, now time.Time) (alert.Alert, store.Evidence) {
	id := NotifyAlertID(del.AlertID, del.Target)
	since := del.Created
	if since.IsZero() {
		since = now
	}
	what := "alert " + del.AlertID + " (no longer in the store)"
	a := alert.Alert{
		ID:        id,
		Rule:      RuleNotify,
		Severity:  SeverityNotify,
		EventID:   "bg.notify/" + del.AlertID + "/" + del.Target,
		EventTime: now,
		Category:  CategoryNotify,
		Source:    "notify",
		Detected:  now,
		Operation: "dead letter",
		Result:    reason,
		Labels:    map[string]string{LabelTarget: del.Target},
		Annotations: map[string]string{
			"undelivered_alert": del.AlertID,
			"status":            del.Status,
			"reason":            reason,
			"since":             since.UTC().Format(time.RFC3339),
			"attempts":          strconv.Itoa(del.Attempts),
		},
	}
	if orig != nil {
		who := orig.AccountUPN
		if who == "" {
			who = orig.AccountID
		}
		what = fmt.Sprintf("%s %s alert %q for %s", orig.Severity, orig.Rule, orig.Title, who)
		a.AccountID, a.AccountUPN, a.Account = orig.AccountID, orig.AccountUPN, orig.Account
		a.Correlation = orig.ID
		a.Annotations["undelivered_rule"] = orig.Rule
		a.Annotations["undelivered_title"] = orig.Title
	}
	a.Title = fmt.Sprintf("NOT DELIVERED: %s could not be sent to %s since %s: %s",
		what, del.Target, since.UTC().Format("2006-01-02 15:04 MST"), reason)
	a.Labels = a.StandardLabels()
	raw, _ := json.Marshal(deadLetterRecord{
		Delivery: del.ID, AlertID: del.AlertID, Status: del.Status, Target: del.Target,
		Attempts: del.Attempts, Created: del.Created, NextAttempt: del.NextAttempt,
		LastError: del.LastError, Reason: reason, DeadAt: now,
	})
	return a, store.Evidence{EventID: a.EventID, Category: CategoryNotify, Source: "notify", Raw: raw}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
