package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

var rulesDir = filepath.Join("testdata", "rules")

// TestRulesList: list shows kind, schedule, threshold and literals of
// each rule (the seed's queries are filter rules with their accounts as
// literals), as a table and as JSON.
func TestRulesList(t *testing.T) {
	cfg := filepath.Join(rulesDir, "rules.yaml")
	r := runBinary(t, nil, "rules", "list", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "rules-list.table", r.stdout)
	r = runBinary(t, nil, "rules", "list", "--config", cfg, "--format", "json")
	var infos []ruleInfo
	if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
	}
	if len(infos) != 4 || infos[0].Kind != "filter" || infos[3].Kind != "scheduled" || infos[3].Period != "1h" || infos[2].Literals[0] != "user@yourdomain.onmicrosoft.com" {
		t.Errorf("json = %+v", infos)
	}
}

// TestRulesTest: exit 1 with what would fire; 0 when nothing would; 2
// for a rule whose dimension is not a result column, at its file:line.
func TestRulesTest(t *testing.T) {
	cfg := filepath.Join(rulesDir, "rules.yaml")
	r := runBinary(t, nil, "rules", "test", "--config", cfg, filepath.Join(rulesDir, "signins.ndjson"))
	if r.code != 1 || !strings.Contains(r.stderr, "10 alerts would fire") {
		t.Fatalf("exit %d, stderr %q; want 1 and 10 alerts", r.code, r.stderr)
	}
	golden(t, "rules-test.table", r.stdout)
	r = runBinary(t, nil, "rules", "test", "--config", cfg, "--format", "json", filepath.Join(rulesDir, "signins.ndjson"))
	var res struct {
		Firings []struct {
			Rule  string `json:"rule"`
			Fires bool   `json:"fires"`
			Count int    `json:"row_count"`
		} `json:"firings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 1 {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
	}
	by := map[string]int{}
	for _, f := range res.Firings {
		if f.Fires {
			by[f.Rule]++
		}
	}
	if by["kql.bg-signin-id"] != 1 || by["kql.bg-signin-ids"] != 8 || by["kql.bg-signin-upn"] != 1 || by["kql.Failures.By-App"] != 0 {
		t.Errorf("firings by rule = %v", by)
	}
	r = runBinary(t, nil, "rules", "test", "--config", cfg, filepath.Join(rulesDir, "quiet.ndjson"))
	if r.code != 0 || !strings.Contains(r.stdout, "Nothing would fire: 4 rules") {
		t.Errorf("quiet input: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, nil, "rules", "test", "--config", filepath.Join(rulesDir, "bad-dimension.yaml"), filepath.Join(rulesDir, "quiet.ndjson"))
	if r.code != 2 || !strings.Contains(r.stderr, `bad-dimension.yaml:8: rules[0].dimensions[0]: "AppDisplayName" is not a column of the query's result`) {
		t.Errorf("bad dimension: exit %d, %q", r.code, r.stderr)
	}
	r = runBinary(t, nil, "config", "check", "--config", filepath.Join(rulesDir, "bad-dimension.yaml"))
	if r.code != 2 || !strings.Contains(r.stderr, "dimensions[0]") {
		t.Errorf("config check does not report the bad dimension: exit %d, %q", r.code, r.stderr)
	}
}

// TestScanRunsFilterRules: scan runs the KQL filter rules with the
// built-ins, and says that it leaves the scheduled ones to serve.
func TestScanRunsFilterRules(t *testing.T) {
	cfg := filepath.Join(rulesDir, "rules.yaml")
	r := runBinary(t, nil, "scan", "--config", cfg, "--no-store", "--format", "json", filepath.Join(rulesDir, "signins.ndjson"))
	if r.code != 0 { // scan: 0 completed, alerts or not
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	by := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var a struct {
			Rule string `json:"rule"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		by[a.Rule]++
	}
	if by["kql.bg-signin-id"] != 1 || by["kql.bg-signin-ids"] != 8 || by["kql.bg-signin-upn"] != 1 || by["bg.signin"] != 8 {
		t.Errorf("alerts by rule = %v", by)
	}
	if !strings.Contains(r.stderr, "1 scheduled KQL rules are not run by scan") {
		t.Errorf("stderr does not mention the scheduled rule: %s", r.stderr)
	}
}
