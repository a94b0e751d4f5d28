package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/secret"
)

func init() {
	RegisterChannel(ChannelType{
		Name: "sms",
		Doc:  "text message with the short form of the alert, through Twilio or any HTTP SMS gateway",
		New:  func() ChannelConfig { return &SMSConfig{} },
	})
}

// SMSConfig is a `type: sms` channel.
//
//	provider: twilio            # or gateway
//	to: ["+4712345678"]         # E.164; every number gets every message
//	account_sid: AC…            # twilio
//	auth_token: ${TWILIO_TOKEN} # twilio
//	from: "+4798765432"         # twilio: or messaging_service_sid: MG…
//	url: https://api.twilio.com # optional API base
//
//	provider: gateway
//	url: https://sms.example/send?key=${KEY}   # redacted when printed
//	method: POST
//	headers: {Authorization: "Bearer ${TOKEN}"}
//	content_type: application/json
//	body: '{"to":{{json .To}},"text":{{json .Body}}}'
//	accept: '"status":"ok"'     # optional: a 2xx body must match this regexp
//
// The text is Message.Short. The gateway body is a Go text/template over
// SMSData, checked when the configuration is loaded. Each number is rate
// limited (notify.rate_limits.sms, Limited): alerts over the limit wait
// and come in one message.
type SMSConfig struct {
	Provider string   `yaml:"provider"`
	To       []string `yaml:"to"`
	// URL is the API base (twilio) or the gateway's endpoint. It is a
	// Secret because gateways often take their key in the query.
	URL secret.Secret `yaml:"url,omitempty"`

	AccountSID          string        `yaml:"account_sid,omitempty"`
	AuthToken           secret.Secret `yaml:"auth_token,omitempty"`
	From                string        `yaml:"from,omitempty"`
	MessagingServiceSID string        `yaml:"messaging_service_sid,omitempty"`

	Method      string                   `yaml:"method,omitempty"`
	Headers     map[string]secret.Secret `yaml:"headers,omitempty"`
	ContentType string                   `yaml:"content_type,omitempty"`
	Body        string                   `yaml:"body,omitempty"`
	Accept      string                   `yaml:"accept,omitempty"`
}

// SMSData is what a gateway body template sees.
type SMSData struct {
	To   string // one E.164 number: one request per recipient
	Body string // Message.Short
	// Message is the whole rendered message, Alert the alert itself.
	Message Message
	Alert   alert.Alert
	Status  string
	// ID is stable per notification and channel (DeliveryKey): the same on
	// every retry, different on another channel; with To, it names one
	// request, which is what a gateway that dedupes can key on.
	ID string
}

// maxSMSBody bounds a rendered gateway request.
const maxSMSBody = 64 << 10

var smsTemplateFuncs = template.FuncMap{
	// json quotes a value as a JSON string (or value), for JSON bodies.
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	// form escapes a value for an application/x-www-form-urlencoded body.
	"form": url.QueryEscape,
}

