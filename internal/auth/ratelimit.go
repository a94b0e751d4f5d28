package auth

import (
	"strings"
	"sync"
	"time"
)

// Login rate limiting. Failures are counted per account name and per
// client IP in a sliding window; after MaxFailures in Window, further
// attempts for that key are refused, without checking the password, until
// the oldest failure leaves the window. The counts are kept in memory: a
// restart clears them, which needs access to the host (where the CLI can
// reset any password anyway), and nothing an attacker does can lock an
// account for longer than Window. Unknown names are counted like known
// ones, so the limiter does not tell which names exist.
const (
	DefaultMaxFailures = 5
	DefaultWindow      = 15 * time.Minute
	// maxKeys bounds the memory the limiter uses; beyond it an arbitrary
	// entry is dropped for each new one. Filling it takes tens of
	// thousands of failed sign-ins, each costing an argon2id hash, so an
	// attacker gains at most a few attempts by it.
	maxKeys = 100000
)

type limiter struct {
	mu    sync.Mutex
	max   int
	win   time.Duration
	fails map[string][]time.Time
}

func newLimiter(max int, win time.Duration) *limiter {
	if max <= 0 {
		max = DefaultMaxFailures
	}
	if win <= 0 {
		win = DefaultWindow
	}
	return &limiter{max: max, win: win, fails: map[string][]time.Time{}}
}

func userKey(name string) string { return "u:" + strings.ToLower(name) }
func ipKey(ip string) string     { return "ip:" + ip }

// blocked reports until when any of keys is refused at now (zero: not).
func (l *limiter) blocked(now time.Time, keys ...string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var until time.Time
	for _, k := range keys {
		fs := l.prune(k, now)
		if len(fs) >= l.max {
			if u := fs[len(fs)-l.max].Add(l.win); u.After(until) {
				until = u
			}
		}
	}
	return until
}

// fail counts a failure for each of keys.
func (l *limiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) >= maxKeys {
		for k := range l.fails { // map order: an arbitrary victim
			delete(l.fails, k)
			break
		}
	}
	for _, k := range keys {
		fs := l.prune(k, now)
		// Keep only the newest max: that is all blocked needs.
		if len(fs) >= l.max {
			fs = fs[len(fs)-l.max+1:]
		}
		l.fails[k] = append(fs, now)
	}
}

// succeed forgets the account's failures (not the address's: one good
// password does not license guessing others).
func (l *limiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

func (l *limiter) prune(k string, now time.Time) []time.Time {
	fs := l.fails[k]
	i := 0
	for i < len(fs) && !now.Before(fs[i].Add(l.win)) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(l.fails, k)
		return nil
	}
	l.fails[k] = fs
	return fs
}
