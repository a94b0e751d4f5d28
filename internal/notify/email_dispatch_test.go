package notify

import (
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"breakglass/internal/store"
)

// The email channel behind the real Dispatcher: a server that answers 451
// twice takes the third attempt; the message it keeps has the Message-ID
// every attempt had, and neither the log nor the stored errors hold the
// password.
func TestEmailRetriedUntilDelivered(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSMTP(t, smtpTestOpts{pki: &pki, user: "bg-mailer", pass: testPassword, hook: func(s *smtpTestServer) {
		s.dataErr, s.failData = &gosmtp.SMTPError{Code: 451, Message: "queue full, try again"}, 2
	}})
	c := baseEmailConfig(srv.port)
	c.CAFile, c.Username, c.Password = pki.caFile, "bg-mailer", testPassword
	e := buildEmail(t, c, 5*time.Second)

	ob := newFakeOutbox()
	a := testAlert("e1")
	id := ob.add(a, store.StatusFiring, "oncall/email", time.Now())
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"oncall/email": e}, Options{
		Logger: log, Poll: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
	})
	start(t, d)
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d, want %d", got, id)
	}
	srv.mu.Lock()
	seen := srv.dataSeen
	srv.mu.Unlock()
	msgs := srv.messages()
	if seen != 3 || len(msgs) != 1 {
		t.Fatalf("server saw %d messages and kept %d, want 3 and 1", seen, len(msgs))
	}
	p := parseEmail(t, msgs[0].data)
	if want := "<e1." + msgIDPart("oncall/email") + "@contoso.example>"; p.header.Get("Message-Id") != want {
		t.Errorf("Message-ID %q, want %q", p.header.Get("Message-Id"), want)
	}
	ob.mu.Lock()
	retries := ob.retries
	ob.mu.Unlock()
	if len(retries) != 2 || !strings.Contains(retries[1].LastErr, "end of DATA: server replied 451") {
		t.Errorf("retries recorded: %+v", retries)
	}
	for _, r := range retries {
		if strings.Contains(r.LastErr, testPassword) {
			t.Errorf("stored error leaks the password: %s", r.LastErr)
		}
	}
	if strings.Contains(logs.String(), testPassword) {
		t.Errorf("log leaks the password:\n%s", logs.String())
	}
}

// A server that refuses the password and echoes it back, until the
// give-up time: the dead letter and the bg.notify alert about it carry
// the scrubbed text, never the password.
func TestEmailDeadLetterKeepsPassword(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSMTP(t, smtpTestOpts{pki: &pki, user: "bg-mailer", pass: "the-real-one", hook: func(s *smtpTestServer) {
		s.authErr = func(_, pass string) error {
			return &gosmtp.SMTPError{Code: 535, Message: "password " + pass + " is wrong"}
		}
	}})
	c := baseEmailConfig(srv.port)
	c.CAFile, c.Username, c.Password = pki.caFile, "bg-mailer", testPassword
	e := buildEmail(t, c, 5*time.Second)
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("e2"), store.StatusFiring, "oncall/email", clk.Now().Add(-2*time.Hour))
	other := &recorder{}
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"oncall/email": e, "ops/console": other},
		Options{Now: clk.Now, Logger: log, GiveUpAfter: time.Hour})
	start(t, d)
	dl := wait(t, ob.deadCh, "dead letter")
	if dl.ID != id || !strings.Contains(dl.Reason, "AUTH: server replied 535") || !strings.Contains(dl.Reason, "password [REDACTED] is wrong") {
		t.Fatalf("dead letter %+v", dl)
	}
	wait(t, ob.complete, "bg.notify to the other target")
	na := ob.alertsByRule(RuleNotify)
	if len(na) != 1 {
		t.Fatalf("%d bg.notify alerts", len(na))
	}
	for where, s := range map[string]string{"title": na[0].Title, "reason": dl.Reason, "log": logs.String()} {
		if strings.Contains(s, testPassword) {
			t.Errorf("%s leaks the password: %s", where, s)
		}
	}
}
