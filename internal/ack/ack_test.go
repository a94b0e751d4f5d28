package ack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 14, 2, 51, 7, 0, time.UTC)

const testSecret = "test-secret-of-at-least-32-bytes-0123456789"

// clock is an injectable clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSigner(t *testing.T, c *clock) *Signer {
	t.Helper()
	s, err := NewSigner([]byte(testSecret), "https://bg.example/breakglass/", time.Hour, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// split cuts a link into the alert id (path) and the query.
func split(t *testing.T, link string) (string, string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := strings.CutPrefix(u.Path, "/breakglass/ack/")
	if !ok {
		t.Fatalf("link %s: path %q", link, u.Path)
	}
	return id, u.RawQuery
}

// TestSignedLink: a link verifies until it expires; changing the alert id,
// the expiry or the signature, or signing with another secret, is refused
// as tampered; an expired link as expired; a cut link as malformed.
func TestSignedLink(t *testing.T) {
	c := &clock{t: t0}
	s := newSigner(t, c)
	const id = "0123456789abcdef0123456789abcdef"
	link := s.URL(id)
	if !strings.HasPrefix(link, "https://bg.example/breakglass/ack/"+id+"?exp=") {
		t.Fatalf("link %s", link)
	}
	gotID, q := split(t, link)
	vals, _ := url.ParseQuery(q)
	exp, sig := vals.Get("exp"), vals.Get("sig")
	other, _ := NewSigner([]byte(strings.Repeat("x", 40)), "https://bg.example", time.Hour, c.Now)
	_, otherQ := split(t, strings.Replace(other.URL(id), "https://bg.example/", "https://bg.example/breakglass/", 1))
	flip := func(s string) string { // change one character, keeping the alphabet
		b := []byte(s)
		if b[3] == 'A' {
			b[3] = 'B'
		} else {
			b[3] = 'A'
		}
		return string(b)
	}
	later := strconv.FormatInt(t0.Add(48*time.Hour).Unix(), 10)
	for _, tc := range []struct {
		name, id, query string
		advance         time.Duration
		want            error
	}{
		{"valid", gotID, q, 0, nil},
		{"valid just before expiry", gotID, q, time.Hour - time.Second, nil},
		{"expired at expiry", gotID, q, time.Hour, ErrExpired},
		{"expired long ago", gotID, q, 30 * 24 * time.Hour, ErrExpired},
		{"tampered alert id", "0123456789abcdef0123456789abcdee", q, 0, ErrBadSignature},
		{"tampered expiry", gotID, "exp=" + later + "&sig=" + sig, 0, ErrBadSignature},
		{"tampered signature", gotID, "exp=" + exp + "&sig=" + flip(sig), 0, ErrBadSignature},
		{"truncated signature", gotID, "exp=" + exp + "&sig=" + sig[:20], 0, ErrBadSignature},
		{"another secret", gotID, otherQ, 0, ErrBadSignature},
		{"no signature", gotID, "exp=" + exp, 0, ErrMalformed},
		{"no expiry", gotID, "sig=" + sig, 0, ErrMalformed},
		{"two signatures", gotID, q + "&sig=" + sig, 0, ErrMalformed},
		{"expiry not a number", gotID, "exp=soon&sig=" + sig, 0, ErrMalformed},
		{"expiry with leading zero", gotID, "exp=0" + exp + "&sig=" + sig, 0, ErrMalformed},
		{"signature not base64url", gotID, "exp=" + exp + "&sig=" + sig + "%2B%2F", 0, ErrMalformed},
		{"bad query", gotID, "exp=%zz", 0, ErrMalformed},
		{"empty id", "", q, 0, ErrMalformed},
		{"id with a slash", "a/b", q, 0, ErrMalformed},
		{"id too long", strings.Repeat("a", 129), q, 0, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t0.Add(tc.advance)
			expires, err := s.Verify(tc.id, tc.query)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !expires.Equal(t0.Add(time.Hour)) {
				t.Errorf("expires %v, want %v", expires, t0.Add(time.Hour))
			}
		})
	}
}

