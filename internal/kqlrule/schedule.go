package kqlrule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kql/value"
	"breakglass/internal/logs"
	"breakglass/internal/store"
)

// The scheduler's rules (Scheduler, Tick):
//
//   - Windows. A rule with frequency F and period P is evaluated at every
//     window end t = k·F (k an integer: ends aligned on the Unix epoch),
//     over the records INGESTED (read by breakglass, store.KQLRecord's
//     Ingested) in (t-P, t], with now() = t. With P = F consecutive
//     windows tile time: every record is in exactly one window, however
//     late its TimeGenerated. A window is evaluated once t + Settle has
//     passed, so a record read at t is stored before its window is read.
//   - Groups. The result rows are split by the dimension values (no
//     dimensions: one group). Each group's value is its row count, or the
//     sum of threshold.column over its rows (one row per group when the
//     query summarizes by the dimensions). No threshold means "count > 0".
//   - Violations. A group fires when this evaluation breaches and at
//     least violations.min of its last violations.of evaluations (this
//     one included) breached.
//   - Dedupe (P > F). Windows overlap; a violating group whose previous
//     evaluation fired fires again only with rows that the overlap (the
//     part of the window the previous evaluation saw, (t-P, t-F]) does not
//     give on its own: a result row fires once. Identical rows from
//     different records are told apart by count (a multiset), so a second
//     sign-in that projects to the same row still fires.
//   - Stateless by default: every firing is a new alert. With auto_resolve
//     a group fires once, then stays firing until its condition has not
//     held for Azure's number of evaluations (ResolveAfter), which resolves
//     the alert (a resolved notification to where it went).
//   - mute_for: after a notified firing of a group, its firings until the
//     end of mute_for are stored and marked, but notify nobody.
//   - Restarts. Each rule's last evaluated window end and its groups'
//     state are kept in the store (a condition "kql.schedule" per rule),
//     written after the window's alerts are stored; alert ids are a
//     function of rule, group and window, so a window evaluated again
//     after a crash gives the same alerts, which the store does not store
//     or notify twice. After downtime the missed windows are evaluated in
//     order (the records read before the stop are all still kept).
//   - A query that fails at run time raises bg.kql_failed (once per rule
//     and error) and the window counts as evaluated; a store that cannot
//     be read stops the tick, and the window is tried again.

// StateRule is the store condition rule under which each rule's
// scheduler state is kept, keyed by rule id.
const StateRule = "kql.schedule"

// RuleFailed is raised when a KQL rule cannot be evaluated.
const RuleFailed = "bg.kql_failed"

func init() {
	detect.Register(detect.Meta{ID: RuleFailed, Severity: alert.Sev1, Title: "A KQL alert rule could not run",
		Description: "A rule of rules: failed when evaluated (a run-time error of its query, a result too large). Until it is fixed, what it watches for is not detected."})
}

// DefaultSettle is how long after a window's end it is evaluated.
const DefaultSettle = 2 * time.Second

// Raiser stores alerts with their notifications (watch.Pipeline in serve).
type Raiser interface {
	// Raise stores a and routes it; muted stores it marked, notifying
	// nobody. It reports whether a was new.
	Raise(ctx context.Context, a alert.Alert, ev store.Evidence, muted bool) (bool, error)
	// Resolve marks a stored alert resolved and notifies where it went.
	Resolve(ctx context.Context, alertID string) error
}

// StateStore persists the scheduler's state (store.Conditions).
type StateStore interface {
	Condition(ctx context.Context, rule, key string) (store.Condition, bool, error)
	SetCondition(ctx context.Context, c store.Condition) error
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Rules    []*Rule // the scheduled ones are used
	Records  store.Records
	State    StateStore
	Raise    Raiser
	Accounts func() *entra.AccountSet // names the account an alert is about; may be nil
	Now      func() time.Time
	Settle   time.Duration // 0: DefaultSettle
	Logger   *slog.Logger
}

