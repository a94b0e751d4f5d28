package notify

import (
	"net/http"
	"strings"
	"testing"

	"breakglass/internal/secret"
)

// Every provider answer, however hostile, gives a verdict without a
// panic; success only for an answer that proves acceptance, and no error
// text carries the configured secret.

const fuzzSecret = "fuzz-s3cret-token-value"

func fuzzAnswers(f *testing.F) {
	for _, s := range []struct {
		code int
		body string
	}{
		{201, `{"sid":"SM1","status":"queued"}`}, {400, `{"code":21211,"message":"bad"}`}, {200, `{"id":"x","event":"message"}`},
		{200, `{"status":1}`}, {200, `{"status":0,"errors":["` + fuzzSecret + `"]}`}, {429, `{"errors":null}`}, {500, "\xff\x00"},
		{200, `{"sid":null}`}, {200, `{"status":"1"}`}, {302, ``}, {0, ``}, {999, `[]`},
	} {
		f.Add(s.code, []byte(s.body), "")
		f.Add(s.code, []byte(s.body), "120")
	}
}

func fuzzResponse(code int, body []byte, retryAfter string) *HTTPResponse {
	h := http.Header{}
	h.Set("Retry-After", retryAfter)
	return &HTTPResponse{StatusCode: code, Header: h, Body: body}
}

func checkFuzzErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), fuzzSecret) {
		t.Fatalf("error leaks the secret: %v", err)
	}
}

func FuzzTwilioVerdict(f *testing.F) {
	fuzzAnswers(f)
	c := NewHTTPClient("sms", nil, 0, fuzzSecret)
	f.Fuzz(func(t *testing.T, code int, body []byte, ra string) {
		sid, err := twilioVerdict(c, "https://api.twilio.com/x", "Messages", fuzzResponse(code, body, ra))
		if err == nil && (sid == "" || code < 200 || code > 299) {
			t.Fatalf("accepted HTTP %d %q with sid %q", code, body, sid)
		}
		checkFuzzErr(t, err)
	})
}

func FuzzNtfyVerdict(f *testing.F) {
	fuzzAnswers(f)
	c := NewHTTPClient("push", nil, 0, fuzzSecret)
	f.Fuzz(func(t *testing.T, code int, body []byte, ra string) {
		err := ntfyVerdict(c, "https://ntfy.sh/x", fuzzResponse(code, body, ra))
		if err == nil && (code < 200 || code > 299 || !strings.Contains(string(body), "id")) {
			t.Fatalf("accepted HTTP %d %q", code, body)
		}
		checkFuzzErr(t, err)
	})
}

func FuzzPushoverVerdict(f *testing.F) {
	fuzzAnswers(f)
	c := NewHTTPClient("push", nil, 0, fuzzSecret)
	f.Fuzz(func(t *testing.T, code int, body []byte, ra string) {
		err := pushoverVerdict(c, "https://api.pushover.net/1/messages.json", fuzzResponse(code, body, ra))
		if err == nil && (code < 200 || code > 299 || !strings.Contains(string(body), "1")) {
			t.Fatalf("accepted HTTP %d %q", code, body)
		}
		checkFuzzErr(t, err)
	})
}

// FuzzTwiML: any alert text makes a script that parses, holds only Say
// and Pause, says something twice and fits Twilio's limit.
func FuzzTwiML(f *testing.F) {
	for _, s := range []string{"", "</Say><Dial>+1900</Dial>", "\x00\xff", strings.Repeat("é&<", 2000)} {
		f.Add(s, "alice")
	}
	f.Fuzz(func(t *testing.T, text, voice string) {
		if !voiceAttr.MatchString(voice) {
			voice = ""
		}
		doc := TwiML(text, voice, "en-US")
		if len(doc) > maxTwiML {
			t.Fatalf("TwiML of %d bytes", len(doc))
		}
		if says := twimlSays(t, doc); len(says) != 2 || says[0] != says[1] {
			t.Fatalf("says %q", says)
		}
	})
}

// FuzzSMSConfig: any gateway template and values validate without a
// panic, and a configuration Validate accepts always builds.
func FuzzSMSConfig(f *testing.F) {
	f.Add("gateway", "https://sms.example/x", `{"to":{{json .To}}}`, "+4712345678", "POST", `ok`)
	f.Add("gateway", "https://sms.example/x", `{{range .Alert.Unreadable}}{{.}}{{end}}`, "+4712345678", "PUT", `(`)
	f.Add("twilio", "", ``, "+4712345678", "", ``)
	f.Fuzz(func(t *testing.T, provider, u, body, to, method, accept string) {
		cfg := &SMSConfig{Provider: provider, URL: secretOf(u), Body: body, To: []string{to}, Method: method, Accept: accept,
			AccountSID: testSID, AuthToken: "t", From: testFrom}
		if provider == "gateway" {
			cfg.AccountSID, cfg.AuthToken, cfg.From = "", "", ""
		}
		bad := false
		cfg.Validate(func(string, string) { bad = true })
		if bad {
			return
		}
		if _, err := cfg.Build(BuildEnv{Target: "g/c"}); err != nil {
			t.Fatalf("Validate accepted what Build rejects: %v", err)
		}
	})
}

func secretOf(s string) secret.Secret { return secret.Secret(s) }
