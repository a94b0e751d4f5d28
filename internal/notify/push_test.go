package notify

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

const (
	testPoToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
	testPoUser  = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
)

func ntfyPublished(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"hwQ2YpKdmg","time":1782907201,"expires":1782950401,"event":"message","topic":"bg-alerts","message":"x"}`))
}

// TestNtfyRequest asserts the publish request (https://docs.ntfy.sh/publish/):
// POST {url}/{topic}, the text as the body, Title, Priority, Tags, Click
// and Actions headers, and the configured authorization.
func TestNtfyRequest(t *testing.T) {
	tests := []struct {
		name     string
		cfg      PushConfig
		sev      alert.Severity
		status   string
		auth     string
		priority string
		tags     string
		golden   string
	}{
		{"token sev0", PushConfig{Topic: "bg-alerts", Token: "tk_abc123"}, alert.Sev0, store.StatusFiring, "Bearer tk_abc123", "5", "rotating_light,breakglass", "ntfy_firing.txt"},
		{"basic sev1", PushConfig{Topic: "bg-alerts", Username: "bg", Password: "pw"}, alert.Sev1, store.StatusFiring, "Basic Ymc6cHc=", "4", "rotating_light,breakglass", ""},
		{"anonymous sev3", PushConfig{Topic: "bg-alerts"}, 3, store.StatusFiring, "", "2", "warning,breakglass", ""},
		{"resolved", PushConfig{Topic: "bg-alerts"}, alert.Sev0, store.StatusResolved, "", "3", "white_check_mark,breakglass", "ntfy_resolved.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { ntfyPublished(w) })
			cfg := tt.cfg
			cfg.Provider, cfg.URL, cfg.Tags = "ntfy", rc.srv.URL+"/", []string{"breakglass"}
			a := fullAlert()
			a.Severity = tt.sev
			n := firing(a)
			n.Status = tt.status
			if err := build(t, &cfg, phoneEnv()).Notify(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			m, _ := phoneRender(n)
			want := map[string]string{
				"Title":         m.Subject,
				"Priority":      tt.priority,
				"Tags":          tt.tags,
				"Click":         m.AckURL,
				"Actions":       "view, Acknowledge, " + m.AckURL + ", clear=true",
				"Authorization": tt.auth,
				"Content-Type":  "text/plain; charset=utf-8",
			}
			if r.Method != "POST" || r.Path != "/bg-alerts" {
				t.Errorf("%s %s; want POST /bg-alerts", r.Method, r.Path)
			}
			for k, v := range want {
				got := r.Header.Get(k)
				if k == "Title" {
					got, _ = new(mime.WordDecoder).DecodeHeader(got)
				}
				if got != v {
					t.Errorf("header %s = %q; want %q", k, got, v)
				}
			}
			if string(r.Body) != m.Text {
				t.Errorf("body %q; want the message text", r.Body)
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, r.Body)
			}
		})
	}
}

// TestNtfyHeaderInjection: a title with a line break or non-ASCII text
// must stay one header, and come back intact after RFC 2047 decoding.
func TestNtfyHeaderInjection(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { ntfyPublished(w) })
	a := testAlert("h1")
	a.Title = "Sign-in from Tromsø\r\nX-Injected: yes"
	cfg := &PushConfig{Provider: "ntfy", URL: rc.srv.URL, Topic: "bg"}
	if err := build(t, cfg, phoneEnv()).Notify(context.Background(), firing(a)); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	if r.Header.Get("X-Injected") != "" {
		t.Fatal("a title injected a header")
	}
	title, err := new(mime.WordDecoder).DecodeHeader(r.Header.Get("Title"))
	if err != nil || !strings.Contains(title, "Tromsø") {
		t.Errorf("Title %q (%v)", title, err)
	}
}

func TestNtfyAnswers(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		ra       string
		body     string
		ok, perm bool
		delay    time.Duration
		contains string
	}{
		{"published", 200, "", `{"id":"abc","event":"message"}`, true, false, 0, ""},
		{"no id", 200, "", `{}`, false, false, 0, "without a message id"},
		{"html", 200, "", `<html>`, false, false, 0, "without a message id"},
		{"forbidden", 403, "", `{"code":40301,"http":403,"error":"forbidden"}`, false, true, 0, "ntfy error 40301: forbidden"},
		{"rate limited", 429, "60", `{"code":42901,"http":429,"error":"limit reached: too many requests"}`, false, false, time.Minute, "ntfy error 42901"},
		{"down", 502, "", ``, false, false, 0, "HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) {
				if tt.ra != "" {
					w.Header().Set("Retry-After", tt.ra)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			err := build(t, &PushConfig{Provider: "ntfy", URL: rc.srv.URL, Topic: "bg"}, phoneEnv()).Notify(context.Background(), firing(testAlert("n1")))
			checkAnswer(t, err, tt.ok, tt.perm, tt.delay, tt.contains)
		})
	}
}

func checkAnswer(t *testing.T, err error, ok, perm bool, delay time.Duration, contains string) {
	t.Helper()
	if (err == nil) != ok {
		t.Fatalf("Notify = %v; want ok %v", err, ok)
	}
	if err == nil {
		return
	}
	if IsPermanent(err) != perm {
		t.Errorf("IsPermanent = %v; want %v (%v)", !perm, perm, err)
	}
	if d, _ := RetryAfter(err); d != delay {
		t.Errorf("RetryAfter = %v; want %v", d, delay)
	}
	if !strings.Contains(err.Error(), contains) || !strings.HasPrefix(err.Error(), `push "ops/phone": POST http://127.0.0.1:`) {
		t.Errorf("error %q; want the channel named and %q", err, contains)
	}
}

