package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// ReviewStore is what Ack, Review and Close need of the store: the
// builder's Store (a misuse review attaches bg.misuse and logs its
// evidence as the builder does) and the lifecycle writes.
type ReviewStore interface {
	Store
	SetIncidentState(ctx context.Context, id, state, by, note string, at time.Time) error
	SetReview(ctx context.Context, id string, r store.Review) error
	ChangeAlertState(ctx context.Context, c store.StateChange) (bool, error)
	AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error)
}

// ErrNoReview is returned by Close for an incident nobody reviewed.
var ErrNoReview = errors.New("the incident has not been reviewed")

// AckResult says what Ack did.
type AckResult struct {
	Incident store.Incident
	// Already is set when the incident was acknowledged (or further) before.
	Already bool
	// Alerts are the alerts that were firing and are now acknowledged.
	Alerts []string
}

// Ack acknowledges incident id and every firing alert of it, so that
// escalation to the next group stops. Acknowledging an acknowledged,
// reviewed or closed incident changes the incident nothing (Already), but
// still acknowledges an alert that joined it since and is firing.
func Ack(ctx context.Context, st ReviewStore, id, by, note string, now time.Time) (AckResult, error) {
	var res AckResult
	inc, err := st.Incident(ctx, id)
	if err != nil {
		return res, err
	}
	from := inc.State
	if inc.State == store.IncidentOpen {
		if err := st.SetIncidentState(ctx, id, store.IncidentAcknowledged, by, note, now); err != nil {
			return res, err
		}
		if err := logTransition(ctx, st, Transition{Incident: id, From: from, To: store.IncidentAcknowledged,
			By: by, At: now.UTC(), Note: note}); err != nil {
			return res, err
		}
	} else {
		res.Already = true
	}
	for _, aid := range inc.Alerts {
		a, err := st.Alert(ctx, aid)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return res, err
		}
		if a.State != "" && a.State != alert.StateFiring {
			continue
		}
		if _, err := st.ChangeAlertState(ctx, store.StateChange{AlertID: aid, To: alert.StateAcknowledged, By: by, At: now,
			Via: store.ViaIncident, Note: "with incident " + id}); err != nil {
			return res, fmt.Errorf("acknowledging alert %s: %w", aid, err)
		}
		res.Alerts = append(res.Alerts, aid)
		content, _ := json.Marshal(map[string]any{"alert": aid, "from": alert.StateFiring,
			"to": alert.StateAcknowledged, "by": by, "at": now.UTC(), "via": "incidents ack " + id})
		if _, err := st.AppendLog(ctx, store.LogEntry{Incident: id, Kind: store.LogNotify, Ref: aid, At: now,
			Content: content}); err != nil {
			return res, err
		}
	}
	if res.Incident, err = st.Incident(ctx, id); err != nil {
		return res, err
	}
	return res, nil
}

// ReviewRequest is one review: the classification, who, why, and the
// attestation per action group.
type ReviewRequest struct {
	Class  string
	By     string
	Note   string
	Attest map[string]string
	// Groups are the configured action groups, each of which the review
	// should attest for (Missing lists those it does not).
	Groups []string
	// Targets are every channel of every group: where bg.misuse goes.
	Targets []string
	Gap     time.Duration
}

// ReviewResult says what Review did.
type ReviewResult struct {
	Incident store.Incident
	// Missing are the groups of ReviewRequest.Groups without attestation.
	Missing []string
	// Misuse is the bg.misuse alert raised, for a misuse review.
	Misuse *alert.Alert
	// MisuseNew is false when the same alert had been raised before (a
	// repeated review): its notifications are not sent twice.
	MisuseNew bool
}

// Review records a review. A misuse review then raises bg.misuse (Sev0)
// through the outbox to every target. The review is recorded first: it is
// the reviewer's decision and stands even if the page cannot be queued,
// in which case the error says so and repeating the review queues it
// (the alert id is derived from the incident, so never twice).
func Review(ctx context.Context, st ReviewStore, id string, rq ReviewRequest, now time.Time) (ReviewResult, error) {
	var res ReviewResult
	switch rq.Class {
	case store.ClassDrill, store.ClassEmergency, store.ClassMisuse:
	default:
		return res, fmt.Errorf("unknown classification %q: use drill, emergency or misuse", rq.Class)
	}
	if strings.TrimSpace(rq.By) == "" {
		return res, errors.New("a review must name the reviewer")
	}
	inc, err := st.Incident(ctx, id)
	if err != nil {
		return res, err
	}
	r := store.Review{Class: rq.Class, By: rq.By, At: now, Note: rq.Note, Attest: rq.Attest}
	if err := st.SetReview(ctx, id, r); err != nil {
		return res, err
	}
	if err := logTransition(ctx, st, Transition{Incident: id, From: inc.State, To: store.IncidentReviewed,
		By: rq.By, At: now.UTC(), Note: rq.Note, Review: &r}); err != nil {
		return res, err
	}
	for _, g := range rq.Groups {
		if strings.TrimSpace(rq.Attest[g]) == "" {
			res.Missing = append(res.Missing, g)
		}
	}
	if res.Incident, err = st.Incident(ctx, id); err != nil {
		return res, err
	}
	if rq.Class != store.ClassMisuse {
		return res, nil
	}
	a, ev := MisuseAlert(res.Incident, r, now)
	if len(rq.Targets) == 0 {
		return res, errors.New("bg.misuse has nowhere to go: the configuration has no notification channel")
	}
	inserted, err := st.AddAlertNotify(ctx, a, ev, rq.Targets)
	if err != nil {
		return res, fmt.Errorf("raising bg.misuse: %w", err)
	}
	res.Misuse, res.MisuseNew = &a, inserted
	// Into this incident, with its evidence, as the builder would do: its
	// event time is the incident's last event, so it falls in the
	// incident's span; doing it here keeps it from opening an incident of
	// its own.
	got, _, err := st.AttachAlert(ctx, a, res.Incident.Key, res.Incident.Kind, rq.Gap, now)
	if err != nil {
		return res, fmt.Errorf("bg.misuse is queued, but attaching it to the incident failed (serve attaches it later): %w", err)
	}
	b := New(Options{Store: st, Gap: rq.Gap, Now: func() time.Time { return now }})
	if err := b.complete(ctx, got, []alert.Alert{a}); err != nil {
		return res, fmt.Errorf("bg.misuse is queued, but logging its evidence failed: %w", err)
	}
	if got.ID == id {
		res.Incident = got
	}
	return res, nil
}

