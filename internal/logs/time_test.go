package logs

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	ref := time.Date(2007, 1, 9, 9, 41, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2007-01-09T09:41:00Z":               ref,
		"2007-01-09T09:41:00.0000000Z":       ref,
		"2007-01-09T09:41:00.000000000000Z":  ref, // more than 9 fractional digits
		"2007-01-09T10:41:00+01:00":          ref,
		"2007-01-09T09:41:00":                ref,
		"2007-01-09 09:41:00":                ref,
		"2007-01-09T10:41:00+0100":           ref,
		"2007-01-09 09:41:00 UTC":            ref,
		"1/9/2007 10:41:00 AM +01:00":        ref, // offset after AM/PM
		"1/9/2007, 10:41:00 AM +01:00":       ref,
		"1/9/2007 9:41:00 AM":                ref,
		"1/9/2007, 9:41:00.000 AM":           ref,
		"1/9/2007 09:41:00":                  ref,
		"Tue, 09 Jan 2007 09:41:00 GMT":      ref, // RFC 1123
		"Tue, 09 Jan 2007 10:41:00 +0100":    ref, // RFC 1123Z
		"Tue, 9 Jan 2007 10:41:00 +0100":     ref,
		"Tuesday, 09-Jan-07 09:41:00 UTC":    ref, // RFC 850
		"1168335660":                         ref, // epoch seconds
		"1168335660000":                      ref, // epoch milliseconds
		"1168335660000000":                   ref, // microseconds
		"1168335660000000000":                ref, // nanoseconds
		"1168335660.5":                       ref.Add(500 * time.Millisecond),
		"1168335660000.25":                   ref.Add(250 * time.Microsecond),
		"1999-12-31T23:59:59Z":               time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), // no implausible-year rule
		"1970-01-01T00:00:00Z":               time.Unix(0, 0).UTC(),
		"4/28/2021, 2:08:45.221 PM":          time.Date(2021, 4, 28, 14, 8, 45, 221e6, time.UTC),
		"2019-03-12T16:02:15.5522137+00:00":  time.Date(2019, 3, 12, 16, 2, 15, 552213700, time.UTC),
		"  2007-01-09T09:41:00Z  ":           ref,
		"2007-01-09T09:41:00.1234567890123Z": ref.Add(123456789),
	} {
		got, err := ParseTime(in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", "yesterday", "32/13/2024 25:61", "2024-13-45T99:00:00Z", "1.2.3", "-", ".5", "5.", "99999999999999999999"} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", in, got)
		}
	}
}
