package kqlrule

import (
	"errors"
	"strings"
	"testing"

	"breakglass/internal/config"
)

// FuzzCompile: any query text in a rule either compiles or gives
// configuration errors that name the file, a line and the rule's field;
// it never panics.
func FuzzCompile(f *testing.F) {
	for _, q := range []string{
		"SigninLogs | project UserId | where UserId == \"00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"",
		"SigninLogs\n| summarize n = count() by UserPrincipalName",
		"let bg = _GetWatchlist('breakGlassAccounts') | project UserId;\nSigninLogs | where UserId in (bg)",
		"AuditLogs | where InitiatedBy.user.id == 'x' | extend a = tostring(TargetResources[0].id)",
		"SigninLogs | join (AuditLogs) on $left.UserId == $right.Id",
		"SigninLogs | where NoSuch == 1",
		"(((",
	} {
		f.Add(q, "UserPrincipalName")
	}
	f.Fuzz(func(t *testing.T, query, dim string) {
		if strings.ContainsAny(query+dim, "\x00") {
			return
		}
		cfg := &config.Config{Path: "f.yaml", Rules: []config.Rule{{
			Name: "f", Query: query, Dimensions: []string{dim}, QueryLine: 3, QueryExact: true,
		}}}
		rules, err := Compile(cfg)
		if err == nil {
			if len(rules) != 1 || rules[0].ID != "kql.f" {
				t.Fatalf("compiled %v", rules)
			}
			return
		}
		var list config.ErrorList
		if !errors.As(err, &list) || len(list) != 1 {
			t.Fatalf("error %T %v: want one config.Error", err, err)
		}
		e := list[0]
		if e.File != "f.yaml" || e.Line < 3 || !strings.HasPrefix(e.Field, "rules[0].") || e.Msg == "" {
			t.Fatalf("error not placed: %+v", e)
		}
	})
}
