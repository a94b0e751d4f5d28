package rulesio

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run with -update after checking):\n--- got\n%s", path, got)
	}
}

func loadExport(t *testing.T, name string) (*config.Config, *Exported) {
	t.Helper()
	cfg, err := config.Load(filepath.Join("testdata/export", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Export(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, e
}

func exportFixtures(t *testing.T) []string {
	m, _ := filepath.Glob("testdata/export/*.yaml")
	var out []string
	for _, f := range m {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	if len(out) == 0 {
		t.Fatal("no export fixtures")
	}
	return out
}

// TestExportGolden: the ARM, Bicep and problem list of each fixture are
// byte for byte the golden files, and the same on a second run
// (deterministic output).
func TestExportGolden(t *testing.T) {
	for _, name := range exportFixtures(t) {
		t.Run(name, func(t *testing.T) {
			_, e := loadExport(t, name)
			_, e2 := loadExport(t, name)
			if !bytes.Equal(e.ARM(), e2.ARM()) || !bytes.Equal(e.Bicep(), e2.Bicep()) {
				t.Fatal("two exports of the same configuration differ")
			}
			golden(t, filepath.Join("testdata/export", name+".arm.json"), e.ARM())
			golden(t, filepath.Join("testdata/export", name+".bicep"), e.Bicep())
			var b strings.Builder
			for _, p := range e.Problems {
				b.WriteString(p.String() + "\n")
			}
			golden(t, filepath.Join("testdata/export", name+".problems"), []byte(b.String()))
		})
	}
}

var armExprRef = regexp.MustCompile(`\[(parameters|resourceId)\(((?:'(?:[^']|'')*'|, )*)\)`)

// TestExportARMValid checks the ARM output against the documented
// schema: valid JSON, every required property of a scheduled query rule
// and an action group, ISO 8601 durations, and every expression names a
// declared parameter or an exported action group.
func TestExportARMValid(t *testing.T) {
	iso := regexp.MustCompile(`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$`)
	for _, name := range exportFixtures(t) {
		t.Run(name, func(t *testing.T) {
			cfg, e := loadExport(t, name)
			out := e.ARM()
			if !json.Valid(out) {
				t.Fatal("not valid JSON")
			}
			var tmpl struct {
				Schema     string                    `json:"$schema"`
				Parameters map[string]map[string]any `json:"parameters"`
				Resources  []map[string]any          `json:"resources"`
			}
			if err := json.Unmarshal(out, &tmpl); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tmpl.Schema, "deploymentTemplate.json") {
				t.Errorf("$schema %q", tmpl.Schema)
			}
			groups := map[string]bool{}
			rules := 0
			for _, r := range tmpl.Resources {
				props, _ := r["properties"].(map[string]any)
				switch r["type"] {
				case TypeActionGroup:
					groups[r["name"].(string)] = true
					if s, _ := props["groupShortName"].(string); s == "" || len(s) > 12 {
						t.Errorf("groupShortName %q", s)
					}
				case TypeScheduledQueryRule:
					rules++
					for _, k := range []string{"displayName", "severity", "enabled", "evaluationFrequency", "windowSize", "scopes", "criteria", "autoMitigate", "actions"} {
						if _, ok := props[k]; !ok {
							t.Errorf("rule %v: no %s", r["name"], k)
						}
					}
					for _, k := range []string{"evaluationFrequency", "windowSize", "muteActionsDuration"} {
						if s, ok := props[k].(string); ok && !iso.MatchString(s) {
							t.Errorf("rule %v: %s %q is not ISO 8601", r["name"], k, s)
						}
					}
					all := props["criteria"].(map[string]any)["allOf"].([]any)
					if len(all) != 1 {
						t.Fatalf("allOf has %d entries", len(all))
					}
					c := all[0].(map[string]any)
					for _, k := range []string{"query", "timeAggregation", "operator", "threshold", "failingPeriods"} {
						if _, ok := c[k]; !ok {
							t.Errorf("rule %v: criteria without %s", r["name"], k)
						}
					}
					if r["kind"] != "LogAlert" || r["apiVersion"] != APIScheduledQueryRules {
						t.Errorf("rule %v: kind %v api %v", r["name"], r["kind"], r["apiVersion"])
					}
				default:
					t.Errorf("unexpected resource type %v", r["type"])
				}
			}
			if rules != e.Rules || rules > len(cfg.Rules) {
				t.Errorf("%d rule resources, Export says %d, config has %d", rules, e.Rules, len(cfg.Rules))
			}
			for _, m := range armExprRef.FindAllStringSubmatch(string(out), -1) {
				switch m[1] {
				case "parameters":
					if _, ok := tmpl.Parameters[strings.Trim(m[2], "'")]; !ok {
						t.Errorf("undeclared parameter %s", m[2])
					}
				case "resourceId":
					_, n, _ := strings.Cut(m[2], "', '")
					if !groups[strings.ReplaceAll(strings.TrimSuffix(n, "'"), "''", "'")] {
						t.Errorf("reference to an action group not exported: %s", m[2])
					}
				}
			}
		})
	}
}

// TestExportBicepMatchesARM reads the Bicep back with a strict parser of
// its own (bicep_test.go) and compares it with the ARM output: the same
// parameters and resources, and Bicep's implicit dependencies equal to
// ARM's dependsOn.
func TestExportBicepMatchesARM(t *testing.T) {
	for _, name := range exportFixtures(t) {
		t.Run(name, func(t *testing.T) {
			_, e := loadExport(t, name)
			got, err := parseBicep(string(e.Bicep()))
			if err != nil {
				t.Fatalf("Bicep not well-formed: %v", err)
			}
			var arm map[string]any
			if err := json.Unmarshal(e.ARM(), &arm); err != nil {
				t.Fatal(err)
			}
			// Bicep derives dependsOn from references.
			sym := map[string]string{}
			for _, r := range e.resources {
				sym[r.symbol] = "[resourceId(" + armQuote(r.typ) + ", " + armQuote(r.name) + ")]"
			}
			for i, r := range got["resources"].([]any) {
				rm := r.(map[string]any)
				var deps []any
				refs := rm["$refs"].([]string)
				slices.Sort(refs)
				for _, s := range refs {
					deps = append(deps, sym[s])
				}
				delete(rm, "$refs")
				ad, _ := arm["resources"].([]any)[i].(map[string]any)["dependsOn"].([]any)
				slices.SortFunc(ad, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
				if !reflect.DeepEqual(deps, ad) {
					t.Errorf("resource %d: Bicep references %v, ARM dependsOn %v", i, deps, ad)
				}
				delete(arm["resources"].([]any)[i].(map[string]any), "dependsOn")
			}
			delete(arm, "$schema")
			delete(arm, "contentVersion")
			gj, _ := json.Marshal(got)
			aj, _ := json.Marshal(arm)
			if !bytes.Equal(gj, aj) {
				t.Errorf("Bicep and ARM differ:\nbicep %s\narm   %s", gj, aj)
			}
		})
	}
}

// TestBicepCheckerRejects proves the Bicep checker can fail.
func TestBicepCheckerRejects(t *testing.T) {
	_, e := loadExport(t, "full")
	good := string(e.Bicep())
	for _, tc := range []struct{ name, from, to string }{
		{"unbalanced", "properties: {\n", "properties: {{\n"},
		{"interpolation", "displayName: 'bg-signin-recipe'", "displayName: 'bg-${x}'"},
		{"unknown escape", "displayName: 'bg-signin-recipe'", `displayName: 'bg\qglass'`},
		{"undeclared", "workspaceId\n", "workspaceIdx\n"},
		{"duplicate key", "enabled: true\n", "enabled: true\n    enabled: false\n"},
		{"unterminated", "name: 'oncall'", "name: 'oncall"},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		if bad == good {
			t.Fatalf("%s: mutation did not apply", tc.name)
		}
		if _, err := parseBicep(bad); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// TestExportNoSecrets: webhook URLs, signing keys, gateway URLs and tokens
// never appear in the template or the problems (the URL becomes a secure
// parameter).
func TestExportNoSecrets(t *testing.T) {
	_, e := loadExport(t, "full")
	var probs strings.Builder
	for _, p := range e.Problems {
		probs.WriteString(p.String())
	}
	for _, out := range [][]byte{e.ARM(), e.Bicep(), []byte(probs.String())} {
		for _, s := range []string{"SECRETSIG", "logic.azure.com", "0123456789abcdef", "hooks.slack", "test-token-not-real", "sms.contoso.example", "hooks.contoso.example"} {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("output holds %q", s)
			}
		}
	}
	if !bytes.Contains(e.ARM(), []byte(`"type": "securestring"`)) {
		t.Error("webhook URL is not a secure parameter")
	}
}

// TestRoundTrip: export, then import the ARM, gives the configured rules
// back (with the export's fallbacks applied), and the imported rules:
// block loads through config to the same rules.
func TestRoundTrip(t *testing.T) {
	for _, name := range exportFixtures(t) {
		t.Run(name, func(t *testing.T) {
			cfg, e := loadExport(t, name)
			ims, err := Import(name+".arm.json", e.ARM())
			if err != nil {
				t.Fatal(err)
			}
			Check(ims)
			var want []config.Rule
			for _, r := range cfg.Rules {
				if r.Threshold != nil && r.Threshold.Operator == "!=" {
					continue // not exportable, and said so
				}
				if r.Threshold != nil && r.Threshold.Operator == ">" && r.Threshold.Value == 0 && r.Threshold.Column == "" && !r.AutoResolve {
					r.Threshold = nil
				}
				want = append(want, normal(r))
			}
			var got []config.Rule
			for _, im := range ims {
				got = append(got, normal(im.Rule))
				if Lost(im.Problems) {
					t.Errorf("%s lost something on the way back: %v", im.Rule.Name, im.Problems)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
			y, err := RulesYAML(ims)
			if err != nil {
				t.Fatal(err)
			}
			doc := "accounts:\n  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee\n" + string(y)
			back, err := config.Parse("pasted.yaml", []byte(doc), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatalf("the rules: block does not load: %v\n%s", err, y)
			}
			var pasted []config.Rule
			for _, r := range back.Rules {
				pasted = append(pasted, normal(r))
			}
			if !reflect.DeepEqual(pasted, want) {
				t.Errorf("pasted rules:\n got %+v\nwant %+v", back.Rules, want)
			}
		})
	}
}

// normal is a rule as config holds it after its defaults, minus where its
// keys were in the file: what a round trip must keep.
func normal(r config.Rule) config.Rule {
	r.QueryLine, r.QueryExact, r.Lines = 0, false, nil
	if len(r.Dimensions) == 0 {
		r.Dimensions = nil
	}
	if len(r.Labels) == 0 {
		r.Labels = nil
	}
	if v := r.Violations; v != nil && v.Of == 1 && v.Min == 1 {
		r.Violations = nil
	}
	if r.Severity == nil {
		s := 0
		r.Severity = &s
	}
	if r.Period == 0 {
		r.Period = r.Frequency
	}
	return r
}

func TestFormatISO(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Minute, "PT5M"}, {time.Hour, "PT1H"}, {90 * time.Minute, "PT1H30M"}, {24 * time.Hour, "P1D"},
		{48 * time.Hour, "P2D"}, {36 * time.Hour, "P1DT12H"}, {90 * time.Second, "PT1M30S"}, {0, "PT0S"},
	} {
		if got := FormatISO(tc.d); got != tc.want {
			t.Errorf("FormatISO(%v) = %s, want %s", tc.d, got, tc.want)
		}
		if back, err := ParseDuration(tc.want); err != nil || back != tc.d {
			t.Errorf("ParseDuration(%s) = %v, %v", tc.want, back, err)
		}
		back, err := ParseDuration(FormatConfig(tc.d))
		if err != nil || back != tc.d {
			t.Errorf("FormatConfig(%v) = %s reads back as %v, %v", tc.d, FormatConfig(tc.d), back, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"PT5M", 5 * time.Minute, false}, {"pt5m", 5 * time.Minute, false}, {"P1D", 24 * time.Hour, false},
		{"P1DT2H", 26 * time.Hour, false}, {"PT24H", 24 * time.Hour, false}, {"P1W", 7 * 24 * time.Hour, false},
		{"5m", 5 * time.Minute, false}, {"1h", time.Hour, false}, {"14d", 14 * 24 * time.Hour, false},
		{"1H", time.Hour, false}, {"1h30m", 90 * time.Minute, false}, {" 5m ", 5 * time.Minute, false},
		{"", 0, true}, {"P", 0, true}, {"PT", 0, true}, {"P5M5D", 0, true}, {"PT5", 0, true}, {"5", 0, true},
		{"P1Y", 0, true}, {"-5m", 0, true}, {"P9999D", 0, true}, {"PT1H1H", 0, true}, {"xd", 0, true}, {"P1DT", 0, true},
	} {
		got, err := ParseDuration(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestSplitE164(t *testing.T) {
	for _, tc := range []struct{ in, cc, rest string }{
		{"+4712345678", "47", "12345678"}, {"+14155550100", "1", "4155550100"}, {"+447700900123", "44", "7700900123"},
		{"+79161234567", "7", "9161234567"}, {"+353851234567", "353", "851234567"}, {"+61 412 345 678", "61", "412345678"},
		{"4712345678", "", ""}, {"+47abc45678", "", ""}, {"+47", "", ""},
	} {
		cc, rest, ok := splitE164(tc.in)
		if cc != tc.cc || rest != tc.rest || ok != (tc.cc != "") {
			t.Errorf("splitE164(%q) = %q %q %v", tc.in, cc, rest, ok)
		}
	}
}

func TestBicepString(t *testing.T) {
	for in, want := range map[string]string{
		`it's`:       `'it\'s'`,
		`a\b`:        `'a\\b'`,
		"${x}":       `'\${x}'`,
		"l1\nl2\tx":  `'l1\nl2\tx'`,
		"\x01":       `'\u{1}'`,
		"ünïcode ok": `'ünïcode ok'`,
	} {
		if got := bicepString(in); got != want {
			t.Errorf("bicepString(%q) = %s, want %s", in, got, want)
		}
		toks, err := lexBicep(bicepString(in))
		if err != nil || toks[0].text != in {
			t.Errorf("%q does not read back: %v %q", in, err, toks[0].text)
		}
	}
}