// fixture is a real SQLite store with one firing alert, and the handlers
// on a loopback server.
type fixture struct {
	st   *sqlite.Store
	srv  *httptest.Server
	c    *clock
	s    *Signer
	a    alert.Alert
	acks []string
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, c: &clock{t: t0}}
	f.a = alert.Alert{ID: alert.Key("evt-1", "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0,
		Title:     `Break-glass sign-in <script>alert(1)</script>`,
		AccountID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", AccountUPN: "bg-admin1@contoso.onmicrosoft.com",
		EventID: "evt-1", EventTime: t0, Detected: t0.Add(time.Second), Category: "SignInLogs", IPAddress: "203.0.113.7"}
	if _, err := st.AddAlert(ctx, f.a, store.Evidence{Raw: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	f.s = newSigner(t, f.c)
	o.Store, o.Now = st, f.c.Now
	if o.Signer == nil {
		o.Signer = f.s
	}
	o.Acked = func(id string) { f.acks = append(f.acks, id) }
	mux := http.NewServeMux()
	New(o).Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// local turns a link into the loopback server's URL of the same path and
// query (the reverse proxy of base_url strips /breakglass).
func (f *fixture) local(t *testing.T, link string) string {
	t.Helper()
	id, q := split(t, link)
	return f.srv.URL + "/ack/" + id + "?" + q
}

func (f *fixture) state(t *testing.T) (string, []store.StateChange) {
	t.Helper()
	a, err := f.st.Alert(context.Background(), f.a.ID)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := f.st.StateChanges(context.Background(), f.a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a.State, cs
}

func do(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return do(t, req)
}

func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, body, _ := do(t, req)
	return code, body
}

// TestLinkGetDoesNotAcknowledge: opening the link (a mail scanner does)
// shows the alert and the form and changes nothing, however often.
func TestLinkGetDoesNotAcknowledge(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.local(t, f.s.URL(f.a.ID))
	for range 3 {
		code, body, h := get(t, u)
		if code != http.StatusOK || !strings.Contains(body, `<form method="post">`) || !strings.Contains(body, "bg-admin1@contoso.onmicrosoft.com") {
			t.Fatalf("GET = %d\n%s", code, body)
		}
		if strings.Contains(body, "<script>alert(1)</script>") || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("alert title not escaped:\n%s", body)
		}
		if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("headers %v", h)
		}
	}
	if state, cs := f.state(t); state != alert.StateFiring || len(cs) != 0 {
		t.Fatalf("after GET: state %s, changes %+v", state, cs)
	}
	// HEAD is GET without a body: still no acknowledgement.
	req, _ := http.NewRequest(http.MethodHead, u, nil)
	if code, _, _ := do(t, req); code != http.StatusOK {
		t.Errorf("HEAD = %d", code)
	}
	if state, _ := f.state(t); state != alert.StateFiring {
		t.Fatalf("after HEAD: %s", state)
	}
}

// TestLinkPostAcknowledges: POST records the name typed, how (link), the
// note and when; a second POST says who acknowledged first and records
// nothing; the page then shows it.
func TestLinkPostAcknowledges(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.local(t, f.s.URL(f.a.ID))
	f.c.Add(3 * time.Minute)
	code, body := postForm(t, u, url.Values{"by": {"  Dana\x1b[31m Oncall "}, "note": {"looking"}})
	if code != http.StatusOK || !strings.Contains(body, "Acknowledged by Dana [31m Oncall") || !strings.Contains(body, "Escalation to the next group has stopped") {
		t.Fatalf("POST = %d\n%s", code, body)
	}
	state, cs := f.state(t)
	want := store.StateChange{AlertID: f.a.ID, From: alert.StateFiring, To: alert.StateAcknowledged,
		By: "Dana [31m Oncall", Via: store.ViaLink, Note: "looking", At: t0.Add(3 * time.Minute)}
	if state != alert.StateAcknowledged || len(cs) != 1 || cs[0] != want {
		t.Fatalf("state %s, changes %+v, want %+v", state, cs, want)
	}
	if len(f.acks) != 1 {
		t.Errorf("Acked called %d times", len(f.acks))
	}
	code, body = postForm(t, u, url.Values{"by": {"Eve"}})
	if code != http.StatusOK || !strings.Contains(body, "Already acknowledged by Dana [31m Oncall (link) at 2026-03-14 02:54:07 UTC") {
		t.Fatalf("second POST = %d\n%s", code, body)
	}
	if _, cs := f.state(t); len(cs) != 1 || len(f.acks) != 1 {
		t.Fatalf("second POST recorded: %+v", cs)
	}
	if code, body, _ := get(t, u); code != http.StatusOK || strings.Contains(body, "<form") || !strings.Contains(body, "Already acknowledged") {
		t.Fatalf("GET after ack = %d\n%s", code, body)
	}
}

// TestLinkPostWithoutName records LinkBy.
func TestLinkPostWithoutName(t *testing.T) {
	f := newFixture(t, Options{})
	if code, _ := postForm(t, f.local(t, f.s.URL(f.a.ID)), url.Values{}); code != http.StatusOK {
		t.Fatalf("POST = %d", code)
	}
	if _, cs := f.state(t); len(cs) != 1 || cs[0].By != LinkBy || cs[0].Via != store.ViaLink {
		t.Fatalf("changes %+v", cs)
	}
}

// TestLinkRefused: an expired, tampered, incomplete or unknown-alert link
// gets a clear page and a 4xx on GET and POST, and never acknowledges.
func TestLinkRefused(t *testing.T) {
	f := newFixture(t, Options{})
	link := f.s.URL(f.a.ID)
	good := f.local(t, link)
	ghost := f.local(t, f.s.URL("ffffffffffffffffffffffffffffffff"))
	f.c.Add(2 * time.Hour)
	expired := good
	f.c.Add(-2 * time.Hour)
	tampered := strings.Replace(good, "sig=", "sig=A", 1)
	for _, tc := range []struct {
		name, url string
		advance   time.Duration
		code      int
		text      string
	}{
		{"expired", expired, 2 * time.Hour, http.StatusGone, "This link has expired"},
		{"tampered", tampered, 0, http.StatusForbidden, "This link is not valid"},
		{"other alert id", strings.Replace(good, f.a.ID, "0"+f.a.ID[1:], 1), 0, http.StatusForbidden, "This link is not valid"},
		{"cut short", good[:strings.Index(good, "&sig=")], 0, http.StatusBadRequest, "This link is incomplete"},
		{"bad id", f.srv.URL + "/ack/%3Cb%3E?exp=1&sig=x", 0, http.StatusBadRequest, "This link is incomplete"},
		{"unknown alert", ghost, 0, http.StatusNotFound, "No alert ffffffffffffffffffffffffffffffff is stored here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.c.t = t0.Add(tc.advance)
			code, body, _ := get(t, tc.url)
			if code != tc.code || !strings.Contains(body, tc.text) || strings.Contains(body, "<form") {
				t.Errorf("GET = %d, want %d with %q\n%s", code, tc.code, tc.text, body)
			}
			code, body = postForm(t, tc.url, url.Values{"by": {"Mallory"}})
			if code != tc.code || !strings.Contains(body, tc.text) {
				t.Errorf("POST = %d, want %d with %q\n%s", code, tc.code, tc.text, body)
			}
			if strings.Contains(body, "<b>") {
				t.Errorf("path echoed unescaped:\n%s", body)
			}
			if state, cs := f.state(t); state != alert.StateFiring || len(cs) != 0 {
				t.Fatalf("refused link acknowledged: %s %+v", state, cs)
			}
		})
	}
}

