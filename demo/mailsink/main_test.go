package main

import (
	"bufio"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startSink(t *testing.T) (*sink, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mail")
	s, err := newSink("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.serve(); close(done) }()
	t.Cleanup(func() { s.ln.Close(); <-done })
	return s, dir
}

// TestSinkReceives: the standard library's SMTP client hands over a
// quoted-printable multipart message; the sink writes it whole (.eml, with
// dot-stuffing undone) and a decoded text copy (.txt).
func TestSinkReceives(t *testing.T) {
	s, dir := startSink(t)
	msg := strings.ReplaceAll(`From: a@demo.invalid
To: b@demo.invalid
Subject: =?utf-8?q?Sev0_=C2=B7_sign-in?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=XX

--XX
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Acknowledge: http://127.0.0.1:8080/ack/abc?exp=3D1&sig=3Dlong-signatu=
re-here
.leading dot
--XX
Content-Type: text/html; charset=UTF-8

<p>html</p>
--XX--
`, "\n", "\r\n")
	if err := smtp.SendMail(s.ln.Addr().String(), nil, "a@demo.invalid", []string{"b@demo.invalid", "c@demo.invalid"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	eml, err := os.ReadFile(filepath.Join(dir, "0001.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(eml), "X-Mailsink-To: <b@demo.invalid>, <c@demo.invalid>") ||
		!strings.Contains(string(eml), "\r\n.leading dot\r\n") || !strings.Contains(string(eml), "<p>html</p>") {
		t.Errorf("0001.eml:\n%s", eml)
	}
	txt, err := os.ReadFile(filepath.Join(dir, "0001.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: Sev0 · sign-in\n", "http://127.0.0.1:8080/ack/abc?exp=1&sig=long-signature-here\n"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("0001.txt lacks %q:\n%s", want, txt)
		}
	}
	// A second message is numbered on.
	if err := smtp.SendMail(s.ln.Addr().String(), nil, "a@demo.invalid", []string{"b@demo.invalid"}, []byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "0002.eml")); err != nil {
		t.Error(err)
	}
}

// TestSinkRefuses: what the sink will not do, each with an SMTP reply
// rather than a dropped connection or a crash.
func TestSinkRefuses(t *testing.T) {
	if _, err := newSink("0.0.0.0:0", t.TempDir()); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("listening on every interface: %v, want refused", err)
	}
	s, _ := startSink(t)
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	expect := func(send, code string) {
		t.Helper()
		if send != "" {
			if _, err := c.Write([]byte(send + "\r\n")); err != nil {
				t.Fatal(err)
			}
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %q: %v", send, err)
			}
			if len(line) >= 4 && line[3] == '-' {
				continue
			}
			if !strings.HasPrefix(line, code) {
				t.Errorf("after %q: %q, want %s", send, line, code)
			}
			return
		}
	}
	expect("", "220")
	expect("EHLO x", "250")
	expect("STARTTLS", "502")
	expect("AUTH PLAIN AGF1AHA=", "502")
	expect("DATA", "503")
	expect("MAIL nonsense", "501")
	expect(strings.Repeat("x", 3*maxLine), "500")
	expect("MAIL FROM:<a@b>", "250")
	expect("RCPT TO:<c@d>", "250")
	expect("DATA", "354")
	big := strings.Repeat("y", 1000) + "\r\n"
	for n := 0; n <= maxMessage/len(big)+1; n += 64 {
		if _, err := c.Write([]byte(strings.Repeat(big, 64))); err != nil {
			t.Fatal(err)
		}
	}
	expect(".", "552")
	expect("NOOP", "250")
	expect("QUIT", "221")
}

// FuzzSession: any bytes from a client get replies and end the session,
// never a panic or a hang.
func FuzzSession(f *testing.F) {
	f.Add([]byte("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: s\r\n\r\n..x\r\n.\r\nQUIT\r\n"))
	f.Add([]byte("HELO\r\nRCPT TO:\r\nMAIL FROM:a\r\nDATA\r\n"))
	f.Add([]byte("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n.\r\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &sink{dir: dir}
		client, server := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- s.session(server); server.Close() }()
		go func() { // drain the replies
			buf := make([]byte, 4096)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = client.Write(in)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the session did not end after the client closed")
		}
	})
}
