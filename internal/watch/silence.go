package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// RuleSilence is the built-in rule that fires when a source goes quiet.
const RuleSilence = "bg.silence"

// Silence raises bg.silence when a source with a max_silence shows no life
// for that long, and resolves it when the source is alive again. Life is any
// successful read or poll (source.Sink.Alive), with records or without: a
// quiet tenant is healthy, a feed that stopped is not. An open silence is a
// Condition in the store: after a restart it stays open (no second alert)
// and resolves on the first sign of life.
type Silence struct {
	o       Options
	mu      sync.Mutex
	sources map[string]*silenceState
}

type silenceState struct {
	max     time.Duration
	last    time.Time // last life
	firing  string    // alert id while firing
	since   time.Time // last life before the open silence
	written time.Time // last life recorded in the store (lifeStore)
}

// lifeStore is the store's record of when each source last showed life.
// Replicas that share a store share a source's feed (one consumer group,
// pushes behind one load balancer), so with it silence is judged on the
// newest life any replica saw: a replica that reads nothing while another
// reads the feed raises no false silence, a feed silent for all of them
// raises one alert, and whichever replica sees life again resolves it.
type lifeStore interface {
	SetSourceAlive(ctx context.Context, source string, at time.Time) error
	SourceAlive(ctx context.Context, source string) (time.Time, bool, error)
}

// lifeWriteEvery bounds the store writes of a source that signals life
// on every read: the store's life lags a replica's own by at most this,
// and Check writes a replica's newest life before judging.
const lifeWriteEvery = 2 * time.Second

// silenceData is the evidence of a silence and its persisted condition.
type silenceData struct {
	Source     string    `json:"source"`
	LastLife   time.Time `json:"last_life"`
	MaxSilence string    `json:"max_silence"`
	Detected   time.Time `json:"detected"`
}

func newSilence(o Options) *Silence {
	return &Silence{o: o, sources: map[string]*silenceState{}}
}

// Watch starts watching a source. Its quiet period starts now: after a
// restart a source gets a full max_silence before it is called silent. A
// silence left open by the previous run is picked up, not raised again.
// With max 0 the source's life is tracked (for the lag metric) but it is
// never called silent.
func (s *Silence) Watch(ctx context.Context, source string, max time.Duration) error {
	st := &silenceState{max: max, last: s.o.Now()}
	if max <= 0 {
		st.max = 0
		s.mu.Lock()
		s.sources[source] = st
		s.mu.Unlock()
		return nil
	}
	c, open, err := s.o.Conditions.Condition(ctx, RuleSilence, source)
	if err != nil {
		return fmt.Errorf("reading silence state of %s: %w", source, err)
	}
	if open {
		st.firing, st.since = c.AlertID, c.Since
		s.o.Metrics.silence(source, true)
	}
	s.mu.Lock()
	s.sources[source] = st
	s.mu.Unlock()
	return nil
}

// LastLife reports when a watched source last showed life (or when watching
// started).
func (s *Silence) LastLife(source string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.sources[source]
	if !ok {
		return time.Time{}, false
	}
	return st.last, true
}

// Firing reports the alert id of an open silence of source.
func (s *Silence) Firing(source string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.sources[source]
	if !ok || st.firing == "" {
		return "", false
	}
	return st.firing, true
}

// alive notes life from a source and resolves its silence alert.
func (s *Silence) alive(ctx context.Context, source string) {
	s.aliveAt(ctx, source, s.o.Now(), true)
}

// aliveAt notes life at at (from this replica, or, with write false, read
// from the store) and resolves the silence alert.
func (s *Silence) aliveAt(ctx context.Context, source string, at time.Time, write bool) {
	s.mu.Lock()
	st, ok := s.sources[source]
	if !ok {
		s.mu.Unlock()
		return
	}
	if at.After(st.last) {
		st.last = at
	}
	ls, shared := s.o.Store.(lifeStore)
	persist := write && shared && st.max > 0 && at.Sub(st.written) >= lifeWriteEvery
	if persist || !write {
		st.written = at
	}
	id := st.firing
	st.firing = ""
	s.mu.Unlock()
	if persist {
		if err := ls.SetSourceAlive(ctx, source, at); err != nil {
			s.o.Logger.Debug("recording source life", "source", source, "error", err)
		}
	}
	if id == "" {
		return
	}
	if err := resolve(ctx, s.o, RuleSilence, source, id); err != nil {
		s.o.Logger.Error("resolving silence alert", "source", source, "error", err)
		// Keep it open so that the next sign of life tries again.
		s.mu.Lock()
		if st.firing == "" {
			st.firing = id
		}
		s.mu.Unlock()
		return
	}
	s.o.Metrics.silence(source, false)
	s.o.Logger.Info("source alive again; silence alert resolved", "source", source, "alert_id", id)
}

