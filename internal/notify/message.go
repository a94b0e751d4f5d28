package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message forms a template can be given for. Each has an embedded default
// (templates/<form>.tmpl); a configured template replaces the default of
// its form only.
const (
	FormSubject = "subject"
	FormText    = "text"
	FormHTML    = "html"
	FormShort   = "short"
	FormVoice   = "voice"
)

// Forms lists the template forms in the order they are validated and
// reported.
var Forms = []string{FormSubject, FormText, FormHTML, FormShort, FormVoice}

// Size limits of the one-line and short forms.
const (
	// MaxShort is the most Message.Short ever holds: two SMS segments'
	// worth, what Azure's SMS action sends, and what push services show
	// without expanding.
	MaxShort = 320
	// MaxSubject keeps the subject one readable line in every mail client
	// and phone lock screen.
	MaxSubject = 200
)

//go:embed templates/*.tmpl
var defaultTemplateFS embed.FS

// Templates holds template sources per form; "" keeps the embedded default.
// Subject, Text, Short and Voice are Go text/template; HTML is html/template,
// which escapes every value for its context. Templates see a MessageData.
type Templates struct {
	Subject, Text, HTML, Short, Voice string
}

// get returns the source configured for form.
func (t Templates) get(form string) string {
	switch form {
	case FormSubject:
		return t.Subject
	case FormText:
		return t.Text
	case FormHTML:
		return t.HTML
	case FormShort:
		return t.Short
	case FormVoice:
		return t.Voice
	}
	return ""
}

// set replaces the source of form.
func (t *Templates) set(form, src string) {
	switch form {
	case FormSubject:
		t.Subject = src
	case FormText:
		t.Text = src
	case FormHTML:
		t.HTML = src
	case FormShort:
		t.Short = src
	case FormVoice:
		t.Voice = src
	}
}

// RenderOptions configures a Renderer.
type RenderOptions struct {
	// TimeZone is shown next to UTC (notify.time_zone); nil shows UTC only.
	TimeZone *time.Location
	// AckURL returns the acknowledge link for an alert; nil (or an empty
	// result) means messages carry no link.
	AckURL func(alertID string) string
	// EvidenceHead returns the evidence log's current head ("SEQ:HASH"),
	// printed in the text and HTML forms: every message then carries a
	// copy of the head outside the store, so a log cut back later is
	// caught by evidence verify --head. nil or "" prints nothing.
	EvidenceHead func() string
	// Templates override the embedded defaults per form.
	Templates Templates
}

// Renderer turns notifications into the words people read. It is safe for
// concurrent use: templates are parsed once and only executed afterwards.
type Renderer struct {
	opts      RenderOptions
	custom    map[string]executor // configured templates, by form
	defaults  map[string]executor // embedded templates, by form
	coalesced map[string]executor // embedded coalesced templates, by form (message_coalesced.go)
}

// executor is a parsed text or HTML template.
type executor interface {
	execute(data any) (string, error) // a *MessageData, or a *coalescedView
}

type textExec struct{ t *template.Template }

func (e textExec) execute(d any) (string, error) {
	var b bytes.Buffer
	err := e.t.Execute(&b, d)
	return b.String(), err
}

type htmlExec struct{ t *htmltemplate.Template }

func (e htmlExec) execute(d any) (string, error) {
	var b bytes.Buffer
	err := e.t.Execute(&b, d)
	return b.String(), err
}

// templateFuncs are the functions every template may call, beyond Go's
// built-ins.
var templateFuncs = map[string]any{
	"upper":    strings.ToUpper,
	"lower":    strings.ToLower,
	"join":     strings.Join,
	"contains": strings.Contains,
	"speak":    Speakable,
	// cut shortens a string to n bytes on a rune boundary, with "…".
	"cut": func(s string, n int) string { return cut(s, n) },
}

// parseTemplate parses src as the template of form; name appears in
// errors ("text:3: ...").
func parseTemplate(form, src string) (executor, error) {
	if form == FormHTML {
		t, err := htmltemplate.New(form).Funcs(templateFuncs).Option("missingkey=zero").Parse(src)
		if err != nil {
			return nil, err
		}
		return htmlExec{t}, nil
	}
	t, err := template.New(form).Funcs(templateFuncs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, err
	}
	return textExec{t}, nil
}

