package daemon

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/notify"
)

// settable is a clock for Options.Now.
type settable struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settable) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settable) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRateLimitThroughDaemon: serve with an SMS channel and Azure's
// default limit: three sign-ins within a minute give one SMS at once and
// one more, 5 minutes later, carrying the other two; /metrics counts the
// held and coalesced deliveries, and the limiter's state is in the store.
func TestRateLimitThroughDaemon(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(b))
		mu.Lock()
		bodies = append(bodies, f.Get("Body"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM0123","status":"queued"}`))
	}))
	t.Cleanup(twilio.Close)
	sent := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), bodies...) }

	e := newEnv(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: sms
          provider: twilio
          url: `+twilio.URL+`
          to: ["+4712345678"]
          account_sid: AC0123456789abcdef0123456789abcdef
          auth_token: not-a-real-token
          from: "+4798765432"
`)
	// Deliveries are created at the store's real time; the daemon's clock
	// runs an hour ahead so each is due.
	clk := &settable{t: time.Now().Add(time.Hour)}
	r := start(t, cfg, Options{Now: clk.Now})
	addr := r.ingest(t)
	post(t, addr, []byte(signIn("rl-1")))
	waitFor(t, 5*time.Second, "the first SMS", func() bool { return len(sent()) == 1 }, r.logs.String)
	post(t, addr, []byte(signIn("rl-2")+signIn("rl-3")))
	metrics := func() string { _, m := get(t, "http://"+r.d.Addr().String()+"/metrics"); return m }
	waitFor(t, 5*time.Second, "two deliveries held", func() bool {
		return strings.Contains(metrics(), `breakglass_notifications_rate_limited_total{channel="oncall/sms"} 2`)
	}, r.logs.String)
	if n := len(sent()); n != 1 {
		t.Fatalf("%d SMS within the 5 minutes; want 1", n)
	}
	clk.Add(5 * time.Minute)
	r.d.disp.Wake()
	waitFor(t, 5*time.Second, "the coalesced SMS", func() bool { return len(sent()) == 2 }, r.logs.String)
	if b := sent()[1]; !strings.Contains(b, "2 alerts in one") {
		t.Errorf("second SMS %q does not carry the two held alerts", b)
	}
	if m := metrics(); !strings.Contains(m, `breakglass_notifications_coalesced_total{channel="oncall/sms"} 2`) {
		t.Errorf("coalesced metric missing:\n%s", m)
	}
	if c, ok, err := r.d.st.Condition(t.Context(), notify.LimitRule, "sms:+4712345678"); err != nil || !ok || len(c.Data) == 0 {
		t.Errorf("limiter state not in the store: %+v %v %v", c, ok, err)
	}
	if !strings.Contains(r.logs.String(), "limits=\"sms 1/5m, voice 1/5m, email 100/1h\"") {
		t.Errorf("the effective limits are not logged at start")
	}
}
