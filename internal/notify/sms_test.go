package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/secret"
	"breakglass/internal/store"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "twilio-auth-t0ken-ffff"
	testFrom  = "+4798765432"
	testTo1   = "+4712345678"
	testTo2   = "+15551234567"
)

// phoneRender is RenderDefault with an acknowledge link, as the daemon's
// renderer gives when links are configured.
func phoneRender(n Notification) (Message, error) {
	m, err := RenderDefault(n)
	m.AckURL = "https://bg.example/ack/" + n.Alert.ID + "?sig=abc123"
	return m, err
}

func phoneEnv() BuildEnv {
	return BuildEnv{Target: "ops/phone", Timeout: 2 * time.Second, Render: phoneRender}
}

// build validates cfg, failing the test on any report, and builds it.
func build(t *testing.T, cfg ChannelConfig, env BuildEnv) Notifier {
	t.Helper()
	var problems []string
	cfg.Validate(func(field, msg string) { problems = append(problems, field+": "+msg) })
	if len(problems) > 0 {
		t.Fatalf("Validate: %s", strings.Join(problems, "; "))
	}
	n, err := cfg.Build(env)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return n
}

func firing(a alert.Alert) Notification {
	return Notification{ID: NotificationID(a.ID, store.StatusFiring), Status: store.StatusFiring, Alert: a, Attempt: 1,
		Sent: time.Date(2026, 7, 1, 12, 0, 1, 0, time.UTC)}
}

// twilioCreated answers as Twilio does to a created Message or Call.
func twilioCreated(w http.ResponseWriter, sid string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"sid":%q,"status":"queued","account_sid":%q}`, sid, testSID)
}

func twilioSMS(url string, to ...string) *SMSConfig {
	return &SMSConfig{Provider: "twilio", URL: secret.Secret(url), To: to, AccountSID: testSID, AuthToken: testToken, From: testFrom}
}

// TestTwilioSMSRequest asserts the request of the Messages API
// (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource):
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth
// with the Account SID and auth token, a form with To, From (or
// MessagingServiceSid) and Body, one request per recipient.
func TestTwilioSMSRequest(t *testing.T) {
	for _, service := range []bool{false, true} {
		t.Run(fmt.Sprintf("messaging_service=%v", service), func(t *testing.T) {
			rc := newAPIReceiver(t, func(i int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, fmt.Sprintf("SM%032d", i)) })
			cfg := twilioSMS(rc.srv.URL, testTo1, testTo2)
			if service {
				cfg.From, cfg.MessagingServiceSID = "", "MG0123456789abcdef0123456789abcdef"
			}
			sms := build(t, cfg, phoneEnv())
			n := firing(fullAlert())
			if err := sms.Notify(context.Background(), n); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			reqs := rc.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests; want one per number (2)", len(reqs))
			}
			m, _ := phoneRender(n)
			var tos []string
			for _, r := range reqs {
				if r.Method != http.MethodPost || r.Path != "/2010-04-01/Accounts/"+testSID+"/Messages.json" || r.RawQuery != "" {
					t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
				}
				if u, p, ok := r.basicAuth(); !ok || u != testSID || p != testToken {
					t.Errorf("basic auth %q %q %v", u, p, ok)
				}
				f := r.form(t)
				want := url.Values{"To": f["To"], "Body": {m.Short}}
				if service {
					want.Set("MessagingServiceSid", cfg.MessagingServiceSID)
				} else {
					want.Set("From", testFrom)
				}
				if f.Encode() != want.Encode() {
					t.Errorf("form %v; want exactly %v", f, want)
				}
				tos = append(tos, f.Get("To"))
			}
			slices.Sort(tos)
			if !slices.Equal(tos, []string{testTo2, testTo1}) {
				t.Errorf("sent to %v", tos)
			}
			if !service {
				// Both requests have the same body but for To; the golden
				// holds the first number's.
				for _, r := range reqs {
					if r.form(t).Get("To") == testTo1 {
						checkGolden(t, "sms_twilio.form", formText(t, r))
					}
				}
			}
		})
	}
}

// TestTwilioAnswers: every answer Twilio documents, and a few it does not,
// classified. Only a 2xx carrying a message sid is a delivery.
func TestTwilioAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		ok         bool
		permanent  bool
		delay      time.Duration
		contains   string
	}{
		{"created", 201, "", `{"sid":"SM1","status":"queued"}`, true, false, 0, ""},
		{"bad number", 400, "", `{"code":21211,"message":"The 'To' number +47 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`, false, true, 0, "Twilio error 21211: The 'To' number"},
		{"bad credentials", 401, "", `{"code":20003,"message":"Authenticate","status":401}`, false, true, 0, "check account_sid and auth_token"},
		{"throttled", 429, "30", `{"code":20429,"message":"Too Many Requests","status":429}`, false, false, 30 * time.Second, "Twilio error 20429"},
		{"message without a code", 400, "", `{"message":"Invalid parameter"}`, false, true, 0, "Twilio error: Invalid parameter"},
		{"server error", 500, "", `oops`, false, false, 0, "HTTP 500"},
		{"unavailable", 503, "5", ``, false, false, 5 * time.Second, "HTTP 503"},
		{"2xx without sid", 200, "", `<html>captive portal</html>`, false, false, 0, "without a message sid"},
		{"created but failed", 201, "", `{"sid":"SM2","status":"failed"}`, false, false, 0, `status "failed"`},
		{"redirect", 302, "", ``, false, true, 0, "HTTP 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 302 {
					w.Header().Set("Location", "http://127.0.0.1:1/")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			err := build(t, twilioSMS(rc.srv.URL, testTo1), phoneEnv()).Notify(context.Background(), firing(fullAlert()))
			if (err == nil) != tt.ok {
				t.Fatalf("Notify = %v; want ok %v", err, tt.ok)
			}
			if err == nil {
				return
			}
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent = %v; want %v (%v)", !tt.permanent, tt.permanent, err)
			}
			if d, _ := RetryAfter(err); d != tt.delay {
				t.Errorf("RetryAfter = %v; want %v", d, tt.delay)
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.HasPrefix(err.Error(), `sms "ops/phone": POST http://127.0.0.1:`) || strings.Contains(err.Error(), "error 0") {
				t.Errorf("error %q; want it to name the channel and contain %q", err, tt.contains)
			}
			if len(rc.requests()) != 1 {
				t.Errorf("%d requests; redirects must not be followed", len(rc.requests()))
			}
		})
	}
}

