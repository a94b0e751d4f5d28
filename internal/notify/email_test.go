package notify

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

const testPassword = "s3cret-Pa55word!"

func emailNotification(a alert.Alert, status string) Notification {
	return Notification{ID: NotificationID(a.ID, status), Status: status, Alert: a, Attempt: 1, Sent: fixedNow}
}

// parsedEmail is a received message taken apart with the standard library
// only, as a mail client would.
type parsedEmail struct {
	header  mail.Header
	subject string
	parts   map[string]string // content type -> decoded body, LF line ends
	order   []string
}

func parseEmail(t *testing.T, data []byte) parsedEmail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	p := parsedEmail{header: m.Header, parts: map[string]string{}}
	p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("MIME part: %v", err)
		}
		ct, cparams, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type %q: %v", part.Header.Get("Content-Type"), err)
		}
		if !strings.EqualFold(cparams["charset"], "utf-8") {
			t.Errorf("part %s charset = %q, want UTF-8", ct, cparams["charset"])
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("part %s: %v", ct, err)
		}
		p.parts[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
		p.order = append(p.order, ct)
	}
	return p
}

// checkEmail asserts everything a received notification must carry.
func checkEmail(t *testing.T, e *Email, got received, n Notification, wantRcpts []string) parsedEmail {
	t.Helper()
	if got.from != "breakglass@contoso.example" {
		t.Errorf("MAIL FROM = %q", got.from)
	}
	if !slices.Equal(got.rcpts, wantRcpts) {
		t.Errorf("RCPT TO = %q, want %q", got.rcpts, wantRcpts)
	}
	p := parseEmail(t, got.data)
	want, _ := RenderDefault(n)
	if wantSubj := "[bg prod] " + want.Subject; p.subject != wantSubj {
		t.Errorf("Subject = %q, want %q", p.subject, wantSubj)
	}
	if f, err := mail.ParseAddress(p.header.Get("From")); err != nil || f.Address != "breakglass@contoso.example" || f.Name != "Breakglass" {
		t.Errorf("From = %q (%v)", p.header.Get("From"), err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != len(e.to) {
		t.Errorf("To = %q (%v)", p.header.Get("To"), err)
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(n.Sent) {
		t.Errorf("Date = %q (%v), want %s", p.header.Get("Date"), err, n.Sent)
	}
	wantID := "<" + n.ID + ".oncall-email@contoso.example>"
	wantID = strings.Replace(wantID, "oncall-email", msgIDPart("oncall/email"), 1)
	if got := p.header.Get("Message-Id"); got != wantID {
		t.Errorf("Message-ID = %q, want %q", got, wantID)
	}
	if got := p.header.Get("X-Breakglass-Alert"); got != n.Alert.ID {
		t.Errorf("X-Breakglass-Alert = %q, want %q", got, n.Alert.ID)
	}
	if got := p.header.Get("X-Breakglass-Status"); got != n.Status {
		t.Errorf("X-Breakglass-Status = %q, want %q", got, n.Status)
	}
	if got := p.header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	if !slices.Equal(p.order, []string{"text/plain", "text/html"}) {
		t.Fatalf("parts = %q, want text/plain then text/html", p.order)
	}
	if got := strings.TrimRight(p.parts["text/plain"], "\n"); got != strings.TrimRight(want.Text, "\n") {
		t.Errorf("text part:\n%s\nwant:\n%s", got, want.Text)
	}
	if got := strings.TrimRight(p.parts["text/html"], "\n"); got != strings.TrimRight(want.HTML, "\n") {
		t.Errorf("HTML part:\n%s\nwant:\n%s", got, want.HTML)
	}
	return p
}

func baseEmailConfig(port int) *EmailConfig {
	return &EmailConfig{
		Host: "127.0.0.1", Port: port,
		From:          "Breakglass <breakglass@contoso.example>",
		To:            []string{"oncall@contoso.example", "Second On-Call <second@contoso.example>"},
		SubjectPrefix: "[bg prod]",
	}
}

// The Must-show bullet: STARTTLS with a private CA, AUTH PLAIN, both parts
// and the headers as received, and the resolution threaded under the
// firing message.
func TestEmailStartTLSAuthPlain(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSMTP(t, smtpTestOpts{pki: &pki, user: "bg-mailer", pass: testPassword})
	c := baseEmailConfig(srv.port)
	c.CAFile, c.Username, c.Password = pki.caFile, "bg-mailer", testPassword
	e := buildEmail(t, c, 5*time.Second)
	if e.mode != EmailTLSStartTLS {
		t.Fatalf("default tls = %q", e.mode)
	}
	a := fullAlert()
	firing := emailNotification(a, store.StatusFiring)
	resolved := emailNotification(a, store.StatusResolved)
	for _, n := range []Notification{firing, resolved} {
		if err := e.Notify(notifyCtx(t), n); err != nil {
			t.Fatalf("Notify(%s): %v", n.Status, err)
		}
	}
	msgs := srv.messages()
	if len(msgs) != 2 {
		t.Fatalf("server got %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if !m.tls || m.user != "bg-mailer" {
			t.Errorf("message sent with tls=%v user=%q, want TLS and AUTH as bg-mailer", m.tls, m.user)
		}
	}
	rcpts := []string{"oncall@contoso.example", "second@contoso.example"}
	pf := checkEmail(t, e, msgs[0], firing, rcpts)
	pr := checkEmail(t, e, msgs[1], resolved, rcpts)
	if !strings.EqualFold(pf.header.Get("Importance"), "high") {
		t.Errorf("Sev0 firing Importance = %q, want High", pf.header.Get("Importance"))
	}
	if pf.header.Get("In-Reply-To") != "" {
		t.Errorf("firing message has In-Reply-To %q", pf.header.Get("In-Reply-To"))
	}
	first := pf.header.Get("Message-Id")
	if pr.header.Get("In-Reply-To") != first || pr.header.Get("References") != first {
		t.Errorf("resolved In-Reply-To = %q, References = %q, want both %q",
			pr.header.Get("In-Reply-To"), pr.header.Get("References"), first)
	}
	if pr.header.Get("Message-Id") == first {
		t.Error("resolved message reuses the firing Message-ID")
	}
	// A retry is the same message: the same Message-ID.
	if err := e.Notify(notifyCtx(t), firing); err != nil {
		t.Fatal(err)
	}
	if again := parseEmail(t, srv.messages()[2].data); again.header.Get("Message-Id") != first {
		t.Errorf("resend Message-ID = %q, want %q", again.header.Get("Message-Id"), first)
	}
}

// A server offering only AUTH LOGIN (as Microsoft 365's submission
// endpoint does) is spoken to with LOGIN.
func TestEmailStartTLSAuthLogin(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSMTP(t, smtpTestOpts{pki: &pki, user: "bg-mailer", pass: testPassword, mechs: []string{"LOGIN"}})
	c := baseEmailConfig(srv.port)
	c.CAFile, c.Username, c.Password = pki.caFile, "bg-mailer", testPassword
	e := buildEmail(t, c, 5*time.Second)
	if err := e.Notify(notifyCtx(t), emailNotification(fullAlert(), store.StatusFiring)); err != nil {
		t.Fatal(err)
	}
	if m := srv.messages(); len(m) != 1 || m[0].user != "bg-mailer" {
		t.Fatalf("messages = %+v", m)
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSMTP(t, smtpTestOpts{pki: &pki, implicit: true, user: "bg-mailer", pass: testPassword})
	c := baseEmailConfig(srv.port)
	c.TLS, c.CAFile, c.Username, c.Password = EmailTLSImplicit, pki.caFile, "bg-mailer", testPassword
	e := buildEmail(t, c, 5*time.Second)
	n := emailNotification(fullAlert(), store.StatusFiring)
	if err := e.Notify(notifyCtx(t), n); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || !msgs[0].tls {
		t.Fatalf("messages = %d, want 1 over TLS", len(msgs))
	}
	checkEmail(t, e, msgs[0], n, []string{"oncall@contoso.example", "second@contoso.example"})
}

// tls: none, no AUTH: an internal relay.
func TestEmailPlainRelay(t *testing.T) {
	srv := startSMTP(t, smtpTestOpts{})
	c := baseEmailConfig(srv.port)
	c.TLS = EmailTLSNone
	e := buildEmail(t, c, 5*time.Second)
	a := testAlert("7e7e")
	a.Severity = alert.Sev3
	n := emailNotification(a, store.StatusFiring)
	if err := e.Notify(notifyCtx(t), n); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].tls || msgs[0].user != "" {
		t.Fatalf("messages = %+v", msgs)
	}
	p := checkEmail(t, e, msgs[0], n, []string{"oncall@contoso.example", "second@contoso.example"})
	if p.header.Get("Importance") != "" {
		t.Errorf("Sev3 marked Importance %q", p.header.Get("Importance"))
	}
}

// Every way a send fails: the error is retryable or Permanent as the
// Email doc says, names the step, and never holds the password, even when
// the server echoes it back.
func TestEmailFailures(t *testing.T) {
	pki := newTestPKI(t)
	type setup struct {
		c   *EmailConfig
		srv *smtpTestServer
	}
	auth := func(t *testing.T, o smtpTestOpts, hook func(*smtpTestServer)) setup {
		o.pki = &pki
		if o.user == "" {
			o.user, o.pass = "bg-mailer", testPassword
		}
		o.hook = hook
		srv := startSMTP(t, o)
		c := baseEmailConfig(srv.port)
		c.CAFile, c.Username, c.Password = pki.caFile, "bg-mailer", testPassword
		return setup{c, srv}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T) setup
		timeout   time.Duration
		permanent bool
		want      string // in the error text
		delivered int    // messages the server took anyway
	}{
		{
			name: "wrong password",
			setup: func(t *testing.T) setup {
				return auth(t, smtpTestOpts{user: "bg-mailer", pass: "another"}, nil)
			},
			permanent: true, want: "AUTH: server replied 535",
		},
		{
			name: "server echoes the password",
			setup: func(t *testing.T) setup {
				return auth(t, smtpTestOpts{user: "bg-mailer", pass: "another"}, func(s *smtpTestServer) {
					s.authErr = func(user, pass string) error {
						return &gosmtp.SMTPError{Code: 535, Message: "bad password " + pass + " for " + user}
					}
				})
			},
			permanent: true, want: "bad password [REDACTED] for bg-mailer",
		},
		{
			name: "451 to RCPT",
			setup: func(t *testing.T) setup {
				return auth(t, smtpTestOpts{}, func(s *smtpTestServer) {
					s.rcptErr = func(string) error { return &gosmtp.SMTPError{Code: 451, Message: "try again later"} }
				})
			},
			want: "RCPT TO oncall@contoso.example: server replied 451",
		},
		{
			name: "451 after DATA",
			setup: func(t *testing.T) setup {
				return auth(t, smtpTestOpts{}, func(s *smtpTestServer) {
					s.dataErr = &gosmtp.SMTPError{Code: 451, Message: "local error in processing"}
				})
			},
			want: "end of DATA: server replied 451",
		},
		{
			name: "554 after DATA",
			setup: func(t *testing.T) setup {
				return auth(t, smtpTestOpts{}, func(s *smtpTestServer) {
					s.dataErr = &gosmtp.SMTPError{Code: 554, Message: "message refused"}
				})
			},
			permanent: true, want: "end of DATA: server replied 554",
		},
		{
			name: "one recipient refused: the other gets it, the send fails",
			setup: func(t *testing.T) setup {
				return auth(t, smtpTestOpts{}, func(s *smtpTestServer) {
					s.rcptErr = func(to string) error {
						if to == "second@contoso.example" {
							return &gosmtp.SMTPError{Code: 550, Message: "no such user"}
						}
						return nil
					}
				})
			},
			permanent: true, want: "1 of 2 recipients refused: RCPT TO second@contoso.example: server replied 550", delivered: 1,
		},
		{
			name: "552 to RCPT is too many recipients: retry",
			setup: func(t *testing.T) setup {
				return auth(t, smtpTestOpts{}, func(s *smtpTestServer) {
					s.rcptErr = func(to string) error { return &gosmtp.SMTPError{Code: 552, Message: "too many recipients"} }
				})
			},
			want: "2 of 2 recipients refused",
		},
		{
			name: "certificate from an unknown CA",
			setup: func(t *testing.T) setup {
				s := auth(t, smtpTestOpts{}, nil)
				s.c.CAFile = ""
				return s
			},
			permanent: true, want: "STARTTLS: the server's certificate does not verify (set ca_file",
		},
		{
			name: "STARTTLS not offered",
			setup: func(t *testing.T) setup {
				srv := startSMTP(t, smtpTestOpts{})
				return setup{baseEmailConfig(srv.port), srv}
			},
			permanent: true, want: "does not offer STARTTLS",
		},
		{
			name: "connection refused",
			setup: func(t *testing.T) setup {
				srv := startSMTP(t, smtpTestOpts{})
				c := baseEmailConfig(closedPort(t))
				c.TLS = EmailTLSNone
				return setup{c, srv}
			},
			want: "connect: dial tcp",
		},
		{
			name: "server accepts and never greets",
			setup: func(t *testing.T) setup {
				_, port := hostPort(t, stallServer(t, ""))
				c := baseEmailConfig(port)
				c.TLS = EmailTLSNone
				return setup{c, startSMTP(t, smtpTestOpts{})}
			},
			timeout: 300 * time.Millisecond, want: "no answer within 300ms",
		},
		{
			name: "server stalls after its greeting",
			setup: func(t *testing.T) setup {
				_, port := hostPort(t, stallServer(t, "220 localhost ESMTP\r\n"))
				c := baseEmailConfig(port)
				c.TLS = EmailTLSNone
				return setup{c, startSMTP(t, smtpTestOpts{})}
			},
			timeout: 300 * time.Millisecond, want: "no answer within 300ms",
		},
		{
			// Each reply well within the timeout, all of them not: the
			// timeout bounds the whole send, not each command.
			name: "server answers every command slowly",
			setup: func(t *testing.T) setup {
				_, port := hostPort(t, trickleServer(t, 120*time.Millisecond))
				c := baseEmailConfig(port)
				c.TLS = EmailTLSNone
				return setup{c, startSMTP(t, smtpTestOpts{})}
			},
			timeout: 300 * time.Millisecond, want: "no answer within 300ms",
		},
		{
			name: "implicit TLS against a server that stalls in the handshake",
			setup: func(t *testing.T) setup {
				_, port := hostPort(t, stallServer(t, ""))
				c := baseEmailConfig(port)
				c.TLS, c.CAFile = EmailTLSImplicit, pki.caFile
				return setup{c, startSMTP(t, smtpTestOpts{})}
			},
			timeout: 300 * time.Millisecond, want: "TLS handshake",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.setup(t)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			e := buildEmail(t, s.c, timeout)
			start := time.Now()
			err := e.Notify(notifyCtx(t), emailNotification(fullAlert(), store.StatusFiring))
			took := time.Since(start)
			if err == nil {
				t.Fatal("Notify succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", IsPermanent(err), tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), `email "oncall/email": smtp://127.0.0.1:`) {
				t.Errorf("error does not name the channel and server: %q", err)
			}
			if strings.Contains(err.Error(), testPassword) || strings.Contains(fmt.Sprintf("%+v %#v", err, e), testPassword) {
				t.Errorf("the password leaks: %v", err)
			}
			if tt.timeout > 0 {
				if took > tt.timeout+time.Second {
					t.Errorf("took %s, timeout %s", took, tt.timeout)
				}
				if !isDeadline(err) {
					t.Errorf("a timeout does not wrap context.DeadlineExceeded: %v", err)
				}
			}
			if got := len(s.srv.messages()); got != tt.delivered {
				t.Errorf("server took %d messages, want %d", got, tt.delivered)
			}
		})
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	// Closed, the port refuses connections.
	_ = l.Close()
	return port
}

// trickleServer speaks enough SMTP to take a message, answering each line
// after delay.
func trickleServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				reply := func(s string) bool {
					time.Sleep(delay)
					_, err := io.WriteString(c, s+"\r\n")
					return err == nil
				}
				if !reply("220 localhost ESMTP") {
					return
				}
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
					case cmd == "DATA":
						reply("354 go on")
						for {
							l, err := r.ReadString('\n')
							if err != nil || l == ".\r\n" {
								break
							}
						}
						reply("250 queued")
					case cmd == "QUIT":
						reply("221 bye")
						return
					default:
						if !reply("250 ok") {
							return
						}
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

var _ Bounded = (*Email)(nil)

func TestEmailRegistered(t *testing.T) {
	ct, ok := LookupChannel("email")
	if !ok {
		t.Fatal("email is not registered")
	}
	if _, ok := ct.New().(*EmailConfig); !ok {
		t.Fatalf("New() = %T", ct.New())
	}
	if ct.Doc == "" {
		t.Error("no Doc")
	}
}

func TestEmailValidate(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func() *EmailConfig {
		return &EmailConfig{Host: "smtp.example.com", From: "bg@example.com", To: []string{"a@example.com"}}
	}
	tests := []struct {
		name   string
		mutate func(*EmailConfig)
		want   []string // "field: substring", in order
		port   int      // effective port when no problem
		tls    string
	}{
		{name: "defaults", mutate: func(*EmailConfig) {}, port: 587, tls: "starttls"},
		{name: "implicit default port", mutate: func(c *EmailConfig) { c.TLS = "implicit" }, port: 465, tls: "implicit"},
		{name: "none default port", mutate: func(c *EmailConfig) { c.TLS = "none" }, port: 25, tls: "none"},
		{name: "explicit port kept", mutate: func(c *EmailConfig) { c.Port = 2525 }, port: 2525, tls: "starttls"},
		{name: "everything wrong at once", mutate: func(c *EmailConfig) {
			*c = EmailConfig{Host: "", Port: 70000, TLS: "ssl", CAFile: filepath.Join(dir, "missing.pem"),
				Password: "x", From: "not an address", To: []string{"ok@example.com", "bad", "a@x, b@x", "OK@example.com"},
				SubjectPrefix: "a\nb"}
		}, want: []string{
			"host: required", `tls: "ssl" is not none`, "port: 70000 is not a TCP port", "ca_file: cannot read",
			"password: set without username", `from: "not an address" is not an email address`,
			`to[1]: "bad" is not an email address`, "to[2]: ", "holds 2 addresses", "to[3]: OK@example.com is already to[0]",
			"subject_prefix: contains a control character",
		}},
		{name: "no recipients", mutate: func(c *EmailConfig) { c.To = nil }, want: []string{"to: at least one"}},
		{name: "no sender", mutate: func(c *EmailConfig) { c.From = "" }, want: []string{"from: required"}},
		{name: "credentials in clear", mutate: func(c *EmailConfig) {
			c.TLS, c.Username, c.Password = "none", "u", "p"
		}, want: []string{"tls: none with a username: the password would cross the network in clear"}},
		{name: "username without password", mutate: func(c *EmailConfig) { c.Username = "u" },
			want: []string{"password: empty while username is set"}},
		{name: "ca_file not PEM", mutate: func(c *EmailConfig) { c.CAFile = notPEM }, want: []string{"ca_file: " + notPEM + " holds no PEM certificate"}},
		{name: "ca_file with tls none", mutate: func(c *EmailConfig) { c.TLS, c.CAFile = "none", notPEM },
			want: []string{"ca_file: set, but tls is none", "ca_file: "}},
		{name: "host with port", mutate: func(c *EmailConfig) { c.Host = "smtp.example.com:587" }, want: []string{"host: give the port in port:"}},
		{name: "host with scheme", mutate: func(c *EmailConfig) { c.Host = "smtp://smtp.example.com" }, want: []string{"host: give the name only"}},
		{name: "IPv6 host", mutate: func(c *EmailConfig) { c.Host = "::1" }, port: 587, tls: "starttls"},
		{name: "header injection in to", mutate: func(c *EmailConfig) { c.To = []string{"a@example.com\r\nBcc: evil@example.com"} },
			want: []string{"to[0]: contains a control character"}},
		{name: "negative port", mutate: func(c *EmailConfig) { c.Port = -1 }, want: []string{"port: -1 is not a TCP port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(c)
			var got []string
			c.Validate(func(field, msg string) { got = append(got, field+": "+msg) })
			t.Logf("problems: %q", got)
			joined := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(joined, w) {
					t.Errorf("problems %q lack %q", got, w)
				}
			}
			if len(tt.want) == 0 {
				if len(got) != 0 {
					t.Fatalf("unexpected problems %q", got)
				}
				if c.Port != tt.port || c.TLS != tt.tls {
					t.Errorf("effective port %d tls %q, want %d %q", c.Port, c.TLS, tt.port, tt.tls)
				}
				if _, err := c.Build(BuildEnv{Target: "g/email", Timeout: time.Second}); err != nil {
					t.Errorf("Build after a clean Validate: %v", err)
				}
			}
			if strings.Contains(joined, "\"p\"") || strings.Contains(joined, testPassword) {
				t.Errorf("a password is quoted in %q", got)
			}
		})
	}
}

// The rendered message, byte for byte but for go-mail's random MIME
// boundary.
func TestEmailMessageGolden(t *testing.T) {
	e := buildEmail(t, baseEmailConfig(25), time.Second)
	a := fullAlert()
	tests := []struct {
		golden string
		n      Notification
	}{
		{"email_firing.golden", emailNotification(a, store.StatusFiring)},
		{"email_resolved.golden", emailNotification(a, store.StatusResolved)},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			raw, err := e.compose(tt.n)
			if err != nil {
				t.Fatal(err)
			}
			got := sortTopHeaders(normaliseBoundary(t, raw))
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (go test -run EmailMessageGolden -update rewrites it):\n%s", path, got)
			}
			// What is compared must be a message: the golden is checked too.
			parseEmail(t, raw)
		})
	}
}

