package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// The fail paths every HTTP channel shares, run through the real
// dispatcher against a loopback receiver: failing N times then accepting,
// hanging past the channel's timeout, and 429 with Retry-After. One table
// holds every HTTP channel, the chat and incident ones (chatCases) and the
// phone, push and webhook ones, so none is left out of a path.

const (
	httpFailBearer = "Bearer hf-b3arer-t0ken-4242"
	httpFailGwKey  = "hf-gw-qu3ry-key-7777"
)

// httpChannel is one HTTP channel under the fail-path tests.
type httpChannel struct {
	name string // the channel's name; the target is "ops/<name>"
	kind string // the channel type, which starts every error: `<kind> "ops/<name>"`
	// config points the channel at base, the receiver's URL.
	config func(base string) ChannelConfig
	// accepted writes the provider's success answer.
	accepted func(w http.ResponseWriter)
	// key is the idempotency key a request carries, nil where the API has
	// none.
	key func(t *testing.T, c captured) string
	// perChannel: the key is the notification's on this channel
	// (DeliveryKey), not the alert's (PagerDuty, Opsgenie).
	perChannel bool
	// secrets must never reach a stored error or the log.
	secrets []string
}

func (c httpChannel) target() string { return "ops/" + c.name }

// label is how the channel's errors start.
func (c httpChannel) label() string { return c.kind + " " + strconv.Quote(c.target()) }

func httpChannels() []httpChannel {
	var out []httpChannel
	for _, c := range chatCases() {
		h := httpChannel{name: c.name, kind: c.name, config: c.config, accepted: c.accepted, secrets: c.secrets}
		if c.name == "pagerduty" || c.name == "opsgenie" {
			h.key = func(t *testing.T, r captured) string { return idempotencyKey(t, c.name, r.body) }
		}
		out = append(out, h)
	}
	headerKey := func(_ *testing.T, r captured) string { return r.header.Get(IdempotencyHeader) }
	webhook := func(schema string) func(string) ChannelConfig {
		return func(base string) ChannelConfig {
			return &WebhookConfig{URL: secret.Secret(base + "/hook"), Schema: schema,
				Headers: map[string]secret.Secret{"Authorization": httpFailBearer}}
		}
	}
	twilioAccepted := func(sid string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) { twilioCreated(w, sid) }
	}
	out = append(out,
		httpChannel{name: "webhook-common", kind: "webhook", config: webhook(SchemaCommon),
			accepted: func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }, key: headerKey, perChannel: true,
			secrets: []string{httpFailBearer, strings.TrimPrefix(httpFailBearer, "Bearer ")}},
		httpChannel{name: "webhook-native", kind: "webhook", config: webhook(SchemaBreakglass),
			accepted: func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }, key: headerKey, perChannel: true,
			secrets: []string{httpFailBearer, strings.TrimPrefix(httpFailBearer, "Bearer ")}},
		httpChannel{name: "sms-twilio", kind: "sms", config: func(b string) ChannelConfig { return twilioSMS(b, testTo1) },
			accepted: twilioAccepted("SM0123"), secrets: []string{testToken}},
		httpChannel{name: "sms-gateway", kind: "sms",
			config: func(b string) ChannelConfig {
				return &SMSConfig{Provider: "gateway", URL: secret.Secret(b + "/send?key=" + httpFailGwKey), To: []string{testTo1},
					Headers: map[string]secret.Secret{"Authorization": httpFailBearer},
					Body:    `{"id":{{json .ID}},"to":{{json .To}},"text":{{json .Body}}}`, Accept: `"status":"ok"`}
			},
			accepted: func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"status":"ok"}`)) },
			key: func(t *testing.T, r captured) string {
				var v struct{ ID string }
				if err := json.Unmarshal(r.body, &v); err != nil {
					t.Fatalf("gateway body: %v\n%s", err, r.body)
				}
				return v.ID
			},
			perChannel: true,
			secrets:    []string{httpFailGwKey, httpFailBearer, strings.TrimPrefix(httpFailBearer, "Bearer ")}},
		httpChannel{name: "voice", kind: "voice", config: func(b string) ChannelConfig { return twilioVoice(b, testTo1) },
			accepted: twilioAccepted("CA0123"), secrets: []string{testToken}},
		httpChannel{name: "ntfy", kind: "push", config: func(b string) ChannelConfig {
			return &PushConfig{Provider: "ntfy", URL: b, Topic: "bg-hf-topic-5150", Token: "tk_hfntfyt0k3n0000"}
		}, accepted: ntfyPublished, secrets: []string{"tk_hfntfyt0k3n0000", "bg-hf-topic-5150"}},
		httpChannel{name: "pushover", kind: "push", config: func(b string) ChannelConfig {
			return &PushConfig{Provider: "pushover", URL: b, Token: testPoToken, User: testPoUser}
		}, accepted: func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"status":1,"request":"5042853c-402d-4a18-abcb-168734a801de"}`))
		}, secrets: []string{testPoToken, testPoUser}},
	)
	return out
}

