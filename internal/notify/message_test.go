package notify

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the goldens use Europe/Oslo whatever the machine has
	"unicode/utf8"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

func testRenderer(t *testing.T, tpl Templates) *Renderer {
	t.Helper()
	tz, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(RenderOptions{
		TimeZone: tz,
		AckURL: func(id string) string {
			return "https://breakglass.contoso.example/ack?alert=" + id + "&exp=1772510000&sig=3f9a0c"
		},
		EvidenceHead: func() string { return "1234:3f2a9c0d1b4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff" },
		Templates:    tpl,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, r *Renderer, a alert.Alert, status string) Message {
	t.Helper()
	m, err := r.Render(Notification{ID: NotificationID(a.ID, status), Status: status, Alert: a, Attempt: 1, Sent: a.Detected})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return m
}

// goldenText lays out every plain form of m for review.
func goldenText(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "== subject (%d bytes)\n%s\n", len(m.Subject), m.Subject)
	fmt.Fprintf(&b, "== short (%d bytes)\n%s\n", len(m.Short), m.Short)
	fmt.Fprintf(&b, "== voice\n%s\n", m.Voice)
	fmt.Fprintf(&b, "== fields\n")
	for _, f := range m.Fields {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	fmt.Fprintf(&b, "== severity %d, status %s, ack %q\n", m.Severity, m.Status, m.AckURL)
	fmt.Fprintf(&b, "== text\n%s", m.Text)
	return b.String()
}

func checkMessageGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestMessageGolden renders every built-in rule's sample alert, firing and
// resolved, in every form.
func TestMessageGolden(t *testing.T) {
	r := testRenderer(t, Templates{})
	samples := SampleAlerts()
	if len(samples) < 11 {
		t.Fatalf("%d sample alerts; every rule of detect.All needs one", len(samples))
	}
	for _, a := range samples {
		for _, status := range []string{store.StatusFiring, store.StatusResolved} {
			t.Run(a.Rule+"/"+status, func(t *testing.T) {
				m := render(t, r, a, status)
				base := filepath.Join("testdata", "message", a.Rule+"."+status)
				checkMessageGolden(t, base+".txt", []byte(goldenText(m)))
				checkMessageGolden(t, base+".html", []byte(m.HTML))
			})
		}
	}
}

func hostileAlert() alert.Alert {
	a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
	a.Title = "Break-glass sign-in <script>alert(1)</script> & \x1b[2J\r\nBcc: evil@example.com"
	a.AccountUPN = "bg1@contoso.com\r\nBcc: evil@example.com\u202egnp.exe"
	a.Account = "<img src=x onerror=alert(1)>"
	a.IPAddress = "203.0.113.7\x00\x07"
	a.Location = "Oslo <b>bold</b>"
	a.Annotations["error_text"] = "bad\npassword\x1b]0;title\x07 <a href=\"javascript:alert(1)\">x</a>"
	a.Annotations["client_app"] = "Browser\u200b\u2066hidden"
	a.Unreadable = []string{"field: <bad>\r\nX-Injected: 1"}
	return a
}

// TestMessageHostile: control characters, line breaks and invisible
// characters from a log record never reach a header line, the short or
// the voice form; HTML is escaped.
func TestMessageHostile(t *testing.T) {
	r := testRenderer(t, Templates{})
	for _, status := range []string{store.StatusFiring, store.StatusResolved} {
		m := render(t, r, hostileAlert(), status)
		for form, s := range map[string]string{"subject": m.Subject, "short": m.Short, "voice": m.Voice} {
			for _, bad := range []string{"\r", "\n", "\x1b", "\x00", "\x07", "\u202e", "\u200b", "\u2066"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s %s contains %q: %q", status, form, bad, s)
				}
			}
			if !utf8.ValidString(s) {
				t.Errorf("%s %s is not valid UTF-8", status, form)
			}
		}
		for _, bad := range []string{"<script>", "<img", "<b>bold", `href="javascript`, "\x1b"} {
			if strings.Contains(m.HTML, bad) {
				t.Errorf("%s HTML contains %q unescaped", status, bad)
			}
		}
		if !strings.Contains(m.HTML, "&lt;script&gt;") {
			t.Errorf("%s HTML lost the escaped title", status)
		}
		for _, bad := range []string{"\r", "\x1b", "\x00", "\x07", "\u202e"} {
			if strings.Contains(m.Text, bad) {
				t.Errorf("%s text contains %q", status, bad)
			}
		}
		for _, line := range strings.Split(m.Text, "\n") {
			if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Injected:") {
				t.Errorf("%s text has an injected line %q", status, line)
			}
		}
		for _, f := range m.Fields {
			if strings.ContainsAny(f.Label+f.Value, "\r\n\x1b\x00") {
				t.Errorf("%s field %q has a control character: %q", status, f.Label, f.Value)
			}
		}
		if strings.Contains(m.Voice, "<") || strings.Contains(m.Voice, ">") {
			t.Errorf("%s voice keeps markup: %q", status, m.Voice)
		}
	}
}

