package config

import (
	"breakglass/internal/notify"
)

// RateLimitsConfig is notify.rate_limits: the most messages one recipient
// gets per period, per kind of recipient, written COUNT/DURATION (1/5m,
// 100/1h, 10/1d) or off. A kind left out keeps its default, Azure action
// groups' limits (DefaultRateLimits). Nothing over a limit is dropped: it
// waits and is coalesced into the next message the limit allows.
type RateLimitsConfig struct {
	// SMS limits text messages per phone number.
	SMS string `yaml:"sms,omitempty"`
	// Voice limits calls per phone number.
	Voice string `yaml:"voice,omitempty"`
	// Email limits emails per address.
	Email string `yaml:"email,omitempty"`
}

// DefaultRateLimits are the limits of notify.rate_limits when it, or one
// of its kinds, is not set: notify's (Azure's) defaults.
func DefaultRateLimits() map[string]notify.RateLimit { return notify.DefaultRateLimits() }

// field returns the setting of kind (notify.LimitKinds).
func (r *RateLimitsConfig) field(kind string) *string {
	switch kind {
	case notify.LimitSMS:
		return &r.SMS
	case notify.LimitVoice:
		return &r.Voice
	case notify.LimitEmail:
		return &r.Email
	}
	return nil
}

// validateRateLimits checks notify.rate_limits and writes each limit in
// its canonical form (" 100 / 60m " reads back as 100/1h).
func (c *Config) validateRateLimits(d *decoder) {
	r := c.Notify.RateLimits
	const f = "notify.rate_limits"
	if r == nil || d.failed[f] {
		return
	}
	for _, kind := range notify.LimitKinds {
		k := f + "." + kind
		p := r.field(kind)
		if *p == "" || d.failed[k] {
			continue
		}
		l, err := notify.ParseRateLimit(*p, parseDuration)
		if err != nil {
			d.errorf(d.lines[k], k, "%q: %v", printableValue(*p), err)
			continue
		}
		*p = l.String()
	}
}

// printableValue shortens a value for a message and shows control
// characters escaped.
func printableValue(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	out := []rune{}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			out = append(out, '?')
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// applyRateLimitDefaults fills the kinds a notify.rate_limits block leaves
// out, so `config check` prints every limit in effect. Without the block
// nothing is printed and every kind has its default.
func (c *Config) applyRateLimitDefaults() {
	r := c.Notify.RateLimits
	if r == nil {
		return
	}
	def := DefaultRateLimits()
	for _, kind := range notify.LimitKinds {
		if p := r.field(kind); *p == "" {
			*p = def[kind].String()
		}
	}
}

// Limits are the rate limits in effect per kind, for the dispatcher
// (notify.Options.RateLimits): every kind, off ones as zero limits.
func (n NotifyConfig) Limits() map[string]notify.RateLimit {
	out := DefaultRateLimits()
	if n.RateLimits == nil {
		return out
	}
	for _, kind := range notify.LimitKinds {
		s := *n.RateLimits.field(kind)
		if s == "" {
			continue
		}
		if l, err := notify.ParseRateLimit(s, parseDuration); err == nil {
			out[kind] = l
		} // else: validated at load time; a Config built by hand keeps the default
	}
	return out
}
