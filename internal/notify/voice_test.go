package notify

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

func twilioVoice(base string, to ...string) *VoiceConfig {
	return &VoiceConfig{URL: base, To: to, From: testFrom, AccountSID: testSID, AuthToken: testToken}
}

// TestVoiceRequest asserts the Calls API request
// (https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource):
// POST /2010-04-01/Accounts/{AccountSid}/Calls.json, basic auth, a form
// with exactly To, From and Twiml, the alert said twice.
func TestVoiceRequest(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, "CA0123") })
	cfg := twilioVoice(rc.srv.URL, testTo1)
	cfg.Voice, cfg.Language = "Polly.Joanna", "en-US"
	v := build(t, cfg, phoneEnv())
	n := firing(fullAlert())
	if err := v.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/2010-04-01/Accounts/"+testSID+"/Calls.json" {
		t.Errorf("%s %s", r.Method, r.Path)
	}
	if u, p, ok := r.basicAuth(); !ok || u != testSID || p != testToken {
		t.Errorf("basic auth %q %q", u, p)
	}
	f := r.form(t)
	if len(f) != 3 || f.Get("To") != testTo1 || f.Get("From") != testFrom {
		t.Errorf("form %v; want exactly To, From, Twiml", f)
	}
	m, _ := phoneRender(n)
	says := twimlSays(t, f.Get("Twiml"))
	if len(says) != 2 || says[0] != says[1] || says[0] != m.Voice {
		t.Errorf("TwiML says %q; want the voice text twice: %q", says, m.Voice)
	}
	if !strings.Contains(f.Get("Twiml"), `<Say voice="Polly.Joanna" language="en-US">`) {
		t.Errorf("TwiML %s lacks voice and language", f.Get("Twiml"))
	}
	checkGolden(t, "voice_twiml.xml", []byte(f.Get("Twiml")+"\n"))
}

// twimlSays parses a TwiML document, failing on anything but Response,
// Say and Pause (an alert title must not be able to add <Dial> or
// <Redirect>), and returns the text of each Say.
func twimlSays(t *testing.T, doc string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var says []string
	var in bool
	var cur strings.Builder
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("TwiML does not parse: %v\n%s", err, doc)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && tk.Name.Local == "Response":
			case depth == 2 && tk.Name.Local == "Say":
				in = true
				cur.Reset()
			case depth == 2 && tk.Name.Local == "Pause":
			default:
				t.Fatalf("TwiML has element <%s> at depth %d:\n%s", tk.Name.Local, depth, doc)
			}
		case xml.EndElement:
			if in && tk.Name.Local == "Say" {
				says = append(says, cur.String())
				in = false
			}
			depth--
		case xml.CharData:
			if in {
				cur.Write(tk)
			}
		}
	}
	return says
}

func TestTwiMLHostileText(t *testing.T) {
	for _, text := range []string{
		`</Say><Dial>+19005551234</Dial><Say>`,
		`<![CDATA[ x ]]> & &amp; "quotes" 'apos'`,
		"nul\x00 and \xff invalid utf-8 \x1b[31m",
		"",
		strings.Repeat("Very long alert text & more. ", 400),
	} {
		doc := TwiML(text, "alice", "en-US")
		if len(doc) > maxTwiML {
			t.Errorf("TwiML of %d bytes; Twilio takes %d", len(doc), maxTwiML)
		}
		says := twimlSays(t, doc)
		if len(says) != 2 || says[0] == "" {
			t.Errorf("says %q for %q", says, text)
		}
	}
}

func TestVoiceResolved(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, "CA1") })
	n := firing(testAlert("r1"))
	n.Status, n.ID = store.StatusResolved, NotificationID("r1", store.StatusResolved)
	if err := build(t, twilioVoice(rc.srv.URL, testTo1), phoneEnv()).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if len(rc.requests()) != 0 {
		t.Fatalf("a resolution was phoned without send_resolved")
	}
	cfg := twilioVoice(rc.srv.URL, testTo1)
	cfg.SendResolved = true
	if err := build(t, cfg, phoneEnv()).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if len(rc.requests()) != 1 {
		t.Fatalf("send_resolved: %d calls; want 1", len(rc.requests()))
	}
}

// TestVoiceRetries: 429 with Retry-After, then a server error, then
// accepted; the errors are retryable and carry the delay.
func TestVoiceRetries(t *testing.T) {
	rc := newAPIReceiver(t, func(i int, _ apiRequest, w http.ResponseWriter) {
		switch i {
		case 0:
			w.Header().Set("Retry-After", "7")
			http.Error(w, `{"code":20429,"message":"Too Many Requests"}`, http.StatusTooManyRequests)
		case 1:
			http.Error(w, "bad gateway", http.StatusBadGateway)
		default:
			twilioCreated(w, "CA2")
		}
	})
	errs := sendUntil(t, build(t, twilioVoice(rc.srv.URL, testTo1), phoneEnv()), firing(testAlert("v1")), 5)
	if len(errs) != 2 || IsPermanent(errs[0]) || IsPermanent(errs[1]) {
		t.Fatalf("errors %v; want two retryable ones", errs)
	}
	if d, _ := RetryAfter(errs[0]); d.Seconds() != 7 {
		t.Errorf("RetryAfter %v; want 7s", d)
	}
	if len(rc.requests()) != 3 {
		t.Errorf("%d calls; want 3", len(rc.requests()))
	}
}

func TestVoiceValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  VoiceConfig
		want []string
	}{
		{"ok", *twilioVoice("", testTo1), nil},
		{"empty", VoiceConfig{}, []string{"to: at least one", "account_sid: required", "auth_token: required", "from: required"}},
		{"bad", VoiceConfig{To: []string{"12"}, From: "Breakglass", AccountSID: testSID, AuthToken: "x", Voice: `a"b`, Language: "en US", URL: "http://"},
			[]string{"to[0]:", "url: URL has no host", "from: must be an E.164", "voice: must be", "language: must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			cfg := tt.cfg
			cfg.Validate(func(f, m string) { got = append(got, f+": "+m) })
			checkReports(t, got, tt.want)
		})
	}
	c := *twilioVoice("", testTo1)
	c.Validate(func(string, string) {})
	if c.URL != DefaultTwilioURL {
		t.Errorf("url default %q", c.URL)
	}
}

// TestVoiceTimeout: a Calls API that does not answer costs one timeout of
// the channel's own, the error is retryable, says it timed out and names
// the channel; the dispatcher-level path (retried, then delivered) is in
// TestHTTPChannelTimeoutRetried.
func TestVoiceTimeout(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, _ http.ResponseWriter) { time.Sleep(300 * time.Millisecond) })
	env := phoneEnv()
	env.Timeout = 50 * time.Millisecond
	v := build(t, twilioVoice(rc.srv.URL, testTo1, testTo2), env)
	if b, ok := v.(Bounded); !ok || b.SendTimeout() != 50*time.Millisecond {
		t.Fatalf("voice must be Bounded by the channel timeout")
	}
	began := time.Now()
	err := v.Notify(context.Background(), firing(testAlert("vt1")))
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no response within 50ms") {
		t.Fatalf("err = %v; want a retryable timeout", err)
	}
	if !strings.Contains(err.Error(), `voice "ops/phone": POST http://127.0.0.1:`) {
		t.Errorf("error %q does not name the channel and endpoint", err)
	}
	// Both numbers are called at once: two timeouts take one.
	if took := time.Since(began); took > time.Second {
		t.Errorf("took %v", took)
	}
	if n := len(rc.requests()); n != 2 {
		t.Errorf("%d calls placed, want one per number", n)
	}
}
