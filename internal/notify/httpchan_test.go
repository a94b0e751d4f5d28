package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHTTPClientClassification(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		permanent  bool
		wantDelay  time.Duration
	}{
		{200, "", false, 0},
		{301, "", true, 0},
		{400, "30", true, 0},
		{401, "", true, 0},
		{404, "", true, 0},
		{408, "", false, 0},
		{425, "", false, 0},
		{429, "17", false, 17 * time.Second},
		{500, "", false, 0},
		{503, "120", false, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 301 {
					w.Header().Set("Location", "http://elsewhere.invalid/")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte("answer"))
			}))
			defer srv.Close()
			c := NewHTTPClient(`sms "ops/phone"`, nil, 5*time.Second)
			resp, err := c.Do(context.Background(), HTTPRequest{URL: srv.URL + "/x"})
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if resp.StatusCode != tt.status || string(resp.Body) != "answer" {
				t.Fatalf("response %d %q; want %d %q (redirects must not be followed)", resp.StatusCode, resp.Body, tt.status, "answer")
			}
			if resp.OK() {
				if tt.status != 200 {
					t.Fatalf("OK() for %d", tt.status)
				}
				return
			}
			err = c.StatusError("", srv.URL+"/x", resp, "")
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v; want %v", err, !tt.permanent, tt.permanent)
			}
			d, _ := RetryAfter(err)
			if d != tt.wantDelay {
				t.Errorf("RetryAfter = %v; want %v", d, tt.wantDelay)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Errorf("error %v does not wrap StatusError %d", err, tt.status)
			}
			if !strings.HasPrefix(err.Error(), `sms "ops/phone": POST http://127.0.0.1:`) {
				t.Errorf("error %q does not start with the channel and endpoint", err)
			}
		})
	}
}

func TestHTTPClientBoundedRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 3*MaxHTTPResponse)))
	}))
	defer srv.Close()
	resp, err := NewHTTPClient("t", nil, 5*time.Second).Do(context.Background(), HTTPRequest{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != MaxHTTPResponse || !resp.Truncated {
		t.Errorf("read %d bytes, truncated %v; want %d, true", len(resp.Body), resp.Truncated, MaxHTTPResponse)
	}
}

func TestHTTPClientTimeout(t *testing.T) {
	for _, name := range []string{"no headers", "headers then stall"} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if name != "no headers" {
					w.WriteHeader(200)
					w.(http.Flusher).Flush()
				}
				<-r.Context().Done()
			}))
			defer srv.Close()
			start := time.Now()
			_, err := NewHTTPClient("t", nil, 50*time.Millisecond).Do(context.Background(), HTTPRequest{URL: srv.URL})
			if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v; want a retryable deadline error", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("returned after %v with a 50ms timeout", took)
			}
		})
	}
}

// A server that echoes every credential it was sent, in every form: none
// of it may reach the error text.
func TestHTTPClientScrubsEchoedSecrets(t *testing.T) {
	const token = "tok-s3cr3t/+=value"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.WriteHeader(400)
		_, _ = w.Write([]byte(r.Header.Get("Authorization") + " " + r.URL.RawQuery + " " + r.URL.Path + " " + r.PostForm.Encode()))
	}))
	defer srv.Close()
	target := srv.URL + "/hook-path-secret?code=qs-secret-123"
	secrets := append(SecretsOfURL(target), BasicAuthSecrets("AC123", token)...)
	secrets = append(secrets, token)
	c := NewHTTPClient("t", nil, 5*time.Second, secrets...)
	req, _ := http.NewRequest("POST", target, nil)
	req.SetBasicAuth("AC123", token)
	h := http.Header{"Authorization": req.Header["Authorization"], "Content-Type": {"application/x-www-form-urlencoded"}}
	resp, err := c.Do(context.Background(), HTTPRequest{URL: target, Header: h, Body: []byte("token=" + strings.ReplaceAll(token, "/", "%2F"))})
	if err != nil {
		t.Fatal(err)
	}
	err = c.StatusError("", target, resp, "")
	for _, leak := range []string{token, "hook-path-secret", "qs-secret-123", strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains secret %q", err, leak)
		}
	}
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("error %q: the echo was not scrubbed but removed; the test proves nothing", err)
	}
}

func TestHTTPClientBadURL(t *testing.T) {
	c := NewHTTPClient("t", nil, time.Second, "http://h/\x7fsecret")
	_, err := c.Do(context.Background(), HTTPRequest{URL: "http://h/\x7fsecret"})
	if err == nil || !IsPermanent(err) || strings.Contains(err.Error(), "secret") {
		t.Errorf("err = %v; want a Permanent error without the URL", err)
	}
}

// apiRequest is one request an API receiver saw.
type apiRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// apiReceiver is a loopback stand-in for a provider's API: it records
// every request and answers from a script (status 201 + body by default).
type apiReceiver struct {
	mu      sync.Mutex
	reqs    []apiRequest
	respond func(i int, r apiRequest, w http.ResponseWriter)
	srv     *httptest.Server
}

func newAPIReceiver(t *testing.T, respond func(i int, r apiRequest, w http.ResponseWriter)) *apiReceiver {
	t.Helper()
	a := &apiReceiver{respond: respond}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := apiRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body}
		a.mu.Lock()
		i := len(a.reqs)
		a.reqs = append(a.reqs, req)
		a.mu.Unlock()
		if a.respond == nil {
			w.WriteHeader(http.StatusCreated)
			return
		}
		select {
		case <-r.Context().Done():
		default:
			a.respond(i, req, w)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *apiReceiver) requests() []apiRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apiRequest(nil), a.reqs...)
}

// form parses an application/x-www-form-urlencoded body, failing the test
// when the content type says otherwise.
func (r apiRequest) form(t *testing.T) url.Values {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Fatalf("Content-Type %q; want application/x-www-form-urlencoded", ct)
	}
	v, err := url.ParseQuery(string(r.Body))
	if err != nil {
		t.Fatalf("body is not a form: %v", err)
	}
	return v
}

// basicAuth decodes the request's basic credentials.
func (r apiRequest) basicAuth() (user, pass string, ok bool) {
	req := &http.Request{Header: r.Header}
	return req.BasicAuth()
}

// checkGolden compares got with testdata/name, rewriting it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n got: %s\nwant: %s", name, got, want)
	}
}

// sendUntil calls n.Notify until it succeeds or tries run out, returning
// every error seen: the outbox's retry loop without its backoff.
func sendUntil(t *testing.T, nt Notifier, n Notification, tries int) []error {
	t.Helper()
	var errs []error
	for i := 0; i < tries; i++ {
		n.Attempt = i + 1
		err := nt.Notify(context.Background(), n)
		if err == nil {
			return errs
		}
		errs = append(errs, err)
	}
	t.Fatalf("not delivered after %d tries: %v", tries, errs)
	return errs
}

// A secret that straddles the excerpt's length limit must not show its
// first half.
func TestHTTPClientExcerptScrubsBeforeCutting(t *testing.T) {
	const tok = "abcdefghijklmnopqrstuvwxyz0123456789"
	c := NewHTTPClient("t", nil, time.Second, tok)
	for pad := 170; pad < 200; pad++ {
		got := c.Excerpt([]byte(strings.Repeat("x", pad) + tok + " tail"))
		if strings.Contains(got, tok[:8]) {
			t.Fatalf("pad %d: excerpt %q shows the start of the secret", pad, got)
		}
	}
}
