package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Formats Render writes.
var Formats = []string{"markdown", "html", "json"}

// Render writes r in format (markdown, html or json).
func Render(w io.Writer, r *Report, format string) error {
	switch format {
	case "markdown", "md":
		return Markdown(w, r)
	case "html":
		return HTML(w, r)
	case "json":
		return JSON(w, r)
	}
	return fmt.Errorf("unknown report format %q (want markdown, html or json)", format)
}

// JSON writes r as one indented JSON object.
func JSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

const timeLayout = "2006-01-02 15:04:05Z"

func ts(t time.Time) string {
	if t.IsZero() {
		return "time unknown"
	}
	return t.UTC().Format(timeLayout)
}

// nextStep is what the reader does next, by state.
func nextStep(r *Report) string {
	id := r.Incident.ID
	switch r.Incident.State {
	case "open":
		return fmt.Sprintf("Find out who used the account and why. Acknowledge: breakglass incidents ack %s. Then review: breakglass incidents review %s --as drill|emergency|misuse --by NAME --note TEXT.", id, id)
	case "acknowledged":
		return fmt.Sprintf("Review it: breakglass incidents review %s --as drill|emergency|misuse --by NAME --note TEXT.", id)
	case "reviewed":
		return fmt.Sprintf("Close it once follow-up is done: breakglass incidents close %s.", id)
	}
	return ""
}

func account(i Incident) string {
	switch {
	case i.AccountUPN != "" && i.AccountID != "":
		return i.AccountUPN + " (" + i.AccountID + ")"
	case i.AccountUPN != "":
		return i.AccountUPN
	}
	return i.AccountID
}

// mdEscaper keeps a value from a record (hostile input) from becoming
// Markdown or HTML structure.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "|", `\|`, "#", `\#`, "&", "&amp;")

func md(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return mdEscaper.Replace(spellHidden(s))
}

// hidden are characters a hostile value could use to change what a reader
// sees: C1 controls and format characters (bidi overrides and isolates,
// which reorder text so that an attacker's UPN reads as a colleague's,
// and zero-width characters).
func hidden(r rune) bool {
	return (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r)
}

// spellHidden writes hidden characters as \u202e.
func spellHidden(s string) string {
	if strings.IndexFunc(s, hidden) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hidden(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// visible makes rendered HTML safe to look at: invalid UTF-8 becomes
// U+FFFD, and control and hidden characters other than line breaks and
// tabs are spelled out (\x1b, \u202e). The template has none of them, so
// only data changes; the spelling is plain ASCII text.
func visible(b []byte) []byte {
	bad := func(r rune) bool { return (r < ' ' && r != '\n' && r != '\r' && r != '\t') || r == 0x7f || hidden(r) }
	if utf8.Valid(b) && bytes.IndexFunc(b, bad) < 0 {
		return b
	}
	b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	var out bytes.Buffer
	out.Grow(len(b) + 64)
	for _, r := range string(b) {
		switch {
		case r < 0x100 && bad(r):
			fmt.Fprintf(&out, "\\x%02x", r)
		case bad(r):
			fmt.Fprintf(&out, "\\u%04x", r)
		default:
			out.WriteRune(r)
		}
	}
	return out.Bytes()
}

// Markdown writes r as a Markdown document.
func Markdown(w io.Writer, r *Report) error {
	var b strings.Builder
	i := r.Incident
	fmt.Fprintf(&b, "# Incident %s: %s\n\n", md(i.ID), md(account(i)))
	if s := nextStep(r); s != "" {
		fmt.Fprintf(&b, "**Next:** %s\n\n", md(s))
	}
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, md(v))
		}
	}
	row("State", i.State)
	row("Kind", i.Kind)
	row("Account", account(i))
	row("Opened", ts(i.Opened))
	row("Events", ts(i.FirstEvent)+" to "+ts(i.LastEvent))
	row("Alerts", fmt.Sprint(len(i.Alerts)))
	row("Previous incident", i.Previous)
	if r.Head != nil {
		row("Evidence chain head", headText(r.Head))
	}
	row("Report made", ts(r.Made))
	b.WriteString("\n## Review\n\n")
	if rv := r.Review; rv != nil {
		fmt.Fprintf(&b, "**Classified as %s** by %s at %s.\n\n", md(rv.Class), md(orUnknown(rv.By)), ts(rv.At))
		if rv.Note != "" {
			fmt.Fprintf(&b, "> %s\n\n", md(rv.Note))
		}
		if len(rv.Attest) > 0 {
			b.WriteString("Do the actions taken match the authorised use?\n\n")
			for _, a := range rv.Attest {
				fmt.Fprintf(&b, "- %s: %s\n", md(a.Name), md(a.Value))
			}
			b.WriteString("\n")
		} else {
			b.WriteString("No attestation that the actions taken match the authorised use was recorded.\n\n")
		}
	} else {
		b.WriteString("Not reviewed yet.\n\n")
	}
	if len(r.Gaps) > 0 {
		b.WriteString("## Not in this report\n\nThese parts could not be read; the report is incomplete:\n\n")
		for _, g := range r.Gaps {
			fmt.Fprintf(&b, "- %s\n", md(g))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## Timeline (oldest first, UTC)\n\n")
	if len(r.Items) == 0 {
		b.WriteString("Nothing recorded.\n")
	}
	for _, it := range r.Items {
		mark := ""
		if it.Bad {
			mark = "⚠ "
		}
		fmt.Fprintf(&b, "### %s · %s%s\n\n", ts(it.At), mark, md(it.Title))
		for _, f := range it.Fields {
			fmt.Fprintf(&b, "- **%s:** %s\n", md(f.Name), md(f.Value))
		}
		if it.Ref != "" {
			fmt.Fprintf(&b, "- **Ref:** %s\n", md(it.Ref))
		}
		for _, t := range it.Targets {
			fmt.Fprintf(&b, "- **Target:** %s", md(t.Name))
			if t.Type != "" {
				fmt.Fprintf(&b, " (%s)", md(t.Type))
			}
			if t.ID != "" && t.ID != t.Name {
				fmt.Fprintf(&b, ", id %s", md(t.ID))
			}
			b.WriteString("\n")
			if len(t.Changes) > 0 {
				b.WriteString("\n  | Property | Old | New |\n  |---|---|---|\n")
				for _, c := range t.Changes {
					fmt.Fprintf(&b, "  | %s | %s | %s |\n", md(c.Property), md(c.Old), md(c.New))
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func headText(h *Head) string {
	s := fmt.Sprintf("%d:%s", h.Seq, h.Hash)
	if h.Signed {
		return s + " (signed)"
	}
	return s + " (unsigned)"
}

//go:embed report.html.tmpl
var htmlText string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ts": ts, "account": account, "next": nextStep, "head": headText,
	"unknown": orUnknown, "count": func(s []string) int { return len(s) },
}).Parse(htmlText))

// HTML writes r as one self-contained HTML page: styles inline, no
// scripts, nothing fetched, so it opens the same offline and years later.
func HTML(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, r); err != nil {
		return err
	}
	_, err := w.Write(visible(b.Bytes()))
	return err
}
