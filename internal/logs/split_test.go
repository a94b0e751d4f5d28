package logs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// collect splits all of input and returns the records (copied) and errors.
func collect(t testing.TB, input []byte) (recs []Record, errs []*RecordError) {
	t.Helper()
	sp, err := NewSplitter(bytes.NewReader(input))
	if err != nil {
		t.Fatalf("NewSplitter: %v", err)
	}
	for i := 0; ; i++ {
		if i > 10*len(input)+100 {
			t.Fatalf("splitter does not terminate")
		}
		r, err := sp.Next()
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
		r.Data = append([]byte(nil), r.Data...)
		recs = append(recs, r)
	}
}

func TestSplitFramings(t *testing.T) {
	rec := `{"id":"a","x":{"y":[1,2,{"z":"}]"}]}}`
	tests := []struct {
		name    string
		in      string
		records []string
		lines   []int
		reasons []string
	}{
		{"ndjson", rec + "\n" + rec + "\n", []string{rec, rec}, []int{1, 2}, nil},
		{"crlf", rec + "\r\n" + rec + "\r\n", []string{rec, rec}, []int{1, 2}, nil},
		{"no final newline", rec, []string{rec}, []int{1}, nil},
		{"concatenated", rec + rec, []string{rec, rec}, []int{1, 1}, nil},
		{"array", "[\n" + rec + ",\n" + rec + "\n]\n", []string{rec, rec}, []int{2, 3}, nil},
		{"empty array", "[]", nil, nil, nil},
		{"records envelope", `{"records":[` + rec + "," + rec + `]}`, []string{rec, rec}, []int{1, 1}, nil},
		{"value envelope with annotations", `{"@odata.context":"x","@odata.nextLink":"y","value":[` + rec + `],"@odata.deltaLink":"z"}` + "\n" + rec, []string{rec, rec}, []int{1, 2}, nil},
		{"single entity with context", `{"@odata.context":"x","id":"b"}`, []string{`{"@odata.context":"x","id":"b"}`}, []int{1}, nil},
		{"envelope inside array", `[{"records":[` + rec + `]},{"records":[` + rec + `]}]`, []string{rec, rec}, []int{1, 1}, nil},
		{"pretty", "{\n  \"id\": \"a\",\n  \"v\": [\n    1\n  ]\n}\n", []string{"{\n  \"id\": \"a\",\n  \"v\": [\n    1\n  ]\n}"}, []int{1}, nil},
		{"bom", "\xef\xbb\xbf" + rec, []string{rec}, []int{1}, nil},
		{"empty", "", nil, nil, nil},
		{"whitespace only", " \n\t\n", nil, nil, nil},
		{"truncated line then good", rec[:20] + "\n" + rec + "\n", []string{rec}, []int{2}, []string{ReasonInvalidJSON}},
		{"truncated at eof", rec + "\n" + rec[:20], []string{rec}, []int{1}, []string{ReasonTruncated}},
		{"garbage line", "\x00\x01\xff\n" + rec, []string{rec}, []int{2}, []string{ReasonInvalidJSON}},
		{"scalars in array", "[1,\"a\",null," + rec + "]", []string{rec}, []int{1}, []string{ReasonNotObject, ReasonNotObject, ReasonNotObject}},
		{"trailing comma in pretty element", "{\"value\": [\n  {\n    \"a\": [\n      1,\n    ]\n  },\n  " + rec + "\n]}\n", []string{rec}, []int{7}, []string{ReasonInvalidJSON}},
		{"unterminated envelope", `{"records":[` + rec, []string{rec}, []int{1}, []string{ReasonTruncated}},
		{"mismatched bracket", `{"a":[1}` + "\n" + rec, []string{rec}, []int{2}, []string{ReasonInvalidJSON}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs := collect(t, []byte(tt.in))
			var got []string
			var lines []int
			for _, r := range recs {
				got = append(got, string(r.Data))
				lines = append(lines, r.Line)
			}
			if strings.Join(got, "|") != strings.Join(tt.records, "|") {
				t.Errorf("records:\n got %q\nwant %q", got, tt.records)
			}
			if len(lines) == len(tt.lines) {
				for i := range lines {
					if lines[i] != tt.lines[i] {
						t.Errorf("record %d line = %d, want %d", i, lines[i], tt.lines[i])
					}
				}
			}
			var reasons []string
			for _, e := range errs {
				reasons = append(reasons, e.Reason)
			}
			if strings.Join(reasons, ",") != strings.Join(tt.reasons, ",") {
				t.Errorf("errors = %v, want reasons %v", errs, tt.reasons)
			}
		})
	}
}