// defaultTemplate returns the embedded source of form; "coalesced_"+form
// names the form's coalesced template.
func defaultTemplate(form string) string {
	b, err := defaultTemplateFS.ReadFile("templates/" + form + ".tmpl")
	if err != nil {
		panic("notify: embedded template missing: " + form) // every test finds it
	}
	return string(b)
}

// NewRenderer parses the templates of o. An error names the form and the
// line within its template; ValidateTemplates also executes them.
func NewRenderer(o RenderOptions) (*Renderer, error) {
	r := &Renderer{opts: o, custom: map[string]executor{}, defaults: map[string]executor{}, coalesced: map[string]executor{}}
	var errs TemplateErrors
	for _, form := range Forms {
		def, err := parseTemplate(form, defaultTemplate(form))
		if err != nil {
			panic("notify: embedded template " + form + ": " + err.Error())
		}
		r.defaults[form] = def
		co, err := parseTemplate(form, defaultTemplate("coalesced_"+form))
		if err != nil {
			panic("notify: embedded template coalesced_" + form + ": " + err.Error())
		}
		r.coalesced[form] = co
		src := o.Templates.get(form)
		if src == "" {
			continue
		}
		e, err := parseTemplate(form, src)
		if err != nil {
			errs = append(errs, newTemplateError(form, err))
			continue
		}
		r.custom[form] = e
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// Render renders n in every form. A configured template that fails here
// (it passed validation, so the alert holds something unforeseen) is
// replaced by the default of its form, and the message says so: a page is
// never dropped over wording. The error is always nil today; it is kept so
// that Render fits BuildEnv.Render.
func (r *Renderer) Render(n Notification) (Message, error) {
	if len(n.Coalesced) > 1 {
		return r.renderCoalesced(n)
	}
	d := r.Data(n)
	var failed []string
	run := func(form string) string {
		if e, ok := r.custom[form]; ok {
			out, err := e.execute(d)
			if err == nil {
				return out
			}
			failed = append(failed, form+": "+oneLine(err.Error(), 200))
		}
		out, err := r.defaults[form].execute(d)
		if err != nil {
			// The defaults are tested against every rule; if one still
			// fails, the plain rendering carries the facts.
			failed = append(failed, "default "+form+": "+oneLine(err.Error(), 200))
			m, _ := RenderDefault(n)
			return m.formOf(form)
		}
		return out
	}
	m := Message{
		Subject:  fitLine(run(FormSubject), MaxSubject),
		Text:     cleanText(run(FormText)),
		HTML:     run(FormHTML),
		Short:    run(FormShort),
		Voice:    Speakable(run(FormVoice)),
		Fields:   d.Fields(),
		Severity: int(n.Alert.Severity),
		Status:   n.Status,
		AckURL:   d.AckURL,
	}
	m.Short = fitShort(m.Short, m.AckURL)
	if len(failed) > 0 {
		note := "NOTE: a configured message template failed, so the default wording is shown (" + strings.Join(failed, "; ") + ")."
		m.Text = cleanText(m.Text + "\n" + note + "\n")
		m.HTML += "\n<p style=\"color:#a00\">" + htmltemplate.HTMLEscapeString(note) + "</p>\n"
		m.Fields = append(m.Fields, Field{"Template", note})
		if !strings.Contains(m.Short, "(default wording)") {
			m.Short = fitShort(strings.TrimSpace(m.Short)+" (default wording)", "")
		}
	}
	return m, nil
}

// formOf returns the text of one form of m.
func (m Message) formOf(form string) string {
	switch form {
	case FormSubject:
		return m.Subject
	case FormText:
		return m.Text
	case FormHTML:
		return m.HTML
	case FormShort:
		return m.Short
	case FormVoice:
		return m.Voice
	}
	return ""
}

// oneLine strips control characters (newlines included) from s, collapses
// runs of white space and cuts it at max bytes on a rune boundary: a value
// from a log record must not be able to start a second header line or
// hide text behind terminal escapes.
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) || isInvisible(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return cut(b.String(), max)
}

// isInvisible reports format characters that reorder or hide text
// (bidirectional overrides, zero-width characters): in a page they can
// make an attacker's UPN read as a colleague's.
func isInvisible(r rune) bool {
	return unicode.Is(unicode.Cf, r)
}

// cut shortens s to at most max bytes without splitting a rune, marking
// the cut with an ellipsis.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ell = "…"
	n := max - len(ell)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n <= 0 {
		return ""
	}
	return strings.TrimRight(s[:n], " ") + ell
}

