package logs

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Reason codes for skipped input. They are stable: summaries and metrics
// count by them.
const (
	ReasonInvalidJSON   = "invalid_json"
	ReasonTruncated     = "truncated"
	ReasonTooLarge      = "too_large"
	ReasonNotObject     = "not_an_object"
	ReasonCSV           = "invalid_csv"
	ReasonReadError     = "read_error"
	ReasonUnknownShape  = "unknown_shape"
	ReasonBadField      = "bad_field"
	ReasonOtherCategory = "other_category"
	ReasonTooDeep       = "too_deep"
)

// MaxDepth bounds the nesting of arrays and envelopes around records, and of
// values inside a record. Real exports nest a few levels; without a bound a
// stream of '[' costs memory per byte.
const MaxDepth = 512

// resyncWindow bounds how far along a broken line the splitter looks for a
// record that starts after the damage (see resyncLine).
const resyncWindow = 1 << 20

// ErrInputTooLarge is returned (wrapped, naming the limit) when an input
// exceeds the size set with SetMaxInput: a gzip body that expands without
// bound is cut off instead of read to the end.
var ErrInputTooLarge = errors.New("input too large")

// DefaultMaxRecord bounds one record's size. Real records are a few KB; the
// bound exists so that a corrupt file cannot make us buffer without limit.
const DefaultMaxRecord = 64 << 20

// Record is one log record as found in the input: a JSON object. CSV rows
// are turned into a JSON object keyed by column name so every later stage
// sees one form.
type Record struct {
	Data   []byte // valid until the next call to Next
	Line   int    // 1-based line on which the record starts
	Offset int64  // byte offset of the record in the decompressed input
	CSV    bool
	// Table marks a row of a Log Analytics query answer (see tables),
	// rebuilt as an object keyed by column name: like a CSV row, its Data
	// is not a slice of the input; Offset is where the row starts.
	Table bool
	// Payload marks a whole one-line Event Hubs payload ({"records":[...]})
	// or Graph page ({"value":[...]}),
	// returned only after SetPayloads(true). The caller splits it with
	// NewPayloadSplitter, typically on another goroutine: that is how a scan
	// spreads the bulk of an Event Hubs feed over several cores.
	Payload bool
}

// RecordError reports input that could not be split into records. The
// splitter has already skipped past it; callers count it and carry on.
type RecordError struct {
	Line   int
	Offset int64
	Reason string
	Err    error
	// Head is a bounded copy (at most MaxHead bytes) of the start of the
	// skipped input, kept as evidence in case it concerns an account.
	Head []byte
	// MayConcern is set when a matcher given to the splitter (SetMatcher)
	// found a break-glass id or UPN anywhere in the skipped bytes, not only
	// in Head: such input must alert (bg.unparsed), never only be counted.
	MayConcern bool
	// Hit is a bounded copy (at most MaxHit bytes) of the skipped input
	// around where the matcher first found an account, when that was
	// beyond Head: the evidence that names the account.
	Hit []byte
}

// MaxHead bounds RecordError.Head.
const MaxHead = 64 << 10

// MaxHit bounds RecordError.Hit.
const MaxHit = 4 << 10

func (e *RecordError) Error() string {
	return fmt.Sprintf("line %d (offset %d): %s: %v", e.Line, e.Offset, e.Reason, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// frame kinds on the container stack.
const (
	frameArray    = 'A' // inside an array whose elements are records
	frameRecords  = 'R' // inside the array of an Event Hubs {"records":[...]} payload
	frameEnvelope = 'E' // inside {"records":[...]} or {"value":[...]} after its array
)

func isArray(f byte) bool { return f == frameArray || f == frameRecords }

// Splitter yields the records of one input stream. It reads JSON documents
// one after another (NDJSON, pretty-printed or concatenated), descends into
// top-level arrays and into Event Hubs ({"records":[...]}) and Graph
// ({"value":[...]}) envelopes so that huge exports stream record by record,
// and falls back to CSV when the input does not start with JSON.
type Splitter struct {
	r        io.Reader
	buf      []byte
	pos, end int
	eof      bool
	readErr  error
	off      int64 // input offset of buf[0]
	line     int   // line number at buf[lineOff]
	lineOff  int
	max      int
	frames   []byte
	stack    []byte
	started  bool
	csv      *csvSplitter
	gzipped  bool
	utf16    *utf16Reader // set when the input is transcoded from UTF-16
	skipLine bool
	indent   int
	prevNL   bool // the byte before buf[0] was a newline
	col      int  // the column of buf[0]: bytes since the last newline
	payloads bool
	partial  int64 // offset of a record cut off by the end of input, or -1
	// depthOnly splits array elements by bracket depth (see skipBalanced):
	// set for one-line payloads, which machines write.
	depthOnly bool
	// match and overlap are the fail-closed matcher (see SetMatcher); pc
	// gathers the skipped piece it runs over.
	match   func([]byte) bool
	overlap int
	pc      piece
	// rows yields the rows of a Log Analytics query answer not yet
	// returned (see tables).
	rows *tableRows
}

// piece gathers one skipped piece of input as the splitter passes over it,
// possibly in many chunks: the first MaxHead bytes as evidence, and whether
// the matcher found an account in any of it.
type piece struct {
	head    []byte
	carry   []byte // the last overlap-1 bytes seen, for needles across chunks
	scratch []byte
	matched bool
	hit     []byte // around the first match beyond head, see locate
	seen    int    // bytes of the piece passed so far
}

// NewSplitter reads from r, transparently decompressing gzip input (also
// gzip inside gzip) and transcoding UTF-16 (see openInput).
func NewSplitter(r io.Reader) (*Splitter, error) {
	s := &Splitter{line: 1, max: DefaultMaxRecord, prevNL: true, partial: -1}
	in, gzipped, err := openInput(r)
	if err != nil {
		return nil, err
	}
	s.r, s.gzipped = in, gzipped
	s.utf16, _ = in.(*utf16Reader)
	s.buf = make([]byte, 8<<10)
	return s, nil
}

// SetMaxInput bounds the input's size after decompression (0, the default,
// is unlimited). Beyond it Next returns an error wrapping ErrInputTooLarge
// that names the limit; records before it come out as usual.
func (s *Splitter) SetMaxInput(n int64) {
	if l, ok := s.r.(*limitReader); ok {
		s.r = l.r // a second call replaces the bound
	}
	if n > 0 {
		s.r = &limitReader{r: s.r, left: n, max: n}
	}
}

type limitReader struct {
	r         io.Reader
	left, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%w: more than %d bytes after decompression", ErrInputTooLarge, l.max)
	}
	// Read one byte beyond the limit, to tell "exactly at the limit" from
	// "over it".
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		n += int(l.left) // hand out exactly max bytes
		return n, fmt.Errorf("%w: more than %d bytes after decompression", ErrInputTooLarge, l.max)
	}
	return n, err
}

