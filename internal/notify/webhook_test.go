package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// capture is a receiver that records requests and answers from a script.
type capture struct {
	mu   sync.Mutex
	reqs []captured
	// respond writes the response to request number i (from 0).
	respond func(i int, w http.ResponseWriter, r *http.Request)
}

type captured struct {
	header http.Header
	body   []byte
	user   string
	pass   string
	query  string
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, _ := r.BasicAuth()
	c.mu.Lock()
	i := len(c.reqs)
	c.reqs = append(c.reqs, captured{r.Header.Clone(), body, user, pass, r.URL.RawQuery})
	respond := c.respond
	c.mu.Unlock()
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if respond != nil {
		respond(i, w, r)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (c *capture) requests() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.reqs...)
}

func newReceiver(t *testing.T, respond func(i int, w http.ResponseWriter, r *http.Request)) (*capture, *httptest.Server) {
	t.Helper()
	c := &capture{respond: respond}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv
}

func fullAlert() alert.Alert {
	a := testAlert("4f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f")
	a.Account = "Emergency Access 1"
	a.Operation = "Sign-in activity"
	a.Result = "success"
	a.App = "Azure Portal"
	a.IPAddress = "203.0.113.7"
	a.Location = "Oslo, NO"
	a.Actor = "bg1@contoso.example"
	a.Correlation = "c0ffee00-0000-4000-8000-000000000001"
	a.Title = `Break-glass account "bg1" signed in & <was> allowed`
	return a
}

func TestWebhookPayloadGolden(t *testing.T) {
	sent := time.Date(2026, 7, 1, 12, 0, 1, 250000000, time.FixedZone("CEST", 2*3600))
	resolved := testAlert("5a5a")
	resolved.Rule = "bg.silence"
	resolved.Severity = alert.Sev1
	resolved.Title = "No sign-in log records for 30m"
	resolved.EventTime = time.Date(2026, 7, 1, 11, 0, 0, 0, time.UTC)
	// A fail-closed alert: the record's time and one field could not be
	// read, and the receiver must be told so rather than shown the ingest
	// time as if it were the event's.
	degraded := fullAlert()
	degraded.ID = "9d9d"
	degraded.Rule = "bg.unparsed"
	degraded.Severity = alert.Sev1
	degraded.Title = "Unreadable record mentions a break-glass account (invalid_json)"
	degraded.EventTimeUnknown = true
	degraded.Unreadable = []string{"createdDateTime: unrecognised timestamp \"yesterday\"", "userId: expected a string, got number"}
	degraded.Labels = map[string]string{"rule": "bg.unparsed", "severity": "Sev1", "account": degraded.AccountID, "source": "push", "tenant": "contoso.onmicrosoft.com"}
	degraded.Annotations = map[string]string{"reason": "invalid_json"}
	tests := []struct {
		golden string
		n      Notification
	}{
		{"degraded.json", Notification{ID: NotificationID(degraded.ID, store.StatusFiring), Status: store.StatusFiring, Alert: degraded, Attempt: 1, Sent: sent}},
		{"firing.json", Notification{ID: NotificationID(fullAlert().ID, store.StatusFiring), Status: store.StatusFiring, Alert: fullAlert(), Attempt: 1, Sent: sent}},
		{"resolved.json", Notification{ID: NotificationID("5a5a", store.StatusResolved), Status: store.StatusResolved, Alert: resolved, Attempt: 3, Sent: sent}},
	}
	old := UserAgent
	UserAgent = "breakglass/1.2.3"
	t.Cleanup(func() { UserAgent = old })
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			rc, srv := newReceiver(t, nil)
			w, err := NewWebhook("ops", srv.URL+"/hook", map[string]string{"X-Api-Key": "k-123456"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Notify(context.Background(), tt.n); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "breakglass/1.2.3", "X-Api-Key": "k-123456"} {
				if got := r.header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			var p Payload
			dec := json.NewDecoder(bytes.NewReader(r.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("body does not decode into Payload: %v\n%s", err, r.body)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, bytes.TrimSpace(r.body), "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("body differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, pretty.Bytes(), want)
			}
		})
	}
}

