package daemon

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/notify"
	"breakglass/internal/source"
)

// Config-to-behaviour tests: for each default that had two owners (config
// and a runtime package), configuration text goes in and the daemon's
// behaviour is observed.

// TestWebhookTimeoutFromConfig: the webhook's timeout is the configured
// one. It used to be ignored above 10 s: the channel kept its own default
// and only an http.Client timeout was set. Short scale: a 300ms timeout
// must cut off a receiver that answers after 1.5 s, and a 3 s timeout must
// wait for it.
func TestWebhookTimeoutFromConfig(t *testing.T) {
	for _, tc := range []struct {
		timeout   string
		delivered bool
	}{{"300ms", false}, {"3s", true}} {
		t.Run(tc.timeout, func(t *testing.T) {
			e := newEnv(t)
			rcv := newReceiver(t)
			rcv.delay = 1500 * time.Millisecond
			cfg := e.config(t, `sources:
  - type: http
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/h
          timeout: `+tc.timeout+`
`)
			r := start(t, cfg, Options{})
			if code := post(t, r.ingest(t), []byte(signIn("r-timeout"))); code != http.StatusAccepted {
				t.Fatalf("POST = %d", code)
			}
			base := "http://" + r.d.Addr().String()
			if tc.delivered {
				waitFor(t, 10*time.Second, "delivery", func() bool { return len(rcv.snapshot()) == 1 })
				return
			}
			waitFor(t, 10*time.Second, "a timed-out attempt", func() bool {
				_, m := get(t, base+"/metrics")
				return strings.Contains(m, `breakglass_notifications_total{channel="g/webhook",result="retry"}`)
			})
			if n := len(rcv.snapshot()); n != 0 {
				t.Errorf("delivered %d despite a 300ms timeout and a 1.5s receiver", n)
			}
		})
	}
}

// TestLongWebhookTimeoutReachesChannel: above the old 10 s cap, the channel
// gets the configured timeout and the dispatcher's SendTimeout, which bounds
// every send, is longer still, so it never cuts the channel short.
func TestLongWebhookTimeoutReachesChannel(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`accounts: [{upn: a@b.c}]
notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: https://hooks.example/x
          timeout: 45s
        - type: webhook
          url: https://hooks.example/y
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	ns, send, err := buildNotifiers(cfg, &bytes.Buffer{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ns["g/webhook"].(*notify.Webhook).Timeout; got != 45*time.Second {
		t.Errorf("webhook timeout %s, want 45s", got)
	}
	if got := ns["g/webhook-2"].(*notify.Webhook).Timeout; got != notify.DefaultWebhookTimeout {
		t.Errorf("default webhook timeout %s, want %s", got, notify.DefaultWebhookTimeout)
	}
	if send <= 45*time.Second {
		t.Errorf("SendTimeout %s does not exceed the longest channel timeout", send)
	}
}

// TestMaxBodyFromConfig: max_body from the config bounds the http source,
// and without it the default (config.DefaultMaxBody, which is
// source.DefaultMaxBody) does.
func TestMaxBodyFromConfig(t *testing.T) {
	if config.DefaultMaxBody != source.DefaultMaxBody {
		t.Fatalf("config default %d differs from the source's %d", config.DefaultMaxBody, source.DefaultMaxBody)
	}
	pad := func(n int) []byte {
		rec := signIn("r-body")
		return append(bytes.Repeat([]byte(" "), n-len(rec)), rec...)
	}
	for _, tc := range []struct {
		maxBody string
		limit   int
	}{{"    max_body: 4096\n", 4096}, {"", config.DefaultMaxBody}} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config(t, "sources:\n  - type: http\n    listen: %[2]s\n    token: ${"+tokenEnv+"}\n"+tc.maxBody)
			r := start(t, cfg, Options{})
			if code := post(t, r.ingest(t), pad(tc.limit+1)); code != http.StatusRequestEntityTooLarge {
				t.Errorf("body of %d bytes: %d, want 413", tc.limit+1, code)
			}
			if code := post(t, r.ingest(t), pad(tc.limit)); code != http.StatusAccepted {
				t.Errorf("body of %d bytes: %d, want 202", tc.limit, code)
			}
		})
	}
}
