package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"breakglass/internal/store"
)

// Rate-limit kinds: the recipient kinds a limit applies to, the prefix of a
// recipient key ("sms:+4712345678") and the keys of notify.rate_limits.
const (
	LimitSMS   = "sms"
	LimitVoice = "voice"
	LimitEmail = "email"
)

// LimitKinds lists the kinds in the order they are configured and printed.
var LimitKinds = []string{LimitSMS, LimitVoice, LimitEmail}

// LimitRule is the store.Condition rule under which the limiter keeps the
// recent sends of each recipient (Key: the recipient key), so a daemon that
// restarts, or crash-loops, does not send one SMS per start.
const LimitRule = "notify.ratelimit"

// RateLimit allows Count messages per Per to one recipient. A zero Count
// means no limit ("off").
type RateLimit struct {
	Count int
	Per   time.Duration
}

// DefaultRateLimits are Azure Monitor action groups' limits per recipient:
// one SMS and one voice call per 5 minutes per number, 100 emails per hour
// per address. The config package takes them as its defaults.
func DefaultRateLimits() map[string]RateLimit {
	return map[string]RateLimit{
		LimitSMS:   {Count: 1, Per: 5 * time.Minute},
		LimitVoice: {Count: 1, Per: 5 * time.Minute},
		LimitEmail: {Count: 100, Per: time.Hour},
	}
}

// Off reports a limit that limits nothing.
func (l RateLimit) Off() bool { return l.Count <= 0 || l.Per <= 0 }

// String is the limit as notify.rate_limits writes it: "1/5m", "100/1h",
// "off".
func (l RateLimit) String() string {
	if l.Off() {
		return "off"
	}
	return strconv.Itoa(l.Count) + "/" + ShortDuration(l.Per)
}

// ShortDuration writes d without the zero units time.Duration.String adds:
// 5m rather than 5m0s, 1h rather than 1h0m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Bounds of a configured limit.
const (
	MinLimitPer   = time.Second
	MaxLimitPer   = 7 * 24 * time.Hour
	MaxLimitCount = 1_000_000
)

// ParseRateLimit reads "COUNT/DURATION" (1/5m, 100/1h, 10/1d) or "off".
// parseDuration reads the duration (the config package passes its own,
// which knows days); nil means time.ParseDuration.
func ParseRateLimit(s string, parseDuration func(string) (time.Duration, error)) (RateLimit, error) {
	if parseDuration == nil {
		parseDuration = time.ParseDuration
	}
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return RateLimit{}, nil
	}
	count, per, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, errors.New(`expected COUNT/DURATION such as 1/5m or 100/1h, or off`)
	}
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 1 || n > MaxLimitCount {
		return RateLimit{}, fmt.Errorf("the count before / must be a whole number from 1 to %d (write off for no limit)", MaxLimitCount)
	}
	d, err := parseDuration(strings.TrimSpace(per))
	if err != nil {
		return RateLimit{}, errors.New("the period after / must be a duration such as 5m, 1h or 1d")
	}
	if d < MinLimitPer || d > MaxLimitPer {
		return RateLimit{}, fmt.Errorf("the period must be from %v to %v", MinLimitPer, ShortDuration(MaxLimitPer))
	}
	return RateLimit{Count: n, Per: d}, nil
}

// Limited is implemented by channels whose recipients are rate limited
// (sms, voice, email). The dispatcher consumes it: a delivery to such a
// channel is sent only when every recipient it reaches is within its
// limit, and what waits is coalesced into the next message allowed.
type Limited interface {
	// Recipients lists the rate-limit keys n would reach, "kind:address"
	// ("sms:+4712345678", "email:ops@example.com"); channels that reach
	// the same address share its limit. None means n is not limited (a
	// resolution a voice channel does not phone).
	Recipients(n Notification) []string
}

// RecipientKey is the rate-limit key of one address of kind.
func RecipientKey(kind, address string) string {
	if kind == LimitEmail {
		address = strings.ToLower(address)
	}
	return kind + ":" + address
}

// LimitStore is what the limiter persists through: the store's
// Conditions, rule LimitRule, one condition per recipient.
type LimitStore interface {
	Condition(ctx context.Context, rule, key string) (store.Condition, bool, error)
	SetCondition(ctx context.Context, c store.Condition) error
}

// rateLimiter is a sliding-window limit per recipient: a recipient may
// receive Count messages within any Per. Sends are reserved before they
// happen and persisted then (a crash after the send still counts it), and
// given back when the send fails, so a failed attempt never costs a slot.
type rateLimiter struct {
	limits map[string]RateLimit
	st     LimitStore
	log    *logLimiter

	mu     sync.Mutex
	sent   map[string][]time.Time // recipient key -> reserved sends, oldest first
	loaded map[string]bool
}

func newRateLimiter(limits map[string]RateLimit, st LimitStore, log *logLimiter) *rateLimiter {
	return &rateLimiter{limits: maps.Clone(limits), st: st, log: log, sent: map[string][]time.Time{}, loaded: map[string]bool{}}
}

// limitOf is the limit of a recipient key, by its kind.
func (r *rateLimiter) limitOf(key string) (RateLimit, bool) {
	kind, _, _ := strings.Cut(key, ":")
	l, ok := r.limits[kind]
	return l, ok && !l.Off()
}

// limitState is what LimitRule conditions hold.
type limitState struct {
	Sent []time.Time `json:"sent"`
}