// buildHTTPChannel validates and builds c as the daemon does, bounded by
// timeout.
func buildHTTPChannel(t *testing.T, c httpChannel, base string, timeout time.Duration) Notifier {
	t.Helper()
	cfg := c.config(base)
	var probs []string
	cfg.Validate(func(field, msg string) { probs = append(probs, field+": "+msg) })
	if len(probs) > 0 {
		t.Fatalf("Validate: %v", probs)
	}
	n, err := cfg.Build(BuildEnv{Target: c.target(), Timeout: timeout, Render: ackRender, HTTP: &http.Client{}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if b, ok := n.(Bounded); !ok || b.SendTimeout() != timeout {
		t.Fatalf("%T is not Bounded by its timeout %s", n, timeout)
	}
	return n
}

// fastDispatcher runs the real dispatcher on ob with millisecond backoffs.
func fastDispatcher(t *testing.T, ob *fakeOutbox, c httpChannel, n Notifier, o Options) {
	t.Helper()
	log, logs := testLogger(t)
	o.Logger = log
	if o.Poll == 0 {
		o.Poll = 5 * time.Millisecond
	}
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = time.Millisecond, 4*time.Millisecond
	}
	start(t, NewDispatcher(ob, map[string]Notifier{c.target(): n}, o))
	t.Cleanup(func() {
		for _, s := range c.secrets {
			if strings.Contains(logs.String(), s) {
				t.Errorf("log leaks %q", s)
			}
		}
	})
}

// checkRetries checks the attempts the outbox recorded: numbered from 1,
// each error naming the channel and its endpoint first, and carrying no
// secret.
func checkRetries(t *testing.T, c httpChannel, retries []retryRec, want ...string) {
	t.Helper()
	if len(retries) != len(want) {
		t.Fatalf("%d failed attempts recorded, want %d: %+v", len(retries), len(want), retries)
	}
	for i, r := range retries {
		if r.Attempts != i+1 {
			t.Errorf("retry %d recorded attempt %d", i+1, r.Attempts)
		}
		if !strings.HasPrefix(r.LastErr, c.label()+": POST http://127.0.0.1:") {
			t.Errorf("stored error %q does not start with the channel (%s) and endpoint", r.LastErr, c.label())
		}
		if !strings.Contains(r.LastErr, want[i]) {
			t.Errorf("attempt %d: stored error %q lacks %q", i+1, r.LastErr, want[i])
		}
		for _, s := range c.secrets {
			if strings.Contains(r.LastErr, s) {
				t.Errorf("stored error leaks %q: %s", s, r.LastErr)
			}
		}
	}
}

// checkOneDelivery: exactly one completion was recorded, and no request
// reached the receiver after it (a delivered row must not be sent again).
func checkOneDelivery(t *testing.T, ob *fakeOutbox, rc *capture, id int64, wantRequests int) {
	t.Helper()
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d, want %d", got, id)
	}
	time.Sleep(60 * time.Millisecond) // a dozen polls
	ob.mu.Lock()
	completes, completed := ob.completes, len(ob.completed)
	ob.mu.Unlock()
	if completes != 1 || completed != 1 {
		t.Errorf("CompleteDelivery called %d times for %d deliveries; want exactly one delivery recorded once", completes, completed)
	}
	if n := len(rc.requests()); n != wantRequests {
		t.Errorf("receiver saw %d requests, want %d", n, wantRequests)
	}
}

