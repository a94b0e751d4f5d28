package logs

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

func encodeUTF16(s string, be bool) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if be {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// refUTF16 is the reference transcoding: the whole input at once.
func refUTF16(b []byte, be bool) string {
	units := make([]uint16, len(b)/2)
	for i := range units {
		if be {
			units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			units[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	s := string(utf16.Decode(units))
	if len(b)%2 == 1 {
		s += string(utf8.RuneError)
	}
	return s
}

func readUTF16(t testing.TB, b []byte, be bool, chunk int) string {
	t.Helper()
	u := &utf16Reader{r: &chunkReader{bytes.NewReader(b), chunk}, be: be, in: make([]byte, 7)}
	out, err := io.ReadAll(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestUTF16Reader: streaming transcoding equals the whole-input one, for
// every read size (surrogate pairs split across reads, a tiny buffer).
func TestUTF16Reader(t *testing.T) {
	for _, s := range []string{"", "a", `{"userPrincipalName":"bg@contoso.com"}`, "Break \U0001F510 Glass ü €", "\U0001F510\U0001F510\U0001F510"} {
		for _, be := range []bool{false, true} {
			b := encodeUTF16(s, be)
			for chunk := 1; chunk <= 9; chunk++ {
				if got := readUTF16(t, b, be, chunk); got != s {
					t.Errorf("%q be=%v chunk %d: got %q", s, be, chunk, got)
				}
			}
		}
	}
	// Unpaired surrogates and an odd trailing byte become U+FFFD.
	lone := []byte{0x3d, 0xd8, 'a', 0, 0x00, 0xdc, 'b'}
	if got, want := readUTF16(t, lone, false, 1), refUTF16(lone, false); got != want {
		t.Errorf("lone surrogates: got %q, want %q", got, want)
	}
}

// TestSplitEncodings: UTF-16 with and without a BOM, and gzip inside gzip,
// split into the same records as the plain input; a NUL block before
// UTF-8 is not mistaken for UTF-16.
func TestSplitEncodings(t *testing.T) {
	plain := `{"a":"` + needle + `"}` + "\r\n" + `{"b":"ü"}` + "\n"
	want := []string{`{"a":"` + needle + `"}`, `{"b":"ü"}`}
	bom := func(b []byte, be bool) []byte {
		if be {
			return append([]byte{0xfe, 0xff}, b...)
		}
		return append([]byte{0xff, 0xfe}, b...)
	}
	cases := map[string][]byte{
		"utf-16le bom":  bom(encodeUTF16(plain, false), false),
		"utf-16be bom":  bom(encodeUTF16(plain, true), true),
		"utf-16le":      encodeUTF16(plain, false),
		"utf-16be":      encodeUTF16(plain, true),
		"gzip of gzip":  gzipBytes(t, gzipBytes(t, []byte(plain))),
		"gzip of utf16": gzipBytes(t, bom(encodeUTF16(plain, false), false)),
	}
	for name, in := range cases {
		recs, errs := splitWith(t, bytes.NewReader(in), DefaultMaxRecord)
		var got []string
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(errs) != 0 {
			t.Errorf("%s: records %q, errors %v", name, got, errs)
		}
	}
	// Four layers: the fourth is left compressed (and reported as junk).
	in := []byte(plain)
	for range 4 {
		in = gzipBytes(t, in)
	}
	if recs, _ := splitWith(t, bytes.NewReader(in), DefaultMaxRecord); len(recs) != 0 {
		t.Errorf("gzip layers beyond %d were peeled: %d records", maxGzipLayers, len(recs))
	}
	nul := append(bytes.Repeat([]byte{0}, 40), plain...)
	if recs, _ := splitWith(t, bytes.NewReader(nul), DefaultMaxRecord); len(recs) != 2 {
		t.Errorf("NUL block before UTF-8: %d records, want 2", len(recs))
	}
}

func FuzzUTF16Reader(f *testing.F) {
	f.Add([]byte(encodeUTF16("Break \U0001F510 Glass", false)), uint8(1), false)
	f.Add([]byte{0x3d, 0xd8, 'a'}, uint8(2), true)
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8, be bool) {
		if got, want := readUTF16(t, b, be, int(chunk%16)+1), refUTF16(b, be); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLocateHit: the window kept around a match contains the needle, is
// bounded, and is found wherever the needle lies in a large piece.
func TestLocateHit(t *testing.T) {
	s := &Splitter{}
	s.SetMatcher(needleMatch, len(needle))
	for _, size := range []int{10, MaxHit, 3*MaxHit + 7, 1 << 20} {
		for _, at := range []int{0, 1, size / 3, size / 2, size - 1, size} {
			b := []byte(strings.Repeat("x", at) + needle + strings.Repeat("y", size-at))
			hit := s.locate(b)
			if !bytes.Contains(hit, []byte(needle)) || len(hit) > MaxHit {
				t.Fatalf("size %d at %d: hit of %d bytes %.40q", size, at, len(hit), hit)
			}
		}
	}
}

// TestConsumedUTF16: a follower resumes a stream at Consumed, an offset
// into the file; transcoded offsets are not the file's, so Consumed is all
// of the input once it was read completely, else 0 (read again), never a
// transcoded offset that would resume mid-record or mid-code-unit.
func TestConsumedUTF16(t *testing.T) {
	whole := append([]byte{0xff, 0xfe}, encodeUTF16(`{"a":"ü"}`+"\n"+`{"b":2}`+"\n", false)...)
	cut := append([]byte{0xff, 0xfe}, encodeUTF16(`{"a":"ü"}`+"\n"+`{"b":`, false)...)
	for _, tc := range []struct {
		in   []byte
		want int64
	}{{whole, int64(len(whole))}, {cut, 0}} {
		sp, err := NewSplitter(bytes.NewReader(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := sp.Next(); err == io.EOF {
				break
			}
		}
		if got := sp.Consumed(); got != tc.want {
			t.Errorf("Consumed %d, want %d", got, tc.want)
		}
	}
}
