package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// DefaultOpsgenieURL is the Alert API's endpoint; accounts in the EU
// instance set url: https://api.eu.opsgenie.com.
const DefaultOpsgenieURL = "https://api.opsgenie.com"

// OpsgenieConfig is a `type: opsgenie` channel: the Alert API v2 through an
// API integration's key (Settings or Team → Integrations → API).
type OpsgenieConfig struct {
	APIKey secret.Secret `yaml:"api_key"`
	// URL is the API's base URL; alerts go to URL + "/v2/alerts".
	URL string `yaml:"url,omitempty"`
	// Tags are added to the ones breakglass sets (breakglass, the rule,
	// the severity), for Opsgenie's routing and filters.
	Tags []string `yaml:"tags,omitempty"`
}

func init() {
	RegisterChannel(ChannelType{
		Name: "opsgenie",
		Doc:  "Opsgenie Alert API v2: create on firing, close on resolution, alias = alert id (api_key, url, tags)",
		New:  func() ChannelConfig { return &OpsgenieConfig{} },
	})
}

// Opsgenie's documented limits.
const (
	opsgenieMessageMax     = 130
	opsgenieDescriptionMax = 15000
	opsgenieTagMax         = 50
	opsgenieTagsMax        = 20
	opsgenieDetailsMax     = 8000 // all keys and values together
	opsgenieEntityMax      = 512
	// opsgenieOwnTags is how many tags breakglass sets itself.
	opsgenieOwnTags = 3
)

// Validate checks the key, the URL and the tags and applies the default URL.
func (c *OpsgenieConfig) Validate(report func(field, msg string)) {
	if c.URL == "" {
		c.URL = DefaultOpsgenieURL
	}
	if err := ValidateWebhookURL(c.URL); err != nil {
		report("url", err.Error())
	}
	checkAPIKey(report, "api_key", c.APIKey.Reveal(), "the key of an Opsgenie API integration")
	if len(c.Tags) > opsgenieTagsMax-opsgenieOwnTags {
		report("tags", fmt.Sprintf("at most %d tags (Opsgenie allows %d and breakglass sets %d)", opsgenieTagsMax-opsgenieOwnTags, opsgenieTagsMax, opsgenieOwnTags))
	}
	for i, t := range c.Tags {
		switch {
		case strings.TrimSpace(t) == "":
			report(fmt.Sprintf("tags[%d]", i), "empty tag")
		case utf8Len(t) > opsgenieTagMax:
			report(fmt.Sprintf("tags[%d]", i), fmt.Sprintf("longer than Opsgenie's %d characters", opsgenieTagMax))
		}
	}
}

func utf8Len(s string) int { return utf8.RuneCountInString(s) }

// Build makes the Opsgenie notifier.
func (c *OpsgenieConfig) Build(env BuildEnv) (Notifier, error) {
	base := c.URL
	if base == "" {
		base = DefaultOpsgenieURL
	}
	if err := ValidateWebhookURL(base); err != nil {
		return nil, fmt.Errorf("opsgenie %q: url: %w", env.Target, err)
	}
	var bad error
	checkAPIKey(func(field, msg string) { bad = fmt.Errorf("opsgenie %q: %s: %s", env.Target, field, msg) }, "api_key", c.APIKey.Reveal(), "the API integration key")
	if bad != nil {
		return nil, bad
	}
	key := c.APIKey.Reveal()
	return &Opsgenie{
		http:   NewHTTPClient("opsgenie "+strconv.Quote(env.Target), env.HTTP, env.Timeout, append(SecretsOfURL(base), key, "GenieKey "+key)...),
		base:   strings.TrimRight(base, "/") + "/v2/alerts",
		key:    key,
		tags:   slices.Clone(c.Tags),
		render: env.Render,
		log:    env.Logger,
	}, nil
}

// Opsgenie creates an alert when one fires and closes it when it
// resolves, both by alias = the alert id. The alias is the idempotency
// key: Opsgenie folds a retried create into the open alert (its count
// goes up, nobody is paged twice).
//
// 202 with a requestId is accepted (Opsgenie processes requests
// asynchronously); 429 and 5xx are retried, honouring Retry-After; 4xx
// (a bad key, an invalid body) are Permanent.
type Opsgenie struct {
	http   *HTTPClient
	base   string
	key    string
	tags   []string
	render func(Notification) (Message, error)
	log    *slog.Logger
}

// String is the redacted form, so logging an *Opsgenie is safe.
func (o *Opsgenie) String() string { return "opsgenie " + displayURL(o.base) }

// SendTimeout makes Opsgenie Bounded.
func (o *Opsgenie) SendTimeout() time.Duration { return o.http.SendTimeout() }

