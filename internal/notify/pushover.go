package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"breakglass/internal/store"
)

var (
	// pushoverKey is an application token or a user/group key; user may
	// list several, comma-separated.
	pushoverKey    = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)
	pushoverUsers  = regexp.MustCompile(`^[A-Za-z0-9]{30}(,[A-Za-z0-9]{30})*$`)
	pushoverSound  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	pushoverDevice = regexp.MustCompile(`^[A-Za-z0-9_-]{1,25}(,[A-Za-z0-9_-]{1,25})*$`)
)

func validatePushover(c *PushConfig, report func(field, msg string)) {
	switch {
	case c.Token == "":
		report("token", "required: the application's API token from pushover.net (use ${VAR})")
	case !pushoverKey.MatchString(c.Token.Reveal()):
		report("token", "must be 30 letters and digits, as pushover.net shows it")
	}
	switch {
	case c.User == "":
		report("user", "required: the user or group key from pushover.net (use ${VAR})")
	case !pushoverUsers.MatchString(c.User.Reveal()):
		report("user", "must be a 30-character user or group key (several separated by commas)")
	}
	if c.Sound != "" && !pushoverSound.MatchString(c.Sound) {
		report("sound", "must be a Pushover sound name, such as siren or persistent")
	}
	if c.Device != "" && !pushoverDevice.MatchString(c.Device) {
		report("device", "must be device names (up to 25 letters, digits, - or _), separated by commas")
	}
	if c.Retry == 0 {
		c.Retry = DefaultPushoverRetry
	} else if c.Retry < 30 {
		report("retry", "must be at least 30 seconds (Pushover's minimum)")
	}
	if c.Expire == 0 {
		c.Expire = DefaultPushoverExpire
	} else if c.Expire < 1 || c.Expire > 10800 {
		report("expire", "must be 1 to 10800 seconds (Pushover's maximum is 3 hours)")
	}
}

// Pushover sends through the Pushover Message API
// (https://pushover.net/api): POST {url}/1/messages.json, a form with the
// application token and user key. A Sev0 alert is an emergency (priority
// 2): the phone repeats it every retry seconds until someone acknowledges
// it in the app or expire passes. Pushover has no idempotency key.
type Pushover struct {
	endpoint      string
	token, user   string
	sound, device string
	retry, expire int
	render        func(Notification) (Message, error)
	http          *HTTPClient
}

func newPushover(label string, c *PushConfig, env BuildEnv) *Pushover {
	return &Pushover{
		endpoint: strings.TrimRight(c.URL, "/") + "/1/messages.json",
		token:    c.Token.Reveal(), user: c.User.Reveal(),
		sound: c.Sound, device: c.Device, retry: c.Retry, expire: c.Expire,
		render: env.Render,
		http:   NewHTTPClient(label, env.HTTP, env.Timeout, c.Token.Reveal(), c.User.Reveal()),
	}
}

// PushoverPriority maps a severity to Pushover's priority: Sev0 is 2
// (emergency, repeated until acknowledged), Sev1 1 (high, bypasses quiet
// hours), Sev2 0, Sev3 and Sev4 -1 (quiet). A resolution is 0. (-2, no
// notification at all, is never used: an alert must be seen.)
func PushoverPriority(severity int, status string) int {
	if status == store.StatusResolved {
		return 0
	}
	switch {
	case severity <= 0:
		return 2
	case severity == 1:
		return 1
	case severity == 2:
		return 0
	}
	return -1
}

// Pushover's field limits.
const (
	pushoverMaxTitle   = 250
	pushoverMaxMessage = 1024
)

// SendTimeout makes the channel Bounded.
func (p *Pushover) SendTimeout() time.Duration { return p.http.SendTimeout() }

// Notify sends one message. Pushover answers {"status":1,...} when it
// accepted it; a 2xx with any other status is not a delivery.
func (p *Pushover) Notify(ctx context.Context, n Notification) error {
	m, err := RenderWith(p.render, n)
	if err != nil {
		return Permanent(p.http.Errorf("", p.endpoint, "render: %w", err))
	}
	msg := m.Text
	if len([]rune(msg)) > pushoverMaxMessage || msg == "" {
		msg = m.Short
	}
	prio := PushoverPriority(m.Severity, n.Status)
	form := url.Values{
		"token":    {p.token},
		"user":     {p.user},
		"title":    {truncRunes(m.Subject, pushoverMaxTitle)},
		"message":  {truncRunes(msg, pushoverMaxMessage)},
		"priority": {itoa(prio)},
	}
	if !n.Alert.EventTime.IsZero() && !n.Alert.EventTimeUnknown {
		form.Set("timestamp", itoa(int(n.Alert.EventTime.Unix())))
	}
	if prio == 2 {
		form.Set("retry", itoa(p.retry))
		form.Set("expire", itoa(p.expire))
	}
	if m.AckURL != "" {
		form.Set("url", m.AckURL)
		form.Set("url_title", "Acknowledge")
	}
	if p.sound != "" {
		form.Set("sound", p.sound)
	}
	if p.device != "" {
		form.Set("device", p.device)
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	resp, err := p.http.Do(ctx, HTTPRequest{URL: p.endpoint, Header: h, Body: []byte(form.Encode())})
	if err != nil {
		return err
	}
	return pushoverVerdict(p.http, p.endpoint, resp)
}

// pushoverVerdict reads Pushover's answer: accepted only with status 1.
func pushoverVerdict(c *HTTPClient, endpoint string, resp *HTTPResponse) error {
	var ans struct {
		Status  *int     `json:"status"`
		Request string   `json:"request"`
		Errors  []string `json:"errors"`
	}
	parsed := json.Unmarshal(resp.Body, &ans) == nil
	if !resp.OK() {
		detail := ""
		if parsed && len(ans.Errors) > 0 {
			detail = "Pushover: " + strings.Join(ans.Errors, "; ")
		}
		return c.StatusError("", endpoint, resp, detail)
	}
	if !parsed || ans.Status == nil || *ans.Status != 1 {
		detail := "no status 1 in the answer"
		if parsed && len(ans.Errors) > 0 {
			detail = "Pushover: " + strings.Join(ans.Errors, "; ")
		}
		return c.Errorf("", endpoint, "HTTP %d: not accepted: %s", resp.StatusCode, c.Excerpt([]byte(detail)))
	}
	return nil
}

func truncRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
