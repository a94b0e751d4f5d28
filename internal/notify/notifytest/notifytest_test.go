package notifytest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"os/exec"
	"strconv"
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
	// A test notification's id has dots of its own.
	ids := []string{"n1", "n1", "n1", "test-20260314T025107.123Z"}
	for i, id := range ids {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "BREAKGLASS_NOTIFICATION_ID=" + id, "BREAKGLASS_ATTEMPT=" + string(rune('1'+i))}
		cmd.Stdin = strings.NewReader(`{"alert_id":"a1"}`)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	q, err := s.Requests()
	if err != nil || len(q) != len(ids) {
		t.Fatalf("%d requests, %v", len(q), err)
	}
	keys := map[string]int{}
	for _, r := range q {
		keys[r.Key]++
		if r.Text != `{"alert_id":"a1"}` {
			t.Errorf("%+v", r)
		}
	}
	if keys["n1"] != 3 || keys["test-20260314T025107.123Z"] != 1 || len(keys) != 2 {
		t.Errorf("keys %v, want n1 three times and the test id once", keys)
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

// TestSpoolHold: a held command writes its file (acted on) and does not
// exit until Release; Held counts it meanwhile.
func TestSpoolHold(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	s := Spool{Dir: t.TempDir()}
	if err := s.Hold(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Release() })
	argv := s.Command()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "BREAKGLASS_NOTIFICATION_ID=n1", "BREAKGLASS_ATTEMPT=1"}
	cmd.Stdin = strings.NewReader(`{"alert_id":"a1"}`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.Held()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never reached the hold")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if q, err := s.Requests(); err != nil || len(q) != 1 || q[0].Key != "n1" {
		t.Fatalf("spool while held: %+v, %v; want the file written before the hold", q, err)
	}
	select {
	case err := <-exited:
		t.Fatalf("the command exited while held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("released command: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not exit after Release")
	}
	if n, _ := s.Held(); n != 0 {
		t.Errorf("Held() = %d after Release", n)
	}
}

// TestSMTPHold: a held message is received whole and recorded as
// processed, but its DATA is accepted (250) only on Release; a sender
// that goes away meanwhile does not block the server.
func TestSMTPHold(t *testing.T) {
	s, err := NewSMTP(t.TempDir(), "u", "p4ss")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	send := func(id string, accepted chan<- error) *smtp.Client {
		c, err := smtp.Dial(net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: s.Host}); err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(smtp.PlainAuth("", "u", "p4ss", s.Host)); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("a@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("b@example.com"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "Message-ID: <%s@example.com>\r\nSubject: s\r\n\r\nbody\r\n", id)
		go func() { accepted <- w.Close() }() // returns on the 250
		return c
	}
	waitHeld := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.Held() != n {
			if time.Now().After(deadline) {
				t.Fatalf("Held() = %d, want %d", s.Held(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	s.Hold()
	gone := make(chan error, 1)
	c1 := send("gone", gone)
	waitHeld(1)
	c1.Close() // the sender dies before the answer
	accepted := make(chan error, 1)
	send("kept", accepted)
	waitHeld(2)
	select {
	case err := <-accepted:
		t.Fatalf("DATA answered while held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	q := s.Requests()
	if len(q) != 2 || !q[0].Processed || q[0].Key != "<gone@example.com>" || q[1].Key != "<kept@example.com>" {
		t.Fatalf("requests while held %+v; want both recorded as processed under their Message-ID", q)
	}
	s.Release()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatalf("released DATA: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no 250 after Release")
	}
	waitHeld(0)
}
