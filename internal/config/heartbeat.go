package config

import (
	"slices"
	"strings"
	"time"

	"breakglass/internal/notify"
)

// Defaults and limits of notify.heartbeat.
const (
	// DefaultHeartbeatInterval is how often a healthy daemon pings.
	DefaultHeartbeatInterval = time.Minute
	// MinHeartbeatInterval keeps a mistyped interval ("1s") from hammering
	// the monitoring service, which may rate-limit or ban the check.
	MinHeartbeatInterval = 10 * time.Second
	// DefaultHeartbeatTimeout bounds one ping (never more than the interval).
	DefaultHeartbeatTimeout = 10 * time.Second
	DefaultHeartbeatMethod  = "GET"
)

// HeartbeatMethods are the HTTP methods notify.heartbeat.method accepts.
var HeartbeatMethods = []string{"GET", "POST"}

// HeartbeatConfig is notify.heartbeat: a dead-man's switch. While serve is
// healthy it requests URL every Interval; when it is not, it stops (and
// requests FailURL once, if set), so that the external service notices the
// silence and pages people. That also covers the daemon dying outright.
type HeartbeatConfig struct {
	// URL is the ping URL; it usually is the credential itself.
	URL      Secret        `yaml:"url"`
	Interval time.Duration `yaml:"interval"`
	Method   string        `yaml:"method"` // GET or POST
	Timeout  time.Duration `yaml:"timeout"`
	// FailURL, if set, is requested once each time serve turns unhealthy
	// (healthchecks.io: the ping URL followed by /fail), so the check goes
	// down at once rather than after its grace period.
	FailURL Secret `yaml:"fail_url,omitempty"`
	// Headers are sent with every request (Opsgenie: Authorization:
	// GenieKey ...). Values are secrets.
	Headers map[string]Secret `yaml:"headers,omitempty"`
}

// validateHeartbeat checks notify.heartbeat.
func (c *Config) validateHeartbeat(d *decoder) {
	h := c.Notify.Heartbeat
	const f = "notify.heartbeat"
	if d.failed[f] {
		return
	}
	if h == nil {
		// "heartbeat:" with every key commented out would otherwise turn
		// the dead-man's switch off without a word.
		if line, ok := d.lines[f]; ok {
			d.errorf(line, f, "empty; give url: (the ping URL), or remove notify.heartbeat")
		}
		return
	}
	line := func(k string) int {
		if l, ok := d.lines[f+"."+k]; ok {
			return l
		}
		return d.lines[f]
	}
	if h.URL == "" && !d.failed[f+".url"] {
		d.errorf(line("url"), f+".url", "required: the ping URL of the dead-man's switch (use ${VAR} to keep it out of the file)")
	} else if h.URL != "" {
		if notify.ValidateWebhookURL(h.URL.Reveal()) != nil {
			d.errorf(line("url"), f+".url", "not an http or https URL")
		}
	}
	if h.FailURL != "" {
		if notify.ValidateWebhookURL(h.FailURL.Reveal()) != nil {
			d.errorf(line("fail_url"), f+".fail_url", "not an http or https URL")
		}
	}
	h.Method = strings.ToUpper(strings.TrimSpace(h.Method))
	if h.Method != "" && !d.failed[f+".method"] {
		if !slices.Contains(HeartbeatMethods, h.Method) {
			d.errorf(line("method"), f+".method", "must be one of %s", strings.Join(HeartbeatMethods, ", "))
		}
	}
	interval := h.Interval
	if interval == 0 {
		interval = DefaultHeartbeatInterval
	}
	if h.Interval != 0 && h.Interval < MinHeartbeatInterval && !d.failed[f+".interval"] {
		d.errorf(line("interval"), f+".interval", "must be at least %v (default %v)", MinHeartbeatInterval, DefaultHeartbeatInterval)
	}
	switch {
	case d.failed[f+".timeout"]:
	case h.Timeout < 0:
		d.errorf(line("timeout"), f+".timeout", "must not be negative")
	case h.Timeout > interval:
		d.errorf(line("timeout"), f+".timeout", "must not exceed the interval (%v): a ping must end before the next is due", interval)
	}
	keys := make([]string, 0, len(h.Headers))
	for k := range h.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		hf := f + "." + notify.FieldKey("headers", k)
		if d.failed[hf] {
			continue
		}
		l := d.lines[hf]
		if l == 0 {
			l = line("headers")
		}
		// Messages never repeat a value: it may be the credential.
		if notify.ValidateWebhookHeader(k, "") != nil {
			d.errorf(l, hf, "not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)")
		} else if notify.ValidateWebhookHeader(k, h.Headers[k].Reveal()) != nil {
			d.errorf(l, hf, "value contains a line break or NUL")
		}
	}
}

func (c *Config) applyHeartbeatDefaults() {
	h := c.Notify.Heartbeat
	if h == nil {
		return
	}
	if h.Interval == 0 {
		h.Interval = DefaultHeartbeatInterval
	}
	if h.Method == "" {
		h.Method = DefaultHeartbeatMethod
	}
	if h.Timeout == 0 {
		h.Timeout = min(DefaultHeartbeatTimeout, h.Interval)
	}
}
