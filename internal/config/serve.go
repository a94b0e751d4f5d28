package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/notify"
	"breakglass/internal/source"
)

// Defaults for the daemon. Where a runtime package has a default of its
// own, config takes it from there, so that the value a user is told
// ("config check" prints the effective configuration) is the value the
// runtime uses; config is the one place that fills defaults in and
// validates user input.
const (
	DefaultListen     = "127.0.0.1:8080"
	DefaultMaxBody    = source.DefaultMaxBody
	DefaultFilePoll   = source.DefaultPoll
	SourceTypeFile    = "file"
	SourceTypeHTTP    = "http"
	ChannelConsole    = notify.ChannelConsole
	ChannelWebhook    = notify.ChannelWebhook
	DefaultWebhookTTL = notify.DefaultWebhookTimeout
	// DefaultChannelTimeout bounds one send of a channel whose type has no
	// default of its own.
	DefaultChannelTimeout = 10 * time.Second
	// DefaultRetention is how long delivered notifications and checkpoints
	// of files that no longer exist are kept (store.retention). Alerts and
	// evidence are never pruned.
	DefaultRetention = source.DefaultRetention
	// DefaultGiveUpAfter is how long a delivery is retried before it is
	// dead-lettered (notify.give_up_after).
	DefaultGiveUpAfter = notify.DefaultGiveUpAfter
	// DefaultGroup is the action group used when notify.groups is empty:
	// alerts nobody sees are no alerts, so they go to the console.
	DefaultGroup = "default"
)

// ServerConfig is the daemon's own HTTP endpoint: health and metrics.
type ServerConfig struct {
	Listen string `yaml:"listen"` // host:port, default 127.0.0.1:8080
	// OIDC is sign-in to the dashboard through an identity provider (oidc.go).
	OIDC *OIDCConfig `yaml:"oidc,omitempty"`
	// TLSCert and TLSKey are PEM files: set both and server.listen speaks
	// only HTTPS (tls.go).
	TLSCert string `yaml:"tls_cert,omitempty"`
	TLSKey  string `yaml:"tls_key,omitempty"`
	// LeaseTTL is how long a replica holds the scheduled work's lease
	// without renewing it (lease.go); 0: DefaultLeaseTTL.
	LeaseTTL time.Duration `yaml:"lease_ttl,omitempty"`
}

// SourceConfig is one item of sources:. Which keys apply depends on type.
type SourceConfig struct {
	Type string `yaml:"type"` // file, http, graph, eventhubs or kafka
	Name string `yaml:"name"` // unique; default "<type>-<n>"

	// file
	Path string        `yaml:"path,omitempty"` // glob or directory
	Poll time.Duration `yaml:"poll,omitempty"` // how often to look for new data, default 250ms

	// FollowSymlinks lets a file source read through symbolic links that
	// point outside its path (default false: a link in a followed directory
	// to /etc/passwd is not read).
	FollowSymlinks bool `yaml:"follow_symlinks,omitempty"`

	// http
	Listen  string `yaml:"listen,omitempty"`   // host:port for POST /ingest
	Token   Secret `yaml:"token,omitempty"`    // required bearer token
	MaxBody int64  `yaml:"max_body,omitempty"` // bytes, default 10 MiB

	// graph: how far back each poll looks again, for records Graph
	// publishes late (default 2h).
	Overlap time.Duration `yaml:"overlap,omitempty"`

	// eventhubs and kafka (kafka.go): the brokers (host:port, comma-
	// separated), the topic (the event hub), the consumer group (default
	// breakglass), TLS (default on for eventhubs, and with ca_file), a CA
	// bundle to trust instead of the system's, SASL PLAIN, and where a
	// group that has committed nothing starts (latest or earliest).
	Bootstrap     string      `yaml:"bootstrap,omitempty"`
	Topic         string      `yaml:"topic,omitempty"`
	ConsumerGroup string      `yaml:"consumer_group,omitempty"`
	TLS           *bool       `yaml:"tls,omitempty"`
	CAFile        string      `yaml:"ca_file,omitempty"`
	SASL          *SASLConfig `yaml:"sasl,omitempty"`
	Start         string      `yaml:"start,omitempty"`
	// SessionTimeout is how long the consumer group waits for a replica
	// that stopped heartbeating (crashed, killed, cut off) before its
	// partitions move to the others (kafka.go; default 30s).
	SessionTimeout time.Duration `yaml:"session_timeout,omitempty"`

	// MaxSilence raises bg.silence when the source delivers nothing for this
	// long (0: never). A monitor whose feed stops silently is worse than none.
	MaxSilence time.Duration `yaml:"max_silence,omitempty"`
}