func TestSplitCSV(t *testing.T) {
	in := "TimeGenerated [UTC],UserId,Status_dynamic\n" +
		"\"4/28/2021, 2:08:45.221 PM\",abc,\"{\"\"errorCode\"\":0}\"\n" +
		"only,two\n" +
		"\"4/28/2021, 2:09:45 PM\",def,\n"
	recs, errs := collect(t, []byte(in))
	if len(recs) != 2 || len(errs) != 1 || errs[0].Reason != ReasonCSV || errs[0].Line != 3 {
		t.Fatalf("recs=%d errs=%v", len(recs), errs)
	}
	want := `{"TimeGenerated":"4/28/2021, 2:08:45.221 PM","UserId":"abc","Status":"{\"errorCode\":0}"}`
	if string(recs[0].Data) != want || recs[0].Line != 2 || !recs[0].CSV {
		t.Errorf("got %s line %d, want %s", recs[0].Data, recs[0].Line, want)
	}
	if recs[1].Line != 4 {
		t.Errorf("second row line = %d, want 4", recs[1].Line)
	}
}

// TestSplitHugeLine: a 50 MB line of garbage, and a 50 MB record, between good
// records. Neither may stop the run or cost the good records.
func TestSplitHugeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100 MB")
	}
	good := `{"id":"good"}`
	big := bytes.Repeat([]byte("A"), 50<<20)
	var in bytes.Buffer
	in.WriteString(good + "\n")
	in.Write(big)
	in.WriteString("\n" + good + "\n")
	in.WriteString(`{"id":"big","pad":"`)
	in.Write(big)
	in.WriteString("\"}\n" + good + "\n")
	sp, _ := NewSplitter(bytes.NewReader(in.Bytes()))
	sp.SetMaxRecord(16 << 20)
	var ids []string
	var reasons []string
	for {
		r, err := sp.Next()
		if err == io.EOF {
			break
		}
		var re *RecordError
		if errors.As(err, &re) {
			reasons = append(reasons, re.Reason)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, string(r.Data[:min(len(r.Data), 13)]))
	}
	if len(ids) != 3 || strings.Join(reasons, ",") != ReasonInvalidJSON+","+ReasonTooLarge {
		t.Fatalf("ids=%q reasons=%v", ids, reasons)
	}
	// With the default limit the 50 MB record is a record like any other.
	recs, errs := collect(t, in.Bytes())
	if len(recs) != 4 || len(errs) != 1 {
		t.Fatalf("default limit: %d records, errors %v", len(recs), errs)
	}
}

// TestSplitEveryTruncation cuts a multi-shape input at every byte: the
// splitter must never panic or loop, and every record wholly before the cut
// must still come out.
func TestSplitEveryTruncation(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "mixed.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := collect(t, in)
	step := 1
	if testing.Short() {
		step = 37
	}
	for cut := 0; cut <= len(in); cut += step {
		recs, _ := collect(t, in[:cut])
		complete := 0
		for _, r := range full {
			if r.Offset+int64(len(r.Data)) <= int64(cut) {
				complete++
			}
		}
		if len(recs) < complete {
			t.Fatalf("cut at %d: %d records, want at least %d", cut, len(recs), complete)
		}
	}
}