// Scheduler evaluates the scheduled rules.
type Scheduler struct {
	o     SchedulerOptions
	rules []*Rule
	mu    sync.Mutex // one Tick at a time
	// appends is held shared by Record while it stamps and stores a
	// record; Tick takes it exclusively once before reading windows, so
	// every record stamped at or before a window's end is stored by then
	// (a later Record stamps a later time), whatever the store's latency.
	appends sync.RWMutex
}

// NewScheduler returns a scheduler of o.Rules' scheduled rules.
func NewScheduler(o SchedulerOptions) *Scheduler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Accounts == nil {
		o.Accounts = func() *entra.AccountSet { return entra.NewAccountSet(nil) }
	}
	s := &Scheduler{o: o}
	for _, r := range o.Rules {
		if r.Kind == KindScheduled {
			s.rules = append(s.rules, r)
		}
	}
	return s
}

// Rules returns the scheduled rules.
func (s *Scheduler) Rules() []*Rule { return s.rules }

// Tables are the tables whose records the scheduled rules read: the
// records to keep (Record).
func (s *Scheduler) Tables() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range s.rules {
		for _, t := range r.Tables {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// Record keeps one record for the scheduled rules, ingested now.
func (s *Scheduler) Record(ctx context.Context, table, source string, raw []byte) error {
	s.appends.RLock()
	defer s.appends.RUnlock()
	_, err := s.o.Records.AppendRecord(ctx, store.KQLRecord{Table: table, Ingested: s.o.Now().UTC(), Source: source, Raw: raw})
	return err
}

type schedState struct {
	Last   time.Time              `json:"last"`
	Groups map[string]*groupState `json:"groups,omitempty"`
}

type groupState struct {
	Dims       []string  `json:"dims,omitempty"`
	History    []bool    `json:"history,omitempty"` // newest last, at most violations.of
	Fired      bool      `json:"fired,omitempty"`   // the last evaluation fired (or repeated a firing)
	MutedUntil time.Time `json:"muted_until,omitzero"`
	MutedAfter string    `json:"muted_after,omitempty"`
	Open       string    `json:"open,omitempty"`  // auto_resolve: the firing alert
	Clear      int       `json:"clear,omitempty"` // evaluations without violation while Open
}

// ResolveAfter is how many evaluations in a row without a violation
// resolve a stateful alert, as Azure Monitor's log search alerts do: 10
// minutes' worth at 1-minute frequency, 3 evaluations from 5 to 15
// minutes, 2 up to 11 hours, 1 beyond.
func ResolveAfter(freq time.Duration) int {
	switch {
	case freq < 5*time.Minute:
		return int(math.Ceil(float64(10*time.Minute) / float64(freq)))
	case freq < 15*time.Minute:
		return 3
	case freq < 11*time.Hour:
		return 2
	}
	return 1
}

// Next is when the next window of any rule is due (zero: no rules).
func (s *Scheduler) Next(ctx context.Context) time.Time {
	var next time.Time
	for _, r := range s.rules {
		st, err := s.load(ctx, r)
		t := time.Time{}
		if err == nil && !st.Last.IsZero() {
			t = st.Last.Add(r.Cfg.Frequency).Add(s.o.Settle)
		} else {
			t = s.o.Now()
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Run ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	if len(s.rules) == 0 {
		return
	}
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Error("evaluating KQL rules; trying again", "error", err)
		}
		wait := time.Until(s.Next(ctx))
		if wait < 100*time.Millisecond {
			wait = 100 * time.Millisecond
		}
		if wait > 10*time.Second {
			wait = 10 * time.Second // the clock may jump; look again soon
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Tick evaluates every due window of every scheduled rule, then prunes
// the records no rule needs any more.
func (s *Scheduler) Tick(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Barrier: appends in flight finish; any later one is stamped after
	// now, so after every window end this tick evaluates.
	s.appends.Lock()
	s.appends.Unlock() //nolint:staticcheck // an empty critical section is the point
	var errs []error
	pruneBefore := time.Time{}
	for _, r := range s.rules {
		st, err := s.tickRule(ctx, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.ID, err))
		}
		if st == nil || st.Last.IsZero() {
			pruneBefore = time.Time{}
			continue
		}
		// The next window starts at Last+F-P: older records are in no
		// window this rule will evaluate.
		b := st.Last.Add(r.Cfg.Frequency - r.Cfg.Period)
		if pruneBefore.IsZero() || b.Before(pruneBefore) {
			pruneBefore = b
		}
	}
	if len(errs) == 0 && !pruneBefore.IsZero() && s.o.Records != nil {
		if _, err := s.o.Records.PruneRecords(ctx, pruneBefore); err != nil {
			errs = append(errs, fmt.Errorf("pruning KQL records: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *Scheduler) load(ctx context.Context, r *Rule) (*schedState, error) {
	c, ok, err := s.o.State.Condition(ctx, StateRule, r.ID)
	if err != nil {
		return nil, fmt.Errorf("reading its state: %w", err)
	}
	st := &schedState{}
	if ok && len(c.Data) > 0 {
		if err := json.Unmarshal(c.Data, st); err != nil {
			// Start again rather than never evaluate: the windows since the
			// last one are lost from the state, not from the store.
			s.o.Logger.Error("unreadable KQL rule state; starting from now", "rule", r.ID, "error", err)
			st = &schedState{}
		}
	}
	if st.Groups == nil {
		st.Groups = map[string]*groupState{}
	}
	return st, nil
}

func (s *Scheduler) save(ctx context.Context, r *Rule, st *schedState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	now := s.o.Now().UTC()
	if err := s.o.State.SetCondition(ctx, store.Condition{Rule: StateRule, Key: r.ID, Since: now, Updated: now, Data: data}); err != nil {
		return fmt.Errorf("saving its state: %w", err)
	}
	return nil
}

func (s *Scheduler) tickRule(ctx context.Context, r *Rule) (*schedState, error) {
	st, err := s.load(ctx, r)
	if err != nil {
		return nil, err
	}
	f := r.Cfg.Frequency
	due := s.o.Now().Add(-s.o.Settle).UTC().Truncate(f) // the newest window end that may be evaluated
	if st.Last.IsZero() {
		// A new rule starts with the newest complete window.
		st.Last = due.Add(-f)
	}
	for t := st.Last.Add(f); !t.After(due); t = t.Add(f) {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := s.evaluate(ctx, r, st, t); err != nil {
			return st, err
		}
		st.Last = t
		if err := s.save(ctx, r, st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// storeError marks errors of the record store: the window is retried.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

// window is the catalog of the records of r's tables ingested in (from,
// to]: each scan of a table streams its records from the store, decoded
// one at a time, so memory is the engine's (bounded by its groups), not
// the window's size.
func (s *Scheduler) window(r *Rule, from, to time.Time) *windowCatalog {
	return &windowCatalog{rec: s.o.Records, tables: r.Tables, from: from, to: to}
}

type windowCatalog struct {
	rec      store.Records
	tables   []string
	from, to time.Time
}

func (w *windowCatalog) Schema(table string) ([]value.Column, bool) { return tables.Schema(table) }

func (w *windowCatalog) Tables() []string { return tables.Names() }

func (w *windowCatalog) Scan(ctx context.Context, table string, fn func(row []value.Value) error) error {
	if _, ok := tables.Schema(table); !ok {
		return fmt.Errorf("no table %q", table)
	}
	if !slices.Contains(w.tables, table) {
		return nil // not a table the rule reads: no records kept
	}
	var fnErr error
	err := w.rec.ScanRecords(ctx, table, w.from, w.to, func(kr store.KQLRecord) error {
		row := recordRow(table, kr.Source, kr.Raw, w.to)
		if row == nil {
			return nil
		}
		if err := fn(row); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return storeError{fmt.Errorf("reading the records of %s: %w", table, err)}
	}
	return nil
}

// recordRow decodes raw into its row of table. A record that does not
// decode still gives a row from its bytes (tables.Row reads them), so an
// odd record is never left out of a window.
func recordRow(table, source string, raw []byte, now time.Time) []value.Value {
	rec := detect.Record{Table: table, Raw: raw, Source: source, Now: now}
	var ev entra.Event
	if cls := logs.Classify(raw); cls.Monitored() {
		if logs.Decode(raw, cls, &ev) == nil {
			rec.Event = &ev
		}
	}
	_, row := tables.Row(&rec)
	return row
}

type group struct {
	key  string
	dims []string
	rows [][]value.Value
}

// groups splits rows by r's dimensions, in first-seen order.
func groups(r *Rule, rows [][]value.Value) ([]*group, map[string]*group) {
	var order []*group
	by := map[string]*group{}
	if len(r.dims) == 0 {
		g := &group{}
		g.rows = rows
		return []*group{g}, map[string]*group{"": g}
	}
	for _, row := range rows {
		var parts, dims []string
		for i, k := range r.dims {
			v := row[k].String()
			parts = append(parts, v)
			dims = append(dims, r.Cfg.Dimensions[i]+"="+v)
		}
		key := strings.Join(parts, "\x1f")
		g := by[key]
		if g == nil {
			g = &group{key: key, dims: dims}
			by[key] = g
			order = append(order, g)
		}
		g.rows = append(g.rows, row)
	}
	return order, by
}

// measure is a group's value: the row count, or the sum of the measure
// column; ok is false when every measure is null.
func measure(r *Rule, rows [][]value.Value) (float64, bool) {
	if r.measure < 0 {
		return float64(len(rows)), true
	}
	sum, any := 0.0, false
	for _, row := range rows {
		v := row[r.measure]
		if v.IsNull() {
			continue
		}
		any = true
		switch v.T {
		case value.Real, value.Decimal:
			sum += v.F
		default:
			sum += float64(v.I)
		}
	}
	return sum, any
}

func breaches(r *Rule, v float64, ok bool) bool {
	if !ok {
		return false
	}
	if r.Cfg.Threshold == nil {
		return v > 0
	}
	return r.Cfg.Threshold.Holds(v)
}

func (s *Scheduler) evaluate(ctx context.Context, r *Rule, st *schedState, t time.Time) error {
	from := t.Add(-r.Cfg.Period)
	res, err := r.run(ctx, s.window(r, from, t), t)
	if err != nil {
		var se storeError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &se):
			return err // the store: try the window again
		}
		return s.failed(ctx, r, t, err)
	}
	ordered, _ := groups(r, res.Rows)
	seen := map[string]bool{}
	var overlap map[string]*group // lazily: the rows of (from, t-F]
	overlapRows := func() (map[string]*group, error) {
		if overlap != nil {
			return overlap, nil
		}
		ores, err := r.run(ctx, s.window(r, from, t.Add(-r.Cfg.Frequency)), t)
		if err != nil {
			return nil, err
		}
		_, overlap = groups(r, ores.Rows)
		return overlap, nil
	}
	for _, g := range ordered {
		seen[g.key] = true
		gs := st.Groups[g.key]
		if gs == nil {
			gs = &groupState{Dims: g.dims}
			st.Groups[g.key] = gs
		}
		v, ok := measure(r, g.rows)
		if err := s.judge(ctx, r, gs, g, t, breaches(r, v, ok), v, res.Truncated, overlapRows); err != nil {
			return err
		}
	}
	for key, gs := range st.Groups {
		if seen[key] {
			continue
		}
		// A group with no rows this time: for a row count that is 0 (a
		// "< N" threshold may breach); for a measure there is no value.
		v, ok := measure(r, nil)
		g := &group{key: key, dims: gs.Dims}
		if err := s.judge(ctx, r, gs, g, t, breaches(r, v, ok), v, false, overlapRows); err != nil {
			return err
		}
		if !gs.Fired && gs.Open == "" && !slicesAny(gs.History) && !t.Before(gs.MutedUntil) {
			delete(st.Groups, key) // nothing left to remember
		}
	}
	return nil
}

func slicesAny(b []bool) bool {
	for _, v := range b {
		if v {
			return true
		}
	}
	return false
}

func (s *Scheduler) judge(ctx context.Context, r *Rule, gs *groupState, g *group, t time.Time, breach bool, v float64, truncated bool,
	overlapRows func() (map[string]*group, error)) error {
	of, min := 1, 1
	if vi := r.Cfg.Violations; vi != nil {
		of, min = max(vi.Of, 1), max(vi.Min, 1)
	}
	gs.History = append(gs.History, breach)
	if len(gs.History) > of {
		gs.History = gs.History[len(gs.History)-of:]
	}
	n := 0
	for _, b := range gs.History {
		if b {
			n++
		}
	}
	// A firing needs this evaluation to breach: earlier violations alone
	// (violations.min of .of) never fire a window that found nothing.
	if n < min || !breach {
		gs.Fired = false
		if gs.Open != "" {
			gs.Clear++
			if gs.Clear >= ResolveAfter(r.Cfg.Frequency) {
				if err := s.o.Raise.Resolve(ctx, gs.Open); err != nil {
					return storeError{fmt.Errorf("resolving alert %s: %w", gs.Open, err)}
				}
				gs.Open, gs.Clear = "", 0
			}
		}
		return nil
	}
	gs.Clear = 0
	if r.Cfg.AutoResolve && gs.Open != "" {
		gs.Fired = true
		return nil // stateful: firing already, until it resolves
	}
	rows := g.rows
	if r.Cfg.Period > r.Cfg.Frequency && gs.Fired && len(rows) > 0 {
		ov, err := overlapRows()
		if err != nil {
			var se storeError
			if errors.As(err, &se) {
				return err
			}
			return s.failed(ctx, r, t, err)
		}
		rows = freshRows(rows, ov[g.key])
		if len(rows) == 0 {
			return nil // the same rows fired already; Fired stays
		}
	}
	a, ev := s.alert(r, g, rows, len(g.rows), t, v, truncated)
	muted := r.Cfg.MuteFor > 0 && t.Before(gs.MutedUntil)
	if muted {
		a.Annotations["muted"] = fmt.Sprintf("not notified: mute_for %s of rule %s; alert %s of this group was notified, and until %s UTC its further firings are stored here but page nobody",
			r.Cfg.MuteFor, r.Cfg.Name, gs.MutedAfter, gs.MutedUntil.UTC().Format("2006-01-02 15:04:05"))
		a.Annotations["muted_after"] = gs.MutedAfter
		a.Annotations["muted_until"] = gs.MutedUntil.UTC().Format(time.RFC3339)
	}
	if _, err := s.o.Raise.Raise(ctx, a, ev, muted); err != nil {
		return storeError{fmt.Errorf("storing alert %s: %w", a.ID, err)}
	}
	if !muted && r.Cfg.MuteFor > 0 {
		gs.MutedUntil, gs.MutedAfter = t.Add(r.Cfg.MuteFor), a.ID
	}
	gs.Fired = true
	if r.Cfg.AutoResolve {
		gs.Open = a.ID
	}
	return nil
}

// freshRows is rows less the rows of prev, counted as a multiset.
func freshRows(rows [][]value.Value, prev *group) [][]value.Value {
	if prev == nil {
		return rows
	}
	left := map[string]int{}
	for _, row := range prev.rows {
		left[rowKey(row)]++
	}
	var out [][]value.Value
	for _, row := range rows {
		k := rowKey(row)
		if left[k] > 0 {
			left[k]--
			continue
		}
		out = append(out, row)
	}
	return out
}

// alert builds the alert of one firing: rows are what fired (at most
// MaxAlertRows are carried), total the group's rows in the window.
func (s *Scheduler) alert(r *Rule, g *group, rows [][]value.Value, total int, t time.Time, v float64, truncated bool) (alert.Alert, store.Evidence) {
	now := s.o.Now().UTC()
	acct, _ := rowsAccount(s.o.Accounts(), r.Columns, rows)
	a := newAlert(r, acct, now)
	h := sha256.Sum256([]byte(r.ID + "\x00" + g.key + "\x00" + t.UTC().Format(time.RFC3339Nano)))
	eid := "kql:" + hex.EncodeToString(h[:16])
	a.ID = alert.Key(eid, r.ID)
	a.EventID, a.EventTime, a.Category = eid, t.UTC(), "kql"
	win := fmt.Sprintf("(%s, %s]", t.Add(-r.Cfg.Period).UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	a.Source = "rule " + r.ID + " window " + win
	cond := condition(r, v)
	a.Title += " (" + cond
	if len(g.dims) > 0 {
		a.Title += ", " + strings.Join(g.dims, ", ")
		a.Annotations[AnnDimensions] = strings.Join(g.dims, ", ")
	}
	a.Title += ")"
	a.Annotations[AnnWindow] = win + " by ingestion time"
	a.Annotations[AnnCondition] = cond
	a.Annotations[AnnRows] = rowsJSON(r.Columns, rows)
	a.Annotations[AnnRowCount] = strconv.Itoa(total)
	if len(rows) < total {
		a.Annotations["kql_new_rows"] = strconv.Itoa(len(rows))
	}
	if truncated {
		a.Annotations["kql_truncated"] = "the result had more rows than the engine keeps; the count is a lower bound"
	}
	body, _ := json.Marshal(map[string]any{
		"rule": r.ID, "window": win, "condition": cond, "dimensions": g.dims, "row_count": total,
		"rows": json.RawMessage(a.Annotations[AnnRows]),
	})
	return a, store.Evidence{EventID: eid, Category: "kql", Source: a.Source, Raw: body}
}

func condition(r *Rule, v float64) string {
	num := strconv.FormatFloat(v, 'f', -1, 64)
	t := r.Cfg.Threshold
	if t == nil {
		return "rows " + num + " > 0"
	}
	what := "rows"
	if t.Column != "" {
		what = t.Column
	}
	return what + " " + num + " " + t.Operator + " " + strconv.FormatFloat(t.Value, 'f', -1, 64)
}

// rowsAccount is the first break-glass account any string cell of rows
// names (by object id or UPN).
func rowsAccount(accounts *entra.AccountSet, cols []value.Column, rows [][]value.Value) (entra.Account, bool) {
	for _, row := range rows {
		for j, c := range cols {
			if j >= len(row) || (c.Type != value.String && c.Type != value.Guid) {
				continue
			}
			if s := row[j].String(); s != "" && len(s) < 300 {
				if a, ok := accounts.MatchAny(s); ok {
					return a, true
				}
			}
		}
	}
	return entra.Account{}, false
}

// failed raises bg.kql_failed for a rule whose query failed at t.
func (s *Scheduler) failed(ctx context.Context, r *Rule, t time.Time, cause error) error {
	now := s.o.Now().UTC()
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500] + "..."
	}
	m := detect.MustLookup(RuleFailed)
	eid := "kql-failed:" + r.ID + ":" + hex.EncodeToString(func() []byte { h := sha256.Sum256([]byte(msg)); return h[:8] }())
	a := alert.Alert{
		ID: alert.Key(eid, RuleFailed), Rule: RuleFailed, Severity: m.Severity,
		Title:   m.Title + ": " + r.Cfg.Name,
		EventID: eid, EventTime: t.UTC(), Category: "kql", Source: "rule " + r.ID, Detected: now,
		Labels: map[string]string{},
		Annotations: map[string]string{
			"detail": msg, AnnQuery: r.Cfg.Query,
			"next": "Run 'breakglass rules test' with the records of the window, fix the query, and restart serve. Until then this rule detects nothing.",
		},
	}
	s.o.Logger.Error("KQL rule failed", "rule", r.ID, "window_end", t, "error", msg)
	body, _ := json.Marshal(map[string]string{"rule": r.ID, "error": msg, "window_end": t.UTC().Format(time.RFC3339)})
	if _, err := s.o.Raise.Raise(ctx, a, store.Evidence{EventID: eid, Category: "kql", Source: a.Source, Raw: body}, false); err != nil {
		return storeError{fmt.Errorf("storing %s: %w", RuleFailed, err)}
	}
	return nil
}