// NotifyConfig routes alerts to action groups: by notify.routes, else
// every alert to every group.
type NotifyConfig struct {
	Groups []GroupConfig `yaml:"groups"`
	// GiveUpAfter is how long a delivery is retried before it is
	// dead-lettered (and that itself alerts through the other targets).
	GiveUpAfter time.Duration `yaml:"give_up_after"`
	// RateLimits cap the messages per recipient (ratelimit.go); nil:
	// Azure's limits.
	RateLimits *RateLimitsConfig `yaml:"rate_limits,omitempty"`
	// TimeZone and Templates shape the messages people read (notifymsg.go).
	TimeZone  string           `yaml:"time_zone,omitempty"`
	Templates MessageTemplates `yaml:"templates,omitempty"`
	Heartbeat *HeartbeatConfig `yaml:"heartbeat,omitempty"` // dead-man's switch (heartbeat.go); nil: none
	// Routes pick the groups of an alert by its labels (routes.go); none:
	// every alert goes to every group.
	Routes []RouteConfig `yaml:"routes,omitempty"`
	// MuteFor maps a rule id to how long, after an alert of that rule for
	// an account (or a source) was notified, further ones for it are
	// stored and marked muted but not notified (routes.go).
	MuteFor map[string]time.Duration `yaml:"mute_for,omitempty"`
	// Ack enables acknowledge links and PagerDuty/Opsgenie acknowledgement
	// webhooks (ack.go); nil: only `breakglass alerts ack`.
	Ack *AckConfig `yaml:"ack,omitempty"`
}

// RouteConfig is one item of notify.routes (see package route).
type RouteConfig struct {
	// Matchers are Alertmanager-style label matchers, all of which must
	// match: rule="bg.signin", severity=~"Sev[01]".
	Matchers []string `yaml:"matchers,omitempty"`
	// Groups are notified in order; a group with escalate_after holds back
	// those after it until the alert is unacknowledged that long.
	Groups []string `yaml:"groups"`
	// Continue tries the later routes too (default: the first match wins).
	Continue bool `yaml:"continue,omitempty"`
}

// GroupConfig is an action group: a name and its channels.
type GroupConfig struct {
	Name     string          `yaml:"name"`
	Channels []ChannelConfig `yaml:"channels"`
	// EscalateAfter: if an alert routed here is not acknowledged this long
	// after it was detected, the next group of its route is notified.
	EscalateAfter time.Duration `yaml:"escalate_after,omitempty"`
}

// ChannelConfig is one way of reaching people. The common keys live here;
// every other key of the entry belongs to the channel type (registered in
// package notify) and is decoded strictly into Settings.
type ChannelConfig struct {
	// Name is unique within the group; the delivery target is
	// "group/name". Default: the type, then "<type>-2", "<type>-3", ...
	// for further channels of that type in the group.
	Name string `yaml:"name"`
	Type string `yaml:"type"` // a registered type: notify.ChannelTypes()
	// Timeout bounds one send; default the type's, else
	// DefaultChannelTimeout. Types that take none (console) reject it.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// Settings is the type's own configuration, validated and with its
	// defaults applied; the daemon builds the channel from it.
	Settings notify.ChannelConfig `yaml:"-"`
}

