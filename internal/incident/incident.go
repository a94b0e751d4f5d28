// Package incident turns stored alerts into incidents (issue 10): one use
// of a break-glass account, which raises a sign-in, its activity and the
// changes it made, becomes one incident to review, and each watcher
// failure (a silent or failing source, posture drift, an undeliverable
// notification) one of its own. The Builder attaches every stored alert to
// an incident and writes the evidence of each into the hash-chained
// evidence log; the review functions (Ack, Review, Close) walk an incident
// through open → acknowledged → reviewed → closed, recording who and when.
package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/store"
)

// Label keys read for the keys of watcher incidents; they are
// watch.LabelCheck and notify.LabelTarget (a test keeps them equal), named
// here so that this package needs neither.
const (
	labelCheck  = "check"
	labelTarget = "target"
)

// Actor is who the transitions breakglass makes itself are recorded as.
const Actor = "breakglass"

// KeyOf returns the incident key and kind of an alert. Alerts about an
// account group by the account: its object id in lower case, else its UPN
// in lower case (both compare case-insensitively in Entra). Watcher alerts
// form incidents of their own, per source, per posture subject and per
// notification target, so that a silent source never hides inside (or
// delays the review of) an account's use.
func KeyOf(a alert.Alert) (key, kind string) {
	switch a.Rule {
	case detect.RuleSilence:
		return "silence:" + a.Source, store.IncidentSilence
	case detect.RuleSource:
		return "source:" + a.Source, store.IncidentSource
	case detect.RulePosture:
		subject := accountKey(a)
		if subject == "" {
			subject = a.Labels[labelCheck]
		}
		return "posture:" + subject, store.IncidentPosture
	case detect.RuleDrillDue, detect.RuleDrillOverdue, detect.RuleDrillFailed:
		// A drill reminder, or a drill that found no sign-in, is about the proof, not a use of the account:
		// never inside (or reopening) the account's use incident.
		return "drill:" + accountKey(a), store.IncidentPosture
	case detect.RuleNotify:
		target := a.Labels[labelTarget]
		if target == "" {
			target = a.Source
		}
		return "notify:" + target, store.IncidentNotify
	case detect.RuleCanary, detect.RuleCanaryFailed:
		// The canary's synthetic sign-in names its test identity, not a
		// break-glass account: it must never open (or join) an account's
		// incident, and its failures are the monitor's, kept apart.
		return "canary:" + a.Rule, store.IncidentCanary
	}
	if k := accountKey(a); k != "" {
		return k, store.IncidentAccount
	}
	// An alert that names no account (a rule that could not tell whose
	// record it read) still gets an incident, of its own: never none.
	return "unknown:" + a.ID, store.IncidentAccount
}

func accountKey(a alert.Alert) string {
	if a.AccountID != "" {
		return strings.ToLower(a.AccountID)
	}
	return strings.ToLower(a.AccountUPN)
}

