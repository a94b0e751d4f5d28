package rulesio

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/config"
	"breakglass/internal/kql"
)

func importFile(t *testing.T, path string) ([]Imported, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Import(filepath.Base(path), data)
}

// TestImportGolden: the rules: block printed for each fixture is the
// golden file, and it loads through config.
func TestImportGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/import/*")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".out") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			ims, err := importFile(t, f)
			if err != nil {
				t.Fatal(err)
			}
			Check(ims)
			y, err := RulesYAML(ims)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, f+".out", y)
			doc := "accounts:\n  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee\n" + string(y)
			cfg, err := config.Parse("pasted.yaml", []byte(doc), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatalf("the rules: block does not load: %v", err)
			}
			var kept []Imported
			for _, im := range ims {
				if !im.Rejected() {
					kept = append(kept, im)
				}
			}
			if len(cfg.Rules) != len(kept) {
				t.Fatalf("%d rules load, %d imported and not rejected", len(cfg.Rules), len(kept))
			}
			for i, r := range cfg.Rules {
				if r.Query != kept[i].Rule.Query || r.Name != kept[i].Rule.Name {
					t.Errorf("rule %d changed on the way through config: %q", i, r.Name)
				}
			}
			j, err := RulesJSON(ims)
			if err != nil || !json.Valid(j) {
				t.Fatalf("JSON output: %v", err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no import fixtures")
	}
}

func sev(n int) *int { return &n }

// TestImportFields checks each fixture's mapping field by field, and
// what it reports as not carried over.
func TestImportFields(t *testing.T) {
	type want struct {
		rule   config.Rule
		source string
		parses bool
		lost   []string // substrings of problems that are not notes
		notes  []string
	}
	for _, tc := range []struct {
		file string
		want []want
	}{
		{"sentinel_bg_portal.yaml", []want{{
			rule:   config.Rule{Name: "Break-glass account signed in to the portal", Description: "An account on the breakGlassAccounts watchlist signed in.\nREQUIRES WATCHLIST = \"breakGlassAccounts\"", Frequency: 5 * time.Minute, Period: 5 * time.Minute, Severity: sev(1)},
			source: "sentinel", parses: true,
			lost:  []string{"entityMappings", "tactics", "relevantTechniques"},
			notes: []string{"severity High is Azure Sev1"},
		}}},
		{"sentinel_mfa_short.yaml", []want{{
			rule:   config.Rule{Name: "MFA push denied", Description: "A user denied an MFA push they did not expect.", Frequency: 24 * time.Hour, Period: 48 * time.Hour, Severity: sev(2), Threshold: &config.RuleThreshold{Operator: ">", Value: 3}},
			source: "sentinel", parses: true,
		}}},
		{"sentinel_nrt.yaml", []want{{
			rule:   config.Rule{Name: "NRT break-glass role change", Description: "A directory role was assigned to or removed from a break-glass account.", Frequency: time.Minute, Period: time.Minute, Severity: sev(4), MuteFor: time.Hour},
			source: "sentinel", parses: true,
			lost:  []string{"AlertPerResult", "incidentConfiguration", "alertDetailsOverride", "customDetails"},
			notes: []string{"NRT"},
		}}},
		{"sentinel_hunting.yaml", []want{{
			rule:   config.Rule{Name: "Sign-ins per day by break-glass accounts", Description: "Trend of break-glass sign-ins."},
			source: "sentinel", parses: false,
			lost:  []string{"make-series"},
			notes: []string{"hunting"},
		}}},
		{"arm_2021_template.json", []want{{
			rule:   config.Rule{Name: "Break-glass sign-in (Azure)", Description: "Written for breakglass's tests in the shape of Microsoft's resource-manager-alerts-log sample.", Frequency: 5 * time.Minute, Period: 5 * time.Minute, Severity: sev(0), Threshold: &config.RuleThreshold{Operator: ">"}, MuteFor: 15 * time.Minute, AutoResolve: true, Dimensions: []string{"UserPrincipalName", "AppDisplayName"}, Labels: map[string]string{"runbook": "https://wiki.contoso.example/breakglass"}},
			source: "arm", parses: true,
			lost:  []string{"dimension AppDisplayName: Exclude"},
			notes: []string{"overrideQueryTimeRange", "autoMitigate is absent", "action group"},
		}, {
			rule:   config.Rule{Name: "Sign-in volume anomaly", Frequency: 15 * time.Minute, Period: time.Hour, Severity: sev(3)},
			source: "arm", parses: true,
			lost:  []string{"only the first", "DynamicThresholdCriterion", "operator \"GreaterOrLessThan\""},
			notes: []string{"disabled in Azure"},
		}}},
		{"arm_2018_bare.json", []want{{
			rule:   config.Rule{Name: "Failed sign-ins per account (2018 API)", Description: "Written for breakglass's tests in the 2018 source/schedule/action form.", Frequency: 5 * time.Minute, Period: 30 * time.Minute, Severity: sev(1), MuteFor: time.Hour, Threshold: &config.RuleThreshold{Operator: ">", Value: 10, Column: "AggregatedValue"}, Dimensions: []string{"UserPrincipalName"}},
			source: "arm-2018", parses: true,
			lost:  []string{"metricTrigger"},
			notes: []string{"action group"},
		}}},
		{"arm_sentinel_alertrules.json", []want{{
			rule:   config.Rule{Name: "Break-glass credential change", Description: "Written for breakglass's tests in the shape of a Sentinel ARM export.", Frequency: time.Hour, Period: time.Hour, Severity: sev(3)},
			source: "sentinel", parses: true,
			lost: []string{"tactics"},
		}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ims, err := importFile(t, filepath.Join("testdata/import", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(ims) != len(tc.want) {
				t.Fatalf("%d rules, want %d", len(ims), len(tc.want))
			}
			for i, w := range tc.want {
				im := ims[i]
				got := im.Rule
				if got.Query == "" {
					t.Errorf("rule %d: no query", i)
				}
				got.Query = ""
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(w.rule)
				if string(gj) != string(wj) {
					t.Errorf("rule %d:\n got %s\nwant %s", i, gj, wj)
				}
				if im.Source != w.source || im.Parses != w.parses {
					t.Errorf("rule %d: source %s parses %v, want %s %v", i, im.Source, im.Parses, w.source, w.parses)
				}
				var lost, notes []string
				for _, p := range im.Problems {
					if p.Note {
						notes = append(notes, p.Message)
					} else {
						lost = append(lost, p.Message)
					}
				}
				check := func(kind string, got, want []string) {
					for _, s := range want {
						found := false
						for _, g := range got {
							found = found || strings.Contains(g, s)
						}
						if !found {
							t.Errorf("rule %d: no %s mentions %q; %s: %q", i, kind, s, kind, got)
						}
					}
					if len(want) == 0 && len(got) > 0 && kind == "loss" {
						t.Errorf("rule %d: unexpected losses %q", i, got)
					}
				}
				check("loss", lost, w.lost)
				check("note", notes, w.notes)
				if Lost(im.Problems) != (len(w.lost) > 0) {
					t.Errorf("rule %d: Lost = %v", i, Lost(im.Problems))
				}
			}
		})
	}
}

// TestImportBad: unreadable input is an *InputError naming the place.
func TestImportBad(t *testing.T) {
	for _, tc := range []struct {
		file string
		line int
		msg  string
		json bool
	}{
		{"trailing_comma.json", 3, "not valid JSON", true},
		{"bad_indent.yaml", 3, "not valid YAML", false},
		{"dup_key.yaml", 3, `key "name" appears twice`, false},
		{"no_query.yaml", 1, "no query", false},
		{"no_rules.json", 0, "no rule found", false},
		{"two_values.json", 2, "text after the JSON value", true},
		{"alias.yaml", 2, "aliases", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := importFile(t, filepath.Join("testdata/bad", tc.file))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an InputError", err)
			}
			if ie.Line != tc.line || !strings.Contains(ie.Msg, tc.msg) || (ie.Offset >= 0) != tc.json {
				t.Errorf("got %q (line %d, offset %d); want line %d and %q", ie.Error(), ie.Line, ie.Offset, tc.line, tc.msg)
			}
			if !strings.HasPrefix(ie.Error(), tc.file) {
				t.Errorf("%q does not start with the file name", ie.Error())
			}
		})
	}
	if _, err := Import("big.json", make([]byte, MaxInput+1)); err == nil {
		t.Error("an oversized input was read")
	}
}

// TestImportCorpus imports every Azure-Sentinel query of the shared corpus
// (analytic rules and hunting queries; skipped when the corpus is
// absent), written as the analytic-rule YAML they come from: the query
// must come through byte for byte, and Parses must agree with kql.Check.
func TestImportCorpus(t *testing.T) {
	f, err := os.Open("../../../shared/corpus/kql/queries.jsonl")
	if err != nil {
		f, err = os.Open("/work/shared/corpus/kql/queries.jsonl")
	}
	if err != nil {
		t.Skip("corpus absent:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	n, parses := 0, 0
	for sc.Scan() {
		var q struct {
			Source, Path, Name, Kind, Query string
		}
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatal(err)
		}
		if q.Source != "Azure/Azure-Sentinel" {
			continue
		}
		doc := map[string]any{"name": q.Name, "severity": "High", "query": q.Query, "tactics": []string{"InitialAccess"}}
		if q.Kind == "analytic_rule" {
			doc["queryFrequency"], doc["queryPeriod"], doc["triggerOperator"], doc["triggerThreshold"] = "PT1H", "1d", "gt", 0
		}
		y, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		ims, err := Import(q.Path, y)
		if err != nil {
			t.Fatalf("%s: %v", q.Path, err)
		}
		n++
		im := ims[0]
		if im.Rule.Query != q.Query {
			t.Errorf("%s: the query changed on import", q.Path)
		}
		_, cerr := kql.Check(q.Query)
		if im.Parses != (cerr == nil) {
			t.Errorf("%s: Parses %v but kql.Check says %v", q.Path, im.Parses, cerr)
		}
		if im.Parses {
			parses++
		}
		if !Lost(im.Problems) {
			t.Errorf("%s: tactics not reported as lost", q.Path)
		}
		if q.Kind == "analytic_rule" && (im.Rule.Frequency != time.Hour || im.Rule.Period != 24*time.Hour) {
			t.Errorf("%s: schedule %v/%v", q.Path, im.Rule.Frequency, im.Rule.Period)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no Azure-Sentinel queries in the corpus")
	}
	t.Logf("%d Azure-Sentinel corpus queries imported, %d parse here", n, parses)
}

func TestSentinelSeverity(t *testing.T) {
	for in, want := range map[string]int{"High": 1, "medium": 2, "Low": 3, "Informational": 4, "Critical": 0} {
		ims, err := Import("s.yaml", []byte("name: x\nquery: SigninLogs\nseverity: "+in+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := ims[0].Rule.Severity; got == nil || *got != want {
			t.Errorf("%s: severity %v, want %d", in, got, want)
		}
		if (in == "Critical") != Lost(ims[0].Problems) {
			t.Errorf("%s: problems %v", in, ims[0].Problems)
		}
	}
}

func TestOperators(t *testing.T) {
	for in, want := range map[string]string{"gt": ">", "lt": "<", "eq": "==", "ne": "!=", "GreaterThan": ">", "LessThan": "<", "Equal": "==", "NotEqual": "!="} {
		ims, err := Import("s.yaml", []byte("name: x\nquery: SigninLogs\ntriggerOperator: "+in+"\ntriggerThreshold: 2\n"))
		if err != nil {
			t.Fatal(err)
		}
		th := ims[0].Rule.Threshold
		if th == nil || th.Operator != want || th.Value != 2 {
			t.Errorf("%s: threshold %+v, want %s 2", in, th, want)
		}
	}
}

func TestRuleName(t *testing.T) {
	for in, want := range map[string]string{
		"Break-glass sign-in (Azure)": "Break-glass-sign-in-Azure",
		"bg.signin_1":                 "bg.signin_1",
		"  --x--  ":                   "x",
		"!!!":                         "imported-rule",
		"Ünïcode name":                "n-code-name",
		strings.Repeat("a", 80):       strings.Repeat("a", 64),
	} {
		if got := RuleName(in); got != want {
			t.Errorf("RuleName(%q) = %q, want %q", in, got, want)
		}
	}
	// Names are unique after Check, ignoring case.
	ims := []Imported{{File: "a", Rule: config.Rule{Name: "Same name", Query: "SigninLogs"}}, {File: "b", Rule: config.Rule{Name: "same NAME", Query: "SigninLogs"}}}
	Check(ims)
	if ims[0].Rule.Name != "Same-name" || ims[1].Rule.Name != "same-NAME-2" || ims[0].Rule.Description != "Same name" {
		t.Errorf("names %q %q, description %q", ims[0].Rule.Name, ims[1].Rule.Name, ims[0].Rule.Description)
	}
	if ims[0].Rejected() || ims[1].Rejected() {
		t.Errorf("rejected: %v %v", ims[0].Problems, ims[1].Problems)
	}
}

// TestImportSentinelDir imports every analytic-rule YAML under
// $BREAKGLASS_SENTINEL_DIR (a checkout of Azure-Sentinel's Detections or
// Solutions/*/Analytic Rules; skipped when unset): each file with a query
// imports without an input error, keeps its query byte for byte, and
// prints as YAML that config loads.
func TestImportSentinelDir(t *testing.T) {
	dir := os.Getenv("BREAKGLASS_SENTINEL_DIR")
	if dir == "" {
		t.Skip("BREAKGLASS_SENTINEL_DIR not set")
	}
	n, rejected := 0, 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !strings.Contains(string(data), "\nquery:") {
			return nil // moved-file stubs and non-rule YAML
		}
		ims, err := Import(p, data)
		if err != nil {
			t.Errorf("%v", err)
			return nil
		}
		Check(ims)
		y, err := RulesYAML(ims)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := config.Parse("pasted.yaml", []byte(placeholderAccounts+string(y)), func(string) (string, bool) { return "", false }); err != nil {
			t.Errorf("%s: the printed block does not load: %v", p, err)
		}
		for _, im := range ims {
			n++
			if im.Rejected() {
				rejected++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rules imported from %s, %d refused by config (printed commented out)", n, dir, rejected)
}
