package scan

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"breakglass/internal/detect"
	"breakglass/internal/logs"
)

// recordErrorFindings runs one RecordError through the per-record code, as
// the pipeline does for input the splitter skipped.
func recordErrorFindings(t *testing.T, re *logs.RecordError, final ...bool) (*batch, []Problem) {
	t.Helper()
	var problems []Problem
	s := New(Options{Accounts: testAccounts(), Problem: func(p Problem) { problems = append(problems, p) }})
	w := worker{s: s, name: "in", final: len(final) > 0 && final[0]}
	b := &batch{}
	b.stats.init()
	w.recordError(b, re)
	return b, b.problems
}

func TestUnparsedFromRecordError(t *testing.T) {
	escaped := `{"userId":"\u0037d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", "cut off here`
	cases := []struct {
		name    string
		re      logs.RecordError
		alert   bool
		account string
	}{
		{"MayConcern from the splitter, needle beyond Head", logs.RecordError{Reason: logs.ReasonTooLarge, Head: []byte(`{"records":[{"time":"x"`), MayConcern: true}, true, ""},
		{"needle in Head", logs.RecordError{Reason: logs.ReasonInvalidJSON, Head: []byte(`{"userPrincipalName":"BG-ADMIN1@contoso.onmicrosoft.com",,}`)}, true, bg1},
		{"escaped needle in Head", logs.RecordError{Reason: logs.ReasonInvalidJSON, Head: []byte(escaped)}, true, bg1},
		// A record cut off by the end of the input is read whole by the
		// follower next time: no alert on the fragment.
		{"cut off by the end of the input", logs.RecordError{Reason: logs.ReasonTruncated, Head: []byte(escaped), MayConcern: true}, false, ""},
		{"GUID in braces in Head", logs.RecordError{Reason: logs.ReasonInvalidJSON, Head: []byte(`{"userId":"{` + strings.ToUpper(bg1) + `}" garbage`)}, true, bg1},
		{"nothing of an account", logs.RecordError{Reason: logs.ReasonInvalidJSON, Head: []byte(`{"userId":"` + aliceID + `",,}`)}, false, ""},
		{"an escape that hides nothing", logs.RecordError{Reason: logs.ReasonInvalidJSON, Head: []byte(`{"a":"\u0041\\u0037d5f3b2a",,}`)}, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			re := tc.re
			re.Line, re.Offset, re.Err = 7, 1234, errors.New("the splitter's reason")
			b, problems := recordErrorFindings(t, &re)
			if b.stats.Skipped[re.Reason] != 1 {
				t.Errorf("skipped input not counted: %v", b.stats.Skipped)
			}
			if len(problems) != 1 || problems[0].Alerted != tc.alert || problems[0].Reason != re.Reason {
				t.Fatalf("problems %+v", problems)
			}
			if !tc.alert {
				if len(b.findings) != 0 {
					t.Fatalf("alerted on input that names no account: %+v", b.findings[0].Alert)
				}
				return
			}
			if len(b.findings) != 1 {
				t.Fatalf("%d findings, want 1 bg.unparsed", len(b.findings))
			}
			f := b.findings[0]
			a := f.Alert
			if a.Rule != detect.RuleUnparsed || a.Severity != 1 || a.AccountID != tc.account || a.Source != "in:7" {
				t.Errorf("alert %+v", a)
			}
			if !bytes.Equal(f.Raw, re.Head) || a.Annotations["reason"] != re.Reason || !strings.Contains(a.Title, re.Reason) ||
				!strings.Contains(a.Annotations["detail"], "the splitter's reason") || !a.EventTimeUnknown {
				t.Errorf("evidence or reason missing: raw %q, alert %+v", f.Raw, a)
			}
			if b.stats.Unparsed != 1 || b.stats.Alerts != 1 {
				t.Errorf("stats %+v", b.stats)
			}
			// The same bytes give the same alert (a rescan does not
			// duplicate it); other bytes another.
			b2, _ := recordErrorFindings(t, &re)
			other := re
			other.Head = append(append([]byte(nil), re.Head...), ' ')
			b3, _ := recordErrorFindings(t, &other)
			if b2.findings[0].Alert.ID != a.ID || b3.findings[0].Alert.ID == a.ID {
				t.Errorf("alert id not stable per bytes: %s %s %s", a.ID, b2.findings[0].Alert.ID, b3.findings[0].Alert.ID)
			}
		})
	}
}

