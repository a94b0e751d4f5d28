package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"breakglass/internal/entra"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	real, _ := filepath.Glob(filepath.Join("testdata", "real", "*.json"))
	formats, _ := filepath.Glob(filepath.Join("testdata", "formats", "*.json"))
	for _, p := range append(append(files, real...), formats...) {
		if b, err := os.ReadFile(p); err == nil && len(b) < 1<<16 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"records":[{"category":"SignInLogs","properties":{}}]}`))
	f.Add([]byte("\xef\xbb\xbf[{\"Type\":\"AuditLogs\",\"InitiatedBy\":\"{\\\"user\\\":{}}\"}]"))
}

// FuzzSplitter: any input is split without panicking or looping, records are
// JSON objects within the input, and errors carry a reason.
func FuzzSplitter(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		sp, err := NewSplitter(bytes.NewReader(in))
		if err != nil {
			return // bad gzip header
		}
		for i := 0; i < 4*len(in)+16; i++ {
			r, err := sp.Next()
			if err == io.EOF {
				return
			}
			var re *RecordError
			if errors.As(err, &re) {
				if re.Reason == "" || re.Line < 1 {
					t.Fatalf("record error without place or reason: %+v", re)
				}
				continue
			}
			if err != nil {
				if sp.Gzipped() {
					return
				}
				t.Fatalf("unexpected error: %v", err)
			}
			if !sp.Gzipped() && !r.CSV && !r.Table && (r.Offset < 0 || r.Offset+int64(len(r.Data)) > int64(len(in))) {
				t.Fatalf("record outside input: off %d len %d", r.Offset, len(r.Data))
			}
			if len(r.Data) == 0 || (r.Data[0] != '{') {
				t.Fatalf("record is not an object: %q", r.Data)
			}
		}
		t.Fatalf("splitter did not finish")
	})
}

// splitAll returns every record of in as "line:offset:data", and whether any
// problem was reported. With payloads on, payloads are split the way scan
// workers split them.
func splitAll(in []byte, payloads bool) (out []string, problems bool) {
	sp, err := NewSplitter(bytes.NewReader(in))
	if err != nil {
		return nil, true
	}
	sp.SetPayloads(payloads)
	for n := 0; n < 4*len(in)+16; n++ {
		r, err := sp.Next()
		if err == io.EOF {
			return out, problems
		}
		if err != nil {
			problems = true
			continue
		}
		if !r.Payload {
			out = append(out, fmt.Sprintf("%d:%d:%s", r.Line, r.Offset, r.Data))
			continue
		}
		ps := NewPayloadSplitter(append([]byte(nil), r.Data...), r.Line, r.Offset)
		for {
			pr, err := ps.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				problems = true
				continue
			}
			out = append(out, fmt.Sprintf("%d:%d:%s", pr.Line, pr.Offset, pr.Data))
		}
	}
	return out, true
}

// FuzzPayloadSplit: for input that both modes split without problems,
// handing one-line payloads to NewPayloadSplitter yields exactly the records
// that splitting in place does.
func FuzzPayloadSplit(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		direct, p1 := splitAll(in, false)
		viaPayload, p2 := splitAll(in, true)
		if p1 || p2 {
			return
		}
		if strings.Join(direct, "\n") != strings.Join(viaPayload, "\n") {
			t.Fatalf("payload mode differs:\n%q\n%q", direct, viaPayload)
		}
	})
}

// FuzzDecode: classification and decoding never panic, and a record that
// decodes has a time and a monitored category.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := Classify(in)
		var ev entra.Event
		if err := Decode(in, c, &ev); err == nil {
			if ev.Time.IsZero() && !c.Monitored() {
				t.Fatalf("decoded without time or category: %+v", ev)
			}
			var de *DecodeError
			_ = errors.As(err, &de)
		} else {
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("decode error without reason: %v", err)
			}
		}
	})
}

// FuzzParseTime: never panics; a parsed time is UTC.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-06-20T05:12:33Z", "2019-03-12T16:02:15.5522137+00:00", "4/28/2021, 2:08:45.221 PM", "2021-08-02 13:29:25.983", "",
		"1/9/2007 10:41:00 AM +01:00", "Tue, 09 Jan 2007 09:41:00 GMT", "1168335660", "1168335660000.5", "-62135596800", "1999-12-31T23:59:59Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			return
		}
		// A parsed time is UTC and can be written as RFC 3339 (stores
		// and webhooks serialise it).
		if tm.Location() != time.UTC {
			t.Fatalf("not UTC: %v", tm)
		}
		if _, err := tm.MarshalJSON(); err != nil {
			t.Fatalf("ParseTime(%q) = %v, which cannot be serialised: %v", s, tm, err)
		}
	})
}

// FuzzPrefilter: the prefilter never rejects a record in which a needle
// occurs in any ASCII case.
func FuzzPrefilter(f *testing.F) {
	f.Add([]byte(`{"userId":"7D5F3B2A-4c1e-4f6b-9a8d-2e3c4b5a6f70"}`), uint8(3))
	f.Add([]byte(`{"u":"Bg-Admin1@Contoso.onmicrosoft.com"}`), uint8(0))
	needles := []string{"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", "bg-admin1@contoso.onmicrosoft.com"}
	p := NewPrefilter(needles)
	f.Fuzz(func(t *testing.T, in []byte, flip uint8) {
		for _, n := range needles {
			idx := bytes.Index(lowerASCII(nil, in), []byte(n))
			if idx >= 0 && !p.Match(in) {
				t.Fatalf("prefilter missed %q in %q", n, in)
			}
		}
		// Insert a needle with some letters upper-cased and check it is found.
		n := []byte(needles[int(flip)%2])
		for i := range n {
			if flip&(1<<(i%8)) != 0 && n[i] >= 'a' && n[i] <= 'z' {
				n[i] -= 32
			}
		}
		mid := len(in) / 2
		rec := append(append(append([]byte{}, in[:mid]...), n...), in[mid:]...)
		if !p.Match(rec) {
			t.Fatalf("prefilter missed inserted needle in %q", rec)
		}
		// Decorations that entra.CanonicalID removes keep the needle in
		// the bytes, so the prefilter passes decorated ids on to decoding.
		for _, dec := range [][2]string{{"{", "}"}, {"(", ")"}, {"urn:uuid:", ""}, {"{urn:uuid:", "}"}} {
			d := append(append(append(append(append([]byte{}, in[:mid]...), dec[0]...), n...), dec[1]...), in[mid:]...)
			if !p.Match(d) {
				t.Fatalf("prefilter missed decorated needle in %q", d)
			}
		}
		// An escaped letter: Match passes it on, and Find sees through it.
		if i := bytes.IndexFunc(n, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }); i >= 0 {
			esc := fmt.Sprintf(`%s\u%04x%s`, n[:i], n[i], n[i+1:])
			e := append(append(append([]byte{}, in[:mid]...), esc...), in[mid:]...)
			if !p.Match(e) || p.Find(e) < 0 {
				t.Fatalf("escaped needle missed in %q", e)
			}
		}
	})
}

// FuzzFind: Find is exact after undoing \u escapes: it finds a needle
// exactly when the unescaped, folded input contains one; whatever it finds
// the prefilter lets through (so bg.unparsed is never prefiltered away);
// and UnescapeU agrees with encoding/json on valid JSON strings.
func FuzzFind(f *testing.F) {
	f.Add([]byte(`{"u":"\u0037d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"}`))
	f.Add([]byte(`{"u":"\\u0037d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"}`))
	f.Add([]byte(`{"u":"\ud83d\ude00 BG-ADMIN1@contoso.onmicrosoft.com"}`))
	f.Add([]byte(`{"u":"{7D5F3B2A-4C1E-4F6B-9A8D-2E3C4B5A6F70}"}`))
	accts := entra.NewAccountSet([]entra.Account{{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg-admin1@contoso.onmicrosoft.com"}})
	p := NewPrefilter(accts.Needles())
	f.Fuzz(func(t *testing.T, in []byte) {
		got := p.Find(in)
		un := lowerASCII(nil, UnescapeU(in))
		want := -1
		for i, n := range p.Needles() {
			if bytes.Contains(un, []byte(n)) {
				want = i
				break
			}
		}
		if (got >= 0) != (want >= 0) {
			t.Fatalf("Find = %d, naive = %d for %q", got, want, in)
		}
		if got >= 0 {
			if !p.Match(in) {
				t.Fatalf("Find found needle %d but Match rejects %q", got, in)
			}
			if _, ok := accts.MatchAny(p.Needles()[got]); !ok {
				t.Fatalf("needle %q names no account", p.Needles()[got])
			}
		}
		// Only \u escapes are undone: compare with encoding/json where no
		// other escape occurs and the input is valid UTF-8.
		var s string
		if !bytes.ContainsAny(bytes.ReplaceAll(in, []byte(`\u`), nil), `\`) && utf8.Valid(in) && !bytes.ContainsRune(in, utf8.RuneError) &&
			json.Unmarshal(append(append([]byte{'"'}, in...), '"'), &s) == nil && utf8.ValidString(s) {
			if u := string(UnescapeU(in)); u != s && !strings.ContainsRune(s, utf8.RuneError) {
				t.Fatalf("UnescapeU(%q) = %q, json says %q", in, u, s)
			}
		}
	})
}
