package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

// FuzzEmailCompose: whatever a log record puts in an alert (title, UPN,
// ids with line breaks, invalid UTF-8), the message parses, carries
// exactly the headers the channel sets (a line break in a value must not
// forge a Bcc:), and its text part is the rendered text.
func FuzzEmailCompose(f *testing.F) {
	f.Add("4f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f", "Break-glass account signed in", "bg1@contoso.example", true)
	f.Add("id\r\nBcc: evil@example.com", "title\r\nBcc: evil@example.com\r\n\r\nbody", "x\n.\r\n", false)
	f.Add("", "\xff\xfe\u2028", "=?utf-8?q?=0D=0A?=", true)
	f.Add(strings.Repeat("a", 300), strings.Repeat("é", 200), "--BOUNDARY", false)
	c := &EmailConfig{Host: "smtp.example.com", From: "Breakglass <bg@contoso.example>", To: []string{"a@contoso.example"}, SubjectPrefix: "[bg]"}
	c.Validate(func(field, msg string) { f.Fatalf("%s: %s", field, msg) })
	n, err := c.Build(BuildEnv{Target: "oncall/email", Timeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	e := n.(*Email)
	wantKeys := []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To",
		"User-Agent", "X-Auto-Response-Suppress", "X-Breakglass-Alert", "X-Breakglass-Severity", "X-Breakglass-Status", "X-Mailer"}
	f.Fuzz(func(t *testing.T, id, title, upn string, firing bool) {
		a := testAlert(id)
		a.Title, a.AccountUPN = title, upn
		status := store.StatusResolved
		if firing {
			status = store.StatusFiring
		}
		nt := emailNotification(a, status)
		raw, err := e.compose(nt)
		if err != nil {
			t.Fatalf("compose: %v", err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("does not parse: %v\n%q", err, raw)
		}
		var keys []string
		for k := range m.Header {
			switch k {
			case "Importance", "Priority", "X-Priority", "X-Msmail-Priority", "In-Reply-To", "References":
				continue
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Fatalf("headers %q, want %q\n%q", keys, wantKeys, raw)
		}
		for k, vs := range m.Header {
			if len(vs) != 1 {
				t.Fatalf("header %s appears %d times", k, len(vs))
			}
		}
		mid := m.Header.Get("Message-Id")
		if !strings.HasPrefix(mid, "<") || !strings.HasSuffix(mid, "@contoso.example>") || strings.ContainsAny(mid, " \t") {
			t.Fatalf("Message-ID %q", mid)
		}
		if !firing && m.Header.Get("In-Reply-To") == "" {
			t.Fatal("resolution without In-Reply-To")
		}
		if got := m.Header.Get("X-Breakglass-Alert"); got != headerToken(id) {
			t.Fatalf("X-Breakglass-Alert %q, want %q", got, headerToken(id))
		}
		if _, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
			t.Fatalf("Subject %q: %v", m.Header.Get("Subject"), err)
		}
		_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		mr := multipart.NewReader(m.Body, params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("part %d: %v\n%q", len(parts), err, raw)
			}
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, string(b))
		}
		if len(parts) != 2 {
			t.Fatalf("%d parts, want 2\n%q", len(parts), raw)
		}
		want, _ := RenderDefault(nt)
		if normaliseEOL(parts[0]) != normaliseEOL(want.Text) {
			t.Fatalf("text part %q, want %q", parts[0], want.Text)
		}
	})
}

func normaliseEOL(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(strings.ReplaceAll(s, "\r", "\n"), "\n")
}

// scriptConn is a connection whose server side is a fixed byte stream:
// what the client writes is discarded.
type scriptConn struct {
	r *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzEmailServerReplies: whatever a server answers, Notify returns
// (never panics), reports success only when the server accepted DATA and
// then the message, and its error never holds the password, however the
// server echoes it.
func FuzzEmailServerReplies(f *testing.F) {
	pw := testPassword
	plain := base64.StdEncoding.EncodeToString([]byte("\x00bg-mailer\x00" + pw))
	ok := "220 localhost ESMTP\r\n250-localhost\r\n250 AUTH PLAIN LOGIN\r\n235 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"
	f.Add([]byte(ok))
	echo := []byte("220 localhost\r\n250-localhost\r\n250 AUTH PLAIN\r\n535 bad password " + pw + "\r\n")
	f.Add(echo)
	f.Add([]byte("220 localhost\r\n250-localhost\r\n250 AUTH PLAIN\r\n535-" + plain + "\r\n535 " + base64.StdEncoding.EncodeToString([]byte(pw)) + "\r\n"))
	f.Add([]byte("220 localhost\r\n250-localhost\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n454 " + pw + "\r\n"))
	f.Add([]byte("220 localhost\r\n250 localhost\r\n"))
	f.Add([]byte("220 localhost\r\n250-localhost\r\n250 AUTH PLAIN\r\n235 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n250 ok\r\n"))
	f.Add([]byte("220 x\r\n250-x\r\n250 AUTH PLAIN\r\n235 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354\r\n"))
	f.Add([]byte("\x00\xff\r\n999 what\r\n"))
	c := &EmailConfig{Host: "smtp.example.com", From: "bg@contoso.example", To: []string{"a@contoso.example", "b@contoso.example"},
		Username: "bg-mailer", Password: "s3cret-Pa55word!"}
	c.Validate(func(field, msg string) { f.Fatalf("%s: %s", field, msg) })
	n, err := c.Build(BuildEnv{Target: "oncall/email", Timeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	e := n.(*Email)
	// Without TLS to a fake server: the smtp package sends credentials in
	// clear to "localhost" only, which is what this host is called here.
	e.mode, e.host = EmailTLSNone, "localhost"
	secrets := []string{pw, plain, base64.StdEncoding.EncodeToString([]byte(pw))}
	nt := emailNotification(fullAlert(), store.StatusFiring)
	send := func(script []byte) error {
		ee := *e
		ee.dial = func(context.Context, string) (net.Conn, error) {
			return &scriptConn{r: bytes.NewReader(script)}, nil
		}
		return ee.Notify(context.Background(), nt)
	}
	// The seeds mean what they say: the first is a whole good session,
	// the second a refusal that echoes the password.
	if err := send([]byte(ok)); err != nil {
		f.Fatalf("good session: %v", err)
	}
	if err := send(echo); !IsPermanent(err) || !strings.Contains(err.Error(), "bad password [REDACTED]") {
		f.Fatalf("echoing refusal: %v", err)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		ee := *e
		ee.dial = func(context.Context, string) (net.Conn, error) {
			return &scriptConn{r: bytes.NewReader(script)}, nil
		}
		err := ee.Notify(context.Background(), nt)
		if err == nil {
			i := bytes.Index(script, []byte("354"))
			if i < 0 || !bytes.Contains(script[i:], []byte("250")) {
				t.Fatalf("success without 354 then 250 in %q", script)
			}
			return
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error holds a secret: %v", err)
			}
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Fatalf("error spans lines: %q", err)
		}
	})
}
