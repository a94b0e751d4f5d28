package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// LogKind is the evidence-log kind of a drill's entries: the drill's
// pre-classification when its sign-in is seen, and its report at finish,
// both in the incident of the drill's sign-in.
const LogKind = "drill"

// Finish closes d's window now and records its result, measured to this
// moment, with the attestations; the report is stored with the drill (its
// proof) and appended, once, to the evidence log of the sign-in's incident
// (entry kind drill, ref "<id>/report", the stored report's bytes). Two
// finishes at once: one wins, the other gets store.ErrStateTransition.
// Finishing a finished drill is a usage error, unless its report is not
// yet in its incident's evidence (the append failed after the drill was
// stored): then the retry appends it and returns the stored report; the
// retry's attestations are not used.
func (e Evaluator) Finish(ctx context.Context, st Store, id string, attest map[string]string, now time.Time) (Report, error) {
	d, err := get(ctx, st, id)
	if err != nil {
		return Report{}, err
	}
	if d.State == store.DrillFinished {
		added, err := appendReport(ctx, st, d, now)
		if err != nil {
			return Report{}, err
		}
		if added {
			return e.Evaluate(ctx, st, d, now)
		}
		return Report{}, usagef("drill %s is finished already (%s at %s); see breakglass drill report %s",
			d.ID, d.Result, d.Finished.UTC().Format(time.RFC3339), d.ID)
	}
	// Pre-classify the incident now if serve has not yet (it links every
	// few seconds), so the incident says drill whoever looks first.
	if ok, err := Link(ctx, st, d, now); err != nil {
		return Report{}, err
	} else if ok {
		if d, err = get(ctx, st, id); err != nil {
			return Report{}, err
		}
	}
	prev := d.Updated
	d.State, d.Finished, d.Attest = store.DrillFinished, now.UTC(), attest
	if d.Attest == nil {
		d.Attest = map[string]string{}
	}
	if now.Before(d.At) {
		// Finished before its window opened: nothing could be seen.
		d.At = now.UTC()
		d.Window = 0
	}
	r, err := e.measure(ctx, st, d, now)
	if err != nil {
		return Report{}, err
	}
	if err := e.checklist(ctx, st, d, &r, now); err != nil {
		return Report{}, err
	}
	d.Result, d.FailedStep, d.Reason = r.Result, r.FailedStep, r.Reason
	d.AlertID, d.IncidentID = r.Measured.AlertID, r.IncidentID
	b, err := json.Marshal(r)
	if err != nil {
		return Report{}, fmt.Errorf("drill %s: encoding the report: %w", d.ID, err)
	}
	d.Measured = b
	d.Updated = bump(d, now)
	if err := st.UpdateDrill(ctx, d, prev); err != nil {
		return Report{}, fmt.Errorf("finishing drill %s: %w", d.ID, err)
	}
	if _, err := appendReport(ctx, st, d, now); err != nil {
		return r, err
	}
	return r, nil
}

// ReportRef is the evidence-log ref of a finished drill's report in its
// incident's log.
func ReportRef(drillID string) string { return drillID + "/report" }

// appendReport adds finished d's stored report to the evidence log of its
// incident unless it is there already, and reports whether it added it. A
// drill without an incident or a stored report has nothing to add.
func appendReport(ctx context.Context, st Store, d store.Drill, now time.Time) (bool, error) {
	if d.IncidentID == "" || len(d.Measured) == 0 {
		return false, nil
	}
	_, added, err := st.AppendLogOnce(ctx, store.LogEntry{Incident: d.IncidentID, Kind: LogKind, Ref: ReportRef(d.ID), At: now.UTC(), Content: d.Measured})
	if err != nil {
		// The drill's own record holds the report; the evidence-log copy
		// failing is said, not hidden, and a retried finish adds it.
		return false, fmt.Errorf("drill %s is finished (%s), but its report could not be added to incident %s's evidence (run drill finish %s again to add it): %w",
			d.ID, d.Result, d.IncidentID, d.ID, err)
	}
	return added, nil
}