// TestMessageShortLimit: the short form is at most 320 bytes, valid
// UTF-8 (never cut mid-rune) and keeps the acknowledge link whole,
// whatever the length of the UPN and title.
func TestMessageShortLimit(t *testing.T) {
	r := testRenderer(t, Templates{})
	long := strings.Repeat("ä", 200) // two bytes each
	for _, tc := range []struct {
		name       string
		title, upn string
	}{
		{"long UPN", "Break-glass account sign-in (success)", "bg-" + strings.Repeat("x", 300) + "@contoso.onmicrosoft.com"},
		{"long multibyte title", "Anmeldung " + long, "bg1@contoso.com"},
		{"both long, three-byte runes", strings.Repeat("€", 150), strings.Repeat("日", 150) + "@contoso.com"},
		{"emoji", strings.Repeat("🚨", 100), strings.Repeat("🔥", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
			a.Title, a.AccountUPN = tc.title, tc.upn
			for _, status := range []string{store.StatusFiring, store.StatusResolved} {
				m := render(t, r, a, status)
				if len(m.Short) > MaxShort {
					t.Errorf("%s short is %d bytes: %q", status, len(m.Short), m.Short)
				}
				if !utf8.ValidString(m.Short) || !utf8.ValidString(m.Subject) {
					t.Errorf("%s short or subject cut mid-rune: %q / %q", status, m.Short, m.Subject)
				}
				if len(m.Subject) > MaxSubject {
					t.Errorf("%s subject is %d bytes", status, len(m.Subject))
				}
				if status == store.StatusFiring && !strings.HasSuffix(m.Short, " Ack: "+m.AckURL) {
					t.Errorf("short lost the whole ack link %q: %q", m.AckURL, m.Short)
				}
			}
		})
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"ääääää", 9, "äää…"}, // 9 bytes: "äää" (6) + "…" (3)
		{"ääääää", 8, "ää…"},  // a third "ä" would not fit
		{"日本語日本語", 7, "…"[:0] + "日…"},
		{"abc", 2, ""},
	} {
		if got := cut(tc.in, tc.max); got != tc.want || len(got) > tc.max || !utf8.ValidString(got) {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// TestMessageVoice: the voice form reads no links and no ids.
func TestMessageVoice(t *testing.T) {
	r := testRenderer(t, Templates{})
	for _, a := range SampleAlerts() {
		for _, status := range []string{store.StatusFiring, store.StatusResolved} {
			m := render(t, r, a, status)
			for _, bad := range []string{"http", "://", a.ID, a.AccountID, "@"} {
				if bad != "" && strings.Contains(m.Voice, bad) {
					t.Errorf("%s %s voice contains %q: %s", a.Rule, status, bad, m.Voice)
				}
			}
			if status == store.StatusResolved && !strings.Contains(m.Voice, "resolved") {
				t.Errorf("%s resolved voice does not say so: %s", a.Rule, m.Voice)
			}
		}
	}
	if got := Speakable("see https://x.example/a?b=1 <b>now</b>\n{ok}. Mail bg1@contoso.com"); got != "see now ok. Mail bg1 at contoso dot com" {
		t.Errorf("Speakable = %q", got)
	}
}

// TestMessageResolvedSaysSo: every form of a resolved message says it is
// resolved, and carries no ack link.
func TestMessageResolvedSaysSo(t *testing.T) {
	r := testRenderer(t, Templates{})
	for _, a := range SampleAlerts() {
		m := render(t, r, a, store.StatusResolved)
		for form, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML, "short": m.Short} {
			if !strings.Contains(s, "RESOLVED") {
				t.Errorf("%s resolved %s does not say RESOLVED: %q", a.Rule, form, s)
			}
		}
		if m.AckURL != "" || strings.Contains(m.Text, "/ack?") {
			t.Errorf("%s resolved message carries an ack link", a.Rule)
		}
	}
}

// TestMessageEveryRuleHasRunbook: each registered rule has its own
// runbook line, short and long, and its own description of what happened.
func TestMessageEveryRuleHasRunbook(t *testing.T) {
	for _, m := range detect.All() {
		if _, ok := runbooks[m.ID]; !ok {
			t.Errorf("rule %s has no runbook line", m.ID)
		}
		if s, ok := shortRunbooks[m.ID]; !ok || len(s) > 60 {
			t.Errorf("rule %s has no short runbook line of at most 60 bytes: %q", m.ID, s)
		}
	}
	if len(SampleAlerts()) != len(detect.All()) {
		t.Errorf("%d samples for %d rules", len(SampleAlerts()), len(detect.All()))
	}
}

// TestMessageTimeZone: without a time zone only UTC is shown.
func TestMessageTimeZone(t *testing.T) {
	r, err := NewRenderer(RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
	m := render(t, r, a, store.StatusFiring)
	if !strings.Contains(m.Text, "2026-03-03 03:12:09 UTC") || strings.Contains(m.Text, "CET") {
		t.Errorf("text without time zone:\n%s", m.Text)
	}
	if m.AckURL != "" || strings.Contains(m.Short, "Ack:") || strings.Contains(m.Text, "/ack/") {
		t.Errorf("no AckURL configured, yet a link: %q", m.Short)
	}
	// Without links, text and HTML say how to acknowledge instead.
	if cmd := "breakglass alerts ack " + a.ID + " --by YOUR-NAME"; !strings.Contains(m.Text, cmd) || !strings.Contains(m.HTML, cmd) {
		t.Errorf("no link, and no command to acknowledge with:\n%s", m.Text)
	}
	if m := render(t, r, a, store.StatusResolved); strings.Contains(m.Text, "alerts ack") || strings.Contains(m.HTML, "alerts ack") {
		t.Errorf("a resolution asks to acknowledge:\n%s", m.Text)
	}
	drill := a
	drill.Labels = map[string]string{LabelTest: "drill"}
	if m := render(t, r, drill, store.StatusFiring); strings.Contains(m.Text, "alerts ack") || strings.Contains(m.HTML, "alerts ack") {
		t.Errorf("a drill asks to acknowledge:\n%s", m.Text)
	}
	tz := time.FixedZone("UTC+14", 14*3600)
	r, _ = NewRenderer(RenderOptions{TimeZone: tz})
	m = render(t, r, a, store.StatusFiring)
	if !strings.Contains(m.Text, "2026-03-03 17:12:09 UTC+14") {
		t.Errorf("local time missing:\n%s", m.Text)
	}
	a.EventTimeUnknown = true
	if m = render(t, r, a, store.StatusFiring); !strings.Contains(m.Text, "no usable time") {
		t.Errorf("unknown event time not said:\n%s", m.Text)
	}
}

func TestValidateTemplates(t *testing.T) {
	for _, tc := range []struct {
		name string
		tpl  Templates
		want []string // substrings of the error, "" for none
		form string
		line int
	}{
		{"defaults", Templates{}, nil, "", 0},
		{"valid custom", Templates{Subject: "{{.Severity}} {{.Account.UPN}}", HTML: "<p>{{.What}}</p>", Short: "{{.Title}} {{cut .What 50}}"}, nil, "", 0},
		{"parse error on line 3", Templates{Text: "a\nb\n{{.What}\n"}, []string{"text template line 3"}, "text", 3},
		{"unknown field", Templates{Short: "{{.Title}}\n{{.Nope}}"}, []string{"short template line 2", "Nope", "rendering a firing"}, "short", 2},
		{"unknown function", Templates{Voice: "{{shout .Title}}"}, []string{"voice template line 1", "shout"}, "voice", 1},
		{"fails on one rule only", Templates{Subject: `{{if eq .Rule "bg.posture"}}{{index .Facts 99}}{{end}}ok`}, []string{"subject template line 1", "bg.posture"}, "subject", 1},
		{"html in wrong context", Templates{HTML: "<a href='{{.AckURL}}'>ack</a><script>var x = {{.Title}}</script>"}, nil, "", 0},
		{"html parse error", Templates{HTML: "<p>\n{{range .Facts}}"}, []string{"html template line 2"}, "html", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateTemplates(tc.tpl)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			es, ok := err.(TemplateErrors)
			if !ok || len(es) != 1 || es[0].Form != tc.form || es[0].Line != tc.line {
				t.Errorf("error %#v, want one TemplateError of form %s at line %d", err, tc.form, tc.line)
			}
		})
	}
}

// TestMessageTemplateFallback: a configured template that fails at alert
// time (it passed validation) gives the default wording for that form
// and a note saying so; the page is not dropped.
func TestMessageTemplateFallback(t *testing.T) {
	trap := `{{if eq .Account.UPN "trap@contoso.com"}}{{index .Facts 99}}{{end}}custom {{.Title}}`
	tpl := Templates{Subject: trap, Text: trap, HTML: trap, Short: trap, Voice: trap}
	if err := ValidateTemplates(tpl); err != nil {
		t.Fatalf("the trap must pass validation: %v", err)
	}
	r := testRenderer(t, tpl)
	a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
	if m := render(t, r, a, store.StatusFiring); !strings.HasPrefix(m.Subject, "custom ") || !strings.HasPrefix(m.Short, "custom ") {
		t.Fatalf("custom templates not used: %q / %q", m.Subject, m.Short)
	}
	a.AccountUPN = "trap@contoso.com"
	m := render(t, r, a, store.StatusFiring)
	def := render(t, testRenderer(t, Templates{}), a, store.StatusFiring)
	if m.Subject != def.Subject || m.Voice != def.Voice {
		t.Errorf("fallback subject/voice %q / %q, want the defaults %q / %q", m.Subject, m.Voice, def.Subject, def.Voice)
	}
	for form, s := range map[string]string{"text": m.Text, "html": m.HTML} {
		if !strings.Contains(s, "configured message template failed") || !strings.Contains(s, "index out of range") {
			t.Errorf("%s does not say the template failed:\n%s", form, s)
		}
	}
	if !strings.HasSuffix(m.Short, "(default wording)") || len(m.Short) > MaxShort {
		t.Errorf("short does not say default wording: %q", m.Short)
	}
	if !strings.Contains(m.Text, def.Text[:strings.Index(def.Text, "\n")]) {
		t.Errorf("fallback text lacks the default wording:\n%s", m.Text)
	}
}

func TestNewRendererParseError(t *testing.T) {
	_, err := NewRenderer(RenderOptions{Templates: Templates{Subject: "{{", HTML: "{{end}}"}})
	es, ok := err.(TemplateErrors)
	if !ok || len(es) != 2 || es[0].Form != FormSubject || es[1].Form != FormHTML {
		t.Fatalf("NewRenderer = %v, want parse errors for subject and html", err)
	}
}

// TestMessageDrill: an alert labelled as a test says so in every form.
func TestMessageDrill(t *testing.T) {
	r := testRenderer(t, Templates{})
	a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
	a.Labels[LabelTest] = "drill"
	m := render(t, r, a, store.StatusFiring)
	for form, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML, "short": m.Short, "voice": m.Voice} {
		if !strings.Contains(strings.ToUpper(s), "TEST") {
			t.Errorf("drill %s does not say TEST: %q", form, s)
		}
	}
	a.Labels = nil
	if m = render(t, r, a, store.StatusFiring); strings.Contains(m.Subject+m.Short+m.Voice, "TEST") || strings.Contains(m.Voice, "test") {
		t.Errorf("a real alert reads as a test: %q", m.Subject)
	}
}

// TestRendererConcurrent: one Renderer serves every channel at once (run
// with -race), and its Render is what BuildEnv.Render takes.
func TestRendererConcurrent(t *testing.T) {
	r := testRenderer(t, Templates{Short: "{{.Severity}} {{.Title}}"})
	env := BuildEnv{Render: r.Render}
	samples := SampleAlerts()
	want := make([]Message, len(samples))
	for i, a := range samples {
		want[i] = render(t, r, a, store.StatusFiring)
	}
	errs := make(chan string, 8*len(samples))
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i, a := range samples {
				m, err := RenderWith(env.Render, Notification{ID: a.ID, Status: store.StatusFiring, Alert: a, Attempt: g + 1, Sent: a.Detected})
				if err != nil || m.Text != want[i].Text || m.Short != want[i].Short {
					errs <- a.Rule
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	close(errs)
	for rule := range errs {
		t.Errorf("concurrent render of %s differs", rule)
	}
}