// TestSMSFailsNTimes runs the real dispatcher against a Twilio receiver
// that fails the first three sends of one number: the other number is
// sent to once, the failing one four times, and the delivery completes.
func TestSMSFailsNTimes(t *testing.T) {
	var mu sync.Mutex
	per := map[string]int{}
	rc := newAPIReceiver(t, func(i int, r apiRequest, w http.ResponseWriter) {
		to := r.form(t).Get("To")
		mu.Lock()
		per[to]++
		k := per[to]
		mu.Unlock()
		if to == testTo2 && k <= 3 {
			http.Error(w, `{"code":20500,"message":"Internal Server Error"}`, http.StatusInternalServerError)
			return
		}
		twilioCreated(w, fmt.Sprintf("SM%032d", i))
	})
	sms := build(t, twilioSMS(rc.srv.URL, testTo1, testTo2), phoneEnv())
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "ops/phone", time.Now())
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"ops/phone": sms}, Options{
		Logger: log, Poll: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
	})
	start(t, d)
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d, want %d", got, id)
	}
	mu.Lock()
	defer mu.Unlock()
	if per[testTo1] != 1 || per[testTo2] != 4 {
		t.Errorf("requests per number %v; want %s once (it accepted the first time) and %s 4 times", per, testTo1, testTo2)
	}
	ob.mu.Lock()
	retries := ob.retries
	ob.mu.Unlock()
	if len(retries) != 3 || !strings.Contains(retries[0].LastErr, "1 of 2 recipients not reached") || !strings.Contains(retries[0].LastErr, "Twilio error 20500") {
		t.Errorf("retries %+v", retries)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Error("log leaks the auth token")
	}
}

