package graph

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"breakglass/internal/graph/scrub"
	"breakglass/internal/version"
)

// Defaults for Options.
const (
	DefaultBaseURL            = "https://graph.microsoft.com"
	DefaultMaxRetries         = 4
	DefaultMaxThrottleRetries = 8
	// Graph's identity and access reports allow 5 requests per 10 seconds
	// per app per tenant; staying under that avoids 429s, which cost more
	// time than the wait.
	DefaultSignInBudget = 5
	DefaultSignInWindow = 10 * time.Second
)

const (
	// A 1,000-item sign-in page is a few MB; anything far larger is not a
	// Graph page and would only exhaust memory.
	maxBody = 64 << 20
	// One wait never exceeds this, whatever Retry-After says: a poller that
	// sleeps for an hour looks dead, and the next poll asks again anyway.
	maxWait     = 5 * time.Minute
	baseBackoff = 500 * time.Millisecond
	maxBackoff  = 30 * time.Second
)

// ErrNotGET is returned by the client's transport for any request that is
// not a GET.
var ErrNotGET = errors.New("graph: refusing a non-GET request: this client only reads")

// errOrigin is returned by the transport for a request to anything but
// BaseURL's scheme and host, so the bearer token cannot leave Graph.
var errOrigin = errors.New("graph: refusing a request outside the Graph base URL")

// TokenSource supplies the bearer token for each request. Implementations
// cache; the client asks before every request and retry.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a fixed bearer token, for tests and for tokens obtained
// elsewhere.
type StaticToken string

// Token implements TokenSource.
func (s StaticToken) Token(context.Context) (string, error) {
	if s == "" {
		return "", errors.New("graph: empty static token")
	}
	return string(s), nil
}

// Options configure a Client. Only Tokens is required.
type Options struct {
	// BaseURL is the Graph endpoint without version, default
	// DefaultBaseURL. It must be https, except on loopback (tests).
	BaseURL string
	Tokens  TokenSource
	// HTTPClient is copied; its Transport is wrapped so it can only send
	// GETs to BaseURL, and its CheckRedirect is replaced for the same
	// reason. Default: a client with connect, TLS and header timeouts.
	HTTPClient *http.Client
	UserAgent  string // default "breakglass/<version>"
	// MaxRetries bounds retries of transient failures (connection errors,
	// 408, 500, 502, 503, 504); default DefaultMaxRetries, negative for
	// none.
	MaxRetries int
	// MaxThrottleRetries bounds retries of 429; default
	// DefaultMaxThrottleRetries, negative for none. It is separate because
	// throttling is expected on the reporting APIs and is not a fault.
	MaxThrottleRetries int
	// SignInBudget requests per SignInWindow may go to /auditLogs/signIns
	// (pages and retries included); defaults DefaultSignInBudget and
	// DefaultSignInWindow. A negative budget disables the limit.
	SignInBudget int
	SignInWindow time.Duration
	Logger       *slog.Logger
	// Now and Sleep replace the clock in tests. Sleep must return early
	// with ctx.Err() when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client reads Microsoft Graph. It is safe for concurrent use.
type Client struct {
	base          *url.URL // scheme, host and optional path prefix, no trailing slash
	tokens        TokenSource
	hc            *http.Client
	ua            string
	maxRetries    int
	maxThrottle   int
	signIns       *window // nil: no budget
	log           *slog.Logger
	now           func() time.Time
	sleep         func(ctx context.Context, d time.Duration) error
	jitter        func() float64 // in [0,1); replaced in tests
	requestIDRand io.Reader
}

var _ Lister = (*Client)(nil)

// New validates o and returns a Client.
func New(o Options) (*Client, error) {
	if o.Tokens == nil {
		return nil, errors.New("graph: Options.Tokens is required")
	}
	base, err := parseBaseURL(o.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:          base,
		tokens:        o.Tokens,
		ua:            o.UserAgent,
		maxRetries:    retries(o.MaxRetries, DefaultMaxRetries),
		maxThrottle:   retries(o.MaxThrottleRetries, DefaultMaxThrottleRetries),
		log:           o.Logger,
		now:           o.Now,
		sleep:         o.Sleep,
		jitter:        rand.Float64,
		requestIDRand: crand.Reader,
	}
	if c.ua == "" {
		c.ua = "breakglass/" + version.Version
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if o.SignInBudget >= 0 {
		n, per := o.SignInBudget, o.SignInWindow
		if n == 0 {
			n = DefaultSignInBudget
		}
		if per <= 0 {
			per = DefaultSignInWindow
		}
		c.signIns = newWindow(n, per)
	}

	hc := &http.Client{Timeout: 2 * time.Minute}
	if o.HTTPClient != nil {
		cp := *o.HTTPClient
		hc = &cp
	}
	next := hc.Transport
	if next == nil {
		next = defaultTransport()
	}
	hc.Transport = &readOnlyTransport{next: next, base: base}
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("graph: stopped after 10 redirects")
		}
		if !sameOrigin(req.URL, base) {
			return fmt.Errorf("%w: redirect to %s://%s", errOrigin, req.URL.Scheme, req.URL.Host)
		}
		return nil
	}
	c.hc = hc
	return c, nil
}

