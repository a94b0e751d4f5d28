package config

import (
	"net"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
)

// Defaults and limits of notify.ack.
const (
	// DefaultAckTTL is how long an acknowledge link works: long enough for
	// a page sent at night to be acted on in the morning.
	DefaultAckTTL = 24 * time.Hour
	// MaxAckTTL bounds a link's life: a link is a credential that travels
	// in mail and chat logs.
	MaxAckTTL = 30 * 24 * time.Hour
	// MinAckTTL keeps a mistyped ttl ("1s") from making every link dead on
	// arrival.
	MinAckTTL = time.Minute
	// MinAckSecret is the shortest link secret accepted, in bytes: HMAC-SHA256
	// keys shorter than its output are weaker than the signature.
	MinAckSecret = 32
	// MinWebhookSecret is the shortest PagerDuty secret or Opsgenie token
	// accepted.
	MinWebhookSecret = 16
	// ackSecretHint says how to make a secret, in every message about one.
	ackSecretHint = "generate one with: openssl rand -base64 32"
)

// AckConfig is notify.ack: how people acknowledge alerts other than with
// `breakglass alerts ack`. Each way is off unless its secret is set.
type AckConfig struct {
	// BaseURL is the daemon's URL as people's browsers reach it (a reverse
	// proxy's, usually); links are BaseURL/ack/ID?.... Default
	// http://<server.listen>.
	BaseURL string `yaml:"base_url"`
	// Secret signs the links (HMAC-SHA256); without it messages carry no
	// link. SecretFile names a file holding it instead.
	Secret     Secret `yaml:"secret,omitempty"`
	SecretFile string `yaml:"secret_file,omitempty"`
	// TTL is how long a link works after the message was rendered.
	TTL time.Duration `yaml:"ttl"`
	// PagerDutySecret is the signing secret of a PagerDuty V3 webhook
	// subscription; set, POST /hooks/pagerduty takes incident.acknowledged.
	PagerDutySecret Secret `yaml:"pagerduty_secret,omitempty"`
	// OpsgenieToken is sent by an Opsgenie webhook integration in the
	// X-Breakglass-Token header (or Authorization: Bearer); set, POST
	// /hooks/opsgenie takes Acknowledge actions.
	OpsgenieToken Secret `yaml:"opsgenie_token,omitempty"`
}

// Links reports whether acknowledge links are configured.
func (a *AckConfig) Links() bool { return a != nil && a.Secret != "" }

