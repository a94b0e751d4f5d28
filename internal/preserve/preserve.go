// Package preserve keeps the evidence of an incident that the alerts alone
// do not bring: a fresh pull from Microsoft Graph of the account's sign-ins
// and of the audit events it initiated or that targeted it, for the window
// [first alert − context, now], once when the incident opens and once more
// when it has been open an hour (Entra publishes some records late), and
// the account's state at open (roles, methods, Conditional Access
// exclusions). Everything lands in the incident's evidence log.
//
// It keeps no schedule in memory: what is due is derived from the
// incident's Opened and from what the incident's log already holds, so a
// crash or restart repeats at most a pull whose completion was not yet
// recorded, and dedupe on the record id within the incident keeps every
// record in the log exactly once.
package preserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"breakglass/internal/graph"
	"breakglass/internal/graph/scrub"
	"breakglass/internal/store"
)

// Timings. They are not user settings: the context window is
// (incidents.context, owned by config).
const (
	// LateAfter is when the second pull runs: once the incident has been
	// open this long. Entra publishes most late sign-ins within the hour.
	LateAfter = time.Hour
	// DefaultInterval is how often Tick looks for due work.
	DefaultInterval = time.Minute
	// Retention is how far back Graph still has sign-in records (30 days
	// with P1/P2); older incidents cannot be pulled any more and are left
	// alone, and a window reaching further is cut there and says so.
	Retention = 30 * 24 * time.Hour
	// DefaultFailThreshold is how many failed attempts of one pull raise
	// bg.source: one failed pull is weather, three in a row a problem.
	DefaultFailThreshold = 3
	// maxBackoff caps the wait between attempts of a failing pull.
	maxBackoff = 30 * time.Minute
	// builderGrace is how long a pull waits for the incident builder to
	// log an attached alert's raw record (it writes the alert entry
	// last): pulling first would keep that record as pulled and the
	// builder would add it again. Past it the pull goes ahead anyway, so
	// an alert the builder cannot log never holds the pull back.
	builderGrace = 2 * time.Minute
)

// Source is the source name of the bg.source alerts a failing pull raises.
const Source = "preserve"

// Refs of the entries preserve writes besides records (a record's Ref is
// its id).
const (
	// RefState is the LogSnapshot entry of the account's state at open.
	RefState = "state-at-open"
	// RefPullOpen and RefPullLate are the LogIncident entries that record
	// a completed pull (its window and its queries): their presence is
	// what makes a pull done.
	RefPullOpen = "pull:open"
	RefPullLate = "pull:late"
)

// Store is what preserve reads and appends.
type Store interface {
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
	AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error)
	AppendLogOnce(ctx context.Context, e store.LogEntry) (store.LogEntry, bool, error)
}

// Health is told when a pull keeps failing and when it works again: the
// pipeline's bg.source (watch.Pipeline implements it).
type Health interface {
	Failing(ctx context.Context, source, key string, err error)
	Recovered(ctx context.Context, source, key string)
}

// StateFunc returns the account's state for the entry written at open. An
// error (or a State with Available false) is recorded as such: the entry
// says why there is no state, never nothing.
type StateFunc func(ctx context.Context, accountID, accountUPN string) (*State, error)

// Options configure a Preserver.
type Options struct {
	Store Store
	// Graph, when set, is pulled for every account incident; nil means
	// Graph is not configured and only the state entry is written.
	Graph graph.Lister
	// GraphFor, when set, replaces Graph: the Graph client that can answer
	// for one account (with several tenants, its tenant's). A nil client
	// with a reason skips the account's pulls and writes the reason into
	// its evidence log, so the log says why it holds no Graph records; nil
	// with no reason is as Graph nil.
	GraphFor func(accountID, accountUPN string) (g graph.Lister, skip string)
	// State supplies the account's state at open; nil records that none
	// is available.
	State StateFunc
	// Health receives bg.source for pulls that keep failing; nil: logged
	// only.
	Health Health
	// Context is how far before the incident's first alert the window
	// starts (incidents.context); required.
	Context       time.Duration
	Interval      time.Duration // default DefaultInterval
	FailThreshold int           // default DefaultFailThreshold
	Logger        *slog.Logger
	Now           func() time.Time
}

