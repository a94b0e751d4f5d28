package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// TeamsConfig is a `type: teams` channel: a Microsoft Teams Workflows
// webhook (Power Automate, "Post to a channel when a webhook request is
// received") that posts an Adaptive Card. The URL carries its own
// signature (sig=...), so it is a secret.
type TeamsConfig struct {
	URL secret.Secret `yaml:"url"`
}

func init() {
	RegisterChannel(ChannelType{
		Name: "teams",
		Doc:  "Microsoft Teams Workflows webhook posting an Adaptive Card (url)",
		New:  func() ChannelConfig { return &TeamsConfig{} },
	})
}

// Validate checks the URL and refuses retired Office 365 connector URLs.
func (c *TeamsConfig) Validate(report func(field, msg string)) {
	raw := c.URL.Reveal()
	if raw == "" {
		report("url", "required: the Workflows webhook URL (Teams channel → Workflows → \"Post to a channel when a webhook request is received\")")
		return
	}
	if err := ValidateWebhookURL(raw); err != nil {
		report("url", err.Error())
		return
	}
	if teamsConnectorURL(raw) {
		report("url", "this is an Office 365 connector URL; Microsoft has retired connectors and it no longer delivers. "+
			"Create a Workflows webhook instead (Teams channel → ... → Workflows → \"Post to a channel when a webhook request is received\") and use its URL")
	}
}

// teamsConnectorURL reports whether raw is an Office 365 connector
// (incoming webhook) URL: *.webhook.office.com/webhookb2/... or
// outlook.office(365).com/webhook/...
func teamsConnectorURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	path := strings.ToLower(u.EscapedPath())
	switch {
	case host == "webhook.office.com" || strings.HasSuffix(host, ".webhook.office.com"):
		return strings.HasPrefix(path, "/webhookb2/") || strings.HasPrefix(path, "/webhook/")
	case host == "outlook.office.com" || host == "outlook.office365.com":
		return strings.HasPrefix(path, "/webhook/") || strings.HasPrefix(path, "/webhookb2/")
	}
	return false
}

// Build makes the Teams notifier.
func (c *TeamsConfig) Build(env BuildEnv) (Notifier, error) {
	raw := c.URL.Reveal()
	if err := ValidateWebhookURL(raw); err != nil {
		return nil, fmt.Errorf("teams %q: url: %w", env.Target, err)
	}
	if teamsConnectorURL(raw) {
		return nil, fmt.Errorf("teams %q: url: Office 365 connector URLs are retired; use a Workflows webhook URL", env.Target)
	}
	return &Teams{
		http:   NewHTTPClient("teams "+strconv.Quote(env.Target), env.HTTP, env.Timeout, SecretsOfURL(raw)...),
		url:    raw,
		render: env.Render,
		log:    env.Logger,
	}, nil
}

// Teams posts each notification as an Adaptive Card to a Workflows
// webhook. The workflow answers 202 Accepted (a flow with a Response
// action 200); nothing else counts as delivered. Teams has no idempotency
// key: a retry after a lost response posts the card twice, which beats
// posting none.
type Teams struct {
	http   *HTTPClient
	url    string
	render func(Notification) (Message, error)
	log    *slog.Logger
}

// String is the redacted form, so logging a *Teams is safe.
func (t *Teams) String() string { return "teams " + displayURL(t.url) }

// SendTimeout makes Teams Bounded.
func (t *Teams) SendTimeout() time.Duration { return t.http.SendTimeout() }

// Notify posts the card.
func (t *Teams) Notify(ctx context.Context, n Notification) error {
	body, err := chatJSON(teamsBody(chatRender(t.render, n, t.log)))
	if err != nil {
		return Permanent(t.http.Errorf("", t.url, "encode card: %w", err))
	}
	resp, err := t.http.Do(ctx, HTTPRequest{URL: t.url, Header: jsonHeader(), Body: body})
	if err != nil {
		return err
	}
	return t.verdict(resp)
}

// verdict judges the workflow's answer.
func (t *Teams) verdict(resp *HTTPResponse) error {
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted:
		return nil
	case resp.OK():
		// Not what a workflow answers: whatever took the request, it was
		// not known to reach the channel.
		return Permanent(t.http.Errorf("", t.url, "HTTP %d: not a Workflows webhook answer (200 or 202)", resp.StatusCode))
	}
	err := t.http.StatusError("", t.url, resp, azureErrorDetail(resp.Body))
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		// The URL's signature is wrong or the workflow is gone.
		return withHint(err, "the workflow was deleted, turned off or its URL changed: copy the URL from the workflow's trigger again")
	}
	return err
}