// Store is what the builder and the review functions need of the store.
type Store interface {
	UnattachedAlerts(ctx context.Context, limit int) ([]alert.Alert, error)
	AttachAlert(ctx context.Context, a alert.Alert, key, kind string, gap time.Duration, at time.Time) (store.Incident, bool, error)
	Incident(ctx context.Context, id string) (store.Incident, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	Alert(ctx context.Context, id string) (alert.Alert, error)
	Evidence(ctx context.Context, eventID string) (store.Evidence, error)
	AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error)
	AppendLogOnce(ctx context.Context, e store.LogEntry) (store.LogEntry, bool, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
}

// Health is told when attaching fails and when it works again
// (watch.Pipeline: a bg.source alert for source HealthSource), so a builder
// that cannot keep up is itself an alert.
type Health interface {
	Failing(ctx context.Context, source, key string, err error)
	Recovered(ctx context.Context, source, key string)
}

// HealthSource is the source name the builder reports its health under.
const HealthSource = "incidents"

// Options configure a Builder.
type Options struct {
	Store Store
	Gap   time.Duration // config incidents.gap
	// Accounts give each configured account one incident key, so that
	// records naming it by id or by UPN alone join one incident.
	Accounts []entra.Account
	Health   Health // optional
	Logger   *slog.Logger
	Now      func() time.Time
}

// Builder attaches stored alerts to incidents. It keeps no state of its
// own: the store says which alerts are unattached (UnattachedAlerts) and
// AttachAlert is idempotent, so a crash at any point loses nothing and a
// restart carries on; Reconcile completes the evidence of alerts attached
// just before a crash.
type Builder struct {
	o    Options
	wake chan struct{}

	mu      sync.Mutex
	canon   map[string]string // lower-case id or UPN → incident key (guarded by mu)
	failing bool
}

// New returns a builder.
func New(o Options) *Builder {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Builder{o: o, canon: map[string]string{}, wake: make(chan struct{}, 1)}
	for _, a := range o.Accounts {
		// One key per configured account: its id, else (an account
		// configured by UPN alone) its UPN, whichever of the two a record
		// names it by.
		key := strings.ToLower(a.ID)
		if key == "" {
			key = strings.ToLower(a.UPN)
		}
		for _, n := range []string{a.ID, a.UPN} {
			if n != "" {
				b.canon[strings.ToLower(n)] = key
			}
		}
	}
	return b
}

// accountKeyOf is the key of a configured account that a names, by id or
// UPN; an alert that names an account configured by UPN alone by both
// teaches the builder that id, so a later record naming it by id alone
// joins the same incident.
func (b *Builder) accountKeyOf(a alert.Alert) (string, bool) {
	id, upn := strings.ToLower(a.AccountID), strings.ToLower(a.AccountUPN)
	b.mu.Lock()
	defer b.mu.Unlock()
	if k, ok := b.canon[id]; ok && id != "" {
		return k, true
	}
	if k, ok := b.canon[upn]; ok && upn != "" {
		if id != "" {
			b.canon[id] = k
		}
		return k, true
	}
	return "", false
}

// Wake makes Run attach at once instead of at its next poll. It never
// blocks; wakes while Run is busy coalesce.
func (b *Builder) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// batch is how many alerts one Drain round reads.
const batch = 200

// Run reconciles once, then attaches every unattached alert whenever woken
// and at least every poll, until ctx ends.
func (b *Builder) Run(ctx context.Context, poll time.Duration) {
	t := time.NewTimer(0)
	defer t.Stop()
	reconciled := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.wake:
		}
		t.Reset(poll)
		if !reconciled {
			// Until it succeeds once: evidence left incomplete by a crash
			// is completed before anything else.
			if err := b.Reconcile(ctx); err != nil {
				if ctx.Err() == nil {
					b.o.Logger.Error("incidents: completing the evidence of attached alerts failed; retrying", "error", err, "retry_in", poll)
					_ = b.health(ctx, err)
				}
				continue
			}
			reconciled = true
		}
		if _, err := b.Drain(ctx); err != nil && ctx.Err() == nil {
			b.o.Logger.Error("incidents: attaching alerts failed; retrying", "error", err, "retry_in", poll)
		}
	}
}

// Drain attaches every alert that is not in an incident yet and reports
// how many it attached. An error stops it; the alerts not attached stay
// unattached and are tried again by the next call.
func (b *Builder) Drain(ctx context.Context) (int, error) {
	n := 0
	for {
		as, err := b.o.Store.UnattachedAlerts(ctx, batch)
		if err != nil {
			return n, b.health(ctx, fmt.Errorf("listing unattached alerts: %w", err))
		}
		if len(as) == 0 {
			return n, b.health(ctx, nil)
		}
		for _, a := range as {
			if _, _, err := b.Attach(ctx, a); err != nil {
				return n, b.health(ctx, err)
			}
			n++
		}
	}
}

func (b *Builder) health(ctx context.Context, err error) error {
	if b.o.Health == nil || (err != nil && ctx.Err() != nil) {
		// Cut short by shutdown: not a failure to attach; the next start
		// attaches what is left.
		return err
	}
	b.mu.Lock()
	was := b.failing
	b.failing = err != nil
	b.mu.Unlock()
	switch {
	case err != nil:
		b.o.Health.Failing(ctx, HealthSource, "attach", err)
	case was:
		b.o.Health.Recovered(ctx, HealthSource, "attach")
	}
	return err
}

// Attach puts one alert into its incident and writes its evidence: on
// open the transition, then the raw record (byte for byte, once per
// incident) and the alert as JSON. Attaching an attached alert writes only
// what its evidence lacks.
func (b *Builder) Attach(ctx context.Context, a alert.Alert) (store.Incident, bool, error) {
	key, kind := KeyOf(a)
	if kind == store.IncidentAccount {
		if k, ok := b.accountKeyOf(a); ok {
			key = k
		}
	}
	now := b.o.Now()
	inc, opened, err := b.o.Store.AttachAlert(ctx, a, key, kind, b.o.Gap, now)
	if err != nil {
		return store.Incident{}, false, fmt.Errorf("attaching alert %s: %w", a.ID, err)
	}
	if opened {
		b.o.Logger.Info("incident opened", "incident", inc.ID, "kind", inc.Kind, "key", inc.Key,
			"alert", a.ID, "rule", a.Rule, "previous", inc.Previous)
	}
	if err := b.complete(ctx, inc, []alert.Alert{a}); err != nil {
		return inc, opened, err
	}
	return inc, opened, nil
}