// MarshalYAML prints the common keys and the type's own keys as one
// mapping, in the order a person writes them: name, type, the type's keys,
// timeout. Secrets in Settings redact themselves.
func (c ChannelConfig) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, v any) error {
		var vn yaml.Node
		if err := vn.Encode(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &vn)
		return nil
	}
	if err := add("name", c.Name); err != nil {
		return nil, err
	}
	if err := add("type", c.Type); err != nil {
		return nil, err
	}
	if c.Settings != nil {
		var sn yaml.Node
		if err := sn.Encode(c.Settings); err != nil {
			return nil, fmt.Errorf("channel %s: %w", c.Name, err)
		}
		if sn.Kind == yaml.MappingNode {
			n.Content = append(n.Content, sn.Content...)
		}
	}
	if c.Timeout != 0 {
		if err := add("timeout", c.Timeout); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Target names a channel for the outbox: "group/name". It is stable while
// the channel keeps its name, wherever it moves in the file, so queued
// deliveries follow it across config changes.
func (g GroupConfig) Target(i int) string {
	return g.Name + "/" + g.Channels[i].Name
}

// Targets lists every channel of every group.
func (n NotifyConfig) Targets() []string {
	var out []string
	for _, g := range n.Groups {
		for i := range g.Channels {
			out = append(out, g.Target(i))
		}
	}
	return out
}

func (c *Config) validateServe(d *decoder) {
	if c.Server.Listen != "" && !d.failed["server.listen"] {
		if err := checkListen(c.Server.Listen); err != nil {
			d.errorf(d.lines["server.listen"], "server.listen", "%v", err)
		}
	}
	if c.Store.Retention < 0 {
		d.errorf(d.lines["store.retention"], "store.retention", "must not be negative")
	}
	if c.Notify.GiveUpAfter < 0 {
		d.errorf(d.lines["notify.give_up_after"], "notify.give_up_after", "must not be negative")
	}
	listens := map[string]string{}
	if c.Server.Listen != "" {
		if !anyPort(c.Server.Listen) {
			listens[c.Server.Listen] = "server.listen"
		}
	}
	validateSourceList(d, "sources", "", c.Sources, listens)
	c.validateTenants(d, listens) // tenants.go
	groups := map[string]int{}
	for i := range c.Notify.Groups {
		g := &c.Notify.Groups[i]
		f := "notify.groups[" + strconv.Itoa(i) + "]"
		if d.failed[f] {
			continue
		}
		if g.Name == "" {
			d.errorf(d.lines[f], f+".name", "required")
		} else if strings.Contains(g.Name, "/") {
			d.errorf(d.lines[f+".name"], f+".name", "must not contain /")
		} else if j, dup := groups[g.Name]; dup {
			d.errorf(d.lines[f+".name"], f+".name", "duplicate of notify.groups[%d]", j)
		}
		groups[g.Name] = i
		if len(g.Channels) == 0 && !d.failed[f+".channels"] {
			d.errorf(d.lines[f], f+".channels", "list at least one channel")
		}
		perType := map[string]int{}
		chNames := map[string]int{}
		for j := range g.Channels {
			ch := &g.Channels[j]
			cf := f + ".channels[" + strconv.Itoa(j) + "]"
			if d.failed[cf] {
				continue
			}
			ch.Type = strings.ToLower(strings.TrimSpace(ch.Type))
			ch.Name = strings.TrimSpace(ch.Name)
			if ch.Name == "" && ch.Type != "" {
				ch.Name = defaultChannelName(ch.Type, perType)
			} else if ch.Name != "" {
				if strings.ContainsAny(ch.Name, "/ \t") || !isPrintable(ch.Name) {
					d.errorf(d.lines[cf+".name"], cf+".name", "must not contain /, spaces or control characters")
				}
			}
			if ch.Name != "" {
				if k, dup := chNames[ch.Name]; dup {
					d.errorf(d.lines[cf], cf+".name", "%q is also the name of channels[%d] in this group; give each channel its own name", ch.Name, k)
				}
				chNames[ch.Name] = j
			}
			if ch.Timeout < 0 && !d.failed[cf+".timeout"] {
				d.errorf(d.lines[cf+".timeout"], cf+".timeout", "must not be negative")
			}
			if ch.Settings != nil {
				d.validateChannel(ch.Settings, cf)
			}
		}
	}
}

// validateSourceList checks one list of sources (sources:, or a tenant's)
// at field; an unnamed source is named namePrefix<type>-<n>. listens holds the addresses taken so far, each with the field
// that took it.
func validateSourceList(d *decoder, field, namePrefix string, list []SourceConfig, listens map[string]string) {
	names := map[string]int{}
	for i := range list {
		s := &list[i]
		f := field + "[" + strconv.Itoa(i) + "]"
		if d.failed[f] {
			continue
		}
		s.Type = strings.ToLower(strings.TrimSpace(s.Type))
		if s.Name == "" {
			s.Name = namePrefix + s.Type + "-" + strconv.Itoa(i+1)
		}
		if j, dup := names[s.Name]; dup {
			// Say where the other one got the name: an unnamed source is
			// named <type>-<position>, which the file does not show.
			how := ""
			if _, named := d.lines[field+"["+strconv.Itoa(j)+"].name"]; !named {
				how = fmt.Sprintf(", which is unnamed and so named %q by default; give one of them another name", s.Name)
			}
			d.errorf(d.lines[f+".name"], f+".name", "duplicate of %s[%d]%s", field, j, how)
		}
		names[s.Name] = i
		// Keys of the other type are mistakes, not harmless extras.
		notFor := func(key, typ string) {
			if line, ok := d.lines[f+"."+key]; ok {
				d.errorf(line, f+"."+key, "not used by type %s", typ)
			}
		}
		if s.MaxSilence < 0 {
			d.errorf(d.lines[f+".max_silence"], f+".max_silence", "must not be negative")
		}
		switch s.Type {
		case SourceTypeFile:
			if s.Path == "" && !d.failed[f+".path"] {
				d.errorf(d.lines[f], f+".path", "required for type file (a glob or a directory)")
			} else if _, err := filepath.Match(s.Path, ""); err != nil {
				d.errorf(d.lines[f+".path"], f+".path", "not a valid glob: %v", err)
			}
			if s.Poll < 0 {
				d.errorf(d.lines[f+".poll"], f+".poll", "must not be negative")
			}
			notFor("listen", s.Type)
			notFor("token", s.Type)
			notFor("max_body", s.Type)
			notFor("overlap", s.Type)
			for _, k := range kafkaKeys {
				notFor(k, s.Type)
			}
		case SourceTypeHTTP:
			notFor("follow_symlinks", s.Type)
			switch {
			case s.Listen == "" && !d.failed[f+".listen"]:
				d.errorf(d.lines[f], f+".listen", "required for type http (host:port)")
			case s.Listen != "":
				if err := checkListen(s.Listen); err != nil {
					d.errorf(d.lines[f+".listen"], f+".listen", "%v", err)
				} else if other, dup := listens[s.Listen]; dup && !anyPort(s.Listen) {
					d.errorf(d.lines[f+".listen"], f+".listen", "same address as %s", other)
				} else {
					listens[s.Listen] = f + ".listen"
				}
			}
			if s.Token == "" && !d.failed[f+".token"] {
				d.errorf(d.lines[f], f+".token", "required for type http; use ${VAR} to take it from the environment")
			}
			if s.MaxBody < 0 {
				d.errorf(d.lines[f+".max_body"], f+".max_body", "must not be negative")
			}
			notFor("path", s.Type)
			notFor("poll", s.Type)
			notFor("overlap", s.Type)
			for _, k := range kafkaKeys {
				notFor(k, s.Type)
			}
		case SourceTypeGraph:
			if s.Poll < 0 {
				d.errorf(d.lines[f+".poll"], f+".poll", "must not be negative")
			}
			if s.Overlap < 0 {
				d.errorf(d.lines[f+".overlap"], f+".overlap", "must not be negative")
			}
			for _, k := range append([]string{"path", "listen", "token", "max_body", "follow_symlinks"}, kafkaKeys...) {
				notFor(k, s.Type)
			}
		case SourceTypeEventHubs, SourceTypeKafka:
			d.validateKafka(s, f) // kafka.go
		case "":
			d.errorf(d.lines[f], f+".type", "required: file, http, graph, eventhubs or kafka")
		default:
			d.errorf(d.lines[f+".type"], f+".type", "must be one of file, http, graph, eventhubs, kafka")
		}
	}
}

// validateChannel runs the type's Validate and files each report at the
// line of its field, else the nearest enclosing key that has one, else the
// channel's. Reports about a field that already failed to decode (an
// unset ${VAR}) are dropped: that field has its error.
func (d *decoder) validateChannel(s notify.ChannelConfig, cf string) {
	// A bug in one channel type must not crash config check or the
	// daemon's start; the value is not shown, it may hold a secret.
	defer func() {
		if recover() != nil {
			d.errorf(d.lines[cf], cf, "internal error validating this channel (please report this bug)")
		}
	}()
	s.Validate(func(field, msg string) {
		path := cf
		if field != "" {
			if strings.HasPrefix(field, "[") {
				path += field
			} else {
				path += "." + field
			}
		}
		for p := path; len(p) > len(cf); p = parentPath(p) {
			if d.failed[p] {
				return
			}
		}
		line := d.lines[cf]
		for p := path; len(p) > len(cf); p = parentPath(p) {
			if l, ok := d.lines[p]; ok {
				line = l
				break
			}
		}
		d.errorf(line, path, "%s", msg)
	})
}

// parentPath drops the last key or index of a field path.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i > 0 {
			// A quoted key may contain '[': find the '[' that opens it.
			if j := strings.LastIndex(p, `["`); j > 0 && strings.HasSuffix(p, `"]`) {
				i = j
			}
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i > 0 {
		return p[:i]
	}
	return ""
}

