package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"breakglass/internal/logs"
)

// Defaults for the http source.
const (
	DefaultMaxBody  = 10 << 20
	DefaultHTTPPath = "/ingest"
)

// Server limits. Bodies are small and senders are machines, so slow or idle
// clients are cut off rather than allowed to hold connections.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 2 * time.Minute
	writeTimeout      = 2 * time.Minute // includes Ingest, which waits for the store
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 10 * time.Second
	retryAfterSeconds = "5"
)

// HTTPOptions configure an http source.
type HTTPOptions struct {
	Name    string
	Listen  string // host:port
	Token   string // bearer token senders must present; never logged
	MaxBody int64  // largest body accepted, default DefaultMaxBody
	Path    string // default DefaultHTTPPath
	Logger  *slog.Logger
	// Activity may be nil.
	Activity Activity
}

// HTTP receives logs pushed to POST <Path>: any shape the scanner reads
// (JSON, NDJSON, Event Hubs and Graph envelopes, Log Analytics CSV and
// JSON), plain or gzip-compressed. A 202 answer means every alert in the
// body is stored; anything else asks the sender to fix the body (4xx) or
// to send it again (503).
type HTTP struct {
	o      HTTPOptions
	log    *slog.Logger
	digest [sha256.Size]byte // of the token: comparing digests hides its length

	started atomic.Bool
	ready   chan struct{}
	addr    atomic.Pointer[net.Addr]
}

// NewHTTP validates o and returns an http source. Run listens on o.Listen;
// Handler serves the endpoint on another server.
func NewHTTP(o HTTPOptions) (*HTTP, error) {
	switch {
	case o.Name == "":
		return nil, errors.New("http source: name is required")
	case o.Token == "":
		return nil, fmt.Errorf("http source %q: token is required", o.Name)
	case o.MaxBody < 0:
		return nil, fmt.Errorf("http source %q: max_body must not be negative", o.Name)
	case o.Path != "" && !strings.HasPrefix(o.Path, "/"):
		return nil, fmt.Errorf("http source %q: path %q must start with /", o.Name, o.Path)
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return nil, fmt.Errorf("http source %q: listen %q: %w", o.Name, o.Listen, err)
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Path == "" {
		o.Path = DefaultHTTPPath
	}
	h := &HTTP{o: o, log: o.Logger, digest: sha256.Sum256([]byte(o.Token)), ready: make(chan struct{})}
	h.o.Token = "" // only the digest is kept, so printing h cannot reveal the token
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("source", o.Name)
	return h, nil
}

// Name returns the source's name.
func (h *HTTP) Name() string { return h.o.Name }

// Ready is closed once Run listens; Addr is valid from then on.
func (h *HTTP) Ready() <-chan struct{} { return h.ready }

// Addr is the address Run listens on (with the port chosen when Listen
// asked for port 0), or nil before Ready.
func (h *HTTP) Addr() net.Addr {
	if a := h.addr.Load(); a != nil {
		return *a
	}
	return nil
}

// Run serves the endpoint until ctx ends, then lets requests in flight
// finish (for at most shutdownTimeout) and returns nil. Failing to listen
// is returned: it is a configuration error, not a problem with one input.
// Run may be called once.
func (h *HTTP) Run(ctx context.Context, sink Sink) error {
	if sink == nil {
		return fmt.Errorf("http source %q: no sink", h.o.Name)
	}
	if !h.started.CompareAndSwap(false, true) {
		return fmt.Errorf("http source %q: already running", h.o.Name)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", h.o.Listen)
	if err != nil {
		return fmt.Errorf("http source %q: %w", h.o.Name, err)
	}
	srv := &http.Server{
		Handler:           h.Handler(sink),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr()
	h.addr.Store(&addr)
	close(h.ready)
	h.log.Info("http source listening", "addr", addr.String(), "path", h.o.Path)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http source %q: %w", h.o.Name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		h.log.Warn("http source: requests still running at shutdown were cut off", "err", err)
		srv.Close()
	}
	<-served
	return nil
}

// Handler returns the endpoint's handler, delivering to sink. sink.Ingest
// is called concurrently, once per request.
func (h *HTTP) Handler(sink Sink) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, sink) })
}