// load reads key's persisted sends once. A store that cannot be read, or
// holds something unreadable, starts the recipient empty: sending one
// message too many is better than holding a page back on a guess.
func (r *rateLimiter) loadLocked(ctx context.Context, key string) {
	if r.loaded[key] || r.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout) // a hung store must not hold every limited send
	defer cancel()
	c, ok, err := r.st.Condition(ctx, LimitRule, key)
	if err != nil {
		r.log.log(slog.LevelError, "notify: reading rate-limit state failed; treating the recipient as not limited", "ratelimit-load",
			"recipient", key, "error", err)
		return // try again next time
	}
	r.loaded[key] = true
	if !ok || len(c.Data) == 0 {
		return
	}
	var s limitState
	if err := json.Unmarshal(c.Data, &s); err != nil {
		r.log.log(slog.LevelWarn, "notify: stored rate-limit state unreadable; starting it afresh", "ratelimit-decode",
			"recipient", key, "error", err)
		return
	}
	r.sent[key] = mergeTimes(r.sent[key], s.Sent)
}

// persistLocked writes key's sends. A failing store is logged; the limit
// still holds in memory.
func (r *rateLimiter) persistLocked(ctx context.Context, key string, now time.Time) {
	if r.st == nil {
		return
	}
	data, _ := json.Marshal(limitState{Sent: r.sent[key]})
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := r.st.SetCondition(ctx, store.Condition{Rule: LimitRule, Key: key, Updated: now, Data: data}); err != nil {
		r.log.log(slog.LevelError, "notify: recording a rate-limited send failed; a restart may send one message too many", "ratelimit-save",
			"recipient", key, "error", err)
	}
}

func mergeTimes(a, b []time.Time) []time.Time {
	out := append(slices.Clone(a), b...)
	slices.SortFunc(out, func(x, y time.Time) int { return x.Compare(y) })
	return slices.CompactFunc(out, func(x, y time.Time) bool { return x.Equal(y) })
}

// pruneLocked drops sends that left key's window and clamps sends in the
// future (a clock set back, a hostile store) to now, so no wait is ever
// longer than the limit's period.
func (r *rateLimiter) pruneLocked(key string, l RateLimit, now time.Time) []time.Time {
	ts := r.sent[key]
	out := ts[:0]
	for _, t := range ts {
		if t.After(now) {
			t = now
		}
		if now.Sub(t) < l.Per {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(x, y time.Time) int { return x.Compare(y) })
	r.sent[key] = out
	return out
}

// limitBlock says why a send must wait: the recipient and its limit.
type limitBlock struct {
	key   string
	limit RateLimit
	next  time.Time
}

// RateLimitReason begins the LastError of a delivery a rate limit held
// back (a wait, not a failed attempt): "rate limit: 1 SMS per 5m to
// +4712345678; coalesced, next at 03:05:00 UTC". A delivered delivery
// keeps it, as the trace of having been coalesced.
const RateLimitReason = "rate limit: "

// IsRateLimitReason reports whether lastErr is a rate-limit wait rather
// than a failure, for `alerts show`.
func IsRateLimitReason(lastErr string) bool { return strings.HasPrefix(lastErr, RateLimitReason) }

// Reason is the delivery's LastError while it waits, for `alerts show`.
func (b limitBlock) Reason() string {
	kind, addr, _ := strings.Cut(b.key, ":")
	what := map[string]string{LimitSMS: "SMS", LimitVoice: "call", LimitEmail: "email"}[kind]
	if what == "" {
		what = "message"
	}
	if b.limit.Count != 1 {
		what += "s"
		if kind == LimitSMS {
			what = "SMS"
		}
	}
	return fmt.Sprintf(RateLimitReason+"%d %s per %s to %s; coalesced, next at %s",
		b.limit.Count, what, ShortDuration(b.limit.Per), addr, b.next.UTC().Format("15:04:05 UTC"))
}

// take reports how many more messages every limited key may receive now,
// counting this one (math.MaxInt when none is limited), and reserves this
// send against each of them, persisting it before the send happens: a
// crash after the send still counts it. held is the reservation to give
// back if the send fails. When a key has no room, nothing is reserved and
// block says which limit and when the first send may go.
func (r *rateLimiter) take(ctx context.Context, keys []string, now time.Time) (left int, block *limitBlock, held []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	left = math.MaxInt
	for _, k := range keys {
		l, ok := r.limitOf(k)
		if !ok {
			continue
		}
		r.loadLocked(ctx, k)
		ts := r.pruneLocked(k, l, now)
		left = min(left, l.Count-len(ts))
		if len(ts) >= l.Count {
			next := ts[len(ts)-l.Count].Add(l.Per)
			if block == nil || next.After(block.next) {
				block = &limitBlock{key: k, limit: l, next: next}
			}
		}
	}
	if block != nil {
		return 0, block, nil
	}
	for _, k := range keys {
		if _, ok := r.limitOf(k); !ok || slices.Contains(held, k) {
			continue
		}
		r.sent[k] = append(r.sent[k], now)
		r.persistLocked(ctx, k, now)
		held = append(held, k)
	}
	return left, nil, held
}

// release gives back a reservation made at at (the send failed: nothing
// reached the recipient, or not known to).
func (r *rateLimiter) release(ctx context.Context, held []string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range held {
		ts := r.sent[k]
		if i := slices.IndexFunc(ts, func(t time.Time) bool { return t.Equal(at) }); i >= 0 {
			r.sent[k] = slices.Delete(slices.Clone(ts), i, i+1)
			r.persistLocked(ctx, k, at)
		}
	}
}

// window is the longest period among the limits of keys: how long a
// delivery may wait for them at most.
func (r *rateLimiter) window(keys []string) time.Duration {
	var w time.Duration
	for _, k := range keys {
		if l, ok := r.limitOf(k); ok {
			w = max(w, l.Per)
		}
	}
	return w
}
