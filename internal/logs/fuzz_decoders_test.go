package logs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"breakglass/internal/entra"
)

// One fuzz target per record decoder. Each forces its decoder onto any input,
// so the decoder itself, not the classifier in front of it, meets the
// fuzzer's garbage: it must never panic; it either returns a DecodeError
// with a reason or an event that is honest about what it could not read (a
// time, or TimeUnknown with the time field named; bounded notes).

func fuzzDecoder(f *testing.F, c Class, seeds ...string) {
	for _, name := range seeds {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			recs, _ := collect(f, b)
			for _, r := range recs {
				f.Add(r.Data)
			}
		}
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var ev entra.Event
		err := Decode(in, c, &ev)
		if err == nil {
			if ev.Kind == entra.KindUnknown || ev.Time.IsZero() != ev.TimeUnknown {
				t.Fatalf("decoded without kind, or time and TimeUnknown disagree: %+v", ev)
			}
			if ev.TimeUnknown && len(ev.Unreadable) == 0 {
				t.Fatalf("time unknown but no field named: %+v", ev)
			}
			if len(ev.Unreadable) > maxNotes+1 || (ev.IdentityUnknown != "" && len(ev.Unreadable) == 0) {
				t.Fatalf("notes unbounded or identity problem not named: %+v", ev)
			}
			return
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason == "" || err.Error() == "" {
			t.Fatalf("error without reason: %v", err)
		}
	})
}

func FuzzDecodeGraphSignIn(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeGraphSignIn, Category: entra.CategorySignIn}, "graph-signin-beta-page.json", "graph-signin-single.json")
}

func FuzzDecodeGraphAudit(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeGraphAudit, Category: entra.CategoryAudit}, "graph-audit-page.json")
}

func FuzzDecodeDiagnosticSignIn(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryNonInteractive}, "PT1H.json")
}

func FuzzDecodeDiagnosticAudit(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryAudit}, "PT1H.json")
}

func FuzzDecodeLogAnalyticsSignIn(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeLogAnalytics, Category: entra.CategorySignIn}, "la-signinlogs.json", "la-noninteractive.ndjson")
}

func FuzzDecodeLogAnalyticsAudit(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeLogAnalytics, Category: entra.CategoryAudit}, "la-auditlogs.csv", "real/otrf-AADAuditEvents.json")
}

// FuzzSplitCSV feeds the CSV export reader: header plus rows.
func FuzzSplitCSV(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "la-auditlogs.csv")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("TimeGenerated [UTC],UserId\n\"4/28/2021, 2:08:45 PM\",x\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || in[0] == '{' || in[0] == '[' {
			in = append([]byte("A,B\n"), in...)
		}
		recs, errs := collect(t, in)
		for _, r := range recs {
			if !r.CSV || len(r.Data) < 2 || r.Data[0] != '{' {
				t.Fatalf("bad CSV record %q", r.Data)
			}
		}
		for _, e := range errs {
			if e.Reason == "" {
				t.Fatal("error without reason")
			}
		}
	})
}
