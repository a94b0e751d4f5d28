package notify

import "context"

// The HTTP channels' dry run: DNS, TCP and TLS to the host and port of the
// URL a send posts to (ProbeURL); no request is made. Validate has applied
// the default URLs (PagerDuty, Opsgenie, Twilio, ntfy, Pushover).

// Probe implements the dry run for type webhook.
func (c *WebhookConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL.Reveal()) }

// Probe implements the dry run for type slack.
func (c *SlackConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL.Reveal()) }

// Probe implements the dry run for type teams.
func (c *TeamsConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL.Reveal()) }

// Probe implements the dry run for type pagerduty.
func (c *PagerDutyConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL) }

// Probe implements the dry run for type opsgenie.
func (c *OpsgenieConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL) }

// Probe implements the dry run for type sms (Twilio or the gateway).
func (c *SMSConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL.Reveal()) }

// Probe implements the dry run for type voice (Twilio).
func (c *VoiceConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL) }

// Probe implements the dry run for type push (ntfy or Pushover).
func (c *PushConfig) Probe(ctx context.Context) error { return ProbeURL(ctx, c.URL) }
