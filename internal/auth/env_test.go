package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/ack"
	"breakglass/internal/alert"
	"breakglass/internal/auth"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// cheap are argon2id parameters for test users: the tests are about who
// gets in, not about the cost (TestPasswordHashRoundTrip checks that).
var cheap = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// env is a daemon's web endpoint as the daemon mounts it, over a real
// SQLite store, on a loopback server.
type env struct {
	t     testing.TB
	st    *sqlite.Store
	path  string
	clock *clock
	logs  *lockedBuf
	srv   *httptest.Server
	svc   *auth.Service
}

func newEnv(t testing.TB, tlsOn bool) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bg.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, path: path, clock: &clock{t: time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)}, logs: &lockedBuf{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc, err = auth.New(auth.Options{Store: st, Logger: log, Now: e.clock.Now, TLS: tlsOn})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.svc.Register(mux)
	a := ack.New(ack.Options{Store: st, Logger: log, Now: e.clock.Now})
	mux.Handle("POST "+ack.PathAPIAck, e.svc.Require(auth.RoleResponder, a.APIAck(e.svc)))
	// What an identity provider's callback does (package oidc's SignIn).
	mux.HandleFunc("GET /test/provider-signin", func(w http.ResponseWriter, r *http.Request) {
		role, _ := auth.ParseRole(r.URL.Query().Get("role"))
		var tenants []string // tenants=a,b limits the session; tenants= is an empty list
		if q := r.URL.Query(); q.Has("tenants") {
			tenants = []string{}
			if v := q.Get("tenants"); v != "" {
				tenants = strings.Split(v, ",")
			}
		}
		if err := e.svc.StartSession(w, r, r.URL.Query().Get("name"), role, "oidc", tenants...); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(w, r, auth.PathAccount, http.StatusSeeOther)
	})
	mux.Handle("GET /test/guarded", e.svc.Guard("responder", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, role, csrf := auth.PrincipalOf(r)
		io.WriteString(w, who+" "+role+" "+auth.Who(r)+" "+csrf)
	})))
	mux.Handle("GET /test/tenants", e.svc.Guard("viewer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts := auth.TenantsOf(r)
		fmt.Fprintf(w, "%s nil=%v %s", auth.Who(r), ts == nil, strings.Join(ts, ","))
	})))
	mux.Handle("GET /test/typo", e.svc.Guard("responer", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "open") })))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		auth.WriteError(w, r, http.StatusNotFound, "not_found", "no such route")
	})
	if tlsOn {
		e.srv = httptest.NewTLSServer(e.svc.Middleware(mux))
	} else {
		e.srv = httptest.NewServer(e.svc.Middleware(mux))
	}
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) addUser(name, role, pw string) {
	e.t.Helper()
	h, err := auth.HashPasswordParams(pw, cheap)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.AddUser(context.Background(), store.User{Name: name, Role: role, PasswordHash: h}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) addToken(name, role string, ttl time.Duration) string {
	e.t.Helper()
	tok, hash, err := auth.NewToken()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.AddToken(context.Background(), store.Token{Name: name, Role: role, Hash: hash, Created: e.clock.Now(), Expires: e.clock.Now().Add(ttl)}); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) addAlert(id string) {
	e.t.Helper()
	a := alert.Alert{ID: id, Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass sign-in", AccountID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70",
		EventID: "ev-" + id, EventTime: e.clock.Now().Add(-time.Minute), Detected: e.clock.Now()}
	if _, err := e.st.AddAlert(context.Background(), a, store.Evidence{EventID: a.EventID, Category: "SignInLogs", Source: "test", Raw: []byte(`{}`)}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) alertState(id string) string {
	e.t.Helper()
	a, err := e.st.Alert(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	if a.State == "" {
		return alert.StateFiring
	}
	return a.State
}

// browser is a client with a cookie jar that does not follow redirects.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client() // a copy: Client returns one shared client
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

type resp struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, c *http.Client, req *http.Request) resp {
	t.Helper()
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, string(b)}
}

func (e *env) get(c *http.Client, path string) resp {
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	return do(e.t, c, req)
}

func (e *env) postForm(c *http.Client, path string, form url.Values) resp {
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(e.t, c, req)
}

// loginForm opens the sign-in page and returns its CSRF value.
func (e *env) loginForm(c *http.Client) string {
	e.t.Helper()
	r := e.get(c, auth.PathLogin)
	m := csrfRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		e.t.Fatalf("GET /login = %d without a csrf_token field:\n%s", r.status, r.body)
	}
	return m[1]
}

// login signs c in and returns the account page's CSRF token.
func (e *env) login(c *http.Client, name, pw string) string {
	e.t.Helper()
	csrf := e.loginForm(c)
	r := e.postForm(c, auth.PathLogin, url.Values{"name": {name}, "password": {pw}, "csrf_token": {csrf}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != auth.PathAccount {
		e.t.Fatalf("login %s = %d (Location %q), want 303 to %s:\n%s", name, r.status, r.header.Get("Location"), auth.PathAccount, r.body)
	}
	a := e.get(c, auth.PathAccount)
	m := csrfRE.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || m == nil {
		e.t.Fatalf("GET /account after login = %d:\n%s", a.status, a.body)
	}
	return m[1]
}

// apiAck posts an acknowledgement with optional bearer token and CSRF
// header.
func (e *env) apiAck(c *http.Client, id, bearer, csrf, body string) resp {
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/alerts/"+id+"/ack", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if csrf != "" {
		req.Header.Set(auth.CSRFHeader, csrf)
	}
	return do(e.t, c, req)
}

// apiError decodes the documented error shape, failing the test if the
// body has another.
func apiError(t testing.TB, r resp) auth.ErrorDetail {
	t.Helper()
	var b auth.ErrorBody
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("status %d body %q is not {\"error\":{\"code\",\"message\"}}: %v", r.status, r.body, err)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	return b.Error
}

func (e *env) audit(action string) []store.AuditEntry {
	e.t.Helper()
	es, err := e.st.AuditLog(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}
