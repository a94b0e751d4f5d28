package notify

import (
	"context"
	"errors"
	"net"

	"strings"
)

// Probe is the email channel's dry run: DNS, TCP, the SMTP greeting,
// EHLO, TLS (implicit or STARTTLS, certificate verified) and AUTH when a
// username is set, then QUIT: everything a send does before MAIL FROM, so
// nothing is sent. Errors are scrubbed of the password as a send's are.
func (c *EmailConfig) Probe(ctx context.Context) error {
	n, err := c.Build(BuildEnv{})
	if err != nil {
		return &ProbeError{ProbeLocal, "email channel", err}
	}
	e := n.(*Email)
	if net.ParseIP(e.host) == nil {
		if _, err := net.DefaultResolver.LookupHost(ctx, e.host); err != nil {
			return &ProbeError{ProbeDNS, e.addr, dnsCause(err)}
		}
	}
	cl, closeConn, err := e.session(ctx)
	if err != nil {
		e.scrubReplies(err)
		msg := e.scrub.Replace(err.Error())
		stage := ProbeProtocol
		switch {
		case strings.HasPrefix(msg, "connect: "):
			stage = ProbeConnect
			var oe *net.OpError
			if errors.As(err, &oe) && oe.Err != nil {
				msg = e.scrub.Replace(netCause(err).Error())
			} else {
				msg = strings.TrimPrefix(msg, "connect: ")
			}
		case strings.HasPrefix(msg, "TLS handshake: "), strings.Contains(msg, "certificate"):
			stage = ProbeTLS
		}
		return &ProbeError{stage, e.addr, errors.New(msg)}
	}
	defer closeConn()
	_ = cl.Quit()
	return nil
}
