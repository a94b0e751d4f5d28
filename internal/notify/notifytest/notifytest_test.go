package notifytest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, ctype, body string, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReceiverKeys: each keyed kind reads the key where its provider
// dedupes, and answers its provider's success status.
func TestReceiverKeys(t *testing.T) {
	for _, c := range []struct {
		kind         Kind
		path, body   string
		header       map[string]string
		wantKey      string
		wantStatus   int
		wantTextPart string
	}{
		{Webhook, "/hook", `{"id":"a1"}`, map[string]string{"Idempotency-Key": "a1"}, "a1", 204, `"a1"`},
		{CommonSchema, "/", `{"data":{"essentials":{"alertId":"/tenants/t/providers/breakglass/alerts/a1","monitorCondition":"Fired"}}}`, nil, "/tenants/t/providers/breakglass/alerts/a1 Fired", 204, "a1"},
		{PagerDuty, "/v2/enqueue", `{"dedup_key":"a1","event_action":"trigger"}`, nil, "a1 trigger", 202, "a1"},
		{Opsgenie, "/v2/alerts", `{"alias":"a1"}`, nil, "a1 create", 202, "a1"},
		{Opsgenie, "/v2/alerts/a1/close", `{}`, nil, "a1 close", 202, "{}"},
		{Gateway, "/send", `{"id":"a1","to":"+4712345678"}`, nil, "a1 +4712345678", 200, "a1"},
		{Twilio, "/2010-04-01/Accounts/AC1/Messages.json", "To=%2B47&Body=Probe+1", nil, "", 201, "Probe 1"},
		{Pushover, "/1/messages.json", "message=hello+there", nil, "", 200, "hello there"},
		{Ntfy, "/topic", "text", nil, "", 200, "text"},
		{Teams, "/wf", `{}`, nil, "", 202, "{}"},
		{Slack, "/services/x", `{}`, nil, "", 200, "{}"},
		{CommonSchema, "/", `not json`, nil, "", 204, "not json"},
	} {
		r := NewReceiver(c.kind)
		ctype := "application/json"
		if strings.Contains(c.body, "=") && !strings.HasPrefix(c.body, "{") {
			ctype = "application/x-www-form-urlencoded"
		}
		if got := post(t, r.URL+c.path, ctype, c.body, c.header); got != c.wantStatus {
			t.Errorf("%s %s: status %d, want %d", c.kind, c.path, got, c.wantStatus)
		}
		q := r.Requests()
		if len(q) != 1 || q[0].Key != c.wantKey || !q[0].Processed || q[0].Status != c.wantStatus || !strings.Contains(q[0].Text, c.wantTextPart) {
			t.Errorf("%s %s: recorded %+v; want key %q and text with %q", c.kind, c.path, q, c.wantKey, c.wantTextPart)
		}
		if c.kind.Keyed() != (c.wantKey != "" || c.body == "not json") {
			t.Errorf("%s: Keyed() = %v", c.kind, c.kind.Keyed())
		}
		r.Close()
	}
}

// TestReceiverFailHold: FailNext answers without processing; Hold keeps a
// request until Release, and one whose sender gives up stays processed
// with status 0 (its answer was lost).
func TestReceiverFailHold(t *testing.T) {
	r := NewReceiver(Webhook)
	defer r.Close()
	r.FailNext(2, 429, "7")
	for i, want := range []int{429, 429, 204} {
		req, _ := http.NewRequest(http.MethodPost, r.URL, strings.NewReader("{}"))
		req.Header.Set("Idempotency-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || (want == 429 && resp.Header.Get("Retry-After") != "7") {
			t.Errorf("request %d: %d Retry-After %q", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	tl := Count(r.Requests(), func(Request) string { return "a" })["a"]
	if tl.Arrivals != 3 || tl.Processed != 1 || len(tl.Keys) != 1 || tl.Duplicates() != 0 {
		t.Errorf("tally %+v", tl)
	}

	r.Hold()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader("{}"))
	req.Header.Set("Idempotency-Key", "k")
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held request returned %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Held() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan int)
	go func() { done <- post(t, r.URL, "application/json", "{}", map[string]string{"Idempotency-Key": "k"}) }()
	for r.Held() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Release()
	if got := <-done; got != 204 {
		t.Errorf("released request: %d", got)
	}
	q := r.Requests()
	if len(q) != 5 || q[3].Status != 0 || !q[3].Processed || q[4].Status != 204 {
		t.Errorf("requests %+v", q)
	}
	if tl := Count(q, func(Request) string { return "a" })["a"]; tl.Duplicates() != 2 {
		t.Errorf("duplicates %d, want 2", tl.Duplicates())
	}
}

// TestSpool runs the exec command as the exec channel would.
func TestSpool(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	s := Spool{Dir: t.TempDir()}
	argv := s.Command()
	for i := range 3 {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "BREAKGLASS_NOTIFICATION_ID=n1", "BREAKGLASS_ATTEMPT=" + string(rune('1'+i))}
		cmd.Stdin = strings.NewReader(`{"alert_id":"a1"}`)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	q, err := s.Requests()
	if err != nil || len(q) != 3 {
		t.Fatalf("%d requests, %v", len(q), err)
	}
	for _, r := range q {
		if r.Key != "n1" || r.Text != `{"alert_id":"a1"}` {
			t.Errorf("%+v", r)
		}
	}
}

// FuzzReceiverDecode: no body or header crashes a receiver.
func FuzzReceiverDecode(f *testing.F) {
	f.Add("/v2/alerts/x/close", "application/x-www-form-urlencoded", `{"alias":"a"}`)
	f.Add("/", "application/json", `{"data":{"essentials":{"alertId":1}}}`)
	f.Fuzz(func(t *testing.T, path, ctype, body string) {
		for _, k := range []Kind{Webhook, CommonSchema, PagerDuty, Opsgenie, Gateway, Twilio} {
			r := &Receiver{Kind: k}
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			req.URL.Path = path
			req.Header.Set("Content-Type", ctype)
			r.decode(req, []byte(body))
		}
	})
}