// sortTopHeaders puts the message's own header fields (continuation lines
// kept with their field) in sorted order: go-mail writes some fields
// (In-Reply-To, References) from a map, in no fixed order, and field
// order carries no meaning.
func sortTopHeaders(raw []byte) []byte {
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	sep := "\r\n"
	if !ok {
		if head, body, ok = bytes.Cut(raw, []byte("\n\n")); !ok {
			return raw
		}
		sep = "\n"
	}
	var fields []string
	for _, line := range strings.Split(string(head), sep) {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(fields) > 0 {
			fields[len(fields)-1] += sep + line
			continue
		}
		fields = append(fields, line)
	}
	slices.Sort(fields)
	return []byte(strings.Join(fields, sep) + sep + sep + string(body))
}

var boundaryRE = regexp.MustCompile(`boundary="?([0-9A-Za-z'()+_,./:=?-]+)"?`)

func normaliseBoundary(t *testing.T, raw []byte) []byte {
	t.Helper()
	m := boundaryRE.FindSubmatch(raw)
	if m == nil {
		t.Fatalf("no MIME boundary in\n%s", raw)
	}
	return bytes.ReplaceAll(raw, m[1], []byte("BOUNDARY"))
}

// A render error is Permanent: the message cannot be built, retrying the
// same template cannot help (config check catches template errors first).
func TestEmailRenderError(t *testing.T) {
	c := baseEmailConfig(closedPort(t))
	var problems []string
	c.Validate(func(f, m string) { problems = append(problems, f+m) })
	n, err := c.Build(BuildEnv{Target: "oncall/email", Timeout: time.Second,
		Render: func(Notification) (Message, error) { return Message{}, errors.New("template: no such field") }})
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	err = n.Notify(notifyCtx(t), emailNotification(fullAlert(), store.StatusFiring))
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "template: no such field") {
		t.Fatalf("err = %v, want a Permanent render error", err)
	}
}