func TestWebhookClassification(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		wantErr    bool
		permanent  bool
		wantDelay  time.Duration // 0: none
	}{
		{200, "", false, false, 0},
		{202, "", false, false, 0},
		{204, "", false, false, 0},
		{301, "", true, true, 0},
		{400, "", true, true, 0},
		{401, "", true, true, 0},
		{403, "", true, true, 0},
		{404, "", true, true, 0},
		{413, "", true, true, 0},
		{400, "30", true, true, 0}, // Retry-After means nothing on a permanent failure
		{408, "", true, false, 0},
		{425, "", true, false, 0}, // Too Early: retryable, as for every HTTP channel (RetryableStatus)
		{429, "", true, false, 0},
		{429, "12", true, false, 12 * time.Second},
		{500, "", true, false, 0},
		{502, "", true, false, 0},
		{503, "120", true, false, 2 * time.Minute},
		{503, "garbage", true, false, 0},
		{504, "", true, false, 0},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+"/"+tt.retryAfter, func(t *testing.T) {
			_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if tt.status == 301 {
					w.Header().Set("Location", "/elsewhere")
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, "receiver says no\n")
			})
			// A caller's client without a redirect policy must not follow
			// the 301 either.
			w, err := NewWebhook("ops", srv.URL, nil, &http.Client{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Notify(context.Background(), Notification{Status: store.StatusFiring, Alert: testAlert("a1"), Attempt: 1})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, IsPermanent(err), tt.permanent)
			}
			d, ok := RetryAfter(err)
			if ok != (tt.wantDelay != 0) || d != tt.wantDelay {
				t.Errorf("RetryAfter = %v, %v; want %v", d, ok, tt.wantDelay)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Errorf("error %v does not carry StatusError %d", err, tt.status)
			}
			if !strings.Contains(err.Error(), "receiver says no") {
				t.Errorf("error %q lacks the response excerpt", err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", maxRetryAfter, true},
		{"604800", maxRetryAfter, true},
		{"Wed, 01 Jul 2026 12:00:30 GMT", 30 * time.Second, true}, // IMF-fixdate
		{"Wednesday, 01-Jul-26 12:01:00 GMT", time.Minute, true},  // RFC 850
		{"Wed Jul  1 12:00:05 2026", 5 * time.Second, true},       // asctime
		{"Wed, 01 Jul 2026 11:59:00 GMT", 0, false},               // past
		{"Wed, 01 Jul 2026 12:00:00 GMT", 0, false},               // now
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestWebhookRetryAfterHTTPDate(t *testing.T) {
	_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	w, err := NewWebhook("ops", srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Notify(context.Background(), Notification{Alert: testAlert("a1"), Status: store.StatusFiring, Attempt: 1})
	d, ok := RetryAfter(err)
	// The header has one-second resolution.
	if !ok || d < 88*time.Second || d > 90*time.Second {
		t.Errorf("RetryAfter(%v) = %v, %v; want about 90s", err, d, ok)
	}
}

func TestWebhookSecretsNotInErrors(t *testing.T) {
	const (
		token    = "s3cr3t-bearer-t0ken"
		apiKey   = "api-key-9f8e7d"
		password = "p4ssw0rd-url"
		query    = "qu3ry-code-abc"
		pathTok  = "T0KEN1N-PATH-XYZ"
	)
	secrets := []string{token, apiKey, password, query, pathTok}
	// Not Authorization: Go sends the URL's userinfo as basic auth only
	// when no Authorization header is set, and both should be exercised.
	headers := map[string]string{"X-Auth": "Bearer " + token, "X-Api-Key": apiKey}
	tests := []struct {
		name    string
		respond func(i int, w http.ResponseWriter, r *http.Request)
		closed  bool // server shut down: transport error
		timeout bool
	}{
		// A careless receiver echoes the request back in its error.
		{"500 echoing headers", func(_ int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			r.Header.Write(w)
			io.WriteString(w, r.URL.String())
		}, false, false},
		{"400 echoing query", func(_ int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, "bad code="+r.URL.Query().Get("code")+" auth="+r.Header.Get("X-Auth"))
		}, false, false},
		{"connection refused", nil, true, false},
		{"timeout", func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := newReceiver(t, tt.respond)
			host := strings.TrimPrefix(srv.URL, "http://")
			raw := "http://admin:" + password + "@" + host + "/services/" + pathTok + "?code=" + query
			w, err := NewWebhook("ops", raw, headers, nil)
			if err != nil {
				t.Fatal(err)
			}
			w.Timeout = 50 * time.Millisecond
			if tt.closed {
				srv.Close()
			}
			err = w.Notify(context.Background(), Notification{Alert: testAlert("a1"), Status: store.StatusFiring, Attempt: 1})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error leaks %q: %s", s, msg)
				}
			}
			if !strings.Contains(msg, `webhook "ops": POST http://`+host) {
				t.Errorf("error does not name the webhook and its host: %s", msg)
			}
			t.Logf("error: %s", msg)
			if tt.closed {
				return
			}
			// The secrets were actually sent.
			r := rc.requests()[0]
			if r.header.Get("X-Auth") != "Bearer "+token || r.header.Get("X-Api-Key") != apiKey || r.pass != password || r.query != "code="+query {
				t.Errorf("credentials not sent: %v, pass %q, query %q", r.header, r.pass, r.query)
			}
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	w, err := NewWebhook("slow", srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Timeout = 50 * time.Millisecond
	began := time.Now()
	err = w.Notify(context.Background(), Notification{Alert: testAlert("a1"), Status: store.StatusFiring, Attempt: 1})
	took := time.Since(began)
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want a retryable deadline error", err)
	}
	if took > 2*time.Second {
		t.Errorf("Notify returned after %v with a 50ms timeout", took)
	}
	if !strings.Contains(err.Error(), "no response within 50ms") {
		t.Errorf("error %q does not say it timed out", err)
	}
}

func TestNewWebhookValidation(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		headers map[string]string
		wantErr string // "" = valid
	}{
		{"http", "http://hooks.example/a", nil, ""},
		{"https with port, query, userinfo", "https://u:p@hooks.example:8443/a?code=x", nil, ""},
		{"upper-case scheme", "HTTPS://hooks.example/a", nil, ""},
		{"empty", "", nil, "scheme"},
		{"no scheme", "hooks.example/a", nil, "scheme"},
		{"ftp", "ftp://hooks.example/a", nil, "scheme"},
		{"mailto", "mailto:ops@example.com", nil, "scheme"},
		{"no host", "http:///a", nil, "no host"},
		{"port only", "http://:8080/a", nil, "no host"},
		{"opaque", "http:hooks.example", nil, "no host"},
		{"unparsable with secret", "http://u:sup3rsecret@[::1/a?code=qs3cret", nil, "invalid URL"},
		{"bad header name", "http://h.example/", map[string]string{"X Bad": "v"}, "invalid header name"},
		{"header value with newline", "http://h.example/", map[string]string{"Authorization": "Bearer t0k\r\nX: y"}, "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWebhook("ops", tt.url, tt.headers, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewWebhook: %v", err)
				}
				if strings.Contains(w.String(), "code=") || strings.Contains(w.String(), "u:p") {
					t.Errorf("String() = %q leaks secrets", w)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			for _, s := range []string{"sup3rsecret", "qs3cret", "t0k"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks %q: %v", s, err)
				}
			}
		})
	}
}

