// Package watch is the always-on pipeline behind `breakglass serve`: it takes
// input from sources, runs detection, stores each alert together with its
// notifications in one transaction, wakes the notifier, and watches the
// sources themselves: a source that goes quiet raises bg.silence, one that
// keeps failing raises bg.source. Both conditions are persisted, so a
// restart neither loses an open one nor raises it twice. It implements
// source.Sink.
package watch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
)

// Store is what the pipeline needs from storage.
type Store interface {
	// AddAlertNotify stores the alert and queues a firing delivery for each
	// target that has none yet, also when the alert exists already (it was
	// stored by `scan`, say).
	AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error)
	Enqueue(ctx context.Context, alertID, status string, targets []string) error
	// Alert reads a stored alert (store.ErrNotFound if there is none): a
	// resolution is routed by the labels of the alert it resolves.
	Alert(ctx context.Context, id string) (alert.Alert, error)
}

// Options configure a Pipeline.
type Options struct {
	Accounts *entra.AccountSet
	Store    Store
	// Conditions persists open bg.silence and bg.source conditions; nil
	// keeps them in memory (tests, or a store without conditions).
	Conditions Conditions
	// Route gives the notification targets of an alert from its full
	// labels (route.Router.Plan(labels).Now()). Every alert the pipeline
	// stores (records, bg.silence, bg.source, bg.posture) is routed, and a
	// resolution goes where its firing went. Nil routes to nobody, and says
	// so in the log for every alert (To gives a fixed list).
	Route func(labels map[string]string) []string
	// MuteFor maps a rule id to its mute window (notify.mute_for, mute.go).
	MuteFor map[string]time.Duration
	// Observers are record rules whose findings are observations, not
	// alerts: they see every record the scanner decodes for them (a staff
	// change in the directory audits makes the next drill due early) and
	// are handed to Observe, never stored or notified. An Observe error
	// fails the input as a store error does, so the source retries it.
	Observers []Observer
	// Annotate, when set, sees every record alert after its labels are
	// set and before it is stored and routed (the daemon marks drill
	// sign-ins with it, package drill). It must not drop or silence an
	// alert, only add to it.
	Annotate func(*alert.Alert)
	// Tenant, when known, labels every alert (alert.LabelTenant).
	Tenant string
	// TenantOf, when set, replaces Tenant for an alert about a source
	// (bg.silence; bg.source for one of its keys, such as a group id) and
	// for the records read from it: the daemon of several tenants maps a
	// tenant's sources (and groups) to it. "" leaves the alert to
	// Attribute, or without a tenant.
	TenantOf func(source, key string) string
	// Attribute, when set, sees every record alert after its labels are
	// set, with the raw record, and sets its tenant (the record's own
	// tenant field on a source several tenants share). Like Annotate it
	// must never drop an alert, only label it.
	Attribute func(a *alert.Alert, raw []byte)
	// MaxRecord bounds one record (0: the scanner's default).
	MaxRecord int
	// Rules are record rules evaluated besides the built-ins for Accounts
	// (the canary's bg.canary, with its own identity): they survive
	// SetAccounts, and their identities are no break-glass accounts.
	Rules []detect.Rule
	// Wake is called after new alerts are stored (notify.Dispatcher.Wake).
	Wake    func()
	Metrics *Metrics // may be nil
	Logger  *slog.Logger
	Now     func() time.Time

	mute *muter // shared by the pipeline's parts; set by New
}

// Observer is a record rule that observes rather than alerts
// (Options.Observers).
type Observer struct {
	Rule    detect.Rule
	Observe func(ctx context.Context, f scan.Finding) error
}

// Pipeline turns input into stored alerts. One Pipeline, with one scanner,
// lives as long as the daemon: sources share it and call it concurrently.
type Pipeline struct {
	o       Options
	scan    scanHolder // the current scanner; see accounts.go
	swapMu  sync.Mutex // serialises SetAccounts and Close
	closed  bool
	silence *Silence
	failing *SourceHealth
	posture *Posture
}