// The slow server of TestEmailFailures does take mail when given the time:
// that failure was the timeout, not the server.
func TestEmailSlowServerWithinTimeout(t *testing.T) {
	_, port := hostPort(t, trickleServer(t, 20*time.Millisecond))
	c := baseEmailConfig(port)
	c.TLS = EmailTLSNone
	e := buildEmail(t, c, 5*time.Second)
	if err := e.Notify(notifyCtx(t), emailNotification(fullAlert(), store.StatusFiring)); err != nil {
		t.Fatal(err)
	}
}

// Shutdown cancels a send in progress at once, whatever the timeout, and
// the error says it was cancelled, not that the server is slow.
func TestEmailCancelled(t *testing.T) {
	_, port := hostPort(t, stallServer(t, "220 localhost ESMTP\r\n"))
	c := baseEmailConfig(port)
	c.TLS = EmailTLSNone
	e := buildEmail(t, c, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := e.Notify(ctx, emailNotification(fullAlert(), store.StatusFiring))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cancelled send returned after %s", took)
	}
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("err = %v, want a cancellation", err)
	}
}

// One Email sends concurrently (the dispatcher may run several sends of a
// target at once after a restart): every message arrives whole.
func TestEmailConcurrent(t *testing.T) {
	srv := startSMTP(t, smtpTestOpts{})
	c := baseEmailConfig(srv.port)
	c.TLS = EmailTLSNone
	e := buildEmail(t, c, 5*time.Second)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- e.Notify(notifyCtx(t), emailNotification(testAlert(fmt.Sprintf("c%d", i)), store.StatusFiring))
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]bool{}
	for _, m := range srv.messages() {
		ids[parseEmail(t, m.data).header.Get("X-Breakglass-Alert")] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct alerts arrived, want %d", len(ids), n)
	}
}

// Build applies Validate's rules itself: a channel built without config
// check (a test, a future caller) cannot end up sending in clear.
func TestEmailBuildRefusesWhatValidateRefuses(t *testing.T) {
	for _, c := range []*EmailConfig{
		{Host: "smtp.example.com", TLS: "ssl", From: "bg@example.com", To: []string{"a@example.com"}, Username: "u", Password: "p"},
		{Host: "smtp.example.com", TLS: "none", From: "bg@example.com", To: []string{"a@example.com"}, Username: "u", Password: "p"},
		{Host: "smtp.example.com", Port: 99999, From: "bg@example.com", To: []string{"a@example.com"}},
		{Host: "smtp.example.com", From: "bg@example.com"},
	} {
		if n, err := c.Build(BuildEnv{Target: "g/email"}); err == nil {
			t.Errorf("Build(%+v) = %v, want an error", c, n)
		} else if strings.Contains(err.Error(), `"p"`) {
			t.Errorf("error quotes the password: %v", err)
		} else {
			t.Logf("%v", err)
		}
	}
}
