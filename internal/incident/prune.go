package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/store"
)

// Pruning (issue 10 item 8): an incident and its evidence are kept for
// incidents.retention after its last activity, and pruned only once it is
// closed and either that retention has passed or it was exported (and the
// operator asks for exported incidents to go). The store does the prune
// (store.IncidentPruning): the evidence log keeps every header, so the
// chain still verifies, a prune entry records what went and why, and a
// tombstone keeps the incident's account, times and classification.

// PruneStore is what planning and running a prune read and write.
type PruneStore interface {
	CheckStore // Incident, Incidents, IncidentLog, LogEntries
	IncidentChanges(ctx context.Context, id string) ([]store.IncidentChange, error)
	store.IncidentPruning
}

// BrokenError is returned by Prune when the evidence does not verify:
// dropping content would destroy the proof of what was changed, so
// nothing is pruned until the break is explained.
type BrokenError struct{ Detail string }

func (e *BrokenError) Error() string {
	return "not pruning: " + e.Detail + "; run 'breakglass evidence verify' and keep the store as it is"
}

// Prune plans a prune and, unless dryRun, runs it. Before anything is
// pruned the whole chain is verified against heads (the published heads)
// and each incident to prune is checked against its log (CheckStoreLog):
// a break is a *BrokenError and nothing is pruned. A dry run only plans.
func Prune(ctx context.Context, st PruneStore, o PruneOptions, heads []evidence.HeadRef, dryRun bool) ([]PruneItem, error) {
	items, err := PlanPrune(ctx, st, o)
	if err != nil || dryRun {
		return items, err
	}
	due := false
	for _, it := range items {
		due = due || it.Reason != ""
	}
	if !due {
		return items, nil
	}
	res, err := evidence.Verify(ctx, st, heads)
	if err != nil {
		return items, err
	}
	if !res.OK() {
		return items, &BrokenError{Detail: res.Break.Error()}
	}
	for _, it := range items {
		if it.Reason == "" {
			continue
		}
		m, err := CheckStoreLog(ctx, st, it.Incident)
		if err != nil {
			return items, err
		}
		if m != nil {
			return items, &BrokenError{Detail: m.Error()}
		}
	}
	return RunPrune(ctx, st, items, o)
}

// PruneOptions say what a prune run may prune.
type PruneOptions struct {
	// Retention is incidents.retention: a closed incident whose last
	// activity is older is pruned. It must be positive.
	Retention time.Duration
	// Exported also prunes closed incidents that were exported (with
	// every entry of their evidence in the bundle) before they expire.
	Exported bool
	Now      time.Time
}

// PruneItem is one closed incident a prune run considered: pruned (or, in
// a dry run, to be pruned) when Reason is set, else kept for Held.
type PruneItem struct {
	Incident   string `json:"incident"`
	Kind       string `json:"kind"`
	AccountID  string `json:"account_id,omitempty"`
	AccountUPN string `json:"account_upn,omitempty"`
	// Class is the review's classification.
	Class  string    `json:"classification,omitempty"`
	Closed time.Time `json:"closed"`
	// LastActivity is the newest of its close, its last event, its last
	// store update and its last evidence entry; Expires is LastActivity
	// plus the retention.
	LastActivity time.Time `json:"last_activity"`
	Expires      time.Time `json:"expires"`
	// Reason is store.PruneExpired or store.PruneExported; "" when kept.
	Reason string `json:"reason,omitempty"`
	// Bundle is the SHA-256 of the export it is pruned after, and
	// Exported when that bundle was written.
	Bundle   string     `json:"bundle_sha256,omitempty"`
	Exported *time.Time `json:"exported,omitempty"`
	// Held says why an incident that is due is kept (an incident that
	// follows it is still open, it gained evidence after its export, ...).
	Held string `json:"held,omitempty"`
	// Entries is how many evidence entries a prune emptied and Seq its
	// prune entry; zero in a dry run.
	Entries int   `json:"entries,omitempty"`
	Seq     int64 `json:"prune_seq,omitempty"`
	// Done is true once pruned (never in a dry run).
	Done bool `json:"pruned"`
}

