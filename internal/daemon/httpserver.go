package daemon

import (
	"net/http"
	"time"
)

// Bounds on the daemon's endpoint (server.listen). It is reachable by
// whoever can open an acknowledge link, so it is reachable by anyone: a
// client that sends its request a byte a minute, or keeps a connection
// open and idle, must not hold a connection (a file descriptor the store
// and the channels need) for ever. Variables so tests can shorten them.
var (
	serverReadHeaderTimeout = 5 * time.Second
	// serverReadTimeout bounds reading a whole request; the largest is a
	// PagerDuty or Opsgenie webhook body (ack.MaxWebhookBody).
	serverReadTimeout = 30 * time.Second
	// serverWriteTimeout bounds handling and answering, a store write
	// included.
	serverWriteTimeout = 60 * time.Second
	serverIdleTimeout  = 2 * time.Minute
)

// serverMaxHeaderBytes bounds a request's headers; links and webhooks
// need a few kilobytes.
const serverMaxHeaderBytes = 64 << 10

// newHTTPServer is the daemon's endpoint server over h.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serverReadHeaderTimeout,
		ReadTimeout:       serverReadTimeout,
		WriteTimeout:      serverWriteTimeout,
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes,
	}
}
