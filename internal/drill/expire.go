package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/store"
)

// Source is the source of the alerts package drill raises (ExpiredAlert).
const Source = "drill"

// Grace is how long after a drill's window ends a sign-in may still
// arrive: Entra's logs lag, so "not detected" waits drill.alert_within
// (the bound the drill allows from the sign-in to its alert).
func (e Evaluator) Grace() time.Duration { return e.Bounds.AlertWithin }

// Settled reports whether d's window and its grace have passed at now: a
// sign-in not seen by then counts as not detected.
func (e Evaluator) Settled(d store.Drill, now time.Time) bool {
	return !now.Before(End(d).Add(e.Grace()))
}

// waiting is the reason of a drill whose window ended with no sign-in
// yet, while its grace runs.
func (e Evaluator) waiting(d store.Drill) string {
	return fmt.Sprintf("the window closed at %s UTC with no sign-in of %s seen yet; Entra's logs can lag, so breakglass waits until %s UTC (drill.alert_within, %s) before calling it not detected",
		End(d).UTC().Format("2006-01-02 15:04:05"), firstNonEmpty(d.AccountUPN, d.AccountID),
		End(d).Add(e.Grace()).UTC().Format("2006-01-02 15:04:05"), e.Grace())
}

// Expire finishes d as failed "not detected" when its window and grace
// have passed with no sign-in: the drill a forgotten finish would leave
// running, telling nobody, is the one that found the monitoring broken.
// It reports whether it finished d; a drill with a sign-in, still in its
// window or grace, or finished meanwhile (by drill finish or another
// replica) is left as it is. The alert to raise is ExpiredAlert's.
func (e Evaluator) Expire(ctx context.Context, st Store, d store.Drill, now time.Time) (Report, bool, error) {
	if d.State == store.DrillFinished || d.AlertID != "" || !e.Settled(d, now) {
		return Report{}, false, nil // finished, linked to its sign-in, or still waiting
	}
	if _, found, err := signIn(ctx, st, d, End(d)); err != nil || found {
		return Report{}, false, err
	}
	r, err := e.Finish(ctx, st, d.ID, nil, now)
	if err != nil {
		if errors.Is(err, store.ErrStateTransition) || errors.Is(err, ErrUsage) {
			return Report{}, false, nil // finished meanwhile
		}
		return r, false, err
	}
	return r, true, nil
}

// ExpiredAlert is the alert serve raises for a drill Expire finished:
// people must hear that a drill found no sign-in, as they would hear
// from the drill's own alert. One drill, one alert (its id is the
// drill's).
func ExpiredAlert(d store.Drill, r Report, now time.Time) (alert.Alert, store.Evidence) {
	acct := firstNonEmpty(d.AccountUPN, d.AccountID)
	eventID := "drill:" + detect.RuleDrillFailed + ":" + d.ID
	never := ""
	if d.State == store.DrillPlanned {
		never = " It was announced but never started (breakglass drill start)."
	}
	a := alert.Alert{
		ID: alert.Key(eventID, detect.RuleDrillFailed), Rule: detect.RuleDrillFailed, Severity: alert.Sev2,
		Title:     fmt.Sprintf("Break-glass drill FAILED for %s: its sign-in was not detected (drill %s)", acct, d.ID),
		AccountID: d.AccountID, AccountUPN: d.AccountUPN,
		EventID: eventID, EventTime: End(d).UTC(), Category: schedule.Category, Source: Source, Detected: now.UTC(),
		Annotations: map[string]string{
			"description": r.Reason + "." + never + " This is what a drill exists to find: if the account did sign in, breakglass would not have alerted on a real emergency either. See breakglass drill report " + d.ID + ".",
			"drill":       d.ID,
		},
	}
	b, _ := json.Marshal(r)
	return a, store.Evidence{EventID: eventID, Category: schedule.Category, Source: Source, Raw: b}
}