// fitLine makes a subject: one line, at most max bytes.
func fitLine(s string, max int) string { return oneLine(s, max) }

// fitShort makes the short form: one line of at most MaxShort bytes,
// ending with the acknowledge link when there is one and it is not already
// there. The text before the link is what gets cut, never the link, which
// is useless when cut; a link too long to leave room for the essentials
// is left out (the email and chat forms still carry it).
func fitShort(s, ackURL string) string {
	s = oneLine(s, 4*MaxShort)
	if ackURL != "" && !strings.Contains(s, ackURL) {
		suffix := " Ack: " + oneLine(ackURL, MaxShort)
		if len(suffix) <= MaxShort/2 {
			return cut(s, MaxShort-len(suffix)) + suffix
		}
	}
	return cut(s, MaxShort)
}

// cleanText removes control characters other than newline and tab from a
// plain-text body, normalises line ends, and trims blank lines at the
// ends. Values are already one line each (see MessageData); this also
// covers what a custom template adds.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError || unicode.IsControl(r) || isInvisible(r):
		default:
			b.WriteRune(r)
		}
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	out := strings.Trim(strings.Join(lines, "\n"), "\n")
	for strings.Contains(out, "\n\n\n") {
		out = strings.ReplaceAll(out, "\n\n\n", "\n\n")
	}
	return out + "\n"
}

var (
	urlRE      = regexp.MustCompile(`(?i)\b(?:https?|ftp|file|mailto|javascript|data):\S*`)
	tagRE      = regexp.MustCompile(`</?[A-Za-z][^<>]*>`)
	emailRE    = regexp.MustCompile(`([\pL\pN._%+'-]+)@([\pL\pN-]+(?:\.[\pL\pN-]+)+)`)
	speakDrop  = regexp.MustCompile(`[<>{}\[\]\\|^~` + "`" + `*_#]+`)
	speakSpace = regexp.MustCompile(`\s+`)
	speakPunct = regexp.MustCompile(` ([.,;:!?])`)
)

// Speakable makes text fit to be read aloud by a phone call: links, tags
// and markup characters are dropped (a voice reading a URL helps nobody),
// addresses read as "bg1 at contoso dot com", control characters
// stripped, white space collapsed.
func Speakable(s string) string {
	s = urlRE.ReplaceAllString(s, " ")
	s = tagRE.ReplaceAllString(s, " ")
	s = emailRE.ReplaceAllStringFunc(s, spokenUPN)
	s = speakDrop.ReplaceAllString(s, " ")
	s = oneLine(s, 4000)
	s = speakSpace.ReplaceAllString(s, " ")
	return strings.TrimSpace(speakPunct.ReplaceAllString(s, "$1"))
}

// TemplateError is a message template that does not parse or does not run.
type TemplateError struct {
	Form string // subject, text, html, short or voice
	Line int    // line within the template, 0 when unknown
	Msg  string
	// Rule and Status name the sample alert an execution failed on.
	Rule, Status string
}

func (e *TemplateError) Error() string {
	var b strings.Builder
	b.WriteString(e.Form)
	if e.Line > 0 {
		fmt.Fprintf(&b, " template line %d", e.Line)
	} else {
		b.WriteString(" template")
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Rule != "" {
		fmt.Fprintf(&b, " (rendering a %s %s alert)", e.Status, e.Rule)
	}
	return b.String()
}

// TemplateErrors is every problem found in a set of templates.
type TemplateErrors []*TemplateError

func (es TemplateErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// templatePosRE finds the position Go's template packages put in errors:
// "template: text:3: ..." or "template: text:3:14: executing ...".
var templatePosRE = regexp.MustCompile(`^(?:html/)?template: ([a-z]+):(\d+):(?:\d+:)? ?(.*)$`)

func newTemplateError(form string, err error) *TemplateError {
	msg := oneLine(err.Error(), 400)
	e := &TemplateError{Form: form, Msg: msg}
	if m := templatePosRE.FindStringSubmatch(msg); m != nil && m[1] == form {
		fmt.Sscan(m[2], &e.Line)
		e.Msg = m[3]
	} else {
		e.Msg = strings.TrimPrefix(strings.TrimPrefix(msg, "html/"), "template: ")
	}
	if strings.HasSuffix(e.Msg, "unexpected EOF") {
		e.Msg += " (an {{if}}, {{range}}, {{with}} or {{define}} without its {{end}}?)"
	}
	return e
}
