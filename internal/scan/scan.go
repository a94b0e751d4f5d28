// Package scan runs the detection pipeline over log files: split each input
// into records, skip cheaply the records that cannot concern a break-glass
// account, decode the rest and evaluate the rules. scan is used by the
// `breakglass scan` command and by every streaming source.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/logs"
)

// Options configure a Scanner.
type Options struct {
	Accounts *entra.AccountSet
	// MaxRecord bounds one record's size (0 = logs.DefaultMaxRecord).
	MaxRecord int
	// Problem, if set, is told about every skipped record with its place.
	Problem func(p Problem)
	// Exhaustive decodes every record instead of prefiltering. It exists to
	// check the fast path and to validate whole files.
	Exhaustive bool
}

// Problem is one skipped piece of input.
type Problem struct {
	Source string // file:line
	Offset int64
	Reason string
	Err    error
}

func (p Problem) String() string {
	return fmt.Sprintf("%s (offset %d): %s: %v", p.Source, p.Offset, p.Reason, p.Err)
}

// Finding is an alert together with the record that raised it.
type Finding struct {
	Alert alert.Alert
	Event *entra.Event
	Raw   []byte // a private copy of the record
}

// Stats counts what a scan saw.
type Stats struct {
	Files   int
	Bytes   int64            // input bytes as read (compressed size for gzip)
	Records map[string]int64 // records by category (unmonitored ones by their own name)
	Skipped map[string]int64 // skipped input by reason
	Matched int64            // records that concerned a break-glass account
	Alerts  int64            // alerts raised, before dedupe against a store
	Elapsed time.Duration
}

// TotalRecords sums Records.
func (s *Stats) TotalRecords() int64 {
	var n int64
	for _, v := range s.Records {
		n += v
	}
	return n
}

// TotalSkipped sums Skipped.
func (s *Stats) TotalSkipped() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// Merge adds o into s.
func (s *Stats) Merge(o *Stats) {
	s.init()
	s.Files += o.Files
	s.Bytes += o.Bytes
	s.Matched += o.Matched
	s.Alerts += o.Alerts
	for k, v := range o.Records {
		s.Records[k] += v
	}
	for k, v := range o.Skipped {
		s.Skipped[k] += v
	}
}

func (s *Stats) init() {
	if s.Records == nil {
		s.Records = map[string]int64{}
	}
	if s.Skipped == nil {
		s.Skipped = map[string]int64{}
	}
}

// Categories returns the record categories seen, sorted.
func (s *Stats) Categories() []string { return slices.Sorted(maps.Keys(s.Records)) }

// Scanner scans inputs. It is not safe for concurrent use; make one per
// goroutine.
type Scanner struct {
	opts     Options
	pre      *logs.Prefilter
	det      *detect.Detector
	alerts   []alert.Alert
	progress atomic.Int64
}

// New returns a Scanner.
func New(o Options) *Scanner {
	return &Scanner{opts: o, pre: logs.NewPrefilter(o.Accounts.Needles()), det: detect.New(o.Accounts)}
}

// Progress returns the input bytes consumed so far; safe to call from
// another goroutine.
func (s *Scanner) Progress() int64 { return s.progress.Load() }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
	c int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.c += int64(n)
	c.n.Add(int64(n))
	return n, err
}

// Scan reads one input named name and calls emit for every alert. An error
// from emit stops the scan and is returned. Bad records never stop it; read
// errors end this input and are returned after counting.
func (s *Scanner) Scan(ctx context.Context, name string, r io.Reader, st *Stats, emit func(Finding) error) error {
	st.init()
	start := time.Now()
	defer func() { st.Elapsed += time.Since(start) }()
	st.Files++
	cr := &countingReader{r: r, n: &s.progress}
	defer func() { st.Bytes += cr.c }()
	sp, err := logs.NewSplitter(cr)
	if err != nil {
		st.Skipped[logs.ReasonReadError]++
		return fmt.Errorf("%s: %w", name, err)
	}
	sp.SetMaxRecord(s.opts.MaxRecord)
	var ev entra.Event
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := sp.Next()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			var re *logs.RecordError
			if errors.As(err, &re) {
				st.Skipped[re.Reason]++
				s.problem(name, re.Line, re.Offset, re.Reason, re.Err)
				continue
			}
			st.Skipped[logs.ReasonReadError]++
			s.problem(name, 0, cr.c, logs.ReasonReadError, err)
			return fmt.Errorf("%s: %w", name, err)
		}
		cls := logs.Classify(rec.Data)
		if cls.Shape == logs.ShapeUnknown {
			st.Skipped[logs.ReasonUnknownShape]++
			s.problem(name, rec.Line, rec.Offset, logs.ReasonUnknownShape, errors.New("not a recognised Entra sign-in or audit record"))
			continue
		}
		st.Records[cls.Category]++
		if !cls.Monitored() {
			st.Skipped[logs.ReasonOtherCategory]++
			continue
		}
		if !s.opts.Exhaustive && !s.pre.Match(rec.Data) {
			continue
		}
		if err := logs.Decode(rec.Data, cls, &ev); err != nil {
			reason := logs.ReasonBadField
			var de *logs.DecodeError
			if errors.As(err, &de) {
				reason = de.Reason
			}
			st.Records[cls.Category]--
			st.Skipped[reason]++
			s.problem(name, rec.Line, rec.Offset, reason, err)
			continue
		}
		source := fmt.Sprintf("%s:%d", name, rec.Line)
		s.alerts = s.det.Detect(s.alerts[:0], &ev, source)
		if len(s.alerts) == 0 {
			continue
		}
		st.Matched++
		raw := append([]byte(nil), rec.Data...)
		evc := ev
		for _, a := range s.alerts {
			st.Alerts++
			if err := emit(Finding{Alert: a, Event: &evc, Raw: raw}); err != nil {
				return err
			}
		}
	}
}

func (s *Scanner) problem(name string, line int, off int64, reason string, err error) {
	if s.opts.Problem == nil {
		return
	}
	src := name
	if line > 0 {
		src = fmt.Sprintf("%s:%d", name, line)
	}
	s.opts.Problem(Problem{Source: src, Offset: off, Reason: reason, Err: err})
}