// TestLinkResolvedAlert: a resolved alert is not acknowledged by a link.
func TestLinkResolvedAlert(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.st.SetAlertState(context.Background(), f.a.ID, alert.StateResolved, "breakglass", t0); err != nil {
		t.Fatal(err)
	}
	code, body := postForm(t, f.local(t, f.s.URL(f.a.ID)), url.Values{"by": {"Dana"}})
	if code != http.StatusOK || !strings.Contains(body, "already resolved") {
		t.Fatalf("POST = %d\n%s", code, body)
	}
	if state, _ := f.state(t); state != alert.StateResolved {
		t.Fatalf("state %s", state)
	}
}

// TestLinkDrill: the link of a test notification (never stored) says the
// drill reached the daemon, on GET and POST, and records nothing.
func TestLinkDrill(t *testing.T) {
	f := newFixture(t, Options{TestID: func(id string) bool { return strings.HasPrefix(id, "test-") }})
	u := f.local(t, f.s.URL("test-20260314T025107.000Z"))
	if code, body, _ := get(t, u); code != http.StatusOK || !strings.Contains(body, "Test link works") {
		t.Fatalf("GET = %d\n%s", code, body)
	}
	if code, body := postForm(t, u, url.Values{"by": {"Dana"}}); code != http.StatusOK || !strings.Contains(body, "Test link works") {
		t.Fatalf("POST = %d\n%s", code, body)
	}
	if len(f.acks) != 0 {
		t.Fatal("a drill acknowledged something")
	}
}

