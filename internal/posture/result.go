package posture

import (
	"time"
)

// Status is the verdict of one result.
type Status string

// Statuses. Accepted is a failure (or warning) that a configured exception
// accepts on purpose; it is never reported as pass.
const (
	StatusPass     Status = "pass"
	StatusFail     Status = "fail"
	StatusWarn     Status = "warn"
	StatusSkip     Status = "skip"
	StatusError    Status = "error"
	StatusAccepted Status = "accepted"
)

// Statuses lists every status in report order: the worst first.
var Statuses = []Status{StatusFail, StatusError, StatusWarn, StatusSkip, StatusAccepted, StatusPass}

// Severity ranks a check: how bad its failure is on the worst day.
type Severity string

// Severities, most severe first.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
)

// Severities lists the severities, most severe first.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo}

// Rank is 0 for critical up to 4 for info, and 5 for an unknown severity.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// AtLeast reports whether s is as severe as min or more.
func (s Severity) AtLeast(min Severity) bool { return s.Rank() <= min.Rank() }

// Evidence is one fact a verdict rests on: which Graph object, which field,
// what value, and where it was read.
type Evidence struct {
	// Object names the Graph object, e.g. "user bg1@contoso.onmicrosoft.com
	// (0d3c…)" or "conditionalAccessPolicy Require MFA (5e1f…)".
	Object string `json:"object"`
	// Field is the property path, e.g. "onPremisesSyncEnabled" or
	// "conditions.users.excludeUsers".
	Field string `json:"field,omitempty"`
	// Value is the value read, as Graph sent it (any JSON value; nil for
	// null or absent: Note says which).
	Value any `json:"value"`
	// Source is the snapshot dataset and Graph endpoint it came from, e.g.
	// "breakglass_users: GET /v1.0/users/{id}".
	Source string `json:"source,omitempty"`
	// Note explains the value when it needs it, e.g. "absent: never synced".
	Note string `json:"note,omitempty"`
}

// Remediation is how an admin fixes a failing result. breakglass never runs
// it: the audit is read-only.
type Remediation struct {
	// Summary says what to change, in one or two sentences.
	Summary string `json:"summary"`
	// Portal is the Entra admin center path, e.g. "Entra admin center >
	// Identity > Users > All users > (account) > Properties".
	Portal string `json:"portal,omitempty"`
	// Graph is the Microsoft Graph request that fixes it, e.g.
	// "PATCH https://graph.microsoft.com/v1.0/users/{id} {\"passwordPolicies\":\"DisablePasswordExpiration\"}".
	Graph string `json:"graph,omitempty"`
	// PowerShell is the Microsoft Graph PowerShell command that fixes it.
	PowerShell string `json:"powershell,omitempty"`
}

// Exception is a configured acceptance of a finding, as applied to a
// result.
type Exception struct {
	Check      string    `json:"check"`
	Account    string    `json:"account,omitempty"` // id or UPN as configured; empty: every account
	Reason     string    `json:"reason"`
	AcceptedBy string    `json:"accepted_by"`
	Expires    time.Time `json:"expires"`
	// Expired is true when the exception matched but its expiry has passed:
	// the result keeps its real status and the message says so.
	Expired bool `json:"expired,omitempty"`
	// Where is the configuration position, e.g. "breakglass.yaml:42".
	Where string `json:"where,omitempty"`
}

