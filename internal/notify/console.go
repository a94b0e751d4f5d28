package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"breakglass/internal/alert"
)

// Console writes each notification as one line, for operators watching the
// daemon's output and as the channel of last resort when nothing else is
// configured.
type Console struct {
	mu sync.Mutex
	w  io.Writer
	// now stamps notifications that carry no Sent time; tests replace it.
	now func() time.Time
}

// NewConsole returns a Console writing to w. It is safe for concurrent use:
// each line is written with a single Write under a lock, so lines from
// concurrent notifications never interleave.
func NewConsole(w io.Writer) *Console {
	return &Console{w: w, now: time.Now}
}

// Notify writes one line such as
//
//	2026-07-01T12:00:05Z FIRING Sev0 rule=bg.signin account=bg1@contoso.com (1111…) title="Break-glass sign-in" ip=203.0.113.7 location="Oslo, NO" app="Azure Portal" event=abc event_time=2026-07-01T11:59:58Z source=signin.json:12
//
// A sign-in inside an announced drill says drill=<id> right after the
// severity, and a test notification test=<kind>, so an operator reading
// the daemon's output knows at once that it is not an incident. Where it
// came from (ip, location, app) is printed when the record carried it.
// Values taken from log records are quoted when they contain spaces,
// quotes or control characters: a crafted record must not be able to forge
// a second line.
func (c *Console) Notify(ctx context.Context, n Notification) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	sent := n.Sent
	if sent.IsZero() {
		sent = c.now()
	}
	a := n.Alert
	var b strings.Builder
	b.WriteString(sent.UTC().Format(time.RFC3339))
	b.WriteByte(' ')
	b.WriteString(field(strings.ToUpper(n.Status)))
	b.WriteByte(' ')
	b.WriteString(severityLabel(a))
	if d := a.Labels[alert.LabelDrill]; d != "" {
		b.WriteString(" drill=")
		b.WriteString(field(d))
	}
	if k := a.Labels[LabelTest]; k != "" {
		b.WriteString(" test=")
		b.WriteString(field(k))
	}
	b.WriteString(" rule=")
	b.WriteString(field(a.Rule))
	// The account as a person knows it: the UPN, else the object id (an
	// account configured by id alone printed account=""), and the
	// configured name. Alerts about the monitor itself (bg.silence,
	// bg.source) concern no account and print none.
	switch {
	case a.AccountUPN != "":
		b.WriteString(" account=")
		b.WriteString(field(a.AccountUPN))
		if a.AccountID != "" {
			b.WriteString(" (")
			b.WriteString(field(a.AccountID))
			b.WriteByte(')')
		}
	case a.AccountID != "":
		b.WriteString(" account=")
		b.WriteString(field(a.AccountID))
	}
	if a.Account != "" {
		b.WriteString(" name=")
		b.WriteString(strconv.Quote(a.Account))
	}
	b.WriteString(" title=")
	b.WriteString(strconv.Quote(a.Title))
	for _, kv := range [][2]string{{"ip", a.IPAddress}, {"location", a.Location}, {"app", a.App}} {
		if kv[1] != "" {
			b.WriteString(" " + kv[0] + "=")
			b.WriteString(field(kv[1]))
		}
	}
	b.WriteString(" event=")
	b.WriteString(field(a.EventID))
	switch {
	case a.EventTimeUnknown:
		// The time shown would be the ingest time: say so instead.
		b.WriteString(" event_time=unknown")
	case !a.EventTime.IsZero():
		b.WriteString(" event_time=")
		b.WriteString(a.EventTime.UTC().Format(time.RFC3339))
	}
	b.WriteString(" source=")
	b.WriteString(field(a.Source))
	if r := a.Annotations["reason"]; r != "" {
		b.WriteString(" reason=")
		b.WriteString(field(r))
	}
	if len(a.Unreadable) > 0 {
		b.WriteString(" unreadable=")
		b.WriteString(strconv.Quote(strings.Join(a.Unreadable, "; ")))
	}
	b.WriteByte('\n')

	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// field leaves plain values readable and quotes anything that could break
// the one-line, space-separated format.
func field(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// ChannelConsole is the console channel's type name.
const ChannelConsole = "console"

func init() {
	RegisterChannel(ChannelType{
		Name:      ChannelConsole,
		Doc:       "one line per notification on the daemon's standard output",
		New:       func() ChannelConfig { return &ConsoleConfig{} },
		NoTimeout: true,
	})
}

// ConsoleConfig is the console channel's configuration: it has no keys of
// its own.
type ConsoleConfig struct{}

// Validate has nothing to check.
func (*ConsoleConfig) Validate(func(field, msg string)) {}

// Build returns a Console on env.Stdout.
func (*ConsoleConfig) Build(env BuildEnv) (Notifier, error) {
	if env.Stdout == nil {
		return nil, errors.New("console: no output to write to")
	}
	c := NewConsole(env.Stdout)
	if env.Now != nil {
		c.now = env.Now
	}
	return c, nil
}
