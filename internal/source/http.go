package source

import (
	"bytes"
	"compress/gzip"
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
	"breakglass/internal/scan"
)

// Defaults for the http source. Each has its one owner here; config refers
// to them.
const (
	// DefaultMaxBody bounds a body, compressed and, separately, after
	// decompression: a 1 MB gzip bomb must not unpack to 1 GiB in memory.
	DefaultMaxBody  = 10 << 20
	DefaultHTTPPath = "/ingest"
	// DefaultMaxConcurrent bounds the bodies read and decoded at once, so
	// that memory stays near DefaultMaxConcurrent × 2 × max_body however
	// many senders push at the same time.
	DefaultMaxConcurrent = 4
	// DefaultQueueWait is how long a request waits for a decoding slot
	// before it is answered 503 with Retry-After.
	DefaultQueueWait = 30 * time.Second
	// DefaultAliveInterval is how often a listening http source tells the
	// sink it is alive when nobody pushes: a quiet sender is not a dead
	// listener.
	DefaultAliveInterval = 15 * time.Second
)

// maxGzipLayers bounds gzip inside gzip; more is not a real export.
const maxGzipLayers = 3

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
	MaxBody int64  // largest body accepted, compressed and decompressed; default DefaultMaxBody
	Path    string // default DefaultHTTPPath
	Logger  *slog.Logger
	// MaxConcurrent bounds the bodies read and decoded at once; default
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// QueueWait is how long a request waits for one of those slots before
	// it gets 503; default DefaultQueueWait.
	QueueWait time.Duration
	// AliveInterval is how often Run reports the listener alive; default
	// DefaultAliveInterval.
	AliveInterval time.Duration
	// Listener, when set, gives Run its listener for Listen instead of
	// listening itself: the daemon keeps one socket open across config
	// reloads, so that pushes during a reload wait instead of failing.
	Listener func(ctx context.Context, addr string) (net.Listener, error)
}