// Validate checks the configuration and applies the defaults.
func (c *SMSConfig) Validate(report func(field, msg string)) {
	validatePhones(report, "to", c.To)
	gatewayOnly := map[string]bool{"method": c.Method != "", "headers": len(c.Headers) > 0, "content_type": c.ContentType != "", "body": c.Body != "", "accept": c.Accept != ""}
	twilioOnly := map[string]bool{"account_sid": c.AccountSID != "", "auth_token": c.AuthToken != "", "from": c.From != "", "messaging_service_sid": c.MessagingServiceSID != ""}
	switch c.Provider {
	case "twilio":
		rejectKeys(report, gatewayOnly, "provider: gateway")
		base := c.URL.Reveal()
		validateTwilio(report, &base, c.AccountSID, c.AuthToken)
		c.URL = secret.Secret(base)
		switch {
		case c.From == "" && c.MessagingServiceSID == "":
			report("from", "required: the sending number (E.164) or alphanumeric sender ID, or set messaging_service_sid instead")
		case c.From != "" && c.MessagingServiceSID != "":
			report("messaging_service_sid", "set either from or messaging_service_sid, not both")
		case c.MessagingServiceSID != "" && (!twilioSID.MatchString(c.MessagingServiceSID) || !strings.HasPrefix(c.MessagingServiceSID, "MG")):
			report("messaging_service_sid", "must be MG followed by 32 hex digits")
		case c.From != "" && !e164.MatchString(c.From) && (len(c.From) > 11 || !alphaSender.MatchString(c.From)):
			report("from", "must be an E.164 number (such as +4798765432) or an alphanumeric sender ID (1-11 letters, digits and spaces, at least one letter)")
		}
	case "gateway":
		rejectKeys(report, twilioOnly, "provider: twilio")
		if c.URL == "" {
			report("url", "required: the gateway's endpoint")
		} else if err := ValidateWebhookURL(c.URL.Reveal()); err != nil {
			report("url", err.Error())
		}
		if c.Method == "" {
			c.Method = http.MethodPost
		}
		if c.Method != http.MethodPost && c.Method != http.MethodPut {
			report("method", "must be POST or PUT")
		}
		if c.ContentType == "" {
			c.ContentType = "application/json"
		}
		if strings.ContainsAny(c.ContentType, "\r\n\x00") {
			report("content_type", "contains a line break or NUL")
		}
		for k, v := range c.Headers {
			if err := ValidateWebhookHeader(k, v.Reveal()); err != nil {
				report("headers."+k, err.Error())
			}
		}
		if c.Body == "" {
			report("body", `required: a Go template of the request body, such as '{"to":{{json .To}},"text":{{json .Body}}}'`)
		} else if _, err := parseSMSTemplate(c.Body); err != nil {
			report("body", err.Error())
		}
		if c.Accept != "" {
			if _, err := regexp.Compile(c.Accept); err != nil {
				report("accept", "not a valid regular expression: "+err.Error())
			}
		}
	case "":
		report("provider", "required: twilio or gateway")
	default:
		report("provider", fmt.Sprintf("unknown provider %q: twilio or gateway", printable([]byte(c.Provider), 40)))
	}
}

// alphaSender is an alphanumeric sender ID as Twilio accepts it.
var alphaSender = regexp.MustCompile(`^[A-Za-z0-9 ]{0,10}[A-Za-z][A-Za-z0-9 ]{0,10}$`)

func rejectKeys(report func(field, msg string), set map[string]bool, belongs string) {
	for _, k := range sortedKeys(set) {
		if set[k] {
			report(k, "only applies to "+belongs)
		}
	}
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

// parseSMSTemplate parses a gateway body and executes it once on a sample,
// so a reference to a field that does not exist fails `config check`, not
// a page at 3 a.m.
func parseSMSTemplate(body string) (*template.Template, error) {
	t, err := template.New("body").Funcs(smsTemplateFuncs).Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, err
	}
	sample := SMSData{To: "+4712345678", Body: "[FIRING Sev0] sample: bg1@example.com", Status: "firing", ID: "sample",
		Alert:   alert.Alert{ID: "sample", Rule: "bg.signin", Title: "sample", AccountUPN: "bg1@example.com"},
		Message: Message{Subject: "sample", Short: "sample", Text: "sample", Voice: "sample", Status: "firing"}}
	var b bytes.Buffer
	if err := t.Execute(&b, sample); err != nil {
		return nil, err
	}
	return t, nil
}

// Build makes the channel's Notifier.
func (c *SMSConfig) Build(env BuildEnv) (Notifier, error) {
	label := "sms " + quoteTarget(env.Target)
	if err := checkValid(c, label); err != nil {
		return nil, err
	}
	s := &SMS{to: append([]string(nil), c.To...), render: env.Render, target: env.Target}
	switch c.Provider {
	case "twilio":
		s.twilio = newTwilioAPI(label, c.URL.Reveal(), c.AccountSID, c.AuthToken, env)
		s.from, s.service = c.From, c.MessagingServiceSID
		s.http = s.twilio.http
	case "gateway":
		t, err := parseSMSTemplate(c.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: body: %w", label, err)
		}
		secrets := SecretsOfURL(c.URL.Reveal())
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v.Reveal())
			secrets = append(secrets, headerSecrets(v.Reveal())...)
		}
		h.Set("Content-Type", c.ContentType)
		s.gateway = &smsGateway{method: c.Method, url: c.URL.Reveal(), header: h, body: t}
		if c.Accept != "" {
			s.gateway.accept = regexp.MustCompile(c.Accept)
		}
		s.http = NewHTTPClient(label, env.HTTP, env.Timeout, secrets...)
	default:
		return nil, fmt.Errorf("%s: unknown provider %q", label, c.Provider)
	}
	return s, nil
}

