package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/notify"
	"breakglass/internal/store"
)

// TestResult is one channel's outcome of a test notification.
type TestResult struct {
	Target  string // group/name
	Type    string // channel type
	Elapsed time.Duration
	// Err is nil when the channel accepted the notification. Channels
	// scrub their errors (no URLs, tokens or echoed secrets).
	Err error
}

// TestNotification is the drill notification `notify test` sends: labelled
// notify.LabelTest, titled "TEST: ...", with an alert id of its own
// ("test-<UTC time>") so that no receiver dedupes it against, or mistakes
// it for, a real alert. Only the firing message is sent. sev is what the
// drill exercises: a channel maps it to its priority (Pushover emergency,
// PagerDuty critical) exactly as for a real alert of that severity.
func TestNotification(group string, sev alert.Severity, now time.Time) notify.Notification {
	now = now.UTC()
	id := "test-" + now.Format("20060102T150405.000Z")
	a := alert.Alert{
		ID:        id,
		Rule:      notify.LabelTest,
		Severity:  sev,
		Title:     "TEST: breakglass test notification for group " + group + " (a drill: no action is needed)",
		EventID:   id,
		EventTime: now,
		Detected:  now,
		Category:  notify.LabelTest,
		Source:    "breakglass notify test",
		Labels:    map[string]string{notify.LabelTest: "drill"},
		Annotations: map[string]string{
			"summary": "A drill sent by `breakglass notify test`. If you received it, this channel works.",
		},
	}
	a.Labels = a.StandardLabels()
	return notify.Notification{
		ID:      notify.NotificationID(id, store.StatusFiring),
		Status:  store.StatusFiring,
		Alert:   a,
		Attempt: 1,
		Sent:    now,
	}
}

// GroupNames lists the configured notification groups, in order.
func GroupNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Notify.Groups))
	for _, g := range cfg.Notify.Groups {
		names = append(names, g.Name)
	}
	return names
}

// SendTest builds the channels of group exactly as serve does and sends n
// through every one of them at once, each bounded as the dispatcher bounds
// it (a Bounded channel's own timeout plus a margin, else serve's send
// timeout). It returns one result per channel in configuration order. An
// unknown group or a channel that cannot be built is a *ConfigError.
// stdout is what a console channel writes to.
func SendTest(ctx context.Context, cfg *config.Config, group string, n notify.Notification, stdout io.Writer, log *slog.Logger) ([]TestResult, error) {
	gi := slices.IndexFunc(cfg.Notify.Groups, func(g config.GroupConfig) bool { return g.Name == group })
	if gi < 0 {
		return nil, configErrorf("%s: no notification group %q; configured groups: %s",
			cfg.Path, group, strings.Join(GroupNames(cfg), ", "))
	}
	// The whole configuration is built, as serve builds it: a channel that
	// would stop serve from starting fails the test too.
	notifiers, sendTimeout, err := buildNotifiers(cfg, stdout, log, nil)
	if err != nil {
		return nil, err
	}
	g := cfg.Notify.Groups[gi]
	if len(g.Channels) == 0 {
		// config rejects this; a drill through nothing must not pass.
		return nil, configErrorf("%s: notification group %q has no channels", cfg.Path, group)
	}
	results := make([]TestResult, len(g.Channels))
	var wg sync.WaitGroup
	for i, ch := range g.Channels {
		target := g.Target(i)
		results[i] = TestResult{Target: target, Type: ch.Type}
		nf, ok := notifiers[target]
		if !ok {
			// buildNotifiers builds every channel or fails; fail closed
			// should that ever change.
			results[i].Err = fmt.Errorf("channel %s was not built", target)
			continue
		}
		timeout := sendTimeout
		if b, ok := nf.(notify.Bounded); ok && b.SendTimeout() > 0 {
			timeout = b.SendTimeout() + sendMargin
		}
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			// nil means the provider accepted it: every channel checks
			// status and body, as for a real page.
			results[i].Err = nf.Notify(sctx, n)
			results[i].Elapsed = time.Since(start)
		})
	}
	wg.Wait()
	return results, nil
}