// A secret the receiver echoes just where the 200-character excerpt is
// cut must not show its first half: scrubbing has to happen before the
// cut, not only after it.
func TestWebhookSecretCutByExcerptNotLeaked(t *testing.T) {
	const apiKey = "api-key-9f8e7d6c5b4a"
	for _, at := range []int{185, 190, 195} {
		t.Run(strconv.Itoa(at), func(t *testing.T) {
			_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(400)
				io.WriteString(w, strings.Repeat("x", at)+r.Header.Get("X-Api-Key")+" trailing text")
			})
			w, err := NewWebhook("ops", srv.URL+"/hook", map[string]string{"X-Api-Key": apiKey}, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = w.Notify(context.Background(), Notification{Alert: testAlert("a1"), Status: store.StatusFiring, Attempt: 1})
			if err == nil {
				t.Fatal("no error")
			}
			if half := apiKey[:len(apiKey)/2]; strings.Contains(err.Error(), half) {
				t.Errorf("error shows the first half of the API key (%q): %s", half, err)
			}
		})
	}
}

// TestScrubAckSignature: a receiver echoing the message back does not put
// a working acknowledge link into breakglass's errors: its signature is
// removed, plain, JSON-escaped or query-escaped.
func TestScrubAckSignature(t *testing.T) {
	const sig = "3f9a0cAbCd_-0123456789xyzXYZ"
	scrub := strings.NewReplacer()
	for _, body := range []string{
		`{"text":"Ack: https://bg.example/ack/abc?exp=1772510000&sig=` + sig + `"}`,
		`{"text":"https://bg.example/ack/abc?exp=1772510000\u0026sig=` + sig + `"}`,
		`text=https%3A%2F%2Fbg.example%2Fack%2Fabc%3Fexp%3D1772510000%26sig%3D` + sig,
	} {
		got := scrubbedExcerpt(scrub, []byte(body), 300)
		if strings.Contains(got, sig[:8]) || !strings.Contains(got, "[REDACTED]") {
			t.Errorf("%s\n-> %s", body, got)
		}
	}
	if got := scrubbedExcerpt(scrub, []byte(`{"design":"signature"}`), 300); got != `{"design":"signature"}` {
		t.Errorf("unrelated text changed: %s", got)
	}
}
