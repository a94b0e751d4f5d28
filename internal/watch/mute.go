package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// Muting (notify.mute_for): after an alert of rule R for an account (for
// alerts without one, a source) was notified, further alerts of R for it
// within the rule's window are stored, marked and counted, but get no
// deliveries. The window is a Condition in the store, so a restart keeps
// it. A muted alert is never silent: it is stored with the annotations
// below, logged at warn, and counted in breakglass_alerts_muted_total.
const (
	// MuteRule is the condition rule under which open windows are kept,
	// keyed by rule and subject.
	MuteRule = "notify.mute"
	// AnnMuted, on a muted alert, says why it was not notified: which
	// setting, after which alert, until when. `alerts list` and `alerts
	// show` test this key.
	AnnMuted = "muted"
	// AnnMutedAfter is the id of the notified alert that opened the window.
	AnnMutedAfter = "muted_after"
	// AnnMutedUntil is when the window ends (RFC 3339, UTC).
	AnnMutedUntil = "muted_until"
)

// muteData is a window's condition data.
type muteData struct {
	Rule     string    `json:"rule"`
	Subject  string    `json:"subject"`
	AlertID  string    `json:"alert_id"` // the notified alert
	Notified time.Time `json:"notified"`
	Until    time.Time `json:"until"`
	MuteFor  string    `json:"mute_for"`
	// What the notified alert said, so that a worse one is never muted
	// behind it (worseThan). Nil Severity: a window recorded before these
	// were kept, which mutes nothing.
	Severity    *alert.Severity `json:"severity,omitempty"`
	Result      string          `json:"result,omitempty"`
	Expectation string          `json:"expectation,omitempty"`
}

// worseThan reports whether a says something worse than the alert that
// opened window md, and so must be notified despite it: it is more severe,
// it succeeded where that one did not (the sign-in that follows a password
// spray, a change that went through), or it broke an expectation that one
// did not. The alert notified then opens the window for what follows.
func worseThan(a alert.Alert, md muteData) bool {
	switch {
	case md.Severity == nil:
		return true
	case a.Severity < *md.Severity:
		return true
	case isSuccess(a.Result) && !isSuccess(md.Result):
		return true
	case a.Labels[alert.LabelExpectation] == expectBroken && md.Expectation != expectBroken:
		return true
	}
	return false
}

// expectBroken is the expectation label of an alert that broke one
// (expect.Broken; the watch package does not import expect).
const expectBroken = "broken"

func isSuccess(result string) bool { return strings.EqualFold(strings.TrimSpace(result), "success") }

// muter serialises the check and the opening of windows, so that two
// alerts of one rule for one account arriving together are not both
// notified, or both muted.
type muter struct {
	mu sync.Mutex
	// swept: muted condition alerts already notified at the end of their
	// window (sweepMuted), so the sweep does not enqueue them again.
	swept map[string]bool
}

// muteSubject is what a window is per: the account, else the source
// (bg.silence, bg.source and tenant-wide posture results have no account).
func muteSubject(labels map[string]string) string {
	if v := labels[alert.LabelAccount]; v != "" {
		return "account " + v
	}
	return "source " + labels[alert.LabelSource]
}

// storeAlert stores a with its deliveries to the targets o.Route gives
// its labels, unless the rule's mute window for its subject is open: then
// it is stored, marked muted, with no deliveries. It reports whether the
// alert is new and whether it was muted. Any doubt (a window that cannot
// be read) notifies.
func storeAlert(ctx context.Context, o Options, a alert.Alert, ev store.Evidence) (inserted, muted bool, err error) {
	targets := o.Route(a.Labels)
	if len(targets) == 0 {
		// Cannot happen with a router (an alert no route matches goes to
		// every group); say so loudly rather than store it for nobody.
		o.Logger.Error("no notification target for this alert: it is stored, but nobody is told; check notify.groups and notify.routes",
			"rule", a.Rule, "alert_id", a.ID, "labels", a.Labels)
	}
	window := o.MuteFor[a.Rule]
	if window <= 0 {
		inserted, err = o.Store.AddAlertNotify(ctx, a, ev, targets)
		return inserted, false, err
	}
	o.mute.mu.Lock()
	defer o.mute.mu.Unlock()
	now := o.Now().UTC()
	subject := muteSubject(a.Labels)
	key := a.Rule + "\x00" + subject
	var md muteData
	c, open, cerr := o.Conditions.Condition(ctx, MuteRule, key)
	if cerr != nil {
		o.Logger.Error("reading mute window; notifying", "rule", a.Rule, "subject", subject, "error", cerr)
		open = false
	} else if open {
		if jerr := json.Unmarshal(c.Data, &md); jerr != nil {
			o.Logger.Error("unreadable mute window; notifying", "rule", a.Rule, "subject", subject, "error", jerr)
			open = false
		}
	}
	switch {
	case open && c.AlertID != a.ID && now.Before(md.Until) && !worseThan(a, md):
		muted = true
	case alreadyMuted(ctx, o, a.ID):
		// Read again after its window: it stays as it was stored, muted,
		// rather than carry "muted" while it is notified after all.
		muted = true
	}
	if muted {
		if md.AlertID != "" {
			a.Annotations = withMute(a.Annotations, a.Rule, window, subject, md)
		}
		targets = nil
	}
	inserted, err = o.Store.AddAlertNotify(ctx, a, ev, targets)
	if err != nil {
		return false, muted, err
	}
	switch {
	case muted && inserted:
		o.Metrics.muted(a.Rule)
		o.Logger.Warn("alert muted: stored but not notified (notify.mute_for)", "rule", a.Rule, "subject", subject,
			"alert_id", a.ID, "after_alert", md.AlertID, "until", md.Until, "mute_for", window)
	case !muted && inserted:
		sev := a.Severity
		d := muteData{Rule: a.Rule, Subject: subject, AlertID: a.ID, Notified: now, Until: now.Add(window), MuteFor: window.String(),
			Severity: &sev, Result: a.Result, Expectation: a.Labels[alert.LabelExpectation]}
		data, _ := json.Marshal(d)
		if err := o.Conditions.SetCondition(ctx, Condition{Rule: MuteRule, Key: key, AlertID: a.ID, Since: now, Updated: now, Data: data}); err != nil {
			// The alert is notified; only the next one may be too.
			o.Logger.Error("recording mute window; the next alert will be notified too", "rule", a.Rule, "subject", subject, "error", err)
		}
	}
	return inserted, muted, nil
}