// TestSMSPartialPermanent: one number is invalid for good, the other only
// busy. The error must stay retryable (the busy one deserves its retries)
// and carry the busy one's Retry-After; when only permanent failures are
// left, it is Permanent.
func TestSMSPartialPermanent(t *testing.T) {
	busy := true
	var mu sync.Mutex
	rc := newAPIReceiver(t, func(i int, r apiRequest, w http.ResponseWriter) {
		mu.Lock()
		b := busy
		mu.Unlock()
		switch to := r.form(t).Get("To"); {
		case to == testTo1:
			http.Error(w, `{"code":21211,"message":"invalid To"}`, http.StatusBadRequest)
		case b:
			w.Header().Set("Retry-After", "12")
			http.Error(w, `{"code":20429,"message":"Too Many Requests"}`, http.StatusTooManyRequests)
		default:
			twilioCreated(w, "SM1")
		}
	})
	sms := build(t, twilioSMS(rc.srv.URL, testTo1, testTo2), phoneEnv())
	err := sms.Notify(context.Background(), firing(testAlert("p1")))
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v; want retryable", err)
	}
	if d, _ := RetryAfter(err); d != 12*time.Second {
		t.Errorf("RetryAfter = %v; want 12s", d)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 429 {
		t.Errorf("error should wrap the retryable StatusError: %v", err)
	}
	mu.Lock()
	busy = false
	mu.Unlock()
	err = sms.Notify(context.Background(), firing(testAlert("p1")))
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "1 of 2 recipients not reached") {
		t.Fatalf("err = %v; want Permanent for the invalid number only", err)
	}
}

func TestSMSTimeout(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) })
	env := phoneEnv()
	env.Timeout = 50 * time.Millisecond
	sms := build(t, twilioSMS(rc.srv.URL, testTo1, testTo2), env)
	if b, ok := sms.(Bounded); !ok || b.SendTimeout() != 50*time.Millisecond {
		t.Fatalf("SMS must be Bounded by the channel timeout")
	}
	start := time.Now()
	err := sms.Notify(context.Background(), firing(testAlert("t1")))
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no response within 50ms") {
		t.Fatalf("err = %v; want a retryable timeout", err)
	}
	// Both numbers are sent to at once: two timeouts take one.
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v", took)
	}
}

// TestPhoneSecretsNotInErrors: a receiver that echoes the request back
// (headers and body) in its error; no credential may reach the error.
func TestPhoneSecretsNotInErrors(t *testing.T) {
	echo := func(_ int, r apiRequest, w http.ResponseWriter) {
		// Credentials first: the error keeps only the start of an answer.
		var b strings.Builder
		b.WriteString(r.Header.Get("Authorization") + " " + r.Path + "?" + r.RawQuery + " ")
		if f, err := url.ParseQuery(string(r.Body)); err == nil {
			b.WriteString(f.Get("token") + " " + f.Get("user") + " ")
		}
		b.WriteString(string(r.Body))
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": 1, "message": b.String(), "error": b.String(), "errors": []string{b.String()}})
	}
	const (
		gwKey    = "gw-query-k3y-0000"
		gwBearer = "gw-bearer-t0k3n-1111"
		ntfyTok  = "tk_ntfyt0k3nabcdef"
		ntfyTop  = "bg-secret-topic-2222"
		ntfyPass = "ntfy-pa55word-3333"
		poToken  = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
		poUser   = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
	)
	tests := []struct {
		name    string
		cfg     func(base string) ChannelConfig
		secrets []string
	}{
		{"sms twilio", func(b string) ChannelConfig { return twilioSMS(b, testTo1) }, []string{testToken}},
		{"sms gateway", func(b string) ChannelConfig {
			return &SMSConfig{Provider: "gateway", URL: secret.Secret(b + "/send?key=" + gwKey), To: []string{testTo1},
				Headers: map[string]secret.Secret{"Authorization": "Bearer " + gwBearer}, Body: `{"to":{{json .To}},"text":{{json .Body}}}`}
		}, []string{gwKey, gwBearer}},
		{"voice", func(b string) ChannelConfig {
			return &VoiceConfig{URL: b, To: []string{testTo1}, From: testFrom, AccountSID: testSID, AuthToken: testToken}
		}, []string{testToken}},
		{"ntfy token", func(b string) ChannelConfig {
			return &PushConfig{Provider: "ntfy", URL: b, Topic: ntfyTop, Token: ntfyTok}
		}, []string{ntfyTok, ntfyTop}},
		{"ntfy basic", func(b string) ChannelConfig {
			return &PushConfig{Provider: "ntfy", URL: b, Topic: ntfyTop, Username: "bg", Password: ntfyPass}
		}, []string{ntfyPass, ntfyTop}},
		{"pushover", func(b string) ChannelConfig {
			return &PushConfig{Provider: "pushover", URL: b, Token: poToken, User: poUser}
		}, []string{poToken, poUser}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newAPIReceiver(t, echo)
			err := build(t, tt.cfg(rc.srv.URL), phoneEnv()).Notify(context.Background(), firing(testAlert("s1")))
			if err == nil {
				t.Fatal("Notify succeeded against a 400")
			}
			if len(rc.requests()) == 0 {
				t.Fatal("no request reached the receiver")
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks %q: %v", s, err)
				}
			}
			if basic := rc.requests()[0].Header.Get("Authorization"); basic != "" && strings.Contains(err.Error(), strings.TrimPrefix(strings.TrimPrefix(basic, "Basic "), "Bearer ")) {
				t.Errorf("error leaks the Authorization header: %v", err)
			}
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("the echo was not scrubbed (nothing redacted): %v", err)
			}
		})
	}
}