// TestUnparsedTruncatedFinal: when inputs are final (the scan command), a
// record cut off by the end of the input that names an account alerts.
func TestUnparsedTruncatedFinal(t *testing.T) {
	re := &logs.RecordError{Line: 3, Reason: logs.ReasonTruncated, Err: errors.New("input ended inside a record"),
		Head: []byte(`{"userId":"` + bg1 + `","createdDate`)}
	b, _ := recordErrorFindings(t, re, true)
	if len(b.findings) != 1 || b.findings[0].Alert.Rule != detect.RuleUnparsed || b.findings[0].Alert.AccountID != bg1 {
		t.Fatalf("findings %+v", b.findings)
	}
	if b, _ := recordErrorFindings(t, re); len(b.findings) != 0 {
		t.Fatal("a followed input's unfinished record alerted")
	}
}

// TestUnparsedRecords: records that parse but cannot be read as an Entra
// sign-in or audit (unknown shape, a category without a decoder) alert when
// they mention an account, and only then.
func TestUnparsedRecords(t *testing.T) {
	cases := []struct {
		name, rec string
		alert     bool
		reason    string
	}{
		{"unknown shape naming an account", `{"foo":"bar","who":"bg-admin1@contoso.onmicrosoft.com"}`, true, logs.ReasonUnknownShape},
		{"unknown shape, escaped", `{"foo":"bar","who":"\u0062g-admin1@contoso.onmicrosoft.com"}`, true, logs.ReasonUnknownShape},
		{"unknown shape naming no one", `{"foo":"bar","who":"\u0041lice"}`, false, ""},
		{"undecoded category naming an account", `{"time":"2024-06-20T05:12:33Z","category":"RiskyServicePrincipals","properties":{"x":"` + strings.ToUpper(bg1) + `"}}`, true, logs.ReasonOtherCategory},
		{"legacy Audit category, unreadable target naming the account", `{"time":"2016-06-20T05:12:33Z","operationName":"Update user","category":"Audit","properties":{"targetResourceName":"x","note":"` + bg1UPN + `"}}`, true, logs.ReasonBadField},
		{"undecoded category naming no one", `{"time":"2024-06-20T05:12:33Z","category":"RiskyServicePrincipals","properties":{"x":"` + aliceID + `"}}`, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, exhaustive := range []bool{false, true} {
				s := New(Options{Accounts: testAccounts(), Exhaustive: exhaustive})
				var st Stats
				var got []Finding
				if err := s.Scan(context.Background(), "u", strings.NewReader(tc.rec), &st, func(f Finding) error { got = append(got, f); return nil }); err != nil {
					t.Fatal(err)
				}
				if !tc.alert {
					if len(got) != 0 {
						t.Fatalf("alerted: %+v", got[0].Alert)
					}
					continue
				}
				if len(got) != 1 || got[0].Alert.Rule != detect.RuleUnparsed || got[0].Alert.AccountID != bg1 ||
					got[0].Alert.Annotations["reason"] != tc.reason || string(got[0].Raw) != tc.rec {
					t.Fatalf("findings %+v", got)
				}
			}
		})
	}
}

// TestWithFinalPerCall: one shared Scanner serves a followed file (its last
// record may still be being written) and HTTP bodies (complete): only calls
// marked WithFinal alert on a record cut off at the end, and the two kinds
// of call do not leak the flag into each other.
func TestWithFinalPerCall(t *testing.T) {
	s := New(Options{Accounts: testAccounts()})
	defer s.Close()
	cut := `{"time":"2024-06-20T10:00:00Z","category":"SignInLogs","properties":{"userId":"` + bg1 + `","createdDate`
	run := func(ctx context.Context) []Finding {
		t.Helper()
		var st Stats
		var got []Finding
		if err := s.Scan(ctx, "u", strings.NewReader(cut), &st, func(f Finding) error { got = append(got, f); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for range 3 {
		if got := run(context.Background()); len(got) != 0 {
			t.Fatalf("a followed input's unfinished record alerted: %+v", got[0].Alert)
		}
		got := run(WithFinal(context.Background()))
		if len(got) != 1 || got[0].Alert.Rule != detect.RuleUnparsed || got[0].Alert.AccountID != bg1 {
			t.Fatalf("final input: findings %+v, want one bg.unparsed for bg1", got)
		}
	}
}
