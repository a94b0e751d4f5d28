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
	// Workers is how many goroutines the Scanner's pool has (0 =
	// GOMAXPROCS). Concurrent scans share them.
	Workers int
	// MaxInput bounds one input's size after decompression (0 = no
	// bound): beyond it the input ends with an error wrapping
	// logs.ErrInputTooLarge, after the records before it are scanned.
	MaxInput int64
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

// Scanner scans inputs. It is safe for concurrent use: the daemon scans
// every HTTP body, file chunk and Graph page with one Scanner. Inputs
// smaller than one batch are scanned on the caller's goroutine; larger ones
// are spread over a pool of Workers goroutines that lives as long as the
// Scanner (started on first need, stopped by Close), and each call still
// gets its own findings in input order.
type Scanner struct {
	opts     Options
	pre      *logs.Prefilter
	det      *detect.Detector
	workers  int
	overlap  int // longest needle, for the splitter's matcher
	progress atomic.Int64

	mu      sync.Mutex
	pool    *pool
	free    chan *batch // reused batches, shared by all calls
	scratch sync.Pool   // *worker for inline scans
}

// pool is the shared set of worker goroutines.
type pool struct {
	work  chan *batch
	users sync.WaitGroup // calls using the pool
	done  sync.WaitGroup // worker goroutines
}

// New returns a Scanner. It starts no goroutines until an input needs them.
func New(o Options) *Scanner {
	w := o.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	needles := o.Accounts.Needles()
	overlap := 0
	for _, n := range needles {
		overlap = max(overlap, len(n))
	}
	s := &Scanner{opts: o, pre: logs.NewPrefilter(needles), det: detect.New(o.Accounts), workers: w,
		overlap: overlap, free: make(chan *batch, 2*w+4)}
	s.scratch.New = func() any { return &worker{s: s} }
	return s
}

// Close stops the worker goroutines once the scans using them are done. A
// Scanner may be used again after Close: the pool then starts afresh.
func (s *Scanner) Close() error {
	s.mu.Lock()
	p := s.pool
	s.pool = nil
	s.mu.Unlock()
	if p != nil {
		p.users.Wait()
		close(p.work)
		p.done.Wait()
	}
	return nil
}

// acquire returns the worker pool, starting it if needed; release with
// p.users.Done.
func (s *Scanner) acquire() *pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		p := &pool{work: make(chan *batch, s.workers)}
		for range s.workers {
			p.done.Add(1)
			go func() {
				defer p.done.Done()
				w := worker{s: s}
				for b := range p.work {
					w.name = b.job.name
					w.process(b)
					b.job.results <- b
				}
			}()
		}
		s.pool = p
	}
	s.pool.users.Add(1)
	return s.pool
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
// results back to the call that made it, which hands them out in input
// order.
type batch struct {
	job   *job
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

// full reports whether b should be sent on. Skipped pieces count with their
// evidence, so that a flood of junk cannot grow one batch without bound.
func (b *batch) full() bool { return len(b.data) >= batchBytes || len(b.items) >= batchItems }

// getBatch returns a free batch, or a new one: small for the first batch
// of an input, which may well be all of it (a 72-byte body must not cost
// half a megabyte), full-sized once the input has proved large.
func (s *Scanner) getBatch(large bool) *batch {
	select {
	case b := <-s.free:
		return b
	default:
		if large {
			return &batch{data: make([]byte, 0, batchBytes+64<<10), items: make([]item, 0, batchItems)}
		}
		return &batch{}
	}
}

func (s *Scanner) putBatch(b *batch) {
	b.reset()
	select {
	case s.free <- b:
	default:
	}
}

func (b *batch) reset() {
	clear(b.findings)
	clear(b.items)
	clear(b.problems)
	data, items := b.data[:0], b.items[:0]
	// A batch that carried a huge record does not keep its memory; one that
	// carried a few Event Hubs payloads (up to ~1 MB each) does, or every
	// batch of such a feed would be grown afresh.
	if cap(data) > 4*batchBytes {
		data = nil
	}
	if cap(items) > 2*batchItems {
		items = nil
	}
	*b = batch{data: data, items: items, problems: b.problems[:0], findings: b.findings[:0]}
}

type maxInputKey struct{}

// WithMaxInput bounds, for the Scan calls given the returned context, one
// input's size after decompression (overriding Options.MaxInput; n <= 0
// means no bound). An HTTP source sets it per request: a 1 MB gzip body
// must not unpack to 1 GiB. The error wraps logs.ErrInputTooLarge.
func WithMaxInput(ctx context.Context, n int64) context.Context {
	if n <= 0 {
		n = 0
	}
	return context.WithValue(ctx, maxInputKey{}, n)
}

// job is one call of Scan.
type job struct {
	s       *Scanner
	ctx     context.Context
	name    string
	st      *Stats
	emit    func(Finding) error
	err     error // from emit: stops the call
	pool    *pool
	results chan *batch
	seq     int // batches sent
	next    int // next batch to hand out
	flight  int // batches sent and not yet handed out
	pending map[int]*batch
}

// maxFlight bounds one call's batches in the pool: enough to keep every
// worker busy with some reordering slack, and no more, so that one huge
// input cannot hold every batch while a small one waits.
func (s *Scanner) maxFlight() int { return 2*s.workers + 2 }

// Scan reads one input named name and calls emit for every alert, in input
// order. An error from emit stops the scan and is returned. Bad records never
// stop it; read errors end this input and are returned after counting.
// Concurrent calls are independent.
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
	sp.SetMaxInput(s.opts.MaxInput)
	if n, ok := ctx.Value(maxInputKey{}).(int64); ok {
		sp.SetMaxInput(n)
	}
	sp.SetPayloads(s.workers > 1)
	// Fail closed: skipped input that names an account must alert.
	sp.SetMatcher(s.pre.Match, s.overlap)

	j := &job{s: s, ctx: ctx, name: name, st: st, emit: emit}
	readErr := s.produce(ctx, sp, j.submit)
	j.finish()
	st.Consumed = sp.Consumed()
	switch {
	case j.err != nil:
		return j.err
	case readErr != nil:
		st.Skipped[logs.ReasonReadError]++
		s.problem(name, 0, cr.c, logs.ReasonReadError, readErr)
		return fmt.Errorf("%s: %w", name, readErr)
	}
	return ctx.Err()
}

