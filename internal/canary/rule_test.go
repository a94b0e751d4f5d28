package canary

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
)

var (
	testIdentity = Identity{ID: "c0ffee00-1111-4222-8333-444455556666", UPN: "canary@contoso.com"}
	testBG       = entra.Account{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg-admin1@contoso.onmicrosoft.com"}
	testAt       = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
)

// scanAll runs the records through a scanner with the built-ins for the
// break-glass account plus the canary rule, as the pipeline does.
func scanAll(t *testing.T, input []byte) []alert.Alert {
	t.Helper()
	bg := entra.NewAccountSet([]entra.Account{testBG})
	s := scan.New(scan.Options{Accounts: bg, Rules: append(detect.Builtins(bg), NewRule(testIdentity))})
	defer s.Close()
	var st scan.Stats
	var out []alert.Alert
	if err := s.Scan(context.Background(), "canary:test", bytes.NewReader(input), &st, func(f scan.Finding) error {
		out = append(out, f.Alert)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecordRaisesCanaryOnly(t *testing.T) {
	as := scanAll(t, Record(testIdentity, "r1", testAt))
	if len(as) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(as), as)
	}
	a := as[0]
	if a.Rule != detect.RuleCanary || a.Severity != alert.Sev4 {
		t.Errorf("rule %s %s, want bg.canary Sev4", a.Rule, a.Severity)
	}
	if a.ID != alert.Key(EventID("r1"), detect.RuleCanary) {
		t.Errorf("alert id %s is not the one the run waits for", a.ID)
	}
	if !strings.HasPrefix(a.Title, "CANARY TEST") {
		t.Errorf("title %q does not say first that it is a test", a.Title)
	}
	if !IsCanary(a.StandardLabels()) {
		t.Errorf("labels %v are not a canary's", a.StandardLabels())
	}
	if !a.EventTime.Equal(testAt) || a.IPAddress != IPAddress || a.App != AppDisplayName || a.Correlation != EventID("r1") {
		t.Errorf("alert does not carry the record's marks: %+v", a)
	}
}

// TestRecordShapes: with only the id or only the UPN the record still
// raises bg.canary.
func TestRecordShapes(t *testing.T) {
	for _, id := range []Identity{{ID: testIdentity.ID}, {UPN: testIdentity.UPN}} {
		bg := entra.NewAccountSet([]entra.Account{testBG})
		s := scan.New(scan.Options{Accounts: bg, Rules: append(detect.Builtins(bg), NewRule(id))})
		var st scan.Stats
		n := 0
		_ = s.Scan(context.Background(), "x", bytes.NewReader(Record(id, "r", testAt)), &st, func(f scan.Finding) error {
			if f.Alert.Rule == detect.RuleCanary {
				n++
			}
			return nil
		})
		s.Close()
		if n != 1 {
			t.Errorf("identity %+v: %d canary alerts, want 1", id, n)
		}
	}
}

// TestMarksNeverHideBreakGlass: a record of a break-glass account that
// carries the canary's marks (forged, or a bug) raises the real Sev0
// sign-in alert, never a canary; and a real, unmarked sign-in of the
// canary identity raises nothing (the identity is watched for the canary
// only).
func TestMarksNeverHideBreakGlass(t *testing.T) {
	forged := Record(Identity{ID: testBG.ID, UPN: testBG.UPN}, "r2", testAt)
	as := scanAll(t, forged)
	if len(as) != 1 || as[0].Rule != detect.RuleSignIn || IsCanary(as[0].StandardLabels()) {
		t.Fatalf("marked break-glass record: %+v, want exactly one bg.signin", as)
	}
	unmarked := bytes.Replace(Record(testIdentity, "r3", testAt), []byte(`"appDisplayName":"`+AppDisplayName+`"`), []byte(`"appDisplayName":"Azure Portal"`), 1)
	if as := scanAll(t, unmarked); len(as) != 0 {
		t.Fatalf("unmarked canary-identity record raised %+v", as)
	}
	// A marked record with a break-glass object id (and the canary's UPN):
	// the id decides, so the break-glass account alerts as ever.
	both := bytes.Replace(Record(testIdentity, "r4", testAt), []byte(`"userId":"`+testIdentity.ID+`"`),
		[]byte(`"userId":"`+testBG.ID+`"`), 1)
	var rules []string
	for _, a := range scanAll(t, both) {
		rules = append(rules, a.Rule)
	}
	if strings.Join(rules, ",") != detect.RuleSignIn {
		t.Fatalf("marked record of a break-glass id raised %v, want bg.signin only", rules)
	}
}

func TestIsCanary(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{alert.LabelRule: detect.RuleCanary, Label: "true"}, true},
		{map[string]string{alert.LabelRule: detect.RuleSignIn, Label: "true"}, false},
		{map[string]string{alert.LabelRule: detect.RuleCanary}, false},
		{map[string]string{alert.LabelRule: detect.RuleCanaryFailed, Label: "true"}, false},
		{nil, false},
	} {
		if got := IsCanary(tc.labels); got != tc.want {
			t.Errorf("IsCanary(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
}
