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
	"runtime"
	"slices"
	"sync"
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
	// Workers is how many goroutines decode one input (0 = GOMAXPROCS).
	Workers int
	// Rules are the record rules to evaluate (nil = detect.Builtins for
	// Accounts). Each rule's Needs decide what the prefilter lets through.
	Rules []detect.Rule
	// FinalInputs says inputs are complete when they end (files given to
	// `scan`, not files still being written): a record cut off by the end
	// of an input that mentions an account then raises bg.unparsed too.
	FinalInputs bool
}

// Problem is one skipped piece of input.
type Problem struct {
	Source string // file:line
	Offset int64
	Reason string
	Err    error
	// Alerted is set when the record was alerted on despite the problem
	// (fail closed): such problems are logged at warn level, not debug.
	Alerted bool
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
	// Consumed is how far the last input was read completely (see
	// logs.Splitter.Consumed): a record cut off by the end of the input is
	// not counted, so a follower can resume at its start.
	Consumed int64
	// Degraded counts records with unreadable fields (or no usable time)
	// that alerted anyway; Unparsed counts bg.unparsed alerts: input that
	// could not be read but mentions an account.
	Degraded int64
	Unparsed int64
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
	s.Degraded += o.Degraded
	s.Unparsed += o.Unparsed
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

// Scanner scans inputs. One Scanner scans one input at a time; it spreads
// each input's records over Workers goroutines.
type Scanner struct {
	opts     Options
	pre      *logs.Prefilter
	rec      recordLogic
	workers  int
	progress atomic.Int64
}

// New returns a Scanner.
func New(o Options) *Scanner {
	w := o.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	s := &Scanner{opts: o, workers: w}
	s.initRecord()
	return s
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

// batch carries records from the splitter to a worker and the worker's
// results on to the collector, which hands them out in input order.
type batch struct {
	seq   int
	data  []byte
	items []item
	// results
	stats    Stats
	problems []Problem
	findings []Finding
}

type item struct {
	start, end int
	line       int
	offset     int64
	payload    bool              // a whole one-line payload to split
	rerr       *logs.RecordError // a problem found while splitting, in input order
}

const (
	batchBytes = 512 << 10
	batchItems = 1024
)

// Scan reads one input named name and calls emit for every alert, in input
// order. An error from emit stops the scan and is returned. Bad records never
// stop it; read errors end this input and are returned after counting.
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
	sp.SetPayloads(s.workers > 1)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *batch, s.workers)
	done := make(chan *batch, s.workers)
	free := make(chan *batch, 3*s.workers+2)
	for range cap(free) {
		free <- &batch{data: make([]byte, 0, batchBytes)}
	}
	var wg sync.WaitGroup
	for range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := worker{s: s, name: name}
			for b := range work {
				w.process(b)
				done <- b
			}
		}()
	}
	collected := make(chan error, 1)
	go func() { collected <- s.collect(ctx, cancel, done, free, st, emit) }()

	readErr := s.produce(ctx, sp, work, free)
	st.Consumed = sp.Consumed()
	close(work)
	wg.Wait()
	close(done)
	emitErr := <-collected
	switch {
	case emitErr != nil:
		return emitErr
	case readErr != nil:
		st.Skipped[logs.ReasonReadError]++
		s.problem(name, 0, cr.c, logs.ReasonReadError, readErr)
		return fmt.Errorf("%s: %w", name, readErr)
	}
	return ctx.Err()
}

// produce splits the input into batches of records and whole one-line
// payloads; the workers do everything else. It returns a read error, if any.
func (s *Scanner) produce(ctx context.Context, sp *logs.Splitter, work chan<- *batch, free chan *batch) error {
	// A fixed set of batches circulates: the splitter waits for one to come
	// back rather than allocating, which bounds memory and keeps the
	// garbage collector out of the hot loop.
	next := func() *batch {
		select {
		case b := <-free:
			return b
		case <-ctx.Done():
			return &batch{}
		}
	}
	b := next()
	seq := 0
	send := func() bool {
		if len(b.items) == 0 {
			return true
		}
		b.seq = seq
		seq++
		select {
		case work <- b:
		case <-ctx.Done():
			return false
		}
		b = next()
		return true
	}
	add := func(data []byte, it item) bool {
		it.start = len(b.data)
		b.data = append(b.data, data...)
		it.end = len(b.data)
		b.items = append(b.items, it)
		if len(b.data) >= batchBytes || len(b.items) >= batchItems {
			return send()
		}
		return true
	}
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return nil
		}
		rec, err := sp.Next()
		if err != nil {
			if err == io.EOF {
				send()
				return nil
			}
			var re *logs.RecordError
			if errors.As(err, &re) {
				b.items = append(b.items, item{rerr: re})
				continue
			}
			send()
			return err
		}
		if !add(rec.Data, item{line: rec.Line, offset: rec.Offset, payload: rec.Payload}) {
			return nil
		}
	}
}

var errUnknownShape = errors.New("not a recognised Entra sign-in or audit record")

// collect merges worker results in input order and emits findings.
func (s *Scanner) collect(ctx context.Context, cancel func(), done <-chan *batch, free chan<- *batch, st *Stats, emit func(Finding) error) error {
	pending := map[int]*batch{}
	next := 0
	var failed error
	for b := range done {
		pending[b.seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			st.Merge(&b.stats)
			if s.opts.Problem != nil {
				for _, p := range b.problems {
					s.opts.Problem(p)
				}
			}
			if failed != nil || ctx.Err() != nil {
				continue
			}
			for _, f := range b.findings {
				if err := emit(f); err != nil {
					failed = err
					cancel()
					break
				}
			}
			b.reset()
			select {
			case free <- b:
			default:
			}
		}
	}
	return failed
}

func (b *batch) reset() {
	*b = batch{data: b.data[:0], items: b.items[:0], problems: b.problems[:0], findings: b.findings[:0]}
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
