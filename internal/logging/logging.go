// Package logging builds the daemon's logger: a text or JSON slog handler
// behind a rate limiter, so that a failure repeated thousands of times a
// second (a read-only store, a dead receiver) costs a few lines and a
// summary, not gigabytes of logs that bury everything else.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of the rate limiter.
const (
	// DefaultBurst is how many identical lines pass per window.
	DefaultBurst = 5
	// DefaultWindow is the rate limiter's window.
	DefaultWindow = time.Minute
	// DefaultMessageBurst caps lines per window with the same level and
	// message whatever their attributes, for floods whose attributes vary
	// (a delivery id per line).
	DefaultMessageBurst = 50
	// maxKeys bounds the limiter's memory: no input can grow it.
	maxKeys = 4096
)

// Options configure New.
type Options struct {
	Level  string // debug, info, warn, error (default info)
	Format string // text or json (default text)
	// Burst, MessageBurst and Window tune the rate limiter (see Limit);
	// zero values take the defaults. Burst < 0 switches limiting off.
	Burst        int
	MessageBurst int
	Window       time.Duration
	Now          func() time.Time
}

// New returns a rate-limited logger writing to w. An unknown level reads as
// info: config validates levels, so this only matters for callers that
// build Options by hand.
func New(w io.Writer, o Options) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		level = slog.LevelInfo
	}
	ho := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if strings.EqualFold(o.Format, "json") {
		h = slog.NewJSONHandler(w, ho)
	} else {
		h = slog.NewTextHandler(w, ho)
	}
	if o.Burst >= 0 {
		h = Limit(h, LimitOptions{Burst: o.Burst, MessageBurst: o.MessageBurst, Window: o.Window, Now: o.Now})
	}
	return slog.New(h)
}

// LimitOptions configure Limit.
type LimitOptions struct {
	Burst        int           // default DefaultBurst
	MessageBurst int           // default DefaultMessageBurst
	Window       time.Duration // default DefaultWindow
	Now          func() time.Time
}

// volatile attributes differ on every line of one flood (ids, offsets,
// counters) and are left out of the key that decides "identical".
var volatile = map[string]bool{
	"id": true, "delivery_id": true, "alert_id": true, "event_id": true, "offset": true,
	"attempt": true, "attempts": true, "event_time": true, "since": true, "elapsed": true,
	"next": true, "duration": true, "time": true,
}

// Limit wraps h so that records with the same level, message and
// non-volatile attributes pass at most Burst times per Window, and records
// with the same level and message at most MessageBurst times. What is held
// back is counted and reported in one line, "<message> (N more like this in
// the last <window>)", when the key is next seen after its window, or on
// Flush.
func Limit(h slog.Handler, o LimitOptions) *Limiter {
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.MessageBurst <= 0 {
		o.MessageBurst = DefaultMessageBurst
	}
	o.MessageBurst = max(o.MessageBurst, o.Burst)
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Limiter{h: h, st: &limitState{o: o, keys: map[string]*bucket{}}}
}

// Limiter is the handler Limit returns.
type Limiter struct {
	h     slog.Handler
	st    *limitState
	attrs string // pre-rendered WithAttrs, part of the key
}

type limitState struct {
	o         LimitOptions
	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	start      time.Time
	n          int // records seen in this window
	suppressed int
	// for the summary line
	level   slog.Level
	msg     string
	attrs   []slog.Attr
	handler slog.Handler
}

// Enabled implements slog.Handler.
func (l *Limiter) Enabled(ctx context.Context, lv slog.Level) bool { return l.h.Enabled(ctx, lv) }

// WithAttrs implements slog.Handler.
func (l *Limiter) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(l.attrs)
	writeKey(&b, as)
	return &Limiter{h: l.h.WithAttrs(as), st: l.st, attrs: b.String()}
}

// WithGroup implements slog.Handler.
func (l *Limiter) WithGroup(name string) slog.Handler {
	return &Limiter{h: l.h.WithGroup(name), st: l.st, attrs: l.attrs + "{" + name}
}

func writeKey(b *strings.Builder, as []slog.Attr) {
	for _, a := range as {
		if volatile[a.Key] {
			continue
		}
		b.WriteByte('\x00')
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(a.Value.Resolve().String())
	}
}

