package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// Defaults of the runner's own timings; the schedule itself is canary.every
// and canary.timeout.
const (
	// DefaultPoll is how often a run looks at the outbox and the loop at
	// the clock.
	DefaultPoll = 5 * time.Second
	// DefaultFirstDelay is how long after start the first run waits when
	// none is recorded: long enough for the sources and the dispatcher to
	// be up, short enough that a new setup is proven the same hour.
	DefaultFirstDelay = time.Minute
	// maxDetail bounds the text of a failure kept and shown.
	maxDetail = 400
	// finishTimeout bounds recording a run's verdict, which goes on
	// through a shutdown.
	finishTimeout = 10 * time.Second
)

// Steps a run can fail at (Result.Step).
const (
	StepIdentity = "identity" // the canary identity is a break-glass account
	StepIngest   = "ingest"   // the pipeline refused the record
	StepDetect   = "detect"   // no bg.canary alert was stored
	StepRoute    = "route"    // the alert was queued outside the canary group
	StepDeliver  = "deliver"  // a channel of the canary group did not deliver it
)

// Result states (State.Result).
const (
	ResultPassed  = "passed"
	ResultFailed  = "failed"
	ResultRunning = "running"
)

// Condition keys in the store (rules bg.canary and bg.canary_failed).
const (
	stateKey = "state"
	failKey  = "open"
)

// Store is what the canary needs from the store.
type Store interface {
	Alert(ctx context.Context, id string) (alert.Alert, error)
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
	AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error)
	Enqueue(ctx context.Context, alertID, status string, targets []string) error
	SetAlertState(ctx context.Context, id, state, by string, at time.Time) error
	Condition(ctx context.Context, rule, key string) (store.Condition, bool, error)
	SetCondition(ctx context.Context, c store.Condition) error
	ClearCondition(ctx context.Context, rule, key string) error
}

// Options configure a Canary.
type Options struct {
	Identity Identity
	// Every is the time between runs; Timeout bounds how long a run waits
	// for delivery.
	Every, Timeout time.Duration
	// Group is the canary's test group; Targets are its channels
	// ("group/channel"), the only targets its alert may go to.
	Group   string
	Targets []string
	// FailTargets are the channels of every real group: bg.canary_failed
	// goes there, as any failure of the monitor must reach people.
	FailTargets []string
	Tenant      string
	Store       Store
	// Ingest pushes one input through the daemon's pipeline, as a source
	// named Source does, and returns once its alerts are stored.
	Ingest func(ctx context.Context, name string, r io.Reader) error
	// IsBreakGlass reports whether the identity is (now) a break-glass
	// account, a member of a watched group say. Such a run fails rather
	// than page everyone with a real Sev0. Nil: never.
	IsBreakGlass func(Identity) bool
	// Wake is called after alerts or deliveries were queued.
	Wake func()
	// OnSuccess is told the time of each successful run (and of the last
	// one recorded, at Load): the last-success metric.
	OnSuccess func(time.Time)
	Logger    *slog.Logger
	Now       func() time.Time
	// Poll and FirstDelay default to DefaultPoll and DefaultFirstDelay.
	Poll       time.Duration
	FirstDelay time.Duration
}

