package drill

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
)

// Report formats of drill report.
const (
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
	FormatJSON     = "json"
)

// stepNames say each step for people, in order.
var stepNames = []struct{ id, name string }{
	{StepDetected, "Sign-in detected"},
	{StepSignedIn, "Account signed in successfully"},
	{StepAlertWithin, "Alert stored in time"},
	{StepDelivery, "Every routed channel delivered"},
	{StepDeliveryWithin, "Delivered in time"},
	{StepAcknowledged, "Acknowledged"},
	{StepAckWithin, "Acknowledged in time"},
}

// StepView is one step's verdict in a report.
type StepView struct {
	Name, Verdict string
	OK            bool
}

// Steps says for each step whether it held: ok, FAILED, "pending" while
// the drill runs, or "not reached" when it never happened.
func (r Report) Steps() []StepView {
	var out []StepView
	for _, s := range stepNames {
		v := StepView{Name: s.name}
		switch {
		case slices.Contains(r.Failed, s.id) || r.FailedStep == s.id:
			v.Verdict = "FAILED"
		case r.stepDone(s.id):
			v.Verdict, v.OK = "ok", true
		case r.Result == ResultRunning:
			v.Verdict = "pending"
		default:
			v.Verdict = "not reached"
		}
		out = append(out, v)
	}
	return out
}

// stepDone reports whether a running drill's step has happened already.
func (r Report) stepDone(step string) bool {
	m := r.Measured
	switch step {
	case StepDetected, StepAlertWithin:
		return m.AlertID != ""
	case StepSignedIn:
		return m.AlertID != "" && !strings.HasPrefix(m.SignInResult, "failure")
	case StepDelivery, StepDeliveryWithin:
		if len(m.Deliveries) == 0 {
			return false
		}
		for _, d := range m.Deliveries {
			if d.Delivered == nil {
				return false
			}
		}
		return true
	}
	return m.Acknowledged != nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func fmtSecs(s *float64) string {
	if s == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f s", *s)
}

func fmtBound(s float64) string { return (time.Duration(s * float64(time.Second))).String() }

// Headline is the report's first line: the result in words.
func (r Report) Headline() string {
	acct := firstNonEmpty(r.AccountUPN, r.AccountID)
	switch r.Result {
	case "passed":
		return fmt.Sprintf("Drill %s of %s PASSED", r.ID, acct)
	case "failed":
		return fmt.Sprintf("Drill %s of %s FAILED at %s", r.ID, acct, r.FailedStep)
	}
	return fmt.Sprintf("Drill %s of %s is RUNNING", r.ID, acct)
}

// Markdown writes the report as Markdown, for a ticket or a wiki.
func (r Report) Markdown(w io.Writer) error {
	var b bytes.Buffer
	m := r.Measured
	fmt.Fprintf(&b, "# %s\n\n", mdEscape(r.Headline()))
	if r.Reason != "" {
		fmt.Fprintf(&b, "**Why:** %s\n\n", mdEscape(r.Reason))
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, mdEscape(v)) }
	row("Account", strings.TrimSpace(r.AccountUPN+" "+r.AccountID))
	row("Window", fmtTime(&r.WindowFrom)+" to "+fmtTime(&r.WindowTo))
	row("Planned by", firstNonEmpty(r.By, "—"))
	if r.Note != "" {
		row("Note", r.Note)
	}
	row("Started", fmtTime(r.Started))
	row("Finished", fmtTime(r.Finished))
	if r.IncidentID != "" {
		row("Incident", r.IncidentID+" (pre-classified as a drill; confirm with breakglass incidents review "+r.IncidentID+" --as drill)")
	}
	fmt.Fprintf(&b, "\n## Steps\n\n| Step | Result |\n|---|---|\n")
	for _, s := range r.Steps() {
		fmt.Fprintf(&b, "| %s | %s |\n", s.Name, s.Verdict)
	}
	fmt.Fprintf(&b, "\n## Measured\n\n| What | When | Took | Bound |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| Sign-in (event time) | %s | | |\n", fmtTime(m.EventTime))
	fmt.Fprintf(&b, "| Record reached breakglass | %s | %s after the sign-in | |\n", fmtTime(m.Detected), fmtSecs(m.DetectSeconds))
	fmt.Fprintf(&b, "| Alert stored | %s | %s after the sign-in | %s |\n", fmtTime(m.Stored), fmtSecs(m.AlertSeconds), fmtBound(r.Bounds.AlertSeconds))
	for _, d := range m.Deliveries {
		when := fmtTime(d.Delivered)
		if d.Delivered == nil {
			when = "NOT DELIVERED"
			if d.Error != "" {
				when += ": " + d.Error
			}
		}
		took := "—"
		if d.Seconds != nil {
			took = fmtSecs(d.Seconds) + " after the alert"
		}
		fmt.Fprintf(&b, "| Delivered to %s | %s | %s | %s |\n", mdEscape(d.Target), mdEscape(when), took, fmtBound(r.Bounds.DeliverySeconds))
	}
	ack := fmtTime(m.Acknowledged)
	if m.AckBy != "" {
		ack += " by " + m.AckBy
	}
	fmt.Fprintf(&b, "| Acknowledged | %s | %s after the alert | %s |\n", mdEscape(ack), fmtSecs(m.AckSeconds), fmtBound(r.Bounds.AckSeconds))
	if m.AlertID != "" {
		fmt.Fprintf(&b, "\nAlert %s, event %s.\n", mdEscape(m.AlertID), mdEscape(m.EventID))
	}
	fmt.Fprintf(&b, "\n## Checklist\n\n| Item | Status | By / evidence |\n|---|---|---|\n")
	for _, c := range r.Checklist {
		fmt.Fprintf(&b, "| %s (`%s`) | %s | %s |\n", c.Text, c.ID, strings.ToUpper(c.Status), mdEscape(strings.Trim(c.By+"; "+c.Evidence, "; ")))
	}
	switch {
	case len(r.Open) > 0 && r.Finished != nil:
		fmt.Fprintf(&b, "\n**Open items:** %s. Not attested at finish.\n", strings.Join(r.Open, ", "))
	case len(r.Open) > 0:
		fmt.Fprintf(&b, "\n**Open items:** %s. Attest them at finish: `--attest ITEM=NAME`.\n", strings.Join(r.Open, ", "))
	default:
		fmt.Fprintf(&b, "\nNo open items.\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mdEscape keeps a value inside its table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

//go:embed report.html.tmpl
var reportHTML string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"time": fmtTime, "secs": fmtSecs, "bound": fmtBound, "upper": strings.ToUpper,
	"tp": func(t time.Time) *time.Time { return &t },
}).Parse(reportHTML))

// HTML writes the report as one self-contained HTML page.
func (r Report) HTML(w io.Writer) error {
	var b bytes.Buffer
	if err := htmlTmpl.ExecuteTemplate(&b, "report", r); err != nil {
		return fmt.Errorf("rendering the drill report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// AuditorsHTML writes the last passed drill of each account (drill report
// without an id) as one HTML page: the accounts with none first.
func AuditorsHTML(w io.Writer, reports []Report, missing []string) error {
	var b bytes.Buffer
	if err := htmlTmpl.ExecuteTemplate(&b, "auditors", struct {
		Reports []Report
		Missing []string
	}{reports, missing}); err != nil {
		return fmt.Errorf("rendering the drill reports: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}