// TestOff: without credentials each way answers 404 naming its setting.
func TestOff(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mux := http.NewServeMux()
	New(Options{Store: st}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct{ method, path, text string }{
		{http.MethodGet, "/ack/abc?exp=1&sig=x", "notify.ack.secret"},
		{http.MethodPost, "/ack/abc?exp=1&sig=x", "notify.ack.secret"},
		{http.MethodPost, PathPagerDuty, "notify.ack.pagerduty_secret"},
		{http.MethodPost, PathOpsgenie, "notify.ack.opsgenie_token"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("{}"))
		code, body, _ := do(t, req)
		if code != http.StatusNotFound || !strings.Contains(body, tc.text) {
			t.Errorf("%s %s = %d %s", tc.method, tc.path, code, body)
		}
	}
}

func payload(t *testing.T, name, alertID string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "ALERT_ID", alertID))
}

func pdSign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

const pdSecret = "pd-subscription-secret-0123456789"

// TestPagerDutyWebhook: the documented incident.acknowledged payload,
// signed with the subscription secret, acknowledges the alert whose id is
// the incident key, as the agent, at the event's time; bad or missing
// signatures are 401, an unknown incident key 404, other events and
// replays harmless.
func TestPagerDutyWebhook(t *testing.T) {
	f := newFixture(t, Options{PagerDutySecret: pdSecret})
	f.c.Add(20 * time.Minute) // the event occurred at 03:04:05.123, now is 03:11:07
	ackBody := payload(t, "pagerduty_acknowledged.json", f.a.ID)
	post := func(body []byte, sig string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+PathPagerDuty, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-PagerDuty-Signature", sig)
		}
		code, b, _ := do(t, req)
		return code, b
	}
	triggered := []byte(strings.Replace(string(ackBody), `"incident.acknowledged"`, `"incident.triggered"`, 1))
	ghost := payload(t, "pagerduty_acknowledged.json", "ffffffffffffffffffffffffffffffff")
	noKey := []byte(strings.Replace(string(ackBody), `"incident_key": "`+f.a.ID+`"`, `"incident_key": null`, 1))
	for _, tc := range []struct {
		name string
		body []byte
		sig  string
		code int
		text string
	}{
		{"missing signature", ackBody, "", http.StatusUnauthorized, "X-PagerDuty-Signature is missing"},
		{"wrong secret", ackBody, pdSign(ackBody, "another-secret-0123456789"), http.StatusUnauthorized, "does not match"},
		{"body altered after signing", append([]byte(" "), ackBody...), pdSign(ackBody, pdSecret), http.StatusUnauthorized, "does not match"},
		{"v0 scheme", ackBody, strings.Replace(pdSign(ackBody, pdSecret), "v1=", "v0=", 1), http.StatusUnauthorized, "does not match"},
		{"not JSON", []byte("nope"), pdSign([]byte("nope"), pdSecret), http.StatusBadRequest, "invalid JSON at offset 2"},
		{"no event", []byte(`{"messages":[]}`), pdSign([]byte(`{"messages":[]}`), pdSecret), http.StatusBadRequest, `no "event"`},
		{"other event type", triggered, pdSign(triggered, pdSecret), http.StatusOK, "event incident.triggered ignored"},
		{"unknown alert", ghost, pdSign(ghost, pdSecret), http.StatusNotFound, "No alert ffffffffffffffffffffffffffffffff is stored here"},
		{"no incident key", noKey, pdSign(noKey, pdSecret), http.StatusNotFound, "not a breakglass incident"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(tc.body, tc.sig)
			if code != tc.code || !strings.Contains(body, tc.text) {
				t.Fatalf("= %d %q, want %d %q", code, body, tc.code, tc.text)
			}
			if state, cs := f.state(t); state != alert.StateFiring || len(cs) != 0 {
				t.Fatalf("acknowledged: %s %+v", state, cs)
			}
		})
	}
	// Rotation: the old secret's signature first, then the current one.
	code, body := post(ackBody, pdSign(ackBody, "old-secret-0123456789abc")+","+pdSign(ackBody, pdSecret))
	if code != http.StatusOK || !strings.Contains(body, "Acknowledged by Dana Oncall") {
		t.Fatalf("= %d %s", code, body)
	}
	want := store.StateChange{AlertID: f.a.ID, From: alert.StateFiring, To: alert.StateAcknowledged, By: "Dana Oncall",
		Via: store.ViaPagerDuty, Note: "PagerDuty incident Q1INC2DENT3 https://contoso.pagerduty.com/incidents/Q1INC2DENT3",
		At: time.Date(2026, 3, 14, 3, 4, 5, 123e6, time.UTC)}
	if state, cs := f.state(t); state != alert.StateAcknowledged || len(cs) != 1 || cs[0] != want {
		t.Fatalf("state %s, changes %+v\nwant %+v", state, cs, want)
	}
	// PagerDuty retries deliveries: the replay is a 200 no-op.
	code, body = post(ackBody, pdSign(ackBody, pdSecret))
	if code != http.StatusOK || !strings.Contains(body, "Already acknowledged by Dana Oncall (pagerduty)") {
		t.Fatalf("replay = %d %s", code, body)
	}
	if _, cs := f.state(t); len(cs) != 1 {
		t.Fatalf("replay recorded: %+v", cs)
	}
	big := make([]byte, MaxWebhookBody+1)
	if code, _ := post(big, pdSign(big, pdSecret)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body = %d", code)
	}
}