// Classification is the evidence-log entry that pre-classifies the
// incident of a drill's sign-in as a drill: a suggestion, which a reviewer
// confirms with incidents review --as drill.
type Classification struct {
	SuggestedClass string    `json:"suggested_class"`
	Drill          string    `json:"drill"`
	Account        string    `json:"account"`
	AlertID        string    `json:"alert_id"`
	PlannedBy      string    `json:"planned_by,omitempty"`
	Note           string    `json:"note,omitempty"`
	At             time.Time `json:"at"`
	Confirm        string    `json:"confirm"`
}

// Suggested returns the drill pre-classification among an incident's
// evidence-log entries (the first drill entry that carries one), or nil:
// what incidents show, the API and the dashboard show before a review.
func Suggested(log []store.LogEntry) *Classification {
	for _, e := range log {
		var c Classification
		if e.Kind == LogKind && json.Unmarshal(e.Content, &c) == nil && c.SuggestedClass != "" {
			return &c
		}
	}
	return nil
}

// NotTheDrill returns the ids of the alerts, among an incident's, that the
// drill does not explain: neither its sign-in nor labelled as its. A
// reviewer confirming the incident as a drill classifies those too, so
// they are named before the review.
func (c *Classification) NotTheDrill(alerts []alert.Alert) []string {
	var out []string
	for _, a := range alerts {
		if a.ID != c.AlertID && a.Labels[alert.LabelDrill] != c.Drill {
			out = append(out, a.ID)
		}
	}
	return out
}

// Link records, once, that d's sign-in was seen: the drill learns its
// alert and incident, and the incident's evidence gets the drill
// pre-classification. It reports whether it linked anything; an incident
// not built yet is retried on the next call.
//
// A drill finished before the incident builder attached its sign-in (it
// knows its alert, not its incident) is linked too, and its stored report
// then goes into the incident's evidence, as Finish would have put it.
func Link(ctx context.Context, st Store, d store.Drill, now time.Time) (bool, error) {
	if d.IncidentID != "" || (d.State == store.DrillFinished && d.AlertID == "") {
		return false, nil
	}
	alertID := d.AlertID // a finished drill's alert, as measured at finish
	if d.State != store.DrillFinished {
		a, found, err := signIn(ctx, st, d, End(d))
		if err != nil || !found {
			return false, err
		}
		alertID = a.ID
	}
	inc, err := st.IncidentOf(ctx, alertID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the incident of %s: %w", alertID, err)
	}
	// The pre-classification is logged first and once (AppendLogOnce), the
	// link stored after it: a crash or a failed append in between leaves
	// the drill unlinked, so the next round does both again, and never a
	// linked drill whose incident lacks its entry.
	c := Classification{SuggestedClass: store.ClassDrill, Drill: d.ID, Account: firstNonEmpty(d.AccountUPN, d.AccountID),
		AlertID: alertID, PlannedBy: d.By, Note: d.Note, At: now.UTC(),
		Confirm: "breakglass incidents review " + inc.ID + " --as drill --by NAME --note TEXT"}
	b, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	if _, _, err := st.AppendLogOnce(ctx, store.LogEntry{Incident: inc.ID, Kind: LogKind, Ref: d.ID, At: now.UTC(), Content: b}); err != nil {
		return false, fmt.Errorf("pre-classifying incident %s as drill %s: %w", inc.ID, d.ID, err)
	}
	prev := d.Updated
	d.AlertID, d.IncidentID, d.Updated = alertID, inc.ID, bump(d, now)
	if err := st.UpdateDrill(ctx, d, prev); err != nil {
		if errors.Is(err, store.ErrStateTransition) {
			return false, nil // changed meanwhile (finished, or linked by another process)
		}
		return false, fmt.Errorf("linking drill %s: %w", d.ID, err)
	}
	if d.State == store.DrillFinished {
		if _, err := appendReport(ctx, st, d, now); err != nil {
			return true, err
		}
	}
	return true, nil
}
