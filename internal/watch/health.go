package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
)

// RuleSource is the built-in rule that fires when part of a source (a Graph
// query, a file, a listener) keeps failing.
const RuleSource = "bg.source"

// maxErrorText bounds the error text kept in a bg.source alert. Errors
// come scrubbed of secrets from the sources.
const maxErrorText = 300

// SourceHealth raises bg.source when a source reports that one of its parts
// keeps failing (source.Sink.Failing), and resolves it on Recovered. One
// failure episode is one alert, however often Failing is called and whatever
// the error says meanwhile; the open episode is a Condition in the store, so
// a restart neither loses nor repeats it.
type SourceHealth struct {
	o  Options
	mu sync.Mutex // serialises transitions per pipeline
}

type sourceData struct {
	Source   string    `json:"source"`
	Key      string    `json:"key"`
	Error    string    `json:"error"`
	Since    time.Time `json:"since"`
	Detected time.Time `json:"detected"`
}

func newSourceHealth(o Options) *SourceHealth { return &SourceHealth{o: o} }

func conditionKey(source, key string) string { return source + "\x00" + key }

// Failing raises bg.source for (source, key) unless an episode is open.
func (h *SourceHealth) Failing(ctx context.Context, source, key string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.o.Now().UTC()
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "…"
	}
	ck := conditionKey(source, key)
	c, open, cerr := h.o.Conditions.Condition(ctx, RuleSource, ck)
	if cerr != nil {
		h.o.Logger.Error("reading source condition", "source", source, "key", key, "error", cerr)
	}
	if open {
		// Same episode: keep the latest error for people, raise nothing.
		data, _ := json.Marshal(sourceData{Source: source, Key: key, Error: msg, Since: c.Since, Detected: now})
		c.Data, c.Updated = data, now
		if err := h.o.Conditions.SetCondition(ctx, c); err != nil {
			h.o.Logger.Error("recording source condition", "source", source, "key", key, "error", err)
		}
		h.o.Logger.Warn("source still failing", "source", source, "key", key, "error", msg, "alert_id", c.AlertID)
		return
	}
	eventID := "source:" + source + ":" + key + ":" + now.Format(time.RFC3339Nano)
	what := key
	if what == "" {
		what = "its input"
	}
	a := alert.Alert{
		ID:       alert.Key(eventID, RuleSource),
		Rule:     RuleSource,
		Severity: alert.Sev1,
		Title: fmt.Sprintf("Break-glass monitoring is failing: log source %q cannot read %s: %s",
			source, what, titleDetail(msg, key)),
		EventID:   eventID,
		EventTime: now,
		Category:  "Source",
		Source:    source,
		Detected:  now,
		Annotations: map[string]string{
			"description": fmt.Sprintf("Since %s UTC every attempt of source %q to read %s has failed, so break-glass activity there may be going unseen. Last error: %s", now.Format("2006-01-02 15:04"), source, what, msg),
			"key":         key,
		},
	}
	labelAlert(&a, source, h.o.tenantFor(source, key))
	data, _ := json.Marshal(sourceData{Source: source, Key: key, Error: msg, Since: now, Detected: now})
	inserted, err2 := raise(ctx, h.o, a, data, Condition{Rule: RuleSource, Key: ck, AlertID: a.ID, Since: now, Updated: now, Data: data})
	if err2 != nil {
		h.o.Logger.Error("storing source alert", "source", source, "key", key, "error", err2)
		return
	}
	if inserted {
		h.o.Metrics.alert(source, RuleSource)
	}
	h.o.Metrics.sourceFailing(source, 1)
	h.o.Logger.Warn("source failing", "source", source, "key", key, "error", msg, "alert_id", a.ID)
}

// Recovered resolves an open bg.source episode of (source, key).
func (h *SourceHealth) Recovered(ctx context.Context, source, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ck := conditionKey(source, key)
	c, open, err := h.o.Conditions.Condition(ctx, RuleSource, ck)
	if err != nil {
		h.o.Logger.Error("reading source condition", "source", source, "key", key, "error", err)
		return
	}
	if !open {
		return
	}
	if err := resolve(ctx, h.o, RuleSource, ck, c.AlertID); err != nil {
		h.o.Logger.Error("resolving source alert", "source", source, "key", key, "error", err)
		return
	}
	h.o.Metrics.sourceFailing(source, -1)
	h.o.Logger.Info("source recovered; alert resolved", "source", source, "key", key, "alert_id", c.AlertID)
}

// Open counts open bg.source episodes per source (for metrics at start).
func (h *SourceHealth) Open(ctx context.Context) (map[string]int, error) {
	cs, err := h.o.Conditions.Conditions(ctx, RuleSource)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, c := range cs {
		src, _, _ := strings.Cut(c.Key, "\x00")
		out[src]++
	}
	return out, nil
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// titleDetail is the first line of msg without a leading "graph query
// <key>: ", which the title already names: it read "cannot read
// signIns/interactive/<id>: graph query signIns/interactive/<id>: graph:
// GET ...", the query twice before the reason.
func titleDetail(msg, key string) string {
	line := firstLine(msg)
	if key != "" {
		line = strings.TrimPrefix(line, "graph query "+key+": ")
	}
	return line
}
