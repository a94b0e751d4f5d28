package scan

import (
	"errors"
	"fmt"
	"io"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/logs"
)

// This file holds what happens to one record: classify, prefilter, decode,
// detect. scan.go holds the pipeline that feeds records here.

// worker holds one goroutine's scratch state.
type worker struct {
	s      *Scanner
	name   string
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

func (w *worker) recordError(b *batch, re *logs.RecordError) {
	b.stats.Skipped[re.Reason]++
	w.problem(b, re.Line, re.Offset, re.Reason, re.Err)
}

func (w *worker) problem(b *batch, line int, off int64, reason string, err error) {
	if w.s.opts.Problem == nil {
		return
	}
	b.problems = append(b.problems, Problem{Source: fmt.Sprintf("%s:%d", w.name, line), Offset: off, Reason: reason, Err: err})
}

func (w *worker) record(b *batch, data []byte, line int, offset int64) {
	st := &b.stats
	cls := logs.Classify(data)
	if cls.Shape == logs.ShapeUnknown {
		st.Skipped[logs.ReasonUnknownShape]++
		w.problem(b, line, offset, logs.ReasonUnknownShape, errUnknownShape)
		return
	}
	if !cls.Monitored() {
		st.Records[cls.Category]++
		st.Skipped[logs.ReasonOtherCategory]++
		return
	}
	if !w.s.opts.Exhaustive && !w.s.pre.Match(data) {
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
		w.problem(b, line, offset, reason, err)
		return
	}
	st.Records[cls.Category]++
	w.alerts = w.s.det.Detect(w.alerts[:0], &w.ev, fmt.Sprintf("%s:%d", w.name, line))
	if len(w.alerts) == 0 {
		return
	}
	st.Matched++
	raw := append([]byte(nil), data...)
	ev := w.ev
	for _, a := range w.alerts {
		st.Alerts++
		b.findings = append(b.findings, Finding{Alert: a, Event: &ev, Raw: raw})
	}
}
