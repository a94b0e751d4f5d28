// Package watch is the always-on pipeline behind `breakglass serve`: it takes
// input from sources, runs detection, stores each alert together with its
// notifications in one transaction, wakes the notifier, and watches the
// sources themselves for silence. It implements source.Sink.
package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
)

// Store is what the pipeline needs from storage.
type Store interface {
	AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error)
	Enqueue(ctx context.Context, alertID, status string, targets []string) error
}

// Options configure a Pipeline.
type Options struct {
	Accounts *entra.AccountSet
	Store    Store
	// Targets are the notification channels every alert goes to.
	Targets []string
	// Wake is called after new alerts are stored (notify.Dispatcher.Wake).
	Wake    func()
	Metrics *Metrics // may be nil
	Logger  *slog.Logger
	Now     func() time.Time
}

// Pipeline turns input into stored alerts.
type Pipeline struct {
	o       Options
	scanner *scan.Scanner
	silence *Silence
}

// New returns a pipeline.
func New(o Options) *Pipeline {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	p := &Pipeline{o: o, scanner: scan.New(scan.Options{Accounts: o.Accounts, Problem: func(pr scan.Problem) {
		o.Logger.Debug("skipped input", "source", pr.Source, "offset", pr.Offset, "reason", pr.Reason, "error", pr.Err)
	}})}
	p.silence = newSilence(o)
	return p
}

// Silence returns the pipeline's silence watcher.
func (p *Pipeline) Silence() *Silence { return p.silence }

// Ingest scans r and returns once every alert it raised is stored with its
// notifications queued: a source may acknowledge its input (an HTTP 202, a
// checkpoint) as soon as Ingest returns.
func (p *Pipeline) Ingest(ctx context.Context, source, name string, r io.Reader) (scan.Stats, error) {
	var st scan.Stats
	newAlerts := 0
	err := p.scanner.Scan(ctx, name, r, &st, func(f scan.Finding) error {
		inserted, err := p.o.Store.AddAlertNotify(ctx, f.Alert, store.Evidence{
			EventID: f.Alert.EventID, Category: f.Alert.Category, Source: f.Alert.Source, Raw: f.Raw,
		}, p.o.Targets)
		if err != nil {
			return fmt.Errorf("storing alert %s: %w", f.Alert.ID, err)
		}
		if inserted {
			newAlerts++
			p.o.Metrics.alert(source, f.Alert.Rule)
			p.o.Logger.Warn("break-glass alert", "rule", f.Alert.Rule, "severity", int(f.Alert.Severity),
				"account", firstNonEmpty(f.Alert.AccountUPN, f.Alert.AccountID), "title", f.Alert.Title,
				"event_id", f.Alert.EventID, "event_time", f.Alert.EventTime, "source", f.Alert.Source, "alert_id", f.Alert.ID)
			// Wake per alert, not per input: a large backlog must not
			// hold the first alert back until the whole file is read.
			p.o.Wake()
		}
		return nil
	})
	p.o.Metrics.input(source, &st)
	if n := st.TotalRecords(); n > 0 {
		p.silence.Received(ctx, source)
	}
	return st, err
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// RuleSilence is the built-in rule that fires when a source goes quiet.
const RuleSilence = "bg.silence"

// Silence raises bg.silence when a source with a max_silence delivers no
// records for that long, and resolves it when records flow again.
type Silence struct {
	o       Options
	mu      sync.Mutex
	sources map[string]*silenceState
}

type silenceState struct {
	max    time.Duration
	last   time.Time
	firing string // alert id while firing
}

func newSilence(o Options) *Silence {
	return &Silence{o: o, sources: map[string]*silenceState{}}
}

// Watch starts watching a source. Its quiet period starts now: after a
// restart a source gets a full max_silence before it is called silent.
func (s *Silence) Watch(source string, max time.Duration) {
	if max <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources[source] = &silenceState{max: max, last: s.o.Now()}
}

// LastRecord reports when a watched source last delivered records.
func (s *Silence) LastRecord(source string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.sources[source]
	if !ok {
		return time.Time{}, false
	}
	return st.last, true
}

// Received notes records from a source and resolves its silence alert.
func (s *Silence) Received(ctx context.Context, source string) {
	s.mu.Lock()
	st, ok := s.sources[source]
	if !ok {
		s.mu.Unlock()
		return
	}
	st.last = s.o.Now()
	id := st.firing
	st.firing = ""
	s.mu.Unlock()
	if id == "" {
		return
	}
	if err := s.o.Store.Enqueue(ctx, id, store.StatusResolved, s.o.Targets); err != nil {
		s.o.Logger.Error("resolving silence alert", "source", source, "error", err)
		return
	}
	s.o.Metrics.silence(source, false)
	s.o.Logger.Info("source delivering again; silence alert resolved", "source", source, "alert_id", id)
	s.o.Wake()
}

// Check fires bg.silence for every watched source quiet for too long.
func (s *Silence) Check(ctx context.Context) {
	now := s.o.Now()
	type due struct {
		source string
		st     silenceState
	}
	var fire []due
	s.mu.Lock()
	for name, st := range s.sources {
		if st.firing == "" && now.Sub(st.last) >= st.max {
			fire = append(fire, due{name, *st})
		}
	}
	s.mu.Unlock()
	for _, d := range fire {
		a := silenceAlert(d.source, d.st, now)
		raw, _ := json.Marshal(map[string]any{"source": d.source, "last_record": d.st.last.UTC(), "max_silence": d.st.max.String(), "detected": now.UTC()})
		inserted, err := s.o.Store.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Category: "Source", Source: d.source, Raw: raw}, s.o.Targets)
		if err != nil {
			s.o.Logger.Error("storing silence alert", "source", d.source, "error", err)
			continue
		}
		s.mu.Lock()
		if st, ok := s.sources[d.source]; ok && st.last.Equal(d.st.last) {
			st.firing = a.ID
		}
		s.mu.Unlock()
		if inserted {
			s.o.Metrics.alert(d.source, RuleSilence)
			s.o.Metrics.silence(d.source, true)
			s.o.Logger.Warn("source is silent", "source", d.source, "since", d.st.last, "max_silence", d.st.max, "alert_id", a.ID)
			s.o.Wake()
		}
	}
}

// silenceAlert identifies one silence by its source and the time of the last
// record before it, so one silence is one alert however often Check runs.
func silenceAlert(source string, st silenceState, now time.Time) alert.Alert {
	eventID := "silence:" + source + ":" + st.last.UTC().Format(time.RFC3339Nano)
	return alert.Alert{
		ID:        alert.Key(eventID, RuleSilence),
		Rule:      RuleSilence,
		Severity:  alert.Sev1,
		Title:     fmt.Sprintf("Log source %q has delivered nothing for %s", source, now.Sub(st.last).Round(time.Second)),
		EventID:   eventID,
		EventTime: now.UTC(),
		Category:  "Source",
		Source:    source,
		Detected:  now.UTC(),
	}
}

// Run checks for silence every interval until ctx ends.
func (s *Silence) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Check(ctx)
		}
	}
}
