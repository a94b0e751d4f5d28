package logs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Tests for the hostile-input findings of issue 7 item 12 that concern the
// splitter: memory, junk before a record, and failing closed on skipped
// input.

const needle = "6a1e3f0c-2b7d-4c59-9e84-0d2f5a7b1c93"

// needleMatch is the prefilter the scanner passes: it does not allocate,
// which matters to the memory tests.
var needleMatch = NewPrefilter([]string{needle}).Match

// splitWith splits in with a matcher set and returns the records (copied)
// and the errors.
func splitWith(t testing.TB, r io.Reader, maxRecord int) (recs []Record, errs []*RecordError) {
	t.Helper()
	sp, err := NewSplitter(r)
	if err != nil {
		t.Fatal(err)
	}
	sp.SetMaxRecord(maxRecord)
	sp.SetMatcher(needleMatch, len(needle))
	for n := 0; ; n++ {
		if n > 1<<24 {
			t.Fatal("splitter does not terminate")
		}
		rec, err := sp.Next()
		if err == io.EOF {
			return
		}
		var re *RecordError
		if errors.As(err, &re) {
			errs = append(errs, re)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rec.Data = append([]byte(nil), rec.Data...)
		recs = append(recs, rec)
	}
}

// TestSplitJunkBeforeRecord: any junk before a valid record on its line (a
// NUL block from a crashed writer, a torn line, a stray '}') costs only the
// junk, counted as one skipped piece at its offset with the junk as Head.
func TestSplitJunkBeforeRecord(t *testing.T) {
	rec := func(i int) string { return fmt.Sprintf(`{"id":"r%d","x":{"y":[1,{"z":"}"}]}}`, i) }
	nul := strings.Repeat("\x00", 4096)
	var every, atStart, pretty strings.Builder
	atStart.WriteString(nul)
	for i := range 100 {
		every.WriteString(nul + rec(i) + "\n")
		atStart.WriteString(rec(i) + "\n")
	}
	pretty.WriteString("[\n  " + nul + rec(0) + ",\n  " + rec(1) + "\n]\n")
	tests := []struct {
		name    string
		in      string
		want    int      // records found
		reasons []string // in order
		heads   []string // Head of each error
		offsets []int64
	}{
		{"NUL block before every record", every.String(), 100, repeat(ReasonInvalidJSON, 100), repeat(nul, 100), nil},
		{"NUL block at start", atStart.String(), 100, []string{ReasonInvalidJSON}, []string{nul}, []int64{0}},
		{"torn line", `{"id":"a","x":{"y` + rec(1) + "\n" + rec(2) + "\n", 2,
			[]string{ReasonInvalidJSON}, []string{`{"id":"a","x":{"y`}, []int64{0}},
		{"torn line inside a string", `{"id":"a","x":{"q":"abc` + rec(1) + "\n", 1,
			[]string{ReasonInvalidJSON}, []string{`{"id":"a","x":{"q":"abc`}, nil},
		{"torn line into the next line", `{"id":"a","x":[` + rec(1) + "\n" + rec(2) + "\n", 2,
			[]string{ReasonInvalidJSON}, []string{`{"id":"a","x":[`}, nil},
		{"stray brace", rec(0) + "\n}" + rec(1) + "\n", 2, []string{ReasonInvalidJSON}, []string{"}"}, []int64{int64(len(rec(0)) + 1)}},
		{"stray brace at start (not CSV)", "}" + rec(1) + "\n" + rec(2) + "\n", 2, []string{ReasonInvalidJSON}, []string{"}"}, []int64{0}},
		{"text before record", "garbage: " + rec(1) + "\r\n", 1, []string{ReasonInvalidJSON}, []string{"garbage: "}, nil},
		{"junk then two records", "\x00\x00" + rec(1) + rec(2) + "\n", 2, []string{ReasonInvalidJSON}, []string{"\x00\x00"}, nil},
		{"junk inside array", pretty.String(), 2, []string{ReasonInvalidJSON}, []string{nul}, nil},
		// No valid record on the line: the whole line is the piece.
		{"junk only", "\x00\x01{bad\n" + rec(1) + "\n", 1, []string{ReasonInvalidJSON}, []string{"\x00\x01{bad\n"}, nil},
		// An inner object of a broken record that does not end the line is
		// not mistaken for a record.
		{"broken record with inner object", `{"a":{"b":1},"c":tru]}` + "\n" + rec(1) + "\n", 1, []string{ReasonInvalidJSON}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range []struct {
				name string
				r    io.Reader
			}{{"whole", strings.NewReader(tt.in)}, {"one byte", &oneByteReader{strings.NewReader(tt.in)}}} {
				recs, errs := splitWith(t, rd.r, DefaultMaxRecord)
				if len(recs) != tt.want {
					t.Errorf("%s: %d records, want %d; errors %v", rd.name, len(recs), tt.want, errs)
				}
				for _, r := range recs {
					if !bytes.HasPrefix(r.Data, []byte(`{"id":"r`)) {
						t.Errorf("%s: unexpected record %q", rd.name, r.Data)
					}
				}
				var reasons []string
				for i, e := range errs {
					reasons = append(reasons, e.Reason)
					if i < len(tt.heads) && string(e.Head) != tt.heads[i] {
						t.Errorf("%s: error %d Head = %q, want %q", rd.name, i, e.Head, tt.heads[i])
					}
					if i < len(tt.offsets) && e.Offset != tt.offsets[i] {
						t.Errorf("%s: error %d offset = %d, want %d", rd.name, i, e.Offset, tt.offsets[i])
					}
				}
				if strings.Join(reasons, ",") != strings.Join(tt.reasons, ",") {
					t.Errorf("%s: reasons %v, want %v", rd.name, reasons, tt.reasons)
				}
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestSplitTooDeep: nesting beyond MaxDepth is skipped as one piece and
// the records after it are still found.
func TestSplitTooDeep(t *testing.T) {
	rec := `{"id":"good"}`
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"arrays around records", strings.Repeat("[", 100000) + "\n" + rec + "\n", 1},
		{"arrays, one per line", strings.Repeat("[\n", 2000) + rec + "\n", 1},
		{"inside a record", `[{"a":` + deep("[", "]", 2000) + "}]\n" + rec + "\n", 1},
		{"inside a pretty record", "{\n  \"a\": " + deep("[", "]", 2000) + "\n}\n" + rec + "\n", 1},
		{"envelopes", strings.Repeat(`{"records":[`, 1000) + "\n" + rec + "\n", 1},
		{"just under the limit", strings.Repeat("[", MaxDepth-1) + rec + strings.Repeat("]", MaxDepth-1) + "\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs := splitWith(t, strings.NewReader(tt.in), DefaultMaxRecord)
			if len(recs) != tt.want {
				t.Fatalf("%d records, want %d; errors %v", len(recs), tt.want, errs)
			}
			if tt.name != "just under the limit" {
				if len(errs) == 0 || errs[0].Reason != ReasonTooDeep {
					t.Errorf("errors %v, want %s first", errs, ReasonTooDeep)
				}
			}
		})
	}
}

// chunkReader returns at most n bytes per Read, so that a test decides
// where the splitter's chunks of a skipped piece end.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestSplitMayConcern: every skipped piece is matched in full, including a
// record far over the size limit streamed past in chunks with the needle
// across a chunk boundary; Head is bounded and is the piece's start.
func TestSplitMayConcern(t *testing.T) {
	const limit = 4096
	big := func(at int) string {
		pad := strings.Repeat("a", 100000)
		return `{"id":"big","pad":"` + pad[:at] + needle + pad[at:] + `"}`
	}
	good := `{"id":"good"}`
	for _, at := range []int{0, 3000, 50000, 99999} {
		for _, chunk := range []int{1 << 20, 4093, 1000, 7} {
			name := fmt.Sprintf("needle at %d, chunks of %d", at, chunk)
			t.Run(name, func(t *testing.T) {
				in := good + "\n" + big(at) + "\n" + good + "\n"
				recs, errs := splitWith(t, &chunkReader{strings.NewReader(in), chunk}, limit)
				if len(recs) != 2 || len(errs) != 1 {
					t.Fatalf("%d records, errors %v", len(recs), errs)
				}
				e := errs[0]
				if e.Reason != ReasonTooLarge || !e.MayConcern {
					t.Errorf("reason %s MayConcern %v, want too_large and true", e.Reason, e.MayConcern)
				}
				if len(e.Head) > MaxHead || !bytes.HasPrefix(e.Head, []byte(`{"id":"big"`)) {
					t.Errorf("Head: %d bytes, starts %q", len(e.Head), e.Head[:min(20, len(e.Head))])
				}
			})
		}
	}
	// Every position of the needle across every chunk boundary of a small
	// chunk size.
	for at := 0; at < 40; at++ {
		in := big(3000 + at)
		_, errs := splitWith(t, &chunkReader{strings.NewReader(in + "\n"), 16}, limit)
		if len(errs) != 1 || !errs[0].MayConcern {
			t.Fatalf("needle at %d: errors %v", at, errs)
		}
	}
	// A piece without the needle does not concern anyone.
	other := strings.Replace(big(10), needle, "someone-else", 1)
	_, errs := splitWith(t, strings.NewReader(other+"\n"), limit)
	if len(errs) != 1 || errs[0].MayConcern {
		t.Errorf("no needle: errors %v, MayConcern set", errs)
	}
	// Every kind of skipped piece carries Head and is matched.
	for _, in := range []string{
		`{"userId":"` + needle + `"]}` + "\n",                            // invalid JSON
		`{"userId":"` + needle + `"`,                                     // truncated
		`{"records":[{"userId":"` + needle + `"` + "\n",                  // truncated in an envelope
		`{"userId":"` + needle + `",` + "\n" + good + "\n",               // torn line
		`[1,"` + needle + `"]`,                                           // not an object
		`{"a":` + strings.Repeat("[", 600) + `"` + needle + `"` + "\n",   // too deep
		"TimeGenerated,UserId\nx,y,z," + needle + "\n",                   // CSV field count
		"\x00\x00" + needle + "\x00" + good + "\n",                       // junk before a record
		strings.Repeat("[", 600) + `{"userId":"` + needle + `"}]` + "\n", // too deep arrays
	} {
		_, errs := splitWith(t, strings.NewReader(in), DefaultMaxRecord)
		found := false
		for _, e := range errs {
			if e.Head == nil {
				t.Errorf("%.40q: error without Head: %v", in, e)
			}
			found = found || e.MayConcern
		}
		if !found {
			t.Errorf("%.40q: no error with MayConcern: %v", in, errs)
		}
	}
}

// TestSplitCSVRowBound: an unclosed quote cannot make the CSV reader buffer
// the rest of the input: the row is cut at the record limit, matched, and
// the rows after its line are read.
func TestSplitCSVRowBound(t *testing.T) {
	in := "TimeGenerated,UserId\n" +
		"a,\"unclosed " + strings.Repeat("x", 100000) + needle + strings.Repeat("y", 10000) + "\n" +
		"b,c\n"
	recs, errs := splitWith(t, strings.NewReader(in), 4096)
	if len(errs) != 1 || errs[0].Reason != ReasonTooLarge || !errs[0].MayConcern {
		t.Fatalf("errors %v", errs)
	}
	// The needle within the part the CSV reader buffered before the limit,
	// and across read boundaries.
	for _, at := range []int{10, 2000, 4000} {
		for _, chunk := range []int{1 << 20, 4096, 7} {
			row := strings.Repeat("x", 100000)
			early := "TimeGenerated,UserId\n" + "a,\"unclosed " + row[:at] + needle + row[at:] + "\n" + "b,c\n"
			_, errs := splitWith(t, &chunkReader{strings.NewReader(early), chunk}, 8192)
			if len(errs) != 1 || !errs[0].MayConcern {
				t.Errorf("needle at %d, reads of %d: errors %v", at, chunk, errs)
			}
		}
	}
	clean := strings.Replace(in, needle, "someone-else", 1)
	if _, errs := splitWith(t, strings.NewReader(clean), 4096); len(errs) != 1 || errs[0].MayConcern {
		t.Errorf("no needle: errors %v", errs)
	}
	if len(recs) != 1 || string(recs[0].Data) != `{"TimeGenerated":"b","UserId":"c"}` {
		t.Fatalf("records %+v", recs)
	}
}

// TestSetMaxInput: input beyond the limit (after decompression) ends with
// an error that wraps ErrInputTooLarge and names the limit; input exactly at
// the limit is read whole.
func TestSetMaxInput(t *testing.T) {
	var plain bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&plain, `{"id":"%06d"}`+"\n", i)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()
	for _, tt := range []struct {
		name  string
		limit int64
		fail  bool
	}{{"over", 100000, true}, {"exact", int64(plain.Len()), false}, {"unlimited", 0, false}} {
		sp, err := NewSplitter(bytes.NewReader(gz.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		sp.SetMaxInput(tt.limit)
		n := 0
		var end error
		for {
			_, err := sp.Next()
			var re *RecordError
			if err == nil {
				n++
				continue
			}
			if errors.As(err, &re) {
				continue
			}
			end = err
			break
		}
		if !tt.fail {
			if end != io.EOF || n != 20000 {
				t.Errorf("%s: %d records, end %v", tt.name, n, end)
			}
			continue
		}
		if !errors.Is(end, ErrInputTooLarge) || !strings.Contains(end.Error(), "100000") {
			t.Errorf("%s: end %v, want ErrInputTooLarge naming 100000", tt.name, end)
		}
		if want := 100000 / 16; n != want {
			t.Errorf("%s: %d records before the limit, want %d", tt.name, n, want)
		}
	}
}

// Memory: the hostile inputs run in a child process (this test binary,
// re-executed) that reports its peak RSS.

const childEnv = "BREAKGLASS_SPLIT_CHILD"

// peakRSS returns this process's VmHWM in bytes.
func peakRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// runChild runs test name in a child with env set and returns the peak RSS
// and the line it reported.
func runChild(t *testing.T, name string, env ...string) (int64, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "CHILD" {
			rss, _ := strconv.ParseInt(f[1], 10, 64)
			return rss, strings.Join(f[2:], " ")
		}
	}
	t.Fatalf("child reported nothing:\n%s", out)
	return 0, ""
}

// repeatReader yields n copies of byte c without holding them.
type repeatReader struct {
	c byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n))
	for i := range k {
		p[i] = r.c
	}
	r.n -= int64(k)
	return k, nil
}

