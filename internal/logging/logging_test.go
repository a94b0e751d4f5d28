package logging

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func lines(b *bytes.Buffer) []string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestFloodIsBounded is the log-flood finding of issue 7: a store that
// cannot record deliveries made the daemon log 34,000 lines/s. The same
// error 100,000 times in one window must cost Burst lines, and the next
// window one summary line counting the rest.
func TestFloodIsBounded(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	log := New(&buf, Options{Level: "info", Format: "text", Now: clk.now})
	storeErr := errors.New("attempt to write a readonly database")
	const flood = 100000
	for i := range flood {
		log.Error("recording delivery failed", "delivery_id", i, "target", "ops/webhook", "error", storeErr)
	}
	got := lines(&buf)
	if len(got) != DefaultBurst {
		t.Fatalf("%d lines for %d identical errors, want %d:\n%s", len(got), flood, DefaultBurst, buf.String())
	}
	buf.Reset()
	clk.add(DefaultWindow)
	Sweep(context.Background(), log)
	got = lines(&buf)
	if len(got) != 1 || !strings.Contains(got[0], "99995 more like this in the last 1m0s") || !strings.Contains(got[0], "target=ops/webhook") {
		t.Fatalf("summary = %q", got)
	}
	// A new window lets the message through again.
	buf.Reset()
	log.Error("recording delivery failed", "delivery_id", 1, "target", "ops/webhook", "error", storeErr)
	if n := len(lines(&buf)); n != 1 {
		t.Fatalf("after the window: %d lines, want 1", n)
	}
}

func TestDistinctMessagesAndAttrsPass(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	log := New(&buf, Options{Format: "json", Now: clk.now})
	tests := []struct {
		msg  string
		args []any
	}{
		{"source failing", []any{"source", "a"}},
		{"source failing", []any{"source", "b"}},
		{"source recovered", []any{"source", "a"}},
		{"source failing", []any{"source", "a", "error", "403"}},
	}
	for _, tc := range tests {
		log.Warn(tc.msg, tc.args...)
	}
	log.With("component", "x").Warn("source failing", "source", "a")
	if n := len(lines(&buf)); n != len(tests)+1 {
		t.Errorf("%d lines, want %d:\n%s", n, len(tests)+1, buf.String())
	}
}

// TestVaryingAttrsCapped: a flood whose attributes all differ is still
// capped per message.
func TestVaryingAttrsCapped(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	log := New(&buf, Options{Now: clk.now})
	for i := range 10000 {
		log.Error("claim failed", "error", errors.New(strings.Repeat("x", i%997)))
	}
	if n := len(lines(&buf)); n != DefaultMessageBurst {
		t.Errorf("%d lines, want %d", n, DefaultMessageBurst)
	}
	buf.Reset()
	Flush(context.Background(), log)
	if !strings.Contains(buf.String(), "more like this") {
		t.Errorf("Flush printed no summary: %q", buf.String())
	}
}

func TestLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Options{Level: "warn", Format: "json"})
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("output %q", s)
	}
	if !log.Enabled(context.Background(), slog.LevelWarn) || log.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("Enabled does not follow the level")
	}
}

// TestKeysBounded: no input can grow the limiter's memory.
func TestKeysBounded(t *testing.T) {
	var buf bytes.Buffer
	l := Limit(slog.NewTextHandler(&buf, nil), LimitOptions{})
	log := slog.New(l)
	for i := range 3 * maxKeys {
		log.Info("m"+strings.Repeat("y", i%50), "n", i)
	}
	l.st.mu.Lock()
	n := len(l.st.keys)
	l.st.mu.Unlock()
	if n > maxKeys {
		t.Errorf("%d keys, bound %d", n, maxKeys)
	}
}
