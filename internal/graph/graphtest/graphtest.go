// Package graphtest is a Microsoft Graph look-alike on loopback for tests:
// collections with real @odata.nextLink paging, objects, scripted failures
// with Graph's error body and Retry-After, and a record of every request so
// tests can assert exactly what a client sent. It answers only GET, like the
// read-only client it exists to test.
package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ErrorRequestID is the request id in every error body GraphError builds,
// so tests can check that it reaches the caller.
const ErrorRequestID = "6b1f0a57-0000-4000-8000-00000000beef"

// Request is one request as the server saw it.
type Request struct {
	Method   string
	Path     string // decoded, e.g. /v1.0/users/a#EXT#@x
	RawPath  string // as sent, e.g. /v1.0/users/a%23EXT%23@x
	RawQuery string // as sent, not re-encoded
	Query    url.Values
	Header   http.Header
}

// Server is a Graph-shaped HTTP server. Routes are matched on the request
// path (case-insensitively, as Graph does) and, when a route was
// registered with a query string, also on those query parameters; a
// route with a query beats one without, and a later registration beats an
// earlier one. $skiptoken never takes part in matching.
type Server struct {
	URL string

	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	routes   []*route
	fallback http.HandlerFunc
	fails    []*failure
	reqs     []Request
}

type matcher struct {
	path  string
	query url.Values
}

type route struct {
	matcher
	h http.HandlerFunc
}

type failure struct {
	matcher
	remaining  int
	status     int
	retryAfter string
	body       any
}

// New starts a server on loopback, closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Server) parse(pattern string) matcher {
	s.t.Helper()
	p, raw, _ := strings.Cut(pattern, "?")
	m := matcher{path: p}
	if raw != "" {
		q, err := url.ParseQuery(raw)
		if err != nil {
			s.t.Fatalf("graphtest: pattern %q: %v", pattern, err)
		}
		m.query = q
	}
	return m
}

// score is how specifically m matches r: -1 for no match.
func (m matcher) score(r *http.Request) int {
	if !strings.EqualFold(strings.TrimRight(r.URL.Path, "/"), strings.TrimRight(m.path, "/")) {
		return -1
	}
	got := r.URL.Query()
	for k, want := range m.query {
		if k == "$skiptoken" {
			continue
		}
		if strings.Join(got[k], "\x00") != strings.Join(want, "\x00") {
			return -1
		}
	}
	return 1 + len(m.query)
}

// Handle serves GET pattern with h. pattern is a path such as
// /v1.0/users/{id spelled out}, optionally with a query to match.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	s.t.Helper()
	m := s.parse(pattern)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = append(s.routes, &route{matcher: m, h: h})
}

// Fallback serves every GET that no route matches (instead of Graph's
// 404), for a test server that computes its answers, such as one serving
// a whole tenant. Scripted failures still come first.
func (s *Server) Fallback(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = h
}

// Object serves obj as JSON.
func (s *Server) Object(pattern string, obj any) {
	s.t.Helper()
	body, err := json.Marshal(obj)
	if err != nil {
		s.t.Fatalf("graphtest: Object(%q): %v", pattern, err)
	}
	s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}

// Collection serves items in pages of pageSize (all in one page if
// pageSize <= 0). Each page but the last has an absolute @odata.nextLink
// that repeats the request's query and adds $skiptoken, as Graph's do.
func (s *Server) Collection(pattern string, items []any, pageSize int) {
	s.t.Helper()
	raw := make([]json.RawMessage, len(items))
	for i, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			s.t.Fatalf("graphtest: Collection(%q) item %d: %v", pattern, i, err)
		}
		raw[i] = b
	}
	s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := 0
		if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n > len(raw) {
				writeJSON(w, http.StatusBadRequest, GraphError("Request_BadRequest", "Invalid $skiptoken."))
				return
			}
			start = n
		}
		end := len(raw)
		if pageSize > 0 {
			end = min(start+pageSize, len(raw))
		}
		page := map[string]any{
			"@odata.context": s.URL + contextPath(r.URL.Path),
			"value":          raw[start:end],
		}
		if end < len(raw) {
			var keep []string
			for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
				if part != "" && !strings.HasPrefix(part, "$skiptoken=") {
					keep = append(keep, part)
				}
			}
			keep = append(keep, "$skiptoken="+strconv.Itoa(end))
			page["@odata.nextLink"] = s.URL + r.URL.EscapedPath() + "?" + strings.Join(keep, "&")
		}
		writeJSON(w, http.StatusOK, page)
	})
}

// contextPath is a plausible @odata.context for a collection path.
func contextPath(p string) string {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 2)
	if len(parts) < 2 {
		return "/$metadata"
	}
	return "/" + parts[0] + "/$metadata#" + parts[1]
}

// Fail makes the next `times` requests matching pattern answer status with
// body (GraphError for the status if nil) and, unless empty, Retry-After.
// Calls queue: Fail(p, 503, 1, ...) then Fail(p, 429, 2, ...) answers
// 503, 429, 429, then whatever else serves p.
func (s *Server) Fail(pattern string, status, times int, retryAfter string, body any) {
	s.t.Helper()
	m := s.parse(pattern)
	if body == nil {
		body = GraphError(codeFor(status), http.StatusText(status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, &failure{matcher: m, remaining: times, status: status, retryAfter: retryAfter, body: body})
}

func codeFor(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusForbidden:
		return "Authorization_RequestDenied"
	case http.StatusNotFound:
		return "Request_ResourceNotFound"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "ServiceNotAvailable"
	case http.StatusGatewayTimeout:
		return "GatewayTimeout"
	}
	return "UnknownError"
}

// GraphError is Graph's error body.
func GraphError(code, message string) any {
	return map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]any{
			"date":              "2024-05-01T12:00:00",
			"request-id":        ErrorRequestID,
			"client-request-id": ErrorRequestID,
		},
	}}
}

// Requests returns every request so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	copy(out, s.reqs)
	return out
}

// Count returns how many requests had path (case-insensitive, any query).
func (s *Server) Count(path string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.EqualFold(r.Path, path) {
			n++
		}
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawPath:  r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Query:    r.URL.Query(),
		Header:   r.Header.Clone(),
	})
	w.Header().Set("request-id", fmt.Sprintf("graphtest-%d", len(s.reqs)))
	if r.Method != http.MethodGet {
		s.mu.Unlock()
		writeJSON(w, http.StatusMethodNotAllowed, GraphError("Request_BadRequest", "graphtest serves GET only"))
		return
	}
	for _, f := range s.fails {
		if f.remaining > 0 && f.score(r) >= 0 {
			f.remaining--
			s.mu.Unlock()
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			writeJSON(w, f.status, f.body)
			return
		}
	}
	var best *route
	bestScore := -1
	for _, rt := range s.routes {
		if sc := rt.score(r); sc >= 0 && sc >= bestScore { // later registrations win ties
			best, bestScore = rt, sc
		}
	}
	fallback := s.fallback
	s.mu.Unlock()
	if best == nil && fallback != nil {
		fallback(w, r)
		return
	}
	if best == nil {
		writeJSON(w, http.StatusNotFound, GraphError("Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", r.URL.Path)))
		return
	}
	best.h(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
