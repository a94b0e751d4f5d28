package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// maxLimitKeys bounds the limiter's memory; keys beyond it share one.
const maxLimitKeys = 1024

// logLimiter passes the first line of each kind per window and counts the
// rest, then logs one summary line ("N more like this in the last 1m0s"):
// a store that cannot record deliveries, or a target that is down, must not
// flood the log (the dispatcher once logged 34,000 lines/s that way).
type logLimiter struct {
	out    *slog.Logger
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*limitEntry
}

type limitEntry struct {
	start      time.Time
	level      slog.Level
	msg        string
	key        string // named in the summary: which target or kind it was
	suppressed int
}

func newLogLimiter(log *slog.Logger, window time.Duration) *logLimiter {
	return &logLimiter{out: log, window: window, now: time.Now, seen: map[string]*limitEntry{}}
}

// log writes msg unless a line with the same msg and key was written within
// the window; key distinguishes kinds within one msg (a target, a
// delivery).
func (l *logLimiter) log(level slog.Level, msg, key string, attrs ...any) {
	now := l.now()
	k := msg + "\x00" + key
	l.mu.Lock()
	e := l.seen[k]
	if e != nil && now.Sub(e.start) < l.window {
		e.suppressed++
		l.mu.Unlock()
		return
	}
	if e == nil && len(l.seen) >= maxLimitKeys {
		l.flushLocked(now, false)
		if len(l.seen) >= maxLimitKeys {
			k = "\x00overflow"
			if e = l.seen[k]; e != nil && now.Sub(e.start) < l.window {
				e.suppressed++
				l.mu.Unlock()
				return
			}
		}
	}
	var summary *limitEntry
	if e != nil && e.suppressed > 0 {
		summary = e
	}
	l.seen[k] = &limitEntry{start: now, level: level, msg: msg, key: key}
	l.mu.Unlock()
	if summary != nil {
		l.summarise(summary)
	}
	l.out.Log(context.Background(), level, msg, attrs...)
}

// flush writes the summaries of windows that have ended.
func (l *logLimiter) flush() {
	l.mu.Lock()
	done := l.flushLocked(l.now(), false)
	l.mu.Unlock()
	for _, e := range done {
		l.summarise(e)
	}
}

// flushAll writes every pending summary (at shutdown).
func (l *logLimiter) flushAll() {
	l.mu.Lock()
	done := l.flushLocked(l.now(), true)
	l.mu.Unlock()
	for _, e := range done {
		l.summarise(e)
	}
}

func (l *logLimiter) flushLocked(now time.Time, all bool) []*limitEntry {
	var done []*limitEntry
	for k, e := range l.seen {
		if all || now.Sub(e.start) >= l.window {
			delete(l.seen, k)
			if e.suppressed > 0 {
				done = append(done, e)
			}
		}
	}
	return done
}

// end closes the windows of the given keys (whatever their message) and
// writes their summaries, so that the next line of that kind is logged at
// once. The dispatcher calls it when a target delivers again: a failure
// after a recovery is a new episode that someone must see, not a repeat of
// the one before (a webhook that went down 20 s after it recovered was
// otherwise not logged for the rest of the minute).
func (l *logLimiter) end(keys ...string) {
	l.mu.Lock()
	var done []*limitEntry
	for k, e := range l.seen {
		if slices.Contains(keys, e.key) {
			delete(l.seen, k)
			if e.suppressed > 0 {
				done = append(done, e)
			}
		}
	}
	l.mu.Unlock()
	for _, e := range done {
		l.summarise(e)
	}
}

func (l *logLimiter) summarise(e *limitEntry) {
	l.out.Log(context.Background(), e.level, fmt.Sprintf("%s (%d more like this in the last %s)", e.msg, e.suppressed, l.window),
		"suppressed", e.suppressed, "kind", e.key)
}
