package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"breakglass/internal/alert"
	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// The email channel: SMTP with STARTTLS, implicit TLS or (for a relay on a
// trusted network) none, optional AUTH PLAIN or LOGIN, one multipart
// message per notification with a text and an HTML part.

// Email TLS modes, the values of `tls:`.
const (
	EmailTLSNone     = "none"
	EmailTLSStartTLS = "starttls"
	EmailTLSImplicit = "implicit"
)

// Default ports per TLS mode. starttls defaults to 587, the submission
// port (RFC 6409, RFC 8314), not 25: 25 is server-to-server relay, and
// cloud networks (Azure VMs among them) block outbound 25, so a daemon
// defaulting to it would fail at the first alert. none defaults to 25, the
// port of an internal relay that takes mail without authentication;
// implicit TLS is 465 (RFC 8314).
const (
	EmailPortNone     = 25
	EmailPortStartTLS = 587
	EmailPortImplicit = 465
)

// DefaultEmailTimeout is the email channel's default timeout: one whole
// SMTP session, connecting to QUIT.
const DefaultEmailTimeout = 30 * time.Second

// emailMaxRead bounds everything read from one SMTP session: replies are
// a few hundred bytes, so a server sending more is broken or hostile and
// must not grow our memory until the timeout.
const emailMaxRead = 1 << 20

func init() {
	RegisterChannel(ChannelType{
		Name: "email",
		Doc:  "SMTP email (tls: none|starttls|implicit, optional AUTH), a text and an HTML part",
		New:  func() ChannelConfig { return &EmailConfig{} },
		// TLS handshake, AUTH and DATA against a relay that may be far
		// away: longer than an HTTP call, short enough to retry soon.
		DefaultTimeout: DefaultEmailTimeout,
	})
}

// EmailConfig is the configuration of an email channel.
type EmailConfig struct {
	// Host is the SMTP server's name (or IP), without a port or scheme;
	// TLS certificates are verified against it.
	Host string `yaml:"host"`
	// Port defaults by TLS mode (EmailPort*).
	Port int `yaml:"port"`
	// TLS is none, starttls (the default) or implicit.
	TLS string `yaml:"tls"`
	// CAFile is a PEM bundle to verify the server with (a private CA)
	// instead of the system roots.
	CAFile string `yaml:"ca_file,omitempty"`
	// Username and Password authenticate with AUTH PLAIN (or LOGIN when
	// the server offers only that). Only over TLS.
	Username string        `yaml:"username,omitempty"`
	Password secret.Secret `yaml:"password,omitempty"`
	// From is the sender, "Name <addr>" or "addr".
	From string `yaml:"from"`
	// To lists the recipients; at least one.
	To []string `yaml:"to"`
	// SubjectPrefix goes before every subject, e.g. "[breakglass prod]".
	SubjectPrefix string `yaml:"subject_prefix,omitempty"`
}

// Validate reports every problem and applies the defaults (tls, port).
func (c *EmailConfig) Validate(report func(field, msg string)) {
	host := strings.TrimSpace(c.Host)
	switch {
	case host == "":
		report("host", "required: the SMTP server's name, e.g. smtp.example.com")
	case strings.Contains(host, "://"):
		report("host", "give the name only, without a scheme (tls: says how to connect)")
	case strings.ContainsAny(host, " \t\r\n/[]@"):
		report("host", "not a host name")
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		report("host", "give the port in port:, not in host")
	}
	switch c.TLS {
	case "":
		c.TLS = EmailTLSStartTLS
	case EmailTLSNone, EmailTLSStartTLS, EmailTLSImplicit:
	default:
		report("tls", fmt.Sprintf("%q is not none, starttls or implicit", c.TLS))
	}
	switch {
	case c.Port == 0:
		c.Port = defaultEmailPort(c.TLS)
	case c.Port < 1 || c.Port > 65535:
		report("port", fmt.Sprintf("%d is not a TCP port (1-65535)", c.Port))
	}
	if c.CAFile != "" {
		if c.TLS == EmailTLSNone {
			report("ca_file", "set, but tls is none: nothing would be verified")
		}
		if _, err := loadCAFile(c.CAFile); err != nil {
			report("ca_file", err.Error())
		}
	}
	switch {
	case c.Password != "" && c.Username == "":
		report("password", "set without username")
	case c.Username != "" && c.Password == "":
		report("password", "empty while username is set (is the ${VAR} it names set?)")
	}
	if c.Username != "" && c.TLS == EmailTLSNone {
		report("tls", "none with a username: the password would cross the network in clear; use starttls or implicit")
	}
	if strings.ContainsAny(c.Username, "\r\n\x00") {
		report("username", "contains a line break or NUL")
	}
	if c.From == "" {
		report("from", "required: the sender address, e.g. breakglass@example.com")
	} else if _, err := parseEmailAddress(c.From); err != nil {
		report("from", err.Error())
	}
	if len(c.To) == 0 {
		report("to", "at least one recipient address is required")
	}
	seen := map[string]int{}
	for i, to := range c.To {
		field := "to[" + strconv.Itoa(i) + "]"
		a, err := parseEmailAddress(to)
		if err != nil {
			report(field, err.Error())
			continue
		}
		key := strings.ToLower(a.Address)
		if j, dup := seen[key]; dup {
			report(field, fmt.Sprintf("%s is already to[%d]", a.Address, j))
			continue
		}
		seen[key] = i
	}
	if strings.ContainsFunc(c.SubjectPrefix, isControl) {
		report("subject_prefix", "contains a control character")
	}
}