// Preserver does the work. It is safe for one Run (or Tick caller) at a
// time.
type Preserver struct {
	o     Options
	mu    sync.Mutex
	fails map[string]*failState // incident id + "/" + ref
	// done holds the incidents whose log had everything preserve writes
	// when last read, so a round does not read every incident's whole log
	// again. Only a shortcut: after a restart each log is read once.
	done map[string]bool
}

type failState struct {
	n        int
	next     time.Time
	reported bool
}

// New validates o.
func New(o Options) (*Preserver, error) {
	if o.Store == nil {
		return nil, errors.New("preserve: a store is required")
	}
	if o.Context <= 0 {
		return nil, errors.New("preserve: the context window must be positive")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.FailThreshold <= 0 {
		o.FailThreshold = DefaultFailThreshold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Preserver{o: o, fails: map[string]*failState{}, done: map[string]bool{}}, nil
}

// HealthKey is the bg.source key under Source for rounds that keep
// failing on the store (reading incidents or logs, appending).
const HealthKey = "evidence"

// Run ticks at once and then every Interval until ctx ends. Rounds that
// keep failing (FailThreshold in a row) raise bg.source for Source,
// HealthKey; it resolves with the next clean round.
func (p *Preserver) Run(ctx context.Context) {
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	fails, reported := 0, false
	for {
		err := p.Tick(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			fails++
			p.o.Logger.Error("preserving incident evidence failed; retried next round", "error", err, "failed_rounds", fails)
			if fails >= p.o.FailThreshold && p.o.Health != nil {
				p.o.Health.Failing(ctx, Source, HealthKey, fmt.Errorf("preserving incident evidence: %w", err))
				reported = true
			}
		default:
			if reported && p.o.Health != nil {
				p.o.Health.Recovered(ctx, Source, HealthKey)
			}
			fails, reported = 0, false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick does what is due for every account incident Graph can still
// answer for: the state entry, the pull at open, the pull an hour later.
// It returns the errors that are not a pull's own (those are retried
// with backoff and raise bg.source): failing to read the incidents or a
// log, or to append.
func (p *Preserver) Tick(ctx context.Context) error {
	now := p.o.Now().UTC()
	incs, err := p.o.Store.Incidents(ctx, store.IncidentFilter{Kind: store.IncidentAccount, Since: now.Add(-Retention)})
	if err != nil {
		return fmt.Errorf("listing incidents: %w", err)
	}
	var errs []error
	for _, inc := range incs {
		if err := p.incident(ctx, inc, now); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("incident %s: %w", inc.ID, err))
		}
	}
	return errors.Join(errs...)
}

// held is what an incident's log already holds.
type held struct {
	refs     map[string]bool // refs of records (LogRecord, LogPull)
	state    bool
	pullOpen bool
	pullLate bool
	alerts   map[string]bool // alerts with their LogAlert entry
}

func (p *Preserver) held(ctx context.Context, id string) (held, error) {
	es, err := p.o.Store.IncidentLog(ctx, id)
	if err != nil {
		return held{}, fmt.Errorf("reading its evidence log: %w", err)
	}
	h := held{refs: map[string]bool{}, alerts: map[string]bool{}}
	for _, e := range es {
		switch {
		case e.Kind == store.LogRecord || e.Kind == store.LogPull:
			h.refs[e.Ref] = true
		case e.Kind == store.LogSnapshot && e.Ref == RefState:
			h.state = true
		case e.Kind == store.LogIncident && e.Ref == RefPullOpen:
			h.pullOpen = true
		case e.Kind == store.LogIncident && e.Ref == RefPullLate:
			h.pullLate = true
		case e.Kind == store.LogAlert:
			h.alerts[e.Ref] = true
		}
	}
	return h, nil
}

func (p *Preserver) incident(ctx context.Context, inc store.Incident, now time.Time) error {
	if inc.AccountID == "" && inc.AccountUPN == "" {
		return nil // an account incident always names one; nothing to ask about otherwise
	}
	if inc.Pruned != nil {
		return nil // pruned (incidents prune): its evidence is in its export, none is added
	}
	if p.isDone(inc.ID) {
		return nil
	}
	h, err := p.held(ctx, inc.ID)
	if err != nil {
		return err
	}
	g, skip := p.graphFor(inc)
	if h.state && ((g == nil && skip == "") || (h.pullOpen && h.pullLate)) {
		p.mu.Lock()
		p.done[inc.ID] = true
		p.mu.Unlock()
		return nil
	}
	if !h.state {
		if err := p.appendState(ctx, inc, now); err != nil {
			return err
		}
	}
	if g == nil {
		if skip != "" {
			return p.noteSkipped(ctx, inc, h, skip, now)
		}
		return nil
	}
	if p.builderBusy(inc, h, now) {
		return nil // next round
	}
	switch {
	case !h.pullOpen:
		return p.tryPull(ctx, inc, g, RefPullOpen, h, now)
	case !h.pullLate && !now.Before(inc.Opened.Add(LateAfter)):
		return p.tryPull(ctx, inc, g, RefPullLate, h, now)
	}
	return nil
}

// graphFor is the client that answers for inc's account, or why none
// does (GraphFor), else Graph.
func (p *Preserver) graphFor(inc store.Incident) (graph.Lister, string) {
	if p.o.GraphFor == nil {
		return p.o.Graph, ""
	}
	g, skip := p.o.GraphFor(inc.AccountID, inc.AccountUPN)
	if g == nil && skip == "" {
		skip = "no Graph client answers for this account"
	}
	return g, skip
}

// noteSkipped records, in place of both pulls, why inc's account is not
// pulled from Graph: an incident's log never just lacks them.
func (p *Preserver) noteSkipped(ctx context.Context, inc store.Incident, h held, skip string, now time.Time) error {
	for _, ref := range []string{RefPullOpen, RefPullLate} {
		if (ref == RefPullOpen && h.pullOpen) || (ref == RefPullLate && h.pullLate) {
			continue
		}
		sum := PullSummary{Event: "graph pull skipped", Pull: strings.TrimPrefix(ref, "pull:"), Incident: inc.ID,
			Window: WindowOf(inc, p.o.Context, now), Skipped: scrub.String(skip)}
		content, err := json.Marshal(sum)
		if err != nil {
			return fmt.Errorf("encoding the skipped pull: %w", err)
		}
		if _, err := p.o.Store.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogIncident, Ref: ref, At: now, Content: content}); err != nil {
			return fmt.Errorf("recording the skipped pull: %w", err)
		}
	}
	p.o.Logger.Warn("Graph pull for an incident skipped: the evidence log says why", "incident", inc.ID, "reason", skip)
	return nil
}

func (p *Preserver) isDone(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done[id]
}

// builderBusy reports whether the incident builder has yet to log one of
// inc's alerts, and it changed recently enough to wait for it.
func (p *Preserver) builderBusy(inc store.Incident, h held, now time.Time) bool {
	last := inc.Updated
	if inc.Opened.After(last) {
		last = inc.Opened
	}
	if now.Sub(last) >= builderGrace {
		return false
	}
	for _, id := range inc.Alerts {
		if !h.alerts[id] {
			return true
		}
	}
	return false
}

// appendState writes the account's state at open, or why there is none.
func (p *Preserver) appendState(ctx context.Context, inc store.Incident, now time.Time) error {
	var st *State
	var err error
	if p.o.State != nil {
		st, err = p.safeState(ctx, inc)
	}
	switch {
	case err != nil:
		st = &State{Reason: "the account's state could not be read: " + scrub.String(err.Error())}
	case st == nil:
		st = &State{Reason: "no snapshot of the tenant is available (Graph is not configured, so serve reads no posture); " +
			"the account's roles, methods and Conditional Access exclusions at open are not recorded"}
	}
	st.AccountID, st.AccountUPN = inc.AccountID, inc.AccountUPN
	st.Opened, st.ReadAt = inc.Opened, now
	if !st.Available && st.Reason == "" {
		st.Reason = "the account's state is not available"
	}
	content, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding the account's state: %w", err)
	}
	if _, err := p.o.Store.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogSnapshot, Ref: RefState, At: now, Content: content}); err != nil {
		return fmt.Errorf("appending the account's state: %w", err)
	}
	return nil
}

