package scan

import (
	"context"
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
)

// countingRule asks for every record of some tables and counts what it sees.
type countingRule struct {
	tables []string
	seen   map[string]int
	upns   []string
}

func (r *countingRule) Meta() detect.Meta {
	return detect.Meta{ID: "test.count", Severity: alert.Sev3, Title: "counting"}
}
func (r *countingRule) Needs() detect.Needs { return detect.Needs{Tables: r.tables} }
func (r *countingRule) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	r.seen[rec.Table]++
	if upn, ok := rec.Row()["UserPrincipalName"].(string); ok {
		r.upns = append(r.upns, upn)
	}
	return dst
}

// TestRulesTakenByScanner: a rule that asks for every record of a table
// sees them all, bypassing the prefilter, while other tables keep the fast
// path and the built-ins still fire.
func TestRulesTakenByScanner(t *testing.T) {
	var in strings.Builder
	for i := range 3 {
		in.WriteString(`{"time":"2024-06-20T05:12:33Z","category":"SignInLogs","properties":{"id":"s` + string(rune('0'+i)) + `","userId":"` + aliceID + `","userPrincipalName":"alice@contoso.com"}}` + "\n")
	}
	for i := range 2 {
		in.WriteString(`{"time":"2024-06-20T05:12:33Z","category":"AuditLogs","properties":{"id":"a` + string(rune('0'+i)) + `","activityDisplayName":"Update user","initiatedBy":{"user":{"id":"` + aliceID + `"}},"targetResources":[]}}` + "\n")
	}
	in.WriteString(`{"time":"2024-06-20T05:12:33Z","category":"SignInLogs","properties":{"id":"bg","userId":"` + bg1 + `"}}` + "\n")

	r := &countingRule{tables: []string{"SigninLogs"}, seen: map[string]int{}}
	s := New(Options{Accounts: testAccounts(), Rules: append(detect.Builtins(testAccounts()), r)})
	var st Stats
	var rules []string
	if err := s.Scan(context.Background(), "r", strings.NewReader(in.String()), &st, func(f Finding) error {
		rules = append(rules, f.Alert.Rule)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r.seen["SigninLogs"] != 4 || r.seen["AuditLogs"] != 0 {
		t.Errorf("table rule saw %v, want all 4 SigninLogs records and no AuditLogs", r.seen)
	}
	if len(r.upns) != 3 || r.upns[0] != "alice@contoso.com" {
		t.Errorf("columns by Log Analytics name: %v", r.upns)
	}
	if strings.Join(rules, ",") != "bg.signin" {
		t.Errorf("built-ins: %v", rules)
	}
}