// MisuseAlert is the bg.misuse alert for a misuse review of inc, and its
// evidence (the review as JSON). Its id is derived from the incident, so a
// repeated review raises it once.
func MisuseAlert(inc store.Incident, r store.Review, now time.Time) (alert.Alert, store.Evidence) {
	who := inc.AccountUPN
	if who == "" {
		who = inc.AccountID
	}
	if who == "" {
		who = inc.Key
	}
	eventID := "bg.misuse/" + inc.ID
	m := detect.MustLookup(detect.RuleMisuse)
	desc := fmt.Sprintf("%s reviewed incident %s (%d alerts, %s to %s UTC) as misuse", r.By, inc.ID, len(inc.Alerts),
		inc.FirstEvent.UTC().Format("2006-01-02 15:04"), inc.LastEvent.UTC().Format("2006-01-02 15:04"))
	if r.Note != "" {
		desc += ": " + r.Note
	}
	a := alert.Alert{
		ID:         alert.Key(eventID, detect.RuleMisuse),
		Rule:       detect.RuleMisuse,
		Severity:   m.Severity,
		Title:      fmt.Sprintf("Break-glass MISUSE: %s (incident %s, reviewed by %s)", who, inc.ID, r.By),
		AccountID:  inc.AccountID,
		AccountUPN: inc.AccountUPN,
		EventID:    eventID,
		EventTime:  inc.LastEvent.UTC(),
		Category:   "Review",
		Source:     "review",
		Detected:   now.UTC(),
		Operation:  "review",
		Actor:      r.By,
		Annotations: map[string]string{
			"description": desc + ".",
			"incident":    inc.ID,
			"reviewer":    r.By,
			"note":        r.Note,
		},
	}
	a.Labels = a.StandardLabels()
	a.Labels["incident"] = inc.ID
	raw, _ := json.Marshal(struct {
		Incident string       `json:"incident"`
		Review   store.Review `json:"review"`
	}{inc.ID, r})
	return a, store.Evidence{EventID: eventID, Category: a.Category, Source: a.Source, Raw: raw}
}

// Close closes a reviewed incident. An incident without a review is
// ErrNoReview; closing a closed one changes nothing.
func Close(ctx context.Context, st ReviewStore, id, by, note string, now time.Time) (store.Incident, error) {
	inc, err := st.Incident(ctx, id)
	if err != nil {
		return inc, err
	}
	switch {
	case inc.State == store.IncidentClosed:
		return inc, nil
	case inc.Review == nil || inc.State != store.IncidentReviewed:
		return inc, ErrNoReview
	}
	if err := st.SetIncidentState(ctx, id, store.IncidentClosed, by, note, now); err != nil {
		return inc, err
	}
	if err := logTransition(ctx, st, Transition{Incident: id, From: inc.State, To: store.IncidentClosed,
		By: by, At: now.UTC(), Note: note}); err != nil {
		return inc, err
	}
	return st.Incident(ctx, id)
}

func logTransition(ctx context.Context, st interface {
	AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error)
}, t Transition) error {
	content, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if _, err := st.AppendLog(ctx, store.LogEntry{Incident: t.Incident, Kind: store.LogIncident,
		Ref: transitionRef(t.To), At: t.At, Content: content}); err != nil {
		return fmt.Errorf("logging the transition to %s: %w", t.To, err)
	}
	return nil
}

// ParseAttest reads one --attest value, GROUP=yes or GROUP=explanation,
// for one of groups. It returns the group and the attestation.
func ParseAttest(s string, groups []string) (group, value string, err error) {
	g, v, ok := strings.Cut(s, "=")
	g, v = strings.TrimSpace(g), strings.TrimSpace(v)
	if !ok || g == "" {
		return "", "", fmt.Errorf("%q: write GROUP=yes, or GROUP=\"what differed from the authorised use\"", s)
	}
	if v == "" {
		return "", "", fmt.Errorf("%q: the attestation for group %s is empty; write yes, or explain what differed", s, g)
	}
	if !slices.Contains(groups, g) {
		return "", "", fmt.Errorf("%q: no action group %q in the configuration (groups: %s)", s, g, strings.Join(groups, ", "))
	}
	return g, v, nil
}
