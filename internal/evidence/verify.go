// Package evidence proves that the evidence log of breakglass has not been
// changed since it was written: it walks the hash chain (Verify), publishes
// the chain's head outside the store, optionally signed with Ed25519, so that
// deleting the newest entries shows too (heads.go, sign.go), and writes and
// checks the self-contained bundle an incident is exported as (bundle.go).
//
// The chain itself is defined in one place, store.LogEntry.ComputeHash;
// this package only recomputes it.
package evidence

import (
	"context"
	"fmt"

	"breakglass/internal/store"
)

// Problems Verify names; Break.Kind is one of these.
const (
	// BrokenContent: the entry's content does not hash to its
	// ContentSHA256 (the evidence itself was edited).
	BrokenContent = "content-edited"
	// BrokenHeader: the content is intact but the entry's hash does not
	// cover its fields (Seq, incident, kind, ref, time or content hash
	// edited, or its Hash rewritten).
	BrokenHeader = "header-edited"
	// BrokenMissing: one or more Seq numbers are absent (entries deleted).
	BrokenMissing = "entry-missing"
	// BrokenInserted: the entry was hashed under a lower Seq than it has
	// now, or its Seq repeats: entries were inserted before it.
	BrokenInserted = "entry-inserted"
	// BrokenReordered: the entry was hashed under a different Seq that
	// another entry holds now: entries were swapped.
	BrokenReordered = "entries-reordered"
	// BrokenLink: the entry does not link to the one before it (its Prev
	// is not that entry's Hash): something before it was replaced.
	BrokenLink = "prev-mismatch"
	// BrokenTruncated: the log ends before a published head (its newest
	// entries were deleted).
	BrokenTruncated = "tail-truncated"
	// BrokenHead: the entry at a published head's Seq has another hash.
	BrokenHead = "head-mismatch"
)

// Break is the first thing wrong with a chain.
type Break struct {
	Kind string `json:"kind"`
	// Seq is the first broken entry (for a truncated tail: the first entry
	// missing).
	Seq       int64  `json:"seq"`
	Incident  string `json:"incident,omitempty"`
	EntryKind string `json:"entry_kind,omitempty"`
	Ref       string `json:"ref,omitempty"`
	Detail    string `json:"detail"`
}

func (b *Break) Error() string {
	return fmt.Sprintf("evidence log broken at entry %d (%s): %s", b.Seq, b.Kind, b.Detail)
}

// HeadRef is a chain position: the Seq and Hash of an entry, as published.
type HeadRef struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func (h HeadRef) String() string { return fmt.Sprintf("%d:%s", h.Seq, h.Hash) }

// Result is what Verify found.
type Result struct {
	Entries int64 `json:"entries"` // entries read
	// First and Last are the first and last entries read (zero when none).
	First HeadRef `json:"first"`
	Last  HeadRef `json:"last"`
	// HeadsChecked counts the published heads the chain was checked
	// against.
	HeadsChecked int `json:"heads_checked"`
	// Pruned summarises the entries whose content a prune dropped (they
	// verify by their headers); nil when none was (prune.go).
	Pruned *PruneSummary `json:"pruned,omitempty"`
	Break  *Break        `json:"break,omitempty"` // nil: intact
}

// OK reports whether the chain is intact.
func (r Result) OK() bool { return r.Break == nil }

// LogPager is the read the verifier needs (store.EvidenceLog.LogEntries).
type LogPager interface {
	LogEntries(ctx context.Context, after int64, limit int) ([]store.LogEntry, error)
}

// PageSize is how many entries Verify reads at a time.
const PageSize = 500