// SetMatcher makes the splitter fail closed: match is run over every byte
// of every piece of input it skips (broken, too large or too deep records,
// junk), and RecordError.MayConcern reports whether it said yes. A skipped
// piece may be passed in chunks; overlap is the longest needle, so that one
// spanning two chunks is still found. The scanner passes its prefilter.
func (s *Splitter) SetMatcher(match func([]byte) bool, overlap int) {
	s.match, s.overlap = match, overlap
}

// startPiece begins gathering a skipped piece.
func (s *Splitter) startPiece() {
	s.pc.head = nil
	s.pc.carry = s.pc.carry[:0]
	s.pc.matched = false
	s.pc.hit = nil
	s.pc.seen = 0
}

// addPiece passes over b, the next bytes of the skipped piece.
func (s *Splitter) addPiece(b []byte) {
	if len(b) == 0 {
		return
	}
	pc := &s.pc
	if n := min(len(b), MaxHead-len(pc.head)); n > 0 {
		if pc.head == nil {
			pc.head = make([]byte, 0, min(MaxHead, max(n, 64)))
		}
		pc.head = append(pc.head, b[:n]...)
	}
	inHead := pc.seen+len(b) <= MaxHead // all of b is in head
	pc.seen += len(b)
	if s.match == nil || pc.matched {
		return
	}
	k := s.overlap - 1
	if k > 0 && len(pc.carry) > 0 {
		pc.scratch = append(append(pc.scratch[:0], pc.carry...), b[:min(len(b), k)]...)
		if s.match(pc.scratch) {
			pc.matched = true
			if !inHead {
				pc.hit = append([]byte(nil), pc.scratch...)
			}
			return
		}
	}
	if s.match(b) {
		pc.matched = true
		if !inHead {
			pc.hit = s.locate(b)
		}
		return
	}
	if k > 0 {
		if len(b) >= k {
			pc.carry = append(pc.carry[:0], b[len(b)-k:]...)
		} else {
			pc.carry = append(pc.carry, b...)
			pc.carry = pc.carry[len(pc.carry)-min(len(pc.carry), k):]
		}
	}
}

// locate narrows b, in which the matcher found a needle, to at most MaxHit
// bytes that still contain one, by halving: a needle that does not lie in
// the left half plus overlap-1 bytes lies wholly in the right half. It
// runs once per skipped piece, over about twice b's length.
func (s *Splitter) locate(b []byte) []byte {
	lo, hi := 0, len(b)
	k := max(s.overlap-1, 0)
	for hi-lo > MaxHit && hi-lo > 2*k+2 {
		mid := lo + (hi-lo)/2
		if left := min(hi, mid+k); s.match(b[lo:left]) {
			hi = left
		} else {
			lo = mid
		}
	}
	if hi-lo > MaxHit { // a needle longer than MaxHit/2: keep its start
		hi = lo + MaxHit
	}
	return append([]byte(nil), b[lo:hi]...)
}

// endPiece puts the gathered piece into re.
func (s *Splitter) endPiece(re *RecordError) *RecordError {
	re.Head = s.pc.head
	if re.Head == nil {
		re.Head = []byte{}
	}
	re.MayConcern = s.pc.matched
	re.Hit = s.pc.hit
	s.pc.head, s.pc.hit = nil, nil
	return re
}

// pieceErr reports the piece buf[start:end] as one RecordError.
func (s *Splitter) pieceErr(start, end int, reason string, err error) *RecordError {
	re := s.recErr(start, reason, err)
	s.startPiece()
	s.addPiece(s.buf[start:end])
	return s.endPiece(re)
}

// SetPayloads makes Next return one-line Event Hubs payloads and Graph
// pages whole (see Record.Payload) instead of their records.
func (s *Splitter) SetPayloads(on bool) { s.payloads = on }

// NewPayloadSplitter splits a payload returned with Record.Payload; line and
// offset are the payload's, so records report their place in the input.
func NewPayloadSplitter(data []byte, line int, offset int64) *Splitter {
	return &Splitter{buf: data, end: len(data), eof: true, line: line, off: offset,
		max: DefaultMaxRecord, prevNL: true, started: true, depthOnly: true, partial: -1}
}

// SetMaxRecord changes the largest record accepted.
func (s *Splitter) SetMaxRecord(n int) {
	if n > 0 {
		s.max = n
	}
}

// Gzipped reports whether the input was gzip-compressed.
func (s *Splitter) Gzipped() bool { return s.gzipped }

