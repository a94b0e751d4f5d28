package drill

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// DefaultRefresh is how stale the Matcher's list of open drills may be: a
// drill planned by the CLI while serve runs applies within it.
const DefaultRefresh = 2 * time.Second

// TitlePrefix starts the title of a drill's sign-in alert, so that every
// channel, also one that shows the title alone (webhook payloads, the
// console), says DRILL first.
const TitlePrefix = "DRILL: "

// Matcher marks sign-in alerts that belong to an announced drill. It reads
// the open (planned and running) drills from the store, at most every
// Refresh, and only when a sign-in alert asks: sign-ins of break-glass
// accounts are rare.
type Matcher struct {
	st      store.Drills
	refresh time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu     sync.Mutex
	loaded time.Time
	open   []store.Drill
}

// NewMatcher returns a Matcher over st; refresh 0 is DefaultRefresh.
func NewMatcher(st store.Drills, refresh time.Duration, now func() time.Time, log *slog.Logger) *Matcher {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Matcher{st: st, refresh: refresh, now: now, log: log}
}

// drills returns the open drills, reading them again when stale. A failed
// read keeps the last list and is logged: the alert then goes out as a
// normal alert at worst, never not at all.
func (m *Matcher) drills() []store.Drill {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if !m.loaded.IsZero() && now.Sub(m.loaded) < m.refresh && now.After(m.loaded.Add(-time.Second)) {
		return m.open
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var open []store.Drill
	for _, state := range []string{store.DrillRunning, store.DrillPlanned} {
		ds, err := m.st.Drills(ctx, store.DrillFilter{State: state})
		if err != nil {
			m.log.Error("reading drills: a drill sign-in now alerts as a normal sign-in", "error", err)
			return m.open
		}
		open = append(open, ds...)
	}
	m.open, m.loaded = open, now
	return open
}

// drillRules are the rules whose alerts a drill's account raises as part
// of the drill: its sign-in, and the administrative task the checklist
// asks for (an audit event or a Graph call it initiated). Changes made to
// the account by others (bg.change) are never the drill's.
var drillRules = map[string]bool{detect.RuleSignIn: true, detect.RuleActivity: true, detect.RuleGraphActivity: true}

// Match returns the drill an alert belongs to: a sign-in, or an
// administrative action, of a running drill's account whose window holds
// the event time (else a planned one's). An alert without a usable event
// time is never a drill's: it stays a normal alert (fail closed).
func (m *Matcher) Match(a *alert.Alert) (store.Drill, bool) {
	if !drillRules[a.Rule] || a.EventTimeUnknown || a.EventTime.IsZero() {
		return store.Drill{}, false
	}
	var planned *store.Drill
	for _, d := range m.drills() {
		if !SameAccount(d, *a) || !InWindow(d, a.EventTime) {
			continue
		}
		if d.State == store.DrillRunning {
			return d, true
		}
		if planned == nil {
			planned = &d
		}
	}
	if planned != nil {
		return *planned, true
	}
	return store.Drill{}, false
}

// Annotate is watch.Options.Annotate: a drill's sign-in (and its
// administrative task) is labelled with the drill's id (alert.LabelDrill)
// and its title starts with DRILL. It
// still alerts and is routed like any sign-in: a drill proves that.
func (m *Matcher) Annotate(a *alert.Alert) {
	d, ok := m.Match(a)
	if !ok {
		return
	}
	l := make(map[string]string, len(a.Labels)+1)
	for k, v := range a.Labels {
		l[k] = v
	}
	l[alert.LabelDrill] = d.ID
	a.Labels = l
	if !strings.HasPrefix(a.Title, TitlePrefix) {
		a.Title = TitlePrefix + a.Title
	}
}