// Verify walks the whole log from Seq 1, recomputing every content hash and
// entry hash and checking that Seq runs 1, 2, 3, ... and that each entry's
// Prev is the Hash of the one before. heads are published heads (daemon
// log, heads file, a notification): the log must hold each one exactly, so
// that deleting the newest entries is detected too. It stops at the first
// break. The error is for failing to read the log, never for what it holds.
func Verify(ctx context.Context, log LogPager, heads []HeadRef) (Result, error) {
	c := newChecker(1, heads)
	var after int64
	for {
		page, err := log.LogEntries(ctx, after, PageSize)
		if err != nil {
			return c.res, fmt.Errorf("reading the evidence log after entry %d: %w", after, err)
		}
		for _, e := range page {
			if !c.add(e) {
				return c.res, nil
			}
		}
		if len(page) < PageSize {
			break
		}
		last := page[len(page)-1].Seq
		if last <= after { // a store that does not honour after: do not loop forever
			return c.res, fmt.Errorf("reading the evidence log: entries after %d ended at %d", after, last)
		}
		after = last
	}
	c.finish(heads)
	return c.res, nil
}

// VerifySegment checks entries that must form a contiguous part of a chain
// (an exported bundle's segment) the same way, starting wherever the first
// entry says; when start > 0 the first entry must have that Seq. Entries
// whose Content is nil are checked by their recorded ContentSHA256 only
// (a bundle leaves out other incidents' content).
func VerifySegment(entries []store.LogEntry, start int64, heads []HeadRef) Result {
	c := newChecker(start, heads)
	c.headerOnlyOK = true
	if len(entries) > 0 {
		if start <= 0 {
			c.next = entries[0].Seq
		}
		// The segment's anchor, the entry before it, is not in the segment:
		// the first entry's Prev is taken as given. What follows it is
		// bound to the head.
		c.prev = entries[0].Prev
		c.anchored = true
	}
	for _, e := range entries {
		if !c.add(e) {
			return c.res
		}
	}
	c.finish(heads)
	return c.res
}

type checker struct {
	res          Result
	next         int64                    // the Seq the next entry must have
	prev         string                   // Hash of the entry before it
	anchored     bool                     // prev was given, not computed
	headerOnlyOK bool                     // entries without content are allowed
	hashes       map[int64]string         // the hashes read at the heads' Seqs
	recent       map[int64]store.LogEntry // headers of the last entries, to name an insertion
	pruning                               // prune.go
}

func newChecker(start int64, heads []HeadRef) *checker {
	if start <= 0 {
		start = 1
	}
	c := &checker{next: start, hashes: map[int64]string{}, recent: map[int64]store.LogEntry{}}
	for _, h := range heads {
		c.hashes[h.Seq] = "" // remembered when read
	}
	return c
}

func (c *checker) broke(kind string, e store.LogEntry, format string, args ...any) bool {
	c.res.Break = &Break{Kind: kind, Seq: e.Seq, Incident: e.Incident, EntryKind: e.Kind, Ref: e.Ref, Detail: fmt.Sprintf(format, args...)}
	return false
}