func (c *Config) applyServeDefaults() {
	// "sources: []" and no sources at all are the same configuration.
	if len(c.Sources) == 0 {
		c.Sources = nil
	}
	if len(c.Notify.Groups) == 0 {
		c.Notify.Groups = []GroupConfig{{Name: DefaultGroup, Channels: []ChannelConfig{{Name: ChannelConsole, Type: ChannelConsole, Settings: &notify.ConsoleConfig{}}}}}
	}
	if c.Notify.GiveUpAfter == 0 {
		c.Notify.GiveUpAfter = DefaultGiveUpAfter
	}
	if c.Store.Retention == 0 {
		c.Store.Retention = DefaultRetention
	}
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	applySourceDefaults(c.Sources)
	for i := range c.Tenants {
		applySourceDefaults(c.Tenants[i].Sources)
	}
	for i := range c.Notify.Groups {
		for j := range c.Notify.Groups[i].Channels {
			ch := &c.Notify.Groups[i].Channels[j]
			ct, ok := notify.LookupChannel(ch.Type)
			if !ok || ct.NoTimeout || ch.Timeout != 0 {
				continue
			}
			ch.Timeout = DefaultChannelTimeout
			if ct.DefaultTimeout > 0 {
				ch.Timeout = ct.DefaultTimeout
			}
		}
	}
}