// withHint appends what to do to err (after the provider's excerpt, which
// is cut at 200 characters, so the hint is never cut). err keeps its
// Permanent mark and Retry-After.
func withHint(err error, hint string) error {
	return &hintError{err: err, hint: hint}
}

type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + ": " + e.hint }
func (e *hintError) Unwrap() error { return e.err }

// azureErrorDetail extracts code and message from an Azure-style error
// body ({"error":{"code":…,"message":…}}), which Power Automate returns;
// empty when the body is something else.
func azureErrorDetail(body []byte) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Error.Code == "" && e.Error.Message == "") {
		return ""
	}
	return strings.TrimSpace(e.Error.Code + ": " + e.Error.Message)
}

// chatJSON encodes a request body without HTML escaping, so an ack link's
// "&" stays readable in the body; it is still valid JSON.
func chatJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonHeader is the header of every JSON request the chat channels send.
func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

// chatRender renders n for people. The renderer falls back to the default
// rendering itself when a template fails; should it still return an error,
// the page goes out in the default rendering rather than not at all, and
// the failure is logged.
func chatRender(render func(Notification) (Message, error), n Notification, log *slog.Logger) Message {
	m, err := RenderWith(render, n)
	if err != nil {
		if log != nil {
			log.Warn("notify: message rendering failed; sending the default rendering", "alert", n.Alert.ID, "err", err)
		}
		m, _ = RenderDefault(n)
	}
	return m
}

// truncateRunes cuts s to at most max runes, marking the cut with "…",
// never inside a rune. Providers reject a whole message for one field
// over its limit, so fields are cut to fit instead.
func truncateRunes(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// teamsMessage is the Workflows webhook body: a message with one Adaptive
// Card attachment, as the "Post to a channel when a webhook request is
// received" template expects.
type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string            `json:"$schema"`
	Type    string            `json:"type"`
	Version string            `json:"version"`
	Body    []any             `json:"body"`
	Actions []teamsAction     `json:"actions,omitempty"`
	MSTeams map[string]string `json:"msteams"`
}

type teamsTextBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Wrap     bool   `json:"wrap"`
	Weight   string `json:"weight,omitempty"`
	Size     string `json:"size,omitempty"`
	Color    string `json:"color,omitempty"`
	Style    string `json:"style,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
}

type teamsFactSet struct {
	Type  string      `json:"type"`
	Facts []teamsFact `json:"facts"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// teamsCardVersion is 1.4: the newest version every Teams client
// (desktop, web, mobile) renders; 1.5 features are not needed.
const teamsCardVersion = "1.4"

func teamsBody(m Message) teamsMessage {
	body := []any{
		teamsTextBlock{Type: "TextBlock", Text: teamsText(m.Subject), Wrap: true, Weight: "Bolder", Size: "Large", Color: teamsColor(m), Style: "heading"},
	}
	if len(m.Fields) > 0 {
		fs := teamsFactSet{Type: "FactSet"}
		for _, f := range m.Fields {
			fs.Facts = append(fs.Facts, teamsFact{Title: teamsText(f.Label), Value: teamsText(f.Value)})
		}
		body = append(body, fs)
	}
	card := teamsCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: teamsCardVersion,
		Body:    body,
		MSTeams: map[string]string{"width": "Full"},
	}
	if m.AckURL != "" {
		card.Actions = []teamsAction{{Type: "Action.OpenUrl", Title: "Acknowledge", URL: m.AckURL}}
	}
	return teamsMessage{
		Type:        "message",
		Attachments: []teamsAttachment{{ContentType: "application/vnd.microsoft.card.adaptive", Content: card}},
	}
}

// teamsColor is the title colour: red (Attention) for Sev0 and Sev1,
// amber for Sev2, blue for the rest, green once resolved.
func teamsColor(m Message) string {
	switch {
	case m.Status == store.StatusResolved:
		return "Good"
	case m.Severity <= 1:
		return "Attention"
	case m.Severity == 2:
		return "Warning"
	}
	return "Accent"
}

// teamsText keeps a Markdown link in alert text from becoming a link:
// TextBlocks and facts render a Markdown subset, and text from a log record
// (an app's display name, a title) is chosen by whoever wrote the record.
// A zero-width space between "]" and "(" breaks [text](url) and is
// invisible; the rest is left as is, since escaping "_" or "*" with
// backslashes shows the backslashes in some clients and UPNs contain "_".
func teamsText(s string) string {
	return strings.ReplaceAll(s, "](", "]\u200b(")
}
