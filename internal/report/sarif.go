package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"breakglass/internal/posture"
)

func init() { Register("sarif", RendererFunc(renderSARIF)) }

// SARIF 2.1.0 for code-scanning and CI dashboards. The mapping (also in the
// README):
//   - one rule per check id in the report, pass or not, in report order;
//     help is the rationale and the fix; defaultConfiguration.level comes
//     from the severity (critical, high: error; medium: warning; low, info:
//     note) and properties carry "security-severity" for dashboards that
//     rank by it;
//   - one result per fail, error, warn and accepted result:
//     fail and error are kind "fail" at the rule's level (error always at
//     level error: an account that could not be judged is not a lesser
//     finding), warn is kind "fail" at level warning (note for low/info);
//     accepted is kind "fail" at its level with a suppression (kind
//     external, status accepted, the justification naming reason, who and
//     expiry), so viewers hide it but keep it;
//   - skip is a result of kind "review" (level none): the requirement was
//     NOT checked, which a person must see, but it does not fail CI;
//   - pass is not a result: the rule exists and run.properties.summary
//     counts every status, passes included;
//   - every result has a logical location: the account (kind "resource",
//     fullyQualifiedName users/<id or upn>) or the tenant (tenants/<id>),
//     and a partial fingerprint check/subject that stays stable across runs;
//     when Options.ConfigFile is known, also a physical location on it
//     (code scanning needs a file; a relative path stays relative, for a
//     repository-relative URI).
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifMessage   `json:"shortDescription"`
	FullDescription      *sarifMessage  `json:"fullDescription,omitempty"`
	Help                 *sarifMessage  `json:"help,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	EndTimeUTC          string `json:"endTimeUtc,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Kind                string             `json:"kind"`
	Level               string             `json:"level"`
	Message             sarifMessage       `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
}

// fileURI is a SARIF artifact URI for a path: relative paths stay
// relative (forward slashes, each segment escaped), absolute ones become
// file:// URIs.
func fileURI(path string) string {
	u := url.URL{Path: filepath.ToSlash(path)}
	if filepath.IsAbs(path) {
		u.Scheme = "file"
		if !strings.HasPrefix(u.Path, "/") {
			u.Path = "/" + u.Path // a Windows drive path
		}
	}
	return u.String()
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s posture.Severity) string {
	switch s {
	case posture.SeverityCritical, posture.SeverityHigh:
		return "error"
	case posture.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score code-scanning dashboards rank by.
func securitySeverity(s posture.Severity) string {
	switch s {
	case posture.SeverityCritical:
		return "9.5"
	case posture.SeverityHigh:
		return "8.0"
	case posture.SeverityMedium:
		return "5.5"
	case posture.SeverityLow:
		return "3.0"
	}
	return "0.0"
}

func renderSARIF(w io.Writer, rep *posture.Report, o Options) error {
	var rules []sarifRule
	ruleIndex := map[string]int{}
	for _, r := range rep.Results {
		if _, ok := ruleIndex[r.Check]; ok {
			continue
		}
		ruleIndex[r.Check] = len(rules)
		rules = append(rules, sarifRuleOf(r, rep.Results))
	}

	results := []sarifResult{}
	for _, r := range rep.Results {
		res, ok := sarifResultOf(r, rep.Tenant, ruleIndex[r.Check])
		if ok && o.ConfigFile != "" {
			res.Locations[0].PhysicalLocation = &sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: fileURI(o.ConfigFile)}}
		}
		if ok {
			results = append(results, res)
		}
	}

	sum := rep.Summary
	log := sarifLog{
		Schema:  sarifSchema,
		Version: sarifVersion,
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{Name: "breakglass", Version: rep.ToolVersion, Rules: nonNil(rules)}},
			Invocations: []sarifInvocation{{
				// The audit ran to the end: findings, skips and errors are
				// results, not a failed execution.
				ExecutionSuccessful: true,
				EndTimeUTC:          sarifTime(rep),
			}},
			Results: results,
			Properties: map[string]any{
				"tenant":                  rep.Tenant,
				"source":                  rep.Source,
				"collected":               stamp(rep.Collected),
				"conditional_access_mode": rep.ConditionalAccessMode,
				"summary":                 sum,
			},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&log)
}

func sarifTime(rep *posture.Report) string {
	if rep.Generated.IsZero() {
		return ""
	}
	return stamp(rep.Generated)
}

// sarifRuleOf describes a check from the first of its results; the fix in
// help is that of the first result that has one (per-account fixes differ
// only in the account they name).
func sarifRuleOf(first posture.Result, all []posture.Result) sarifRule {
	fix := first.Remediation
	for _, r := range all {
		if r.Check == first.Check && r.Remediation != (posture.Remediation{}) {
			fix = r.Remediation
			break
		}
	}
	title := first.Title
	if title == "" {
		title = first.Check
	}
	rule := sarifRule{
		ID:                   first.Check,
		Name:                 ruleName(first.Check),
		ShortDescription:     sarifMessage{Text: title},
		DefaultConfiguration: sarifConfig{Level: sarifLevel(first.Severity)},
		Properties: map[string]any{
			"severity":          string(first.Severity),
			"security-severity": securitySeverity(first.Severity),
			"tags":              append([]string{"security", "break-glass"}, first.Requirements...),
		},
	}
	if first.Rationale != "" {
		rule.FullDescription = &sarifMessage{Text: first.Rationale}
	}
	text, md := helpText(first.Rationale, fix)
	if text != "" {
		rule.Help = &sarifMessage{Text: text, Markdown: md}
	}
	return rule
}

// ruleName is the check id in PascalCase, as SARIF viewers expect of a
// rule name: "cloud-only" → "CloudOnly".
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func helpText(rationale string, fix posture.Remediation) (text, md string) {
	var t, m []string
	if rationale != "" {
		t = append(t, rationale)
		m = append(m, mdText(rationale))
	}
	if fix.Summary != "" {
		t = append(t, "Fix: "+fix.Summary)
		m = append(m, "**Fix:** "+mdText(fix.Summary))
	}
	if fix.Portal != "" {
		t = append(t, "Portal: "+fix.Portal)
		m = append(m, "**Portal:** "+mdText(fix.Portal))
	}
	if fix.Graph != "" {
		t = append(t, "Graph: "+fix.Graph)
		f := codeFence(fix.Graph)
		m = append(m, "**Graph:**\n\n"+f+"http\n"+fix.Graph+"\n"+f)
	}
	if fix.PowerShell != "" {
		t = append(t, "PowerShell: "+fix.PowerShell)
		f := codeFence(fix.PowerShell)
		m = append(m, "**PowerShell:**\n\n"+f+"powershell\n"+fix.PowerShell+"\n"+f)
	}
	return strings.Join(t, "\n\n"), strings.Join(m, "\n\n")
}

func sarifResultOf(r posture.Result, tenant posture.TenantInfo, ruleIndex int) (sarifResult, bool) {
	res := sarifResult{
		RuleID:    r.Check,
		RuleIndex: ruleIndex,
		Kind:      "fail",
		Level:     sarifLevel(r.Severity),
		Message:   sarifMessage{Text: r.Message},
		Properties: map[string]any{
			"status":      string(r.Status),
			"severity":    string(r.Severity),
			"evidence":    nonNil(r.Evidence),
			"remediation": r.Remediation,
		},
	}
	if res.Message.Text == "" {
		res.Message.Text = fmt.Sprintf("%s: %s", r.Check, r.Status)
	}
	switch r.Status {
	case posture.StatusPass:
		return sarifResult{}, false
	case posture.StatusFail:
	case posture.StatusError:
		res.Level = "error"
	case posture.StatusWarn:
		if res.Level == "error" {
			res.Level = "warning"
		}
	case posture.StatusAccepted:
		if e := r.Exception; e != nil {
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: exceptionNote(e)}}
		} else {
			// Accepted without the exception that accepted it: keep the
			// suppression (the engine decided) but say the reason is unknown.
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: "accepted by a configured exception (details missing from the report)"}}
		}
	case posture.StatusSkip:
		res.Kind, res.Level = "review", "none"
	default:
		// A status this version does not know is a finding until a person
		// looks: never silently dropped.
		res.Level = "error"
	}
	if len(r.Requirements) > 0 {
		res.Properties["requirements"] = r.Requirements
	}
	if r.Exception != nil {
		res.Properties["exception"] = r.Exception
	}
	subject := "tenant"
	loc := sarifLogicalLocation{Name: tenantLabel(tenant), FullyQualifiedName: "tenants/" + orDash(tenant.ID), Kind: "resource"}
	if loc.Name == "" {
		loc.Name = "tenant"
	}
	if r.AccountID != "" || r.AccountUPN != "" {
		id := r.AccountID
		if id == "" {
			id = r.AccountUPN
		}
		subject = strings.ToLower(id)
		loc = sarifLogicalLocation{Name: resultLabel(r), FullyQualifiedName: "users/" + id, Kind: "resource"}
	}
	res.Locations = []sarifLocation{{LogicalLocations: []sarifLogicalLocation{loc}}}
	res.PartialFingerprints = map[string]string{"breakglassFinding/v1": r.Check + "/" + subject}
	return res, true
}
