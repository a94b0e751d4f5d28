package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/logs"
)

// This file holds what happens to one record: classify, prefilter, decode,
// detect. scan.go holds the pipeline that feeds records here.
//
// Fail closed: a record that may concern a break-glass account is never
// only counted. A record with odd fields is decoded leniently and the normal
// rule fires, naming what could not be read; input whose identity cannot be
// determined but whose bytes mention an account raises bg.unparsed with the
// raw bytes as evidence. Only input that decodes cleanly and names someone
// else, or mentions no account at all, is silent.

// recordLogic is the per-record state a Scanner shares with its workers.
type recordLogic struct {
	rules *detect.Set
	// mention finds the accounts' own ids and UPNs (not other rules'
	// literals) in input that could not be read.
	mention  *logs.Prefilter
	accounts *entra.AccountSet
	now      func() time.Time
	// tables is set when some rule asks for every record of a table; the
	// fast path then asks per record which.
	tables bool
}

// initRecord builds the rule set and the prefilter from the options.
func (s *Scanner) initRecord() {
	accounts := s.opts.Accounts
	if accounts == nil {
		accounts = entra.NewAccountSet(nil)
	}
	rules := s.opts.Rules
	if rules == nil {
		rules = detect.Builtins(accounts)
	}
	set := detect.NewSet(rules...)
	s.pre = logs.NewPrefilter(set.Literals())
	s.rec = recordLogic{rules: set, mention: logs.NewPrefilter(accounts.Needles()), accounts: accounts, now: time.Now, tables: set.AnyTables()}
}

// worker holds one goroutine's scratch state.
type worker struct {
	s      *Scanner
	name   string
	final  bool // the input is complete when it ends (job.final)
	ev     entra.Event
	alerts []alert.Alert
}

func (w *worker) process(b *batch) {
	b.stats.init()
	for _, it := range b.items {
		if it.rerr != nil {
			w.recordError(b, it.rerr)
			continue
		}
		data := b.data[it.start:it.end]
		if !it.payload {
			w.record(b, data, it.line, it.offset)
			continue
		}
		ps := logs.NewPayloadSplitter(data, it.line, it.offset)
		ps.SetMatcher(w.s.mentions, w.s.overlap)
		for {
			rec, err := ps.Next()
			if err == io.EOF {
				break
			}
			var re *logs.RecordError
			if errors.As(err, &re) {
				w.recordError(b, re)
				continue
			}
			if err != nil {
				break // cannot happen: the payload is in memory
			}
			w.record(b, rec.Data, rec.Line, rec.Offset)
		}
	}
}

// recordError handles input the splitter could not split into a record.
// The splitter sets MayConcern when an account's id or UPN occurs anywhere
// in the skipped bytes; Head is what it kept of them.
//
// A record cut off by the end of the input (ReasonTruncated) is the one
// exception: a followed file is read while it is written, the follower
// resumes at that record's start (Stats.Consumed) and reads it whole next
// time, so alerting on the fragment would raise a false bg.unparsed on
// every poll. It is counted and reported instead, unless the inputs are
// final (Options.FinalInputs, WithFinal): then nothing more will come, and it alerts.
func (w *worker) recordError(b *batch, re *logs.RecordError) {
	b.stats.Skipped[re.Reason]++
	raw := re.Head
	if len(re.Hit) > 0 && w.s.rec.mention.Find(raw) < 0 {
		// The account is named beyond the kept start (a record far over
		// the size limit): keep where it is named too, so that the alert
		// names the account and shows the mention.
		raw = append(append(append([]byte(nil), re.Head...), "\n[...]\n"...), re.Hit...)
	}
	if (re.Reason != logs.ReasonTruncated || w.final) && w.unparsed(b, raw, re.MayConcern, re.Line, re.Offset, "", re.Reason, re.Err, nil) {
		return
	}
	w.problem(b, re.Line, re.Offset, re.Reason, re.Err)
}

func (w *worker) problem(b *batch, line int, off int64, reason string, err error) {
	if w.s.opts.Problem == nil {
		return
	}
	b.problems = append(b.problems, Problem{Source: w.source(line), Offset: off, Reason: reason, Err: err})
}

func (w *worker) source(line int) string { return fmt.Sprintf("%s:%d", w.name, line) }

func (w *worker) record(b *batch, data []byte, line int, offset int64) {
	st := &b.stats
	cls := logs.Classify(data)
	if cls.Shape == logs.ShapeUnknown {
		st.Skipped[logs.ReasonUnknownShape]++
		if !w.s.rec.mention.Match(data) || !w.unparsed(b, data, false, line, offset, "", logs.ReasonUnknownShape, errUnknownShape, nil) {
			w.problem(b, line, offset, logs.ReasonUnknownShape, errUnknownShape)
		}
		return
	}
	if !cls.Monitored() {
		st.Records[cls.Category]++
		st.Skipped[logs.ReasonOtherCategory]++
		// No decoder reads this category (yet): if it mentions an
		// account, say so rather than only counting it.
		if w.s.rec.mention.Match(data) {
			w.unparsed(b, data, false, line, offset, cls.Category, logs.ReasonOtherCategory,
				fmt.Errorf("category %q is not decoded", cls.Category), nil)
		}
		return
	}
	if !w.s.opts.Exhaustive && !w.s.pre.Match(data) && (!w.s.rec.tables || !w.s.rec.rules.WantsTable(entra.TableOf(cls.Category))) {
		st.Records[cls.Category]++
		return
	}
	w.decode(b, data, cls, line, offset)
}