// accepted is the answer to a body that was ingested.
type accepted struct {
	Records int64            `json:"records"`
	Alerts  int64            `json:"alerts"`
	Skipped map[string]int64 `json:"skipped"` // by reason; {} when none
}

// reply is every other answer.
type reply struct {
	Error   string           `json:"error"`
	Skipped map[string]int64 `json:"skipped,omitempty"`
}

func (h *HTTP) serve(w http.ResponseWriter, r *http.Request, sink Sink) {
	if r.URL.Path != h.o.Path {
		writeJSON(w, http.StatusNotFound, reply{Error: "not found"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, reply{Error: "method not allowed: use POST"})
		return
	}
	if challenge := h.authorize(r); challenge != "" {
		h.log.Warn("http source: request without a valid token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, http.StatusUnauthorized, reply{Error: "a valid bearer token is required"})
		return
	}
	ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch ce {
	case "", "identity", "gzip", "x-gzip":
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, reply{Error: "unsupported Content-Encoding " + quoteShort(ce) + ": send gzip or nothing"})
		return
	}
	if r.ContentLength > h.o.MaxBody {
		h.tooLarge(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.tooLarge(w, r)
			return
		}
		writeJSON(w, http.StatusBadRequest, reply{Error: "reading the body failed"})
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		writeJSON(w, http.StatusBadRequest, reply{Error: "empty body"})
		return
	}
	if ce == "gzip" || ce == "x-gzip" {
		// The splitter decompresses by sniffing the magic bytes; a body
		// that claims gzip but lacks them is a sender bug worth naming.
		if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
			writeJSON(w, http.StatusBadRequest, reply{Error: "Content-Encoding is gzip but the body is not gzip"})
			return
		}
	}

	st, err := sink.Ingest(r.Context(), h.o.Name, "http:"+r.RemoteAddr, bytes.NewReader(body))
	records, skipped := st.TotalRecords(), st.Skipped
	if err != nil {
		if st.Skipped[logs.ReasonReadError] > 0 && r.Context().Err() == nil {
			// The body is in memory, so a read error is its content: a
			// corrupt gzip stream. Sending it again would not help.
			h.log.Warn("http source: unreadable body", "remote", r.RemoteAddr, "err", err)
			writeJSON(w, http.StatusBadRequest, reply{Error: "the body could not be read (corrupt gzip?)", Skipped: skipped})
			return
		}
		h.log.Error("http source: ingest failed; the sender is asked to retry", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, reply{Error: "the input could not be stored; send it again"})
		return
	}
	if records == 0 && st.TotalSkipped() > 0 {
		writeJSON(w, http.StatusBadRequest, reply{
			Error:   "no record could be decoded: " + strings.Join(slices.Sorted(maps.Keys(skipped)), ", "),
			Skipped: skipped,
		})
		return
	}
	if records > 0 && h.o.Activity != nil {
		h.o.Activity.Received(h.o.Name, records)
	}
	writeJSON(w, http.StatusAccepted, accepted{Records: records, Alerts: st.Alerts, Skipped: nonNil(skipped)})
}

// authorize returns "" for a request with the right bearer token, else the
// WWW-Authenticate challenge to answer with (RFC 6750).
func (h *HTTP) authorize(r *http.Request) string {
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "Bearer"
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(got[:], h.digest[:]) != 1 {
		return `Bearer error="invalid_token"`
	}
	return ""
}

func (h *HTTP) tooLarge(w http.ResponseWriter, r *http.Request) {
	h.log.Warn("http source: body too large", "remote", r.RemoteAddr, "max_body", h.o.MaxBody)
	// The rest of the body is not read; closing tells the client not to
	// send another request on this connection.
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusRequestEntityTooLarge, reply{Error: fmt.Sprintf("body larger than %d bytes", h.o.MaxBody)})
}

// nonNil makes "skipped" appear as {} rather than null, so clients can
// rely on it being an object.
func nonNil(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // replies are plain structs: Marshal cannot fail
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// quoteShort quotes a client-supplied value for an error message, cut so a
// hostile header cannot make the answer large.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}
