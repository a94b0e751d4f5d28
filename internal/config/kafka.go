package config

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/source"
)

// Source types that read a topic through a Kafka consumer group.
const (
	// SourceTypeEventHubs is Azure Event Hubs through its Kafka endpoint
	// (<namespace>.servicebus.windows.net:9093), where diagnostic settings
	// stream Entra logs: TLS always, SASL PLAIN with the user
	// $ConnectionString and the connection string as the password.
	SourceTypeEventHubs = "eventhubs"
	// SourceTypeKafka is any other Kafka cluster, on the same code.
	SourceTypeKafka = "kafka"

	DefaultKafkaGroup = source.DefaultKafkaGroup
	DefaultKafkaStart = source.DefaultKafkaStart
	// EventHubsPort is the one port of Event Hubs' Kafka endpoint.
	EventHubsPort = "9093"
	// SASLPlain is the one SASL mechanism supported.
	SASLPlain = "plain"
)

// KafkaStarts are the values of start.
var KafkaStarts = []string{source.KafkaStartLatest, source.KafkaStartEarliest}

// SASLConfig is sources[].sasl: SASL PLAIN credentials for a kafka or
// eventhubs source.
type SASLConfig struct {
	Mechanism string `yaml:"mechanism,omitempty"` // plain (the default and only one)
	// User defaults to $ConnectionString for eventhubs.
	User string `yaml:"user,omitempty"`
	// Password (or PasswordFile, read at load): for eventhubs the
	// namespace's or event hub's connection string.
	Password     Secret `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
}

// kafkaKeys are the keys only kafka and eventhubs sources use.
var kafkaKeys = []string{"bootstrap", "topic", "consumer_group", "tls", "ca_file", "sasl", "start", "session_timeout"}

// otherKeys are the keys of the other source types, which a kafka or
// eventhubs source does not use.
var otherKeys = []string{"path", "poll", "follow_symlinks", "listen", "token", "max_body", "overlap"}

// Brokers splits bootstrap into its host:port entries.
func (s SourceConfig) Brokers() []string {
	var out []string
	for b := range strings.SplitSeq(s.Bootstrap, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// validateKafka checks a kafka or eventhubs source and fills in its
// defaults: consumer group, start, tls, the SASL user of Event Hubs, and
// the password from password_file.
func (d *decoder) validateKafka(s *SourceConfig, f string) {
	line := func(k string) int {
		for k != "" {
			if l, ok := d.lines[f+"."+k]; ok {
				return l
			}
			i := strings.LastIndexByte(k, '.')
			if i < 0 {
				break
			}
			k = k[:i]
		}
		return d.lines[f]
	}
	eh := s.Type == SourceTypeEventHubs
	for _, k := range otherKeys {
		if _, ok := d.lines[f+"."+k]; ok {
			d.errorf(line(k), f+"."+k, "not used by type %s", s.Type)
		}
	}

	brokers := s.Brokers()
	s.Bootstrap = strings.Join(brokers, ",")
	hint := "host:port of the brokers, comma-separated"
	if eh {
		hint = "<namespace>.servicebus.windows.net:9093"
	}
	switch {
	case d.failed[f+".bootstrap"]:
	case len(brokers) == 0:
		d.errorf(line("bootstrap"), f+".bootstrap", "required for type %s (%s)", s.Type, hint)
	default:
		for _, b := range brokers {
			host, port, err := net.SplitHostPort(b)
			if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				d.errorf(line("bootstrap"), f+".bootstrap", "%s is not host:port (%s)", quoteShort(b), hint)
				continue
			}
			if eh && port != EventHubsPort {
				d.errorf(line("bootstrap"), f+".bootstrap", "Event Hubs' Kafka endpoint listens on port %s, not %s (%s)", EventHubsPort, port, hint)
			}
		}
	}

	s.Topic = strings.TrimSpace(s.Topic)
	what := "the topic"
	if eh {
		what = "the event hub's name"
	}
	switch {
	case d.failed[f+".topic"]:
	case s.Topic == "":
		d.errorf(line("topic"), f+".topic", "required for type %s: %s", s.Type, what)
	case !validTopic(s.Topic):
		d.errorf(line("topic"), f+".topic", "%s: use at most 249 letters, digits, '.', '_' and '-'", quoteShort(s.Topic))
	}

	s.ConsumerGroup = strings.TrimSpace(s.ConsumerGroup)
	if s.ConsumerGroup != "" && (!isPrintable(s.ConsumerGroup) || len(s.ConsumerGroup) > 255) {
		d.errorf(line("consumer_group"), f+".consumer_group", "must be at most 255 printable characters")
	}
	s.Start = d.oneOf(f+".start", s.Start, KafkaStarts)
	d.validateSessionTimeout(s, f, line, eh)

	switch {
	case d.failed[f+".tls"] || d.failed[f+".ca_file"]:
	case eh && s.TLS != nil && !*s.TLS:
		d.errorf(line("tls"), f+".tls", "Event Hubs accepts only TLS; remove tls: false")
	case s.CAFile != "" && s.TLS != nil && !*s.TLS:
		d.errorf(line("ca_file"), f+".ca_file", "needs TLS; remove tls: false or ca_file")
	case s.CAFile != "":
		if _, err := source.LoadCAFile(s.CAFile); err != nil {
			d.errorf(line("ca_file"), f+".ca_file", "%v", err)
		}
	}

	d.validateSASL(s, f, line, eh)
}

func (d *decoder) validateSASL(s *SourceConfig, f string, line func(string) int, eh bool) {
	sf := f + ".sasl"
	if d.failed[sf] {
		return
	}
	if s.SASL == nil {
		if eh {
			d.errorf(line("sasl"), sf+".password", "required for type eventhubs: the connection string (Event Hubs namespace > Shared access policies, a policy with Listen); use ${VAR} or password_file")
		}
		return
	}
	a := s.SASL
	a.Mechanism = d.oneOf(sf+".mechanism", a.Mechanism, []string{SASLPlain})
	a.User = strings.TrimSpace(a.User)
	switch {
	case d.failed[sf+".user"]:
	case eh && a.User != "" && a.User != source.EventHubsUser:
		d.errorf(line("sasl.user"), sf+".user", "Event Hubs takes the user %s (the default); remove user", source.EventHubsUser)
	case !eh && a.User == "":
		d.errorf(line("sasl"), sf+".user", "required with sasl")
	}
	switch {
	case d.failed[sf+".password"] || d.failed[sf+".password_file"]:
		return
	case a.PasswordFile != "" && a.Password != "":
		d.errorf(line("sasl.password_file"), sf+".password_file", "give password or password_file, not both")
		return
	case a.PasswordFile != "":
		b, err := os.ReadFile(a.PasswordFile)
		switch {
		case err != nil:
			// The path error names the file, never its content.
			d.errorf(line("sasl.password_file"), sf+".password_file", "cannot read: %v", err)
			return
		case strings.TrimSpace(string(b)) == "":
			d.errorf(line("sasl.password_file"), sf+".password_file", "%s is empty", a.PasswordFile)
			return
		}
		a.Password = Secret(strings.TrimSpace(string(b)))
	case a.Password == "":
		d.errorf(line("sasl"), sf+".password", "required with sasl; use ${VAR} or password_file")
		return
	}
	if eh {
		field, l := sf+".password", line("sasl.password")
		if a.PasswordFile != "" {
			field, l = sf+".password_file", line("sasl.password_file")
		}
		if msg := checkConnString(a.Password.Reveal(), s.Brokers()); msg != "" {
			d.errorf(l, field, "%s", msg)
		}
	}
}

// checkConnString checks the shape of an Event Hubs connection string and
// that it is for the namespace in bootstrap. Messages never quote it: only
// the namespace host, which is not secret.
func checkConnString(cs string, brokers []string) string {
	var endpoint, keyName, key bool
	host := ""
	for part := range strings.SplitSeq(cs, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(k) {
		case "endpoint":
			endpoint = true
			if u, err := url.Parse(v); err == nil {
				host = strings.ToLower(u.Hostname())
			}
		case "sharedaccesskeyname":
			keyName = v != ""
		case "sharedaccesskey", "sharedaccesssignature":
			key = v != ""
		}
	}
	if !endpoint || !keyName && !strings.Contains(strings.ToLower(cs), "sharedaccesssignature") || !key {
		return "not an Event Hubs connection string (Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...); copy it from the namespace's Shared access policies"
	}
	for _, b := range brokers {
		bh, _, err := net.SplitHostPort(b)
		if err == nil && host != "" && !strings.EqualFold(bh, host) {
			return "the connection string is for " + host + " but bootstrap is " + bh + "; use the same namespace"
		}
	}
	return ""
}

// validTopic: Kafka's rule for topic names, which event hub names meet.
func validTopic(t string) bool {
	if len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.', c == '_', c == '-', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}

// Bounds of session_timeout. Event Hubs accepts 6 s to 300 s; another
// Kafka enforces its brokers' group.min/max.session.timeout.ms (by default
// 6 s and 30 min) and refuses the join otherwise, which bg.source reports.
const (
	minKafkaSessionTimeout     = time.Second
	maxKafkaSessionTimeout     = 30 * time.Minute
	minEventHubsSessionTimeout = 6 * time.Second
	maxEventHubsSessionTimeout = 300 * time.Second
)

// validateSessionTimeout checks session_timeout: a replica that dies
// leaves its partitions unread for this long, so it is bounded above as
// well as below.
func (d *decoder) validateSessionTimeout(s *SourceConfig, f string, line func(string) int, eh bool) {
	if d.failed[f+".session_timeout"] || s.SessionTimeout == 0 {
		return
	}
	lo, hi, who := minKafkaSessionTimeout, maxKafkaSessionTimeout, "a Kafka consumer group"
	if eh {
		lo, hi, who = minEventHubsSessionTimeout, maxEventHubsSessionTimeout, "Event Hubs"
	}
	if s.SessionTimeout < lo || s.SessionTimeout > hi {
		d.errorf(line("session_timeout"), f+".session_timeout", "%v is outside %v to %v, what %s accepts (the partitions of a replica that dies are unread for this long)", s.SessionTimeout, lo, hi, who)
	}
}

// applyKafkaDefaults fills in what validateKafka left empty.
func (s *SourceConfig) applyKafkaDefaults() {
	if s.SessionTimeout == 0 {
		s.SessionTimeout = source.DefaultKafkaSessionTimeout
	}
	if s.ConsumerGroup == "" {
		s.ConsumerGroup = DefaultKafkaGroup
	}
	if s.Start == "" {
		s.Start = DefaultKafkaStart
	}
	if s.TLS == nil {
		on := s.Type == SourceTypeEventHubs || s.CAFile != ""
		s.TLS = &on
	}
	if s.SASL != nil {
		if s.SASL.Mechanism == "" {
			s.SASL.Mechanism = SASLPlain
		}
		if s.SASL.User == "" && s.Type == SourceTypeEventHubs {
			s.SASL.User = source.EventHubsUser
		}
	}
}
