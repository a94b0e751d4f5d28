package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"breakglass/internal/config"
	"breakglass/internal/notify"
	"breakglass/internal/version"
)

// Bounds of the heartbeat's health check. They are not user settings.
const (
	// minStuckAfter is the least a due delivery may wait for its first
	// attempt before the outbox counts as stuck. The dispatcher polls every
	// second and is woken on each new alert, so minutes mean it is wedged,
	// or far behind.
	minStuckAfter = 5 * time.Minute
	// minCheckTimeout is the least time a health check gets (the store
	// check alone may take 2 s).
	minCheckTimeout = 5 * time.Second
	// maxPingBody bounds what is read of a ping's response.
	maxPingBody = 1 << 10
)

// stuckAfter is how long a delivery may be overdue before the outbox
// counts as stuck: minStuckAfter, or more if a send (and a retry after an
// expired lease) may legitimately take longer.
func stuckAfter(sendTimeout time.Duration) time.Duration {
	return max(minStuckAfter, 2*sendTimeout+notify.DefaultLeaseMargin+time.Minute)
}

// heartbeat is notify.heartbeat: a dead-man's switch pinged while serve is
// healthy. It never pings an unhealthy daemon, so an external service
// pages people when breakglass is down, wedged, or cannot keep alerts.
type heartbeat struct {
	cfg      config.HeartbeatConfig
	interval time.Duration
	client   *http.Client
	log      *slog.Logger
	check    func(context.Context) error // nil when healthy
	ready    <-chan struct{}
	scrub    *strings.Replacer

	down    bool // pings are withheld (logged once, when it began)
	pingErr bool // the last ping failed (logged once, when it began)
}

func newHeartbeat(hc config.HeartbeatConfig, interval time.Duration, log *slog.Logger, check func(context.Context) error, ready <-chan struct{}) *heartbeat {
	if interval <= 0 {
		interval = hc.Interval
	}
	secrets := []string{}
	for _, s := range []config.Secret{hc.URL, hc.FailURL} {
		secrets = append(secrets, urlSecrets(s.Reveal())...)
	}
	for _, v := range hc.Headers {
		secrets = append(secrets, v.Reveal())
	}
	return &heartbeat{
		cfg: hc, interval: interval, log: log, check: check, ready: ready,
		scrub: scrubber(secrets),
		// A redirect is refused, not followed: the ping must reach the
		// configured service, and a moved check should be fixed in the file.
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// run pings once serve is ready, then every interval, until ctx ends.
func (h *heartbeat) run(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-h.ready:
	}
	h.log.Info("heartbeat started", "every", h.interval, "method", h.cfg.Method, "to", display(h.cfg.URL.Reveal()))
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat checks health and pings only if healthy. Transitions are logged
// once each, not every interval.
func (h *heartbeat) beat(ctx context.Context) {
	// A wedged store must not wedge the loop: a check that does not end is
	// a failed one, and is logged as such.
	cctx, cancel := context.WithTimeout(ctx, max(h.cfg.Timeout, minCheckTimeout))
	err := h.check(cctx)
	if err == nil && cctx.Err() != nil {
		err = fmt.Errorf("health check did not finish within %v", max(h.cfg.Timeout, minCheckTimeout))
	}
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: no verdict
		}
		if !h.down {
			h.log.Error("heartbeat withheld: serve is unhealthy, so the dead-man's switch will page; fix the cause below", "reason", h.scrub.Replace(err.Error()))
			if h.cfg.FailURL != "" {
				if ferr := h.ping(ctx, h.cfg.FailURL.Reveal()); ferr != nil {
					h.log.Error("heartbeat fail signal not delivered", "error", ferr)
				}
			}
		}
		h.down = true
		return
	}
	if h.down {
		h.log.Info("heartbeat resumed: serve is healthy again")
	}
	h.down = false
	if err := h.ping(ctx, h.cfg.URL.Reveal()); err != nil {
		if ctx.Err() != nil {
			return
		}
		if !h.pingErr {
			h.log.Error("heartbeat ping failed; the dead-man's switch may page although serve is healthy", "error", err)
		}
		h.pingErr = true
		return
	}
	if h.pingErr {
		h.log.Info("heartbeat ping delivered again")
	}
	h.pingErr = false
}

