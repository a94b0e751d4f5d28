package notify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// Slack: the documented incoming-webhook body with Block Kit.
type slackDocText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji"`
}

type slackDocBlock struct {
	Type     string         `json:"type"`
	Text     *slackDocText  `json:"text"`
	Fields   []slackDocText `json:"fields"`
	Elements []struct {
		Type     string          `json:"type"`
		Text     json.RawMessage `json:"text"`
		URL      string          `json:"url"`
		Style    string          `json:"style"`
		ActionID string          `json:"action_id"`
	} `json:"elements"`
}

type slackDocMessage struct {
	Text   string          `json:"text"`
	Blocks []slackDocBlock `json:"blocks"`
}

func TestSlackRequestShape(t *testing.T) {
	c := chatCases()[1]
	for _, tt := range []struct {
		golden string
		n      Notification
		style  string
	}{
		{"slack_firing.json", firingNote(fullAlert()), "danger"},
		{"slack_resolved.json", resolvedNote(fullAlert()), ""},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			r, req, err := sendOnce(t, c, tt.n, func(_ int, w http.ResponseWriter, _ *http.Request) { c.accepted(w) })
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
			if req.Method != http.MethodPost || req.URL.Path != slackSecretPath || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s (%s), want a JSON POST to the webhook", req.Method, req.URL.Path, r.header.Get("Content-Type"))
			}
			var m slackDocMessage
			decodeStrict(t, r.body, &m)
			m0, _ := ackRender(tt.n)
			if !strings.HasPrefix(m.Text, slackEscape(m0.Subject)) || !strings.HasSuffix(m.Text, "\n<"+slackEscape(m0.AckURL)+"|Acknowledge>") {
				t.Errorf("fallback text %q, want the subject and the ack link", m.Text)
			}
			var types []string
			for _, b := range m.Blocks {
				types = append(types, b.Type)
			}
			if strings.Join(types, ",") != "header,section,context,actions" {
				t.Fatalf("blocks %v, want header, section, context, actions", types)
			}
			h := m.Blocks[0]
			if h.Text == nil || h.Text.Type != "plain_text" || h.Text.Text != m0.Subject {
				t.Errorf("header %+v, want plain_text %q", h.Text, m0.Subject)
			}
			sec := m.Blocks[1]
			if len(sec.Fields) != len(m0.Fields) {
				t.Fatalf("%d section fields, want %d", len(sec.Fields), len(m0.Fields))
			}
			for i, f := range m0.Fields {
				if want := "*" + f.Label + "*\n" + slackEscape(f.Value); sec.Fields[i].Type != "mrkdwn" || sec.Fields[i].Text != want {
					t.Errorf("field %d = %+v, want mrkdwn %q", i, sec.Fields[i], want)
				}
			}
			if len(m.Blocks[2].Elements) != 1 {
				t.Errorf("context %+v, want one element", m.Blocks[2])
			}
			act := m.Blocks[3].Elements
			if len(act) != 1 || act[0].Type != "button" || act[0].URL != m0.AckURL || act[0].Style != tt.style || act[0].ActionID == "" {
				t.Errorf("actions %+v, want one %q button to %s", act, tt.style, m0.AckURL)
			}
			checkJSONGolden(t, tt.golden, r.body)
		})
	}
}

// TestSlackLimits: Slack rejects a whole message (invalid_payload, which
// is permanent) for one oversized part, so every part is cut to fit,
// never mid-rune or mid-entity, and fields beyond ten go to another
// section.
func TestSlackLimits(t *testing.T) {
	long := strings.Repeat("é<&>", 1200)
	m := Message{Subject: long, Status: "firing", AckURL: "https://bg.example/ack"}
	for i := range 23 {
		m.Fields = append(m.Fields, Field{Label: "F" + string(rune('a'+i)), Value: long})
	}
	body := slackBody(m)
	header := body.Blocks[0].(slackHeader)
	if n := utf8.RuneCountInString(header.Text.Text); n > slackHeaderMax {
		t.Errorf("header has %d runes, limit %d", n, slackHeaderMax)
	}
	var sections int
	for _, b := range body.Blocks {
		s, ok := b.(slackSection)
		if !ok {
			continue
		}
		sections++
		if len(s.Fields) > slackFieldsMax {
			t.Errorf("section with %d fields, limit %d", len(s.Fields), slackFieldsMax)
		}
		for _, f := range s.Fields {
			if n := utf8.RuneCountInString(f.Text); n > slackFieldMax {
				t.Errorf("field has %d runes, limit %d", n, slackFieldMax)
			}
			if !utf8.ValidString(f.Text) || strings.HasSuffix(strings.TrimSuffix(f.Text, "…"), "&am") || strings.Contains(f.Text, "<") {
				t.Errorf("field cut badly or unescaped: …%q", f.Text[len(f.Text)-20:])
			}
		}
	}
	if sections != 3 {
		t.Errorf("%d sections for 23 fields, want 3", sections)
	}
	if n := utf8.RuneCountInString(body.Text); n > slackFallbackMx {
		t.Errorf("fallback has %d runes, limit %d", n, slackFallbackMx)
	}
}

// TestSlackEscape: text from a log record cannot form a link or a
// mention.
func TestSlackEscape(t *testing.T) {
	got := slackEscape("<!channel> <https://evil.example|Reset MFA> a&b")
	if strings.ContainsAny(got, "<>") || !strings.Contains(got, "a&amp;b") {
		t.Errorf("slackEscape = %q", got)
	}
}
