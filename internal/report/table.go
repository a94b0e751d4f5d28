package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"breakglass/internal/posture"
)

func init() { Register("table", RendererFunc(renderTable)) }

// ANSI styles of the terminal table, used only when Options.Color.
var statusStyle = map[posture.Status]string{
	posture.StatusFail:     "\x1b[1;31m", // bold red
	posture.StatusError:    "\x1b[1;35m", // bold magenta
	posture.StatusWarn:     "\x1b[33m",   // yellow
	posture.StatusSkip:     "\x1b[36m",   // cyan
	posture.StatusAccepted: "\x1b[34m",   // blue
	posture.StatusPass:     "\x1b[32m",   // green
}

const (
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiReset = "\x1b[0m"
)

// renderTable writes the terminal report: a header, the counts, then the
// results grouped per account (tenant-wide first), each failing, erroring
// or warning result followed by its fix, and the exceptions last. Every
// status is spelled out, so the table reads the same without colour.
func renderTable(w io.Writer, rep *posture.Report, o Options) error {
	bw := bufio.NewWriter(w)
	style := func(code, s string) string {
		if !o.Color || code == "" {
			return s
		}
		return code + s + ansiReset
	}
	checkWidth := len("CHECK")
	for _, r := range rep.Results {
		checkWidth = max(checkWidth, len(clean(r.Check)))
	}

	title := "Break-glass posture audit"
	if t := tenantLabel(rep.Tenant); t != "" {
		title += ": " + t
	}
	fmt.Fprintln(bw, style(ansiBold, clean(title)))
	fmt.Fprintf(bw, "Source: %s; collected %s; generated %s; Conditional Access mode %s\n",
		clean(orDash(rep.Source)), stamp(rep.Collected), stamp(rep.Generated), clean(orDash(rep.ConditionalAccessMode)))
	fmt.Fprintf(bw, "Summary: %s\n", summaryLine(rep.Summary, func(st posture.Status, s string) string { return style(statusStyle[st], s) }))

	for _, g := range groups(rep) {
		fmt.Fprintln(bw)
		head := style(ansiBold, clean(g.Label()))
		if a := g.Account; a != nil {
			var about []string
			if a.ID != "" && a.ID != g.Label() {
				about = append(about, a.ID)
			}
			if a.DisplayName != "" {
				about = append(about, a.DisplayName)
			}
			// The configuration entry matters when it names no one.
			if !a.Resolved {
				about = append(about, "UNRESOLVED: "+orDash(a.Reason))
				if a.Entry != "" {
					about = append(about, a.Entry)
				}
			}
			if len(about) > 0 {
				head += "  " + style(ansiDim, clean("("+strings.Join(about, "; ")+")"))
			}
		}
		fmt.Fprintln(bw, head)
		if len(g.Results) == 0 {
			fmt.Fprintln(bw, "  (no results)")
		}
		for _, r := range g.Results {
			st := fmt.Sprintf("%-8s", strings.ToUpper(clean(string(r.Status))))
			fmt.Fprintf(bw, "  %s  %-8s  %-*s  %s\n", style(statusStyle[r.Status], st), clean(string(r.Severity)), checkWidth, clean(r.Check), clean(r.Message))
			indent := strings.Repeat(" ", 2+8+2+8+2+checkWidth+2)
			switch r.Status {
			case posture.StatusFail, posture.StatusError, posture.StatusWarn:
				if s := r.Remediation.Summary; s != "" {
					fmt.Fprintf(bw, "%sfix: %s\n", indent, clean(s))
				}
				if r.Exception != nil && r.Exception.Expired {
					fmt.Fprintf(bw, "%s%s\n", indent, style(statusStyle[posture.StatusWarn], clean(exceptionNote(r.Exception))))
				}
			}
		}
	}

	if len(rep.Exceptions) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, style(ansiBold, "Exceptions"))
		for _, e := range rep.Exceptions {
			subject := e.Account
			if subject == "" {
				subject = "every account"
			}
			state := fmt.Sprintf("matched %d", e.Matched)
			switch {
			case e.Expired:
				state = style(statusStyle[posture.StatusWarn], "EXPIRED, "+state)
			case e.Matched == 0:
				state += " (matches nothing: remove it or fix its check/account)"
			}
			fmt.Fprintf(bw, "  %s for %s: %s; accepted by %s until %s; %s", clean(e.Check), clean(subject), clean(e.Reason), clean(e.AcceptedBy), day(e.Expires), state)
			if e.Where != "" {
				fmt.Fprintf(bw, " [%s]", clean(e.Where))
			}
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}

// summaryLine counts every status, worst first: "3 fail, 1 error, …, 5
// pass (10 results)". paint styles one count.
func summaryLine(s posture.Summary, paint func(posture.Status, string) string) string {
	var parts []string
	for _, st := range posture.Statuses {
		parts = append(parts, paint(st, fmt.Sprintf("%d %s", s.Count(st), st)))
	}
	return fmt.Sprintf("%s (%d results)", strings.Join(parts, ", "), s.Total)
}

func tenantLabel(t posture.TenantInfo) string {
	switch {
	case t.DisplayName != "" && t.ID != "":
		return t.DisplayName + " (" + t.ID + ")"
	case t.DisplayName != "":
		return t.DisplayName
	}
	return t.ID
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stamp formats a time for reports, UTC to the second; the zero time is
// "unknown".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func day(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02")
}
