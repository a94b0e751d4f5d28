package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// SlackConfig is a `type: slack` channel: a Slack incoming webhook
// (https://hooks.slack.com/services/T…/B…/…). The URL is the credential.
type SlackConfig struct {
	URL secret.Secret `yaml:"url"`
}

func init() {
	RegisterChannel(ChannelType{
		Name: "slack",
		Doc:  "Slack incoming webhook posting Block Kit (url)",
		New:  func() ChannelConfig { return &SlackConfig{} },
	})
}

// Validate checks the URL.
func (c *SlackConfig) Validate(report func(field, msg string)) {
	raw := c.URL.Reveal()
	if raw == "" {
		report("url", "required: the incoming webhook URL (Slack app → Incoming Webhooks → Add New Webhook to Workspace)")
		return
	}
	if err := ValidateWebhookURL(raw); err != nil {
		report("url", err.Error())
	}
}

// Build makes the Slack notifier.
func (c *SlackConfig) Build(env BuildEnv) (Notifier, error) {
	raw := c.URL.Reveal()
	if err := ValidateWebhookURL(raw); err != nil {
		return nil, fmt.Errorf("slack %q: url: %w", env.Target, err)
	}
	return &Slack{
		http:   NewHTTPClient("slack "+strconv.Quote(env.Target), env.HTTP, env.Timeout, SecretsOfURL(raw)...),
		url:    raw,
		render: env.Render,
		log:    env.Logger,
	}, nil
}

// Slack posts each notification to an incoming webhook. Slack answers 200
// with the body "ok"; anything else is a failure, with the error string
// Slack puts in the body (invalid_payload, no_service, channel_not_found,
// …). Slack has no idempotency key: a retry after a lost response posts
// twice, which beats posting none.
type Slack struct {
	http   *HTTPClient
	url    string
	render func(Notification) (Message, error)
	log    *slog.Logger
}

// String is the redacted form, so logging a *Slack is safe.
func (s *Slack) String() string { return "slack " + displayURL(s.url) }

// SendTimeout makes Slack Bounded.
func (s *Slack) SendTimeout() time.Duration { return s.http.SendTimeout() }

// slackPermanent are Slack's webhook errors that no retry can fix: the
// payload, the webhook or its channel is wrong and a person has to act.
var slackPermanent = map[string]bool{
	"invalid_payload":                   true,
	"no_service":                        true,
	"no_service_id":                     true,
	"no_team":                           true,
	"team_disabled":                     true,
	"invalid_token":                     true,
	"channel_not_found":                 true,
	"channel_is_archived":               true,
	"action_prohibited":                 true,
	"posting_to_general_channel_denied": true,
	"user_not_found":                    true,
	"too_many_attachments":              true,
	"no_text":                           true,
}

// Notify posts the message.
func (s *Slack) Notify(ctx context.Context, n Notification) error {
	body, err := chatJSON(slackBody(chatRender(s.render, n, s.log)))
	if err != nil {
		return Permanent(s.http.Errorf("", s.url, "encode message: %w", err))
	}
	resp, err := s.http.Do(ctx, HTTPRequest{URL: s.url, Header: jsonHeader(), Body: body})
	if err != nil {
		return err
	}
	return s.verdict(resp)
}

// verdict judges Slack's answer.
func (s *Slack) verdict(resp *HTTPResponse) error {
	answer := strings.TrimSpace(string(resp.Body))
	switch {
	case resp.StatusCode == http.StatusOK && answer == "ok":
		return nil
	case slackPermanent[answer] && !RetryableStatus(resp.StatusCode):
		return withHint(Permanent(s.http.StatusError("", s.url, resp, "Slack says "+answer)), slackHint(answer))
	case resp.OK():
		// A 2xx without "ok" is not Slack's answer to a delivered message
		// (a proxy, a captive portal): not delivered, try again.
		return s.http.Errorf("", s.url, "HTTP %d without Slack's \"ok\": %q", resp.StatusCode, s.http.Excerpt([]byte(answer)))
	}
	return s.http.StatusError("", s.url, resp, "")
}

