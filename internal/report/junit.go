package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"breakglass/internal/posture"
)

func init() { Register("junit", RendererFunc(renderJUnit)) }

// JUnit XML for CI test tabs. The mapping (also in the README): one
// testsuite per check id, in report order; one testcase per result, named
// after its account (UPN, else id) or "tenant", classname
// breakglass.<check>. fail is a <failure>, error an <error>, skip a
// <skipped> with the reason. accepted is <skipped> too, its message
// starting "accepted:" with the reason, who and expiry, and a property
// status=accepted: a CI view then shows it beside the unchecked ones rather
// than among the passes, and it fails no build. warn passes, with a
// property status=warn and the message in <system-out>. Every testcase
// carries status and severity properties.
type junitSuites struct {
	XMLName    xml.Name     `xml:"testsuites"`
	Name       string       `xml:"name,attr"`
	Tests      int          `xml:"tests,attr"`
	Failures   int          `xml:"failures,attr"`
	Errors     int          `xml:"errors,attr"`
	Skipped    int          `xml:"skipped,attr"`
	Time       string       `xml:"time,attr"`
	Timestamp  string       `xml:"timestamp,attr,omitempty"`
	Properties []junitProp  `xml:"properties>property,omitempty"`
	Suites     []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name       string         `xml:"name,attr"`
	Classname  string         `xml:"classname,attr"`
	Time       string         `xml:"time,attr"`
	Properties []junitProp    `xml:"properties>property,omitempty"`
	Failure    *junitProblem  `xml:"failure,omitempty"`
	Error      *junitProblem  `xml:"error,omitempty"`
	Skipped    *junitSkipped  `xml:"skipped,omitempty"`
	SystemOut  *junitCharData `xml:"system-out,omitempty"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitCharData struct {
	Body string `xml:",chardata"`
}

func renderJUnit(w io.Writer, rep *posture.Report, _ Options) error {
	out := junitSuites{Name: "breakglass posture audit", Time: "0", Timestamp: junitTime(rep)}
	for _, p := range [][2]string{
		{"tenant", rep.Tenant.ID}, {"tenant_name", rep.Tenant.DisplayName}, {"source", rep.Source},
		{"collected", stamp(rep.Collected)}, {"conditional_access_mode", rep.ConditionalAccessMode},
	} {
		if p[1] != "" {
			out.Properties = append(out.Properties, junitProp{p[0], xmlText(p[1])})
		}
	}
	index := map[string]int{}
	for _, r := range rep.Results {
		i, ok := index[r.Check]
		if !ok {
			i = len(out.Suites)
			index[r.Check] = i
			out.Suites = append(out.Suites, junitSuite{Name: xmlText(r.Check), Time: "0", Timestamp: out.Timestamp})
		}
		s := &out.Suites[i]
		c := junitCaseOf(r)
		s.Tests++
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
		s.Cases = append(s.Cases, c)
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(&out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitTime(rep *posture.Report) string {
	if rep.Generated.IsZero() {
		return ""
	}
	return rep.Generated.UTC().Format("2006-01-02T15:04:05")
}

func junitCaseOf(r posture.Result) junitCase {
	c := junitCase{
		Name:      xmlText(resultLabel(r)),
		Classname: xmlText("breakglass." + r.Check),
		Time:      "0",
		Properties: []junitProp{
			{"status", xmlText(string(r.Status))},
			{"severity", xmlText(string(r.Severity))},
		},
	}
	if r.AccountID != "" {
		c.Properties = append(c.Properties, junitProp{"account_id", xmlText(r.AccountID)})
	}
	if e := r.Exception; e != nil {
		c.Properties = append(c.Properties,
			junitProp{"exception_reason", xmlText(e.Reason)},
			junitProp{"exception_accepted_by", xmlText(e.AcceptedBy)},
			junitProp{"exception_expires", day(e.Expires)},
			junitProp{"exception_expired", fmt.Sprint(e.Expired)})
	}
	msg := xmlText(r.Message)
	switch r.Status {
	case posture.StatusPass:
	case posture.StatusWarn:
		c.SystemOut = &junitCharData{xmlText("WARN: " + r.Message + "\n" + junitDetails(r))}
	case posture.StatusFail:
		c.Failure = &junitProblem{Message: msg, Type: xmlText(string(r.Severity)), Body: xmlText(junitDetails(r))}
	case posture.StatusError:
		c.Error = &junitProblem{Message: msg, Type: "error", Body: xmlText(junitDetails(r))}
	case posture.StatusSkip:
		c.Skipped = &junitSkipped{Message: msg}
	case posture.StatusAccepted:
		m := "accepted: " + r.Message
		if r.Exception != nil {
			m = "accepted: " + exceptionNote(r.Exception)
		}
		c.Skipped = &junitSkipped{Message: xmlText(m)}
	default:
		// Unknown status: an error until a person looks.
		c.Error = &junitProblem{Message: msg, Type: xmlText("status " + string(r.Status)), Body: xmlText(junitDetails(r))}
	}
	return c
}

// junitDetails is the body of a failure: message, rationale, evidence and
// the fix, as plain text.
func junitDetails(r posture.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %s)\n", r.Title, r.Check, r.Severity)
	if r.Rationale != "" {
		fmt.Fprintf(&b, "Why: %s\n", r.Rationale)
	}
	if r.Exception != nil {
		fmt.Fprintf(&b, "Exception: %s\n", exceptionNote(r.Exception))
	}
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "Evidence: %s", e.Object)
		if e.Field != "" {
			fmt.Fprintf(&b, " %s", e.Field)
		}
		fmt.Fprintf(&b, " = %s", jsonValue(e.Value))
		if e.Note != "" {
			fmt.Fprintf(&b, " (%s)", e.Note)
		}
		if e.Source != "" {
			fmt.Fprintf(&b, "; from %s", e.Source)
		}
		b.WriteByte('\n')
	}
	fix := r.Remediation
	for _, l := range [][2]string{{"Fix", fix.Summary}, {"Portal", fix.Portal}, {"Graph", fix.Graph}, {"PowerShell", fix.PowerShell}} {
		if l[1] != "" {
			fmt.Fprintf(&b, "%s: %s\n", l[0], l[1])
		}
	}
	return b.String()
}

// xmlText drops what XML 1.0 cannot carry at all (most control
// characters, which encoding/xml would write as invalid character
// references) so that the document always parses.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}