// safeState calls State, turning a panic into an error: it reads hostile
// tenant data, and a crash there must not stop the preserver.
func (p *Preserver) safeState(ctx context.Context, inc store.Incident) (st *State, err error) {
	defer func() {
		if v := recover(); v != nil {
			st, err = nil, fmt.Errorf("reading the account's state crashed: %v (a bug)", v)
		}
	}()
	return p.o.State(ctx, inc.AccountID, inc.AccountUPN)
}

// tryPull runs one pull unless it is backing off after failures, and
// keeps score: a pull that keeps failing raises bg.source for
// "pull/<incident>", resolved when it succeeds.
func (p *Preserver) tryPull(ctx context.Context, inc store.Incident, g graph.Lister, ref string, h held, now time.Time) error {
	key := inc.ID + "/" + ref
	p.mu.Lock()
	fs := p.fails[key]
	p.mu.Unlock()
	if fs != nil && now.Before(fs.next) {
		return nil
	}
	err := p.pull(ctx, inc, g, ref, h, now)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	hkey := "pull/" + inc.ID
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		if fs != nil && fs.reported && p.o.Health != nil {
			p.o.Health.Recovered(ctx, Source, hkey)
		}
		delete(p.fails, key)
		return nil
	}
	if fs == nil {
		fs = &failState{}
		p.fails[key] = fs
	}
	fs.n++
	wait := p.o.Interval << min(fs.n-1, 10)
	fs.next = now.Add(min(wait, maxBackoff))
	err = scrub.Error(err)
	if fs.n < p.o.FailThreshold {
		p.o.Logger.Warn("Graph pull for an incident failed; retried", "incident", inc.ID, "pull", ref, "attempt", fs.n, "next", fs.next, "error", err)
		return nil
	}
	p.o.Logger.Error("Graph pull for an incident keeps failing: its evidence window may lack records Entra has; bg.source raised",
		"incident", inc.ID, "pull", ref, "attempts", fs.n, "next", fs.next, "error", err)
	if p.o.Health != nil {
		p.o.Health.Failing(ctx, Source, hkey, fmt.Errorf("pulling the evidence of incident %s from Graph (%s): %w", inc.ID, ref, err))
		fs.reported = true
	}
	return nil
}