const ogToken = "opsgenie-shared-token-0123456789"

// TestOpsgenieWebhook: the documented Acknowledge action data with the
// shared token acknowledges the alert whose id is the alias, as the
// username; a missing or wrong token is 401, other actions and replays
// harmless, an unknown alias 404.
func TestOpsgenieWebhook(t *testing.T) {
	f := newFixture(t, Options{OpsgenieToken: ogToken})
	ackBody := payload(t, "opsgenie_acknowledge.json", f.a.ID)
	post := func(body []byte, hdr, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+PathOpsgenie, strings.NewReader(string(body)))
		if hdr != "" {
			req.Header.Set(hdr, tok)
		}
		code, b, _ := do(t, req)
		return code, b
	}
	closeBody := []byte(strings.Replace(string(ackBody), `"action": "Acknowledge"`, `"action": "Close"`, 1))
	ghost := payload(t, "opsgenie_acknowledge.json", "ffffffffffffffffffffffffffffffff")
	for _, tc := range []struct {
		name      string
		body      []byte
		hdr, tok  string
		code      int
		text      string
		forbidden string
	}{
		{"missing token", ackBody, "", "", http.StatusUnauthorized, "X-Breakglass-Token is missing", ""},
		{"wrong token", ackBody, OpsgenieTokenHeader, ogToken + "x", http.StatusUnauthorized, "does not match", ogToken},
		{"wrong bearer", ackBody, "Authorization", "Bearer nope", http.StatusUnauthorized, "does not match", ""},
		{"not JSON", []byte("{"), OpsgenieTokenHeader, ogToken, http.StatusBadRequest, "invalid JSON", ""},
		{"wrong type", []byte(`{"action":"Acknowledge","alert":{"alias":7}}`), OpsgenieTokenHeader, ogToken, http.StatusBadRequest, "alert.alias is a JSON number, want string", ""},
		{"other action", closeBody, OpsgenieTokenHeader, ogToken, http.StatusOK, "action Close ignored", ""},
		{"unknown alert", ghost, OpsgenieTokenHeader, ogToken, http.StatusNotFound, "No alert ffffffffffffffffffffffffffffffff", ""},
		{"no alias", []byte(`{"action":"Acknowledge","alert":{"tinyId":"9"}}`), OpsgenieTokenHeader, ogToken, http.StatusNotFound, "Opsgenie alert 9 has no breakglass alert id", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(tc.body, tc.hdr, tc.tok)
			if code != tc.code || !strings.Contains(body, tc.text) {
				t.Fatalf("= %d %q, want %d %q", code, body, tc.code, tc.text)
			}
			if tc.forbidden != "" && strings.Contains(body, tc.forbidden) {
				t.Fatalf("reply echoes the token: %s", body)
			}
			if state, cs := f.state(t); state != alert.StateFiring || len(cs) != 0 {
				t.Fatalf("acknowledged: %s %+v", state, cs)
			}
		})
	}
	code, body := post(ackBody, "Authorization", "Bearer "+ogToken)
	if code != http.StatusOK || !strings.Contains(body, "Acknowledged by dana.oncall@contoso.example") {
		t.Fatalf("= %d %s", code, body)
	}
	want := store.StateChange{AlertID: f.a.ID, From: alert.StateFiring, To: alert.StateAcknowledged, By: "dana.oncall@contoso.example",
		Via: store.ViaOpsgenie, Note: "Opsgenie alert #42 (3d1c0f6e-2b7a-4c55-9a1e-6f0b8d2c4e11-1773457320000)", At: t0}
	if state, cs := f.state(t); state != alert.StateAcknowledged || len(cs) != 1 || cs[0] != want {
		t.Fatalf("state %s, changes %+v\nwant %+v", state, cs, want)
	}
	code, body = post(ackBody, OpsgenieTokenHeader, ogToken)
	if code != http.StatusOK || !strings.Contains(body, "Already acknowledged") {
		t.Fatalf("replay = %d %s", code, body)
	}
	if _, cs := f.state(t); len(cs) != 1 {
		t.Fatalf("replay recorded: %+v", cs)
	}
}