// New returns a pipeline.
func New(o Options) *Pipeline {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	if o.Conditions == nil {
		o.Conditions = NewMemConditions()
	}
	if o.Route == nil {
		// A wiring bug (tests that only look at stored alerts aside):
		// said at start, and again for every alert (storeAlert).
		o.Logger.Error("no notification routing configured: alerts are stored but notify nobody")
		o.Route = To()
	}
	// An observer must never swallow alerts: one named like a registered
	// rule (a wiring bug) is dropped, loudly.
	var obs []Observer
	for _, ob := range o.Observers {
		if _, alerting := detect.Lookup(ob.Rule.Meta().ID); alerting || ob.Observe == nil {
			o.Logger.Error("observer ignored: its rule id is an alerting rule's, or it observes nothing", "rule", ob.Rule.Meta().ID)
			continue
		}
		obs = append(obs, ob)
	}
	o.Observers = obs
	o.mute = &muter{swept: map[string]bool{}}
	for rule, w := range o.MuteFor {
		if w > 0 {
			o.Metrics.mutedZero(rule) // the series exists before the first muted alert
		}
	}
	p := &Pipeline{o: o}
	p.scan.Store(p.newScanRef(o.Accounts))
	p.silence = newSilence(o)
	p.failing = newSourceHealth(o)
	p.posture = newPosture(o, p.failing)
	return p
}

// observer returns the Observe of the observer rule id, or nil.
func (p *Pipeline) observer(rule string) func(context.Context, scan.Finding) error {
	for _, o := range p.o.Observers {
		if o.Rule.Meta().ID == rule {
			return o.Observe
		}
	}
	return nil
}

// problem logs skipped input. A record alerted on despite a problem (fail
// closed: an odd field, an unreadable record naming an account) is a warning
// someone should see; plain junk is debug.
func (p *Pipeline) problem(pr scan.Problem) {
	if pr.Alerted {
		p.o.Logger.Warn("alerted on a record that could not be read completely", "input", pr.Source,
			"offset", pr.Offset, "reason", pr.Reason, "error", pr.Err)
		return
	}
	p.o.Logger.Debug("skipped input", "input", pr.Source, "offset", pr.Offset, "reason", pr.Reason, "error", pr.Err)
}

// Silence returns the pipeline's silence watcher.
func (p *Pipeline) Silence() *Silence { return p.silence }

// Health returns the pipeline's source-failure watcher.
func (p *Pipeline) Health() *SourceHealth { return p.failing }

// Close stops the pipeline's scanner pool once in-flight scans are done.
func (p *Pipeline) Close() error {
	p.swapMu.Lock()
	defer p.swapMu.Unlock()
	p.closed = true
	return p.scan.Load().s.Close()
}

// Ingest scans r and returns once every alert it raised is stored with its
// notifications queued: a source may acknowledge its input (an HTTP 202, a
// checkpoint) as soon as Ingest returns.
func (p *Pipeline) Ingest(ctx context.Context, source, name string, r io.Reader) (scan.Stats, error) {
	var st scan.Stats
	ref := p.acquire()
	defer ref.release()
	err := ref.s.Scan(ctx, name, r, &st, func(f scan.Finding) error {
		if obs := p.observer(f.Alert.Rule); obs != nil {
			if err := obs(ctx, f); err != nil {
				return fmt.Errorf("observing %s (%s): %w", f.Alert.Rule, f.Alert.EventID, err)
			}
			return nil
		}
		a := f.Alert
		p.label(&a, source)
		if p.o.Attribute != nil {
			p.o.Attribute(&a, f.Raw)
		}
		if p.o.Annotate != nil {
			p.o.Annotate(&a)
		}
		inserted, muted, err := storeAlert(ctx, p.o, a, store.Evidence{
			EventID: a.EventID, Category: a.Category, Source: a.Source, Raw: f.Raw,
		})
		if err != nil {
			return fmt.Errorf("storing alert %s: %w", a.ID, err)
		}
		if inserted {
			p.o.Metrics.alert(source, a.Rule)
			if kind := failClosedKind(&a); kind != "" {
				p.o.Metrics.failClosed(kind)
				p.o.Logger.Warn("alerted on a record that could not be read completely (fail closed)", "kind", kind,
					"rule", a.Rule, "unreadable", a.Unreadable, "event_time_unknown", a.EventTimeUnknown, "source", source, "input", a.Source, "alert_id", a.ID)
			}
			p.o.Logger.Warn("break-glass alert", "rule", a.Rule, "severity", int(a.Severity),
				"account", firstNonEmpty(a.AccountUPN, a.AccountID), "title", a.Title,
				"event_id", a.EventID, "event_time", a.EventTime, "source", source, "input", a.Source, "alert_id", a.ID, "muted", muted)
		}
		// Wake per alert, not per input: a large backlog must not hold the
		// first alert back until the whole file is read. Wake also for a
		// known alert: its deliveries may just have been queued.
		p.o.Wake()
		return nil
	})
	p.o.Metrics.input(source, &st)
	if st.TotalRecords() > 0 {
		p.silence.alive(ctx, source)
	}
	return st, err
}

