package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxHTTPResponse bounds how much of a provider's response body an HTTP
// channel reads. Provider answers (a Twilio message resource, a Pushover
// status) are a few hundred bytes; anything longer is hostile or a proxy's
// error page, and reading it whole would let a receiver exhaust memory.
const MaxHTTPResponse = 64 << 10

// HTTPClient is the sending half shared by every HTTP channel (SMS, voice,
// push, chat, incident APIs): one request bounded by a context deadline, a
// bounded response read, no redirects, and errors that name the channel,
// show the endpoint only as scheme://host and are scrubbed of every
// configured secret, including what a server echoes back.
//
// Classification, the one rule for every HTTP channel: the caller decides
// what a 2xx means (some APIs answer 200 with an error inside); for
// anything else StatusError makes 408, 425, 429 and 5xx retryable (with
// the server's Retry-After attached through WithRetryAfter) and every
// other status, redirects included, Permanent.
type HTTPClient struct {
	label   string
	client  *http.Client
	timeout time.Duration
	scrub   *strings.Replacer
	now     func() time.Time
}

// NewHTTPClient returns the sender of the channel named label (for
// example `sms "ops/phone"`; it starts every error). client may be nil; it
// is copied and told not to follow redirects (a redirect would resend
// credentials to wherever the server points). timeout bounds each request
// from connecting to reading the body; zero means DefaultWebhookTimeout.
// secrets are every configured value that must never appear in an error:
// tokens, passwords, URLs with keys. Their URL-escaped forms are scrubbed
// too; pass URL-shaped secrets through SecretsOfURL to cover their parts.
func NewHTTPClient(label string, client *http.Client, timeout time.Duration, secrets ...string) *HTTPClient {
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	var all []string
	for _, s := range secrets {
		all = append(all, s, strings.TrimSpace(s), url.QueryEscape(s), url.PathEscape(s))
	}
	return &HTTPClient{label: label, client: &c, timeout: timeout, scrub: newScrubber(all), now: time.Now}
}

// SecretsOfURL lists the parts of a URL that may be credentials (query
// values, path, user info, fragment) and the URL itself, for
// NewHTTPClient. An ntfy topic is its password, a Slack or Teams webhook
// carries its key in the path.
func SecretsOfURL(rawURL string) []string {
	out := []string{rawURL}
	u, err := url.Parse(rawURL)
	if err != nil {
		return out
	}
	out = append(out, u.RawQuery, u.Fragment, u.EscapedPath(), u.Path, strings.Trim(u.Path, "/"))
	if u.User != nil {
		p, _ := u.User.Password()
		out = append(out, u.User.String(), u.User.Username(), p)
	}
	for _, vs := range u.Query() {
		out = append(out, vs...)
	}
	return out
}

// BasicAuthSecrets lists the forms in which HTTP basic credentials may be
// echoed (the password, and the base64 of user:password that the
// Authorization header carries), for NewHTTPClient.
func BasicAuthSecrets(user, password string) []string {
	enc := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	return []string{password, enc, "Basic " + enc}
}

// SendTimeout is the bound on one request; channels built on HTTPClient
// return it from their own SendTimeout so the dispatcher (Bounded) gives
// the send that long.
func (c *HTTPClient) SendTimeout() time.Duration { return c.timeout }

// HTTPRequest is one request to a provider.
type HTTPRequest struct {
	Method string // POST when empty
	URL    string
	Header http.Header // User-Agent is always set to UserAgent
	Body   []byte
}

// HTTPResponse is a provider's answer, its body read up to
// MaxHTTPResponse.
type HTTPResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// Truncated: the body was longer than MaxHTTPResponse.
	Truncated bool
}

// OK reports a 2xx status.
func (r *HTTPResponse) OK() bool { return r.StatusCode >= 200 && r.StatusCode <= 299 }

// Do sends r within the client's timeout (and ctx). A transport failure,
// a timeout included, is returned as a retryable error; any response,
// whatever its status, is returned with a nil error for the caller to
// judge (see StatusError).
func (c *HTTPClient) Do(ctx context.Context, r HTTPRequest) (*HTTPResponse, error) {
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	display := displayURL(r.URL)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, Permanent(c.errorf(method, display, "build request: %w", unwrapURLError(err)))
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		// url.Error names the full URL, query included: keep only the cause.
		err = unwrapURLError(err)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, c.errorf(method, display, "no response within %s: %w", c.timeout, err)
		}
		return nil, c.errorf(method, display, "%w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxHTTPResponse+1))
	if err != nil {
		// The status line arrived but the body did not: the provider's
		// verdict (Pushover's status, Twilio's error) is unknown, so the
		// send is not known to have been accepted.
		err = unwrapURLError(err)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, c.errorf(method, display, "HTTP %d, body not read within %s: %w", resp.StatusCode, c.timeout, err)
		}
		return nil, c.errorf(method, display, "HTTP %d, reading body: %w", resp.StatusCode, err)
	}
	out := &HTTPResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	if len(body) > MaxHTTPResponse {
		out.Body, out.Truncated = body[:MaxHTTPResponse], true
	}
	return out, nil
}

// StatusError is the classified error for a response the provider did not
// accept: retryable for 408, 425, 429 and 5xx (with Retry-After), else
// Permanent. detail is what the provider said, already extracted (for
// example "error 21211: invalid To number"); empty means the start of the
// body. Either is made printable and scrubbed. The error wraps a
// *StatusError.
func (c *HTTPClient) StatusError(method, rawURL string, resp *HTTPResponse, detail string) error {
	if detail == "" {
		detail = string(resp.Body)
	}
	if method == "" {
		method = http.MethodPost
	}
	serr := c.errorf(method, displayURL(rawURL), "%w", &StatusError{StatusCode: resp.StatusCode, Body: c.Excerpt([]byte(detail))})
	if RetryableStatus(resp.StatusCode) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
			return WithRetryAfter(serr, d)
		}
		return serr
	}
	return Permanent(serr)
}

// Errorf is an error of this channel about a request to rawURL (shown as
// scheme://host), scrubbed like every other. Wrap it in Permanent when
// retrying cannot help (a 2xx whose body says the message was refused).
func (c *HTTPClient) Errorf(method, rawURL, format string, args ...any) error {
	if method == "" {
		method = http.MethodPost
	}
	return c.errorf(method, displayURL(rawURL), format, args...)
}

// Scrub removes every configured secret from s.
func (c *HTTPClient) Scrub(s string) string { return c.scrub.Replace(s) }

// Excerpt is the start of a provider's answer for an error: printable,
// at most 200 characters, and scrubbed before it is shortened, so a
// secret cut in half by the limit cannot show its first half.
func (c *HTTPClient) Excerpt(b []byte) string {
	return scrubbedExcerpt(c.scrub, b, 200)
}

func (c *HTTPClient) errorf(method, display, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &webhookError{msg: c.label + ": " + method + " " + display + ": " + c.scrub.Replace(err.Error()), err: err}
}

// RetryableStatus is the one rule for which HTTP statuses are worth
// retrying: 408 Request Timeout, 425 Too Early, 429 Too Many Requests and
// every 5xx.
func RetryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooEarly || code == http.StatusTooManyRequests || code >= 500
}

// displayURL is scheme://host: the path and query may be credentials.
func displayURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
