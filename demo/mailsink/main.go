// Command mailsink is the local mail server of `make demo`: it accepts SMTP
// on a loopback address, without TLS or authentication, and writes every
// message it receives to a directory as one .eml file, so the demo can show
// breakglass's email channel delivering without sending mail anywhere.
//
// It is a demo tool, not part of breakglass: it refuses to listen on
// anything but a loopback address, keeps every limit small (line length,
// message size, recipients, session time) and never relays.
//
//	mailsink -listen 127.0.0.1:2525 -dir data/demo-mail
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits of one session. breakglass's messages are a few tens of kilobytes.
const (
	maxLine       = 4096     // RFC 5321 asks for at least 1000 octets
	maxMessage    = 10 << 20 // bytes of DATA
	maxRecipients = 100
	sessionTime   = 2 * time.Minute
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2525", "loopback `address` to accept SMTP on")
	dir := flag.String("dir", "mail", "`directory` to write each received message to, as NNNN.eml")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mailsink [-listen 127.0.0.1:2525] [-dir DIR]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	s, err := newSink(*listen, *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailsink:", err)
		os.Exit(2)
	}
	fmt.Printf("mailsink: listening on %s, writing messages to %s\n", s.ln.Addr(), *dir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; s.ln.Close() }()
	s.serve()
}

type sink struct {
	ln  net.Listener
	dir string
	seq atomic.Int64
	wg  sync.WaitGroup
}

func newSink(listen, dir string) (*sink, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("-listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-listen %q: only a loopback address (127.0.0.1, ::1): this sink takes mail from anyone who can reach it", listen)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("-dir: %w", err)
	}
	s := &sink{dir: dir}
	// Number on after the messages already there, so a second run adds
	// to the directory instead of overwriting.
	if old, _ := filepath.Glob(filepath.Join(dir, "*.eml")); len(old) > 0 {
		s.seq.Store(int64(len(old)))
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("-listen: %w", err)
	}
	s.ln = ln
	return s, nil
}

func (s *sink) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return
			}
			fmt.Fprintln(os.Stderr, "mailsink: accept:", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(sessionTime))
			if err := s.session(c); err != nil && !errors.Is(err, io.EOF) {
				fmt.Fprintln(os.Stderr, "mailsink: session:", err)
			}
		}()
	}
}

// session speaks the server side of RFC 5321: enough for any client to
// hand over a message, nothing more.
func (s *sink) session(c net.Conn) error {
	r := bufio.NewReaderSize(c, maxLine)
	w := bufio.NewWriter(c)
	reply := func(format string, a ...any) error {
		fmt.Fprintf(w, format+"\r\n", a...)
		return w.Flush()
	}
	if err := reply("220 mailsink ready (breakglass demo)"); err != nil {
		return err
	}
	var from string
	var rcpt []string
	for {
		line, err := readLine(r)
		if errors.Is(err, errLineTooLong) {
			if err := reply("500 line too long"); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			err = reply("250-mailsink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE %d", maxMessage)
		case "HELO":
			err = reply("250 mailsink")
		case "MAIL":
			addr, ok := path(arg, "FROM:")
			if !ok {
				err = reply("501 syntax: MAIL FROM:<address>")
				break
			}
			from, rcpt = addr, nil
			err = reply("250 ok")
		case "RCPT":
			addr, ok := path(arg, "TO:")
			switch {
			case !ok:
				err = reply("501 syntax: RCPT TO:<address>")
			case len(rcpt) >= maxRecipients:
				err = reply("452 too many recipients")
			default:
				rcpt = append(rcpt, addr)
				err = reply("250 ok")
			}
		case "DATA":
			if len(rcpt) == 0 {
				err = reply("503 RCPT first")
				break
			}
			if err = reply("354 end with <CRLF>.<CRLF>"); err != nil {
				return err
			}
			var body []byte
			body, err = readData(r)
			switch {
			case errors.Is(err, errTooBig):
				err = reply("552 message larger than %d bytes", maxMessage)
			case err != nil:
				return err
			default:
				var name string
				name, err = s.save(from, rcpt, body)
				if err != nil {
					fmt.Fprintln(os.Stderr, "mailsink:", err)
					err = reply("451 cannot store the message")
				} else {
					fmt.Printf("mailsink: %s for %s: %s\n", name, strings.Join(rcpt, ", "), subjectOf(body))
					err = reply("250 ok: %s", filepath.Base(name))
				}
			}
			from, rcpt = "", nil
		case "RSET":
			from, rcpt = "", nil
			err = reply("250 ok")
		case "NOOP":
			err = reply("250 ok")
		case "VRFY":
			err = reply("252 cannot verify")
		case "QUIT":
			_ = reply("221 bye")
			return nil
		default:
			// STARTTLS and AUTH among them: configure the channel with
			// tls: none and no username.
			err = reply("502 not implemented")
		}
		if err != nil {
			return err
		}
	}
}