func TestSplitGzipAndSmallReads(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "eventhub.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := collect(t, in)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(in)
	zw.Close()
	for name, r := range map[string]io.Reader{
		"gzip":        bytes.NewReader(gz.Bytes()),
		"one byte":    &oneByteReader{bytes.NewReader(in)},
		"random size": &randReader{r: bytes.NewReader(in), rng: rand.New(rand.NewSource(1))},
	} {
		sp, err := NewSplitter(r)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; ; n++ {
			rec, err := sp.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !bytes.Equal(rec.Data, want[n].Data) || rec.Line != want[n].Line || rec.Offset != want[n].Offset {
				t.Fatalf("%s: record %d differs", name, n)
			}
		}
		if n != len(want) {
			t.Fatalf("%s: %d records, want %d", name, n, len(want))
		}
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) { return o.r.Read(p[:1]) }

type randReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (o *randReader) Read(p []byte) (int, error) { return o.r.Read(p[:1+o.rng.Intn(len(p))]) }

func TestCorruptGzip(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(zw, `{"id":"%x"}`+"\n", rng.Uint64())
	}
	zw.Close()
	b := gz.Bytes()
	b = b[:len(b)/2]
	sp, err := NewSplitter(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := sp.Next()
		if err == io.EOF {
			t.Fatal("corrupt gzip ended cleanly")
		}
		var re *RecordError
		if err != nil && !errors.As(err, &re) {
			break // read error reported
		}
		if err == nil {
			n++
		}
	}
	if n == 0 {
		t.Error("no records before the corruption")
	}
}

func TestConsumed(t *testing.T) {
	rec := `{"id":"a"}`
	for _, tt := range []struct {
		in   string
		want int
	}{
		{rec + "\n" + rec + "\n", 2*len(rec) + 2},
		{rec + "\n" + rec[:5], len(rec) + 1},                    // half-written last line
		{"[" + rec + "," + rec[:4], 1 + len(rec) + 1},           // cut inside an array
		{rec + "\n\x00garbage\n" + rec + "\n", 2*len(rec) + 11}, // bad input is consumed too
	} {
		sp, _ := NewSplitter(strings.NewReader(tt.in))
		for {
			if _, err := sp.Next(); err == io.EOF {
				break
			}
		}
		if got := sp.Consumed(); got != int64(tt.want) {
			t.Errorf("Consumed(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestSplitReadSizes: how the input arrives (one byte at a time, small
// chunks, whole) never changes what the splitter finds, for every real
// export in testdata. Skipping a broken pretty-printed record after the
// buffer has moved, envelope annotations longer than one read, and
// telling a CSV header, once depended on it.
func TestSplitReadSizes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "real", "*"))
	for _, pat := range []string{"*.json*", "*.csv", "*.ndjson"} {
		more, _ := filepath.Glob(filepath.Join("testdata", pat))
		files = append(files, more...)
	}
	for _, p := range files {
		in, err := os.ReadFile(p)
		if err != nil || len(in) > 1<<20 {
			continue
		}
		want := splitSummary(t, bytes.NewReader(in))
		for _, n := range []int{1, 7, 100, 4096} {
			if got := splitSummary(t, &chunkReader{bytes.NewReader(in), n}); got != want {
				t.Errorf("%s in reads of %d bytes:\n got %s\nwant %s", p, n, got, want)
			}
		}
	}
}

// splitSummary splits r and sums up what came out.
func splitSummary(t *testing.T, r io.Reader) string {
	t.Helper()
	sp, err := NewSplitter(r)
	if err != nil {
		return err.Error()
	}
	var out []string
	for {
		rec, err := sp.Next()
		if err == io.EOF {
			return strings.Join(out, "; ")
		}
		var re *RecordError
		if errors.As(err, &re) {
			out = append(out, fmt.Sprintf("%s@%d:%d", re.Reason, re.Line, re.Offset))
			continue
		}
		if err != nil {
			return strings.Join(out, "; ") + "; " + err.Error()
		}
		out = append(out, fmt.Sprintf("%d:%d:%d", rec.Line, rec.Offset, len(rec.Data)))
	}
}
