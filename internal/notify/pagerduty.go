package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// DefaultPagerDutyURL is the Events API v2 endpoint; `url` overrides it
// (a proxy, a test receiver).
const DefaultPagerDutyURL = "https://events.pagerduty.com"

// PagerDutyConfig is a `type: pagerduty` channel: the Events API v2 of a
// PagerDuty service (Service → Integrations → Events API V2 → Integration
// Key) or of an event orchestration.
type PagerDutyConfig struct {
	RoutingKey secret.Secret `yaml:"routing_key"`
	// URL is the API's base URL; events go to URL + "/v2/enqueue".
	URL string `yaml:"url,omitempty"`
}

func init() {
	RegisterChannel(ChannelType{
		Name: "pagerduty",
		Doc:  "PagerDuty Events API v2: trigger on firing, resolve on resolution, dedup_key = alert id (routing_key, url)",
		New:  func() ChannelConfig { return &PagerDutyConfig{} },
	})
}

// Validate checks the routing key and the URL and applies the default URL.
func (c *PagerDutyConfig) Validate(report func(field, msg string)) {
	if c.URL == "" {
		c.URL = DefaultPagerDutyURL
	}
	if err := ValidateWebhookURL(c.URL); err != nil {
		report("url", err.Error())
	}
	checkAPIKey(report, "routing_key", c.RoutingKey.Reveal(), "the integration key of the service's Events API V2 integration")
}

// checkAPIKey is the rule for a token sent in a body or header: present,
// and free of spaces and control characters (a key pasted with its line
// break, or a ${VAR} holding two words, fails here rather than at 3 a.m.).
// The message never shows the key.
func checkAPIKey(report func(field, msg string), field, key, what string) {
	switch {
	case key == "":
		report(field, "required: "+what)
	case strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		report(field, "contains a space, line break or control character; paste the key alone")
	}
}

// Build makes the PagerDuty notifier.
func (c *PagerDutyConfig) Build(env BuildEnv) (Notifier, error) {
	base := c.URL
	if base == "" {
		base = DefaultPagerDutyURL
	}
	if err := ValidateWebhookURL(base); err != nil {
		return nil, fmt.Errorf("pagerduty %q: url: %w", env.Target, err)
	}
	var bad error
	checkAPIKey(func(field, msg string) { bad = fmt.Errorf("pagerduty %q: %s: %s", env.Target, field, msg) }, "routing_key", c.RoutingKey.Reveal(), "the integration key")
	if bad != nil {
		return nil, bad
	}
	key := c.RoutingKey.Reveal()
	return &PagerDuty{
		http:   NewHTTPClient("pagerduty "+strconv.Quote(env.Target), env.HTTP, env.Timeout, append(SecretsOfURL(base), key)...),
		url:    strings.TrimRight(base, "/") + "/v2/enqueue",
		key:    key,
		render: env.Render,
		log:    env.Logger,
	}, nil
}

// PagerDuty sends Events API v2 events: trigger when an alert fires,
// resolve when it resolves, both with dedup_key = the alert id. The
// dedup_key is the idempotency key: a retried trigger for an open
// incident is merged into it, so at-least-once delivery never pages twice.
//
// 202 with status "success" is delivered; 400 (invalid event, a wrong
// routing key) is Permanent; 429 and 5xx are retried, honouring
// Retry-After.
type PagerDuty struct {
	http   *HTTPClient
	url    string
	key    string
	render func(Notification) (Message, error)
	log    *slog.Logger
}

// String is the redacted form, so logging a *PagerDuty is safe.
func (p *PagerDuty) String() string { return "pagerduty " + displayURL(p.url) }

// SendTimeout makes PagerDuty Bounded.
func (p *PagerDuty) SendTimeout() time.Duration { return p.http.SendTimeout() }

// Notify sends the trigger or resolve event.
func (p *PagerDuty) Notify(ctx context.Context, n Notification) error {
	if n.Alert.ID == "" {
		return Permanent(p.http.Errorf("", p.url, "alert has no id to use as dedup_key"))
	}
	ev := pagerdutyBody(p.key, n, chatRender(p.render, n, p.log))
	body, err := chatJSON(ev)
	if err != nil {
		return Permanent(p.http.Errorf("", p.url, "encode event: %w", err))
	}
	resp, err := p.http.Do(ctx, HTTPRequest{URL: p.url, Header: jsonHeader(), Body: body})
	if err != nil {
		return err
	}
	return p.verdict(resp)
}