var (
	errLineTooLong = errors.New("line too long")
	errTooBig      = errors.New("message too big")
)

// readLine reads one CRLF (or LF) terminated line without its ending. A
// longer line than maxLine is consumed and reported as errLineTooLong.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err != nil {
			return "", err
		}
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return string(bytes.TrimRight(b, "\r\n")), nil
}

// readData reads DATA up to the lone dot, undoing dot-stuffing. A message
// over maxMessage is read to its end and then refused.
func readData(r *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	var line []byte
	big := false
	for {
		chunk, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if len(line)+len(chunk) <= maxMessage+2 {
			line = append(line, chunk...)
		} else {
			big = true
		}
		if err != nil {
			continue // the rest of a long line
		}
		l := bytes.TrimRight(line, "\r\n")
		line = line[:0]
		if string(l) == "." {
			break
		}
		if big {
			continue
		}
		buf.Write(bytes.TrimPrefix(l, []byte(".")))
		buf.WriteString("\r\n")
		if buf.Len() > maxMessage {
			big = true
			buf.Reset()
		}
	}
	if big {
		return nil, errTooBig
	}
	return buf.Bytes(), nil
}

// path takes the address out of "FROM:<a@b> SIZE=..." (the prefix given).
// The angle brackets are required by RFC 5321 but some clients leave
// them out; a sink accepts both.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if a, ok := strings.CutPrefix(rest, "<"); ok {
		addr, _, ok := strings.Cut(a, ">")
		return addr, ok
	}
	addr, _, _ := strings.Cut(rest, " ")
	return addr, addr != ""
}

// save writes the message with the envelope on top, atomically (a reader
// polling the directory never sees half a file).
func (s *sink) save(from string, rcpt []string, body []byte) (string, error) {
	n := s.seq.Add(1)
	name := filepath.Join(s.dir, fmt.Sprintf("%04d.eml", n))
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "X-Mailsink-From: <%s>\r\nX-Mailsink-To: <%s>\r\nX-Mailsink-Received: %s\r\n",
		from, strings.Join(rcpt, ">, <"), time.Now().UTC().Format(time.RFC3339))
	buf.Write(body)
	tmp, err := os.CreateTemp(s.dir, ".incoming-*")
	if err != nil {
		return "", fmt.Errorf("saving a message: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("saving a message: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("saving a message: %w", err)
	}
	// The readable copy first: whoever polls for NNNN.eml finds both.
	if txt, err := readable(body); err == nil {
		if err := os.WriteFile(strings.TrimSuffix(name, ".eml")+".txt", txt, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "mailsink: writing the text copy:", err)
		}
	} else {
		fmt.Fprintf(os.Stderr, "mailsink: %s: no text copy: %v\n", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("saving a message: %w", err)
	}
	return name, nil
}

// subjectOf returns the decoded Subject of a message, or "".
func subjectOf(body []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}

// readable renders a message for a person reading it in a terminal: the
// main headers, then its text/plain part decoded (quoted-printable or
// base64), so the acknowledge link can be copied as it is.
func readable(body []byte) ([]byte, error) {
	m, err := mail.ReadMessage(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, h := range []string{"Date", "From", "To", "Subject", "X-Breakglass-Alert", "X-Breakglass-Status", "X-Breakglass-Severity"} {
		v := m.Header.Get(h)
		if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
			v = d
		}
		fmt.Fprintf(&out, "%s: %s\n", h, v)
	}
	out.WriteString("\n")
	text, err := textPart(textproto.MIMEHeader(m.Header), m.Body, 0)
	if err != nil {
		return nil, err
	}
	out.Write(bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n")))
	return out.Bytes(), nil
}

// textPart finds the first text/plain part, nested multiparts included.
func textPart(h textproto.MIMEHeader, r io.Reader, depth int) ([]byte, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("Content-Type: %w", err)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/") && depth < 5:
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return nil, fmt.Errorf("no text/plain part: %w", err)
			}
			if b, err := textPart(p.Header, p, depth+1); err == nil {
				return b, nil
			}
		}
	case mt == "text/plain":
		switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			r = quotedprintable.NewReader(r)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, r)
		}
		return io.ReadAll(io.LimitReader(r, maxMessage))
	}
	return nil, fmt.Errorf("not text/plain: %s", mt)
}
