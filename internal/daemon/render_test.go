package daemon

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/notify"
)

// TestChannelsRenderWithConfiguredTemplates: the daemon hands every channel
// the one renderer built from notify.templates and notify.time_zone, so a
// configured subject template is what a push notification's title says.
func TestChannelsRenderWithConfiguredTemplates(t *testing.T) {
	titles := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := new(mime.WordDecoder)
		title, err := dec.DecodeHeader(r.Header.Get("Title"))
		if err != nil {
			title = r.Header.Get("Title")
		}
		_, _ = io.Copy(io.Discard, r.Body)
		titles <- title
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"m1","event":"message","topic":"bgtopic"}`)
	}))
	defer srv.Close()
	cfg, err := config.Parse("t.yaml", []byte(`accounts: [{upn: bg1@contoso.onmicrosoft.com}]
notify:
  time_zone: Europe/Oslo
  templates:
    subject: "TEMPLATED {{.Severity}} {{.Account.Short}}"
  groups:
    - name: g
      channels:
        - type: push
          provider: ntfy
          url: `+srv.URL+`
          topic: bgtopic
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	ns, _, err := buildNotifiers(cfg, io.Discard, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := ns["g/push"]
	if n == nil {
		t.Fatalf("no g/push target: %v", ns)
	}
	a := alert.Alert{ID: "a1", Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in (success)",
		AccountUPN: "bg1@contoso.onmicrosoft.com", EventTime: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)}
	if err := n.Notify(context.Background(), notify.Notification{ID: "a1", Status: "firing", Alert: a, Attempt: 1, Sent: time.Now()}); err != nil {
		t.Fatal(err)
	}
	got := <-titles
	if want := "TEMPLATED Sev0 bg1@contoso.onmicrosoft.com"; got != want {
		t.Errorf("push title %q, want the configured subject template's %q", got, want)
	}
}

// TestMessagesCarryEvidenceHead: with the daemon's head function, every
// channel's message carries the evidence log's head outside the store, and
// a store that cannot say (empty log) leaves the line out.
func TestMessagesCarryEvidenceHead(t *testing.T) {
	bodies := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"m1","event":"message","topic":"bgtopic"}`)
	}))
	defer srv.Close()
	cfg, err := config.Parse("t.yaml", []byte(`accounts: [{upn: bg1@contoso.onmicrosoft.com}]
notify:
  groups:
    - name: g
      channels:
        - type: push
          provider: ntfy
          url: `+srv.URL+`
          topic: bgtopic
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	head := "42:" + strings.Repeat("0f", 32)
	for _, tc := range []struct{ head, want string }{{head, "Evidence log head: " + head}, {"", ""}} {
		ns, _, err := buildNotifiers(cfg, io.Discard, nil, func() string { return tc.head })
		if err != nil {
			t.Fatal(err)
		}
		a := alert.Alert{ID: "a1", Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in (success)",
			AccountUPN: "bg1@contoso.onmicrosoft.com", EventTime: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)}
		if err := ns["g/push"].Notify(context.Background(), notify.Notification{ID: "a1", Status: "firing", Alert: a, Attempt: 1, Sent: time.Now()}); err != nil {
			t.Fatal(err)
		}
		body := <-bodies
		if tc.want != "" && !strings.Contains(body, tc.want) {
			t.Errorf("message lacks %q:\n%s", tc.want, body)
		}
		if tc.want == "" && strings.Contains(body, "Evidence log head") {
			t.Errorf("message names a head though none is known:\n%s", body)
		}
	}
}
