package kqlrule

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/config"
)

// TestOpenTablesOnlyRefused: a rule whose fuzzy union reads only tables
// outside the six would never fire, so it is refused at load with the
// rule's name and the tables; one that also reads one of the six loads
// and names the missing tables.
func TestOpenTablesOnlyRefused(t *testing.T) {
	const doc = `accounts:
  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee
rules:
  - name: elsewhere
    query: |
      union isfuzzy=true (SecurityEvent | where EventID == 4624), (CommonSecurityLog | where DeviceAction == "x")
  - name: partly
    query: |
      union isfuzzy=true (SecurityEvent | where EventID == 4624 | project Account), (SigninLogs | project Account = UserPrincipalName)
`
	cfg, err := config.Parse("c.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(cfg)
	var list config.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Compile error = %v, want 1 config error", err)
	}
	got := list[0].Error()
	for _, w := range []string{"c.yaml:5: rules[0].query:", `rule "elsewhere"`, "SecurityEvent, CommonSecurityLog", "never fire"} {
		if !strings.Contains(got, w) {
			t.Errorf("error %q lacks %q", got, w)
		}
	}
	cfg.Rules = cfg.Rules[1:]
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := rules[0]; !slices.Equal(r.Missing, []string{"SecurityEvent"}) || !slices.Equal(r.Tables, []string{"SigninLogs"}) {
		t.Errorf("partly: Missing %v, Tables %v; want [SecurityEvent], [SigninLogs]", r.Missing, r.Tables)
	}
}
