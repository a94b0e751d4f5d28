package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/notify"
)

// TestTestNotificationSaysTest: the drill reads as a test in every form a
// channel sends, through the renderer serve uses, and has an id no real
// alert has.
func TestTestNotificationSaysTest(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "")
	r, err := notify.NewRenderer(cfg.Notify.RenderOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 3, 4, 5, 6e6, time.UTC)
	for _, sev := range []alert.Severity{alert.Sev0, alert.Sev3} {
		n := TestNotification("oncall", sev, now)
		if n.ID != "test-20261202T030405.006Z" || n.Alert.ID != n.ID || n.Status != "firing" || n.Attempt != 1 {
			t.Errorf("notification = %q %q %q attempt %d", n.ID, n.Alert.ID, n.Status, n.Attempt)
		}
		if n.Alert.Labels[notify.LabelTest] == "" || !strings.HasPrefix(n.Alert.Title, "TEST:") || n.Alert.Severity != sev {
			t.Errorf("alert = %+v", n.Alert)
		}
		m, err := r.Render(n)
		if err != nil {
			t.Fatal(err)
		}
		for form, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML, "short": m.Short, "voice": m.Voice} {
			if !strings.Contains(strings.ToUpper(s), "TEST") {
				t.Errorf("Sev%d %s does not say TEST: %q", sev, form, s)
			}
		}
		if !strings.HasPrefix(m.Subject, "[TEST]") {
			t.Errorf("subject %q does not start with [TEST]", m.Subject)
		}
	}
	if a, b := TestNotification("g", 0, now), TestNotification("g", 0, now.Add(time.Millisecond)); a.ID == b.ID {
		t.Errorf("two drills a millisecond apart share the id %q", a.ID)
	}
}

// TestSendTest: a group that is not configured is a configuration error
// naming the groups there are, and nothing is sent; a configured group's
// channels are all sent to at once (run with -race), results in
// configuration order.
func TestSendTest(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "notify:\n  groups:\n    - name: oncall\n      channels: [{type: console}]\n    - name: mail\n      channels:\n        - {type: console}\n        - {type: exec, name: ok, command: [/bin/sh, -c, 'cat >/dev/null']}\n        - {type: exec, name: bad, command: [/bin/sh, -c, 'exit 4']}\n        - {type: console, name: second}\n")
	var out syncBuffer
	_, err := SendTest(context.Background(), cfg, "nope", TestNotification("nope", 0, time.Now()), &out, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `no notification group "nope"; configured groups: oncall, mail`) {
		t.Fatalf("SendTest = %v, want a ConfigError listing the groups", err)
	}
	if out.String() != "" {
		t.Errorf("something was sent: %q", out.String())
	}
	res, err := SendTest(context.Background(), cfg, "mail", TestNotification("mail", 0, time.Now()), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		target, typ string
		ok          bool
	}{{"mail/console", "console", true}, {"mail/ok", "exec", true}, {"mail/bad", "exec", false}, {"mail/second", "console", true}}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
	}
	for i, w := range want {
		r := res[i]
		if r.Target != w.target || r.Type != w.typ || (r.Err == nil) != w.ok || r.Elapsed <= 0 {
			t.Errorf("result %d = %+v, want %s %s ok=%v", i, r, w.target, w.typ, w.ok)
		}
	}
	if err := res[2].Err; err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("failing exec: %v", err)
	}
	if strings.Count(out.String(), "TEST: ") != 2 {
		t.Errorf("console output lacks the test title: %q", out.String())
	}
}