// checkKeys: every try carried the same idempotency key, the
// notification's id (nid) on this channel (DeliveryKey) or, for PagerDuty
// and Opsgenie, the alert's, so a receiver deduping on it processes the
// alert once.
func checkKeys(t *testing.T, c httpChannel, reqs []captured, nid string) {
	t.Helper()
	if c.key == nil {
		return
	}
	want := nid
	if c.perChannel {
		want = DeliveryKey(nid, c.target())
	}
	for i, r := range reqs {
		if k := c.key(t, r); k != want {
			t.Errorf("try %d carried idempotency key %q, want %q", i+1, k, want)
		}
	}
}

func (ob *fakeOutbox) retryRecs() []retryRec {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return append([]retryRec(nil), ob.retries...)
}

// TestHTTPChannelFailsThenDelivers: a receiver fails four times (503, a
// 500 echoing the request's credentials, 425 and 408, which the one rule
// of RetryableStatus makes retryable for every channel) and then accepts.
// The dispatcher retries each failure as retryable (not as a rejection),
// records each attempt with an error naming the channel, delivers on the
// fifth try and records exactly one delivery; every try carries the same
// idempotency key.
func TestHTTPChannelFailsThenDelivers(t *testing.T) {
	for _, c := range httpChannels() {
		t.Run(c.name, func(t *testing.T) {
			rc, srv := newReceiver(t, func(i int, w http.ResponseWriter, r *http.Request) {
				switch i {
				case 0:
					w.WriteHeader(http.StatusServiceUnavailable)
				case 1:
					w.WriteHeader(http.StatusInternalServerError)
					fmt.Fprintf(w, "%s?%s auth=%s", r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"))
				case 2:
					w.WriteHeader(http.StatusTooEarly)
				case 3:
					w.WriteHeader(http.StatusRequestTimeout)
				default:
					c.accepted(w)
				}
			})
			n := buildHTTPChannel(t, c, srv.URL, 2*time.Second)
			ob := newFakeOutbox()
			a := fullAlert()
			id := ob.add(a, store.StatusFiring, c.target(), time.Now())
			var mu sync.Mutex
			var results []string
			fastDispatcher(t, ob, c, n, Options{Observe: func(_, result string, _ time.Duration) {
				mu.Lock()
				results = append(results, result)
				mu.Unlock()
			}})
			checkOneDelivery(t, ob, rc, id, 5)
			checkRetries(t, c, ob.retryRecs(), "HTTP 503", "HTTP 500", "HTTP 425", "HTTP 408")
			mu.Lock()
			if got := strings.Join(results, " "); got != "retry retry retry retry success" {
				t.Errorf("attempts observed as %q, want four retryable failures and a success", got)
			}
			mu.Unlock()
			checkKeys(t, c, rc.requests(), NotificationID(a.ID, store.StatusFiring))
		})
	}
}

// TestHTTPChannelTimeoutRetried: a receiver that hangs past the channel's
// timeout costs one attempt of that timeout (not the dispatcher's longer
// SendTimeout, not a hang): the attempt is recorded as failed with a
// timeout error naming the channel, and the retry delivers.
func TestHTTPChannelTimeoutRetried(t *testing.T) {
	const timeout = 150 * time.Millisecond
	for _, c := range httpChannels() {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var hungFor time.Duration
			rc, srv := newReceiver(t, func(i int, w http.ResponseWriter, r *http.Request) {
				if i == 0 {
					began := time.Now()
					select {
					case <-r.Context().Done(): // the channel gave up
					case <-time.After(10 * time.Second):
					}
					mu.Lock()
					hungFor = time.Since(began)
					mu.Unlock()
					return
				}
				c.accepted(w)
			})
			n := buildHTTPChannel(t, c, srv.URL, timeout)
			ob := newFakeOutbox()
			a := fullAlert()
			id := ob.add(a, store.StatusFiring, c.target(), time.Now())
			began := time.Now()
			fastDispatcher(t, ob, c, n, Options{SendTimeout: 10 * time.Second})
			r := wait(t, ob.retried, "the timed-out attempt")
			if took := time.Since(began); took > 3*time.Second {
				t.Errorf("the attempt failed after %s with a %s timeout", took, timeout)
			}
			checkOneDelivery(t, ob, rc, id, 2)
			checkRetries(t, c, []retryRec{r}, "no response within 150ms")
			if got := ob.retryRecs(); len(got) != 1 {
				t.Errorf("%d failed attempts recorded, want the one timeout: %+v", len(got), got)
			}
			mu.Lock()
			defer mu.Unlock()
			if hungFor < timeout-20*time.Millisecond || hungFor > 3*time.Second {
				t.Errorf("the channel gave up on the hung request after %s, want about %s", hungFor, timeout)
			}
			checkKeys(t, c, rc.requests(), NotificationID(a.ID, store.StatusFiring))
		})
	}
}