// State is what the store keeps between runs (condition bg.canary/state),
// so that a restart neither runs early nor forgets a failure.
type State struct {
	RunID       string    `json:"run_id,omitempty"`
	LastRun     time.Time `json:"last_run,omitzero"`
	Result      string    `json:"result,omitempty"`
	Step        string    `json:"failed_step,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	AlertID     string    `json:"alert_id,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// Result is one run's outcome.
type Result struct {
	RunID    string    `json:"run_id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Passed   bool      `json:"passed"`
	// Step and Detail say what failed (Step* constants).
	Step    string `json:"failed_step,omitempty"`
	Detail  string `json:"detail,omitempty"`
	AlertID string `json:"alert_id"`
	// Delivered is when each channel of the canary group delivered it.
	Delivered map[string]time.Time `json:"delivered,omitempty"`
	// Aborted is set when the run was cut short by shutdown: no verdict.
	Aborted bool `json:"-"`
}

// Canary runs the daily check. Load it, then Run it.
type Canary struct {
	o  Options
	mu sync.Mutex
	st State
}

// New returns a canary.
func New(o Options) *Canary {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	if o.OnSuccess == nil {
		o.OnSuccess = func(time.Time) {}
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.FirstDelay <= 0 {
		o.FirstDelay = DefaultFirstDelay
	}
	return &Canary{o: o}
}

// Load reads the recorded state. An unreadable state is an error: the
// daemon then runs the canary soon rather than trust nothing.
func (c *Canary) Load(ctx context.Context) error {
	cond, ok, err := c.o.Store.Condition(ctx, detect.RuleCanary, stateKey)
	if err != nil {
		return fmt.Errorf("reading the canary's state: %w", err)
	}
	if !ok {
		return nil
	}
	var st State
	if err := json.Unmarshal(cond.Data, &st); err != nil {
		return fmt.Errorf("reading the canary's state: %w", err)
	}
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
	if !st.LastSuccess.IsZero() {
		c.o.OnSuccess(st.LastSuccess)
	}
	return nil
}

// State returns the state as last recorded.
func (c *Canary) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Next is when the next run is due, given that the daemon started at
// start: Every after the last finished run, or FirstDelay after start
// when no run finished (none yet, or one cut short by a crash).
func (c *Canary) Next(start time.Time) time.Time {
	st := c.State()
	if st.LastRun.IsZero() || st.Result == ResultRunning || st.Result == "" {
		return start.Add(c.o.FirstDelay)
	}
	return st.LastRun.Add(c.o.Every)
}

// Run runs the canary whenever it is due until ctx ends. The schedule is
// on Options.Now; Poll is how often it looks.
func (c *Canary) Run(ctx context.Context) {
	next := c.Next(c.o.Now())
	c.o.Logger.Info("canary scheduled", "next", next.UTC().Format(time.RFC3339), "every", c.o.Every,
		"identity", c.o.Identity.Label(), "group", c.o.Group)
	t := time.NewTicker(c.o.Poll)
	defer t.Stop()
	for {
		if !c.o.Now().Before(next) {
			res := c.RunOnce(ctx)
			if res.Aborted {
				return
			}
			next = res.Started.Add(c.o.Every)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce pushes one synthetic record, waits for its alert to be stored
// and delivered to every channel of the canary group, and records the
// outcome: a failure raises bg.canary_failed (once per episode), a
// success resolves it.
func (c *Canary) RunOnce(ctx context.Context) Result {
	now := c.o.Now().UTC()
	runID := now.Format("20060102T150405.000000000Z")
	res := Result{RunID: runID, Started: now, AlertID: alert.Key(EventID(runID), detect.RuleCanary)}
	prev := c.State()
	running := State{RunID: runID, LastRun: now, Result: ResultRunning, AlertID: res.AlertID, LastSuccess: prev.LastSuccess}
	if err := c.save(ctx, running); err != nil {
		// Go on: the run itself is what matters; a lost state only
		// makes the next start run early.
		c.o.Logger.Error("canary: recording the start of a run", "error", err)
	}
	c.o.Logger.Info("canary run: pushing a synthetic sign-in", "run", runID, "identity", c.o.Identity.Label(), "alert_id", res.AlertID)
	c.verify(ctx, &res)
	res.Finished = c.o.Now().UTC()
	if res.Aborted {
		return res // shutting down: the state says running, so the next start runs again
	}
	// The verdict is recorded even if serve is stopping meanwhile: a lost
	// failure would be a failure nobody hears of.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	// The canary's alert has done its job: resolved (without a notice),
	// so nothing keeps acting on it, an escalation included.
	if err := c.o.Store.SetAlertState(ctx, res.AlertID, alert.StateResolved, Actor, res.Finished); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.o.Logger.Warn("canary: resolving its own alert", "alert_id", res.AlertID, "error", err)
	}
	res.Passed = res.Step == ""
	c.finish(ctx, prev, res)
	return res
}

// verify runs the steps of one run, filling res.
func (c *Canary) verify(ctx context.Context, res *Result) {
	fail := func(step, format string, args ...any) {
		res.Step, res.Detail = step, clip(fmt.Sprintf(format, args...))
	}
	if c.o.IsBreakGlass != nil && c.o.IsBreakGlass(c.o.Identity) {
		fail(StepIdentity, "the canary identity %s is now a break-glass account (listed, or a member of a watched group); "+
			"its test sign-in would page everyone as a real one, so none was pushed. Give canary.identity a separate test identity",
			c.o.Identity.Label())
		return
	}
	if len(c.o.Targets) == 0 {
		// Config forbids it; without this a run would pass having
		// delivered nothing.
		fail(StepDeliver, "the canary group %q has no channels, so nothing can prove delivery", c.o.Group)
		return
	}
	rec := Record(c.o.Identity, res.RunID, res.Started)
	if err := c.o.Ingest(ctx, Source+":"+res.RunID, bytes.NewReader(rec)); err != nil {
		if ctx.Err() != nil {
			res.Aborted = true
			return
		}
		fail(StepIngest, "the pipeline did not take the synthetic record: %v", err)
		return
	}
	// Ingest returns once every alert the record raised is stored, so an
	// alert missing now will never come: no need to wait for it.
	a, err := c.o.Store.Alert(ctx, res.AlertID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(StepDetect, "the synthetic sign-in was ingested but raised no bg.canary alert: detection or the store is not working as it should")
		return
	case err != nil:
		if ctx.Err() != nil {
			res.Aborted = true
			return
		}
		fail(StepDetect, "reading its alert from the store: %v", err)
		return
	}
	c.o.Logger.Debug("canary detected", "run", res.RunID, "alert_id", a.ID)
	deadline := res.Started.Add(c.o.Timeout)
	t := time.NewTicker(c.o.Poll)
	defer t.Stop()
	for {
		done, step, detail := c.delivered(ctx, res)
		if done {
			if step != "" {
				fail(step, "%s", detail)
			}
			return
		}
		if !c.o.Now().Before(deadline) {
			fail(StepDeliver, "%s", detail)
			return
		}
		select {
		case <-ctx.Done():
			res.Aborted = true
			return
		case <-t.C:
		}
	}
}

// delivered looks at the alert's deliveries once. done with no step: every
// channel of the canary group delivered it. done with a step: it failed
// for good. Not done: detail says what is still missing.
func (c *Canary) delivered(ctx context.Context, res *Result) (done bool, step, detail string) {
	ds, err := c.o.Store.AlertDeliveries(ctx, res.AlertID)
	if err != nil {
		return false, "", fmt.Sprintf("could not read its deliveries from the store within %v: %v", c.o.Timeout, err)
	}
	byTarget := map[string]store.Delivery{}
	for _, d := range ds {
		if d.Status != store.StatusFiring {
			continue
		}
		if !slices.Contains(c.o.Targets, d.Target) {
			// Never expected: routing keeps canary alerts in their group.
			// Said loudly, as it would mean a real group got a test.
			return true, StepRoute, fmt.Sprintf("the canary alert was queued for %s, outside the canary group %q: "+
				"real groups must never get canary alerts; this is a bug in routing, report it", d.Target, c.o.Group)
		}
		byTarget[d.Target] = d
	}
	var missing []string
	for _, t := range c.o.Targets {
		d, ok := byTarget[t]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%s: never queued", t))
		case !d.Delivered.IsZero():
			if res.Delivered == nil {
				res.Delivered = map[string]time.Time{}
			}
			res.Delivered[t] = d.Delivered
		case !d.DeadAt.IsZero():
			return true, StepDeliver, fmt.Sprintf("channel %s of the canary group gave up delivering it: %s", t, lastError(d, d.DeadReason))
		default:
			missing = append(missing, fmt.Sprintf("%s after %d attempts, last error: %s", t, d.Attempts, lastError(d, "")))
		}
	}
	if len(missing) == 0 {
		return true, "", ""
	}
	return false, "", fmt.Sprintf("not delivered within %v to %s", c.o.Timeout, strings.Join(missing, "; "))
}

func lastError(d store.Delivery, reason string) string {
	switch {
	case d.LastError != "" && reason != "":
		return reason + " (" + d.LastError + ")"
	case d.LastError != "":
		return d.LastError
	case reason != "":
		return reason
	case d.Attempts == 0:
		return "none (not attempted yet)"
	}
	return "none"
}

// finish records the outcome and raises or resolves bg.canary_failed.
func (c *Canary) finish(ctx context.Context, prev State, res Result) {
	st := State{RunID: res.RunID, LastRun: res.Started, AlertID: res.AlertID, LastSuccess: prev.LastSuccess}
	log := c.o.Logger
	if res.Passed {
		st.Result, st.LastSuccess = ResultPassed, res.Finished
		c.o.OnSuccess(res.Finished)
		log.Info("canary passed: the synthetic sign-in was detected and delivered to the canary group", "run", res.RunID,
			"group", c.o.Group, "took", res.Finished.Sub(res.Started).Round(time.Millisecond))
		if err := c.resolveFailure(ctx); err != nil {
			log.Error("canary: resolving bg.canary_failed; it stays open until the next successful run", "error", err)
		}
	} else {
		st.Result, st.Step, st.Detail = ResultFailed, res.Step, res.Detail
		log.Error("canary FAILED: a break-glass sign-in might not reach people either", "run", res.RunID,
			"step", res.Step, "detail", res.Detail, "group", c.o.Group)
		if err := c.raiseFailure(ctx, res); err != nil {
			log.Error("canary: raising bg.canary_failed FAILED; nobody is told the canary failed", "error", err)
		}
	}
	if err := c.save(ctx, st); err != nil {
		log.Error("canary: recording the run's result; the next start runs it again", "error", err)
	}
}

// raiseFailure raises bg.canary_failed for res to the real groups, once per
// episode: while one is open, later failures update its condition and the
// log, as bg.source does, rather than page again every day.
func (c *Canary) raiseFailure(ctx context.Context, res Result) error {
	cond, open, err := c.o.Store.Condition(ctx, detect.RuleCanaryFailed, failKey)
	if err != nil {
		// Cannot tell whether one is open: raise (fail closed; the alert
		// id is per run, so it is a new one at worst).
		c.o.Logger.Error("canary: reading the open failure; raising a new one", "error", err)
		open = false
	}
	data, _ := json.Marshal(res)
	now := res.Finished
	if open {
		cond.Data, cond.Updated = data, now
		return c.o.Store.SetCondition(ctx, cond)
	}
	if len(c.o.FailTargets) == 0 {
		c.o.Logger.Error("canary: no real group to tell that the canary failed; check notify.groups")
	}
	m := detect.MustLookup(detect.RuleCanaryFailed)
	eventID := "canary-failed:" + res.RunID
	a := alert.Alert{
		ID:        alert.Key(eventID, m.ID),
		Rule:      m.ID,
		Severity:  m.Severity,
		Title:     fmt.Sprintf("Break-glass monitoring may be broken: the daily canary %s (%s)", stepTitle(res.Step), clipN(res.Detail, 160)),
		EventID:   eventID,
		EventTime: res.Started,
		Category:  "Canary",
		Source:    Source,
		Detected:  now,
		Annotations: map[string]string{
			"description": fmt.Sprintf("At %s UTC breakglass pushed a synthetic sign-in of the canary identity %s through its own pipeline "+
				"and it did not reach the canary group %q: %s. A real break-glass sign-in may be failing the same way: "+
				"until this is fixed, watch the break-glass accounts' sign-ins in the Entra portal.",
				res.Started.Format("2006-01-02 15:04"), c.o.Identity.Label(), c.o.Group, res.Detail),
			"step":         res.Step,
			"detail":       res.Detail,
			"canary_group": c.o.Group,
			"run":          res.RunID,
		},
	}
	a.Labels = map[string]string{alert.LabelSource: Source}
	if c.o.Tenant != "" {
		a.Labels[alert.LabelTenant] = c.o.Tenant
	}
	a.Labels = a.StandardLabels()
	if _, err := c.o.Store.AddAlertNotify(ctx, a, store.Evidence{EventID: eventID, Category: a.Category, Source: Source, Raw: data}, c.o.FailTargets); err != nil {
		return fmt.Errorf("storing bg.canary_failed: %w", err)
	}
	c.o.Wake()
	if err := c.o.Store.SetCondition(ctx, store.Condition{Rule: m.ID, Key: failKey, AlertID: a.ID, Since: now, Updated: now, Data: data}); err != nil {
		return fmt.Errorf("recording the open bg.canary_failed (the next success will not resolve it): %w", err)
	}
	c.o.Logger.Warn("canary failure raised to the real groups", "alert_id", a.ID, "rule", m.ID, "targets", c.o.FailTargets)
	return nil
}

// resolveFailure resolves an open bg.canary_failed, telling where it went.
func (c *Canary) resolveFailure(ctx context.Context) error {
	cond, open, err := c.o.Store.Condition(ctx, detect.RuleCanaryFailed, failKey)
	if err != nil || !open {
		return err
	}
	targets := slices.Clone(c.o.FailTargets)
	if ds, err := c.o.Store.AlertDeliveries(ctx, cond.AlertID); err == nil {
		for _, d := range ds {
			if d.Status == store.StatusFiring && !slices.Contains(targets, d.Target) {
				targets = append(targets, d.Target)
			}
		}
	}
	if err := c.o.Store.Enqueue(ctx, cond.AlertID, store.StatusResolved, targets); err != nil {
		return err
	}
	if err := c.o.Store.SetAlertState(ctx, cond.AlertID, alert.StateResolved, Actor, c.o.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.o.Logger.Warn("canary: recording the failure's resolution", "alert_id", cond.AlertID, "error", err)
	}
	c.o.Wake()
	if err := c.o.Store.ClearCondition(ctx, detect.RuleCanaryFailed, failKey); err != nil {
		return err
	}
	c.o.Logger.Info("canary passes again; bg.canary_failed resolved", "alert_id", cond.AlertID)
	return nil
}

func (c *Canary) save(ctx context.Context, st State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	now := c.o.Now().UTC()
	// Kept in memory even when the store fails (this process's schedule
	// goes on); State shows it once the store has it, or has refused it.
	err = c.o.Store.SetCondition(ctx, store.Condition{Rule: detect.RuleCanary, Key: stateKey, Since: now, Updated: now, Data: data})
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
	return err
}

// stepTitle says in a few words what failed.
func stepTitle(step string) string {
	switch step {
	case StepIdentity:
		return "did not run: its identity is a break-glass account"
	case StepIngest:
		return "failed: the pipeline did not take its record"
	case StepDetect:
		return "failed: its sign-in was not detected"
	case StepRoute:
		return "failed: its alert was routed outside the canary group"
	case StepDeliver:
		return "failed: its alert was not delivered to the canary group"
	}
	return "failed at " + step
}

func clip(s string) string { return clipN(s, maxDetail) }

func clipN(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
