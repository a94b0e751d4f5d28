package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"breakglass/internal/store"
)

// Mismatch is an incident whose record in the store (the incidents table:
// state, review, alerts) disagrees with what its evidence log recorded.
// The table can be edited by anyone with the file and the hash chain does
// not cover it, so the log is the truth and a difference means the store
// was changed (or a transition was never logged).
type Mismatch struct {
	Incident string
	Field    string // state, review, opened, alerts
	Detail   string
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("incident %s: %s: %s", m.Incident, m.Field, m.Detail)
}

// stateRank orders the lifecycle: an incident only moves forward, so the
// state its log implies is the furthest one logged (two people acting at
// once may log their transitions out of order).
var stateRank = map[string]int{store.IncidentOpen: 1, store.IncidentAcknowledged: 2, store.IncidentReviewed: 3, store.IncidentClosed: 4}

// CheckLog compares inc, as the store holds it, with its evidence log (in
// Seq order, as IncidentLog returns it): the opening, the furthest
// transition against the state, the last review against the review, and
// that every alert the log holds is still attached. It returns the first
// difference, nil when they agree.
func CheckLog(inc store.Incident, log []store.LogEntry) *Mismatch {
	if done, m := checkPrune(inc, log); done {
		return m
	}
	bad := func(field, format string, args ...any) *Mismatch {
		return &Mismatch{Incident: inc.ID, Field: field, Detail: fmt.Sprintf(format, args...)}
	}
	var (
		opened     *Transition
		furthest   string
		lastReview *store.Review
		reviewSeq  int64
	)
	attached := map[string]bool{}
	for _, id := range inc.Alerts {
		attached[id] = true
	}
	for _, e := range log {
		if e.Incident != inc.ID {
			continue
		}
		if e.Kind == store.LogAlert && !attached[e.Ref] {
			return bad("alerts", "the evidence log holds alert %s (entry %d), but the store no longer lists it in the incident: the store was changed", e.Ref, e.Seq)
		}
		if contentPruned(e) {
			continue // its header is all there is (prune.go)
		}
		if e.Kind == store.LogAlert && inc.Kind == store.IncidentAccount {
			var a struct {
				AccountID  string `json:"account_id"`
				AccountUPN string `json:"account_upn"`
			}
			if json.Unmarshal(e.Content, &a) == nil &&
				((a.AccountID != "" && inc.AccountID != "" && !strings.EqualFold(a.AccountID, inc.AccountID)) ||
					(a.AccountID == "" && a.AccountUPN != "" && inc.AccountUPN != "" && !strings.EqualFold(a.AccountUPN, inc.AccountUPN))) {
				return bad("account", "the store says the account is %s %s, its alert %s (entry %d) is about %s %s: the store was changed",
					inc.AccountID, inc.AccountUPN, e.Ref, e.Seq, a.AccountID, a.AccountUPN)
			}
		}
		if e.Kind != store.LogIncident || !strings.HasPrefix(e.Ref, "state:") {
			continue
		}
		var t Transition
		if err := json.Unmarshal(e.Content, &t); err != nil {
			return bad("state", "entry %d (%s) is not a transition: %v", e.Seq, e.Ref, err)
		}
		if stateRank[t.To] == 0 || transitionRef(t.To) != e.Ref {
			return bad("state", "entry %d (%s) records a move to %q", e.Seq, e.Ref, t.To)
		}
		if t.To == store.IncidentOpen && opened == nil {
			opened = &t
		}
		if stateRank[t.To] > stateRank[furthest] {
			furthest = t.To
		}
		if t.To == store.IncidentReviewed {
			if t.Review == nil {
				return bad("review", "entry %d records a review without its content", e.Seq)
			}
			lastReview, reviewSeq = t.Review, e.Seq
		}
	}
	if opened == nil {
		return bad("opened", "the evidence log has no entry opening the incident (serve writes it when it attaches the first alert; if serve is not running, start it once, then verify again)")
	}
	if !opened.At.Equal(inc.Opened) || (opened.Key != "" && opened.Key != inc.Key) || (opened.Kind != "" && opened.Kind != inc.Kind) || opened.Previous != inc.Previous {
		return bad("opened", "the store says opened %s (key %q, kind %s, previous %q), the evidence log %s (key %q, kind %s, previous %q): the store was changed",
			fmtTime(inc.Opened), inc.Key, inc.Kind, inc.Previous, fmtTime(opened.At), opened.Key, opened.Kind, opened.Previous)
	}
	if furthest != inc.State {
		return bad("state", "the store says %s, the evidence log's transitions end at %s: the store was changed (or the change never logged)", inc.State, furthest)
	}
	switch {
	case lastReview == nil && inc.Review != nil:
		return bad("review", "the store holds a review (%s by %s) the evidence log never recorded: the store was changed (or the change never logged)", inc.Review.Class, inc.Review.By)
	case lastReview != nil && inc.Review == nil:
		return bad("review", "the evidence log records a review (%s by %s, entry %d) the store no longer holds: the store was changed (or the change never logged)", lastReview.Class, lastReview.By, reviewSeq)
	case lastReview != nil && !sameReview(*lastReview, *inc.Review):
		return bad("review", "the store says %s by %s (%q), the evidence log (entry %d) %s by %s (%q): the store was changed (or the change never logged); the log's review stands",
			inc.Review.Class, inc.Review.By, inc.Review.Note, reviewSeq, lastReview.Class, lastReview.By, lastReview.Note)
	}
	return nil
}