// produce splits the input into batches of records, skipped pieces and
// whole one-line payloads, and hands each to submit (with last set for the
// final one); submit returns false to stop. It returns a read error, if any.
func (s *Scanner) produce(ctx context.Context, sp *logs.Splitter, submit func(b *batch, last bool) bool) error {
	b := s.getBatch(false)
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			s.putBatch(b)
			return nil
		}
		rec, err := sp.Next()
		if err != nil {
			if err == io.EOF {
				submit(b, true)
				return nil
			}
			var re *logs.RecordError
			if !errors.As(err, &re) {
				submit(b, true)
				return err
			}
			b.items = append(b.items, item{rerr: re})
		} else {
			it := item{line: rec.Line, offset: rec.Offset, payload: rec.Payload, start: len(b.data)}
			b.data = append(b.data, rec.Data...)
			it.end = len(b.data)
			b.items = append(b.items, it)
		}
		if b.full() {
			if !submit(b, false) {
				return nil
			}
			b = s.getBatch(true)
		}
	}
}

// submit takes one batch of the call's input. The first batch of an input
// that ends within it is scanned right here, on the caller's goroutine:
// small inputs (an HTTP body, a Graph page, a line appended to a file) cost
// no channel and no other goroutine. Anything larger goes to the pool.
func (j *job) submit(b *batch, last bool) bool {
	if j.err != nil || j.ctx.Err() != nil {
		j.s.putBatch(b)
		return false
	}
	if len(b.items) == 0 {
		j.s.putBatch(b)
		return true
	}
	if last && j.pool == nil {
		w := j.s.scratch.Get().(*worker)
		w.name = j.name
		w.process(b)
		w.name = ""
		j.s.scratch.Put(w)
		j.deliver(b)
		return j.err == nil
	}
	if j.pool == nil {
		j.pool = j.s.acquire()
		j.results = make(chan *batch, j.s.maxFlight())
		j.pending = map[int]*batch{}
	}
	b.job, b.seq = j, j.seq
	j.seq++
	for j.flight >= j.s.maxFlight() {
		j.receive(<-j.results)
	}
	for {
		select {
		case j.pool.work <- b:
			j.flight++
			// Hand out what is ready, so that an alert early in a large
			// input is not held back until the end.
			for {
				select {
				case r := <-j.results:
					j.receive(r)
					continue
				default:
				}
				break
			}
			return j.err == nil
		case r := <-j.results:
			j.receive(r)
		case <-j.ctx.Done():
			j.seq-- // never sent
			j.s.putBatch(b)
			return false
		}
	}
}

// receive takes a batch back from a worker and hands out, in input order,
// every batch that is now next.
func (j *job) receive(b *batch) {
	j.pending[b.seq] = b
	for {
		b, ok := j.pending[j.next]
		if !ok {
			return
		}
		delete(j.pending, j.next)
		j.next++
		j.flight--
		j.deliver(b)
	}
}

// finish waits for the call's batches still in the pool, and releases it.
func (j *job) finish() {
	if j.pool == nil {
		return
	}
	for j.flight > 0 {
		j.receive(<-j.results)
	}
	j.pool.users.Done()
	j.pool = nil
}

// deliver merges a scanned batch into the call's stats, reports its
// problems and emits its findings (unless the call has already stopped).
func (j *job) deliver(b *batch) {
	j.st.Merge(&b.stats)
	if p := j.s.opts.Problem; p != nil {
		for _, pr := range b.problems {
			p(pr)
		}
	}
	if j.err == nil && j.ctx.Err() == nil {
		for _, f := range b.findings {
			if err := j.emit(f); err != nil {
				j.err = err
				break
			}
		}
	}
	j.s.putBatch(b)
}

var errUnknownShape = errors.New("not a recognised Entra sign-in or audit record")

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
