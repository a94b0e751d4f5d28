package logs

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// TestTablesRowsLazy: a query answer whose rows expand (every row repeats
// every column name) is yielded row by row: the heap stays near the
// document plus one row, where building every row at once would take
// about 800 MB here.
func TestTablesRowsLazy(t *testing.T) {
	if raceEnabled {
		t.Skip("streams about 800 MB of rows; run without -race")
	}
	const cols, rows = 200, 2000
	var b bytes.Buffer
	b.WriteString(`{"tables":[{"name":"PrimaryResult","columns":[`)
	for c := range cols {
		if c > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":"` + strings.Repeat("x", 2000) + string(rune('A'+c%26)) + `","type":"string"}`)
	}
	b.WriteString(`],"rows":[`)
	row := "[" + strings.TrimSuffix(strings.Repeat("0,", cols), ",") + "]"
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString("]}]}")
	sp, err := NewSplitter(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	var ms runtime.MemStats
	n := 0
	for {
		rec, err := sp.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Table {
			t.Fatalf("record %d not a table row", n)
		}
		n++
		if n%100 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if n != rows {
		t.Fatalf("%d rows, want %d", n, rows)
	}
	if peak > 64<<20 {
		t.Fatalf("heap peaked at %d MiB for a %d KiB document", peak>>20, b.Len()>>10)
	}
}

// TestTablesBadShapes: what does not read as one table fails closed: rows
// that do not fit the columns, or expand past the record limit, are pieces
// (matched like skipped input); two "tables" members, or two "columns",
// make the document one record (an unknown shape to the classifier).
func TestTablesBadShapes(t *testing.T) {
	const bg = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	match := func(b []byte) bool { return bytes.Contains(b, []byte(bg)) }
	cases := []struct {
		name, in string
		max      int
		want     []string // "row", "whole", or an error reason
	}{
		{"short row", `{"tables":[{"columns":[{"name":"A"},{"name":"B"}],"rows":[["` + bg + `"],["x","y"]]}]}`, 0, []string{ReasonUnknownShape, "row"}},
		{"row too large", `{"tables":[{"columns":[{"name":"` + strings.Repeat("n", 200) + `"}],"rows":[["` + bg + `"]]}]}`, 100, []string{ReasonTooLarge}},
		{"two tables members", `{"tables":[],"tables":[{"columns":[{"name":"UserId"}],"rows":[["` + bg + `"]]}]}`, 0, []string{"whole"}},
		{"two columns members", `{"tables":[{"columns":[{"name":"A"}],"columns":[{"name":"B"}],"rows":[["` + bg + `"]]}]}`, 0, []string{"whole"}},
		{"row not an array", `{"tables":[{"columns":[{"name":"A"}],"rows":["` + bg + `"]}]}`, 0, []string{"whole"}},
		{"v2 frame", `[{"FrameType":"DataSetHeader"},{"FrameType":"DataTable","Columns":[{"ColumnName":"UserId","ColumnType":"string"}],"Rows":[["` + bg + `"]]}]`, 0, []string{"whole", "row"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := NewSplitter(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			sp.SetMatcher(match, len(bg))
			if tc.max > 0 {
				sp.SetMaxRecord(tc.max)
			}
			var got []string
			for {
				rec, err := sp.Next()
				if err == io.EOF {
					break
				}
				var re *RecordError
				switch {
				case errors.As(err, &re):
					if re.Reason == tc.want[min(len(got), len(tc.want)-1)] && !re.MayConcern {
						t.Errorf("%s piece naming the account not flagged MayConcern", re.Reason)
					}
					got = append(got, re.Reason)
				case err != nil:
					t.Fatal(err)
				case rec.Table:
					got = append(got, "row")
				default:
					got = append(got, "whole")
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