// PlanPrune lists the closed, not yet pruned incidents that are due: the
// expired ones, and with o.Exported those exported with all their
// evidence. Each is either to be pruned (Reason set) or held (Held says
// why). Closed incidents that are not due are left out; open,
// acknowledged and reviewed ones are never considered. Oldest first.
func PlanPrune(ctx context.Context, st PruneStore, o PruneOptions) ([]PruneItem, error) {
	if o.Retention <= 0 {
		return nil, fmt.Errorf("prune: retention %s must be positive", o.Retention)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	all, err := st.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	// An incident that a still open one follows stays: its review may
	// need what the earlier use left.
	followedBy := map[string]string{}
	for _, inc := range all {
		if inc.State != store.IncidentClosed && inc.Previous != "" {
			followedBy[inc.Previous] = inc.ID
		}
	}
	var out []PruneItem
	for i := len(all) - 1; i >= 0; i-- { // oldest first
		inc := all[i]
		if inc.State != store.IncidentClosed || inc.Pruned != nil {
			continue
		}
		it, due, err := planOne(ctx, st, inc, o)
		if err != nil {
			return nil, err
		}
		if !due {
			continue
		}
		if next, ok := followedBy[inc.ID]; ok && it.Held == "" {
			it.Reason, it.Bundle, it.Exported = "", "", nil
			it.Held = fmt.Sprintf("incident %s follows it and is not closed yet", next)
		}
		out = append(out, it)
	}
	return out, nil
}

func planOne(ctx context.Context, st PruneStore, inc store.Incident, o PruneOptions) (PruneItem, bool, error) {
	it := PruneItem{Incident: inc.ID, Kind: inc.Kind, AccountID: inc.AccountID, AccountUPN: inc.AccountUPN}
	if inc.Review != nil {
		it.Class = inc.Review.Class
	}
	changes, err := st.IncidentChanges(ctx, inc.ID)
	if err != nil {
		return it, false, fmt.Errorf("reading the transitions of incident %s: %w", inc.ID, err)
	}
	it.Closed = inc.Updated
	for _, c := range changes {
		if c.To == store.IncidentClosed {
			it.Closed = c.At
		}
	}
	log, err := st.IncidentLog(ctx, inc.ID)
	if err != nil {
		return it, false, fmt.Errorf("reading the evidence of incident %s: %w", inc.ID, err)
	}
	last := latest(it.Closed, inc.Updated, inc.LastEvent, inc.Opened)
	var lastSeq int64
	for _, e := range log {
		last = latest(last, e.At)
		lastSeq = max(lastSeq, e.Seq)
	}
	it.LastActivity = last.UTC()
	it.Closed = it.Closed.UTC()
	it.Expires = it.LastActivity.Add(o.Retention)
	if !o.Now.Before(it.Expires) {
		it.Reason = store.PruneExpired
		return it, true, nil
	}
	xs, err := st.IncidentExports(ctx, inc.ID)
	if err != nil {
		return it, false, fmt.Errorf("reading the exports of incident %s: %w", inc.ID, err)
	}
	if len(xs) == 0 || !o.Exported {
		return it, false, nil
	}
	var stale *store.IncidentExport
	for i := len(xs) - 1; i >= 0; i-- {
		x := xs[i]
		if x.LastSeq >= lastSeq {
			at := x.At.UTC()
			it.Reason, it.Bundle, it.Exported = store.PruneExported, x.SHA256, &at
			return it, true, nil
		}
		if stale == nil {
			stale = &x
		}
	}
	it.Held = fmt.Sprintf("its last export (%s, sha256 %s) ends at entry %d, but its evidence goes on to entry %d: export it again, then prune",
		stale.At.UTC().Format(time.RFC3339), short(stale.SHA256), stale.LastSeq, lastSeq)
	return it, true, nil
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// RunPrune prunes the items PlanPrune returned that have a Reason, in
// order, and fills in what each prune did. An item the store refuses
// (store.ErrNotPrunable: it changed since the plan) becomes held; any
// other error stops the run and is returned with the items so far.
func RunPrune(ctx context.Context, st PruneStore, items []PruneItem, o PruneOptions) ([]PruneItem, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	for i := range items {
		it := &items[i]
		if it.Reason == "" {
			continue
		}
		req := store.PruneRequest{Incident: it.Incident, Reason: it.Reason, Bundle: it.Bundle, At: o.Now}
		if it.Reason == store.PruneExpired {
			req.Retention, req.Expired = o.Retention, it.Expires
		}
		tomb, _, err := st.PruneIncident(ctx, req)
		if errors.Is(err, store.ErrNotPrunable) {
			it.Reason, it.Held = "", strings.TrimPrefix(errText(err), store.ErrNotPrunable.Error()+": ")
			continue
		}
		if err != nil {
			return items, fmt.Errorf("pruning incident %s: %w", it.Incident, err)
		}
		it.Done, it.Entries, it.Seq = true, tomb.Entries, tomb.Seq
	}
	return items, nil
}

// errText is the part of a store error after its "sqlite PATH: prune
// incident ID: " prefix.
func errText(err error) string {
	s := err.Error()
	if i := strings.Index(s, store.ErrNotPrunable.Error()); i >= 0 {
		return s[i:]
	}
	return s
}

// contentPruned reports whether a prune dropped e's content.
func contentPruned(e store.LogEntry) bool { return !e.Pruned.IsZero() && len(e.Content) == 0 }

// checkPrune is CheckLog for what pruning changes. For a pruned incident
// (its tombstone) it compares the tombstone with the incident's prune
// entry, whose content the chain covers, and checks that its alerts are
// still attached; done is then true. For an incident the store does not
// mark pruned, a prune entry in its log is a mismatch (done true);
// otherwise done is false and CheckLog goes on.
func checkPrune(inc store.Incident, log []store.LogEntry) (done bool, m *Mismatch) {
	bad := func(field, format string, args ...any) *Mismatch {
		return &Mismatch{Incident: inc.ID, Field: field, Detail: fmt.Sprintf(format, args...)}
	}
	var pe *store.LogEntry
	for i := range log {
		if log[i].Incident == inc.ID && log[i].Kind == store.LogPrune {
			pe = &log[i]
		}
	}
	if inc.Pruned == nil {
		if pe != nil {
			return true, bad("pruned", "the evidence log records its prune (entry %d), but the store holds it as %s, not pruned: the store was changed", pe.Seq, inc.State)
		}
		return false, nil
	}
	p := inc.Pruned
	if pe == nil {
		return true, bad("pruned", "the store says it was pruned at %s (%s), but the evidence log has no prune entry for it: the store was changed",
			fmtTime(p.At), p.Reason)
	}
	var rec store.PruneRecord
	if err := json.Unmarshal(pe.Content, &rec); err != nil {
		return true, bad("pruned", "its prune entry %d cannot be read: %v", pe.Seq, err)
	}
	class, by, at := "", "", time.Time{}
	if inc.Review != nil {
		class, by, at = inc.Review.Class, inc.Review.By, inc.Review.At
	}
	var recAt time.Time
	if rec.ReviewedAt != nil {
		recAt = *rec.ReviewedAt
	}
	switch {
	case p.Seq != pe.Seq || p.Reason != rec.Reason || p.Bundle != rec.Bundle || p.Entries != rec.Entries || !p.At.Equal(rec.At) || !p.Closed.Equal(rec.Closed):
		return true, bad("pruned", "the store's tombstone (pruned %s, %s, %d entries, entry %d) disagrees with the prune entry %d (pruned %s, %s, %d entries): the store was changed",
			fmtTime(p.At), p.Reason, p.Entries, p.Seq, pe.Seq, fmtTime(rec.At), rec.Reason, rec.Entries)
	case inc.State != rec.State || !inc.Opened.Equal(rec.Opened) || inc.Key != rec.Key || inc.Kind != rec.Kind || inc.Previous != rec.Previous:
		return true, bad("opened", "the store says %s, opened %s (key %q, kind %s, previous %q), the prune entry %d %s, opened %s (key %q, kind %s, previous %q): the store was changed",
			inc.State, fmtTime(inc.Opened), inc.Key, inc.Kind, inc.Previous, pe.Seq, rec.State, fmtTime(rec.Opened), rec.Key, rec.Kind, rec.Previous)
	case !strings.EqualFold(inc.AccountID, rec.AccountID) || !strings.EqualFold(inc.AccountUPN, rec.AccountUPN):
		return true, bad("account", "the store says the account is %s %s, the prune entry %d %s %s: the store was changed",
			inc.AccountID, inc.AccountUPN, pe.Seq, rec.AccountID, rec.AccountUPN)
	case class != rec.Class || by != rec.ReviewedBy || !at.Equal(recAt):
		return true, bad("review", "the store says %q by %q, the prune entry %d recorded %q by %q: the store was changed; the log's classification stands",
			class, by, pe.Seq, rec.Class, rec.ReviewedBy)
	}
	attached := map[string]bool{}
	for _, id := range inc.Alerts {
		attached[id] = true
	}
	for _, e := range log {
		if e.Incident == inc.ID && e.Kind == store.LogAlert && !attached[e.Ref] {
			return true, bad("alerts", "the evidence log holds alert %s (entry %d), but the store no longer lists it in the incident: the store was changed", e.Ref, e.Seq)
		}
	}
	return true, nil
}