// TestHTTPChannelRetryAfterHonoured: a 429 with Retry-After: 7 schedules
// the next attempt exactly 7s later (on the dispatcher's clock, which the
// test moves), and nothing is sent before then, however often the
// dispatcher polls; at 7s the retry goes out and delivers.
func TestHTTPChannelRetryAfterHonoured(t *testing.T) {
	const retryAfter = 7 * time.Second
	for _, c := range httpChannels() {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			t0 := clk.Now()
			var mu sync.Mutex
			var arrivals []time.Time // on the dispatcher's clock
			rc, srv := newReceiver(t, func(i int, w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				arrivals = append(arrivals, clk.Now())
				mu.Unlock()
				if i == 0 {
					w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				c.accepted(w)
			})
			n := buildHTTPChannel(t, c, srv.URL, 2*time.Second)
			ob := newFakeOutbox()
			a := fullAlert()
			id := ob.add(a, store.StatusFiring, c.target(), t0)
			// Backoffs far below Retry-After, and a MaxBackoff above it:
			// only the receiver's delay can explain the wait.
			fastDispatcher(t, ob, c, n, Options{Now: clk.Now, MinBackoff: time.Millisecond, MaxBackoff: time.Minute})
			r := wait(t, ob.retried, "the 429")
			checkRetries(t, c, []retryRec{r}, "HTTP 429")
			if got := r.Next.Sub(t0); got != retryAfter {
				t.Fatalf("next attempt scheduled %s after the 429, want the receiver's Retry-After %s", got, retryAfter)
			}
			for _, at := range []time.Duration{0, time.Second, retryAfter - time.Millisecond} {
				clk.Set(t0.Add(at))
				time.Sleep(60 * time.Millisecond) // a dozen polls
				if got := len(rc.requests()); got != 1 {
					t.Fatalf("%d requests by %s after the 429; want none before Retry-After %s", got-1, at, retryAfter)
				}
			}
			clk.Set(t0.Add(retryAfter))
			checkOneDelivery(t, ob, rc, id, 2)
			mu.Lock()
			defer mu.Unlock()
			if len(arrivals) != 2 || arrivals[1].Before(t0.Add(retryAfter)) {
				t.Errorf("requests at %v; want the second not before %s", arrivals, t0.Add(retryAfter))
			}
			checkKeys(t, c, rc.requests(), NotificationID(a.ID, store.StatusFiring))
		})
	}
}