// Window is the time span one pull asks for.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Cut is set when From was moved forward to Graph's retention: the
	// records before it can no longer be read.
	Cut string `json:"cut,omitempty"`
}

// WindowOf is the pull window of inc at now: from its first alert's event
// (else its opening) less context, to now, cut to Graph's retention.
func WindowOf(inc store.Incident, context time.Duration, now time.Time) Window {
	first := inc.FirstEvent
	if first.IsZero() || (!inc.Opened.IsZero() && inc.Opened.Before(first)) {
		first = inc.Opened
	}
	now = now.UTC().Truncate(time.Second)
	w := Window{From: first.UTC().Add(-context).Truncate(time.Second), To: now}
	if oldest := now.Add(-Retention); w.From.Before(oldest) {
		w.Cut = fmt.Sprintf("the window started %s, beyond Graph's 30-day retention; records before %s can no longer be read",
			w.From.Format(time.RFC3339), oldest.Format(time.RFC3339))
		w.From = oldest
	}
	if w.From.After(w.To) {
		w.From = w.To
	}
	return w
}

// Query is one Graph request of a pull.
type Query struct {
	Name    string        `json:"name"`
	Version graph.Version `json:"version"`
	Path    string        `json:"path"`
	Filter  string        `json:"filter"`
}

// Queries are the requests of a pull for one account over w: interactive
// sign-ins (v1.0), non-interactive ones (beta only, with the event-type
// filter), and the audit events it initiated and that targeted it: the
// same filters the graph source polls with (internal/source), bounded on
// both sides.
func Queries(accountID, accountUPN string, w Window) []Query {
	user := "userId eq '" + odataString(accountID) + "'"
	initiator := "initiatedBy/user/id eq '" + odataString(accountID) + "'"
	target := "targetResources/any(t:t/id eq '" + odataString(accountID) + "')"
	if accountID == "" {
		user = "userPrincipalName eq '" + odataString(strings.ToLower(accountUPN)) + "'"
		initiator = "initiatedBy/user/userPrincipalName eq '" + odataString(accountUPN) + "'"
		target = "targetResources/any(t:t/userPrincipalName eq '" + odataString(accountUPN) + "')"
	}
	span := func(field string) string {
		return field + " ge " + odataTime(w.From) + " and " + field + " le " + odataTime(w.To) + " and "
	}
	return []Query{
		{"signIns/interactive", graph.V1, "/auditLogs/signIns", span("createdDateTime") + user},
		{"signIns/nonInteractive", graph.Beta, "/auditLogs/signIns", span("createdDateTime") + user + " and signInEventTypes/any(t: t eq 'nonInteractiveUser')"},
		{"directoryAudits/initiatedBy", graph.V1, "/auditLogs/directoryAudits", span("activityDateTime") + initiator},
		{"directoryAudits/target", graph.V1, "/auditLogs/directoryAudits", span("activityDateTime") + target},
	}
}