// headerSecrets is a header value and, for "Bearer <token>", the token
// alone: either may be echoed back.
func headerSecrets(v string) []string {
	out := []string{v}
	if _, tok, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
		out = append(out, strings.TrimSpace(tok))
	}
	return out
}

func quoteTarget(t string) string { return fmt.Sprintf("%q", t) }

// SMS sends Message.Short to every configured number. Each number gets
// its own request, all at once; see fanOut for partial failures.
type SMS struct {
	to      []string
	render  func(Notification) (Message, error)
	http    *HTTPClient
	twilio  *twilioAPI
	from    string
	service string
	gateway *smsGateway
	sent    fanOut
	target  string // "group/channel", for the gateway's .ID
}

type smsGateway struct {
	method string
	url    string
	header http.Header
	body   *template.Template
	accept *regexp.Regexp
}

// SendTimeout makes the channel Bounded: recipients are sent to
// concurrently, so one send takes at most one request's timeout.
func (s *SMS) SendTimeout() time.Duration { return s.http.SendTimeout() }

// Recipients makes the channel Limited: every number, "sms:+47…".
func (s *SMS) Recipients(Notification) []string {
	out := make([]string, len(s.to))
	for i, to := range s.to {
		out[i] = RecipientKey(LimitSMS, to)
	}
	return out
}

// Notify sends n to every number.
func (s *SMS) Notify(ctx context.Context, n Notification) error {
	m, err := RenderWith(s.render, n)
	if err != nil {
		return Permanent(s.http.Errorf("", s.endpoint(), "render: %w", err))
	}
	id := notificationKey(n)
	return s.sent.send(ctx, id, s.to, func(ctx context.Context, to string) error {
		if s.twilio != nil {
			form := url.Values{"To": {to}, "Body": {m.Short}}
			if s.service != "" {
				form.Set("MessagingServiceSid", s.service)
			} else {
				form.Set("From", s.from)
			}
			_, err := s.twilio.create(ctx, "Messages", form)
			return err
		}
		return s.gateway.send(ctx, s.http, SMSData{To: to, Body: m.Short, Message: m, Alert: n.Alert, Status: n.Status, ID: DeliveryKey(id, s.target)})
	})
}

func (s *SMS) endpoint() string {
	if s.twilio != nil {
		return s.twilio.base
	}
	return s.gateway.url
}

func (g *smsGateway) send(ctx context.Context, c *HTTPClient, d SMSData) error {
	var b bytes.Buffer
	if err := g.body.Execute(&limitedWriter{w: &b, n: maxSMSBody}, d); err != nil {
		return Permanent(c.Errorf(g.method, g.url, "body template: %w", err))
	}
	resp, err := c.Do(ctx, HTTPRequest{Method: g.method, URL: g.url, Header: g.header.Clone(), Body: b.Bytes()})
	if err != nil {
		return err
	}
	if !resp.OK() {
		return c.StatusError(g.method, g.url, resp, "")
	}
	if g.accept != nil && !g.accept.Match(resp.Body) {
		// The gateway said 2xx but not the words that mean "sent": many
		// answer 200 with an error inside. Retried, since the cause may
		// be the gateway's and a page must not be dropped.
		return c.Errorf(g.method, g.url, "HTTP %d but the answer does not match accept: %q", resp.StatusCode, c.Excerpt(resp.Body))
	}
	return nil
}

// notificationKey is the notification's stable id, derived as the
// dispatcher would when it is missing.
func notificationKey(n Notification) string {
	if n.ID != "" {
		return n.ID
	}
	return NotificationID(n.Alert.ID, n.Status)
}

// limitedWriter fails once more than n bytes are written, so a template
// that loops over a huge alert cannot build an unbounded request.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("rendered body exceeds %d bytes", l.n)
	}
	return l.w.Write(p)
}