func defaultEmailPort(mode string) int {
	switch mode {
	case EmailTLSNone:
		return EmailPortNone
	case EmailTLSImplicit:
		return EmailPortImplicit
	}
	return EmailPortStartTLS
}

// parseEmailAddress accepts one address, with or without a display name.
// An address list ("a@x, b@x") in one entry is refused: each recipient is
// its own entry so that errors can name it.
func parseEmailAddress(s string) (*mail.Address, error) {
	if strings.ContainsFunc(s, isControl) {
		return nil, errors.New("contains a control character")
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an email address: %w", s, err)
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("%q holds %d addresses: give one per entry", s, len(list))
	}
	a := list[0]
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(a.Address, " <>") {
		return nil, fmt.Errorf("%q is not an email address", s)
	}
	return a, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func loadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// Build makes the Email notifier. It applies Validate's rules itself (on
// a copy), so an Email is never built from a configuration that config
// check would refuse: an unknown tls value must not mean "no TLS".
func (c *EmailConfig) Build(env BuildEnv) (Notifier, error) {
	v := *c
	var problems []string
	v.Validate(func(field, msg string) { problems = append(problems, field+": "+msg) })
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	from, err := parseEmailAddress(v.From)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	to := make([]*mail.Address, 0, len(v.To))
	for i, s := range v.To {
		a, err := parseEmailAddress(s)
		if err != nil {
			return nil, fmt.Errorf("to[%d]: %w", i, err)
		}
		to = append(to, a)
	}
	mode, port, host := v.TLS, v.Port, strings.TrimSpace(v.Host)
	e := &Email{
		target:   env.Target,
		host:     host,
		addr:     net.JoinHostPort(host, strconv.Itoa(port)),
		mode:     mode,
		username: v.Username,
		password: v.Password,
		from:     from,
		to:       to,
		prefix:   strings.TrimSpace(v.SubjectPrefix),
		timeout:  env.Timeout,
		render:   env.Render,
		now:      env.Now,
		helo:     "localhost",
	}
	if e.timeout <= 0 { // built directly, not through config
		e.timeout = DefaultEmailTimeout
	}
	if e.now == nil {
		e.now = time.Now
	}
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsFunc(h, isControl) && !strings.Contains(h, " ") {
		e.helo = h
	}
	if mode != EmailTLSNone {
		e.tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if v.CAFile != "" {
			pool, err := loadCAFile(v.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ca_file: %w", err)
			}
			e.tlsConfig.RootCAs = pool
		}
	}
	var secrets []string
	if p := v.Password.Reveal(); p != "" {
		// What AUTH PLAIN and LOGIN put on the wire, in case a server
		// echoes it back in a reply that ends up in an error.
		secrets = append(secrets, p,
			base64.StdEncoding.EncodeToString([]byte(p)),
			base64.StdEncoding.EncodeToString([]byte("\x00"+v.Username+"\x00"+p)))
	}
	e.scrub = newScrubber(secrets)
	return e, nil
}

// Email sends each notification as one email to every recipient, in one
// SMTP transaction. Each address is rate limited (notify.rate_limits.email,
// Limited): alerts over the limit wait and are listed in one email.
//
// Delivered means the server answered 250 to the end of DATA for at least
// one recipient; recipients it refused make the send fail (the message
// went to the others, and goes to them again on the retry: the
// Message-ID is the same, so it is recognisable as the same message).
//
// Errors: SMTP 4xx replies and everything on the network (refused,
// reset, timeout) are retryable. 5xx replies are Permanent (wrong
// password, refused sender or recipient, message refused), except 552 to
// RCPT, which RFC 5321 §4.5.3.1.10 says to treat as "too many
// recipients", a temporary condition. A certificate that does not verify
// and a server that does not offer STARTTLS or the AUTH mechanisms we
// speak are Permanent too: retrying cannot fix the configuration. The
// dispatcher still retries Permanent errors, at its longest backoff, until
// it gives up and dead-letters them.
//
// Errors name the channel and the server, never the password, and
// anything the server sends back is scrubbed of it.
type Email struct {
	target    string
	host      string
	addr      string
	mode      string
	tlsConfig *tls.Config
	username  string
	password  secret.Secret
	from      *mail.Address
	to        []*mail.Address
	prefix    string
	timeout   time.Duration
	render    func(Notification) (Message, error)
	now       func() time.Time
	helo      string
	scrub     *strings.Replacer
	// dial replaces the TCP dial in tests (fuzzing a server's replies).
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

// String is safe to log.
func (e *Email) String() string {
	return "email " + strconv.Quote(e.target) + " smtp://" + e.addr + " (tls " + e.mode + ")"
}

// GoString keeps %#v from printing the fields, the password among them
// (fmt cannot reach Secret's own redaction in an unexported field).
func (e *Email) GoString() string { return e.String() }

// SendTimeout bounds one whole send, from connecting to QUIT (Bounded).
func (e *Email) SendTimeout() time.Duration { return e.timeout }

// Recipients makes the channel Limited: every address, "email:ops@…"
// (lower case: addresses differing in case reach one mailbox).
func (e *Email) Recipients(Notification) []string {
	out := make([]string, len(e.to))
	for i, a := range e.to {
		out[i] = RecipientKey(LimitEmail, a.Address)
	}
	return out
}

// Notify renders n and sends it. See Email for how failures are
// classified.
func (e *Email) Notify(ctx context.Context, n Notification) error {
	raw, err := e.compose(n)
	if err != nil {
		return Permanent(e.errorf("compose message: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	err = e.send(ctx, raw)
	switch {
	case err == nil:
		return nil
	case IsPermanent(err):
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		// The connection's deadline is the context's, so either may
		// report first.
		err = fmt.Errorf("no answer within %s (%w): %w", e.timeout, context.DeadlineExceeded, err)
	case ctx.Err() != nil:
		err = fmt.Errorf("cancelled (%w): %w", ctx.Err(), err)
	}
	return e.wrap(err)
}

// session connects, greets, secures (implicit TLS or STARTTLS) and
// authenticates: every step of a send before MAIL FROM, shared by send
// and Probe (probe_email.go). closeConn closes the connection; the
// caller closes c first.
func (e *Email) session(ctx context.Context) (c *smtp.Client, closeConn func(), err error) {
	var tcp net.Conn
	if e.dial != nil {
		tcp, err = e.dial(ctx, e.addr)
	} else {
		var d net.Dialer
		tcp, err = d.DialContext(ctx, "tcp", e.addr)
	}
	if err != nil {
		return nil, nil, stageErr("connect", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = tcp.Close() })
	closeConn = func() { stop(); tcp.Close() }
	fail := func(err error) (*smtp.Client, func(), error) {
		closeConn()
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = tcp.SetDeadline(dl)
	}
	var conn net.Conn = &limitedConn{Conn: tcp, left: emailMaxRead}
	if e.mode == EmailTLSImplicit {
		tc := tls.Client(conn, e.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(stageErr("TLS handshake", err))
		}
		conn = tc
	}
	c, err = smtp.NewClient(conn, e.host)
	if err != nil {
		return fail(stageErr("greeting", err))
	}
	fail = func(err error) (*smtp.Client, func(), error) {
		c.Close()
		closeConn()
		return nil, nil, err
	}
	if err := c.Hello(e.helo); err != nil {
		return fail(stageErr("EHLO", err))
	}
	if e.mode == EmailTLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail(Permanent(errors.New("the server does not offer STARTTLS, and tls is starttls: refusing to send in clear " +
				"(someone may be stripping it; if this relay really has no TLS, set tls: none and no username)")))
		}
		if err := c.StartTLS(e.tlsConfig); err != nil {
			return fail(stageErr("STARTTLS", err))
		}
	}
	if e.username != "" {
		if err := e.auth(c); err != nil {
			return fail(err)
		}
	}
	return c, closeConn, nil
}

// send runs one SMTP session. The connection's deadline is the context's,
// and cancelling the context closes it, so no stalled server can hold a
// send past the timeout at any step (TLS handshake, any reply).
func (e *Email) send(ctx context.Context, raw []byte) error {
	c, closeConn, err := e.session(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	defer c.Close()
	if err := c.Mail(e.from.Address); err != nil {
		return stageErr("MAIL FROM", err)
	}
	var refused []error
	accepted := 0
	for _, to := range e.to {
		if err := c.Rcpt(to.Address); err != nil {
			if ctx.Err() != nil || !isReply(err) {
				return stageErr("RCPT TO "+to.Address, err)
			}
			refused = append(refused, stageErr("RCPT TO "+to.Address, err))
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return joinRefused(refused, len(e.to))
	}
	w, err := c.Data()
	if err != nil {
		return stageErr("DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		return stageErr("DATA", err)
	}
	if err := w.Close(); err != nil {
		return stageErr("end of DATA", err)
	}
	// The server took the message with its 250; a failing QUIT changes
	// nothing about that.
	_ = c.Quit()
	if len(refused) > 0 {
		return joinRefused(refused, len(e.to))
	}
	return nil
}

func (e *Email) auth(c *smtp.Client) error {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return Permanent(errors.New("AUTH: the server offers no authentication, but a username is configured"))
	}
	offered := strings.Fields(strings.ToUpper(mechs))
	var a smtp.Auth
	switch {
	case slices.Contains(offered, "PLAIN"):
		a = smtp.PlainAuth("", e.username, e.password.Reveal(), e.host, false)
	case slices.Contains(offered, "LOGIN"):
		a = smtp.LoginAuth(e.username, e.password.Reveal(), e.host, false)
	default:
		return Permanent(fmt.Errorf("AUTH: the server offers %q; breakglass speaks PLAIN and LOGIN", printable([]byte(mechs), 100)))
	}
	if err := c.Auth(a); err != nil {
		return stageErr("AUTH", err)
	}
	return nil
}

// joinRefused reports recipients the server refused: Permanent only when
// every refusal was.
func joinRefused(refused []error, total int) error {
	msgs := make([]string, len(refused))
	for i, r := range refused {
		msgs[i] = r.Error()
	}
	// One line, "; "-separated: errors end up in logs line by line.
	err := fmt.Errorf("%d of %d recipients refused: %w", len(refused), total,
		&multiError{msg: strings.Join(msgs, "; "), errs: refused})
	for _, r := range refused {
		if !IsPermanent(r) {
			return err
		}
	}
	return Permanent(err)
}

// multiError is errors.Join on one line.
type multiError struct {
	msg  string
	errs []error
}

func (m *multiError) Error() string   { return m.msg }
func (m *multiError) Unwrap() []error { return m.errs }

// SMTPError is a reply from the SMTP server other than the one expected.
type SMTPError struct {
	// Stage is the command it answered (EHLO, AUTH, RCPT TO a@b, ...).
	Stage string
	Code  int
	// Message is the server's text, printable and scrubbed of the
	// password.
	Message string
}

func (e *SMTPError) Error() string {
	return fmt.Sprintf("%s: server replied %d %s", e.Stage, e.Code, strconv.Quote(e.Message))
}

// Temporary reports a 4xx reply (or 552 to RCPT; see Email).
func (e *SMTPError) Temporary() bool {
	return e.Code >= 400 && e.Code < 500 || e.Code == 552 && strings.HasPrefix(e.Stage, "RCPT TO")
}

func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

// stageErr names the step that failed and classifies the error. Server
// replies become SMTPError (the raw text is scrubbed by Email.wrap);
// certificate errors are Permanent; everything else (network) retryable.
func stageErr(stage string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		se := &SMTPError{Stage: stage, Code: te.Code, Message: te.Msg}
		if se.Code >= 500 && !se.Temporary() {
			return Permanent(se)
		}
		return se
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return Permanent(fmt.Errorf("%s: the server's certificate does not verify (set ca_file for a private CA): %w", stage, err))
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// wrap prefixes the channel and server and scrubs the whole text; the
// cause stays reachable for errors.Is/As, with SMTPError messages
// scrubbed too.
func (e *Email) wrap(err error) error {
	perm := IsPermanent(err)
	e.scrubReplies(err)
	out := e.errorf("%w", err)
	if perm {
		return Permanent(out)
	}
	return out
}

// scrubReplies cleans every SMTPError in err's tree in place.
func (e *Email) scrubReplies(err error) {
	if err == nil {
		return
	}
	if se, ok := err.(*SMTPError); ok {
		se.Message = scrubbedExcerpt(e.scrub, []byte(se.Message), 300)
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, x := range u.Unwrap() {
			e.scrubReplies(x)
		}
	case interface{ Unwrap() error }:
		e.scrubReplies(u.Unwrap())
	}
}

func (e *Email) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &webhookError{msg: "email " + strconv.Quote(e.target) + ": smtp://" + e.addr + ": " + e.scrub.Replace(err.Error()), err: err}
}

// limitedConn fails reads past a budget: see emailMaxRead.
type limitedConn struct {
	net.Conn
	left int
}

var errTooMuch = errors.New("the server sent more than 1 MiB: not an SMTP server, or a broken one")

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooMuch
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.Conn.Read(p)
	l.left -= n
	return n, err
}

// compose renders n into the bytes sent after DATA.
func (e *Email) compose(n Notification) ([]byte, error) {
	msg, err := RenderWith(e.render, n)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if strings.TrimSpace(msg.Text) == "" {
		return nil, errors.New("render: the text is empty")
	}
	html := msg.HTML
	if strings.TrimSpace(html) == "" {
		html = "<pre>" + htmlEscape(msg.Text) + "</pre>"
	}
	subject := mailHeaderText(msg.Subject)
	if e.prefix != "" {
		subject = mailHeaderText(e.prefix) + " " + subject
	}
	date := n.Sent
	if date.IsZero() {
		date = e.now()
	}
	id := n.ID
	if id == "" {
		id = NotificationID(n.Alert.ID, n.Status)
	}

	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(e.from)
	m.SetAddrHeaderFromMailAddress(gomail.HeaderTo, e.to...)
	m.Subject(subject)
	m.SetDateWithValue(date)
	m.SetMessageIDWithValue(e.messageID(id))
	if len(n.Coalesced) > 0 {
		m.SetGenHeader("X-Breakglass-Alerts", strconv.Itoa(len(n.Coalesced)))
	} else if n.Status == store.StatusResolved {
		// Thread the resolution under the alert it resolves.
		first := "<" + e.messageID(NotificationID(n.Alert.ID, store.StatusFiring)) + ">"
		m.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, first)
		m.SetGenHeaderPreformatted(gomail.HeaderReferences, first)
	}
	m.SetGenHeader("X-Breakglass-Alert", headerToken(n.Alert.ID))
	m.SetGenHeader("X-Breakglass-Status", headerToken(n.Status))
	m.SetGenHeader("X-Breakglass-Severity", severityLabel(n.Alert))
	// An alert, not bulk mail: no auto-replies (RFC 3834, Exchange), and
	// critical ones marked important where clients show it.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if n.Alert.Severity <= alert.Sev1 && n.Status != store.StatusResolved {
		m.SetImportance(gomail.ImportanceHigh)
	}
	m.SetUserAgent(UserAgent)
	m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// messageID is stable per (notification, channel): the same message on a
// retry, a different one on another channel (another group may page the
// same person, and a client deduplicating by Message-ID must not hide it).
func (e *Email) messageID(notificationID string) string {
	domain := "breakglass.invalid"
	if _, d, ok := strings.Cut(e.from.Address, "@"); ok && d != "" && !strings.ContainsAny(d, "[]\\\"") {
		domain = d
	}
	return DeliveryKey(notificationID, e.target) + "@" + domain
}

// msgIDPart keeps a value that is already a safe dot-atom and replaces
// anything else by a digest, so no alert ID can break the header.
func msgIDPart(s string) string {
	ok := s != "" && len(s) <= 100 && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_./", c) >= 0
	}
	if ok {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(h[:12])
}

// mailHeaderText makes one line of header text: control characters (a line
// break would start a forged header) become spaces.
func mailHeaderText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if isControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// headerToken is mailHeaderText limited to printable ASCII (machine values).
func headerToken(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f {
			return '_'
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