// Notify creates or closes the alert.
func (o *Opsgenie) Notify(ctx context.Context, n Notification) error {
	if n.Alert.ID == "" {
		return Permanent(o.http.Errorf("", o.base, "alert has no id to use as alias"))
	}
	m := chatRender(o.render, n, o.log)
	target := o.base
	var v any
	if n.Status == store.StatusResolved {
		target = opsgenieCloseURL(o.base, n.Alert.ID)
		v = opsgenieClose(m)
	} else {
		v = opsgenieCreate(n, m, o.tags)
	}
	body, err := chatJSON(v)
	if err != nil {
		return Permanent(o.http.Errorf("", target, "encode alert: %w", err))
	}
	h := jsonHeader()
	h.Set("Authorization", "GenieKey "+o.key)
	resp, err := o.http.Do(ctx, HTTPRequest{URL: target, Header: h, Body: body})
	if err != nil {
		return err
	}
	return o.verdict(target, resp)
}

// verdict judges the Alert API's answer to a request to target.
func (o *Opsgenie) verdict(target string, resp *HTTPResponse) error {
	var answer opsgenieResponse
	jerr := json.Unmarshal(resp.Body, &answer)
	if resp.StatusCode == http.StatusAccepted {
		if jerr == nil && answer.RequestID != "" {
			return nil
		}
		// Opsgenie's 202 always names the request; without one the
		// answer came from something else. The alias makes a retry safe.
		return o.http.Errorf("", target, "HTTP 202 without Opsgenie's requestId: %q", o.http.Excerpt(resp.Body))
	}
	if resp.OK() {
		return Permanent(o.http.Errorf("", target, "HTTP %d: not the Alert API's 202 Accepted", resp.StatusCode))
	}
	detail := ""
	if jerr == nil && answer.Message != "" {
		detail = answer.Message
		keys := make([]string, 0, len(answer.Errors))
		for k := range answer.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			detail += "; " + k + ": " + answer.Errors[k]
		}
	}
	err := o.http.StatusError("", target, resp, detail)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return withHint(err, "check api_key: the key of an API integration with create and update access; EU accounts set url to https://api.eu.opsgenie.com")
	}
	return err
}

// opsgenieCloseURL is the close-by-alias endpoint for id.
func opsgenieCloseURL(base, id string) string {
	return base + "/" + url.PathEscape(id) + "/close?identifierType=alias"
}

type opsgenieResponse struct {
	Result    string            `json:"result"`
	Message   string            `json:"message"`
	RequestID string            `json:"requestId"`
	Errors    map[string]string `json:"errors"`
}

// opsgenieAlert is the create-alert request.
type opsgenieAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Priority    string            `json:"priority"`
	Details     map[string]string `json:"details,omitempty"`
	Tags        []string          `json:"tags"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source"`
}

// opsgenieCloseRequest is the close-alert request.
type opsgenieCloseRequest struct {
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

func opsgenieCreate(n Notification, m Message, extra []string) opsgenieAlert {
	a := n.Alert
	desc := m.Text
	// The rendered text carries the link already (the default template
	// does); a configured one that leaves it out still gets it.
	if m.AckURL != "" && !strings.Contains(desc, m.AckURL) {
		desc = strings.TrimRight(desc, "\n") + "\n\nAcknowledge: " + m.AckURL
	}
	tags := []string{"breakglass", a.Rule, "Sev" + strconv.Itoa(m.Severity)}
	for _, t := range extra {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	for i := range tags {
		tags[i] = truncateRunes(tags[i], opsgenieTagMax)
	}
	tags = tags[:min(len(tags), opsgenieTagsMax)]
	details := []Field{{"alert_id", a.ID}, {"rule", a.Rule}}
	if m.AckURL != "" {
		details = append(details, Field{"Acknowledge", m.AckURL})
	}
	details = append(details, m.Fields...)
	return opsgenieAlert{
		Message:     truncateRunes(m.Subject, opsgenieMessageMax),
		Alias:       a.ID,
		Description: truncateRunes(desc, opsgenieDescriptionMax),
		Priority:    opsgeniePriority(m.Severity),
		Details:     opsgenieDetails(details),
		Tags:        tags,
		Entity:      truncateRunes(firstNonEmpty(a.AccountUPN, a.AccountID), opsgenieEntityMax),
		Source:      "breakglass",
	}
}

// opsgenieDetails fits the fields into Opsgenie's 8000 characters for all
// details, in order: the ids and the ack link come first and survive; a
// field that no longer fits is cut, and those after it are left out (they
// are in the description too).
func opsgenieDetails(fields []Field) map[string]string {
	out := map[string]string{}
	left := opsgenieDetailsMax
	for _, f := range fields {
		if f.Label == "" {
			continue
		}
		k := truncateRunes(f.Label, 100)
		if _, dup := out[k]; dup {
			continue
		}
		room := left - utf8Len(k)
		if room < 2 {
			break
		}
		v := truncateRunes(f.Value, room)
		out[k] = v
		left = room - utf8Len(v)
	}
	return out
}

func opsgenieClose(m Message) opsgenieCloseRequest {
	return opsgenieCloseRequest{Source: "breakglass", Note: truncateRunes(m.Subject, 25000)}
}

// opsgeniePriority maps Sev0..Sev4 onto P1..P5; anything out of range is
// P1, never the mildest.
func opsgeniePriority(sev int) string {
	if sev < 0 || sev > 4 {
		sev = 0
	}
	return "P" + strconv.Itoa(sev+1)
}
