package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"breakglass/internal/posture"
)

func init() { Register("markdown", RendererFunc(renderMarkdown)) }

// renderMarkdown writes the report as GitHub-flavoured Markdown, for a pull
// request comment, a wiki or a ticket: the counts, a table per account
// (tenant-wide first), then the details (evidence and fix) of every result
// that is not a pass. Tenant data is escaped: a display name cannot inject
// HTML, links or table cells into the page.
func renderMarkdown(w io.Writer, rep *posture.Report, _ Options) error {
	bw := bufio.NewWriter(w)
	title := "Break-glass posture audit"
	if t := tenantLabel(rep.Tenant); t != "" {
		title += ": " + t
	}
	fmt.Fprintf(bw, "# %s\n\n", mdText(title))
	fmt.Fprintf(bw, "- Source: %s\n", mdText(orDash(rep.Source)))
	fmt.Fprintf(bw, "- Collected: %s\n", stamp(rep.Collected))
	fmt.Fprintf(bw, "- Generated: %s\n", stamp(rep.Generated))
	fmt.Fprintf(bw, "- Conditional Access mode: %s\n", mdText(orDash(rep.ConditionalAccessMode)))
	if rep.ToolVersion != "" {
		fmt.Fprintf(bw, "- breakglass %s\n", mdText(rep.ToolVersion))
	}
	fmt.Fprintln(bw, "\n## Summary")
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "| Status | Results |")
	fmt.Fprintln(bw, "| --- | ---: |")
	for _, st := range posture.Statuses {
		fmt.Fprintf(bw, "| %s | %d |\n", statusWord(st), rep.Summary.Count(st))
	}
	fmt.Fprintf(bw, "| **total** | **%d** |\n", rep.Summary.Total)

	gs := groups(rep)
	for _, g := range gs {
		fmt.Fprintf(bw, "\n## %s\n\n", mdText(g.Label()))
		if a := g.Account; a != nil {
			if a.ID != "" {
				fmt.Fprintf(bw, "- Object id: %s\n", mdCode(a.ID))
			}
			if a.DisplayName != "" {
				fmt.Fprintf(bw, "- Display name: %s\n", mdText(a.DisplayName))
			}
			if a.Entry != "" {
				fmt.Fprintf(bw, "- Configured as: %s\n", mdCode(a.Entry))
			}
			if !a.Resolved {
				fmt.Fprintf(bw, "- **Unresolved**: %s\n", mdText(orDash(a.Reason)))
			}
			fmt.Fprintln(bw)
		}
		if len(g.Results) == 0 {
			fmt.Fprintln(bw, "No results.")
			continue
		}
		fmt.Fprintln(bw, "| Status | Severity | Check | Message |")
		fmt.Fprintln(bw, "| --- | --- | --- | --- |")
		for _, r := range g.Results {
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", statusWord(r.Status), mdText(string(r.Severity)), mdCode(r.Check), mdText(r.Message))
		}
	}

	fmt.Fprintln(bw, "\n## Details")
	n := 0
	for _, g := range gs {
		for _, r := range g.Results {
			if r.Status == posture.StatusPass {
				continue
			}
			n++
			fmt.Fprintf(bw, "\n### %s %s: %s\n\n", statusWord(r.Status), mdText(r.Check), mdText(resultLabel(r)))
			fmt.Fprintf(bw, "%s\n\n", mdText(r.Message))
			if r.Title != "" {
				fmt.Fprintf(bw, "- Check: %s (%s)\n", mdText(r.Title), mdText(string(r.Severity)))
			}
			if r.Rationale != "" {
				fmt.Fprintf(bw, "- Why: %s\n", mdText(r.Rationale))
			}
			if r.Exception != nil {
				fmt.Fprintf(bw, "- Exception: %s", mdText(exceptionNote(r.Exception)))
				if r.Exception.Where != "" {
					fmt.Fprintf(bw, " (%s)", mdCode(r.Exception.Where))
				}
				fmt.Fprintln(bw)
			}
			if len(r.Evidence) > 0 {
				fmt.Fprintln(bw, "- Evidence:")
				for _, e := range r.Evidence {
					line := mdText(e.Object)
					if e.Field != "" {
						line += " " + mdCode(e.Field)
					}
					line += " = " + mdCode(jsonValue(e.Value))
					if e.Note != "" {
						line += " (" + mdText(e.Note) + ")"
					}
					if e.Source != "" {
						line += "; from " + mdText(e.Source)
					}
					fmt.Fprintf(bw, "  - %s\n", line)
				}
			}
			writeMarkdownFix(bw, r.Remediation)
		}
	}
	if n == 0 {
		fmt.Fprintln(bw, "\nEvery result passed.")
	}

	if len(rep.Exceptions) > 0 {
		fmt.Fprintln(bw, "\n## Exceptions")
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "| Check | Account | Reason | Accepted by | Expires | Matched | Where |")
		fmt.Fprintln(bw, "| --- | --- | --- | --- | --- | ---: | --- |")
		for _, e := range rep.Exceptions {
			subject := e.Account
			if subject == "" {
				subject = "every account"
			}
			expires := day(e.Expires)
			if e.Expired {
				expires = "**EXPIRED** " + expires
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %d | %s |\n", mdCode(e.Check), mdText(subject), mdText(e.Reason), mdText(e.AcceptedBy), expires, e.Matched, mdText(e.Where))
		}
	}
	return bw.Flush()
}

func writeMarkdownFix(bw *bufio.Writer, fix posture.Remediation) {
	if fix == (posture.Remediation{}) {
		return
	}
	fmt.Fprintln(bw, "- Fix:")
	if fix.Summary != "" {
		fmt.Fprintf(bw, "  %s\n", mdText(fix.Summary))
	}
	if fix.Portal != "" {
		fmt.Fprintf(bw, "  - Portal: %s\n", mdText(fix.Portal))
	}
	for _, c := range []struct{ label, lang, text string }{{"Graph", "http", fix.Graph}, {"PowerShell", "powershell", fix.PowerShell}} {
		if c.text == "" {
			continue
		}
		fence := codeFence(c.text)
		fmt.Fprintf(bw, "  - %s:\n\n    %s%s\n", c.label, fence, c.lang)
		for _, line := range strings.Split(strings.TrimRight(c.text, "\n"), "\n") {
			fmt.Fprintf(bw, "    %s\n", strings.TrimRight(clean(line), " "))
		}
		fmt.Fprintf(bw, "    %s\n\n", fence)
	}
}

// statusWord is the status in capitals and bold: the verdict must read
// without colour.
func statusWord(st posture.Status) string {
	return "**" + strings.ToUpper(mdText(string(st))) + "**"
}

// mdReplacer escapes what Markdown (and the HTML GitHub allows in it)
// would interpret: emphasis, code, links, headings, tables, raw HTML.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "#", `\#`, "~", `\~`, "!", `\!`,
)

// mdText is plain text for a Markdown line or table cell.
func mdText(s string) string { return mdReplacer.Replace(clean(s)) }

// mdCode is inline code: a backtick run longer than any inside, pipes
// escaped (GitHub splits table cells on them even inside code).
func mdCode(s string) string {
	s = clean(s)
	if s == "" {
		return "` `"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

// codeFence is a fence longer than any backtick run in s (at least three).
func codeFence(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// jsonValue prints an evidence value as Graph sent it (null for absent).
func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