// verdict judges the Events API's answer.
func (p *PagerDuty) verdict(resp *HTTPResponse) error {
	var answer pagerdutyResponse
	jerr := json.Unmarshal(resp.Body, &answer)
	if resp.StatusCode == http.StatusAccepted {
		if jerr == nil && answer.Status == "success" {
			return nil
		}
		// 202 is PagerDuty's "accepted" only with its success body; a
		// proxy's 202 proves nothing. The dedup_key makes the retry safe.
		return p.http.Errorf("", p.url, "HTTP 202 without PagerDuty's status \"success\": %q", p.http.Excerpt(resp.Body))
	}
	if resp.OK() {
		return Permanent(p.http.Errorf("", p.url, "HTTP %d: not the Events API's 202 Accepted", resp.StatusCode))
	}
	detail := ""
	if jerr == nil && (answer.Message != "" || len(answer.Errors) > 0) {
		detail = strings.TrimSpace(answer.Message + " " + strings.Join(answer.Errors, "; "))
		if answer.Status != "" {
			detail = answer.Status + ": " + detail
		}
	}
	err := p.http.StatusError("", p.url, resp, detail)
	if resp.StatusCode == http.StatusBadRequest {
		return withHint(err, "PagerDuty refused the event: if it names routing_key, set the integration key of an Events API V2 integration; otherwise report this as a breakglass bug")
	}
	return err
}

type pagerdutyResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

// pagerdutyEvent is an Events API v2 event.
type pagerdutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *pagerdutyPayload `json:"payload,omitempty"`
	Client      string            `json:"client,omitempty"`
	Links       []pagerdutyLink   `json:"links,omitempty"`
}

type pagerdutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pagerdutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pagerdutySummaryMax is the Events API's limit on payload.summary.
const pagerdutySummaryMax = 1024

// pagerdutyBody is the event for n: a resolve carries only the key and
// dedup_key (PagerDuty ignores the rest), a trigger the whole payload.
func pagerdutyBody(key string, n Notification, m Message) pagerdutyEvent {
	a := n.Alert
	if n.Status == store.StatusResolved {
		return pagerdutyEvent{RoutingKey: key, EventAction: "resolve", DedupKey: a.ID}
	}
	details := map[string]any{}
	for _, f := range m.Fields {
		details[f.Label] = f.Value
	}
	details["alert_id"] = a.ID
	details["rule"] = a.Rule
	if len(a.Labels) > 0 {
		details["labels"] = a.Labels
	}
	if m.Text != "" {
		details["message"] = m.Text
	}
	source := a.Labels["tenant"]
	if source == "" {
		source = "breakglass"
	}
	ts := ""
	switch {
	case !a.EventTime.IsZero() && !a.EventTimeUnknown:
		ts = timestamp(a.EventTime)
	case !a.Detected.IsZero():
		ts = timestamp(a.Detected)
	}
	ev := pagerdutyEvent{
		RoutingKey:  key,
		EventAction: "trigger",
		DedupKey:    a.ID,
		Payload: &pagerdutyPayload{
			Summary:       truncateRunes(m.Subject, pagerdutySummaryMax),
			Source:        source,
			Severity:      pagerdutySeverity(m.Severity),
			Timestamp:     ts,
			Component:     firstNonEmpty(a.AccountUPN, a.AccountID),
			Group:         a.Rule,
			Class:         a.Category,
			CustomDetails: details,
		},
		Client: "breakglass",
	}
	if m.AckURL != "" {
		ev.Links = []pagerdutyLink{{Href: m.AckURL, Text: "Acknowledge in breakglass"}}
	}
	return ev
}

// pagerdutySeverity maps Azure Monitor severities onto PagerDuty's four:
// Sev0 critical, Sev1 error, Sev2 warning, Sev3 and Sev4 info. Anything
// out of range is treated as the worst, never the mildest.
func pagerdutySeverity(sev int) string {
	switch sev {
	case 1:
		return "error"
	case 2:
		return "warning"
	case 3, 4:
		return "info"
	}
	return "critical"
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