// TestPushTimeoutAndFailures: each provider through receivers that time
// out, then fail, then accept.
func TestPushTimeoutAndFailures(t *testing.T) {
	for _, provider := range []string{"ntfy", "pushover"} {
		t.Run(provider, func(t *testing.T) {
			rc := newAPIReceiver(t, func(i int, r apiRequest, w http.ResponseWriter) {
				switch i {
				case 0:
					time.Sleep(200 * time.Millisecond) // beyond the 50ms timeout
				case 1, 2:
					http.Error(w, "unavailable", http.StatusServiceUnavailable)
				default:
					if provider == "ntfy" {
						ntfyPublished(w)
					} else {
						_, _ = w.Write([]byte(`{"status":1,"request":"5042853c-402d-4a18-abcb-168734a801de"}`))
					}
				}
			})
			cfg := &PushConfig{Provider: provider, URL: rc.srv.URL, Topic: "bg"}
			if provider == "pushover" {
				cfg.Topic, cfg.Token, cfg.User = "", testPoToken, testPoUser
			}
			env := phoneEnv()
			env.Timeout = 50 * time.Millisecond
			errs := sendUntil(t, build(t, cfg, env), firing(testAlert("f1")), 6)
			if len(errs) != 3 || !strings.Contains(errs[0].Error(), "no response within 50ms") || !strings.Contains(errs[2].Error(), "HTTP 503") {
				t.Fatalf("errors %v; want a timeout then two 503s", errs)
			}
			for _, err := range errs {
				if IsPermanent(err) {
					t.Errorf("%v is Permanent", err)
				}
			}
		})
	}
}

// TestPushoverRequest asserts the Message API request
// (https://pushover.net/api): POST /1/messages.json, a form with token,
// user, title, message, priority (2 with retry and expire for Sev0), url
// and url_title (the acknowledge link), sound, device and timestamp.
func TestPushoverRequest(t *testing.T) {
	tests := []struct {
		sev    alert.Severity
		status string
		prio   string
		golden string
	}{
		{alert.Sev0, store.StatusFiring, "2", "pushover_sev0.form"},
		{alert.Sev1, store.StatusFiring, "1", "pushover_sev1.form"},
		{alert.Sev2, store.StatusFiring, "0", ""},
		{3, store.StatusFiring, "-1", ""},
		{4, store.StatusFiring, "-1", ""},
		{alert.Sev0, store.StatusResolved, "0", "pushover_resolved.form"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v-%s", tt.sev, tt.status), func(t *testing.T) {
			rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) {
				_, _ = w.Write([]byte(`{"status":1,"request":"5042853c-402d-4a18-abcb-168734a801de","receipt":"rLqVuqTRh62UzxtmqiaLzQmVcPgiCy"}`))
			})
			cfg := &PushConfig{Provider: "pushover", URL: rc.srv.URL, Token: testPoToken, User: testPoUser, Sound: "siren", Device: "phone1"}
			a := fullAlert()
			a.Severity = tt.sev
			n := firing(a)
			n.Status = tt.status
			if err := build(t, cfg, phoneEnv()).Notify(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			r := rc.requests()[0]
			if r.Method != "POST" || r.Path != "/1/messages.json" {
				t.Errorf("%s %s", r.Method, r.Path)
			}
			f := r.form(t)
			m, _ := phoneRender(n)
			want := url.Values{
				"token": {testPoToken}, "user": {testPoUser}, "title": {m.Subject}, "message": {m.Text},
				"priority": {tt.prio}, "url": {m.AckURL}, "url_title": {"Acknowledge"}, "sound": {"siren"}, "device": {"phone1"},
				"timestamp": {fmt.Sprint(a.EventTime.Unix())},
			}
			if tt.prio == "2" {
				want.Set("retry", "60")
				want.Set("expire", "3600")
			}
			if f.Encode() != want.Encode() {
				t.Errorf("form\n %v\nwant exactly\n %v", f, want)
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, formText(t, r))
			}
		})
	}
}

