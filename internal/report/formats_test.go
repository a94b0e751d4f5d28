package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"breakglass/internal/posture"
)

func render(t *testing.T, format string, rep *posture.Report, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, format, rep, o); err != nil {
		t.Fatalf("render %s: %v", format, err)
	}
	return b.Bytes()
}

// TestGolden pins every format on the sample report and on an empty one,
// and checks each rendering is deterministic.
func TestGolden(t *testing.T) {
	empty := &posture.Report{Tenant: posture.TenantInfo{ID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"}}
	tests := []struct {
		golden, format string
		rep            *posture.Report
		o              Options
	}{
		{"table.golden", "table", sampleReport(), Options{}},
		{"table-color.golden", "table", sampleReport(), Options{Color: true}},
		{"table-empty.golden", "table", empty, Options{}},
		{"report.md.golden", "markdown", sampleReport(), Options{}},
		{"empty.md.golden", "markdown", empty, Options{}},
		{"report.json.golden", "json", sampleReport(), Options{}},
		{"empty.json.golden", "json", empty, Options{}},
		{"report.sarif.golden", "sarif", sampleReport(), Options{ConfigFile: "config/breakglass.yaml"}},
		{"empty.sarif.golden", "sarif", empty, Options{}},
		{"report.junit.golden", "junit", sampleReport(), Options{}},
		{"empty.junit.golden", "junit", empty, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := render(t, tt.format, tt.rep, tt.o)
			if again := render(t, tt.format, tt.rep, tt.o); !bytes.Equal(got, again) {
				t.Fatalf("%s: two renderings of the same report differ", tt.format)
			}
			golden(t, tt.golden, got)
		})
	}
}

// TestEveryResultShown: no format drops a result (each check and subject
// appears), and the non-colour formats carry no terminal escape from the
// tenant's data.
func TestEveryResultShown(t *testing.T) {
	rep := sampleReport()
	for _, format := range []string{"table", "markdown"} {
		out := string(render(t, format, rep, Options{}))
		for _, r := range rep.Results {
			if !strings.Contains(out, r.Check) && !strings.Contains(out, mdText(r.Check)) {
				t.Errorf("%s: check %s missing", format, r.Check)
			}
		}
		for _, a := range rep.Accounts {
			if !strings.Contains(out, accountLabel(a)) && !strings.Contains(out, mdText(accountLabel(a))) {
				t.Errorf("%s: account %s missing", format, accountLabel(a))
			}
		}
		if strings.Contains(out, "\x1b") {
			t.Errorf("%s without colour carries an escape sequence", format)
		}
		if format == "markdown" && strings.Contains(out, "<script>") {
			t.Errorf("markdown carries raw HTML from the tenant's data")
		}
	}
	color := string(render(t, "table", rep, Options{Color: true}))
	if !strings.Contains(color, statusStyle[posture.StatusFail]+"FAIL") {
		t.Errorf("coloured table does not colour FAIL")
	}
	if strings.Contains(color, "\x1b[31m\n") || strings.Contains(color, "<script>\x1b") {
		t.Errorf("coloured table passes the tenant's escape sequence through")
	}
}

// TestJSONIsTheReport: the json format is posture.Report's JSON: decoding
// it gives the report back, with the documented top-level and per-result
// keys.
func TestJSONIsTheReport(t *testing.T) {
	rep := sampleReport()
	out := render(t, "json", rep, Options{})
	var back posture.Report
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(rep)
	got, _ := json.Marshal(&back)
	if !bytes.Equal(want, got) {
		t.Errorf("json round trip differs:\n got %s\nwant %s", got, want)
	}
	var doc map[string]any
	json.Unmarshal(out, &doc)
	for _, k := range []string{"tenant", "generated", "source", "collected", "conditional_access_mode", "accounts", "summary", "results", "exceptions"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("top-level key %q missing", k)
		}
	}
	res := doc["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"check", "status", "severity", "account_id", "account_upn", "message", "evidence", "remediation"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result key %q missing", k)
		}
	}
	// Lists are arrays, never null.
	empty := string(render(t, "json", &posture.Report{}, Options{}))
	for _, k := range []string{`"accounts": []`, `"results": []`, `"exceptions": []`} {
		if !strings.Contains(empty, k) {
			t.Errorf("empty report: %s missing:\n%s", k, empty)
		}
	}
}

func loadSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0-rtm.5.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const id = sarifSchema
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validateSARIF(sch *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

// TestSARIFSchema validates the SARIF goldens against the SARIF
// 2.1.0 release schema (vendored in testdata, see SARIF-SCHEMA.md), and shows the validation can
// fail: broken documents are refused.
func TestSARIFSchema(t *testing.T) {
	sch := loadSARIFSchema(t)
	for _, name := range []string{"report.sarif.golden", "empty.sarif.golden"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateSARIF(sch, data); err != nil {
			t.Errorf("%s does not validate against SARIF 2.1.0: %v", name, err)
		}
	}
	good := render(t, "sarif", sampleReport(), Options{ConfigFile: "config/break glass.yaml"})
	if !bytes.Contains(good, []byte(`"uri": "config/break%20glass.yaml"`)) {
		t.Errorf("no physical location on the configuration file")
	}
	if err := validateSARIF(sch, good); err != nil {
		t.Errorf("SARIF with physical locations does not validate: %v", err)
	}
	broken := []struct{ name, from, to string }{
		{"wrong version", `"version": "2.1.0"`, `"version": "2.0.0"`},
		{"unknown level", `"level": "error"`, `"level": "critical"`},
		{"unknown kind", `"kind": "review"`, `"kind": "skipped"`},
		{"suppression status", `"status": "accepted",` + "\n" + `              "justification"`, `"status": "waived",` + "\n" + `              "justification"`},
		{"result without message", `"message": {`, `"msg": {`},
	}
	for _, b := range broken {
		if !bytes.Contains(good, []byte(b.from)) {
			t.Fatalf("%s: %q not in the SARIF output", b.name, b.from)
		}
		bad := bytes.Replace(good, []byte(b.from), []byte(b.to), 1)
		if err := validateSARIF(sch, bad); err == nil {
			t.Errorf("%s: broken SARIF validates", b.name)
		}
	}
}

// TestSARIFMapping pins the documented mapping: which results appear,
// their kind, level and suppressions, one rule per check.
func TestSARIFMapping(t *testing.T) {
	rep := sampleReport()
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string
						Help struct{ Text string }
					}
				}
			}
			Results []struct {
				RuleID, Kind, Level string
				RuleIndex           int
				Suppressions        []struct{ Kind, Status, Justification string }
				Locations           []struct {
					LogicalLocations []struct{ FullyQualifiedName string }
				}
				Properties struct{ Status string }
			}
		}
	}
	if err := json.Unmarshal(render(t, "sarif", rep, Options{}), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	checks := map[string]bool{}
	for _, r := range rep.Results {
		checks[r.Check] = true
	}
	if len(run.Tool.Driver.Rules) != len(checks) {
		t.Errorf("%d rules for %d checks", len(run.Tool.Driver.Rules), len(checks))
	}
	want := 0
	for _, r := range rep.Results {
		if r.Status != posture.StatusPass {
			want++
		}
	}
	if len(run.Results) != want {
		t.Fatalf("%d results, want %d (every result but the passes)", len(run.Results), want)
	}
	for _, r := range run.Results {
		if rule := run.Tool.Driver.Rules[r.RuleIndex]; rule.ID != r.RuleID || rule.Help.Text == "" {
			t.Errorf("result %s: ruleIndex %d names rule %s (help %q)", r.RuleID, r.RuleIndex, rule.ID, rule.Help.Text)
		}
		if len(r.Locations) != 1 || len(r.Locations[0].LogicalLocations) != 1 {
			t.Errorf("result %s: no logical location", r.RuleID)
		}
		wantKind, wantSupp := "fail", 0
		switch posture.Status(r.Properties.Status) {
		case posture.StatusSkip:
			wantKind = "review"
			if r.Level != "none" {
				t.Errorf("skip %s at level %s, want none", r.RuleID, r.Level)
			}
		case posture.StatusAccepted:
			wantSupp = 1
		case posture.StatusError:
			if r.Level != "error" {
				t.Errorf("error %s at level %s", r.RuleID, r.Level)
			}
		}
		if r.Kind != wantKind || len(r.Suppressions) != wantSupp {
			t.Errorf("%s %s: kind %s with %d suppressions, want %s with %d", r.Properties.Status, r.RuleID, r.Kind, len(r.Suppressions), wantKind, wantSupp)
		}
		if wantSupp == 1 && (r.Suppressions[0].Status != "accepted" || !strings.Contains(r.Suppressions[0].Justification, "FIDO2 keys ordered")) {
			t.Errorf("accepted suppression %+v", r.Suppressions[0])
		}
	}
}