// shared brings a silent-looking source up to date with the store (see
// lifeStore): it records this replica's newest life, adopts newer life
// another replica recorded (resolving an open silence), and adopts a
// silence another replica raised. It reports whether d is still due.
func (s *Silence) shared(ctx context.Context, ls lifeStore, name string, d *silenceState, now time.Time) bool {
	if d.last.After(d.written) {
		if err := ls.SetSourceAlive(ctx, name, d.last); err != nil {
			s.o.Logger.Warn("recording source life", "source", name, "error", err)
		}
		s.mu.Lock()
		if st, ok := s.sources[name]; ok && st.written.Before(d.last) {
			st.written = d.last
		}
		s.mu.Unlock()
	}
	at, ok, err := ls.SourceAlive(ctx, name)
	if err != nil {
		// Judge on this replica's own life: a silence raised twice beats
		// one missed.
		s.o.Logger.Warn("reading source life", "source", name, "error", err)
		return d.firing == ""
	}
	if ok && at.After(d.last) {
		if now.Sub(at) < d.max {
			s.aliveAt(ctx, name, at, false) // another replica sees the feed
			return false
		}
		// Newer, and still too old: the last life before this silence.
		s.mu.Lock()
		if st, ok := s.sources[name]; ok && st.last.Before(at) {
			st.last, st.written = at, at
		}
		s.mu.Unlock()
		d.last = at
	}
	if d.firing != "" {
		return false
	}
	c, open, err := s.o.Conditions.Condition(ctx, RuleSilence, name)
	if err == nil && open {
		s.mu.Lock()
		if st, ok := s.sources[name]; ok && st.firing == "" {
			st.firing, st.since = c.AlertID, c.Since
		}
		s.mu.Unlock()
		s.o.Metrics.silence(name, true)
		return false
	}
	return true
}

// Check fires bg.silence for every watched source quiet for too long, and
// notifies muted condition alerts still open after their window (mute.go).
func (s *Silence) Check(ctx context.Context) {
	defer sweepMuted(ctx, s.o)
	now := s.o.Now()
	type due struct {
		source string
		st     silenceState
	}
	ls, shared := s.o.Store.(lifeStore)
	var fire []due
	s.mu.Lock()
	for name, st := range s.sources {
		// Shared: an open silence is checked too, as another replica
		// may have seen the life that ends it.
		if st.max > 0 && now.Sub(st.last) >= st.max && (st.firing == "" || shared) {
			fire = append(fire, due{name, *st})
		}
	}
	s.mu.Unlock()
	for _, d := range fire {
		if shared && !s.shared(ctx, ls, d.source, &d.st, now) {
			continue
		}
		if d.st.firing != "" {
			continue
		}
		a := silenceAlert(d.source, d.st, now)
		labelAlert(&a, d.source, s.o.tenantFor(d.source, ""))
		data, _ := json.Marshal(silenceData{Source: d.source, LastLife: d.st.last.UTC(), MaxSilence: d.st.max.String(), Detected: now.UTC()})
		inserted, err := raise(ctx, s.o, a, data, Condition{Rule: RuleSilence, Key: d.source, AlertID: a.ID, Since: d.st.last.UTC(), Updated: now.UTC(), Data: data})
		if err != nil {
			s.o.Logger.Error("storing silence alert", "source", d.source, "error", err)
			continue
		}
		s.mu.Lock()
		if st, ok := s.sources[d.source]; ok && st.last.Equal(d.st.last) {
			st.firing, st.since = a.ID, d.st.last
		}
		s.mu.Unlock()
		if inserted {
			s.o.Metrics.alert(d.source, RuleSilence)
			s.o.Logger.Warn("source is silent", "source", d.source, "since", d.st.last, "max_silence", d.st.max, "alert_id", a.ID)
		}
		s.o.Metrics.silence(d.source, true)
	}
}

// silenceAlert identifies one silence by its source and the time of the
// last life before it, so one silence is one alert however often Check runs.
func silenceAlert(source string, st silenceState, now time.Time) alert.Alert {
	eventID := "silence:" + source + ":" + st.last.UTC().Format(time.RFC3339Nano)
	return alert.Alert{
		ID:       alert.Key(eventID, RuleSilence),
		Rule:     RuleSilence,
		Severity: alert.Sev1,
		Title: fmt.Sprintf("Break-glass monitoring is blind: log source %q has shown no sign of life for %s (since %s UTC)",
			source, now.Sub(st.last).Round(time.Second), st.last.UTC().Format("2006-01-02 15:04")),
		EventID:   eventID,
		EventTime: now.UTC(),
		Category:  "Source",
		Source:    source,
		Detected:  now.UTC(),
		Annotations: map[string]string{
			"description": fmt.Sprintf("No successful read or poll from %q within max_silence %s. Sign-ins by break-glass accounts may be going unseen: check the feed (diagnostic setting, Event Hub, file path, Graph permissions) now.", source, st.max),
		},
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

// raise stores a condition alert with its deliveries, then records the
// condition. The alert goes first: if the process dies in between, the
// alert is stored and notified, and the worst case is a second alert for
// the same condition after the restart, never none.
func raise(ctx context.Context, o Options, a alert.Alert, evidence []byte, c Condition) (bool, error) {
	inserted, _, err := storeAlert(ctx, o, a, store.Evidence{EventID: a.EventID, Category: a.Category, Source: a.Source, Raw: evidence})
	if err != nil {
		return false, err
	}
	o.Wake()
	if err := o.Conditions.SetCondition(ctx, c); err != nil {
		return inserted, fmt.Errorf("recording condition %s %s: %w", c.Rule, c.Key, err)
	}
	return inserted, nil
}

// stateSetter is the store's alert-state method, used when present.
type stateSetter interface {
	SetAlertState(ctx context.Context, id, state, by string, at time.Time) error
}

// resolve queues the resolution of a condition alert, to where its firing
// went, and clears the condition.
func resolve(ctx context.Context, o Options, rule, key, alertID string) error {
	targets, err := resolutionTargets(ctx, o, alertID)
	if err != nil {
		return err
	}
	if err := o.Store.Enqueue(ctx, alertID, store.StatusResolved, targets); err != nil {
		return err
	}
	if ss, ok := o.Store.(stateSetter); ok {
		if err := ss.SetAlertState(ctx, alertID, alert.StateResolved, "breakglass", o.Now()); err != nil {
			o.Logger.Warn("recording alert state", "alert_id", alertID, "error", err)
		}
	}
	o.Wake()
	return o.Conditions.ClearCondition(ctx, rule, key)
}
