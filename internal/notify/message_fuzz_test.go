package notify

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// FuzzRender: whatever a record puts in an alert, rendering succeeds, the
// short form fits, and no one-line form carries a control character.
func FuzzRender(f *testing.F) {
	f.Add("Break-glass sign-in", "bg1@contoso.com", "50126", "Oslo", "bg.signin", true)
	f.Add("<script>\r\n", "\xff\xfe", "\x1b[2J", "\u202e", "bg.notify", false)
	f.Add(strings.Repeat("日", 400), strings.Repeat("a", 1000), "", "", "bg.unknown", true)
	r, err := NewRenderer(RenderOptions{AckURL: func(id string) string { return "https://bg.example/ack/" + id }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, upn, text, loc, rule string, resolved bool) {
		a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
		a.Title, a.AccountUPN, a.Location, a.Rule = title, upn, loc, rule
		a.Annotations["error_text"], a.Annotations["target"], a.Annotations["description"] = text, text, text
		status := store.StatusFiring
		if resolved {
			status = store.StatusResolved
		}
		m, err := r.Render(Notification{ID: a.ID, Status: status, Alert: a})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Short) > MaxShort || len(m.Subject) > MaxSubject {
			t.Fatalf("short %d bytes, subject %d bytes", len(m.Short), len(m.Subject))
		}
		for _, s := range []string{m.Subject, m.Short, m.Voice} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8: %q", s)
			}
			for _, c := range s {
				if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
					t.Fatalf("control character %U in %q", c, s)
				}
			}
		}
		if strings.Contains(m.HTML, "<script>") {
			t.Fatalf("unescaped markup in HTML")
		}
	})
}

// FuzzValidateTemplates: any template source gives nil or a
// TemplateErrors, never a panic; one that validates renders every sample.
func FuzzValidateTemplates(f *testing.F) {
	f.Add("{{.Title}}", "<p>{{.What}}</p>")
	f.Add("{{", "{{end}}")
	f.Add("{{range .Facts}}{{.Label}}{{end}}", "<a href=\"{{.AckURL}}\">x</a>")
	f.Add("{{template \"x\"}}", "{{define \"y\"}}{{end}}")
	f.Fuzz(func(t *testing.T, text, html string) {
		tpl := Templates{Subject: text, Text: text, HTML: html, Short: text, Voice: text}
		err := ValidateTemplates(tpl)
		if err != nil {
			if _, ok := err.(TemplateErrors); !ok {
				t.Fatalf("%T, want TemplateErrors", err)
			}
			return
		}
		r, err := NewRenderer(RenderOptions{Templates: tpl})
		if err != nil {
			t.Fatalf("validated, then NewRenderer failed: %v", err)
		}
		for _, a := range SampleAlerts() {
			m, _ := r.Render(Notification{ID: a.ID, Status: store.StatusFiring, Alert: a})
			if strings.Contains(m.Text, "configured message template failed") {
				t.Fatalf("validated template failed on sample %s: %s", a.Rule, m.Text)
			}
		}
	})
}

// FuzzRenderCoalesced: whatever the alerts hold, a coalesced message
// renders with its own templates (never the plain fallback), fits its
// limits, has no control character in a one-line form, and names every
// alert it carries.
func FuzzRenderCoalesced(f *testing.F) {
	f.Add("Break-glass sign-in", "bg1@contoso.com", "Oslo", "bg.signin", 3, false)
	f.Add("<script>\r\n", "\xff\xfe", "\u202e", "bg.notify", 2, true)
	f.Add(strings.Repeat("日", 400), strings.Repeat("a", 1000), "", "", 40, false)
	r, err := NewRenderer(RenderOptions{AckURL: func(id string) string { return "https://bg.example/ack/" + id }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, upn, loc, rule string, n int, resolved bool) {
		n = 2 + int(uint(n)%50)
		var carried []Notification
		for i := range n {
			a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
			a.ID = "fz" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
			a.Title, a.AccountUPN, a.Location, a.Rule = title, upn, loc, rule
			status := store.StatusFiring
			if resolved && i%2 == 0 {
				status = store.StatusResolved
			}
			carried = append(carried, Notification{ID: NotificationID(a.ID, status), Status: status, Alert: a})
		}
		m, err := r.Render(NewCoalesced(carried, 1, sampleTime))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Short) > MaxShort || len(m.Subject) > MaxSubject {
			t.Fatalf("short %d bytes, subject %d bytes", len(m.Short), len(m.Subject))
		}
		if !strings.Contains(m.Text, "in one message") && !strings.Contains(m.Text, "alerts are over") {
			t.Fatalf("the coalesced templates failed, plain fallback used:\n%s", m.Text)
		}
		for _, s := range []string{m.Subject, m.Short, m.Voice} {
			for _, c := range s {
				if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
					t.Fatalf("control character %U in %q", c, s)
				}
			}
		}
		for _, c := range carried {
			if !strings.Contains(m.Text, c.Alert.ID) {
				t.Fatalf("alert %s not named", c.Alert.ID)
			}
		}
	})
}