func gone(id string, seq int64) *Mismatch {
	return &Mismatch{Incident: id, Field: "incident", Detail: fmt.Sprintf("the evidence log holds it (entry %d) but the store no longer does: it was deleted from the store", seq)}
}

func sameReview(a, b store.Review) bool {
	return a.Class == b.Class && a.By == b.By && a.Note == b.Note && a.At.Equal(b.At) &&
		maps.Equal(nilIfEmpty(a.Attest), nilIfEmpty(b.Attest))
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// CheckStore is what CheckStoreLog reads (the store).
type CheckStore interface {
	Incident(ctx context.Context, id string) (store.Incident, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
	LogEntries(ctx context.Context, after int64, limit int) ([]store.LogEntry, error)
}

// CheckStoreLog runs CheckLog for incident id, or for every incident when
// id is "", and returns the first mismatch (oldest incident first). The
// error is for failing to read the store.
func CheckStoreLog(ctx context.Context, st CheckStore, id string) (*Mismatch, error) {
	var incs []store.Incident
	if id != "" {
		inc, err := st.Incident(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			if log, lerr := st.IncidentLog(ctx, id); lerr == nil && len(log) > 0 {
				return gone(id, log[0].Seq), nil
			}
		}
		if err != nil {
			return nil, err
		}
		incs = []store.Incident{inc}
	} else {
		all, err := st.Incidents(ctx, store.IncidentFilter{})
		if err != nil {
			return nil, fmt.Errorf("listing incidents: %w", err)
		}
		incs = all
		slices.Reverse(incs) // oldest first
		// An incident deleted from the store (its row and its alerts)
		// leaves its opening in the log.
		known := map[string]bool{}
		for _, inc := range incs {
			known[inc.ID] = true
		}
		var (
			after   int64
			missing *Mismatch
			first   string
		)
		for {
			page, err := st.LogEntries(ctx, after, 500)
			if err != nil {
				return nil, fmt.Errorf("reading the evidence log after entry %d: %w", after, err)
			}
			for _, e := range page {
				if e.Incident != "" && !known[e.Incident] && e.Kind == store.LogIncident && e.Ref == transitionRef(store.IncidentOpen) && missing == nil {
					missing, first = gone(e.Incident, e.Seq), e.Incident
				}
				if missing != nil && e.Incident == first && e.Kind == store.LogPrune {
					// Pruned, but a prune keeps a tombstone: deleting it
					// hides the incident from accounts status.
					missing.Detail = fmt.Sprintf("the evidence log holds it and its prune (entry %d), but the store no longer holds its tombstone: it was deleted from the store", e.Seq)
				}
			}
			if len(page) < 500 || page[len(page)-1].Seq <= after {
				break
			}
			after = page[len(page)-1].Seq
		}
		if missing != nil {
			return missing, nil
		}
	}
	for _, inc := range incs {
		log, err := st.IncidentLog(ctx, inc.ID)
		if err != nil {
			return nil, fmt.Errorf("reading the evidence of incident %s: %w", inc.ID, err)
		}
		if m := CheckLog(inc, log); m != nil {
			return m, nil
		}
	}
	return nil, nil
}