// TestLinkAckSaysOthersStillEscalate: a coalesced SMS carries one link,
// the most severe alert's. Acknowledging it must not read as if the whole
// burst were taken: the page says how many other alerts for the same
// account are still firing (and so still escalate), and how to take them.
// Alerts of other accounts, and ones already acknowledged, are not counted.
func TestLinkAckSaysOthersStillEscalate(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	add := func(id, account string) alert.Alert {
		a := f.a
		a.ID, a.EventID, a.AccountID = alert.Key(id, "bg.signin"), id, account
		if _, err := f.st.AddAlert(ctx, a, store.Evidence{Raw: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	add("evt-2", f.a.AccountID)
	add("evt-3", f.a.AccountID)
	acked := add("evt-4", f.a.AccountID)
	if _, err := f.st.ChangeAlertState(ctx, store.StateChange{AlertID: acked.ID, To: alert.StateAcknowledged, By: "x", Via: store.ViaCLI, At: t0}); err != nil {
		t.Fatal(err)
	}
	add("evt-5", "0f8fad5b-d9cb-469f-a165-70867728950e")

	u := f.local(t, f.s.URL(f.a.ID))
	_, page, _ := get(t, u)
	if !strings.Contains(page, "2 other alerts for this account are firing") {
		t.Errorf("GET page does not say 2 other alerts are firing:\n%s", page)
	}
	code, body := postForm(t, u, url.Values{"by": {"Dana"}})
	if code != http.StatusOK || !strings.Contains(body, "Acknowledged by Dana") {
		t.Fatalf("POST = %d\n%s", code, body)
	}
	if !strings.Contains(body, "2 other alerts for this account are still firing and still escalate") ||
		!strings.Contains(body, "breakglass alerts list --state firing") {
		t.Errorf("POST page does not say the 2 others still escalate:\n%s", body)
	}
}

// TestLinkAckAllOfAccount: the page offers to acknowledge the account's
// other firing alerts with the one link a coalesced SMS carries; ticked,
// they are acknowledged with the same name, so none of them escalates.
// Other accounts' alerts and already acknowledged ones are untouched.
func TestLinkAckAllOfAccount(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	add := func(id, account string) alert.Alert {
		a := f.a
		a.ID, a.EventID, a.AccountID = alert.Key(id, "bg.signin"), id, account
		if _, err := f.st.AddAlert(ctx, a, store.Evidence{Raw: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	o1, o2 := add("evt-2", f.a.AccountID), add("evt-3", f.a.AccountID)
	other := add("evt-5", "0f8fad5b-d9cb-469f-a165-70867728950e")
	u := f.local(t, f.s.URL(f.a.ID))
	_, page, _ := get(t, u)
	if !strings.Contains(page, `<input type="checkbox" name="all" value="1" checked> Also acknowledge the 2 other firing alert(s) of this account`) {
		t.Errorf("GET page lacks the box for the 2 others:\n%s", page)
	}
	code, body := postForm(t, u, url.Values{"by": {"Dana"}, "all": {"1"}, "note": {"on it"}})
	if code != http.StatusOK || !strings.Contains(body, "Also acknowledged 2 other firing alert(s) of this account.") || strings.Contains(body, "still escalate") {
		t.Fatalf("POST = %d\n%s", code, body)
	}
	for _, a := range []alert.Alert{o1, o2} {
		got, err := f.st.Alert(ctx, a.ID)
		if err != nil || got.State != alert.StateAcknowledged {
			t.Errorf("%s: %s, %v; want acknowledged", a.EventID, got.State, err)
		}
		cs, _ := f.st.StateChanges(ctx, a.ID)
		if len(cs) != 1 || cs[0].By != "Dana" || cs[0].Via != store.ViaLink || !strings.Contains(cs[0].Note, "on it (acknowledged with "+f.a.ID+")") {
			t.Errorf("%s: state changes %+v", a.EventID, cs)
		}
	}
	if got, _ := f.st.Alert(ctx, other.ID); got.State == alert.StateAcknowledged {
		t.Error("another account's alert was acknowledged")
	}
}

// TestWebhookDrill: acknowledging in PagerDuty or Opsgenie the incident
// of a test notification (breakglass notify test, never stored) is a 200
// saying so, not a 404 that the provider logs as a failing webhook during
// every drill; nothing is recorded.
func TestWebhookDrill(t *testing.T) {
	const ogToken = "opsgenie-shared-token-0123456789"
	f := newFixture(t, Options{PagerDutySecret: pdSecret, OpsgenieToken: ogToken,
		TestID: func(id string) bool { return strings.HasPrefix(id, "test-") }})
	id := "test-20260314T025107.000Z"
	pd := payload(t, "pagerduty_acknowledged.json", id)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+PathPagerDuty, strings.NewReader(string(pd)))
	req.Header.Set("X-PagerDuty-Signature", pdSign(pd, pdSecret))
	if code, body, _ := do(t, req); code != http.StatusOK || !strings.Contains(body, "test notification") {
		t.Errorf("PagerDuty = %d %q", code, body)
	}
	og := `{"action":"Acknowledge","alert":{"alias":"` + id + `","username":"dana@contoso.example","tinyId":"7"}}`
	req, _ = http.NewRequest(http.MethodPost, f.srv.URL+PathOpsgenie, strings.NewReader(og))
	req.Header.Set(OpsgenieTokenHeader, ogToken)
	if code, body, _ := do(t, req); code != http.StatusOK || !strings.Contains(body, "test notification") {
		t.Errorf("Opsgenie = %d %q", code, body)
	}
	if len(f.acks) != 0 {
		t.Fatal("a drill acknowledged something")
	}
}
