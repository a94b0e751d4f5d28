package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Dry runs: a channel config's Probe(ctx) error (probe_*.go) checks that a
// send could reach its endpoint (DNS, TCP, TLS; for email the SMTP session
// up to AUTH) without sending anything. doctor calls it through an
// interface of its own; a channel type without Probe has no dry run.

// Probe stages, in the order a dry run takes them.
const (
	ProbeDNS      = "dns"      // the host name does not resolve
	ProbeConnect  = "connect"  // nothing accepts TCP at host:port
	ProbeTLS      = "tls"      // the handshake or the certificate failed
	ProbeProtocol = "protocol" // the server answered, but not as it must (SMTP greeting, STARTTLS, AUTH)
	ProbeLocal    = "local"    // on this machine (an exec channel's program)
)

// ProbeError is a failed dry run: the stage and the endpoint (host:port,
// never a URL's path or query, which may hold the credential).
type ProbeError struct {
	Stage string
	Addr  string
	Err   error
}

func (e *ProbeError) Error() string {
	what := map[string]string{
		ProbeDNS: "cannot resolve", ProbeConnect: "cannot connect to", ProbeTLS: "TLS with",
		ProbeProtocol: "unexpected answer from", ProbeLocal: "cannot run",
	}[e.Stage]
	if what == "" {
		what = e.Stage
	}
	return fmt.Sprintf("%s %s: %v", what, e.Addr, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// ProbeAddr resolves host, connects to host:port and, when tlsConf is not
// nil, completes a TLS handshake (certificate verified against
// tlsConf.ServerName, default host). Nothing is sent beyond the handshake.
func ProbeAddr(ctx context.Context, host, port string, tlsConf *tls.Config) error {
	addr := net.JoinHostPort(host, port)
	if net.ParseIP(host) == nil {
		if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
			return &ProbeError{ProbeDNS, addr, dnsCause(err)}
		}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &ProbeError{ProbeConnect, addr, netCause(err)}
	}
	defer conn.Close()
	if tlsConf == nil {
		return nil
	}
	cfg := tlsConf.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return &ProbeError{ProbeTLS, addr, err}
	}
	return tc.Close()
}

// ProbeURL is ProbeAddr for an http or https URL's host and port (80 and
// 443 by default), with TLS for https and the system's roots. Errors name
// host:port only.
func ProbeURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		// url's error quotes the URL, which may be the credential.
		return &ProbeError{ProbeLocal, "the configured url", errors.New("not an http or https URL")}
	}
	host, port := u.Hostname(), u.Port()
	var tlsConf *tls.Config
	switch strings.ToLower(u.Scheme) {
	case "https":
		if port == "" {
			port = "443"
		}
		tlsConf = &tls.Config{ServerName: host}
	case "http":
		if port == "" {
			port = "80"
		}
	default:
		return &ProbeError{ProbeLocal, host, fmt.Errorf("scheme %q is not http or https", u.Scheme)}
	}
	return ProbeAddr(ctx, host, port, tlsConf)
}

// dnsCause keeps what the resolver said without repeating the host.
func dnsCause(err error) error {
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return errors.New("no such host")
		case de.IsTimeout:
			return errors.New("the DNS server did not answer in time")
		}
		return errors.New(de.Err)
	}
	return err
}

// netCause is a dial error without Go's "dial tcp ADDR:" prefix, which the
// ProbeError already names.
func netCause(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err // "connection refused", not "connect: connection refused"
	}
	return err
}