// Reconcile writes the evidence that attached alerts lack: an alert
// attached just before a crash (AttachAlert committed, the log entries
// not yet written) is no longer returned by UnattachedAlerts, so the
// builder completes it here when it starts.
func (b *Builder) Reconcile(ctx context.Context) error {
	incs, err := b.o.Store.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		return fmt.Errorf("listing incidents: %w", err)
	}
	for _, inc := range incs {
		if err := b.complete(ctx, inc, nil); err != nil {
			return err
		}
	}
	return nil
}

// complete appends the log entries inc lacks for alerts (nil: every alert
// of inc, read from the store). The alert entry is written last, so an
// alert with one has all of its entries.
func (b *Builder) complete(ctx context.Context, inc store.Incident, alerts []alert.Alert) error {
	log, err := b.o.Store.IncidentLog(ctx, inc.ID)
	if err != nil {
		return fmt.Errorf("reading the evidence of incident %s: %w", inc.ID, err)
	}
	have := map[[2]string]bool{}
	for _, e := range log {
		have[[2]string{e.Kind, e.Ref}] = true
	}
	if alerts == nil {
		for _, id := range inc.Alerts {
			if have[[2]string{store.LogAlert, id}] {
				continue
			}
			a, err := b.o.Store.Alert(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				b.o.Logger.Error("incidents: an attached alert is not in the store; its evidence cannot be logged",
					"incident", inc.ID, "alert", id)
				continue
			}
			if err != nil {
				return fmt.Errorf("reading alert %s of incident %s: %w", id, inc.ID, err)
			}
			alerts = append(alerts, a)
		}
	}
	if len(alerts) == 0 {
		return nil
	}
	appendEntry := func(kind, ref string, content []byte) error {
		if have[[2]string{kind, ref}] {
			return nil
		}
		// Once per (incident, kind, ref) in the store too: a Graph pull
		// may be logging the same record at this moment.
		if _, _, err := b.o.Store.AppendLogOnce(ctx, store.LogEntry{Incident: inc.ID, Kind: kind, Ref: ref,
			At: b.o.Now(), Content: content}); err != nil {
			return fmt.Errorf("logging %s %s of incident %s: %w", kind, ref, inc.ID, err)
		}
		have[[2]string{kind, ref}] = true
		return nil
	}
	if !have[[2]string{store.LogIncident, transitionRef(store.IncidentOpen)}] {
		content, err := json.Marshal(Transition{Incident: inc.ID, Key: inc.Key, Kind: inc.Kind, From: "",
			To: store.IncidentOpen, By: Actor, At: inc.Opened.UTC(), Previous: inc.Previous,
			Note: "opened by alert " + firstAlert(inc)})
		if err != nil {
			return err
		}
		if err := appendEntry(store.LogIncident, transitionRef(store.IncidentOpen), content); err != nil {
			return err
		}
	}
	for _, a := range alerts {
		if have[[2]string{store.LogAlert, a.ID}] {
			continue
		}
		ev, err := b.o.Store.Evidence(ctx, a.EventID)
		switch {
		case err == nil:
			if err := appendEntry(store.LogRecord, a.EventID, ev.Raw); err != nil {
				return err
			}
		case errors.Is(err, store.ErrNotFound):
			b.o.Logger.Error("incidents: the raw record of an alert is not in the store", "incident", inc.ID,
				"alert", a.ID, "event", a.EventID)
		default:
			// The store refuses evidence whose bytes no longer match their
			// digest: logging it as the record would launder the change.
			// Say so loudly; the alert entry below still goes in.
			b.o.Logger.Error("incidents: the raw record of an alert cannot be read; not logged as evidence",
				"incident", inc.ID, "alert", a.ID, "event", a.EventID, "error", err)
		}
		content, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := appendEntry(store.LogAlert, a.ID, content); err != nil {
			return err
		}
	}
	return nil
}

func firstAlert(inc store.Incident) string {
	if len(inc.Alerts) == 0 {
		return ""
	}
	return inc.Alerts[0]
}

func transitionRef(state string) string { return "state:" + state }

// Transition is the evidence-log content (kind incident) of a transition:
// who moved the incident from which state to which, when and why.
type Transition struct {
	Incident string        `json:"incident"`
	Key      string        `json:"key,omitempty"`
	Kind     string        `json:"kind,omitempty"`
	From     string        `json:"from"`
	To       string        `json:"to"`
	By       string        `json:"by"`
	At       time.Time     `json:"at"`
	Note     string        `json:"note,omitempty"`
	Previous string        `json:"previous,omitempty"`
	Review   *store.Review `json:"review,omitempty"`
}
