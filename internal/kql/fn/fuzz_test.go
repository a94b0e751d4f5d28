package fn

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"breakglass/internal/kql/value"
)

// Fuzz targets for the text parsers among the functions. Each must never
// panic and must keep its own invariants; crashers found are kept in
// testdata/fuzz.

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,"x",null]`, `not json`, ``, `"str"`, `1e400`, `{"a":`, `[[[[[[]]]]]]`, `{"a":1} trailing`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := call(t, "parse_json", S(s))
		if v.T != value.Dynamic {
			t.Fatalf("parse_json gave a %s", v.T)
		}
		// whatever it gives renders, and re-parsing the rendering of a
		// JSON value gives the same value.
		if !v.IsNull() {
			if _, isStr := v.D.(string); !isStr {
				again := value.ParseJSON(value.JSON(v.D))
				if value.JSON(again.D) != value.JSON(v.D) {
					t.Fatalf("parse_json(%q) = %s, which reads back as %s", s, value.JSON(v.D), value.JSON(again.D))
				}
			}
		}
	})
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment", "https://[::1]:80/x", "no url", "http://%zz", "a://b?%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := ParseURL(s)
		for _, k := range []string{"Scheme", "Host", "Port", "Path", "Username", "Password", "Fragment"} {
			if _, ok := m[k].(string); !ok {
				t.Fatalf("parse_url(%q): %s is %T", s, k, m[k])
			}
		}
		if _, ok := m["Query Parameters"].(map[string]any); !ok {
			t.Fatalf("parse_url(%q): Query Parameters is %T", s, m["Query Parameters"])
		}
	})
}

func FuzzParseUserAgent(f *testing.F) {
	for _, s := range []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
		"curl/8.4.0", "", "Windows NT 99.99", "Mac OS X 10_",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := ParseUserAgent(s, []string{"browser", "os", "device"})
		for _, part := range []string{"Browser", "OperatingSystem"} {
			p, ok := m[part].(map[string]any)
			if !ok {
				t.Fatalf("parse_user_agent(%q): %s is %T", s, part, m[part])
			}
			if n, _ := p["Family"].(string); n == "" {
				t.Fatalf("parse_user_agent(%q): %s has no name", s, part)
			}
		}
	})
}

func FuzzToDateTime(f *testing.F) {
	for _, s := range []string{"2015-12-31 23:59:59.9", "2015-12-31", "2024-02-03T04:05:06+02:00", "Sat, 8 Nov 2014 15:05:02 GMT", "1/2/2024 3:04:05 PM", "9999-12-31T23:59:59.9999999Z", "0001-01-01", "2023-02-30", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := call(t, "todatetime", S(s))
		if v.IsNull() {
			return
		}
		// what parses renders as ISO 8601 and reads back to the same instant.
		back := call(t, "todatetime", S(v.String()))
		if back.IsNull() || back.I != v.I {
			t.Fatalf("todatetime(%q) = %s, which reads back as %s", s, v.String(), show(back))
		}
	})
}

func FuzzToTimeSpan(f *testing.F) {
	for _, s := range []string{"0.00:01:00", "1.02:03:04.5", "-00:00:01", "1d", "1.5h", "100ms", "10microsecond", "5tick", "23:59", "x", "99999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := call(t, "totimespan", S(s))
		if v.IsNull() {
			return
		}
		back := call(t, "totimespan", S(v.String()))
		if back.IsNull() || back.I != v.I {
			t.Fatalf("totimespan(%q) = %s, which reads back as %s", s, v.String(), show(back))
		}
	})
}

func FuzzFormatDateTime(f *testing.F) {
	for _, s := range []string{"yyyy-MM-dd HH:mm:ss.fffffff", "y-M-d h:m:s tt", "FFFFFFF", "[dd/MM/yy]", "", strings.Repeat("y", 100)} {
		f.Add(s, int64(1700000000123456700))
	}
	f.Fuzz(func(t *testing.T, format string, ns int64) {
		tm := time.Unix(0, ns).UTC()
		out := FormatDateTime(tm, format)
		if len(out) > 4096+len(format)+64 {
			t.Fatalf("format_datetime output of %d bytes for a %d-byte format", len(out), len(format))
		}
		if utf8.ValidString(format) && !utf8.ValidString(out) {
			t.Fatalf("format_datetime(%q) made invalid UTF-8: %q", format, out)
		}
		_ = FormatTimeSpanAs(time.Duration(ns), format)
	})
}

func FuzzParseXML(f *testing.F) {
	for _, s := range []string{`<e/>`, `<e name="value">text</e>`, `<e> <a>text</a> <a>text</a> </e>`, `<?xml version="1.0"?><d><v>1.5</v></d>`, `<a><b></a>`, strings.Repeat("<a>", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, ok := ParseXML(s)
		if !ok {
			return
		}
		if _, isBag := x.(map[string]any); !isBag {
			t.Fatalf("parse_xml(%q) = %T, want a bag", s, x)
		}
		_ = value.JSON(x)
	})
}