// Alive implements source.Sink: the source read or polled successfully.
func (p *Pipeline) Alive(ctx context.Context, source string) { p.silence.alive(ctx, source) }

// Failing implements source.Sink: raise bg.source for (source, key).
func (p *Pipeline) Failing(ctx context.Context, source, key string, err error) {
	p.failing.Failing(ctx, source, key, err)
}

// Recovered implements source.Sink: resolve bg.source for (source, key).
func (p *Pipeline) Recovered(ctx context.Context, source, key string) {
	p.failing.Recovered(ctx, source, key)
}

// RuleUnparsed is the rule raised for input that could not be read but
// names a break-glass account.
const RuleUnparsed = "bg.unparsed"

// failClosedKind says how an alert failed closed: "unparsed" (the record
// could not be read at all), "degraded" (some fields could not be read, or
// it has no usable time), or "" for a cleanly read record.
func failClosedKind(a *alert.Alert) string {
	switch {
	case a.Rule == RuleUnparsed:
		return "unparsed"
	case len(a.Unreadable) > 0 || a.EventTimeUnknown:
		return "degraded"
	}
	return ""
}

// ResolveRemoved resolves open bg.silence and bg.source conditions of
// sources that are no longer configured: nothing would ever resolve them
// otherwise. The daemon calls it at start with the configured names.
func (p *Pipeline) ResolveRemoved(ctx context.Context, configured []string) error {
	keep := map[string]bool{}
	for _, s := range configured {
		keep[s] = true
	}
	for _, rule := range []string{RuleSilence, RuleSource} {
		cs, err := p.o.Conditions.Conditions(ctx, rule)
		if err != nil {
			return fmt.Errorf("listing %s conditions: %w", rule, err)
		}
		for _, c := range cs {
			src := c.Key
			if rule == RuleSource {
				src, _, _ = strings.Cut(c.Key, "\x00")
			}
			if keep[src] {
				continue
			}
			if err := resolve(ctx, p.o, rule, c.Key, c.AlertID); err != nil {
				return fmt.Errorf("resolving %s of removed source %s: %w", rule, src, err)
			}
			p.o.Logger.Info("source no longer configured; its alert is resolved", "rule", rule, "source", src, "alert_id", c.AlertID)
		}
	}
	return nil
}

// label gives a the standard labels plus the configured source and the
// tenant, so routing can match on them.
func (p *Pipeline) label(a *alert.Alert, source string) {
	Label(a, source, p.o.tenantFor(source, ""))
}

// tenantFor is the tenant label of alerts about source (and key): TenantOf's
// when set, else Tenant.
func (o *Options) tenantFor(source, key string) string {
	if o.TenantOf != nil {
		return o.TenantOf(source, key)
	}
	return o.Tenant
}

// Label gives a the standard labels (alert.StandardLabels) plus source and,
// when known, tenant: what every stored alert carries, whoever stores it.
func Label(a *alert.Alert, source, tenant string) { labelAlert(a, source, tenant) }

func labelAlert(a *alert.Alert, source, tenant string) {
	l := make(map[string]string, len(a.Labels)+2)
	for k, v := range a.Labels {
		l[k] = v
	}
	if source != "" {
		l[alert.LabelSource] = source
	}
	if tenant != "" && l[alert.LabelTenant] == "" {
		l[alert.LabelTenant] = tenant
	}
	a.Labels = l
	a.Labels = a.StandardLabels()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
