package notify

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

// TestDispatcherHonoursWebhookTimeout is the wiring behind the webhook
// `timeout` key, at a short scale: a receiver answers after 300ms; the
// dispatcher's SendTimeout (200ms here, like the 10s cap that used to win)
// must not cut a channel timeout of 900ms short, however the webhook got it
// (its Timeout field or, as serve builds it, the client's Timeout). A
// timeout below the answer time still fails, retryably.
func TestDispatcherHonoursWebhookTimeout(t *testing.T) {
	const answerAfter = 300 * time.Millisecond
	tests := []struct {
		name          string
		field, client time.Duration
		wantDelivered bool
	}{
		{"Webhook.Timeout above SendTimeout", 900 * time.Millisecond, 0, true},
		{"client Timeout above SendTimeout", 0, 900 * time.Millisecond, true},
		{"timeout below the answer time", 100 * time.Millisecond, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(answerAfter):
					w.WriteHeader(http.StatusNoContent)
				case <-r.Context().Done():
				}
			})
			var client *http.Client
			if tt.client > 0 {
				client = &http.Client{Timeout: tt.client}
			}
			w, err := NewWebhook("ops/webhook", srv.URL, nil, client)
			if err != nil {
				t.Fatal(err)
			}
			w.Timeout = tt.field
			want := max(tt.field, tt.client)
			if got := w.SendTimeout(); got != want {
				t.Errorf("SendTimeout() = %v, want %v", got, want)
			}
			ob := newFakeOutbox()
			id := ob.add(testAlert("a1"), store.StatusFiring, "ops/webhook", time.Now())
			log, _ := testLogger(t)
			d := NewDispatcher(ob, map[string]Notifier{"ops/webhook": w}, Options{Logger: log, SendTimeout: 200 * time.Millisecond, Poll: time.Hour})
			start(t, d)
			if tt.wantDelivered {
				if got := wait(t, ob.complete, "completion"); got != id {
					t.Fatalf("completed %d", got)
				}
				return
			}
			r := wait(t, ob.retried, "retry")
			if !strings.Contains(r.LastErr, "no response within 100ms") {
				t.Errorf("last error %q, want the webhook's own timeout", r.LastErr)
			}
		})
	}
	// Without any timeout the webhook takes DefaultWebhookTimeout, and the
	// dispatcher gives it that plus a margin.
	w, err := NewWebhook("d", "http://127.0.0.1:1/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher(newFakeOutbox(), nil, Options{SendTimeout: time.Second})
	if got := d.sendTimeout(w); got != DefaultWebhookTimeout+sendMargin {
		t.Errorf("send timeout for a default webhook = %v, want %v", got, DefaultWebhookTimeout+sendMargin)
	}
	if got := d.sendTimeout(NewConsole(nil)); got != time.Second {
		t.Errorf("send timeout for the console = %v, want SendTimeout", got)
	}
}

func TestDispatcherDefaults(t *testing.T) {
	d := NewDispatcher(newFakeOutbox(), nil, Options{})
	o := d.o
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"Poll", o.Poll, DefaultPoll},
		{"MinBackoff", o.MinBackoff, DefaultMinBackoff},
		{"MaxBackoff", o.MaxBackoff, DefaultMaxBackoff},
		{"GiveUpAfter", o.GiveUpAfter, DefaultGiveUpAfter},
		{"SendTimeout", o.SendTimeout, DefaultSendTimeout},
		{"LeaseMargin", o.LeaseMargin, DefaultLeaseMargin},
		{"ShutdownGrace", o.ShutdownGrace, DefaultShutdownGrace},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if o.PerTarget != DefaultPerTarget {
		t.Errorf("PerTarget = %d, want %d", o.PerTarget, DefaultPerTarget)
	}
	if o.Owner == "" || o.Owner == NewDispatcher(newFakeOutbox(), nil, Options{}).Owner() {
		t.Errorf("owner %q is not unique per dispatcher", o.Owner)
	}
	if d.leaseLocked() != DefaultSendTimeout+DefaultLeaseMargin {
		t.Errorf("lease %v", d.leaseLocked())
	}
}

func TestLogLimiter(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	l := newLogLimiter(log, time.Minute)
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.log(slog.LevelError, "store failed", "k", "i", i)
		l.log(slog.LevelWarn, "other", "k")
	}
	l.log(slog.LevelError, "store failed", "another key")
	if got := strings.Count(buf.String(), "\n"); got != 3 {
		t.Fatalf("%d lines for 2001 calls within a window, want 3:\n%s", got, buf.String())
	}
	now = now.Add(time.Minute)
	l.flush()
	out := buf.String()
	if !strings.Contains(out, "store failed (999 more like this in the last 1m0s)") || !strings.Contains(out, "other (999 more like this") {
		t.Errorf("no summaries:\n%s", out)
	}
	if strings.Contains(out, "another key (") {
		t.Errorf("summary for a key with nothing held back:\n%s", out)
	}
	// After the window, the next one is logged again (the first, the other
	// key's, and this one).
	l.log(slog.LevelError, "store failed", "k")
	if got := strings.Count(buf.String(), "level=ERROR msg=\"store failed\""); got != 3 {
		t.Errorf("%d plain lines after the window, want 3:\n%s", got, buf.String())
	}
	// Memory stays bounded whatever the keys.
	for i := range 10 * maxLimitKeys {
		l.log(slog.LevelError, "varied", fmt.Sprint(i))
	}
	if n := len(l.seen); n > maxLimitKeys+1 {
		t.Errorf("%d keys held, want at most %d", n, maxLimitKeys+1)
	}
}

func TestValidateWebhookShared(t *testing.T) {
	// The config check calls these; NewWebhook applies the same rules, so
	// the two can never disagree.
	for _, tc := range []struct {
		url     string
		headers map[string]string
	}{
		{"http://h.example/", map[string]string{"X Bad": "v"}},
		{"http://h.example/", map[string]string{"Authorization": "Bearer a\nb"}},
		{"ftp://h.example/", nil},
		{"http://u:s3cret@[::1/x", nil},
		{"https://h.example/ok", map[string]string{"Authorization": "Bearer ok"}},
	} {
		_, werr := NewWebhook("n", tc.url, tc.headers, nil)
		verr := ValidateWebhookURL(tc.url)
		for k, v := range tc.headers {
			if err := ValidateWebhookHeader(k, v); err != nil && verr == nil {
				verr = err
			}
		}
		if (werr == nil) != (verr == nil) {
			t.Errorf("%s %v: NewWebhook %v, Validate %v", tc.url, tc.headers, werr, verr)
		}
		if verr != nil && (strings.Contains(verr.Error(), "s3cret") || strings.Contains(verr.Error(), "Bearer a")) {
			t.Errorf("validation error leaks a secret: %v", verr)
		}
	}
}
