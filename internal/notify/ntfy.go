package notify

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"breakglass/internal/store"
)

// ntfyTopic is what ntfy accepts as a topic name.
var ntfyTopic = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// ntfyTag is one tag (an emoji short code or a word): no comma, which
// separates them.
var ntfyTag = regexp.MustCompile(`^[-_A-Za-z0-9.:+]{1,64}$`)

func validateNtfy(c *PushConfig, report func(field, msg string)) {
	switch {
	case c.Topic == "":
		report("topic", "required: the ntfy topic to publish to (on a public server, an unguessable name: anyone who knows it can read the alerts)")
	case !ntfyTopic.MatchString(c.Topic.Reveal()):
		// Not quoted: the topic is a secret.
		report("topic", "must be 1-64 letters, digits, - or _")
	}
	if c.Token != "" && (c.Username != "" || c.Password != "") {
		report("token", "set either token or username and password, not both")
	}
	if (c.Username == "") != (c.Password == "") {
		report("password", "username and password go together")
	}
	for i, t := range c.Tags {
		if !ntfyTag.MatchString(t) {
			report("tags["+itoa(i)+"]", "must be a word or emoji short code: letters, digits, - _ . : +")
		}
	}
}

// Ntfy publishes to an ntfy topic (https://docs.ntfy.sh/publish/): POST
// {url}/{topic} with the text as the body and Title, Priority, Tags,
// Click and Actions headers. ntfy has no idempotency key: a publish whose
// answer was lost is retried and shows twice.
type Ntfy struct {
	endpoint string
	auth     string
	tags     []string
	render   func(Notification) (Message, error)
	http     *HTTPClient
}

func newNtfy(label string, c *PushConfig, env BuildEnv) *Ntfy {
	n := &Ntfy{
		endpoint: strings.TrimRight(c.URL, "/") + "/" + c.Topic.Reveal(),
		tags:     append([]string(nil), c.Tags...),
		render:   env.Render,
	}
	secrets := []string{c.Topic.Reveal(), n.endpoint}
	switch {
	case c.Token != "":
		n.auth = "Bearer " + c.Token.Reveal()
		secrets = append(secrets, c.Token.Reveal(), n.auth)
	case c.Username != "":
		req, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
		req.SetBasicAuth(c.Username, c.Password.Reveal())
		n.auth = req.Header.Get("Authorization")
		secrets = append(secrets, BasicAuthSecrets(c.Username, c.Password.Reveal())...)
	}
	n.http = NewHTTPClient(label, env.HTTP, env.Timeout, secrets...)
	return n
}

// ntfyMaxBody is ntfy's message size limit; a longer body becomes an
// attachment, which phones do not show in the notification.
const ntfyMaxBody = 4096

// NtfyPriority maps a severity to ntfy's 1 (min) .. 5 (urgent): Sev0 is
// urgent (it overrides do-not-disturb on phones configured so), Sev4 min.
// A resolution is default (3) whatever its severity.
func NtfyPriority(severity int, status string) int {
	if status == store.StatusResolved {
		return 3
	}
	return 5 - min(max(severity, 0), 4)
}

// SendTimeout makes the channel Bounded.
func (n *Ntfy) SendTimeout() time.Duration { return n.http.SendTimeout() }

// Notify publishes one message. ntfy answers 200 with the message as
// JSON; only an answer carrying the message id counts as published.
func (n *Ntfy) Notify(ctx context.Context, nt Notification) error {
	m, err := RenderWith(n.render, nt)
	if err != nil {
		return Permanent(n.http.Errorf("", n.endpoint, "render: %w", err))
	}
	body := m.Text
	if len(body) > ntfyMaxBody || body == "" {
		body = m.Short
	}
	tag := "rotating_light"
	if nt.Status == store.StatusResolved {
		tag = "white_check_mark"
	} else if m.Severity > 1 {
		tag = "warning"
	}
	h := http.Header{
		"Content-Type": {"text/plain; charset=utf-8"},
		"Title":        {mime.BEncoding.Encode("utf-8", headerText(m.Subject, 250))},
		"Priority":     {itoa(NtfyPriority(m.Severity, nt.Status))},
		"Tags":         {strings.Join(append([]string{tag}, n.tags...), ",")},
	}
	if m.AckURL != "" && validHeaderValue(m.AckURL) {
		h.Set("Click", m.AckURL)
		h.Set("Actions", "view, Acknowledge, "+m.AckURL+", clear=true")
	}
	if n.auth != "" {
		h.Set("Authorization", n.auth)
	}
	resp, err := n.http.Do(ctx, HTTPRequest{URL: n.endpoint, Header: h, Body: []byte(body)})
	if err != nil {
		return err
	}
	return ntfyVerdict(n.http, n.endpoint, resp)
}

// ntfyVerdict reads ntfy's answer to a publish.
func ntfyVerdict(c *HTTPClient, endpoint string, resp *HTTPResponse) error {
	if !resp.OK() {
		var e struct {
			Code  int    `json:"code"`
			Error string `json:"error"`
		}
		detail := ""
		if json.Unmarshal(resp.Body, &e) == nil && e.Error != "" {
			detail = "ntfy error: " + e.Error
			if e.Code != 0 {
				detail = "ntfy error " + itoa(e.Code) + ": " + e.Error
			}
		}
		return c.StatusError("", endpoint, resp, detail)
	}
	var ok struct {
		ID    string `json:"id"`
		Event string `json:"event"`
	}
	if json.Unmarshal(resp.Body, &ok) != nil || ok.ID == "" {
		return c.Errorf("", endpoint, "HTTP %d without a message id in the answer: not known to be published", resp.StatusCode)
	}
	return nil
}

// validHeaderValue: no control characters, so a value cannot end its
// header line.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] == 0x7f {
			return false
		}
	}
	return true
}
