package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// SMTP is a real SMTP server (emersion/go-smtp) on loopback TCP that
// requires STARTTLS, with a certificate for 127.0.0.1 signed by a CA of its
// own (CAFile), and AUTH PLAIN as User/Pass. Each accepted message is
// recorded as a Request: Key is its Message-ID (what a mail client dedupes
// on), Text the whole message, Header its header.
//
// Hold puts a sender in the middle of a send: the message is received
// whole and recorded (processed, as by a server that has committed it),
// but the 250 that accepts the DATA is only sent on Release. A sender
// that dies meanwhile never learns the message was taken, and resends it:
// the lost-answer case, where a mail client dedupes on the Message-ID.
type SMTP struct {
	Host       string // 127.0.0.1
	Port       int
	CAFile     string // PEM of the CA, for the email channel's ca_file
	User, Pass string

	srv    *gosmtp.Server
	mu     sync.Mutex
	got    []Request
	hold   chan struct{} // non-nil while holding; closed by Release
	held   int           // DATA commands waiting in hold now
	closed chan struct{}
}

// NewSMTP starts the server; dir holds the CA file. Close it when done.
func NewSMTP(dir, user, pass string) (*SMTP, error) {
	cert, caPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	s := &SMTP{Host: "127.0.0.1", User: user, Pass: pass, CAFile: filepath.Join(dir, "smtp-ca.pem"), closed: make(chan struct{})}
	if err := os.WriteFile(s.CAFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{s: s, c: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.MaxMessageBytes = MaxBody
	s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Close stops the server, ending held DATA commands first.
func (s *SMTP) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	s.Release()
	_ = s.srv.Close()
}

// Hold makes every DATA from now on wait for Release before it is
// accepted (see SMTP).
func (s *SMTP) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil {
		s.hold = make(chan struct{})
	}
}

// Release accepts the held messages and stops holding.
func (s *SMTP) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// Held is how many messages wait in Hold now.
func (s *SMTP) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// Requests returns every accepted message, in arrival order.
func (s *SMTP) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.got...)
}

type smtpSession struct {
	s      *SMTP
	c      *gosmtp.Conn
	authed bool
	rcpts  int
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, gosmtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.User || pass != ss.s.Pass {
			return gosmtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(string, *gosmtp.MailOptions) error {
	if _, isTLS := ss.c.TLSConnectionState(); !isTLS {
		return &gosmtp.SMTPError{Code: 530, EnhancedCode: gosmtp.EnhancedCode{5, 7, 0}, Message: "STARTTLS first"}
	}
	if !ss.authed {
		return gosmtp.ErrAuthRequired
	}
	return nil
}

func (ss *smtpSession) Rcpt(string, *gosmtp.RcptOptions) error { ss.rcpts++; return nil }

func (ss *smtpSession) Data(r io.Reader) error {
	at := time.Now()
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(b)))
	if err != nil {
		return &gosmtp.SMTPError{Code: 554, Message: "unreadable message: " + err.Error()}
	}
	q := Request{At: at, Method: "DATA", Path: strconv.Itoa(ss.rcpts) + " recipients", Header: map[string][]string(msg.Header),
		Body: b, Text: string(b), Key: msg.Header.Get("Message-Id"), Status: 250, Processed: true}
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, q)
	hold := ss.s.hold
	if hold != nil {
		ss.s.held++
	}
	ss.s.mu.Unlock()
	if hold != nil {
		// The 250 goes out only now; go-smtp reads nothing from the
		// client meanwhile, so a sender that died is noticed only when
		// the answer cannot be written.
		select {
		case <-hold:
		case <-ss.s.closed:
		}
		ss.s.mu.Lock()
		ss.s.held--
		ss.s.mu.Unlock()
	}
	return nil
}

func (ss *smtpSession) Reset()        { ss.rcpts = 0 }
func (ss *smtpSession) Logout() error { return nil }

// selfSigned makes a CA and a server certificate for 127.0.0.1 and
// localhost, valid for a day.
func selfSigned() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "notifytest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// Spool is the exec channel's receiver: a directory that Command writes
// each notification into, as one file named after
// BREAKGLASS_NOTIFICATION_ID (the key a script dedupes on) and the shell's
// pid, written whole and then renamed into place.
//
// Hold puts the command in the middle of a send: it writes the spool file
// (the notification was acted on) and then does not exit until Release,
// for up to 30 s. A daemon killed meanwhile never sees the exit status
// and runs the command again: the exec channel is at least once, and the
// rerun carries the same BREAKGLASS_NOTIFICATION_ID.
type Spool struct{ Dir string }

// Command is the exec channel's command: a POSIX shell that copies its
// standard input into the spool, then waits while the spool is held.
func (s Spool) Command() []string {
	return []string{"/bin/sh", "-c", `t="$0/.tmp.$$" && cat > "$t" && mv "$t" "$0/$BREAKGLASS_NOTIFICATION_ID.$BREAKGLASS_ATTEMPT.$$" && ` +
		`if [ -e "$0/.hold" ]; then : > "$0/.held.$$"; i=0; while [ -e "$0/.hold" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; rm -f "$0/.held.$$"; fi`, s.Dir}
}

// Hold makes every run of Command from now on wait, after writing its
// file, until Release.
func (s Spool) Hold() error { return os.WriteFile(filepath.Join(s.Dir, ".hold"), nil, 0o600) }

// Release lets the held commands exit (0) and stops holding.
func (s Spool) Release() error {
	if err := os.Remove(filepath.Join(s.Dir, ".hold")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Held is how many runs of Command wait in Hold now.
func (s Spool) Held() (int, error) {
	m, err := filepath.Glob(filepath.Join(s.Dir, ".held.*"))
	return len(m), err
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// Requests reads the spool: one Request per file, At its modification
// time (when the command finished writing it).
func (s Spool) Requests() ([]Request, error) {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, err
	}
	var out []Request
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		// <id>.<attempt>.<pid>: the id may have dots of its own (a test
		// notification's time, test-20260314T025107.123Z), so cut from the
		// right.
		rest, _, ok := cutLast(name, ".")
		key, _, ok2 := cutLast(rest, ".")
		if !ok || !ok2 || key == "" {
			return nil, fmt.Errorf("spool %s: unexpected file %q", s.Dir, name)
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, Request{At: info.ModTime(), Method: "exec", Path: name, Body: b, Text: string(b), Key: key, Status: 0, Processed: true})
	}
	return out, nil
}