// TestSplitMemoryHostile: 256 MiB of '[' and a gzip bomb that unpacks to
// 1 GiB of '[' keep the splitter's peak RSS bounded; with SetMaxInput the
// bomb is cut off with ErrInputTooLarge.
func TestSplitMemoryHostile(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("without -race or -short: it streams 1.25 GiB")
	}
	switch os.Getenv(childEnv) {
	case "":
	case "brackets":
		splitChild(t, &repeatReader{'[', 256 << 20}, 0)
		return
	case "bomb", "bomb-limited":
		f, err := os.Open(os.Getenv(childEnv + "_FILE"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var limit int64
		if os.Getenv(childEnv) == "bomb-limited" {
			limit = 10 << 20
		}
		splitChild(t, f, limit)
		return
	default:
		return
	}
	bomb := filepath.Join(t.TempDir(), "bomb.gz")
	f, err := os.Create(bomb)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	io.Copy(zw, &repeatReader{'[', 1 << 30})
	zw.Close()
	f.Close()
	fi, _ := os.Stat(bomb)
	t.Logf("gzip bomb: %d bytes compressed, 1 GiB of '[' unpacked", fi.Size())
	const bound = 64 << 20
	for _, c := range []struct{ name, want string }{
		{"brackets", "too_deep"},
		{"bomb", "too_deep"},
		{"bomb-limited", "input too large: more than 10485760 bytes after decompression"},
	} {
		rss, got := runChild(t, t.Name(), childEnv+"="+c.name, childEnv+"_FILE="+bomb)
		t.Logf("%s: peak RSS %d MiB; %s", c.name, rss>>20, got)
		if rss > bound {
			t.Errorf("%s: peak RSS %d MiB, want under %d MiB", c.name, rss>>20, bound>>20)
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: child saw %q, want %q", c.name, got, c.want)
		}
	}
}

// splitChild splits r and reports peak RSS and what ended the input.
func splitChild(t *testing.T, r io.Reader, limit int64) {
	sp, err := NewSplitter(r)
	if err != nil {
		t.Fatal(err)
	}
	sp.SetMaxInput(limit)
	sp.SetMatcher(needleMatch, len(needle))
	reasons := map[string]int{}
	var end error
	for {
		_, err := sp.Next()
		var re *RecordError
		if errors.As(err, &re) {
			reasons[re.Reason]++
			continue
		}
		if err != nil {
			end = err
			break
		}
	}
	fmt.Printf("CHILD %d %v end=%v\n", peakRSS(t), reasons, end)
}
