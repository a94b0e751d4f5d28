package daemon

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestInProcess runs the whole daemon in-process: an HTTP push of a
// break-glass sign-in reaches both webhook targets exactly once, and the
// health, readiness and metrics endpoints answer.
func TestInProcess(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/a
        - type: webhook
          url: `+rcv.srv.URL+`/b
`)
	r := start(t, cfg, Options{})
	if code := post(t, r.ingest(t), []byte(signIn("r-inproc"))); code != http.StatusAccepted {
		t.Fatalf("POST = %d", code)
	}
	waitFor(t, 10*time.Second, "both targets", func() bool { return len(rcv.snapshot()) == 2 })
	time.Sleep(300 * time.Millisecond)
	for k, n := range rcv.snapshot() {
		if n != 1 || !strings.HasSuffix(k, " firing") {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	base := "http://" + r.d.Addr().String()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz %d %s", code, body)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{`breakglass_alerts_total{rule="bg.signin"} 1`, `breakglass_notifications_total{channel="oncall/webhook",result="success"} 1`,
		`breakglass_notifications_total{channel="oncall/webhook-2",result="success"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
