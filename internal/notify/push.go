package notify

import (
	"fmt"
	"strconv"
	"strings"

	"breakglass/internal/secret"
)

func init() {
	RegisterChannel(ChannelType{
		Name: "push",
		Doc:  "phone push notification through ntfy (self-hosted or ntfy.sh) or Pushover; priority follows severity",
		New:  func() ChannelConfig { return &PushConfig{} },
	})
}

// PushConfig is a `type: push` channel.
//
//	provider: ntfy
//	url: https://ntfy.sh          # default; or your own server
//	topic: ${NTFY_TOPIC}          # the topic name is its password on a public server
//	token: ${NTFY_TOKEN}          # optional access token (Bearer), or
//	username: bg / password: ${…} # optional basic auth
//	tags: [breakglass]            # optional, added to the severity's tag
//
//	provider: pushover
//	url: https://api.pushover.net # default
//	token: ${PUSHOVER_APP_TOKEN}  # the application's API token
//	user: ${PUSHOVER_USER_KEY}    # user or group key
//	sound: siren                  # optional
//	device: phone1                # optional
//	retry: 60                     # Sev0 (emergency) repeats every retry seconds (>= 30) ...
//	expire: 3600                  # ... until acknowledged or expire seconds (<= 10800)
type PushConfig struct {
	Provider string        `yaml:"provider"`
	URL      string        `yaml:"url,omitempty"`
	Token    secret.Secret `yaml:"token,omitempty"`

	Topic    secret.Secret `yaml:"topic,omitempty"`
	Username string        `yaml:"username,omitempty"`
	Password secret.Secret `yaml:"password,omitempty"`
	Tags     []string      `yaml:"tags,omitempty"`

	User   secret.Secret `yaml:"user,omitempty"`
	Sound  string        `yaml:"sound,omitempty"`
	Device string        `yaml:"device,omitempty"`
	Retry  int           `yaml:"retry,omitempty"`
	Expire int           `yaml:"expire,omitempty"`
}

// Defaults of the push providers.
const (
	DefaultNtfyURL        = "https://ntfy.sh"
	DefaultPushoverURL    = "https://api.pushover.net"
	DefaultPushoverRetry  = 60
	DefaultPushoverExpire = 3600
)

// Validate checks the configuration and applies the defaults.
func (c *PushConfig) Validate(report func(field, msg string)) {
	ntfyOnly := map[string]bool{"topic": c.Topic != "", "username": c.Username != "", "password": c.Password != "", "tags": len(c.Tags) > 0}
	pushoverOnly := map[string]bool{"user": c.User != "", "sound": c.Sound != "", "device": c.Device != "", "retry": c.Retry != 0, "expire": c.Expire != 0}
	def := ""
	switch c.Provider {
	case "ntfy":
		rejectKeys(report, pushoverOnly, "provider: pushover")
		def = DefaultNtfyURL
		validateNtfy(c, report)
	case "pushover":
		rejectKeys(report, ntfyOnly, "provider: ntfy")
		def = DefaultPushoverURL
		validatePushover(c, report)
	case "":
		report("provider", "required: ntfy or pushover")
		return
	default:
		report("provider", fmt.Sprintf("unknown provider %q: ntfy or pushover", printable([]byte(c.Provider), 40)))
		return
	}
	if c.URL == "" {
		c.URL = def
	} else if err := ValidateWebhookURL(c.URL); err != nil {
		report("url", err.Error())
	}
}

// Build makes the channel's Notifier.
func (c *PushConfig) Build(env BuildEnv) (Notifier, error) {
	label := "push " + quoteTarget(env.Target)
	switch c.Provider {
	case "ntfy":
		return newNtfy(label, c, env), nil
	case "pushover":
		return newPushover(label, c, env), nil
	}
	return nil, fmt.Errorf("%s: unknown provider %q", label, c.Provider)
}

// headerText makes alert text safe for one HTTP header value: no control
// characters (a crafted title must not end the header), bounded length.
func headerText(s string, max int) string {
	s = printable([]byte(s), max)
	return strings.TrimSpace(s)
}

func itoa(i int) string { return strconv.Itoa(i) }
