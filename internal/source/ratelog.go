package source

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logEvery is how often one repeated message is logged at most; the
// repeats in between are counted and reported with the next line.
const logEvery = 10 * time.Second

// rateLog logs each distinct message at most once per logEvery, so that a
// flood of bad requests (an unauthenticated scanner, a sender retrying a
// body the store cannot take) cannot flood the log. Messages are fixed
// strings, so the map stays small whatever the input.
type rateLog struct {
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	seen map[string]*rateState
}

type rateState struct {
	last       time.Time
	suppressed int
}

func newRateLog(log *slog.Logger, now func() time.Time) *rateLog {
	if now == nil {
		now = time.Now
	}
	return &rateLog{log: log, now: now, seen: map[string]*rateState{}}
}

// Log logs msg at level unless it was logged less than logEvery ago.
func (r *rateLog) Log(level slog.Level, msg string, args ...any) {
	r.mu.Lock()
	st := r.seen[msg]
	if st == nil {
		st = &rateState{}
		r.seen[msg] = st
	}
	now := r.now()
	if !st.last.IsZero() && now.Sub(st.last) < logEvery {
		st.suppressed++
		r.mu.Unlock()
		return
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "repeats_not_logged", n)
	}
	r.log.Log(context.Background(), level, msg, args...)
}
