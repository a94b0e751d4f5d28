package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

func TestConsoleLine(t *testing.T) {
	sent := time.Date(2026, 7, 1, 12, 0, 5, 0, time.UTC)
	hostile := testAlert("a2")
	hostile.AccountUPN = "evil\n2026-07-01T12:00:00Z FIRING fake"
	hostile.Source = "a file.json:3"
	hostile.Title = "line\nbreak"
	degraded := testAlert("a5")
	degraded.Rule = "bg.unparsed"
	degraded.Title = "Unreadable record mentions a break-glass account (invalid_json)"
	degraded.EventTimeUnknown = true
	degraded.Annotations = map[string]string{"reason": "invalid_json"}
	degraded.Unreadable = []string{"createdDateTime: empty timestamp", "userId: expected a string, got number"}
	idOnly := testAlert("a3")
	idOnly.AccountUPN, idOnly.Account = "", "Break glass 1 (safe A)"
	system := testAlert("a4")
	system.AccountUPN, system.AccountID, system.Rule, system.Severity = "", "", "bg.silence", 1
	system.Title, system.Source = "monitoring is blind", "examples"
	drill := testAlert("a6")
	drill.Labels = map[string]string{alert.LabelDrill: "drl-0123456789ab"}
	drill.IPAddress, drill.Location, drill.App = "203.0.113.7", "Oslo, NO", "Azure Portal"
	canary := testAlert("a7")
	canary.Labels = map[string]string{LabelTest: "canary"}
	tests := []struct {
		name string
		n    Notification
		want string
	}{
		{"drill marked first, where it came from shown", Notification{ID: "a6", Status: store.StatusFiring, Alert: drill, Sent: sent},
			`2026-07-01T12:00:05Z FIRING Sev0 drill=drl-0123456789ab rule=bg.signin account=bg1@contoso.example (11111111-2222-3333-4444-555555555555) title="Break-glass account signed in" ip=203.0.113.7 location="Oslo, NO" app="Azure Portal" event=evt-a6 event_time=2026-07-01T11:59:58Z source=signins.json:12` + "\n"},
		{"test notification marked", Notification{ID: "a7", Status: store.StatusFiring, Alert: canary, Sent: sent},
			`2026-07-01T12:00:05Z FIRING Sev0 test=canary rule=bg.signin account=bg1@contoso.example (11111111-2222-3333-4444-555555555555) title="Break-glass account signed in" event=evt-a7 event_time=2026-07-01T11:59:58Z source=signins.json:12` + "\n"},
		{"firing", Notification{ID: "a1", Status: store.StatusFiring, Alert: testAlert("a1"), Sent: sent},
			`2026-07-01T12:00:05Z FIRING Sev0 rule=bg.signin account=bg1@contoso.example (11111111-2222-3333-4444-555555555555) title="Break-glass account signed in" event=evt-a1 event_time=2026-07-01T11:59:58Z source=signins.json:12` + "\n"},
		{"resolved, hostile values quoted", Notification{ID: "a2-resolved", Status: store.StatusResolved, Alert: hostile, Sent: sent},
			`2026-07-01T12:00:05Z RESOLVED Sev0 rule=bg.signin account="evil\n2026-07-01T12:00:00Z FIRING fake" (11111111-2222-3333-4444-555555555555) title="line\nbreak" event=evt-a2 event_time=2026-07-01T11:59:58Z source="a file.json:3"` + "\n"},
		{"degraded: time unknown, reason and unreadable fields shown", Notification{ID: "a5", Status: store.StatusFiring, Alert: degraded, Sent: sent},
			`2026-07-01T12:00:05Z FIRING Sev0 rule=bg.unparsed account=bg1@contoso.example (11111111-2222-3333-4444-555555555555) title="Unreadable record mentions a break-glass account (invalid_json)" event=evt-a5 event_time=unknown source=signins.json:12 reason=invalid_json unreadable="createdDateTime: empty timestamp; userId: expected a string, got number"` + "\n"},
		{"account by id alone, with its name", Notification{ID: "a3", Status: store.StatusFiring, Alert: idOnly, Sent: sent},
			`2026-07-01T12:00:05Z FIRING Sev0 rule=bg.signin account=11111111-2222-3333-4444-555555555555 name="Break glass 1 (safe A)" title="Break-glass account signed in" event=evt-a3 event_time=2026-07-01T11:59:58Z source=signins.json:12` + "\n"},
		{"no account (the monitor's own alert)", Notification{ID: "a4", Status: store.StatusFiring, Alert: system, Sent: sent},
			`2026-07-01T12:00:05Z FIRING Sev1 rule=bg.silence title="monitoring is blind" event=evt-a4 event_time=2026-07-01T11:59:58Z source=examples` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := NewConsole(&buf).Notify(context.Background(), tt.n); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got  %q\nwant %q", buf.String(), tt.want)
			}
		})
	}
}

func TestConsoleConcurrent(t *testing.T) {
	var buf bytes.Buffer // the Console's lock is all that protects it
	c := NewConsole(&buf)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := c.Notify(context.Background(), Notification{Status: store.StatusFiring, Alert: testAlert(fmt.Sprint("a", i))}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, " FIRING Sev0 rule=bg.signin ") || !strings.HasSuffix(l, "source=signins.json:12") {
			t.Errorf("mangled line %q", l)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestConsoleWriteError(t *testing.T) {
	err := NewConsole(failWriter{}).Notify(context.Background(), Notification{Alert: testAlert("a1")})
	if err == nil || IsPermanent(err) {
		t.Errorf("err = %v, want a retryable error", err)
	}
}