// Result is one verdict: a check, for one account or for the tenant.
type Result struct {
	Check    string   `json:"check"`
	Title    string   `json:"title"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
	// AccountID and AccountUPN name the account of a per-account check;
	// both are empty for a tenant-wide result.
	AccountID  string `json:"account_id"`
	AccountUPN string `json:"account_upn"`
	// Message is the verdict in one sentence, specific to what was found.
	Message string `json:"message"`
	// Rationale says why the check exists, citing the requirements.
	Rationale    string      `json:"rationale"`
	Requirements []string    `json:"requirements,omitempty"` // e.g. ["R2", "R13"]
	Evidence     []Evidence  `json:"evidence"`
	Remediation  Remediation `json:"remediation"`
	// Exception is the exception that accepted this result (Status
	// accepted), or that matched but expired.
	Exception *Exception `json:"exception,omitempty"`
}

// Failing reports whether the result counts against the --fail-on
// threshold: a fail or an error. Warnings, skips and accepted findings do
// not fail a run.
func (r Result) Failing() bool { return r.Status == StatusFail || r.Status == StatusError }

// TenantInfo names the audited tenant.
type TenantInfo struct {
	ID            string `json:"id"`
	DisplayName   string `json:"display_name,omitempty"`
	InitialDomain string `json:"initial_domain,omitempty"`
}

// AccountInfo is one break-glass account as the audit resolved it.
type AccountInfo struct {
	// Entry is the configuration entry it came from, e.g. "accounts[0] upn
	// bg1@contoso.onmicrosoft.com" or "accounts[2] group 5f0e…".
	Entry       string `json:"entry"`
	ID          string `json:"id,omitempty"`
	UPN         string `json:"upn,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// Resolved is false when the entry names no existing user; Reason says
	// why.
	Resolved bool   `json:"resolved"`
	Reason   string `json:"reason,omitempty"`
}

// Summary counts the results by status.
type Summary struct {
	Total    int `json:"total"`
	Pass     int `json:"pass"`
	Fail     int `json:"fail"`
	Warn     int `json:"warn"`
	Skip     int `json:"skip"`
	Error    int `json:"error"`
	Accepted int `json:"accepted"`
}

// Count returns the number of results with status s.
func (s Summary) Count(st Status) int {
	switch st {
	case StatusPass:
		return s.Pass
	case StatusFail:
		return s.Fail
	case StatusWarn:
		return s.Warn
	case StatusSkip:
		return s.Skip
	case StatusError:
		return s.Error
	case StatusAccepted:
		return s.Accepted
	}
	return 0
}

// Summarize counts results by status.
func Summarize(results []Result) Summary {
	var s Summary
	for _, r := range results {
		s.Total++
		switch r.Status {
		case StatusPass:
			s.Pass++
		case StatusFail:
			s.Fail++
		case StatusWarn:
			s.Warn++
		case StatusSkip:
			s.Skip++
		case StatusError:
			s.Error++
		case StatusAccepted:
			s.Accepted++
		}
	}
	return s
}

// Report is the outcome of one audit run. Its JSON form is the `--format
// json` output documented in the README.
type Report struct {
	Tenant    TenantInfo `json:"tenant"`
	Generated time.Time  `json:"generated"`
	// Source says what was audited: "snapshot DIR" or "Microsoft Graph (live)".
	Source string `json:"source"`
	// Collected is when the audited data was read from Graph.
	Collected time.Time `json:"collected"`
	// ConditionalAccessMode is the mode the conditional-access check used.
	ConditionalAccessMode string        `json:"conditional_access_mode"`
	ToolVersion           string        `json:"tool_version,omitempty"`
	Accounts              []AccountInfo `json:"accounts"`
	Summary               Summary       `json:"summary"`
	Results               []Result      `json:"results"`
	// Exceptions lists every configured exception with how it was used:
	// the ones that accepted a result, the expired ones, and the ones that
	// matched nothing.
	Exceptions []ExceptionUse `json:"exceptions"`
	// Problems lists what the snapshot held that could not be decoded
	// (Tenant.Problems), each naming dataset, index and field; the checks
	// that needed it report unknown rather than pass.
	Problems []string `json:"problems,omitempty"`
}

// ExceptionUse is one configured exception and what it did in this run.
type ExceptionUse struct {
	Exception
	// Matched counts the results it accepted (or would have, had it not
	// expired).
	Matched int `json:"matched"`
}

// Failing returns the results at or above min that fail the run.
func (r *Report) Failing(min Severity) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Failing() && res.Severity.AtLeast(min) {
			out = append(out, res)
		}
	}
	return out
}