// validateAck checks notify.ack and reads secret_file.
func (c *Config) validateAck(d *decoder) {
	a := c.Notify.Ack
	const f = "notify.ack"
	if d.failed[f] {
		return
	}
	if a == nil {
		// "ack:" with every key commented out would turn the links off
		// without a word.
		if line, ok := d.lines[f]; ok {
			d.errorf(line, f, "empty; give secret: (%s), or remove notify.ack", ackSecretHint)
		}
		return
	}
	line := func(k string) int {
		if l, ok := d.lines[f+"."+k]; ok {
			return l
		}
		return d.lines[f]
	}
	a.BaseURL = strings.TrimSpace(a.BaseURL)
	a.SecretFile = strings.TrimSpace(a.SecretFile)
	switch {
	case a.SecretFile != "" && a.Secret != "":
		d.errorf(line("secret_file"), f+".secret_file", "give secret or secret_file, not both")
	case a.SecretFile != "" && !d.failed[f+".secret_file"]:
		b, err := os.ReadFile(a.SecretFile)
		switch {
		case err != nil:
			// The path error names the file, never its content.
			d.errorf(line("secret_file"), f+".secret_file", "cannot read: %v", err)
		case strings.TrimSpace(string(b)) == "":
			d.errorf(line("secret_file"), f+".secret_file", "%s is empty; %s", a.SecretFile, ackSecretHint)
		default:
			a.Secret = Secret(strings.TrimSpace(string(b)))
			if len(a.Secret) < MinAckSecret {
				d.errorf(line("secret_file"), f+".secret_file", "the secret in %s is %d bytes; use at least %d (%s)", a.SecretFile, len(a.Secret), MinAckSecret, ackSecretHint)
			}
		}
	case a.Secret != "" && !d.failed[f+".secret"]:
		if len(a.Secret) < MinAckSecret {
			d.errorf(line("secret"), f+".secret", "%d bytes is too short; use at least %d (%s)", len(a.Secret), MinAckSecret, ackSecretHint)
		}
	}
	if a.Secret == "" && a.SecretFile == "" && a.PagerDutySecret == "" && a.OpsgenieToken == "" &&
		!d.failed[f+".secret"] && !d.failed[f+".pagerduty_secret"] && !d.failed[f+".opsgenie_token"] {
		d.errorf(d.lines[f], f, "nothing enabled; give secret: for acknowledge links (%s), pagerduty_secret or opsgenie_token", ackSecretHint)
	}
	if a.BaseURL != "" && !d.failed[f+".base_url"] {
		if msg := checkBaseURL(a.BaseURL); msg != "" {
			d.errorf(line("base_url"), f+".base_url", "%s", msg)
		}
	} else if a.BaseURL == "" && (a.Secret != "" || a.SecretFile != "") {
		// The default is the listen address; one on every interface is
		// no address a browser can use.
		listen := c.Server.Listen
		if listen == "" {
			listen = DefaultListen
		}
		if host, _, err := net.SplitHostPort(listen); err == nil {
			if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
				d.errorf(d.lines[f], f+".base_url", "required: server.listen %s is every interface, which is no URL a browser can open; give the daemon's external URL (https://breakglass.example.com)", listen)
			}
		}
	}
	switch {
	case d.failed[f+".ttl"]:
	case a.TTL < 0:
		d.errorf(line("ttl"), f+".ttl", "must not be negative")
	case a.TTL != 0 && a.TTL < MinAckTTL:
		d.errorf(line("ttl"), f+".ttl", "must be at least %v (default %v)", MinAckTTL, DefaultAckTTL)
	case a.TTL > MaxAckTTL:
		d.errorf(line("ttl"), f+".ttl", "must be at most %v: a link is a credential (default %v)", MaxAckTTL, DefaultAckTTL)
	}
	for _, s := range []struct {
		key string
		v   Secret
	}{{"pagerduty_secret", a.PagerDutySecret}, {"opsgenie_token", a.OpsgenieToken}} {
		if s.v == "" || d.failed[f+"."+s.key] {
			continue
		}
		// Messages never repeat a value: it is the credential.
		switch {
		case len(s.v) < MinWebhookSecret:
			d.errorf(line(s.key), f+"."+s.key, "%d bytes is too short; use at least %d", len(s.v), MinWebhookSecret)
		case strings.ContainsFunc(s.v.Reveal(), func(r rune) bool { return unicode.IsControl(r) || r == ' ' }):
			d.errorf(line(s.key), f+"."+s.key, "contains a space or control character; paste the value alone")
		}
	}
}

// checkBaseURL says what is wrong with base_url, or "".
func checkBaseURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "not an http or https URL (https://breakglass.example.com)"
	case u.User != nil:
		return "must not carry a user or password"
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "?") || strings.Contains(s, "#"):
		return "must not have a query or fragment; links add their own"
	}
	return ""
}

func (c *Config) applyAckDefaults() {
	a := c.Notify.Ack
	if a == nil {
		return
	}
	if a.TTL == 0 {
		a.TTL = DefaultAckTTL
	}
	if a.BaseURL == "" {
		scheme := "http://"
		if c.Server.TLS() { // tls.go: the listener speaks only HTTPS
			scheme = "https://"
		}
		a.BaseURL = scheme + c.Server.Listen
	}
	a.BaseURL = strings.TrimRight(a.BaseURL, "/")
}
