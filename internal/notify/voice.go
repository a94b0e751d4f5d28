package notify

import (
	"context"
	"encoding/xml"
	"net/url"
	"regexp"
	"strings"
	"time"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

func init() {
	RegisterChannel(ChannelType{
		Name: "voice",
		Doc:  "phone call that reads the alert aloud twice, through the Twilio Calls API",
		New:  func() ChannelConfig { return &VoiceConfig{} },
	})
}

// VoiceConfig is a `type: voice` channel: a Twilio (or compatible) call
// that reads Message.Voice aloud twice with TwiML <Say>. Each number is
// rate limited (notify.rate_limits.voice): alerts over the limit wait and
// are read out in one call.
//
//	to: ["+4712345678"]
//	from: "+4798765432"         # a Twilio voice number
//	account_sid: AC…
//	auth_token: ${TWILIO_TOKEN}
//	voice: Polly.Joanna         # optional <Say voice=…>
//	language: en-US             # optional <Say language=…>
//	send_resolved: false        # default: resolutions are not phoned
//	url: https://api.twilio.com # optional API base
type VoiceConfig struct {
	To         []string      `yaml:"to"`
	From       string        `yaml:"from"`
	AccountSID string        `yaml:"account_sid"`
	AuthToken  secret.Secret `yaml:"auth_token"`
	Voice      string        `yaml:"voice,omitempty"`
	Language   string        `yaml:"language,omitempty"`
	// SendResolved phones resolutions too. Off by default: waking
	// someone to say that something is over helps nobody, and the other
	// channels of the group carry the resolution.
	SendResolved bool   `yaml:"send_resolved,omitempty"`
	URL          string `yaml:"url,omitempty"`
}

// voiceAttr is what a voice or language name may contain (Twilio's are
// such as "alice", "Polly.Joanna-Neural", "en-US").
var voiceAttr = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Validate checks the configuration and applies the defaults.
func (c *VoiceConfig) Validate(report func(field, msg string)) {
	validatePhones(report, "to", c.To)
	validateTwilio(report, &c.URL, c.AccountSID, c.AuthToken)
	switch {
	case c.From == "":
		report("from", "required: a Twilio voice number (E.164)")
	case !e164.MatchString(c.From):
		report("from", "must be an E.164 number, such as +4798765432")
	}
	if c.Voice != "" && !voiceAttr.MatchString(c.Voice) {
		report("voice", "must be a Twilio voice name, such as alice or Polly.Joanna")
	}
	if c.Language != "" && !voiceAttr.MatchString(c.Language) {
		report("language", "must be a language tag, such as en-US")
	}
}

// Build makes the channel's Notifier.
func (c *VoiceConfig) Build(env BuildEnv) (Notifier, error) {
	label := "voice " + quoteTarget(env.Target)
	if err := checkValid(c, label); err != nil {
		return nil, err
	}
	return &Voice{
		to: append([]string(nil), c.To...), from: c.From, voice: c.Voice, language: c.Language,
		sendResolved: c.SendResolved, render: env.Render,
		twilio: newTwilioAPI(label, c.URL, c.AccountSID, c.AuthToken, env),
	}, nil
}

// Voice calls every configured number and reads the alert aloud.
type Voice struct {
	to              []string
	from            string
	voice, language string
	sendResolved    bool
	render          func(Notification) (Message, error)
	twilio          *twilioAPI
	sent            fanOut
}

// SendTimeout makes the channel Bounded (numbers are called concurrently).
func (v *Voice) SendTimeout() time.Duration { return v.twilio.http.SendTimeout() }

// Recipients makes the channel Limited: every number, "voice:+47…", for
// a notification that is phoned at all (a resolution is not, unless
// send_resolved).
func (v *Voice) Recipients(n Notification) []string {
	if _, ok := v.phoned(n); !ok {
		return nil
	}
	out := make([]string, len(v.to))
	for i, to := range v.to {
		out[i] = RecipientKey(LimitVoice, to)
	}
	return out
}

// phoned is what of n is read aloud: n, or for a coalesced notification
// the carried ones that are phoned; false when nothing is.
func (v *Voice) phoned(n Notification) (Notification, bool) {
	if v.sendResolved {
		return n, true
	}
	if len(n.Coalesced) == 0 {
		return n, n.Status != store.StatusResolved
	}
	var keep []Notification
	for _, c := range n.Coalesced {
		if c.Status != store.StatusResolved {
			keep = append(keep, c)
		}
	}
	switch {
	case len(keep) == 0:
		return n, false
	case len(keep) == 1:
		one := keep[0]
		one.Attempt, one.Sent = n.Attempt, n.Sent
		return one, true
	case len(keep) < len(n.Coalesced):
		return NewCoalesced(keep, n.Attempt, n.Sent), true
	}
	return n, true
}

// Notify places one call per number. Twilio accepting the call (201) is
// delivery: whether someone answers is not known here, which is why a
// group with a voice channel should escalate.
func (v *Voice) Notify(ctx context.Context, n Notification) error {
	n, ok := v.phoned(n)
	if !ok {
		return nil
	}
	m, err := RenderWith(v.render, n)
	if err != nil {
		return Permanent(v.twilio.http.Errorf("", v.twilio.base, "render: %w", err))
	}
	twiml := TwiML(m.Voice, v.voice, v.language)
	return v.sent.send(ctx, notificationKey(n), v.to, func(ctx context.Context, to string) error {
		_, err := v.twilio.create(ctx, "Calls", url.Values{"To": {to}, "From": {v.from}, "Twiml": {twiml}})
		return err
	})
}

// maxTwiML is Twilio's limit on the Twiml parameter.
const maxTwiML = 4000

// TwiML is the call's script: text said twice with a pause between, so
// someone who picked up half asleep hears it whole. text is XML-escaped
// (an alert title is attacker-controlled: it must not add verbs such as
// <Dial>) and shortened so the script fits Twilio's 4,000 characters.
func TwiML(text, voice, language string) string {
	attrs := ""
	if voice != "" {
		attrs += ` voice="` + xmlEscape(voice) + `"`
	}
	if language != "" {
		attrs += ` language="` + xmlEscape(language) + `"`
	}
	text = strings.Join(strings.Fields(strings.ToValidUTF8(text, " ")), " ")
	if text == "" {
		text = "Break-glass alert. Check your other channels."
	}
	build := func(t string) string {
		say := "<Say" + attrs + ">" + xmlEscape(t) + "</Say>"
		return "<Response>" + say + `<Pause length="1"/>` + say + "</Response>"
	}
	out := build(text)
	r := []rune(text)
	for len(out) > maxTwiML && len(r) > 0 {
		r = r[:len(r)*9/10]
		out = build(string(r) + "…")
	}
	return out
}

func xmlEscape(s string) string {
	var b strings.Builder
	// EscapeText also drops characters XML cannot hold (replaced by
	// U+FFFD), so the document always parses.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