// add checks one entry; it returns false once the chain is broken.
func (c *checker) add(e store.LogEntry) bool {
	c.res.Entries++
	if c.res.Entries == 1 {
		c.res.First = HeadRef{e.Seq, e.Hash}
	}
	hashOK := e.ComputeHash() == e.Hash
	switch {
	case e.Seq > c.next:
		missing := fmt.Sprintf("entry %d", c.next)
		if e.Seq > c.next+1 {
			missing = fmt.Sprintf("entries %d to %d", c.next, e.Seq-1)
		}
		// Report the first missing Seq: that is where the chain breaks.
		b := e
		b.Seq, b.Incident, b.Kind, b.Ref = c.next, "", "", ""
		return c.broke(BrokenMissing, b, "%s missing (deleted): entry %d follows entry %d", missing, e.Seq, c.next-1)
	case e.Seq < c.next:
		return c.broke(BrokenInserted, e, "entry %d repeats or goes back after entry %d: an entry was inserted or the log reordered", e.Seq, c.next-1)
	}
	if !prunedEmpty(e) && (!c.headerOnlyOK || e.Content != nil) {
		if got := store.ContentHash(e.Content); got != e.ContentSHA256 {
			return c.broke(BrokenContent, e, "content (%s %q) was changed: it hashes to %s, the entry recorded %s", e.Kind, e.Ref, short(got), short(e.ContentSHA256))
		}
	}
	if !hashOK {
		// Was it hashed under another Seq? That tells insertion and
		// reordering apart from an edited field.
		if orig, ok := hashedAs(e); ok {
			if orig < e.Seq {
				// The intruders sit at orig .. e.Seq-1: name the first.
				first := e
				if in, ok := c.recent[orig]; ok {
					first = in
				} else {
					first.Incident, first.Kind, first.Ref = "", "", ""
				}
				first.Seq = orig
				n := e.Seq - orig
				return c.broke(BrokenInserted, first, "entry %d was inserted (%d inserted in all, entries %d to %d): entry %d was written as entry %d and the rest renumbered", orig, n, orig, e.Seq-1, e.Seq, orig)
			}
			return c.broke(BrokenReordered, e, "entry %d was written as entry %d: entries were reordered (or ones before it deleted and the rest renumbered)", e.Seq, orig)
		}
		return c.broke(BrokenHeader, e, "its hash does not match its fields (seq, incident, kind, ref, time, content hash or prev was edited, or the hash rewritten)")
	}
	if e.Prev != c.prev && !(c.anchored && c.res.Entries == 1) {
		return c.broke(BrokenLink, e, "it does not link to entry %d (prev %s, that entry's hash %s): an entry before it was replaced or inserted", e.Seq-1, short(e.Prev), short(c.prev))
	}
	if !c.prunes(e) {
		return false
	}
	if _, ok := c.hashes[e.Seq]; ok {
		c.hashes[e.Seq] = e.Hash
	}
	e.Content = nil
	c.recent[e.Seq] = e
	delete(c.recent, e.Seq-hashReach)
	c.prev = e.Hash
	c.next = e.Seq + 1
	c.res.Last = HeadRef{e.Seq, e.Hash}
	return true
}

// hashReach is how far hashedAs looks for the Seq an entry was written
// under.
const hashReach = 64

// hashedAs finds a nearby Seq under which e's hash was computed.
func hashedAs(e store.LogEntry) (int64, bool) {
	for d := int64(1); d < hashReach; d++ {
		for _, s := range []int64{e.Seq - d, e.Seq + d} {
			if s < 1 {
				continue
			}
			x := e
			x.Seq = s
			if x.ComputeHash() == e.Hash {
				return s, true
			}
		}
	}
	return 0, false
}

// finish checks the end of the chain against the published heads.
func (c *checker) finish(heads []HeadRef) {
	if c.res.Break != nil {
		return
	}
	if !c.finishPrunes() {
		return
	}
	for _, h := range heads {
		c.res.HeadsChecked++
		switch got := c.hashes[h.Seq]; {
		case h.Seq > c.res.Last.Seq:
			missing := fmt.Sprintf("entry %d", h.Seq)
			if h.Seq > c.res.Last.Seq+1 {
				missing = fmt.Sprintf("entries %d to %d", c.res.Last.Seq+1, h.Seq)
			}
			c.res.Break = &Break{Kind: BrokenTruncated, Seq: c.res.Last.Seq + 1,
				Detail: fmt.Sprintf("the log ends at entry %d but head %d:%s was published: %s deleted", c.res.Last.Seq, h.Seq, short(h.Hash), missing)}
			return
		case got == "":
			// Before the part we read (a segment): nothing to compare.
			c.res.HeadsChecked--
		case got != h.Hash:
			c.res.Break = &Break{Kind: BrokenHead, Seq: h.Seq,
				Detail: fmt.Sprintf("entry %d has hash %s but %s was published for it: the log was rewritten from there on", h.Seq, short(got), short(h.Hash))}
			return
		}
	}
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	if h == "" {
		return `""`
	}
	return h
}

// RefOf is the chain position of an entry.
func RefOf(e store.LogEntry) HeadRef { return HeadRef{e.Seq, e.Hash} }