// HTTP receives logs pushed to POST <Path>: any shape the scanner reads
// (JSON, NDJSON, Event Hubs and Graph envelopes, Log Analytics CSV and
// JSON), plain or gzip-compressed. A 202 answer means every alert in the
// body is stored; anything else asks the sender to fix the body (4xx) or
// to send it again (503).
type HTTP struct {
	o      HTTPOptions
	log    *slog.Logger
	rl     *rateLog          // per-request problems: a flood of requests must not flood the log
	digest [sha256.Size]byte // of the token: comparing digests hides its length

	slots   chan struct{} // one per body being read or decoded
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
	case o.MaxConcurrent < 0 || o.QueueWait < 0 || o.AliveInterval < 0:
		return nil, fmt.Errorf("http source %q: limits must not be negative", o.Name)
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
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.QueueWait == 0 {
		o.QueueWait = DefaultQueueWait
	}
	if o.AliveInterval == 0 {
		o.AliveInterval = DefaultAliveInterval
	}
	h := &HTTP{o: o, log: o.Logger, digest: sha256.Sum256([]byte(o.Token)), ready: make(chan struct{}),
		slots: make(chan struct{}, o.MaxConcurrent)}
	h.o.Token = "" // only the digest is kept, so printing h cannot reveal the token
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("source", o.Name)
	h.rl = newRateLog(h.log, nil)
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
	listen := h.o.Listener
	if listen == nil {
		listen = func(ctx context.Context, addr string) (net.Listener, error) {
			var lc net.ListenConfig
			return lc.Listen(ctx, "tcp", addr)
		}
	}
	ln, err := listen(ctx, h.o.Listen)
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
	alive := time.NewTicker(h.o.AliveInterval)
	defer alive.Stop()
	sink.Alive(ctx, h.o.Name)
wait:
	for {
		select {
		case err := <-served:
			err = fmt.Errorf("http source %q: %w", h.o.Name, err)
			sink.Failing(ctx, h.o.Name, "listen", err)
			return err
		case <-alive.C:
			// Serve has not returned, so the listener is accepting.
			sink.Alive(ctx, h.o.Name)
		case <-ctx.Done():
			break wait
		}
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
		h.rl.Log(slog.LevelWarn, "http source: request without a valid token", "remote", r.RemoteAddr)
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
		h.tooLarge(w, r, "body")
		return
	}
	// Bodies wait for a slot before they are read, so that a hundred
	// parallel pushes hold a few bodies in memory, not a hundred.
	wait := time.NewTimer(h.o.QueueWait)
	select {
	case h.slots <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		h.rl.Log(slog.LevelWarn, "http source: too many bodies at once; the sender is asked to retry", "remote", r.RemoteAddr, "max_concurrent", h.o.MaxConcurrent)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, reply{Error: "busy: too many bodies being decoded at once; send it again"})
		return
	case <-r.Context().Done():
		wait.Stop()
		return
	}
	defer func() { <-h.slots }()

	body, err := readLimited(http.MaxBytesReader(w, r.Body, h.o.MaxBody), r.ContentLength, h.o.MaxBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.tooLarge(w, r, "body")
			return
		}
		writeJSON(w, http.StatusBadRequest, reply{Error: "reading the body failed"})
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		writeJSON(w, http.StatusBadRequest, reply{Error: "empty body"})
		return
	}
	declared := ce == "gzip" || ce == "x-gzip"
	if declared && !isGzipBytes(body) {
		// A sender that labels a plain body gzip (a misconfigured Logic
		// App) must not lose its records to a 400 that it may drop:
		// gzip is recognised by its bytes anyway, so read it as it is.
		h.rl.Log(slog.LevelWarn, "http source: Content-Encoding says gzip but the body is not; read as it is", "remote", r.RemoteAddr)
	}
	// Decompress here rather than in the scanner, so that the limit
	// applies to what the body unpacks to.
	var unreadable error
	if isGzipBytes(body) {
		body, err = gunzip(body, h.o.MaxBody)
		switch {
		case errors.Is(err, errTooLarge):
			h.tooLarge(w, r, "decompressed body")
			return
		case errors.Is(err, errNested):
			writeJSON(w, http.StatusBadRequest, reply{Error: err.Error()})
			return
		case err != nil:
			// Scan what could be read (fail closed: a record before
			// the corruption still alerts), then say the rest was not.
			unreadable = err
		}
	}

	// A body is complete: a record cut off at its end that names an
	// account must alert (scan.WithFinal), not only be counted.
	st, err := sink.Ingest(scan.WithFinal(r.Context()), h.o.Name, "http:"+r.RemoteAddr, bytes.NewReader(body))
	records, skipped := st.TotalRecords(), st.Skipped
	if err != nil {
		if st.Skipped[logs.ReasonReadError] > 0 && r.Context().Err() == nil {
			// The body is in memory, so a read error is its content.
			// Sending it again would not help.
			sink.Alive(r.Context(), h.o.Name)
			h.rl.Log(slog.LevelWarn, "http source: unreadable body", "remote", r.RemoteAddr, "err", err)
			writeJSON(w, http.StatusBadRequest, reply{Error: "the body could not be read (corrupt gzip?)", Skipped: skipped})
			return
		}
		h.rl.Log(slog.LevelError, "http source: ingest failed; the sender is asked to retry", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, reply{Error: "the input could not be stored; send it again"})
		return
	}
	sink.Alive(r.Context(), h.o.Name)
	if unreadable != nil {
		h.rl.Log(slog.LevelWarn, "http source: unreadable gzip body; what could be read was scanned", "remote", r.RemoteAddr, "records", records, "err", unreadable)
		if skipped == nil {
			skipped = map[string]int64{}
		}
		skipped[logs.ReasonReadError]++
		writeJSON(w, http.StatusBadRequest, reply{
			Error:   fmt.Sprintf("the body could not be read past some point (corrupt gzip?); %d records before it were scanned", records),
			Skipped: skipped,
		})
		return
	}
	if records == 0 && st.TotalSkipped() > 0 {
		writeJSON(w, http.StatusBadRequest, reply{
			Error:   "no record could be decoded: " + strings.Join(slices.Sorted(maps.Keys(skipped)), ", "),
			Skipped: skipped,
		})
		return
	}
	writeJSON(w, http.StatusAccepted, accepted{Records: records, Alerts: st.Alerts, Skipped: nonNil(skipped)})
}

var (
	errTooLarge = errors.New("too large")
	errNested   = fmt.Errorf("gzip nested more than %d deep: not an export; unpack it first", maxGzipLayers)
)

// readLimited reads r, at most limit bytes (r enforces it), allocating once
// when the length is known.
func readLimited(r io.Reader, length, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if length > 0 && length <= limit {
		buf.Grow(int(length) + 1)
	}
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func isGzipBytes(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gunzip decompresses b (and gzip inside it, a few layers deep) to at
// most limit bytes: errTooLarge beyond. Any other error comes with what
// was decompressed before it.
func gunzip(b []byte, limit int64) ([]byte, error) {
	for layer := 0; isGzipBytes(b); layer++ {
		if layer == maxGzipLayers {
			return nil, errNested
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		var out bytes.Buffer
		out.Grow(int(min(limit, 4*int64(len(b))+512)))
		n, err := out.ReadFrom(io.LimitReader(zr, limit+1))
		if n > limit {
			return nil, errTooLarge
		}
		if err != nil {
			return out.Bytes(), fmt.Errorf("gzip: %w", err)
		}
		b = out.Bytes()
	}
	return b, nil
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

func (h *HTTP) tooLarge(w http.ResponseWriter, r *http.Request, what string) {
	h.rl.Log(slog.LevelWarn, "http source: "+what+" too large", "remote", r.RemoteAddr, "max_body", h.o.MaxBody)
	// The rest of the body is not read; closing tells the client not to
	// send another request on this connection.
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusRequestEntityTooLarge, reply{Error: fmt.Sprintf("%s larger than %d bytes (max_body): nothing of it was scanned; split it", what, h.o.MaxBody)})
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