func odataString(s string) string { return strings.ReplaceAll(s, "'", "''") }

func odataTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// PullSummary is the content of a pull's LogIncident entry.
type PullSummary struct {
	Event    string        `json:"event"` // "graph pull"
	Pull     string        `json:"pull"`  // "open" or "late"
	Incident string        `json:"incident"`
	Window   Window        `json:"window"`
	Queries  []QueryResult `json:"queries"`
	// Skipped, with Event "graph pull skipped", says why the account was
	// not pulled (an account of no configured tenant).
	Skipped string `json:"skipped,omitempty"`
}

// QueryResult is what one query of a pull returned.
type QueryResult struct {
	Query
	Records int `json:"records"` // returned by Graph
	New     int `json:"new"`     // not in the incident's log before, appended
	// Appended are the Refs of the records this pull appended.
	Appended []string `json:"appended,omitempty"`
}

// pull runs every query of one pull; each record not yet in the
// incident's log is appended as Graph sent it, as kind LogRecord with Ref
// its id: the kind and Ref the incident builder gives an alert's raw
// record, so a record that both alerts and is pulled (a late sign-in the
// graph source also sees) is kept once whichever comes first. The pull's
// own entry lists what it appended.
// Only when every query succeeded is the pull recorded as done; a failed
// one is run again whole, and what it appended already is not appended
// twice.
func (p *Preserver) pull(ctx context.Context, inc store.Incident, g graph.Lister, ref string, h held, now time.Time) error {
	w := WindowOf(inc, p.o.Context, now)
	sum := PullSummary{Event: "graph pull", Pull: strings.TrimPrefix(ref, "pull:"), Incident: inc.ID, Window: w}
	var errs []error
	for _, q := range Queries(inc.AccountID, inc.AccountUPN, w) {
		res := QueryResult{Query: q}
		err := g.List(ctx, q.Version, q.Path, graph.Query{Filter: q.Filter}, func(items []json.RawMessage) error {
			for _, it := range items {
				res.Records++
				rid := recordRef(it)
				if h.refs[rid] {
					continue
				}
				// Once in the store too: the incident builder may be
				// logging the same record from its alert right now.
				if _, _, err := p.o.Store.AppendLogOnce(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogRecord, Ref: rid, At: now, Content: []byte(it)}); err != nil {
					return fmt.Errorf("appending record %s: %w", rid, err)
				}
				h.refs[rid] = true
				res.New++
				res.Appended = append(res.Appended, rid)
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s %s %s: %w", q.Name, q.Version, q.Path, err))
			continue
		}
		sum.Queries = append(sum.Queries, res)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	content, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("encoding the pull summary: %w", err)
	}
	if _, err := p.o.Store.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogIncident, Ref: ref, At: now, Content: content}); err != nil {
		return fmt.Errorf("recording the pull: %w", err)
	}
	n := 0
	for _, r := range sum.Queries {
		n += r.New
	}
	p.o.Logger.Info("Graph pull for an incident done", "incident", inc.ID, "pull", sum.Pull, "from", w.From, "to", w.To, "new_records", n)
	return nil
}

// recordRef is a record's id, the Ref its entry is deduplicated on; a
// record without one (Graph always sends one) is named by its content.
func recordRef(raw json.RawMessage) string {
	var rec struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &rec) == nil {
		if s, ok := rec.ID.(string); ok && s != "" {
			return s
		}
	}
	return "sha256:" + store.ContentHash(raw)
}