// alreadyMuted reports whether the stored alert id was muted.
func alreadyMuted(ctx context.Context, o Options, id string) bool {
	prev, err := o.Store.Alert(ctx, id)
	return err == nil && prev.Annotations[AnnMuted] != ""
}

func withMute(ann map[string]string, rule string, window time.Duration, subject string, md muteData) map[string]string {
	out := make(map[string]string, len(ann)+3)
	for k, v := range ann {
		out[k] = v
	}
	out[AnnMuted] = fmt.Sprintf("not notified: notify.mute_for %s is %s, and alert %s for %s was notified at %s UTC; until %s UTC further %s alerts for it are stored here but page nobody",
		rule, window, md.AlertID, subject, md.Notified.UTC().Format("2006-01-02 15:04:05"), md.Until.UTC().Format("2006-01-02 15:04:05"), rule)
	if slices.Contains(conditionRules, rule) {
		out[AnnMuted] += "; if this one is still open then, it is notified then"
	}
	out[AnnMutedAfter] = md.AlertID
	out[AnnMutedUntil] = md.Until.UTC().Format(time.RFC3339)
	return out
}

// conditionRules are the rules whose alerts stay open as a condition: a
// muted one still open when its window ends is notified then, or a feed
// that stays silent (a drift that stays) would never be told to anyone.
var conditionRules = []string{RuleSilence, RuleSource, RulePosture}

// sweepMuted notifies each open condition alert that was muted and whose
// window has ended: its rule's further alerts would be notified now, and
// it is still going on. Silence.Check calls it.
func sweepMuted(ctx context.Context, o Options) {
	now := o.Now()
	for _, rule := range conditionRules {
		if o.MuteFor[rule] <= 0 {
			continue
		}
		cs, err := o.Conditions.Conditions(ctx, rule)
		if err != nil {
			o.Logger.Error("listing open conditions for muted alerts", "rule", rule, "error", err)
			continue
		}
		for _, c := range cs {
			o.mute.mu.Lock()
			done := o.mute.swept[c.AlertID]
			o.mute.mu.Unlock()
			if done || c.AlertID == "" {
				continue
			}
			a, err := o.Store.Alert(ctx, c.AlertID)
			if err != nil {
				continue // resolved meanwhile, or not readable now: the next sweep tries again
			}
			until, err := time.Parse(time.RFC3339, a.Annotations[AnnMutedUntil])
			if a.Annotations[AnnMuted] == "" || err != nil || now.Before(until) {
				continue
			}
			targets := o.Route(a.Labels)
			if err := o.Store.Enqueue(ctx, a.ID, store.StatusFiring, targets); err != nil {
				o.Logger.Error("notifying a muted alert still open after its window", "rule", rule, "alert_id", a.ID, "error", err)
				continue
			}
			o.mute.mu.Lock()
			o.mute.swept[a.ID] = true
			o.mute.mu.Unlock()
			o.Wake()
			o.Logger.Warn("muted alert still open after its mute window: notifying it now", "rule", rule, "alert_id", a.ID, "muted_until", until, "targets", len(targets))
		}
	}
}

// deliveryLister is the store's per-alert delivery list, used when present.
type deliveryLister interface {
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
}

// resolutionTargets are where the resolution of a condition alert goes:
// where its firing went. That is the plan for its stored labels (routing
// is deterministic), nobody for a muted alert, plus every target a firing
// delivery exists for (escalation may have added some).
func resolutionTargets(ctx context.Context, o Options, alertID string) ([]string, error) {
	a, err := o.Store.Alert(ctx, alertID)
	if err != nil {
		return nil, fmt.Errorf("reading alert %s to route its resolution: %w", alertID, err)
	}
	var out []string
	if a.Annotations[AnnMuted] == "" {
		out = slices.Clone(o.Route(a.Labels))
	}
	if dl, ok := o.Store.(deliveryLister); ok {
		ds, err := dl.AlertDeliveries(ctx, alertID)
		if err != nil {
			o.Logger.Warn("listing the deliveries of a resolved alert; its resolution goes where its labels route", "alert_id", alertID, "error", err)
		}
		for _, d := range ds {
			if d.Status == store.StatusFiring && !slices.Contains(out, d.Target) {
				out = append(out, d.Target)
			}
		}
	}
	return out, nil
}

// To routes every alert to targets: for tests and for callers without
// notify.routes.
func To(targets ...string) func(map[string]string) []string {
	return func(map[string]string) []string { return targets }
}