func TestPushoverAnswers(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		ra       string
		body     string
		ok, perm bool
		delay    time.Duration
		contains string
	}{
		{"accepted", 200, "", `{"status":1,"request":"r"}`, true, false, 0, ""},
		{"status 0 on 200", 200, "", `{"status":0,"errors":["application token is invalid"]}`, false, false, 0, "not accepted: Pushover: application token is invalid"},
		{"no status", 200, "", `{"request":"r"}`, false, false, 0, "no status 1"},
		{"not json", 200, "", `ok`, false, false, 0, "no status 1"},
		{"bad user", 400, "", `{"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed user key"],"status":0,"request":"r"}`, false, true, 0, "Pushover: user identifier is not a valid"},
		{"over quota", 429, "3600", `{"status":0,"errors":["message limit reached"]}`, false, false, time.Hour, "message limit reached"},
		{"server", 500, "", ``, false, false, 0, "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) {
				if tt.ra != "" {
					w.Header().Set("Retry-After", tt.ra)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			cfg := &PushConfig{Provider: "pushover", URL: rc.srv.URL, Token: testPoToken, User: testPoUser}
			err := build(t, cfg, phoneEnv()).Notify(context.Background(), firing(testAlert("p1")))
			checkAnswer(t, err, tt.ok, tt.perm, tt.delay, tt.contains)
		})
	}
}

func TestPushValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  PushConfig
		want []string
	}{
		{"ntfy ok", PushConfig{Provider: "ntfy", Topic: "bg-alerts"}, nil},
		{"pushover ok", PushConfig{Provider: "pushover", Token: testPoToken, User: testPoUser + "," + testPoUser}, nil},
		{"none", PushConfig{}, []string{"provider: required"}},
		{"unknown", PushConfig{Provider: "gotify"}, []string{`provider: unknown provider "gotify"`}},
		{"ntfy bad", PushConfig{Provider: "ntfy", Topic: "a/b", Token: "t", Username: "u", Tags: []string{"ok", "a,b"}, Sound: "siren", URL: "mailto:x"},
			[]string{"sound: only applies to provider: pushover", "topic: must be", "token: set either", "password: username and password", "tags[1]:", "url: URL scheme"}},
		{"ntfy no topic", PushConfig{Provider: "ntfy"}, []string{"topic: required"}},
		{"pushover bad", PushConfig{Provider: "pushover", Token: "short", User: "u", Sound: "a b", Device: "x!", Retry: 10, Expire: 20000, Topic: "t"},
			[]string{"topic: only applies to provider: ntfy", "token: must be 30", "user: must be", "sound:", "device:", "retry: must be at least 30", "expire: must be 1 to 10800"}},
		{"pushover none", PushConfig{Provider: "pushover"}, []string{"token: required", "user: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			cfg := tt.cfg
			cfg.Validate(func(f, m string) { got = append(got, f+": "+m) })
			checkReports(t, got, tt.want)
		})
	}
	n := PushConfig{Provider: "ntfy", Topic: "bg"}
	n.Validate(func(string, string) {})
	p := PushConfig{Provider: "pushover", Token: testPoToken, User: testPoUser}
	p.Validate(func(string, string) {})
	if n.URL != DefaultNtfyURL || p.URL != DefaultPushoverURL || p.Retry != 60 || p.Expire != 3600 {
		t.Errorf("defaults: ntfy %q, pushover %q retry %d expire %d", n.URL, p.URL, p.Retry, p.Expire)
	}
}

func TestPushPriorities(t *testing.T) {
	for sev, want := range []int{5, 4, 3, 2, 1} {
		if got := NtfyPriority(sev, store.StatusFiring); got != want {
			t.Errorf("NtfyPriority(%d) = %d; want %d", sev, got, want)
		}
	}
	for sev, want := range []int{2, 1, 0, -1, -1} {
		if got := PushoverPriority(sev, store.StatusFiring); got != want {
			t.Errorf("PushoverPriority(%d) = %d; want %d", sev, got, want)
		}
	}
	if NtfyPriority(-3, store.StatusFiring) != 5 || NtfyPriority(99, store.StatusFiring) != 1 || PushoverPriority(-1, store.StatusFiring) != 2 {
		t.Error("out-of-range severities must clamp (a negative one is treated as the most severe)")
	}
}