// applySourceDefaults fills in the defaults of one list of sources.
func applySourceDefaults(list []SourceConfig) {
	for i := range list {
		s := &list[i]
		switch s.Type {
		case SourceTypeFile:
			if s.Poll == 0 {
				s.Poll = DefaultFilePoll
			}
		case SourceTypeHTTP:
			if s.MaxBody == 0 {
				s.MaxBody = DefaultMaxBody
			}
		case SourceTypeEventHubs, SourceTypeKafka:
			s.applyKafkaDefaults()
		}
	}
}

// defaultChannelName names an unnamed channel after its type: the first
// webhook of a group is "webhook", the second "webhook-2".
func defaultChannelName(typ string, seen map[string]int) string {
	seen[typ]++
	if n := seen[typ]; n > 1 {
		return typ + "-" + strconv.Itoa(n)
	}
	return typ
}

// checkListen accepts host:port with a numeric port (0 picks a free one).
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535")
	}
	return nil
}

// anyPort reports a listen address with port 0, which picks a free port:
// two of them never clash.
func anyPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port == "0"
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Describe lists each action group with its channels and their types,
// one line per group, for `config check`:
//
//	notify group oncall: console (console), pager (webhook)
func (n NotifyConfig) Describe() string {
	var b strings.Builder
	for _, g := range n.Groups {
		b.WriteString("notify group " + g.Name + ":")
		for i, ch := range g.Channels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(" " + ch.Name + " (" + ch.Type + ")")
		}
		b.WriteByte('\n')
	}
	return b.String()
}