// ping requests u once. Success is a 2xx answer; anything else, a redirect
// included, is an error. Errors name the host only and are scrubbed of
// the URL's path, query and the header values, which may be credentials,
// including where the server echoes them back.
func (h *heartbeat) ping(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	where := "heartbeat " + h.cfg.Method + " " + display(u)
	var body io.Reader
	if h.cfg.Method == http.MethodPost {
		body = strings.NewReader("breakglass " + version.Version + ": healthy\n")
	}
	req, err := http.NewRequestWithContext(ctx, h.cfg.Method, u, body)
	if err != nil {
		return fmt.Errorf("%s: %s", where, h.scrub.Replace(innermost(err).Error()))
	}
	req.Header.Set("User-Agent", "breakglass/"+version.Version)
	if body != nil {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	for k, v := range h.cfg.Headers {
		req.Header.Set(k, v.Reveal())
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s", where, h.scrub.Replace(innermost(err).Error()))
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, maxPingBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("%s: HTTP %d", where, resp.StatusCode)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			msg += " (a redirect, not followed: put the final URL in notify.heartbeat)"
		}
		// Scrubbed before the cut too: a credential the cut halves would
		// no longer match, and its first half would show.
		if text := printableExcerpt([]byte(h.scrub.Replace(string(excerpt))), 120); text != "" {
			msg += ": " + h.scrub.Replace(text)
		}
		return errors.New(msg)
	}
	return nil
}

// innermost drops *url.Error, whose text repeats the whole URL.
func innermost(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// display is a URL as logs may show it: scheme and host, never the user
// information, path or query, which carry the check's credential.
func display(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid URL>"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// urlSecrets are the parts of a URL that must never be printed: the whole
// URL, its path and query (a check's UUID, an ntfy topic) and user
// information.
func urlSecrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	out = append(out, u.RawQuery, u.EscapedPath(), u.Path)
	for _, seg := range strings.Split(u.Path, "/") {
		out = append(out, seg)
	}
	if u.User != nil {
		out = append(out, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	return out
}

// scrubber replaces each secret, longest first so a value containing
// another is removed whole. Values shorter than 8 characters are kept:
// path words such as "ping" or "v2" are not secrets and would garble every
// message; check UUIDs, topics and keys are longer.
func scrubber(secrets []string) *strings.Replacer {
	var s []string
	for _, v := range secrets {
		if len(v) >= 8 && !slices.Contains(s, v) {
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

// printableExcerpt makes the start of a response body safe for one log
// line.
func printableExcerpt(b []byte, n int) string {
	s := strings.ToValidUTF8(string(bytes.TrimSpace(b)), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return strings.TrimSpace(s)
}

// setupHeartbeat builds notify.heartbeat, if configured. sendTimeout is
// the dispatcher's, which bounds how late a healthy outbox can be.
func (d *Daemon) setupHeartbeat(sendTimeout time.Duration) {
	hc := d.cfg.Notify.Heartbeat
	if hc == nil {
		return
	}
	d.stuckAfter = stuckAfter(sendTimeout)
	d.hb = newHeartbeat(*hc, d.o.HeartbeatInterval, d.log.With("component", "heartbeat"), d.healthy, d.ready)
}

// healthy is the heartbeat's verdict, stricter than /readyz: the store
// takes writes, every source runs, none reports a part failing (an open
// bg.source alert) or is silent past its max_silence, and no delivery
// waits for its first attempt longer than stuckAfter. Each cause says
// what to look at.
func (d *Daemon) healthy(ctx context.Context) error {
	if err := d.writable(ctx); err != nil {
		return fmt.Errorf("store not writable: %w", err)
	}
	if n := int(d.running.Load()); n < len(d.sources) {
		return fmt.Errorf("%d of %d sources running", n, len(d.sources))
	}
	if err := d.leaseTrouble(); err != nil { // leader.go
		return err
	}
	open, err := d.pipeline.Health().Open(ctx)
	if err != nil {
		return fmt.Errorf("reading source health: %w", err)
	}
	var failing []string
	for src, n := range open {
		if n > 0 {
			failing = append(failing, src)
		}
	}
	if len(failing) > 0 {
		slices.Sort(failing)
		return fmt.Errorf("source failing: %s (see the open bg.source alerts)", strings.Join(failing, ", "))
	}
	for _, sc := range d.cfg.Sources {
		if _, silent := d.pipeline.Silence().Firing(sc.Name); silent {
			return fmt.Errorf("source %s silent for longer than its max_silence (%v)", sc.Name, sc.MaxSilence)
		}
	}
	now := d.o.Now()
	late, err := d.st.DueDeliveries(ctx, now.Add(-d.stuckAfter), 1)
	if err != nil {
		return fmt.Errorf("reading the outbox: %w", err)
	}
	if len(late) > 0 {
		l := late[0]
		return fmt.Errorf("outbox stuck: the delivery of alert %s to %s was due %v ago (bound %v); check the dispatcher's log lines and that channel",
			l.AlertID, l.Target, now.Sub(l.NextAttempt).Round(time.Second), d.stuckAfter)
	}
	return nil
}