// TestJUnitMapping parses the JUnit output back: one suite per check, one
// case per result, counts that add up, and the documented element per
// status.
func TestJUnitMapping(t *testing.T) {
	rep := sampleReport()
	var doc junitSuites
	if err := xml.Unmarshal(render(t, "junit", rep, Options{}), &doc); err != nil {
		t.Fatalf("junit output does not parse: %v", err)
	}
	if doc.Tests != len(rep.Results) {
		t.Errorf("%d tests, want %d", doc.Tests, len(rep.Results))
	}
	s := rep.Summary
	if doc.Failures != s.Fail || doc.Errors != s.Error || doc.Skipped != s.Skip+s.Accepted {
		t.Errorf("failures %d errors %d skipped %d; summary %+v", doc.Failures, doc.Errors, doc.Skipped, s)
	}
	cases := 0
	for _, suite := range doc.Suites {
		cases += len(suite.Cases)
		for _, c := range suite.Cases {
			status := c.Properties[0].Value
			got := map[string]bool{"failure": c.Failure != nil, "error": c.Error != nil, "skipped": c.Skipped != nil}
			want := map[string]string{"fail": "failure", "error": "error", "skip": "skipped", "accepted": "skipped"}[status]
			for el, has := range got {
				if has != (el == want) {
					t.Errorf("%s %s: <%s> %v", suite.Name, c.Name, el, has)
				}
			}
			if status == "accepted" && !strings.HasPrefix(c.Skipped.Message, "accepted: accepted by alice@contoso.com until 2026-06-30") {
				t.Errorf("accepted case message %q", c.Skipped.Message)
			}
		}
	}
	if cases != len(rep.Results) {
		t.Errorf("%d cases, want %d", cases, len(rep.Results))
	}
}

// TestUnknownStatusIsNotAPass: a status a renderer does not know (a newer
// engine) is shown as it is and counted against the run, never as a pass.
func TestUnknownStatusIsNotAPass(t *testing.T) {
	rep := &posture.Report{Results: []posture.Result{{Check: "future", Status: "maybe", Severity: posture.SeverityHigh, Message: "odd"}}}
	if out := string(render(t, "table", rep, Options{})); !strings.Contains(out, "MAYBE") {
		t.Errorf("table hides the status:\n%s", out)
	}
	var log struct {
		Runs []struct {
			Results []struct{ Kind, Level string }
		}
	}
	json.Unmarshal(render(t, "sarif", rep, Options{}), &log)
	if r := log.Runs[0].Results; len(r) != 1 || r[0].Kind != "fail" || r[0].Level != "error" {
		t.Errorf("sarif: %+v", r)
	}
	var doc junitSuites
	xml.Unmarshal(render(t, "junit", rep, Options{}), &doc)
	if doc.Errors != 1 {
		t.Errorf("junit: %d errors, want 1", doc.Errors)
	}
}

func TestFormatsRegistered(t *testing.T) {
	for _, f := range []string{"table", "markdown", "json", "sarif", "junit"} {
		if _, ok := Lookup(f); !ok {
			t.Errorf("format %s not registered", f)
		}
	}
	if !reflect.DeepEqual(Names(), Names()) {
		t.Error("Names not stable")
	}
}

func TestFileURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"breakglass.yaml", "breakglass.yaml"},
		{"config/bg #1.yaml", "config/bg%20%231.yaml"},
		{"/etc/breakglass/config.yaml", "file:///etc/breakglass/config.yaml"},
	} {
		if got := fileURI(tc.in); got != tc.want {
			t.Errorf("fileURI(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