// slackHint says what to do about a permanent Slack error.
func slackHint(answer string) string {
	switch answer {
	case "invalid_payload", "no_text", "too_many_attachments":
		return "Slack rejected the message; report this as a breakglass bug"
	case "no_service", "no_service_id", "invalid_token", "no_team", "team_disabled":
		return "the webhook was removed or disabled; create a new incoming webhook and update url"
	case "channel_not_found", "channel_is_archived", "user_not_found":
		return "the webhook's channel is gone or archived; create a webhook for a live channel"
	}
	return "the webhook may not post to its channel; check the Slack app's permissions"
}

// Slack's documented limits; exceeding one makes Slack reject the whole
// message (invalid_payload), so text is cut to fit instead.
const (
	slackHeaderMax  = 150
	slackFieldMax   = 2000
	slackFieldsMax  = 10 // per section
	slackURLMax     = 3000
	slackFallbackMx = 4000
)

type slackMessage struct {
	Text   string `json:"text"`
	Blocks []any  `json:"blocks"`
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackHeader struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
}

type slackSection struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
}

type slackContext struct {
	Type     string      `json:"type"`
	Elements []slackText `json:"elements"`
}

type slackActions struct {
	Type     string        `json:"type"`
	Elements []slackButton `json:"elements"`
}

type slackButton struct {
	Type     string    `json:"type"`
	Text     slackText `json:"text"`
	URL      string    `json:"url"`
	Style    string    `json:"style,omitempty"`
	ActionID string    `json:"action_id"`
}

// slackBody is the Block Kit message: a header with the subject, section
// fields from Message.Fields (ten per section, Slack's limit), a context
// line with status and severity, and an Acknowledge button. text is the
// fallback shown in notifications and by clients without blocks.
func slackBody(m Message) slackMessage {
	blocks := []any{slackHeader{Type: "header", Text: slackText{Type: "plain_text", Text: truncateRunes(m.Subject, slackHeaderMax), Emoji: true}}}
	for i := 0; i < len(m.Fields); i += slackFieldsMax {
		sec := slackSection{Type: "section"}
		for _, f := range m.Fields[i:min(i+slackFieldsMax, len(m.Fields))] {
			v := f.Value
			if v == "" {
				v = "-"
			}
			sec.Fields = append(sec.Fields, slackText{Type: "mrkdwn", Text: slackCut("*"+slackEscape(f.Label)+"*\n"+slackEscape(v), slackFieldMax)})
		}
		blocks = append(blocks, sec)
	}
	status := strings.ToUpper(m.Status)
	if status == "" {
		status = "FIRING"
	}
	ctx := fmt.Sprintf("%s · Sev%d %s · breakglass", status, m.Severity, pagerdutySeverity(m.Severity))
	blocks = append(blocks, slackContext{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: slackEscape(ctx)}}})
	if m.AckURL != "" && len(m.AckURL) <= slackURLMax {
		style := ""
		if m.Status != store.StatusResolved {
			style = "danger"
		}
		blocks = append(blocks, slackActions{Type: "actions", Elements: []slackButton{{
			Type: "button", Text: slackText{Type: "plain_text", Text: "Acknowledge"}, URL: m.AckURL, Style: style, ActionID: "breakglass-ack",
		}}})
	}
	// The fallback is what a phone's notification shows: the subject,
	// and the ack link as a Slack link (our URL, escaped as Slack asks).
	fallback := slackCut(slackEscape(m.Subject), slackFallbackMx-100)
	if m.AckURL != "" && len(m.AckURL) <= slackURLMax {
		fallback += "\n<" + slackEscape(m.AckURL) + "|Acknowledge>"
	}
	return slackMessage{Text: fallback, Blocks: blocks}
}

// slackEscape is Slack's documented escaping for mrkdwn and text: &, < and
// > only. It keeps text from a log record from forming <url|label> links or
// @channel-style mentions (<!channel>).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackCut truncates escaped text to max runes without leaving half an
// entity ("&am") at the end.
func slackCut(s string, max int) string {
	t := truncateRunes(s, max)
	if t == s {
		return s
	}
	body := strings.TrimSuffix(t, "…")
	if i := strings.LastIndexByte(body, '&'); i >= 0 && !strings.Contains(body[i:], ";") {
		body = body[:i]
	}
	return body + "…"
}