func retries(v, def int) int {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	// Sign-in queries with $filter can take tens of seconds server-side.
	t.ResponseHeaderTimeout = 90 * time.Second
	t.IdleConnTimeout = 90 * time.Second
	return t
}

func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("graph: base URL: %w", err)
	}
	switch {
	case u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("graph: base URL %q: want scheme://host", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("graph: base URL %q: must not have credentials, query or fragment", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		// Plain HTTP only where the token cannot cross a network: tests.
	default:
		return nil, fmt.Errorf("graph: base URL %q: must be https (http only on loopback)", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) &&
		strings.EqualFold(u.Hostname(), base.Hostname()) &&
		port(u) == port(base) && u.User == nil
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// readOnlyTransport is what makes the client read-only: whatever code
// holds the client, no request other than GET, and none to another host,
// leaves the process through it. The only POST breakglass ever sends is
// azidentity's token request to the Entra authority (managed identity
// asks its local endpoint instead); azidentity uses its own pipeline, so
// those requests never pass through here and this guard need not allow
// them.
type readOnlyTransport struct {
	next http.RoundTripper
	base *url.URL
}

func (t *readOnlyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var err error
	switch {
	case r.Method != "" && r.Method != http.MethodGet:
		err = fmt.Errorf("%w: %s %s", ErrNotGET, r.Method, redact(r.URL))
	case !sameOrigin(r.URL, t.base):
		err = fmt.Errorf("%w: %s://%s", errOrigin, r.URL.Scheme, r.URL.Host)
	}
	if err != nil {
		// A RoundTripper must close the body even when it fails.
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(r)
}

// Get fetches one object into out (nil to discard it).
func (c *Client) Get(ctx context.Context, v Version, path string, q Query, out any) error {
	t, err := c.target(v, path, q)
	if err != nil {
		return err
	}
	body, err := c.get(ctx, t, q.Eventual)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if len(body) == 0 {
		return fmt.Errorf("graph: GET %s: empty response", t.display())
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("graph: GET %s: decode response: %w", t.display(), err)
	}
	return nil
}

// List fetches every page of a collection, following @odata.nextLink, and
// calls fn with each non-empty page's items. An error from fn stops the
// listing and is returned unchanged.
func (c *Client) List(ctx context.Context, v Version, path string, q Query, fn func(items []json.RawMessage) error) error {
	t, err := c.target(v, path, q)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for {
		seen[t.url] = true
		body, err := c.get(ctx, t, q.Eventual)
		if err != nil {
			return err
		}
		var page struct {
			Value    *[]json.RawMessage `json:"value"`
			NextLink string             `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("graph: GET %s: decode page: %w", t.display(), err)
		}
		if page.Value == nil {
			return fmt.Errorf("graph: GET %s: response is not a collection (no value array)", t.display())
		}
		if len(*page.Value) > 0 {
			if err := fn(*page.Value); err != nil {
				return err
			}
		}
		if page.NextLink == "" {
			return nil
		}
		next, err := c.nextTarget(page.NextLink)
		if err != nil {
			return fmt.Errorf("graph: GET %s: %w", t.display(), err)
		}
		if seen[next.url] {
			return fmt.Errorf("graph: GET %s: @odata.nextLink repeats an earlier page", t.display())
		}
		t = next
	}
}

// ListAll is List collecting every item.
func (c *Client) ListAll(ctx context.Context, v Version, path string, q Query) ([]json.RawMessage, error) {
	var all []json.RawMessage
	err := c.List(ctx, v, path, q, func(items []json.RawMessage) error {
		all = append(all, items...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// target is one request URL and what it is about.
type target struct {
	url      string // absolute and encoded
	endpoint string // path below the version, e.g. /auditLogs/signIns
	query    string // raw query, for hints only
}

// display is the URL without scheme, host or query, as errors show it.
func (t target) display() string {
	u, err := url.Parse(t.url)
	if err != nil {
		return t.endpoint
	}
	return u.EscapedPath()
}

// target builds the URL for path under version v. path is unescaped (an
// id may contain '#', as guest UPNs do) and may carry a query string in URL
// form; its parameters come first and must not repeat q's.
func (c *Client) target(v Version, path string, q Query) (target, error) {
	if v != V1 && v != Beta {
		return target{}, fmt.Errorf("graph: unknown API version %q", v)
	}
	p, rawQuery, _ := strings.Cut(path, "?")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return target{}, fmt.Errorf("graph: path %q: dot segments are not allowed", path)
		}
	}
	if strings.ContainsFunc(path, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return target{}, fmt.Errorf("graph: path %q: control characters are not allowed", path)
	}
	params, err := parseQuery(rawQuery)
	if err != nil {
		return target{}, fmt.Errorf("graph: path %q: %w", path, err)
	}
	add := func(k, v string) error {
		for _, p := range params {
			if strings.EqualFold(p[0], k) || strings.EqualFold(p[0], strings.TrimPrefix(k, "$")) {
				return fmt.Errorf("graph: path %q: %s given both in the path and in Query", path, k)
			}
		}
		params = append(params, [2]string{k, v})
		return nil
	}
	opts := []struct{ k, v string }{
		{"$select", strings.Join(q.Select, ",")},
		{"$filter", q.Filter},
		{"$search", q.Search},
		{"$expand", q.Expand},
		{"$orderby", q.OrderBy},
	}
	if q.Top < 0 {
		return target{}, fmt.Errorf("graph: path %q: negative $top", path)
	}
	if q.Top > 0 {
		opts = append(opts, struct{ k, v string }{"$top", strconv.Itoa(q.Top)})
	}
	if q.Count {
		opts = append(opts, struct{ k, v string }{"$count", "true"})
	}
	for _, o := range opts {
		if o.v != "" {
			if err := add(o.k, o.v); err != nil {
				return target{}, err
			}
		}
	}
	var b strings.Builder
	b.WriteString(c.base.Scheme + "://" + c.base.Host)
	b.WriteString(escape(c.base.Path+"/"+string(v)+p, pathSafe))
	for i, kv := range params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(escape(kv[0], querySafe))
		b.WriteByte('=')
		b.WriteString(escape(kv[1], querySafe))
	}
	s := b.String()
	_, raw, _ := strings.Cut(s, "?")
	return target{url: s, endpoint: p, query: raw}, nil
}

// parseQuery splits a URL-form query keeping order, which url.ParseQuery
// loses.
func parseQuery(raw string) ([][2]string, error) {
	var out [][2]string
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		uk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("query key %q: %w", k, err)
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("query value of %q: %w", uk, err)
		}
		out = append(out, [2]string{uk, uv})
	}
	return out, nil
}

// Characters kept literal besides RFC 3986's unreserved ones. In paths
// that is every sub-delimiter, so OData keys such as roleDefinitions('id')
// read as in Graph's documentation. In queries, Graph wants '$' in option
// names literal and reads '+' as a space, so '+', '&', ';' (which Go
// servers reject) and '#' are escaped, and so are spaces and '%'; '=' may
// stay, as only the first one in a pair separates key from value.
const (
	pathSafe  = "-._~!$&'()*+,;=:@/"
	querySafe = "-._~$'()*,=:@/!"
)

// escape percent-encodes s, keeping unreserved characters and safe.
func escape(s, safe string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9', strings.IndexByte(safe, ch) >= 0:
			b.WriteByte(ch)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[ch>>4])
			b.WriteByte(hexd[ch&15])
		}
	}
	return b.String()
}

// nextTarget checks an @odata.nextLink before the token is sent to it.
func (c *Client) nextTarget(link string) (target, error) {
	u, err := url.Parse(link)
	if err != nil {
		return target{}, fmt.Errorf("bad @odata.nextLink: %w", err)
	}
	if !u.IsAbs() || !sameOrigin(u, c.base) {
		return target{}, fmt.Errorf("%w: @odata.nextLink points at %s://%s", errOrigin, u.Scheme, u.Host)
	}
	rest, ok := strings.CutPrefix(u.Path, c.base.Path+"/")
	if !ok {
		return target{}, fmt.Errorf("%w: @odata.nextLink path %s", errOrigin, u.EscapedPath())
	}
	_, endpoint, _ := strings.Cut(rest, "/")
	u.Fragment = ""
	return target{url: u.String(), endpoint: "/" + endpoint, query: u.RawQuery}, nil
}

func (c *Client) budgeted(endpoint string) bool {
	const p = "/auditlogs/signins"
	if c.signIns == nil || len(endpoint) < len(p) || !strings.EqualFold(endpoint[:len(p)], p) {
		return false
	}
	return len(endpoint) == len(p) || strings.IndexByte("/(?", endpoint[len(p)]) >= 0
}

// get sends GET t with retries and returns the body of a 2xx answer.
func (c *Client) get(ctx context.Context, t target, eventual bool) ([]byte, error) {
	var transient, throttled int
	for attempt := 1; ; attempt++ {
		if c.budgeted(t.endpoint) {
			if d := c.signIns.reserve(c.now()); d > 0 {
				c.log.Debug("graph sign-in budget: waiting", "path", t.display(), "wait", d)
				if err := c.sleep(ctx, d); err != nil {
					return nil, fmt.Errorf("graph: GET %s: %w", t.display(), err)
				}
			}
		}
		res, err := c.once(ctx, t, eventual)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !retryable(err) || transient >= c.maxRetries {
				return nil, fmt.Errorf("graph: GET %s: %w", t.display(), err)
			}
			transient++
			wait = c.backoff(transient)
			c.log.Warn("graph request failed; retrying", "path", t.display(), "error", err, "attempt", attempt, "wait", wait)
		case res.status >= 200 && res.status < 300:
			return res.body, nil
		case res.status == http.StatusTooManyRequests:
			if throttled >= c.maxThrottle {
				return nil, c.apiError(res, t, attempt)
			}
			throttled++
			wait = c.retryAfter(res.header, throttled)
		case res.status == http.StatusServiceUnavailable || res.status == http.StatusGatewayTimeout:
			if transient >= c.maxRetries {
				return nil, c.apiError(res, t, attempt)
			}
			transient++
			wait = c.retryAfter(res.header, transient)
		case res.status == http.StatusInternalServerError || res.status == http.StatusBadGateway ||
			res.status == http.StatusRequestTimeout:
			if transient >= c.maxRetries {
				return nil, c.apiError(res, t, attempt)
			}
			transient++
			wait = c.backoff(transient)
		default:
			return nil, c.apiError(res, t, attempt)
		}
		if err == nil {
			c.log.Warn("graph request throttled or failed; retrying", "path", t.display(), "status", res.status,
				"request_id", res.header.Get("request-id"), "attempt", attempt, "wait", wait)
			// Waking up only to find the deadline gone helps nobody: the
			// caller learns now that Graph said "later".
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				return nil, c.apiError(res, t, attempt)
			}
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("graph: GET %s: %w", t.display(), err)
		}
	}
}

type result struct {
	status int
	header http.Header
	body   []byte
	token  string // sent with the request: scrubbed from what the answer echoes
}

// errPermanent marks failures no retry can fix.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

func (c *Client) once(ctx context.Context, t target, eventual bool) (result, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		// A TokenSource of the caller's may echo anything.
		return result{}, errPermanent{fmt.Errorf("get token: %w", scrub.Clean(nil, err))}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return result{}, errPermanent{err}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	// Graph echoes client-request-id, which ties our log lines to theirs.
	req.Header.Set("client-request-id", c.newRequestID())
	if eventual {
		req.Header.Set("ConsistencyLevel", "eventual")
	}
	start := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		// url.Error repeats the URL, query included; callers already get
		// the path from us.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		// A proxy's answer can quote the request's Authorization header.
		return result{}, scrub.Clean(scrub.New(tok), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return result{}, fmt.Errorf("read response: %w", err)
	}
	if len(body) > maxBody {
		return result{}, errPermanent{fmt.Errorf("response larger than %d bytes", maxBody)}
	}
	c.log.Debug("graph request", "path", t.display(), "status", resp.StatusCode,
		"request_id", resp.Header.Get("request-id"), "duration", c.now().Sub(start))
	return result{status: resp.StatusCode, header: resp.Header, body: body, token: tok}, nil
}

// retryable says whether a transport error may go away by itself.
func retryable(err error) bool {
	var (
		perm     errPermanent
		dnsErr   *net.DNSError
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		recordEr tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &perm), errors.Is(err, ErrNotGET), errors.Is(err, errOrigin),
		errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recordEr):
		return false
	}
	return true
}

// retryAfter is how long Graph asked us to wait, else a backoff.
func (c *Client) retryAfter(h http.Header, n int) time.Duration {
	if d, ok := parseRetryAfter(h.Get("Retry-After"), c.now()); ok {
		return min(d, maxWait)
	}
	return c.backoff(n)
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxWait/time.Second) {
			return maxWait, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		// A date far ahead is capped like a large number of seconds.
		return min(max(t.Sub(now), 0), maxWait), true
	}
	return 0, false
}

// backoff is the n-th (from 1) exponential wait with equal jitter, so
// clients that failed together do not retry together.
func (c *Client) backoff(n int) time.Duration {
	d := maxBackoff
	if n < 16 {
		d = min(baseBackoff<<(n-1), maxBackoff)
	}
	return d/2 + time.Duration(c.jitter()*float64(d/2))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) newRequestID() string {
	var b [16]byte
	if _, err := io.ReadFull(c.requestIDRand, b[:]); err != nil {
		return ""
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// window lets at most n requests start in any span of per: each of n slots
// is free again per after its last use. A plain token bucket refilling at
// n/per would allow 2n requests in the first window, which is exactly what
// Graph's "5 requests per 10 seconds" answers with 429.
type window struct {
	mu    sync.Mutex
	per   time.Duration
	slots []time.Time
	next  int // oldest slot
}

func newWindow(n int, per time.Duration) *window {
	return &window{per: per, slots: make([]time.Time, n)}
}

// reserve claims the next slot and returns how long to wait before using
// it. A claim is not given back if the caller gives up: that only makes
// the budget stricter for a while.
func (w *window) reserve(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	at := now
	if t := w.slots[w.next].Add(w.per); t.After(at) {
		at = t
	}
	w.slots[w.next] = at
	w.next = (w.next + 1) % len(w.slots)
	return at.Sub(now)
}

func redact(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}
