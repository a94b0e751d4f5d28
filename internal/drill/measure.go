package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// Steps of a drill, in the order they happen; FailedStep names the first
// that did not hold.
const (
	StepDetected       = "detected"
	StepSignedIn       = "signed_in" // the sign-in succeeded: the account works
	StepAlertWithin    = "alert_within"
	StepDelivery       = "delivery" // every routed channel delivered
	StepDeliveryWithin = "delivery_within"
	StepAcknowledged   = "acknowledged"
	StepAckWithin      = "ack_within"
)

// ResultRunning is the result of a drill that is not finished and has not
// failed yet.
const ResultRunning = "running"

// Evaluator measures drills. Targets gives the notification targets the
// alert was routed to at once (route.Router.Plan(labels).Now(), what
// daemon.RouteFunc returns): each must have delivered for a pass.
type Evaluator struct {
	Bounds  config.DrillConfig
	Targets func(labels map[string]string) []string
}

// Report is one drill as measured: what drill report prints, and, at
// finish, what is stored with the drill (Drill.Measured) as its proof.
type Report struct {
	ID         string     `json:"id"`
	AccountID  string     `json:"account_id"`
	AccountUPN string     `json:"account_upn,omitempty"`
	State      string     `json:"state"`
	Result     string     `json:"result"` // passed, failed or running
	FailedStep string     `json:"failed_step,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	By         string     `json:"by,omitempty"`
	Note       string     `json:"note,omitempty"`
	WindowFrom time.Time  `json:"window_from"`
	WindowTo   time.Time  `json:"window_to"`
	Started    *time.Time `json:"started,omitempty"`
	Finished   *time.Time `json:"finished,omitempty"`
	Measured   Measured   `json:"measured"`
	Bounds     Bounds     `json:"bounds"`
	IncidentID string     `json:"incident_id,omitempty"`
	Checklist  []Check    `json:"checklist"`
	// Failed lists every step that did not hold, in order (FailedStep is
	// the first).
	Failed []string `json:"failed_steps,omitempty"`
	// Open lists the checklist items neither attested nor shown by
	// evidence.
	Open []string `json:"open"`
}

// Bounds are the limits a drill was measured against, in seconds.
type Bounds struct {
	AlertSeconds    float64 `json:"alert_within_seconds"`
	DeliverySeconds float64 `json:"delivery_within_seconds"`
	AckSeconds      float64 `json:"ack_within_seconds"`
}

// Measured is what breakglass saw of the drill's sign-in, end to end.
// Times are absent when the step did not happen; *Seconds are from the
// step before (event → stored; stored → delivered; stored → acknowledged).
type Measured struct {
	AlertID string `json:"alert_id,omitempty"`
	EventID string `json:"event_id,omitempty"`
	// SignInResult is the sign-in's result as the alert says it
	// ("success", "failure 50126").
	SignInResult string `json:"sign_in_result,omitempty"`
	// EventTime is the sign-in's time in Entra's log; Detected is when
	// breakglass read the record (its arrival); Stored when the alert and
	// its notifications were stored.
	EventTime    *time.Time `json:"event_time,omitempty"`
	Detected     *time.Time `json:"detected,omitempty"`
	Stored       *time.Time `json:"stored,omitempty"`
	Acknowledged *time.Time `json:"acknowledged,omitempty"`
	AckBy        string     `json:"acknowledged_by,omitempty"`

	DetectSeconds *float64 `json:"detect_seconds,omitempty"` // event → detected
	AlertSeconds  *float64 `json:"alert_seconds,omitempty"`  // event → stored
	AckSeconds    *float64 `json:"ack_seconds,omitempty"`    // stored → acknowledged
	// DeliverySeconds is the slowest routed delivery (stored → delivered).
	DeliverySeconds *float64   `json:"delivery_seconds,omitempty"`
	Deliveries      []Delivery `json:"deliveries"`
	// AdminEvent is an administrative audit event of the account in the
	// window (bg.activity), evidence for the checklist.
	AdminEvent *Event `json:"admin_event,omitempty"`
}

// Delivery is one routed target of the drill's alert.
type Delivery struct {
	Target    string     `json:"target"`
	Delivered *time.Time `json:"delivered,omitempty"`
	Seconds   *float64   `json:"seconds,omitempty"`
	// Attempts is how many sends were made: the failed ones, and the one
	// that delivered.
	Attempts int `json:"attempts"`
	// Error is the last delivery error while not delivered.
	Error string `json:"error,omitempty"`
	Dead  bool   `json:"dead,omitempty"`
}

// Event is an alert used as evidence.
type Event struct {
	AlertID   string    `json:"alert_id"`
	Rule      string    `json:"rule"`
	Operation string    `json:"operation,omitempty"`
	EventTime time.Time `json:"event_time"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func secs(from, to time.Time) *float64 {
	s := to.Sub(from).Seconds()
	return &s
}

// signIn returns d's sign-in alert: a sign-in of its account in its
// window, whoever stored it; one labelled as d's first, then a successful
// one (a mistyped password before the real sign-in is not the drill),
// then the earliest. A sign-in labelled as another drill's is that
// drill's, and an unlabelled one stored before d was planned was not
// announced: a real use is never adopted as a drill after the fact.
func signIn(ctx context.Context, st Store, d store.Drill, end time.Time) (alert.Alert, bool, error) {
	as, err := st.Alerts(ctx, store.AlertFilter{Rule: detect.RuleSignIn, Since: d.At})
	if err != nil {
		return alert.Alert{}, false, fmt.Errorf("reading sign-in alerts: %w", err)
	}
	var best alert.Alert
	found := false
	rank := func(a alert.Alert) int {
		r := 0
		if a.Labels[alert.LabelDrill] == d.ID {
			r += 2
		}
		if a.Result == "success" {
			r++
		}
		return r
	}
	for _, a := range as {
		if a.EventTimeUnknown || !SameAccount(d, a) || a.EventTime.Before(Opens(d)) || !a.EventTime.Before(end) {
			continue
		}
		if l := a.Labels[alert.LabelDrill]; l != "" && l != d.ID {
			continue // another drill's
		}
		if a.Labels[alert.LabelDrill] == "" && !d.Created.IsZero() && a.Detected.Before(d.Created) {
			continue // stored before the drill was announced
		}
		if !found || rank(a) > rank(best) || (rank(a) == rank(best) && a.EventTime.Before(best.EventTime)) {
			best, found = a, true
		}
	}
	return best, found, nil
}

// adminEvent is the first administrative audit event of d's account in the
// window.
func adminEvent(ctx context.Context, st Store, d store.Drill, end time.Time) (*Event, error) {
	var out *Event
	for _, rule := range []string{detect.RuleActivity, detect.RuleGraphActivity} {
		as, err := st.Alerts(ctx, store.AlertFilter{Rule: rule, Since: d.At})
		if err != nil {
			return nil, fmt.Errorf("reading %s alerts: %w", rule, err)
		}
		for _, a := range as {
			if a.EventTimeUnknown || !SameAccount(d, a) || a.EventTime.Before(Opens(d)) || !a.EventTime.Before(end) {
				continue
			}
			if l := a.Labels[alert.LabelDrill]; l != "" && l != d.ID {
				continue // another drill's
			}
			if out == nil || a.EventTime.Before(out.EventTime) {
				out = &Event{AlertID: a.ID, Rule: a.Rule, Operation: a.Operation, EventTime: a.EventTime.UTC()}
			}
		}
	}
	return out, nil
}

// Evaluate measures d at now. A finished drill's report is the one stored
// at finish (the outbox prunes delivered rows later; the proof must not
// change). Otherwise the result is running, or failed "not detected" once
// the window and its grace (drill.alert_within, for Entra's log delay)
// have passed without a sign-in.
func (e Evaluator) Evaluate(ctx context.Context, st Store, d store.Drill, now time.Time) (Report, error) {
	if d.State == store.DrillFinished && len(d.Measured) > 0 {
		var r Report
		if err := json.Unmarshal(d.Measured, &r); err != nil {
			return Report{}, fmt.Errorf("drill %s: stored report: %w", d.ID, err)
		}
		if r.IncidentID == "" {
			r.IncidentID = d.IncidentID // linked after finish (Link)
		}
		return r, nil
	}
	r, err := e.measure(ctx, st, d, now)
	if err != nil {
		return r, err
	}
	if err := e.checklist(ctx, st, d, &r, now); err != nil {
		return r, err
	}
	if d.State == store.DrillFinished && d.Result != "" {
		// Finished without a stored report (written by hand, or by an
		// older version): the verdict recorded at finish stands.
		r.Result, r.FailedStep, r.Reason = d.Result, d.FailedStep, d.Reason
		r.Failed = nil
		if d.FailedStep != "" {
			r.Failed = []string{d.FailedStep}
		}
	}
	if d.State != store.DrillFinished {
		r.Result, r.FailedStep, r.Reason, r.Failed = ResultRunning, "", "", nil
		switch {
		case r.Measured.AlertID != "" || now.Before(End(d)):
		case !e.Settled(d, now):
			r.Reason = e.waiting(d) // a sign-in may still be on its way
		default:
			r.Result, r.FailedStep, r.Reason, r.Failed = store.DrillFailed, StepDetected, notDetected(d), []string{StepDetected}
		}
	}
	return r, nil
}

func notDetected(d store.Drill) string {
	return fmt.Sprintf("not detected: no sign-in of %s was seen between %s and %s UTC. Check that the sources deliver sign-in logs and that the account is listed under accounts:",
		firstNonEmpty(d.AccountUPN, d.AccountID), d.At.UTC().Format("2006-01-02 15:04:05"), End(d).UTC().Format("2006-01-02 15:04:05"))
}

// measure computes the report and a verdict as if the drill ended at
// End(d) (or now, if sooner).
func (e Evaluator) measure(ctx context.Context, st Store, d store.Drill, now time.Time) (Report, error) {
	end := End(d)
	if d.State != store.DrillFinished && now.Before(end) {
		end = now
	}
	b := e.Bounds
	r := Report{
		ID: d.ID, AccountID: d.AccountID, AccountUPN: d.AccountUPN, State: d.State, By: d.By, Note: d.Note,
		WindowFrom: d.At.UTC(), WindowTo: d.At.Add(d.Window).UTC(), Started: tp(d.Started), Finished: tp(d.Finished),
		Bounds: Bounds{b.AlertWithin.Seconds(), b.DeliveryWithin.Seconds(), b.AckWithin.Seconds()},
	}
	m := &r.Measured
	m.Deliveries = []Delivery{}
	fail := func(step, format string, args ...any) {
		r.Failed = append(r.Failed, step)
		if r.FailedStep == "" {
			r.FailedStep, r.Reason = step, fmt.Sprintf(format, args...)
		}
	}
	var err error
	if m.AdminEvent, err = adminEvent(ctx, st, d, end); err != nil {
		return r, err
	}
	a, found, err := signIn(ctx, st, d, end)
	if err != nil {
		return r, err
	}
	if !found {
		fail(StepDetected, "%s", notDetected(d))
		r.Result = store.DrillFailed
		return r, nil
	}
	m.AlertID, m.EventID, m.SignInResult = a.ID, a.EventID, a.Result
	m.EventTime, m.Detected = tp(a.EventTime), tp(a.Detected)
	m.DetectSeconds = secs(a.EventTime, a.Detected)
	stored := a.Detected
	if ev, err := st.Evidence(ctx, a.EventID); err == nil && !ev.Stored.IsZero() {
		stored = ev.Stored
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("reading the evidence of %s: %w", a.ID, err)
	}
	m.Stored = tp(stored)
	m.AlertSeconds = secs(a.EventTime, stored)
	if strings.HasPrefix(a.Result, "failure") {
		// Monitoring saw it, but the account did not work: a drill proves
		// both, and a passed drill is the posture audit's evidence of a
		// successful sign-in (last-sign-in).
		fail(StepSignedIn, "the drill's sign-in did not succeed (%s): detection worked, but nothing proves the account can be used; check its credentials (password, FIDO2 key, certificate) and sign in again",
			a.Result)
	}
	if inc, err := st.IncidentOf(ctx, a.ID); err == nil {
		r.IncidentID = inc.ID
	} else if !errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("reading the incident of %s: %w", a.ID, err)
	}
	if d := stored.Sub(a.EventTime); d > b.AlertWithin {
		fail(StepAlertWithin, "the alert was stored %s after the sign-in, more than drill.alert_within (%s): check the log source's delay (Entra's export, Event Hub lag) and the source's poll interval",
			round(d), b.AlertWithin)
	}

	// Deliveries: every routed target must have delivered.
	var targets []string
	if e.Targets != nil {
		targets = slices.Clone(e.Targets(a.Labels))
	}
	sort.Strings(targets)
	targets = slices.Compact(targets)
	ds, err := st.AlertDeliveries(ctx, a.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("reading the deliveries of %s: %w", a.ID, err)
	}
	byTarget := map[string]store.Delivery{}
	for _, dl := range ds {
		if dl.Status == store.StatusFiring {
			byTarget[dl.Target] = dl
		}
	}
	if len(targets) == 0 {
		fail(StepDelivery, "no notification group is routed this alert: check notify.routes (a sign-in must reach people)")
	}
	var slowest time.Duration
	var undelivered, slow []string
	for _, t := range targets {
		dl, ok := byTarget[t]
		out := Delivery{Target: t, Attempts: dl.Sends(), Dead: !dl.DeadAt.IsZero()}
		switch {
		case !ok:
			out.Error = "no delivery was queued for this target"
			undelivered = append(undelivered, t)
		case dl.Delivered.IsZero():
			out.Error = cut(dl.LastError, 300)
			undelivered = append(undelivered, t)
		default:
			out.Delivered = tp(dl.Delivered)
			out.Seconds = secs(stored, dl.Delivered)
			lat := dl.Delivered.Sub(stored)
			slowest = max(slowest, lat)
			if lat > b.DeliveryWithin {
				slow = append(slow, fmt.Sprintf("%s after %s", t, round(lat)))
			}
		}
		m.Deliveries = append(m.Deliveries, out)
	}
	if len(targets) > 0 && len(undelivered) < len(targets) {
		s := slowest.Seconds()
		m.DeliverySeconds = &s
	}
	if len(undelivered) > 0 {
		fail(StepDelivery, "not delivered to %s: see 'breakglass alerts show %s' for the errors, fix the channel, and run the drill again",
			strings.Join(undelivered, ", "), a.ID)
	}
	if len(slow) > 0 {
		fail(StepDeliveryWithin, "delivered to %s, more than drill.delivery_within (%s) after the alert",
			strings.Join(slow, ", "), b.DeliveryWithin)
	}

	// Acknowledgement.
	changes, err := st.StateChanges(ctx, a.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("reading the state changes of %s: %w", a.ID, err)
	}
	for _, c := range changes {
		if c.To == alert.StateAcknowledged {
			m.Acknowledged, m.AckBy = tp(c.At), c.By
			m.AckSeconds = secs(stored, c.At)
			break
		}
	}
	switch {
	case m.Acknowledged == nil:
		fail(StepAcknowledged, "nobody acknowledged the drill's alert: acknowledge it (breakglass alerts ack %s) before drill finish", a.ID)
	case m.Acknowledged.Sub(stored) > b.AckWithin:
		fail(StepAckWithin, "acknowledged %s after the alert, more than drill.ack_within (%s): check that the on-call people get and act on the page",
			round(m.Acknowledged.Sub(stored)), b.AckWithin)
	}
	if r.FailedStep != "" {
		r.Result = store.DrillFailed
	} else {
		r.Result = store.DrillPassed
	}
	return r, nil
}

func round(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