// Handle implements slog.Handler.
func (l *Limiter) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte('\x00')
	b.WriteString(r.Message)
	msgKey := "m\x00" + b.String()
	b.WriteString(l.attrs)
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	writeKey(&b, attrs)
	exactKey := "e\x00" + b.String()

	now := l.st.o.Now()
	pass, due := l.st.admit(now, exactKey, msgKey, r, attrs, l.h)
	for _, s := range due {
		l.summarise(ctx, s, now)
	}
	if !pass {
		return nil
	}
	return l.h.Handle(ctx, r)
}

// admit counts r under both keys and reports whether it may pass, plus the
// summaries of windows that have ended.
func (s *limitState) admit(now time.Time, exactKey, msgKey string, r slog.Record, attrs []slog.Attr, h slog.Handler) (bool, []bucket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.expire(now)
	pass := true
	for _, k := range []string{exactKey, msgKey} {
		limit := s.o.Burst
		if k == msgKey {
			limit = s.o.MessageBurst
		}
		bk := s.keys[k]
		if bk == nil {
			if len(s.keys) >= maxKeys {
				// Over the bound: let it through unlimited rather than
				// lose it, but never grow the map.
				continue
			}
			bk = &bucket{start: now, level: r.Level, msg: r.Message, handler: h}
			if k == exactKey {
				bk.attrs = slices.Clone(attrs)
			}
			s.keys[k] = bk
		}
		bk.n++
		if bk.n > limit {
			pass = false
		}
	}
	if !pass {
		// Count the suppression once, against the narrowest key.
		if bk := s.keys[exactKey]; bk != nil && bk.n > s.o.Burst {
			bk.suppressed++
		} else if bk := s.keys[msgKey]; bk != nil {
			bk.suppressed++
		}
	}
	return pass, due
}

// expire removes buckets whose window has ended and returns those with
// suppressed lines to report. Called with mu held.
func (s *limitState) expire(now time.Time) []bucket {
	// Sweeping walks every key: do it at most once a second, not per line.
	if now.Sub(s.lastSweep) < time.Second && now.After(s.lastSweep) {
		return nil
	}
	s.lastSweep = now
	var due []bucket
	for k, bk := range s.keys {
		if now.Sub(bk.start) < s.o.Window {
			continue
		}
		if bk.suppressed > 0 {
			due = append(due, *bk)
		}
		delete(s.keys, k)
	}
	return due
}

func (l *Limiter) summarise(ctx context.Context, bk bucket, now time.Time) {
	r := slog.NewRecord(now, bk.level, fmt.Sprintf("%s (%d more like this in the last %s)", bk.msg, bk.suppressed, l.st.o.Window), 0)
	r.AddAttrs(bk.attrs...)
	r.AddAttrs(slog.Int("suppressed", bk.suppressed))
	_ = bk.handler.Handle(ctx, r)
}

// Flush reports every suppressed count now, as if each window had ended.
// The daemon calls it at shutdown so that no summary is lost.
func (l *Limiter) Flush(ctx context.Context) {
	l.st.mu.Lock()
	var due []bucket
	for k, bk := range l.st.keys {
		if bk.suppressed > 0 {
			due = append(due, *bk)
		}
		delete(l.st.keys, k)
	}
	l.st.mu.Unlock()
	now := l.st.o.Now()
	for _, bk := range due {
		l.summarise(ctx, bk, now)
	}
}

// Sweep reports the summaries of windows that have ended, without waiting
// for the next line; the daemon calls it periodically so that the last
// summary of a flood that stopped is not held back.
func (l *Limiter) Sweep(ctx context.Context) {
	now := l.st.o.Now()
	l.st.mu.Lock()
	l.st.lastSweep = time.Time{}
	due := l.st.expire(now)
	l.st.mu.Unlock()
	for _, bk := range due {
		l.summarise(ctx, bk, now)
	}
}

// Sweep sweeps the rate limiter behind log, if it has one.
func Sweep(ctx context.Context, log *slog.Logger) {
	if l, ok := log.Handler().(*Limiter); ok {
		l.Sweep(ctx)
	}
}

// Flush flushes the rate limiter behind log, if it has one.
func Flush(ctx context.Context, log *slog.Logger) {
	if l, ok := log.Handler().(*Limiter); ok {
		l.Flush(ctx)
	}
}
