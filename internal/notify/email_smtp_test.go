package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// A real SMTP server (emersion/go-smtp) on loopback TCP for the email
// channel's tests: STARTTLS or implicit TLS with a certificate made here,
// AUTH PLAIN (and LOGIN, written below), and hooks to refuse.

// testPKI is a CA and a server certificate for 127.0.0.1 and localhost.
type testPKI struct {
	caFile string
	server tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "breakglass test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// received is one message as the server got it.
type received struct {
	from   string
	rcpts  []string
	data   []byte
	user   string // authenticated as
	tls    bool   // over TLS when MAIL FROM came
	helloN string
}

type smtpTestServer struct {
	addr string
	port int

	// Configuration, set before the first connection.
	user, pass string // AUTH required when user is set
	mechs      []string
	// authErr, if set, is what a failed AUTH answers.
	authErr func(user, pass string) error
	// rcptErr refuses a recipient.
	rcptErr func(to string) error
	// dataErr refuses the message after DATA, the first failData times
	// (every time when failData is 0).
	dataErr  error
	failData int

	dataSeen int // messages offered after DATA, refused or not

	mu   sync.Mutex
	msgs []received
}

func (s *smtpTestServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpTestOpts struct {
	pki      *testPKI
	implicit bool // TLS from the first byte; else STARTTLS when pki is set
	user     string
	pass     string
	mechs    []string // default PLAIN
	// hook sets the server's refusals before it serves (the race
	// detector sees no order through a TCP connection).
	hook func(*smtpTestServer)
}

func startSMTP(t *testing.T, o smtpTestOpts) *smtpTestServer {
	t.Helper()
	s := &smtpTestServer{user: o.user, pass: o.pass, mechs: o.mechs}
	if len(s.mechs) == 0 {
		s.mechs = []string{sasl.Plain}
	}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpTestSession{s: s, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = smtpLogger{t}
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.pki != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{o.pki.server}}
		if o.implicit {
			l = tls.NewListener(l, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	if o.hook != nil {
		o.hook(s)
	}
	s.addr = l.Addr().String()
	s.port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type smtpLogger struct{ t *testing.T }

func (l smtpLogger) Printf(f string, v ...any) { l.t.Logf("smtp server: "+f, v...) }
func (l smtpLogger) Println(v ...any)          { l.t.Log(append([]any{"smtp server:"}, v...)...) }

type smtpTestSession struct {
	s    *smtpTestServer
	c    *gosmtp.Conn
	user string
	cur  received
}

func (ss *smtpTestSession) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return ss.s.mechs
}

func (ss *smtpTestSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			if ss.s.authErr != nil {
				return ss.s.authErr(user, pass)
			}
			return gosmtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN (go-sasl has the client
// only): "Username:", then "Password:".
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 { // initial response carries the username
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func (ss *smtpTestSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.s.user != "" && ss.user == "" {
		return gosmtp.ErrAuthRequired
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.cur = received{from: from, user: ss.user, tls: isTLS, helloN: ss.c.Hostname()}
	return nil
}

func (ss *smtpTestSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if ss.s.rcptErr != nil {
		if err := ss.s.rcptErr(to); err != nil {
			return err
		}
	}
	ss.cur.rcpts = append(ss.cur.rcpts, to)
	return nil
}

func (ss *smtpTestSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.dataSeen++
	if ss.s.dataErr != nil && (ss.s.failData == 0 || ss.s.dataSeen <= ss.s.failData) {
		return ss.s.dataErr
	}
	ss.cur.data = b
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	return nil
}

func (ss *smtpTestSession) Reset()        { ss.cur = received{} }
func (ss *smtpTestSession) Logout() error { return nil }

// buildEmail validates c as config check would (no problem allowed) and
// builds it.
func buildEmail(t *testing.T, c *EmailConfig, timeout time.Duration) *Email {
	t.Helper()
	var problems []string
	c.Validate(func(field, msg string) { problems = append(problems, field+": "+msg) })
	if len(problems) > 0 {
		t.Fatalf("Validate: %v", problems)
	}
	n, err := c.Build(BuildEnv{Target: "oncall/email", Timeout: timeout, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return n.(*Email)
}

var fixedNow = time.Date(2026, 7, 1, 12, 0, 5, 0, time.UTC)

// stallServer accepts connections and, after writing greeting (if any),
// never answers again.
func stallServer(t *testing.T, greeting string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if greeting != "" {
				_, _ = io.WriteString(c, greeting)
			}
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var port int
	for _, c := range p {
		port = port*10 + int(c-'0')
	}
	return h, port
}

func notifyCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// errors.Is helper kept here so the test reads plainly.
func isDeadline(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
