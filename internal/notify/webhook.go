package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"breakglass/internal/alert"
	"breakglass/internal/secret"
)

// UserAgent is sent as "User-Agent: <UserAgent>" by webhooks; main sets it
// to "breakglass/<version>" so receivers can tell releases apart.
var UserAgent = "breakglass"

// DefaultWebhookTimeout bounds one webhook request when neither
// Webhook.Timeout nor the client's Timeout is set. It is short because a
// receiver that needs longer than this to accept an alert is better retried
// than waited on.
const DefaultWebhookTimeout = 10 * time.Second

// DefaultTimeout is DefaultWebhookTimeout.
//
// Deprecated: use DefaultWebhookTimeout.
const DefaultTimeout = DefaultWebhookTimeout

// PayloadVersion is the "version" field of the webhook body. It changes only
// when a field is removed or changes meaning; added fields keep it.
const PayloadVersion = "1"

// Payload is the JSON body a Webhook POSTs. It is a public contract: receivers
// parse it, so fields are only ever added.
//
//	{
//	  "id":             "9f2c…",            // stable notification id, the same on every channel; dedupe on Idempotency-Key
//	  "alert_id":       "9f2c…",
//	  "version":        "1",
//	  "status":         "firing",           // or "resolved"
//	  "rule":           "bg.signin",
//	  "severity":       0,                  // 0 (critical) … 4 (verbose), as Azure Monitor
//	  "severity_label": "Sev0",
//	  "title":          "Break-glass account signed in",
//	  "account": {"id": "…", "upn": "bg1@contoso.com", "name": "…"},
//	  "event": {
//	    "id": "…", "time": "2026-07-01T11:59:58.123Z", "category": "SignInLogs",
//	    "source": "signins.json:12", "operation": "…", "change_type": "…",
//	    "result": "…", "app": "…", "ip_address": "…", "location": "…",
//	    "actor": "…", "correlation_id": "…"
//	  },
//	  "detected":       "2026-07-01T12:00:04.5Z",
//	  "sent":           "2026-07-01T12:00:05Z",
//	  "attempt":        1                   // 1 on the first try, then 2, 3, …
//	}
//
// "id" is the alert ID for a firing notification and the alert ID plus
// "-resolved" for its resolution; it is identical on every retry, so a
// receiver that sees the same id twice has seen the same message twice.
// Times are RFC 3339 with nanoseconds, in UTC. Always present: id,
// alert_id, version, status, rule, severity, severity_label, title,
// account.id, account.upn, event.id, event.time, event.category,
// event.source, detected, sent, attempt. The other fields are omitted when
// the record did not carry them.
type Payload struct {
	ID            string         `json:"id"`
	AlertID       string         `json:"alert_id"`
	Version       string         `json:"version"`
	Status        string         `json:"status"`
	Rule          string         `json:"rule"`
	Severity      int            `json:"severity"`
	SeverityLabel string         `json:"severity_label"`
	Title         string         `json:"title"`
	Account       PayloadAccount `json:"account"`
	Event         PayloadEvent   `json:"event"`
	Detected      string         `json:"detected"`
	Sent          string         `json:"sent"`
	Attempt       int            `json:"attempt"`
	// Labels identify the alert (rule, severity, account, category,
	// source, tenant); Annotations explain it (bg.unparsed: the reason).
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PayloadAccount is the break-glass account the alert is about.
type PayloadAccount struct {
	ID   string `json:"id"`
	UPN  string `json:"upn"`
	Name string `json:"name,omitempty"`
}

// PayloadEvent is the log record that raised the alert.
type PayloadEvent struct {
	ID            string `json:"id"`
	Time          string `json:"time"`
	Category      string `json:"category"`
	Source        string `json:"source"`
	Operation     string `json:"operation,omitempty"`
	ChangeType    string `json:"change_type,omitempty"`
	Result        string `json:"result,omitempty"`
	App           string `json:"app,omitempty"`
	IPAddress     string `json:"ip_address,omitempty"`
	Location      string `json:"location,omitempty"`
	Actor         string `json:"actor,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// TimeUnknown: the record carried no usable time, and Time is when it
	// was ingested. Unreadable names each field that could not be read.
	TimeUnknown bool     `json:"time_unknown,omitempty"`
	Unreadable  []string `json:"unreadable,omitempty"`
}

// NewPayload builds the webhook body for n. A notification without an ID
// or Sent time gets the ones the dispatcher would have given it.
func NewPayload(n Notification, now time.Time) Payload {
	a := n.Alert
	id := n.ID
	if id == "" {
		id = NotificationID(a.ID, n.Status)
	}
	sent := n.Sent
	if sent.IsZero() {
		sent = now
	}
	return Payload{
		ID:            id,
		AlertID:       a.ID,
		Version:       PayloadVersion,
		Status:        n.Status,
		Rule:          a.Rule,
		Severity:      int(a.Severity),
		SeverityLabel: severityLabel(a),
		Title:         a.Title,
		Account:       PayloadAccount{ID: a.AccountID, UPN: a.AccountUPN, Name: a.Account},
		Event: PayloadEvent{
			ID:            a.EventID,
			Time:          timestamp(a.EventTime),
			Category:      a.Category,
			Source:        a.Source,
			Operation:     a.Operation,
			ChangeType:    a.ChangeType,
			Result:        a.Result,
			App:           a.App,
			IPAddress:     a.IPAddress,
			Location:      a.Location,
			Actor:         a.Actor,
			CorrelationID: a.Correlation,
			TimeUnknown:   a.EventTimeUnknown,
			Unreadable:    a.Unreadable,
		},
		Detected:    timestamp(a.Detected),
		Sent:        timestamp(sent),
		Attempt:     n.Attempt,
		Labels:      a.Labels,
		Annotations: a.Annotations,
	}
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// severityLabel avoids alert.Severity.String for out-of-range values, which
// would yield punctuation instead of digits.
func severityLabel(a alert.Alert) string { return "Sev" + strconv.Itoa(int(a.Severity)) }

// Webhook POSTs each notification as a JSON Payload.
//
// Response 2xx means delivered. The statuses of RetryableStatus (408, 425,
// 429, 5xx: the one rule of every HTTP channel) and transport errors
// (including timeouts) are retryable; a Retry-After header on them is
// passed on via WithRetryAfter. Redirects are not followed and, like every other status,
// are Permanent: the configured URL is wrong and retrying it as is cannot
// help.
//
// The URL and header values may be credentials (bearer tokens, Slack and
// Teams webhooks carry theirs in the path, Azure Functions in ?code=), so
// errors name the webhook and show the URL only as scheme://host; anything
// configured that still turns up in an error text (a receiver echoing a
// header back) is replaced by "[REDACTED]".
type Webhook struct {
	name    string
	url     string
	display string
	headers http.Header
	client  *http.Client
	scrub   *strings.Replacer
	secrets []string
	now     func() time.Time
	schema  string
	signKey []byte

	// Timeout bounds each request, from connecting to reading the response
	// status. Zero means the client's Timeout if it has one (so the
	// configured timeout reaches the request however the webhook was
	// built), else DefaultWebhookTimeout. Set it before the first Notify.
	Timeout time.Duration
}

// NewWebhook returns a webhook notifier named name (the name appears in
// errors instead of the URL). rawURL must be http or https with a host.
// headers are sent with every request (for example Authorization);
// Content-Type and User-Agent are always set by the webhook. client may be
// nil; a client without a CheckRedirect policy is copied and given one that
// does not follow redirects.
func NewWebhook(name, rawURL string, headers map[string]string, client *http.Client) (*Webhook, error) {
	if err := ValidateWebhookURL(rawURL); err != nil {
		return nil, fmt.Errorf("webhook %q: %w", name, err)
	}
	u, _ := url.Parse(rawURL)
	h := http.Header{}
	secrets := []string{rawURL, u.RawQuery, u.Fragment, u.EscapedPath(), u.Path}
	if u.User != nil {
		p, _ := u.User.Password()
		secrets = append(secrets, u.User.String(), u.User.Username(), p)
	}
	for _, vs := range u.Query() {
		secrets = append(secrets, vs...)
	}
	for k, v := range headers {
		if err := ValidateWebhookHeader(k, v); err != nil {
			return nil, fmt.Errorf("webhook %q: %w", name, err)
		}
		h.Set(k, v)
		secrets = append(secrets, v, strings.TrimSpace(v))
		// "Bearer <token>": the token alone may be echoed back too.
		if _, tok, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
			secrets = append(secrets, strings.TrimSpace(tok))
		}
	}
	// Following a redirect would resend custom headers (tokens) to
	// wherever the receiver points, so redirects are refused unless the
	// caller's client decides otherwise explicitly.
	if client == nil {
		client = &http.Client{}
	}
	if client.CheckRedirect == nil {
		c := *client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		client = &c
	}
	return &Webhook{
		name:    name,
		url:     rawURL,
		display: u.Scheme + "://" + u.Host,
		headers: h,
		client:  client,
		scrub:   newScrubber(secrets),
		secrets: secrets,
		now:     time.Now,
	}, nil
}

// Name is the name given to NewWebhook.
func (w *Webhook) Name() string { return w.name }

// String is the redacted form, so logging a *Webhook is safe.
func (w *Webhook) String() string { return "webhook " + strconv.Quote(w.name) + " " + w.display }

// SendTimeout is the timeout each request gets (see Webhook.Timeout); the
// dispatcher lets a send run that long (Bounded).
func (w *Webhook) SendTimeout() time.Duration {
	switch {
	case w.Timeout > 0:
		return w.Timeout
	case w.client.Timeout > 0:
		return w.client.Timeout
	}
	return DefaultWebhookTimeout
}

// SetSchema chooses the body: SchemaBreakglass (Payload, also what the
// empty string means here, for callers of NewWebhook from before schemas)
// or SchemaCommon (CommonAlert). Configuration defaults to SchemaCommon.
// Call it before the first Notify.
func (w *Webhook) SetSchema(schema string) error {
	switch schema {
	case "", SchemaBreakglass, SchemaCommon:
		w.schema = schema
		return nil
	}
	return fmt.Errorf("webhook %q: unknown schema %q (known: %s)", w.name, schema, strings.Join(WebhookSchemas, ", "))
}

// SetSigningKey makes every request carry an HMAC-SHA256 signature made
// with key (see SignatureHeader); key joins the values scrubbed from
// errors. Call it before the first Notify.
func (w *Webhook) SetSigningKey(key string) {
	w.signKey = []byte(key)
	w.secrets = append(w.secrets, key)
	w.scrub = newScrubber(w.secrets)
}

// body encodes n in the webhook's schema.
func (w *Webhook) body(n Notification) ([]byte, string, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // titles with "&" stay readable; still valid JSON
	p := NewPayload(n, w.now())
	var v any = p
	if w.schema == SchemaCommon {
		v = NewCommonAlert(n, w.now())
	}
	if err := enc.Encode(v); err != nil {
		return nil, "", err
	}
	return body.Bytes(), p.ID, nil
}

// Notify POSTs n. See Webhook for how responses are classified.
func (w *Webhook) Notify(ctx context.Context, n Notification) error {
	body, id, err := w.body(n)
	if err != nil {
		return Permanent(w.errorf("encode payload: %w", err))
	}
	timeout := w.SendTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Permanent(w.errorf("build request: %w", err))
	}
	for k, vs := range w.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	// The same on every retry of this message on this channel, and
	// different on another channel (another group's webhook into the same
	// receiver): a receiver that stores it sees each delivery once and
	// drops none. The body's id stays the notification's, shared by every
	// channel it goes to.
	req.Header.Set(IdempotencyHeader, DeliveryKey(id, w.name))
	if w.signKey != nil {
		ts := strconv.FormatInt(w.now().Unix(), 10)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, Sign(w.signKey, ts, body))
	}

	resp, err := w.client.Do(req)
	if err != nil {
		// url.Error names the full URL, query included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return w.errorf("no response within %s: %w", timeout, err)
		}
		return w.errorf("%w", err)
	}
	defer resp.Body.Close()
	// A short excerpt helps diagnose a 400; the rest is drained so the
	// connection can be reused.
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	serr := w.errorf("%w", &StatusError{StatusCode: code, Body: scrubbedExcerpt(w.scrub, excerpt, 200)})
	if RetryableStatus(code) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), w.now()); ok {
			return WithRetryAfter(serr, d)
		}
		return serr
	}
	return Permanent(serr)
}

// errorf prefixes the webhook's name and redacted URL and scrubs anything
// configured as a possible secret from the whole message.
func (w *Webhook) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &webhookError{msg: "webhook " + strconv.Quote(w.name) + ": POST " + w.display + ": " + w.scrub.Replace(err.Error()), err: err}
}

// webhookError keeps the cause for errors.Is/As (deadline exceeded, a
// StatusError) while its text is the scrubbed one.
type webhookError struct {
	msg string
	err error
}

func (e *webhookError) Error() string { return e.msg }
func (e *webhookError) Unwrap() error { return e.err }

// StatusError is a non-2xx response from a webhook.
type StatusError struct {
	StatusCode int
	// Body is the start of the response body, printable and scrubbed of
	// configured secrets.
	Body string
}

func (e *StatusError) Error() string {
	s := "HTTP " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.Body != "" {
		s += ": " + strconv.Quote(e.Body)
	}
	return s
}

// maxRetryAfter keeps absurd Retry-After values from overflowing; the
// dispatcher caps the delay at its MaxBackoff anyway.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). Dates in the past and zero yield false: retry on the
// normal schedule rather than immediately.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true // too many digits to parse is still "long"
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	if d <= 0 {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// newScrubber replaces the given strings, longest first so that a value
// containing another is removed whole. Very short values are skipped: they
// cannot be meaningful secrets and would garble every message.
func newScrubber(secrets []string) *strings.Replacer {
	var s []string
	for _, v := range secrets {
		if len(v) >= 4 && v != "/" && !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	args := make([]string, 0, 2*len(s))
	for _, v := range s {
		args = append(args, v, "[REDACTED]")
	}
	return strings.NewReplacer(args...)
}

// scrubbedExcerpt is printable(b, max) with every secret of scrub removed
// before the cut as well as after it: a secret the cut halves would no
// longer match, and its first half would show.
//
// An acknowledge link's signature is removed too: a receiver that echoes
// the message back would otherwise put a working link (one that stops
// escalation) into breakglass's logs and stored errors.
func scrubbedExcerpt(scrub *strings.Replacer, b []byte, max int) string {
	s := ackSig.ReplaceAllString(scrub.Replace(string(b)), "${1}[REDACTED]")
	return ackSig.ReplaceAllString(scrub.Replace(printable([]byte(s), max)), "${1}[REDACTED]")
}

// ackSig matches the signature of an acknowledge link (ack.Signer),
// query-escaped or not.
var ackSig = regexp.MustCompile(`((?:^|[?&;]|\\u0026|%26)sig(?:=|%3[dD]))[A-Za-z0-9_\-]{8,}`)

// printable makes a response excerpt safe for one log line.
func printable(b []byte, max int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// ValidateWebhookURL is the one rule for a webhook URL, shared by NewWebhook
// and the config check: http or https, with a host. The error never repeats
// the URL, which may be a credential.
func ValidateWebhookURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("invalid URL: %w", scrubURLError(err, rawURL))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("URL scheme must be http or https")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return errors.New("URL has no host")
	}
	return nil
}

// scrubURLError keeps parts of the URL out of a parse error (url.Parse
// quotes the offending part, which may be the secret).
func scrubURLError(err error, rawURL string) error {
	msg := err.Error()
	if rawURL != "" && strings.Contains(msg, rawURL) {
		msg = strings.ReplaceAll(msg, rawURL, "[REDACTED]")
	}
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		// Everything quoted is from the URL.
		msg = msg[:i] + "in the URL"
	}
	return errors.New(strings.TrimSpace(msg))
}

// ValidateWebhookHeader is the one rule for a custom webhook header, shared by
// NewWebhook and the config check: a valid HTTP field name, and a value with
// no line break or NUL. The error names the header, never its value.
func ValidateWebhookHeader(name, value string) error {
	if !validHeaderName(name) {
		return fmt.Errorf("invalid header name %q", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		// Do not quote value: it may be the token.
		return fmt.Errorf("header %q: value contains a line break or NUL", name)
	}
	return nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// ChannelWebhook is the webhook channel's type name.
const ChannelWebhook = "webhook"

func init() {
	RegisterChannel(ChannelType{
		Name:           ChannelWebhook,
		Doc:            "JSON POST to any HTTP receiver",
		New:            func() ChannelConfig { return &WebhookConfig{} },
		DefaultTimeout: DefaultWebhookTimeout,
	})
}

// WebhookConfig is the webhook channel's configuration.
type WebhookConfig struct {
	// URL is a Secret because chat webhooks (Teams, Slack) and Azure
	// Functions carry their credential in the URL.
	URL     secret.Secret            `yaml:"url,omitempty"`
	Headers map[string]secret.Secret `yaml:"headers,omitempty"`
	// Schema is the body: common (the Azure Monitor Common Alert Schema,
	// the default) or breakglass (Payload).
	Schema string `yaml:"schema,omitempty"`
	// HMACSecret, when set, signs every request (SignatureHeader).
	HMACSecret secret.Secret `yaml:"hmac_secret,omitempty"`
}

// minHMACSecret is the shortest signing key accepted: a short key can be
// guessed from one signed request.
const minHMACSecret = 16

// Validate applies ValidateWebhookURL and ValidateWebhookHeader; messages
// never repeat a value, which may be the credential.
func (c *WebhookConfig) Validate(report func(field, msg string)) {
	switch {
	case c.URL == "":
		report("url", "required for type webhook")
	case ValidateWebhookURL(c.URL.Reveal()) != nil:
		report("url", "not an http or https URL")
	}
	c.Schema = strings.ToLower(strings.TrimSpace(c.Schema))
	if c.Schema == "" {
		c.Schema = SchemaCommon
	}
	if !slices.Contains(WebhookSchemas, c.Schema) {
		report("schema", "must be one of "+strings.Join(WebhookSchemas, ", "))
	}
	if c.HMACSecret != "" && len(c.HMACSecret.Reveal()) < minHMACSecret {
		report("hmac_secret", "too short: use at least 32 random characters (for example the output of openssl rand -hex 32)")
	}
	keys := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := FieldKey("headers", k)
		switch http.CanonicalHeaderKey(k) {
		case IdempotencyHeader, TimestampHeader, SignatureHeader, "Content-Type", "User-Agent":
			report(f, "set by breakglass; remove it")
			continue
		}
		if ValidateWebhookHeader(k, "") != nil {
			report(f, "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)")
		} else if ValidateWebhookHeader(k, c.Headers[k].Reveal()) != nil {
			report(f, "value contains a line break or NUL")
		}
	}
}

// Build returns the Webhook for env.Target, bounded by env.Timeout.
func (c *WebhookConfig) Build(env BuildEnv) (Notifier, error) {
	headers := make(map[string]string, len(c.Headers))
	for k, v := range c.Headers {
		headers[k] = v.Reveal()
	}
	// The request is bounded by Timeout (a context deadline); a
	// client-level timeout would be a second owner.
	client := env.HTTP
	if client == nil {
		client = &http.Client{}
	}
	wh, err := NewWebhook(env.Target, c.URL.Reveal(), headers, client)
	if err != nil {
		return nil, err
	}
	wh.Timeout = env.Timeout
	if err := wh.SetSchema(c.Schema); err != nil {
		return nil, err
	}
	if c.HMACSecret != "" {
		wh.SetSigningKey(c.HMACSecret.Reveal())
	}
	if env.Now != nil {
		wh.now = env.Now
	}
	return wh, nil
}