// fill reads more input, keeping buf[keep:end]. It returns false at EOF (or
// on a read error, kept in readErr).
func (s *Splitter) fill(keep int) bool {
	if s.eof {
		return false
	}
	if keep > 0 {
		s.prevNL = s.buf[keep-1] == '\n'
		if nl := bytes.LastIndexByte(s.buf[:keep], '\n'); nl >= 0 {
			s.col = keep - nl - 1
		} else {
			s.col += keep
		}
		s.countLines(keep)
		n := copy(s.buf, s.buf[keep:s.end])
		s.off += int64(keep)
		s.pos -= keep
		s.lineOff -= keep
		s.end = n
	}
	// Grow when full, and keep growing to 1 MiB while input keeps coming:
	// small inputs stay cheap, large ones get large reads.
	if s.end == len(s.buf) || (s.end > len(s.buf)/2 && len(s.buf) < 1<<20) {
		if len(s.buf) >= s.max+1<<20 {
			return false
		}
		nb := make([]byte, min(2*len(s.buf), s.max+1<<20))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.readErr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// countLines advances the line counter to buffer index i.
func (s *Splitter) countLines(i int) {
	if i > s.lineOff {
		s.line += bytes.Count(s.buf[s.lineOff:i], []byte{'\n'})
		s.lineOff = i
	}
}

func (s *Splitter) lineAt(i int) int {
	s.countLines(i)
	return s.line
}

// more reads further input, keeping the buffer from i on. It returns where
// i's byte now sits, and false when nothing more can be read.
func (s *Splitter) more(i int) (int, bool) {
	s.pos = i
	ok := s.fill(i)
	return s.pos, ok
}

// Next returns the next record. Problems with the input come back as
// *RecordError, after which Next may be called again; io.EOF ends the stream,
// and any other error is a read failure.
func (s *Splitter) Next() (Record, error) {
	if s.rows != nil {
		if rec, ok, err := s.nextRow(); ok {
			return rec, err
		}
	}
	if s.csv != nil {
		return s.csv.next()
	}
	for {
		i := skipSpace(s.buf[:s.end], s.pos)
		if !s.started {
			// Only the first bytes of a file may be a BOM or a CSV header.
			if s.end-i < 3 && !s.eof {
				if _, ok := s.more(s.pos); ok {
					continue
				}
			}
			s.started = true
			if bytes.HasPrefix(s.buf[i:s.end], []byte("\xef\xbb\xbf")) {
				i += 3
				i = skipSpace(s.buf[:s.end], i)
			}
			s.pos = i
			// A CSV header is judged by its whole first line, however the
			// input arrives.
			for i < s.end && s.buf[i] != '{' && s.buf[i] != '[' && !s.eof &&
				bytes.IndexByte(s.buf[i:s.end], '\n') < 0 && s.end-i < 64<<10 {
				d := i - s.pos
				var ok bool
				if s.pos, ok = s.more(s.pos); !ok {
					break
				}
				i = s.pos + d
			}
			if i < s.end && s.buf[i] != '{' && s.buf[i] != '[' && looksLikeCSV(s.buf[i:s.end]) && !s.jsonFollows(&i) {
				s.csv = newCSVSplitter(s, io.MultiReader(bytes.NewReader(append([]byte(nil), s.buf[i:s.end]...)), s.r), s.lineAt(i), s.off+int64(i), s.buf[i:s.end])
				s.buf = nil // the CSV reader buffers for itself
				return s.csv.next()
			}
		}
		if i >= s.end {
			s.pos = i
			if !s.fill(s.pos) {
				return Record{}, s.endErr()
			}
			continue
		}
		s.pos = i
		c := s.buf[i]
		top := byte(0)
		if len(s.frames) > 0 {
			top = s.frames[len(s.frames)-1]
		}
		switch {
		case c == '{':
			rec, err := s.object(i)
			if rec.Data == nil && err == nil {
				continue // entered an envelope
			}
			return rec, err
		case c == ',' && top != 0:
			s.pos++
			continue
		case c == ']' && isArray(top):
			s.pos++
			s.frames = s.frames[:len(s.frames)-1]
			continue
		case c == '[' && top != frameEnvelope:
			if len(s.frames) >= MaxDepth {
				return Record{}, s.tooDeep(i)
			}
			s.frames = append(s.frames, frameArray)
			s.pos++
			continue
		case c == '}' && top == frameEnvelope:
			s.pos++
			s.frames = s.frames[:len(s.frames)-1]
			continue
		case c == '"' && top == frameEnvelope:
			// A trailing key of an envelope, such as @odata.nextLink.
			if err := s.skipMember(i); err != nil {
				return Record{}, err
			}
			continue
		case isArray(top) && (c == '"' || scalarByte[c]):
			start, end, err := s.scanValue(i)
			if err != nil {
				return Record{}, err
			}
			s.pos = end
			return Record{}, s.pieceErr(start, end, ReasonNotObject, errors.New("array element is not a JSON object"))
		default:
			return Record{}, s.fail(i, i, ReasonInvalidJSON, badByte(s.buf, i, "a JSON object"))
		}
	}
}

func (s *Splitter) endErr() error {
	if s.readErr != nil {
		return s.readErr
	}
	if len(s.frames) > 0 {
		err := s.pieceErr(s.end, s.end, ReasonTruncated, errors.New("input ended inside an array or envelope"))
		s.frames = nil
		return err
	}
	return io.EOF
}

func (s *Splitter) recErr(i int, reason string, err error) *RecordError {
	re := &RecordError{Line: s.lineAt(i), Offset: s.off + int64(i), Reason: reason, Err: err}
	if reason == ReasonTruncated && s.partial < 0 {
		s.partial = re.Offset
	}
	return re
}

// Consumed is how far into the (decompressed) input the splitter has
// finished: past every record and every skipped piece, but not into a record
// that the input ended in the middle of. A follower of a growing file resumes
// there, so a record caught half-written is read whole next time.
//
// For UTF-16 input, whose offsets are not the input's, it is all of the
// input once everything was read and nothing was cut off, else 0: the
// follower then reads the same bytes again next time (the store dedupes
// their alerts), which is safe where a wrong offset would lose records.
func (s *Splitter) Consumed() int64 {
	c := s.consumed()
	if u := s.utf16; u != nil {
		if s.csv == nil && s.eof && s.partial < 0 && c >= s.off+int64(s.end) {
			return u.inTotal
		}
		return 0
	}
	return c
}

func (s *Splitter) consumed() int64 {
	if s.csv != nil {
		return s.csv.off0 + s.csv.r.InputOffset()
	}
	if s.partial >= 0 {
		return s.partial
	}
	return s.off + int64(s.pos)
}

// fail reports a problem with the record that starts at start, found at
// at, and skips past the broken record, passing every skipped byte to the
// matcher (SetMatcher). First it looks for a record that starts later on
// the same line (resyncLine): junk before a record on its line (a NUL block
// from a crashed writer, a torn line, a stray '}') must not cost the record.
// Otherwise, where the record ends is unknowable once it is broken, so
// indentation decides: lines indented deeper than the record's first line
// belong to it (pretty-printed JSON), as does a closing bracket at the same
// depth; the next line indented no deeper starts afresh. For NDJSON that is
// simply the next line, so a truncated line followed by a good one loses
// only the truncated one.
func (s *Splitter) fail(start, at int, reason string, err error) error {
	re := s.recErr(start, reason, err)
	if at > start && at <= s.end {
		if n := bytes.Count(s.buf[start:at], []byte{'\n'}); n > 0 {
			re.Err = fmt.Errorf("%w (at line %d)", err, re.Line+n)
		}
	}
	sameLine := at <= s.end && bytes.IndexByte(s.buf[start:max(start, at)], '\n') < 0
	if reason != ReasonTooLarge && sameLine {
		var j int
		var ok bool
		if start, j, ok = s.resyncLine(start); ok {
			s.startPiece()
			s.addPiece(s.buf[start:j])
			s.pos = j
			return s.endPiece(re)
		}
	}
	s.startPiece()
	ls := bytes.LastIndexByte(s.buf[:start], '\n') + 1
	s.indent = start - ls
	if ls == 0 {
		s.indent += s.col // the line began before the buffer does
	}
	if nl := bytes.IndexByte(s.buf[start:s.end], '\n'); nl >= 0 {
		s.addPiece(s.buf[start : start+nl+1])
		s.pos = start + nl + 1
	} else {
		s.addPiece(s.buf[start:s.end])
		s.pos = s.end
		s.skipLine = true
	}
	s.skipToRecordLine()
	return s.endPiece(re)
}

// tooDeep reports nesting beyond MaxDepth at i and abandons the structure
// it is in: the records around it resume at the next line that starts one.
func (s *Splitter) tooDeep(i int) error {
	s.frames = s.frames[:0]
	return s.fail(i, i, ReasonTooDeep, fmt.Errorf("nesting deeper than %d levels", MaxDepth))
}

// resyncLine looks, on the line of the broken piece at start, for a later
// '{' that starts a valid object which ends the line or is followed by
// another object (or, in an array, by ',' or ']'): the record behind the
// damage. It reads at most resyncWindow bytes of the line and scans at most
// a few times that, so a hostile line costs linear time. It returns where
// start now is (reading moves the buffer), and the record's start.
func (s *Splitter) resyncLine(start int) (newStart, rec int, ok bool) {
	win := min(resyncWindow, s.max)
	for {
		lim := min(s.end, start+win)
		nl := bytes.IndexByte(s.buf[start:lim], '\n')
		if nl < 0 && lim == s.end && !s.eof {
			var more bool
			if start, more = s.more(start); more {
				continue
			}
		}
		lineEnd, complete := lim, s.eof && lim == s.end
		if nl >= 0 {
			lineEnd, complete = start+nl, true
		}
		inArray := len(s.frames) > 0 && isArray(s.frames[len(s.frames)-1])
		budget := 8 * win
		for j := start + 1; j < lineEnd && budget > 0; j++ {
			k := bytes.IndexByte(s.buf[j:lineEnd], '{')
			if k < 0 {
				break
			}
			j += k
			end, stack, err := skipValue(s.buf[:lineEnd], j, s.stack)
			s.stack = stack
			if err != nil {
				var se *syntaxError
				if errors.As(err, &se) {
					budget -= se.off - j + 1
				} else {
					budget -= lineEnd - j
				}
				continue
			}
			budget -= end - j
			f := end
			for f < lineEnd && (s.buf[f] == ' ' || s.buf[f] == '\t' || s.buf[f] == '\r') {
				f++
			}
			if (f == lineEnd && complete) || (f < lineEnd && (s.buf[f] == '{' || inArray && (s.buf[f] == ',' || s.buf[f] == ']'))) {
				return start, j, true
			}
			if f < lineEnd && (s.buf[f] == ',' || s.buf[f] == ']') {
				// The first element of a one-line array behind the damage
				// (a NUL block before a minified Log Analytics export):
				// resume at its '[' so that every element is a record.
				b := j - 1
				for b > start && (s.buf[b] == ' ' || s.buf[b] == '\t' || s.buf[b] == '\r') {
					b--
				}
				if b > start && s.buf[b] == '[' && len(s.frames) < MaxDepth {
					return start, b, true
				}
			}
		}
		return start, 0, false
	}
}

// skipToRecordLine drops the lines of a broken record (see fail), passing
// them to the piece being gathered.
func (s *Splitter) skipToRecordLine() {
	for {
		if s.skipLine {
			nl := bytes.IndexByte(s.buf[s.pos:s.end], '\n')
			if nl < 0 {
				s.addPiece(s.buf[s.pos:s.end])
				s.pos = s.end
				if !s.fill(s.pos) {
					s.skipLine = false
					return
				}
				continue
			}
			s.addPiece(s.buf[s.pos : s.pos+nl+1])
			s.pos += nl + 1
			s.skipLine = false
		}
		i := s.pos
		for i < s.end && (s.buf[i] == ' ' || s.buf[i] == '\t' || s.buf[i] == '\r') {
			i++
		}
		if i-s.pos > 4096 {
			// No record is indented this deep: a run of blanks is junk, and
			// buffering it whole would cost memory.
			s.skipLine = true
			continue
		}
		if i == s.end {
			if !s.fill(s.pos) {
				return
			}
			continue
		}
		c := s.buf[i]
		switch indent := i - s.pos; {
		case c == '\n' || indent > s.indent:
			s.skipLine = true
		case indent == s.indent && (c == '}' || c == ']'):
			// The broken record's own closing bracket.
			s.skipLine = true
			s.indent = math.MaxInt
		default:
			s.pos = i
			return
		}
	}
}

var nlBrace = []byte("\n{")

// wholeLine is the NDJSON fast path. A top-level object that starts a line,
// ends that line with '}', and has balanced brackets on it is the record:
// storage PT1H.json files and NDJSON exports are written that way. Its
// grammar is not checked here, which is the point: records that cannot
// concern a break-glass account are never parsed, and the ones that can are
// decoded (and so validated) by encoding/json. Anything else takes the
// validating path. start is where the record now begins (reading more input
// moves the buffer), whether or not ok.
func (s *Splitter) wholeLine(i int) (start, end int, ok bool) {
	inArray := len(s.frames) > 0
	ls := i
	if inArray { // array elements may be indented
		for ls > 0 && (s.buf[ls-1] == ' ' || s.buf[ls-1] == '\t') {
			ls--
		}
	}
	if !((ls == 0 && s.prevNL) || (ls > 0 && s.buf[ls-1] == '\n')) {
		return i, 0, false
	}
	for {
		nl := bytes.IndexByte(s.buf[i:s.end], '\n')
		if nl < 0 {
			if s.eof || s.end-i > s.max {
				return i, 0, false
			}
			var more bool
			if i, more = s.more(i); !more {
				return i, 0, false
			}
			continue
		}
		line := s.buf[i : i+nl]
		e := len(line)
		for e > 0 && (line[e-1] == '\r' || line[e-1] == ' ' || line[e-1] == '\t') {
			e--
		}
		if inArray && e > 0 && line[e-1] == ',' { // "{...}," in an array
			e--
		}
		line = line[:e]
		if e < 2 || line[e-1] != '}' ||
			bytes.Count(line, []byte{'{'}) != bytes.Count(line, []byte{'}'}) ||
			bytes.Count(line, []byte{'['}) != bytes.Count(line, []byte{']'}) {
			return i, 0, false
		}
		return i, i + e, true
	}
}

// scanValue validates the value at i, reading more input as needed, and
// returns where the value now starts and ends in the buffer.
//
// A record that starts in column 0 ends at the latest before the next line
// that starts with '{' in column 0: that is how NDJSON looks after a writer
// died mid-line, and without this rule the truncated line would swallow the
// good records after it. Pretty-printed JSON indents nested objects, so it is
// not affected.
func (s *Splitter) scanValue(i int) (start, end int, err error) {
	col0 := (i == 0 && s.prevNL) || (i > 0 && s.buf[i-1] == '\n')
	for {
		// Event Hubs payloads are written by Azure Monitor, one per message,
		// and are the bulk of a streaming feed: their records are split by
		// bracket depth alone, and validated only if they are decoded.
		if len(s.frames) > 0 && (s.frames[len(s.frames)-1] == frameRecords || s.depthOnly) && s.buf[i] == '{' {
			end, err = skipBalanced(s.buf[:s.end], i)
		} else {
			end, s.stack, err = skipValue(s.buf[:s.end], i, s.stack)
		}
		if col0 {
			// Look for the next record's line only up to where this one
			// ended or went wrong: a syntax error before it is this
			// record's own.
			lim := s.end
			var se *syntaxError
			if err == nil {
				lim = end
			} else if errors.As(err, &se) {
				lim = min(se.off+1, s.end)
			}
			if k := bytes.Index(s.buf[i:lim], nlBrace); k >= 0 {
				re := s.recErr(i, ReasonInvalidJSON, fmt.Errorf("line %d ends inside the record (truncated line?)", s.lineAt(i)))
				// A record may still start later on the torn line.
				var j int
				var ok bool
				if i, j, ok = s.resyncLine(i); !ok {
					j = i + k + 1
				}
				s.startPiece()
				s.addPiece(s.buf[i:j])
				s.pos = j
				return 0, 0, s.endPiece(re)
			}
		}
		if err == nil {
			return i, end, nil
		}
		if err != errShort {
			var se *syntaxError
			at, reason := i, ReasonInvalidJSON
			if errors.As(err, &se) {
				at = se.off
				if se.deep {
					reason = ReasonTooDeep
				}
			}
			return 0, 0, s.fail(i, at, reason, err)
		}
		if s.end-i > s.max {
			return 0, 0, s.fail(i, s.end, ReasonTooLarge, fmt.Errorf("record exceeds %d bytes", s.max))
		}
		var ok bool
		if i, ok = s.more(i); !ok {
			// The bytes read are kept as evidence even when reading failed
			// (corrupt gzip, SetMaxInput); the read error comes next.
			err := errors.New("input ended inside a record")
			if s.readErr != nil {
				err = fmt.Errorf("input ended inside a record: %w", s.readErr)
			}
			s.pos = s.end
			return 0, 0, s.pieceErr(i, s.end, ReasonTruncated, err)
		}
	}
}

var (
	keyRecords = []byte(`"records"`)
	keyValue   = []byte(`"value"`)
)

// isValueKey reports whether key (quoted) holds an envelope's array of
// records other than Event Hubs': Graph's "value", and the "results" of
// Defender XDR advanced hunting answers (Graph security/runHuntingQuery:
// {"schema":[...],"results":[...]}; the Defender API: {"Stats":{...},
// "Schema":[...],"Results":[...]}).
func isValueKey(key []byte) bool {
	return bytes.Equal(key, keyValue) || bytes.Equal(key, []byte(`"results"`)) || bytes.Equal(key, []byte(`"Results"`))
}

// huntingMeta reports whether key is a member of an advanced hunting answer
// that may come before its results, or of a Log Analytics query answer that
// may come before its tables (render and statistics, which a re-encoding
// that sorts keys puts first), skipped like an @odata annotation.
// Only the walk over leading keys skips it: an object that turns out to
// have no results array is read from its start as a record.
func huntingMeta(key []byte) bool {
	switch string(key) {
	case `"schema"`, `"Schema"`, `"Stats"`, `"stats"`, `"render"`, `"statistics"`:
		return true
	}
	return false
}

// object handles a '{' at i: either an envelope whose array we enter (it
// returns a zero Record and nil error), or a record.
func (s *Splitter) object(i int) (Record, error) {
	// Walk leading keys: @odata.* annotations may precede "value".
	j := skipSpace(s.buf[:s.end], i+1)
	for {
		if s.end-j < 256 && !s.eof {
			d := j - i
			var ok bool
			i, ok = s.more(i)
			// Blanks may continue in what was just read.
			j = skipSpace(s.buf[:s.end], i+d)
			if ok {
				continue
			}
		}
		if j >= s.end || s.buf[j] != '"' {
			break
		}
		kend, err := skipString(s.buf[:s.end], j)
		if err != nil {
			break // let scanValue report it
		}
		key := s.buf[j:kend]
		k := skipSpace(s.buf[:s.end], kend)
		if k >= s.end || s.buf[k] != ':' {
			break
		}
		k = skipSpace(s.buf[:s.end], k+1)
		// key points into the buffer, which reading more input may move.
		isRecords, isValue := bytes.Equal(key, keyRecords), isValueKey(key)
		if keyTables(key) && k < s.end && s.buf[k] == '[' && (len(s.frames) == 0 || s.frames[len(s.frames)-1] == frameArray) {
			// A Log Analytics query answer: columns and rows.
			st, end, err := s.scanValue(i)
			if err != nil {
				return Record{}, err
			}
			s.pos = end
			return s.tables(st, end, false)
		}
		if frameKey(key) {
			// A frame of an ADX v2 answer; a DataTable frame is a table.
			st, end, err := s.scanValue(i)
			if err != nil {
				return Record{}, err
			}
			s.pos = end
			return s.tables(st, end, true)
		}
		if s.payloads && len(s.frames) == 0 && (isRecords || isValue) {
			d := k - i
			var end int
			var ok bool
			if i, end, ok = s.wholeLine(i); ok {
				s.pos = end
				return Record{Data: s.buf[i:end], Line: s.lineAt(i), Offset: s.off + int64(i), Payload: true}, nil
			}
			k = i + d
		}
		if (isRecords || isValue) && k < s.end && s.buf[k] == '[' {
			if len(s.frames)+2 > MaxDepth {
				return Record{}, s.tooDeep(i)
			}
			arr := byte(frameArray)
			if isRecords {
				arr = frameRecords
			}
			s.frames = append(s.frames, frameEnvelope, arr)
			s.pos = k + 1
			return Record{}, nil
		}
		if isRecords || isValue {
			break // "records" or "value" that is not an array: a plain record
		}
		if (len(key) < 3 || key[1] != '@') && !huntingMeta(key) {
			break
		}
		// Skip the annotation's value and look at the next key.
		vend, stack, err := skipValue(s.buf[:s.end], k, s.stack)
		s.stack = stack
		if err == errShort && !s.eof && s.end-i < 1<<20 {
			// A long annotation (a nextLink) read in small pieces: read on
			// and look at this key again.
			d := j - i
			var ok bool
			if i, ok = s.more(i); ok {
				j = i + d
				continue
			}
		}
		if err != nil {
			break
		}
		j = skipSpace(s.buf[:s.end], vend)
		if j < s.end && s.buf[j] == ',' {
			j = skipSpace(s.buf[:s.end], j+1)
			continue
		}
		break
	}
	if len(s.frames) == 0 || s.frames[len(s.frames)-1] == frameArray {
		var end int
		var ok bool
		if i, end, ok = s.wholeLine(i); ok {
			s.pos = end
			return Record{Data: s.buf[i:end], Line: s.lineAt(i), Offset: s.off + int64(i)}, nil
		}
	}
	i, end, err := s.scanValue(i)
	if err != nil {
		return Record{}, err
	}
	s.pos = end
	return Record{Data: s.buf[i:end], Line: s.lineAt(i), Offset: s.off + int64(i)}, nil
}

// skipMember skips `"key": value` inside an envelope. A second "records"
// or "value" array (an envelope carrying both, or a forwarder's own) is
// descended into like the first: its records are records. Any other member
// that is not an annotation ("@odata.nextLink", which names the accounts
// when Graph was asked for them) is matched, and reported as an
// unknown-shape piece when it may concern an account: its bytes must not
// vanish unread.
func (s *Splitter) skipMember(i int) error {
	for {
		kend, err := skipString(s.buf[:s.end], i)
		if err == nil {
			k := skipSpace(s.buf[:s.end], kend)
			if k < s.end && s.buf[k] != ':' {
				return s.fail(i, k, ReasonInvalidJSON, badByte(s.buf, k, "':'"))
			}
			if v := skipSpace(s.buf[:s.end], k+1); k < s.end && v < s.end {
				key := s.buf[i:kend]
				isRecords, isValue := bytes.Equal(key, keyRecords), isValueKey(key)
				annotation := len(key) > 2 && key[1] == '@'
				if (isRecords || isValue) && s.buf[v] == '[' {
					if len(s.frames)+1 > MaxDepth {
						return s.tooDeep(i)
					}
					arr := byte(frameArray)
					if isRecords {
						arr = frameRecords
					}
					s.frames = append(s.frames, arr)
					s.pos = v + 1
					return nil
				}
				d := i - v
				start, end, err := s.scanValue(v)
				if err != nil {
					return err
				}
				s.pos = end
				if m := start + d; !annotation && s.match != nil && m >= 0 {
					re := s.pieceErr(m, end, ReasonUnknownShape, errors.New("an envelope member that is not a record"))
					if re.MayConcern {
						return re
					}
				}
				return nil
			}
		}
		var ok bool
		if i, ok = s.more(i); !ok {
			s.pos = s.end
			return s.pieceErr(i, s.end, ReasonTruncated, errors.New("input ended inside an envelope"))
		}
	}
}

// looksLikeCSV decides from the first line whether the input is a CSV export:
// printable text with at least one comma.
func looksLikeCSV(b []byte) bool {
	line := b
	if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
		line = b[:nl]
	}
	// A header names columns: a '{' means JSON behind junk, not CSV.
	if !utf8.Valid(line) || csvComma(line) == 0 || bytes.IndexByte(line, '{') >= 0 {
		return false
	}
	for _, c := range line {
		if c < 0x20 && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// jsonFollows reports whether the line after the first one (at *i) starts
// with JSON: then the first line is junk before NDJSON (a torn line, a
// preamble with a comma in it), not a CSV header, and its records must be
// read as JSON. It may read more input, moving *i.
func (s *Splitter) jsonFollows(i *int) bool {
	for {
		nl := bytes.IndexByte(s.buf[*i:s.end], '\n')
		if nl < 0 {
			return false
		}
		j := skipSpace(s.buf[:s.end], *i+nl+1)
		if j < s.end {
			return s.buf[j] == '{' || s.buf[j] == '['
		}
		if s.eof || j-*i > 64<<10 {
			return false
		}
		d := *i - s.pos
		var ok bool
		if s.pos, ok = s.more(s.pos); !ok {
			return false
		}
		*i = s.pos + d
	}
}

// csvComma returns the field separator of a CSV header line: Excel's
// "sep=X" hint, else whichever of ',', ';' (Excel in locales with a
// decimal comma) and tab (Excel's "Unicode text") occurs most outside
// quotes; 0 when none does.
func csvComma(line []byte) byte {
	if c, ok := csvSepHint(line); ok {
		return c
	}
	var n [3]int
	quoted := false
	for _, c := range line {
		switch c {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				n[0]++
			}
		case ';':
			if !quoted {
				n[1]++
			}
		case '\t':
			if !quoted {
				n[2]++
			}
		}
	}
	best, comma := 0, byte(0)
	for k, c := range []byte{',', ';', '\t'} {
		if n[k] > best {
			best, comma = n[k], c
		}
	}
	return comma
}

// csvSepHint reads Excel's "sep=X" first line.
func csvSepHint(line []byte) (byte, bool) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 5 && bytes.EqualFold(line[:4], []byte("sep=")) && (line[4] == ',' || line[4] == ';' || line[4] == '\t' || line[4] == '|') {
		return line[4], true
	}
	return 0, false
}

// csvSplitter reads a Log Analytics CSV export.
type csvSplitter struct {
	sp     *Splitter
	in     *csvInput
	r      *csv.Reader
	header []string
	line0  int
	base   int64 // input offset of the CSV text
	off0   int64 // input offset where the current reader started
	buf    []byte
	comma  byte
	// lastLine is the line of the last row whose place was known.
	lastLine int
	// sepHint: the first line is Excel's "sep=X", skipped.
	sepHint bool
}

// newCSVSplitter reads CSV from r, whose first line (in first) is the
// header or Excel's "sep=X" hint.
func newCSVSplitter(sp *Splitter, r io.Reader, line int, off int64, first []byte) *csvSplitter {
	c := &csvSplitter{sp: sp, line0: line, base: off, off0: off, lastLine: line}
	if nl := bytes.IndexByte(first, '\n'); nl >= 0 {
		first = first[:nl]
	}
	c.comma = csvComma(first)
	_, c.sepHint = csvSepHint(first)
	c.in = &csvInput{r: r, c: c}
	c.reader()
	return c
}

// reader starts a CSV reader on the input; after an oversized row it starts
// afresh on the next line.
func (c *csvSplitter) reader() {
	cr := csv.NewReader(c.in)
	if c.comma != 0 {
		cr.Comma = rune(c.comma)
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	c.off0 = c.base + c.in.total - int64(len(c.in.pending))
	c.r = cr
}

var errCSVRowTooLarge = errors.New("CSV row too large")

// maxCSVHeader bounds a CSV header line (Log Analytics' widest table has a
// few hundred columns; the admin center's audit download about 400).
const maxCSVHeader = 1 << 20

// maxCSVFields bounds the separators of one CSV row (see countFields).
const maxCSVFields = 1 << 18

// csvInput feeds the CSV reader and bounds one row: an unclosed quote would
// otherwise make the reader buffer the rest of the input as one field.
type csvInput struct {
	r       io.Reader
	c       *csvSplitter
	since   int64 // bytes handed out since the last row was returned
	total   int64 // bytes read from r
	pending []byte
	scratch []byte
	// With a matcher, every chunk is matched as it passes (the CSV reader
	// keeps the row to itself): lastMatch is the input position after the
	// last chunk that matched, carry the tail of the previous chunk.
	lastMatch int64
	carry     []byte
	joined    []byte
	// fields counts separators since the last row (see countFields).
	fields int
}

func (in *csvInput) Read(p []byte) (int, error) {
	if len(in.pending) > 0 {
		n := copy(p, in.pending)
		in.pending = in.pending[n:]
		in.since += int64(n)
		in.countFields(p[:n])
		return n, nil
	}
	limit := int64(in.c.sp.max) + 64<<10
	if in.c.header == nil {
		// A header names columns: a few hundred, a few KiB. A huge one
		// would cost the CSV reader ten times its size in field slices.
		limit = min(limit, maxCSVHeader)
	}
	if in.since > limit || in.fields > maxCSVFields {
		return 0, errCSVRowTooLarge
	}
	n, err := in.r.Read(p)
	in.since += int64(n)
	in.total += int64(n)
	in.countFields(p[:n])
	if sp := in.c.sp; sp.match != nil && n > 0 {
		b := p[:n]
		k := sp.overlap - 1
		if k > 0 && len(in.carry) > 0 {
			in.joined = append(append(in.joined[:0], in.carry...), b[:min(len(b), k)]...)
		}
		if sp.match(b) || (len(in.joined) > 0 && sp.match(in.joined)) {
			in.lastMatch = in.total
		}
		in.joined = in.joined[:0]
		if k > 0 {
			in.carry = append(in.carry, b[max(0, len(b)-k):]...)
			in.carry = in.carry[len(in.carry)-min(len(in.carry), k):]
		}
	}
	return n, err
}

// countFields counts the separators handed to the CSV reader since it
// last returned a row (quoted ones too: counting in bulk keeps CSV at
// hundreds of MB/s, and a row with a million separators is not a log
// record: 262,144 is some 5 MB of JSON text). A row of 30 MiB of commas made the reader build 30 million
// fields (2.2 GB); maxCSVFields bounds it.
func (in *csvInput) countFields(b []byte) {
	comma := in.c.comma
	if comma == 0 {
		comma = ','
	}
	in.fields += bytes.Count(b, []byte{comma})
}

// rowMatched reports whether the matcher found a needle in the input since
// shortly before the current row began (the CSV reader reads ahead, so the
// row's start is known only to within its buffer): a superset, which is
// what failing closed needs.
func (in *csvInput) rowMatched() bool {
	return in.lastMatch > 0 && in.lastMatch >= in.total-in.since-64<<10
}

// skipLine drops input to the end of the current line, passing it to the
// piece being gathered; what follows the newline is read next.
func (in *csvInput) skipLine() error {
	if in.scratch == nil {
		in.scratch = make([]byte, 32<<10)
	}
	for {
		n, err := in.r.Read(in.scratch)
		b := in.scratch[:n]
		in.total += int64(n)
		if k := bytes.IndexByte(b, '\n'); k >= 0 {
			in.c.sp.addPiece(b[:k+1])
			in.pending = append([]byte(nil), b[k+1:]...)
			in.since, in.fields = 0, 0
			return nil
		}
		in.c.sp.addPiece(b)
		if err != nil {
			in.since, in.fields = 0, 0
			return err
		}
	}
}

func (c *csvSplitter) next() (Record, error) {
	for {
		row, err := c.r.Read()
		line := c.rowLine()
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if errors.Is(err, errCSVRowTooLarge) {
			// Drop the rest of its line, matching what is dropped, and
			// read on with the same header.
			re := &RecordError{Line: line, Offset: c.off0 + c.r.InputOffset(), Reason: ReasonTooLarge,
				Err: fmt.Errorf("CSV row exceeds %d bytes", c.sp.max)}
			c.sp.startPiece()
			rowMatched := c.in.rowMatched()
			skipErr := c.in.skipLine()
			c.sp.pc.matched = c.sp.pc.matched || rowMatched
			c.reader()
			if skipErr != nil && skipErr != io.EOF {
				return Record{}, skipErr
			}
			return Record{}, c.sp.endPiece(re)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Record{}, c.rowErr(&RecordError{Line: pe.StartLine + c.line0 - 1, Offset: c.off0 + c.r.InputOffset(), Reason: ReasonCSV, Err: pe.Err}, nil)
			}
			return Record{}, err
		}
		c.in.since, c.in.fields = 0, 0
		if c.sepHint {
			c.sepHint = false
			continue
		}
		if c.header == nil {
			c.header = make([]string, len(row))
			for i, h := range row {
				c.header[i] = normaliseColumn(h)
			}
			if m := c.sp.match; m != nil && m([]byte(strings.Join(row, ","))) {
				// Column names never name an account: this is not a
				// header but a record that must not pass unread.
				re := &RecordError{Line: line, Offset: c.off0 + c.r.InputOffset(), Reason: ReasonCSV,
					Err: errors.New("a CSV header that names an account")}
				re = c.rowErr(re, row)
				re.MayConcern = true
				return Record{}, re
			}
			continue
		}
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		if len(row) != len(c.header) {
			return Record{}, c.rowErr(&RecordError{Line: line, Offset: c.off0 + c.r.InputOffset(), Reason: ReasonCSV,
				Err: fmt.Errorf("row has %d fields, header has %d", len(row), len(c.header))}, row)
		}
		c.buf = c.buf[:0]
		c.buf = append(c.buf, '{')
		for i, v := range row {
			if v == "" {
				continue
			}
			if len(c.buf) > 1 {
				c.buf = append(c.buf, ',')
			}
			c.buf = appendJSONString(c.buf, c.header[i])
			c.buf = append(c.buf, ':')
			c.buf = appendJSONString(c.buf, v)
		}
		c.buf = append(c.buf, '}')
		return Record{Data: c.buf, Line: line, Offset: c.off0 + c.r.InputOffset(), CSV: true}, nil
	}
}

// rowLine is the input line of the row just read. csv.Reader.FieldPos
// panics when the reader has no field positions, as after a read error on
// the first row (a corrupt gzip stream under a CSV header): then the line
// of the last row read stands in.
func (c *csvSplitter) rowLine() (line int) {
	defer func() {
		if recover() != nil {
			line = c.lastLine
		}
	}()
	l, _ := c.r.FieldPos(0)
	c.lastLine = l + c.line0 - 1
	return c.lastLine
}

// rowErr fills re's evidence from the fields of a bad row.
func (c *csvSplitter) rowErr(re *RecordError, row []string) *RecordError {
	c.sp.startPiece()
	c.sp.addPiece([]byte(strings.Join(row, ",")))
	return c.sp.endPiece(re)
}

// normaliseColumn maps portal CSV headers such as "TimeGenerated [UTC]" or
// "DeviceDetail_dynamic" onto Log Analytics column names.
func normaliseColumn(h string) string {
	h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	if i := strings.Index(h, " ["); i > 0 && strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return strings.TrimSuffix(h, "_dynamic")
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