// TestSMSGatewayRequest: the generic gateway sends exactly the configured
// method, headers, content type and rendered body, once per number.
func TestSMSGatewayRequest(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	cfg := &SMSConfig{
		Provider: "gateway", URL: secret.Secret(rc.srv.URL + "/api/send?key=abc"), Method: "PUT",
		To:      []string{testTo1},
		Headers: map[string]secret.Secret{"X-Api-Key": "k-123"},
		Body:    `{"to":{{json .To}},"text":{{json .Body}},"id":{{json .ID}},"rule":{{json .Alert.Rule}},"ack":{{json .Message.AckURL}}}`,
		Accept:  `"status":"ok"`,
	}
	sms := build(t, cfg, phoneEnv())
	if err := sms.Notify(context.Background(), firing(fullAlert())); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "PUT" || r.Path != "/api/send" || r.RawQuery != "key=abc" || r.Header.Get("X-Api-Key") != "k-123" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s?%s headers %v", r.Method, r.Path, r.RawQuery, r.Header)
	}
	var body map[string]string
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("rendered body is not JSON (a title with quotes must be escaped): %v\n%s", err, r.Body)
	}
	checkGolden(t, "sms_gateway.json", append(r.Body, '\n'))

	// A 2xx that does not match accept is not a delivery.
	rc.respond = func(_ int, _ apiRequest, w http.ResponseWriter) {
		_, _ = w.Write([]byte(`{"status":"error","reason":"no credit"}`))
	}
	err := sms.Notify(context.Background(), firing(testAlert("g2")))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "does not match accept") {
		t.Errorf("err = %v; want a retryable mismatch", err)
	}
}

func TestSMSValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  SMSConfig
		want []string // "field: substring", in order
	}{
		{"twilio ok", *twilioSMS("", testTo1), nil},
		{"no provider", SMSConfig{To: []string{testTo1}}, []string{"provider: required"}},
		{"unknown provider", SMSConfig{Provider: "nexmo", To: []string{testTo1}}, []string{`provider: unknown provider "nexmo"`}},
		{"bad numbers", func() SMSConfig {
			c := *twilioSMS("", "004712345678", "+47 123", testTo1, testTo1, "+0123")
			return c
		}(), []string{"to[0]: \"004712345678\" is not an E.164", "to[1]:", "to[3]: +4712345678 is listed twice", "to[4]:"}},
		{"no numbers", SMSConfig{Provider: "twilio", AccountSID: testSID, AuthToken: "x", From: testFrom}, []string{"to: at least one"}},
		{"twilio missing", SMSConfig{Provider: "twilio", To: []string{testTo1}}, []string{"account_sid: required", "auth_token: required", "from: required"}},
		{"twilio bad sid and url", SMSConfig{Provider: "twilio", To: []string{testTo1}, AccountSID: "SK123", AuthToken: "x", From: testFrom, URL: "ftp://x"}, []string{"url: URL scheme", "account_sid: must be AC"}},
		{"from and service", func() SMSConfig {
			c := *twilioSMS("", testTo1)
			c.MessagingServiceSID = "MG0123456789abcdef0123456789abcdef"
			return c
		}(), []string{"messaging_service_sid: set either"}},
		{"alphanumeric from", func() SMSConfig { c := *twilioSMS("", testTo1); c.From = "Breakglass"; return c }(), nil},
		{"bad from", func() SMSConfig { c := *twilioSMS("", testTo1); c.From = "12345"; return c }(), []string{"from: must be"}},
		{"long sender id", func() SMSConfig { c := *twilioSMS("", testTo1); c.From = "BreakglassAlerts"; return c }(), []string{"from: must be"}},
		{"gateway key on twilio", func() SMSConfig { c := *twilioSMS("", testTo1); c.Body = "x"; return c }(), []string{"body: only applies to provider: gateway"}},
		{"gateway ok", SMSConfig{Provider: "gateway", URL: "https://sms.example/send", To: []string{testTo1}, Body: `{{.To}} {{.Body}}`}, nil},
		{"gateway missing", SMSConfig{Provider: "gateway", To: []string{testTo1}}, []string{"url: required", "body: required"}},
		{"gateway bad template", SMSConfig{Provider: "gateway", URL: "https://sms.example/", To: []string{testTo1}, Body: `{{.To`}, []string{"body: template:"}},
		{"gateway unknown field", SMSConfig{Provider: "gateway", URL: "https://sms.example/", To: []string{testTo1}, Body: `{{.Phone}}`}, []string{"body: template:"}},
		{"gateway bad function", SMSConfig{Provider: "gateway", URL: "https://sms.example/", To: []string{testTo1}, Body: `{{xml .To}}`}, []string{"body: template:"}},
		{"gateway rest", SMSConfig{Provider: "gateway", URL: "https://sms.example/", To: []string{testTo1}, Body: `x`, Method: "GET", Accept: "(", AccountSID: testSID,
			Headers: map[string]secret.Secret{"Bad Name": "v", "X-Ok": "a\nb"}}, []string{"account_sid: only applies to provider: twilio", "method: must be POST or PUT", "headers.", "headers.", "accept: not a valid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			var got []string
			cfg.Validate(func(f, m string) { got = append(got, f+": "+m) })
			checkReports(t, got, tt.want)
		})
	}
	var c SMSConfig = *twilioSMS("", testTo1)
	c.Validate(func(string, string) {})
	if c.URL != DefaultTwilioURL {
		t.Errorf("url default %q", c.URL.Reveal())
	}
	g := SMSConfig{Provider: "gateway", URL: "https://sms.example/send", To: []string{testTo1}, Body: `x`}
	g.Validate(func(string, string) {})
	if g.Method != "POST" || g.ContentType != "application/json" {
		t.Errorf("gateway defaults %q %q", g.Method, g.ContentType)
	}
}

// checkReports compares Validate's reports with the wanted prefixes (in
// order; header reports come from a map and are matched by prefix only).
func checkReports(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("reports %q; want %d like %q", got, len(want), want)
	}
	rest := slices.Clone(got)
	for _, w := range want {
		i := slices.IndexFunc(rest, func(g string) bool {
			return strings.HasPrefix(g, w) || (strings.HasSuffix(w, ":") && strings.HasPrefix(g, w))
		})
		if i < 0 {
			t.Errorf("no report like %q in %q", w, got)
			continue
		}
		rest = slices.Delete(rest, i, i+1)
	}
}

func TestPhoneTypesRegistered(t *testing.T) {
	for name, want := range map[string]string{"sms": "*notify.SMSConfig", "voice": "*notify.VoiceConfig", "push": "*notify.PushConfig"} {
		ct, ok := LookupChannel(name)
		if !ok || ct.Doc == "" {
			t.Errorf("%s not registered", name)
			continue
		}
		if got := fmt.Sprintf("%T", ct.New()); got != want {
			t.Errorf("%s: New() is %s; want %s", name, got, want)
		}
	}
}

// TestPhoneBuildWithoutValidate: a configuration that skipped Validate
// must not build into a channel that sends to nobody and succeeds.
func TestPhoneBuildWithoutValidate(t *testing.T) {
	for _, cfg := range []ChannelConfig{
		&SMSConfig{Provider: "twilio", AccountSID: testSID, AuthToken: testToken, From: testFrom},
		&VoiceConfig{AccountSID: testSID, AuthToken: testToken, From: testFrom},
		&PushConfig{Provider: "pushover"},
		&SMSConfig{Provider: "gateway", URL: "https://x.example/", To: []string{testTo1}},
	} {
		if n, err := cfg.Build(phoneEnv()); err == nil {
			t.Errorf("%T built into %T without recipients or credentials", cfg, n)
		} else if !strings.Contains(err.Error(), `"ops/phone"`) {
			t.Errorf("error %q does not name the channel", err)
		}
	}
}
