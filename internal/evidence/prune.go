package evidence

import (
	"encoding/json"
	"fmt"
	"time"

	"breakglass/internal/store"
)

// After a prune (store.IncidentPruning) an incident's entries keep their
// headers and lose their content. Verify accepts such an entry on its
// header alone (the header holds the content's SHA-256, and the chain
// holds the header), but only when a prune entry of the same incident
// follows it and records at least as many dropped contents: content that
// vanished without a prune entry is evidence deleted, and is reported as
// BrokenPruned. Content put back is checked against its recorded hash like
// any other.

// BrokenPruned: an entry's content was removed without a prune entry
// recording it (or a prune entry is unreadable, or lost its own content).
const BrokenPruned = "content-removed"

// PruneSummary is what Verify saw of prunes.
type PruneSummary struct {
	// Entries counts entries whose content was dropped by a prune.
	Entries int64 `json:"entries"`
	// Incidents counts prune entries (one per pruned incident).
	Incidents int `json:"incidents"`
	// First and Last are the earliest and latest prune times.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func (p *PruneSummary) saw(t time.Time) {
	if p.First.IsZero() || t.Before(p.First) {
		p.First = t
	}
	if t.After(p.Last) {
		p.Last = t
	}
}

// pruning is the checker's prune accounting.
type pruning struct {
	pending      map[string]int            // incident → pruned entries not yet covered by a prune entry
	pendingFirst map[string]store.LogEntry // the first of them (header only)
}

// prunedEmpty reports whether e's content was dropped by a prune: such an
// entry is checked by its header alone.
func prunedEmpty(e store.LogEntry) bool { return !e.Pruned.IsZero() && len(e.Content) == 0 }

func (c *checker) summary() *PruneSummary {
	if c.res.Pruned == nil {
		c.res.Pruned = &PruneSummary{}
	}
	return c.res.Pruned
}

// prunes does the prune accounting for e, whose hash and link are good; it
// returns false once the chain is broken.
func (c *checker) prunes(e store.LogEntry) bool {
	if !e.Pruned.IsZero() {
		switch {
		case e.Kind == store.LogPrune:
			return c.broke(BrokenPruned, e, "the content of a prune entry was removed: prune entries are never pruned")
		case e.Incident == "":
			return c.broke(BrokenPruned, e, "the content of %s %q was removed, but it belongs to no incident: only an incident's entries are pruned", e.Kind, e.Ref)
		}
		if len(e.Content) == 0 {
			if c.pending == nil {
				c.pending, c.pendingFirst = map[string]int{}, map[string]store.LogEntry{}
			}
			if c.pending[e.Incident] == 0 {
				h := e
				h.Content = nil
				c.pendingFirst[e.Incident] = h
			}
			c.pending[e.Incident]++
			s := c.summary()
			s.Entries++
			s.saw(e.Pruned)
		}
	}
	if e.Kind != store.LogPrune || e.Content == nil {
		// A segment leaves out other incidents' content, their prune
		// entries' too.
		return true
	}
	var rec store.PruneRecord
	if err := json.Unmarshal(e.Content, &rec); err != nil {
		return c.broke(BrokenPruned, e, "the prune entry cannot be read: %v", err)
	}
	if rec.Incident != e.Incident {
		return c.broke(BrokenPruned, e, "the prune entry of incident %q says it pruned incident %q", e.Incident, rec.Incident)
	}
	if n := c.pending[e.Incident]; n > rec.Entries {
		first := c.pendingFirst[e.Incident]
		return c.broke(BrokenPruned, first, "%d entries of incident %s have no content, but its prune entry (entry %d) records %d dropped: the content of entry %d or a later one was deleted",
			n, e.Incident, e.Seq, rec.Entries, first.Seq)
	}
	delete(c.pending, e.Incident)
	delete(c.pendingFirst, e.Incident)
	s := c.summary()
	s.Incidents++
	s.saw(rec.At.UTC())
	return true
}

// finishPrunes reports entries whose content was removed and that no
// prune entry covers; false when there is one.
func (c *checker) finishPrunes() bool {
	var first *store.LogEntry
	for _, e := range c.pendingFirst {
		if first == nil || e.Seq < first.Seq {
			e := e
			first = &e
		}
	}
	if first == nil {
		return true
	}
	c.broke(BrokenPruned, *first, "the content of %s %q (incident %s) was removed and no prune entry records it: the evidence was deleted",
		first.Kind, first.Ref, first.Incident)
	return false
}

// String is what verify prints about prunes.
func (p *PruneSummary) String() string {
	if p == nil || (p.Entries == 0 && p.Incidents == 0) {
		return "none"
	}
	span := p.First.UTC().Format(time.DateOnly)
	if l := p.Last.UTC().Format(time.DateOnly); l != span {
		span += " to " + l
	}
	inc := "incidents"
	if p.Incidents == 1 {
		inc = "incident"
	}
	return fmt.Sprintf("%d %s pruned (%s), %d entries kept as headers only: verified by their recorded hashes", p.Incidents, inc, span, p.Entries)
}
