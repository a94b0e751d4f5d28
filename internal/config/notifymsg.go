package config

import (
	"errors"
	"strings"
	"time"
	_ "time/tzdata" // notify.time_zone must not depend on the host's zoneinfo

	"breakglass/internal/notify"
)

// MessageTemplates is notify.templates: Go templates replacing the
// embedded default wording of one message form each (see the README's
// "Messages and templates"). subject, text, short and voice are
// text/template; html is html/template. Each is checked at load time by
// rendering a sample alert of every built-in rule, so that a mistake
// fails `config check` at its line, never a page.
type MessageTemplates struct {
	Subject string `yaml:"subject,omitempty"`
	Text    string `yaml:"text,omitempty"`
	HTML    string `yaml:"html,omitempty"`
	Short   string `yaml:"short,omitempty"`
	Voice   string `yaml:"voice,omitempty"`
}

func (t MessageTemplates) notify() notify.Templates {
	return notify.Templates{Subject: t.Subject, Text: t.Text, HTML: t.HTML, Short: t.Short, Voice: t.Voice}
}

// Location is notify.time_zone, the zone messages show next to UTC; nil
// when it is not set (UTC only).
func (n NotifyConfig) Location() *time.Location {
	if n.TimeZone == "" {
		return nil
	}
	loc, err := time.LoadLocation(n.TimeZone)
	if err != nil {
		return nil // validated at load time; unreachable for a loaded Config
	}
	return loc
}

// RenderOptions configures the message renderer from notify.time_zone and
// notify.templates. ackURL makes the acknowledge link (nil: no link).
func (n NotifyConfig) RenderOptions(ackURL func(alertID string) string) notify.RenderOptions {
	return notify.RenderOptions{TimeZone: n.Location(), AckURL: ackURL, Templates: n.Templates.notify()}
}

// validateMessages checks notify.time_zone and notify.templates.
func (c *Config) validateMessages(d *decoder) {
	n := &c.Notify
	n.TimeZone = strings.TrimSpace(n.TimeZone)
	if f := "notify.time_zone"; n.TimeZone != "" && !d.failed[f] {
		switch _, err := time.LoadLocation(n.TimeZone); {
		case n.TimeZone == "Local":
			d.errorf(d.lines[f], f, "name the zone (such as Europe/Oslo): Local depends on the machine the daemon runs on")
		case err != nil:
			d.errorf(d.lines[f], f, "unknown time zone %q: use an IANA name such as Europe/Oslo, America/New_York or UTC", n.TimeZone)
		}
	}
	err := notify.ValidateTemplates(n.Templates.notify())
	var tes notify.TemplateErrors
	if err == nil || !errors.As(err, &tes) {
		if err != nil {
			d.errorf(d.lines["notify.templates"], "notify.templates", "%v", err)
		}
		return
	}
	for _, te := range tes {
		f := "notify.templates." + te.Form
		if d.failed[f] {
			continue
		}
		d.errorf(templateLine(d.lines[f], te.Line, n.Templates.notify(), te.Form), f, "%s", strings.TrimPrefix(te.Error(), te.Form+" "))
	}
}

// templateLine maps a line of a template onto the file. A multi-line
// template is a block scalar (`text: |`), whose first line is the one
// after the key; a one-line template sits on the key's line. (A quoted
// string with \n escapes is off by a little; the message also names the
// template's own line.)
func templateLine(keyLine, tmplLine int, t notify.Templates, form string) int {
	src := map[string]string{notify.FormSubject: t.Subject, notify.FormText: t.Text, notify.FormHTML: t.HTML,
		notify.FormShort: t.Short, notify.FormVoice: t.Voice}[form]
	if keyLine == 0 || tmplLine <= 0 || !strings.Contains(src, "\n") {
		return keyLine
	}
	// An error at the end (a missing {{end}}) is blamed on the last line.
	return keyLine + min(tmplLine, strings.Count(strings.TrimRight(src, "\n"), "\n")+1)
}
