package config

import (
	"crypto/tls"
	"os"
	"strings"
)

// TLS reports whether server.listen serves HTTPS.
func (s ServerConfig) TLS() bool { return s.TLSCert != "" && s.TLSKey != "" }

// validateTLS checks server.tls_cert and server.tls_key: both or neither,
// each readable, and together a certificate with its key, so that serve
// never starts with a dashboard nobody can reach. The files are read
// again when serve starts (LoadTLS).
func (c *Config) validateTLS(d *decoder) {
	s := &c.Server
	s.TLSCert, s.TLSKey = strings.TrimSpace(s.TLSCert), strings.TrimSpace(s.TLSKey)
	line := func(k string) int {
		if l, ok := d.lines["server."+k]; ok {
			return l
		}
		return d.lines["server"]
	}
	switch {
	case d.failed["server.tls_cert"] || d.failed["server.tls_key"]:
		return
	case s.TLSCert == "" && s.TLSKey == "":
		return
	case s.TLSCert == "":
		d.errorf(line("tls_key"), "server.tls_cert", "required with server.tls_key: the PEM certificate (chain) of server.listen")
		return
	case s.TLSKey == "":
		d.errorf(line("tls_cert"), "server.tls_key", "required with server.tls_cert: the PEM private key of that certificate")
		return
	}
	cert, cerr := os.ReadFile(s.TLSCert)
	if cerr != nil {
		// The path error names the file, never its content.
		d.errorf(line("tls_cert"), "server.tls_cert", "cannot read: %v", cerr)
	}
	key, kerr := os.ReadFile(s.TLSKey)
	if kerr != nil {
		d.errorf(line("tls_key"), "server.tls_key", "cannot read: %v", kerr)
	}
	if cerr != nil || kerr != nil {
		return
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		d.errorf(line("tls_cert"), "server.tls_cert", "%s and %s are not a PEM certificate and its private key: %v", s.TLSCert, s.TLSKey, tlsReason(err))
	}
}

// tlsReason is crypto/tls's reason without anything of the files' content.
func tlsReason(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// LoadTLS reads server.tls_cert and server.tls_key for serving; nil
// without them.
func (s ServerConfig) LoadTLS() (*tls.Config, error) {
	if !s.TLS() {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}
