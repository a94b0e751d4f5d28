package notify

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// ChannelType is one kind of channel (email, sms, slack, ...). The type
// owns everything about itself: its configuration struct, the validation
// of that struct and the Notifier it builds. Adding a channel touches its
// file and its tests only: the file registers the type in an init
// function, and config and the daemon find it here.
type ChannelType struct {
	// Name is the value of `type:` in the configuration.
	Name string
	// Doc is one line for `config check` and the README's reference.
	Doc string
	// New returns a pointer to a fresh, zero configuration struct. Its
	// exported fields carry yaml tags; config decodes the channel's keys
	// (all but the common name, type and timeout) into it strictly, with
	// file:line errors, and expands ${VAR} references. Fields of type
	// secret.Secret are redacted wherever the configuration is printed.
	New func() ChannelConfig
	// NoTimeout says the type takes no timeout key (console writes to the
	// daemon's output and cannot hang on a remote end); config rejects the
	// key and BuildEnv.Timeout is zero.
	NoTimeout bool
	// DefaultTimeout is the default of the common timeout key for this
	// type; zero means config's default for every channel (10s). Config
	// applies it, so `config check` prints the effective value.
	DefaultTimeout time.Duration
}

// ChannelConfig is a decoded channel configuration.
type ChannelConfig interface {
	// Validate reports every problem through report, with field relative
	// to the channel ("to[1]", "url"); config adds file:line and the
	// channel's path. It also applies the type's defaults, so that
	// `config check` prints the effective values.
	Validate(report func(field, msg string))
	// Build makes the channel's Notifier. It runs after a successful
	// Validate; an error here is a configuration error too.
	Build(env BuildEnv) (Notifier, error)
}

// BuildEnv is what a channel may use when it is built.
type BuildEnv struct {
	// Target is "group/name", the channel's stable delivery target.
	Target string
	// Timeout bounds one send (the common timeout key, defaulted).
	Timeout time.Duration
	// HTTP is the client for HTTP channels: bound sends with a context
	// deadline from Timeout, not a client timeout.
	HTTP   *http.Client
	Stdout io.Writer
	Logger *slog.Logger
	Now    func() time.Time
	// Render turns a notification into the words people read (message.go
	// owns it, configured from notify.templates and notify.time_zone). A
	// channel renders every send through it; nil means RenderDefault.
	Render func(Notification) (Message, error)
}

// Message is a notification rendered for people: every channel sends one
// of these forms, never its own wording, so a page reads the same on
// every channel and one template change reaches them all.
type Message struct {
	// Subject is one line: status, severity, what happened, which account.
	Subject string
	// Text is the full plain-text body; HTML the same as HTML (email).
	Text string
	HTML string
	// Short is for SMS and push: the essentials in at most 320 bytes.
	Short string
	// Voice is what a phone call reads aloud.
	Voice string
	// Fields are label/value pairs for cards (Teams, Slack), in order.
	Fields   []Field
	Severity int    // 0 critical .. 4 verbose, as alert.Severity
	Status   string // firing or resolved
	// AckURL acknowledges the alert; empty when links are not configured.
	AckURL string
}

// Field is one label/value line of a card.
type Field struct{ Label, Value string }

// RenderWith renders n with render, or with RenderDefault when render is
// nil.
func RenderWith(render func(Notification) (Message, error), n Notification) (Message, error) {
	if render == nil {
		return RenderDefault(n)
	}
	return render(n)
}

var (
	channelMu    sync.RWMutex
	channelTypes = map[string]ChannelType{}
)

// RegisterChannel adds a channel type; it panics on an empty or duplicate
// name, a programming error every test finds.
func RegisterChannel(t ChannelType) {
	channelMu.Lock()
	defer channelMu.Unlock()
	if t.Name == "" || t.New == nil {
		panic("notify: channel type without a name or constructor")
	}
	if _, dup := channelTypes[t.Name]; dup {
		panic(fmt.Sprintf("notify: channel type %q registered twice", t.Name))
	}
	channelTypes[t.Name] = t
}

// LookupChannel returns the channel type named name.
func LookupChannel(name string) (ChannelType, bool) {
	channelMu.RLock()
	defer channelMu.RUnlock()
	t, ok := channelTypes[name]
	return t, ok
}

// ChannelTypes lists the registered type names, sorted.
func ChannelTypes() []string {
	channelMu.RLock()
	defer channelMu.RUnlock()
	names := make([]string, 0, len(channelTypes))
	for n := range channelTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// FieldKey is the path of key under parent as config prints it
// ("headers.X-Token", `headers["Bad Header"]`), for Validate reports about
// map entries: config finds the line of a field by this path.
func FieldKey(parent, key string) string {
	plain := key != "" && len(key) <= 64
	for i := 0; plain && i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case i > 0 && ('0' <= c && c <= '9' || c == '-'):
		default:
			plain = false
		}
	}
	if plain {
		if parent == "" {
			return key
		}
		return parent + "." + key
	}
	if len(key) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(key[cut]) {
			cut--
		}
		key = key[:cut] + "..."
	}
	return parent + "[" + strconv.Quote(key) + "]"
}
