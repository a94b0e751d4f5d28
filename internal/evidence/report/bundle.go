package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/incident"
	"breakglass/internal/store"
)

// The reports inside an export bundle.
const (
	BundleMarkdown = "report.md"
	BundleHTML     = "report.html"
	BundleJSON     = "report.json"
)

// CheckBundle checks the reports of an export bundle, which the hash chain
// does not cover: report.md and report.html must be exactly what
// report.json renders to, and report.json's incident, state, alerts and
// review must be the ones the chain segment (entries) records for it.
// Without this, a report rewritten (a misuse review made a drill) with
// the manifest updated verified clean. It returns the file that is wrong
// and why, "" when the reports agree with the chain.
func CheckBundle(files map[string][]byte, incidentID string, entries []store.LogEntry) (file, detail string) {
	raw, ok := files[BundleJSON]
	if !ok {
		for _, n := range []string{BundleMarkdown, BundleHTML} {
			if _, ok := files[n]; ok {
				return BundleJSON, "missing, so " + n + " cannot be checked against the chain"
			}
		}
		return "", ""
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return BundleJSON, "not a report: " + err.Error()
	}
	for name, render := range map[string]func(*bytes.Buffer, *Report) error{
		BundleJSON:     func(b *bytes.Buffer, r *Report) error { return JSON(b, r) },
		BundleMarkdown: func(b *bytes.Buffer, r *Report) error { return Markdown(b, r) },
		BundleHTML:     func(b *bytes.Buffer, r *Report) error { return HTML(b, r) },
	} {
		got, ok := files[name]
		if !ok {
			return name, "missing from the bundle"
		}
		var b bytes.Buffer
		if err := render(&b, &r); err != nil {
			return name, "cannot be rendered again: " + err.Error()
		}
		if !bytes.Equal(b.Bytes(), got) {
			return name, "is not what " + BundleJSON + " renders to: it was edited"
		}
	}
	if r.Incident.ID != incidentID {
		return BundleJSON, fmt.Sprintf("is the report of incident %q, the chain is of %s", r.Incident.ID, incidentID)
	}
	var (
		furthest string
		review   *store.Review
		logged   []string
	)
	rank := map[string]int{store.IncidentOpen: 1, store.IncidentAcknowledged: 2, store.IncidentReviewed: 3, store.IncidentClosed: 4}
	for _, e := range entries {
		if e.Incident != incidentID {
			continue
		}
		if e.Kind == store.LogAlert {
			logged = append(logged, e.Ref)
		}
		if e.Kind != store.LogIncident || !strings.HasPrefix(e.Ref, "state:") {
			continue
		}
		var t incident.Transition
		if json.Unmarshal(e.Content, &t) != nil {
			continue
		}
		if rank[t.To] > rank[furthest] {
			furthest = t.To
		}
		if t.To == store.IncidentReviewed && t.Review != nil {
			review = t.Review
		}
	}
	if furthest != "" && r.Incident.State != furthest {
		return BundleJSON, fmt.Sprintf("says the incident is %s, the chain that it is %s", r.Incident.State, furthest)
	}
	for _, id := range logged {
		if !containsString(r.Incident.Alerts, id) {
			return BundleJSON, fmt.Sprintf("leaves out alert %s, which the chain holds", id)
		}
	}
	if file, detail := checkRecordItems(r.Items, incidentID, entries); file != "" {
		return file, detail
	}
	switch {
	case review == nil && r.Review != nil:
		return BundleJSON, fmt.Sprintf("holds a review (%s by %s) the chain does not record", r.Review.Class, r.Review.By)
	case review != nil && r.Review == nil:
		return BundleJSON, fmt.Sprintf("leaves out the review the chain records (%s by %s)", review.Class, review.By)
	case review != nil && !sameReview(*review, *r.Review):
		return BundleJSON, fmt.Sprintf("says %s by %s, the chain records %s by %s (%q): the report was edited", r.Review.Class, r.Review.By, review.Class, review.By, review.Note)
	}
	return "", ""
}

func sameReview(logged store.Review, r Review) bool {
	if logged.Class != r.Class || logged.By != r.By || logged.Note != r.Note || !logged.At.Equal(r.At) {
		return false
	}
	n := 0
	for _, f := range r.Attest {
		if v, ok := logged.Attest[f.Name]; !ok || v != f.Value {
			return false
		}
		n++
	}
	return n == len(logged.Attest)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkRecordItems: every record the chain holds for the incident must be
// in the report's timeline exactly as Build renders it (where it signed
// in from, what it changed), so that a report edited to show another IP
// or to leave a change out is named. The report may hold more (a record
// logged after the segment was read).
func checkRecordItems(items []Item, incidentID string, entries []store.LogEntry) (file, detail string) {
	have := map[string]int{}
	for _, it := range items {
		b, _ := json.Marshal(it)
		have[string(b)]++
	}
	seen := map[string]bool{}
	check := func(raw []byte, ref string, at time.Time) string {
		h := store.ContentHash(raw)
		if seen[h] {
			return ""
		}
		seen[h] = true
		b, _ := json.Marshal(recordItem(raw, ref, at))
		if have[string(b)] == 0 {
			return ref
		}
		have[string(b)]--
		return ""
	}
	for _, e := range entries {
		if e.Incident != incidentID {
			continue
		}
		var recs [][]byte
		switch e.Kind {
		case store.LogRecord:
			recs = [][]byte{e.Content}
		case store.LogPull:
			recs = splitPull(e.Content)
		}
		for _, raw := range recs {
			if ref := check(raw, e.Ref, e.At); ref != "" {
				return BundleJSON, fmt.Sprintf("does not show record %s (entry %d) as the chain holds it: the report was edited", ref, e.Seq)
			}
		}
	}
	return "", ""
}