// decode decodes a record that may concern an account and runs the rules.
func (w *worker) decode(b *batch, data []byte, cls logs.Class, line int, offset int64) {
	st := &b.stats
	if err := logs.Decode(data, cls, &w.ev); err != nil {
		reason := logs.ReasonBadField
		var de *logs.DecodeError
		if errors.As(err, &de) {
			reason = de.Reason
		}
		st.Skipped[reason]++
		if !w.unparsed(b, data, false, line, offset, cls.Category, reason, err, nil) {
			w.problem(b, line, offset, reason, err)
		}
		return
	}
	ev := &w.ev
	rec := detect.Record{Event: ev, Table: entra.TableOf(cls.Category), Raw: data, Source: w.source(line), Now: w.s.rec.now()}
	w.alerts = w.s.rec.rules.Eval(w.alerts[:0], &rec)
	degraded := len(ev.Unreadable) > 0 || ev.TimeUnknown
	if len(w.alerts) == 0 {
		if degraded {
			st.Skipped[logs.ReasonBadField]++
			err := unreadableErr(ev)
			if ev.IdentityUnknown == "" || !w.unparsed(b, data, false, line, offset, cls.Category, logs.ReasonBadField, err, ev) {
				w.problem(b, line, offset, logs.ReasonBadField, err)
			}
			return
		}
		st.Records[cls.Category]++
		return
	}
	st.Records[cls.Category]++
	st.Matched++
	if degraded {
		st.Degraded++
		if w.s.opts.Problem != nil {
			b.problems = append(b.problems, Problem{Source: rec.Source, Offset: offset, Reason: logs.ReasonBadField, Err: unreadableErr(ev), Alerted: true})
		}
	}
	raw := append([]byte(nil), data...)
	evc := w.ev
	for _, a := range w.alerts {
		st.Alerts++
		b.findings = append(b.findings, Finding{Alert: a, Event: &evc, Raw: raw})
	}
}

func unreadableErr(ev *entra.Event) error {
	return fmt.Errorf("unreadable fields: %s", strings.Join(ev.Unreadable, "; "))
}

// unparsed raises bg.unparsed for raw, input that could not be read (reason,
// why), when an account's id or UPN occurs in it (after undoing \u escapes,
// case-folded) or the splitter already found one (mayConcern). ev, if not
// nil, is what could be decoded. It reports whether it raised the alert.
func (w *worker) unparsed(b *batch, raw []byte, mayConcern bool, line int, offset int64, category, reason string, why error, ev *entra.Event) bool {
	var acct entra.Account
	if ni := w.s.rec.mention.Find(raw); ni >= 0 {
		acct, _ = w.s.rec.accounts.MatchAny(w.s.rec.mention.Needles()[ni])
	} else if !mayConcern {
		return false
	}
	now := w.s.rec.now().UTC()
	sum := sha256.Sum256(raw)
	// The record's bytes are all that identifies it: the same bytes seen
	// again (a rescan, a replay) give the same alert.
	eid := "sha256:" + hex.EncodeToString(sum[:])
	meta := detect.MustLookup(detect.RuleUnparsed)
	detail := "no detail"
	if why != nil {
		detail = why.Error()
	}
	if category == "" {
		category = "unknown"
	}
	a := alert.Alert{
		ID:               alert.Key(eid, meta.ID),
		Rule:             meta.ID,
		Severity:         meta.Severity,
		Title:            meta.Title + " (" + reason + ")",
		AccountID:        acct.ID,
		AccountUPN:       acct.UPN,
		Account:          acct.Name,
		EventID:          eid,
		EventTime:        now,
		EventTimeUnknown: true,
		Category:         category,
		Source:           w.source(line),
		Detected:         now,
		Annotations:      map[string]string{"reason": reason, "detail": detail},
	}
	if acct == (entra.Account{}) {
		a.Annotations["account"] = "an account's id or UPN occurs in bytes that were not kept"
	}
	evc := entra.Event{Category: category}
	if ev != nil {
		evc = *ev
		if !ev.TimeUnknown && !ev.Time.IsZero() {
			a.EventTime, a.EventTimeUnknown = ev.Time, false
		}
		a.Unreadable = append([]string(nil), ev.Unreadable...)
		a.Correlation = ev.CorrelationID
		a.Annotations["identity"] = ev.IdentityUnknown
	} else {
		a.Unreadable = []string{reason + ": " + detail}
	}
	st := &b.stats
	st.Matched++
	st.Alerts++
	st.Unparsed++
	b.findings = append(b.findings, Finding{Alert: a, Event: &evc, Raw: append([]byte(nil), raw...)})
	if w.s.opts.Problem != nil {
		b.problems = append(b.problems, Problem{Source: a.Source, Offset: offset, Reason: reason, Err: why, Alerted: true})
	}
	return true
}
