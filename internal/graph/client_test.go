package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/graph/graphtest"
)

func items(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"id": fmt.Sprintf("id-%02d", i)}
	}
	return out
}

func ids(t *testing.T, raw []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, r := range raw {
		var v struct{ ID string }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatalf("item %s: %v", r, err)
		}
		out = append(out, v.ID)
	}
	return out
}

func TestListPaging(t *testing.T) {
	tests := []struct {
		name      string
		n, size   int
		wantPages int // fn calls
		wantReqs  int
	}{
		{"five pages of three", 15, 3, 5, 5},
		{"last page short", 7, 3, 3, 3},
		{"one page", 5, 0, 1, 1},
		{"empty collection", 0, 3, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(t)
			srv.Collection("/v1.0/users", items(tt.n), tt.size)
			c, _ := newTestClient(t, srv, nil)
			var got []json.RawMessage
			pages := 0
			err := c.List(t.Context(), V1, "/users", Query{Filter: "accountEnabled eq true", Top: tt.size}, func(it []json.RawMessage) error {
				pages++
				got = append(got, it...)
				return nil
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if pages != tt.wantPages {
				t.Errorf("pages = %d, want %d", pages, tt.wantPages)
			}
			want := ids(t, nil)
			for i := range tt.n {
				want = append(want, fmt.Sprintf("id-%02d", i))
			}
			if g := ids(t, got); !slices.Equal(g, want) {
				t.Errorf("items = %v, want %v", g, want)
			}
			reqs := srv.Requests()
			if len(reqs) != tt.wantReqs {
				t.Fatalf("requests = %d, want %d", len(reqs), tt.wantReqs)
			}
			for i, r := range reqs {
				if got := r.Header.Get("Authorization"); got != "Bearer test-token" {
					t.Errorf("request %d Authorization = %q", i, got)
				}
				if r.Query.Get("$filter") != "accountEnabled eq true" {
					t.Errorf("request %d lost $filter: %s", i, r.RawQuery)
				}
				if r.Header.Get("client-request-id") == "" || !strings.HasPrefix(r.Header.Get("User-Agent"), "breakglass/") {
					t.Errorf("request %d headers = %v", i, r.Header)
				}
				wantTok := ""
				if i > 0 {
					wantTok = fmt.Sprint(i * tt.size)
				}
				if got := r.Query.Get("$skiptoken"); got != wantTok {
					t.Errorf("request %d $skiptoken = %q, want %q", i, got, wantTok)
				}
			}
		})
	}
}

func TestListAllAndCallbackError(t *testing.T) {
	srv := graphtest.New(t)
	srv.Collection("/v1.0/groups", items(10), 4)
	c, _ := newTestClient(t, srv, nil)
	all, err := c.ListAll(t.Context(), V1, "/groups", Query{})
	if err != nil || len(all) != 10 {
		t.Fatalf("ListAll = %d items, %v", len(all), err)
	}
	stop := errors.New("stop")
	err = c.List(t.Context(), V1, "/groups", Query{}, func([]json.RawMessage) error { return stop })
	if err != stop {
		t.Fatalf("List error = %v, want fn's error unchanged", err)
	}
	if n := srv.Count("/v1.0/groups"); n != 3+1 {
		t.Errorf("requests = %d, want 4 (3 pages, then 1 stopped)", n)
	}
}

func TestListNotACollection(t *testing.T) {
	srv := graphtest.New(t)
	srv.Object("/v1.0/users/u1", map[string]any{"id": "u1"})
	c, _ := newTestClient(t, srv, nil)
	err := c.List(t.Context(), V1, "/users/u1", Query{}, func([]json.RawMessage) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "not a collection") {
		t.Fatalf("err = %v", err)
	}
}

func TestRetries(t *testing.T) {
	const p = "/v1.0/users/u1"
	type setup func(s *graphtest.Server)
	fail := func(status, times int, retryAfter string) setup {
		return func(s *graphtest.Server) { s.Fail(p, status, times, retryAfter, nil) }
	}
	seq := func(ss ...setup) setup {
		return func(s *graphtest.Server) {
			for _, f := range ss {
				f(s)
			}
		}
	}
	ms := time.Millisecond
	tests := []struct {
		name       string
		setup      setup
		opts       func(*Options)
		wantStatus int // 0: success
		wantSleeps []time.Duration
		wantReqs   int
	}{
		{"429 Retry-After seconds", fail(429, 2, "7"), nil, 0, []time.Duration{7 * time.Second, 7 * time.Second}, 3},
		{"429 Retry-After HTTP date", fail(429, 1, t0.Add(20*time.Second).Format(http.TimeFormat)), nil, 0, []time.Duration{20 * time.Second}, 2},
		{"429 Retry-After in the past", fail(429, 1, t0.Add(-time.Hour).Format(http.TimeFormat)), nil, 0, []time.Duration{0}, 2},
		{"429 huge Retry-After capped", fail(429, 1, "86400"), nil, 0, []time.Duration{maxWait}, 2},
		{"429 without Retry-After backs off", fail(429, 2, ""), nil, 0, []time.Duration{250 * ms, 500 * ms}, 3},
		{"503 Retry-After", fail(503, 1, "3"), nil, 0, []time.Duration{3 * time.Second}, 2},
		{"504 without Retry-After", fail(504, 1, ""), nil, 0, []time.Duration{250 * ms}, 2},
		{"500 then 502 then success", seq(fail(500, 1, ""), fail(502, 1, "")), nil, 0, []time.Duration{250 * ms, 500 * ms}, 3},
		{"500 exhausted", fail(500, 10, ""), nil, 500, []time.Duration{250 * ms, 500 * ms, time.Second, 2 * time.Second}, 5},
		{"503 exhausted with MaxRetries 1", fail(503, 10, "1"), func(o *Options) { o.MaxRetries = 1 }, 503, []time.Duration{time.Second}, 2},
		{"no retries when MaxRetries negative", fail(500, 1, ""), func(o *Options) { o.MaxRetries = -1 }, 500, nil, 1},
		{"429 exhausted after 8 retries", fail(429, 20, "1"), nil, 429, slices.Repeat([]time.Duration{time.Second}, 8), 9},
		{"429 and 5xx counted separately", seq(fail(429, 3, "1"), fail(500, 3, "")), nil, 0,
			[]time.Duration{time.Second, time.Second, time.Second, 250 * ms, 500 * ms, time.Second}, 7},
		{"400 not retried", fail(400, 1, ""), nil, 400, nil, 1},
		{"403 not retried", fail(403, 1, ""), nil, 403, nil, 1},
		{"404 not retried", fail(404, 1, ""), nil, 404, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(t)
			srv.Object(p, map[string]any{"id": "u1"})
			tt.setup(srv)
			c, clk := newTestClient(t, srv, tt.opts)
			var out struct{ ID string }
			err := c.Get(t.Context(), V1, "/users/u1", Query{}, &out)
			if tt.wantStatus == 0 {
				if err != nil || out.ID != "u1" {
					t.Fatalf("Get = %+v, %v", out, err)
				}
			} else {
				var ge *Error
				if !errors.As(err, &ge) || ge.Status != tt.wantStatus {
					t.Fatalf("err = %v, want *Error %d", err, tt.wantStatus)
				}
				if ge.Attempts != tt.wantReqs {
					t.Errorf("Attempts = %d, want %d", ge.Attempts, tt.wantReqs)
				}
			}
			if got := clk.Sleeps(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", got, tt.wantSleeps)
			}
			if n := srv.Count(p); n != tt.wantReqs {
				t.Errorf("requests = %d, want %d", n, tt.wantReqs)
			}
		})
	}
}

func TestRetryDroppedConnection(t *testing.T) {
	srv := graphtest.New(t)
	var n atomic.Int32
	srv.Handle("/v1.0/users/u1", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the client sees the connection reset/EOF
			}
			return
		}
		io.WriteString(w, `{"id":"u1"}`)
	})
	c, _ := newTestClient(t, srv, nil)
	var out struct{ ID string }
	if err := c.Get(t.Context(), V1, "/users/u1", Query{}, &out); err != nil || out.ID != "u1" {
		t.Fatalf("Get = %+v, %v", out, err)
	}
	if n.Load() < 2 {
		t.Errorf("handler calls = %d, want a retry", n.Load())
	}
}

func TestTokenErrorNotRetried(t *testing.T) {
	srv := graphtest.New(t)
	srv.Object("/v1.0/users/u1", map[string]any{"id": "u1"})
	boom := errors.New("AADSTS7000215: invalid client secret")
	c, clk := newTestClient(t, srv, func(o *Options) { o.Tokens = tokenFunc(func() (string, error) { return "", boom }) })
	err := c.Get(t.Context(), V1, "/users/u1", Query{}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the token error wrapped", err)
	}
	if len(srv.Requests()) != 0 || len(clk.Sleeps()) != 0 {
		t.Errorf("requests %d, sleeps %v: token errors must not be retried", len(srv.Requests()), clk.Sleeps())
	}
}

type tokenFunc func() (string, error)

func (f tokenFunc) Token(context.Context) (string, error) { return f() }

// A Retry-After longer than the caller's deadline is reported at once
// instead of being slept through.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	srv := graphtest.New(t)
	srv.Fail("/v1.0/auditLogs/signIns", 429, 1, "60", nil)
	c, clk := newTestClient(t, srv, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := c.ListAll(ctx, V1, "/auditLogs/signIns", Query{})
	if !IsThrottled(err) {
		t.Fatalf("err = %v, want throttled", err)
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("slept %v", clk.Sleeps())
	}
}

// With the real sleeper, cancelling the context ends a long wait at once.
func TestCancelStopsWait(t *testing.T) {
	srv := graphtest.New(t)
	srv.Fail("/v1.0/users", 429, 1, "120", nil)
	c, err := New(Options{BaseURL: srv.URL, Tokens: StaticToken("x")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.ListAll(ctx, V1, "/users", Query{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to notice cancellation", d)
	}
}

func TestErrors(t *testing.T) {
	forbidden := graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	tests := []struct {
		name     string
		path     string // below the version
		q        Query
		status   int
		body     any
		wantHint string
		wantErr  string // exact Error(), if set
		is       func(error) bool
	}{
		{
			name: "sign-ins 403", path: "/auditLogs/signIns", q: Query{Filter: "userId eq 'secret-ish'"}, status: 403, body: forbidden,
			wantHint: "grant the application permission AuditLog.Read.All and Directory.Read.All, and admin-consent it",
			wantErr: "graph: GET /v1.0/auditLogs/signIns: 403 Authorization_RequestDenied: Insufficient privileges to complete the operation. " +
				"(hint: grant the application permission AuditLog.Read.All and Directory.Read.All, and admin-consent it)",
			is: IsForbidden,
		},
		{
			name: "sign-ins without premium licence", path: "/auditLogs/signIns", status: 403,
			body:     graphtest.GraphError("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license"),
			wantHint: "grant the application permission AuditLog.Read.All and Directory.Read.All, and admin-consent it; the tenant also needs a Microsoft Entra ID P1 or P2 licence",
			is:       IsForbidden,
		},
		{name: "directory audits", path: "/auditLogs/directoryAudits", status: 403, body: forbidden,
			wantHint: "grant the application permission AuditLog.Read.All and Directory.Read.All, and admin-consent it"},
		{name: "401", path: "/users/u1", status: 401, body: graphtest.GraphError("InvalidAuthenticationToken", "Access token validation failure. Invalid audience."),
			wantHint: "token rejected: check tenant_id, client_id and the credential",
			wantErr: "graph: GET /v1.0/users/u1: 401 InvalidAuthenticationToken: Access token validation failure. Invalid audience. " +
				"(hint: token rejected: check tenant_id, client_id and the credential)"},
		{name: "role management", path: "/roleManagement/directory/roleAssignmentSchedules", status: 403, body: forbidden,
			wantHint: "grant the application permission RoleManagement.Read.Directory, and admin-consent it"},
		{name: "authentication methods", path: "/users/u1/authentication/methods", status: 403, body: forbidden,
			wantHint: "grant the application permission UserAuthenticationMethod.Read.All, and admin-consent it"},
		{name: "registration report", path: "/reports/authenticationMethods/userRegistrationDetails", status: 403, body: forbidden,
			wantHint: "grant the application permission AuditLog.Read.All and UserAuthenticationMethod.Read.All, and admin-consent it"},
		{name: "conditional access", path: "/identity/conditionalAccess/policies", status: 403, body: forbidden,
			wantHint: "grant the application permission Policy.Read.All, and admin-consent it"},
		{name: "policies", path: "/policies/authenticationMethodsPolicy", status: 403, body: forbidden,
			wantHint: "grant the application permission Policy.Read.All, and admin-consent it"},
		{name: "lifecycle workflows", path: "/identityGovernance/lifecycleWorkflows/workflows", status: 403, body: forbidden,
			wantHint: "grant the application permission LifecycleWorkflows.Read.All, and admin-consent it"},
		{name: "access reviews", path: "/identityGovernance/accessReviews/definitions", status: 403, body: forbidden,
			wantHint: "grant the application permission AccessReview.Read.All, and admin-consent it"},
		{name: "users", path: "/users", status: 403, body: forbidden,
			wantHint: "grant the application permission User.Read.All, and admin-consent it"},
		{name: "users with signInActivity", path: "/users/u1", q: Query{Select: []string{"id", "signInActivity"}}, status: 403, body: forbidden,
			wantHint: "grant the application permission User.Read.All and AuditLog.Read.All, and admin-consent it"},
		{name: "user groups", path: "/users/u1/transitiveMemberOf/microsoft.graph.group", status: 403, body: forbidden,
			wantHint: "grant the application permission GroupMember.Read.All (or Directory.Read.All), and admin-consent it"},
		{name: "groups", path: "/groups/g1/members", status: 403, body: forbidden,
			wantHint: "grant the application permission GroupMember.Read.All (or Directory.Read.All), and admin-consent it"},
		{name: "directory roles", path: "/directoryRoles", status: 403, body: forbidden,
			wantHint: "grant the application permission RoleManagement.Read.Directory (or Directory.Read.All), and admin-consent it"},
		{name: "domains", path: "/domains", status: 403, body: forbidden,
			wantHint: "grant the application permission Domain.Read.All (or Directory.Read.All), and admin-consent it"},
		{name: "organization", path: "/organization", status: 403, body: forbidden,
			wantHint: "grant the application permission Directory.Read.All, and admin-consent it"},
		{name: "unknown endpoint", path: "/applications", status: 403, body: forbidden,
			wantHint: "grant the application the read permission this endpoint needs, and admin-consent it"},
		{name: "licence error with another status", path: "/auditLogs/signIns", status: 400,
			body:     graphtest.GraphError("BadRequest", "Tenant does not have a SKU required for this premium feature"),
			wantHint: "the tenant needs a Microsoft Entra ID P1 or P2 licence for this data"},
		{name: "404", path: "/users/gone", status: 404, body: graphtest.GraphError("Request_ResourceNotFound", "Resource 'gone' does not exist."),
			wantErr: "graph: GET /v1.0/users/gone: 404 Request_ResourceNotFound: Resource 'gone' does not exist.", is: IsNotFound},
		{name: "not a Graph body", path: "/users", status: 418, body: "<html>teapot</html>",
			wantErr: "graph: GET /v1.0/users: 418 I'm a teapot"},
		{name: "code only", path: "/users", status: 409, body: map[string]any{"error": map[string]any{"code": "Conflict"}},
			wantErr: "graph: GET /v1.0/users: 409 Conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(t)
			full := "/v1.0" + tt.path
			srv.Fail(full, tt.status, 1, "", tt.body)
			c, _ := newTestClient(t, srv, nil)
			_, err := c.ListAll(t.Context(), V1, tt.path, tt.q)
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %T %v, want *Error", err, err)
			}
			if ge.Status != tt.status || ge.Method != "GET" || ge.Hint != tt.wantHint {
				t.Errorf("Error = %+v\nwant status %d hint %q", ge, tt.status, tt.wantHint)
			}
			if ge.URL != srv.URL+full {
				t.Errorf("URL = %q, want %q (no query)", ge.URL, srv.URL+full)
			}
			if strings.Contains(err.Error(), "?") || strings.Contains(err.Error(), "secret-ish") {
				t.Errorf("error leaks the query: %v", err)
			}
			if _, isGraph := tt.body.(map[string]any); isGraph && tt.body != nil {
				if m := tt.body.(map[string]any)["error"].(map[string]any); m["innerError"] != nil && ge.RequestID != graphtest.ErrorRequestID {
					t.Errorf("RequestID = %q, want %q", ge.RequestID, graphtest.ErrorRequestID)
				}
			}
			if ge.RequestID == "" {
				t.Errorf("RequestID empty; want the body's or the request-id header")
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("Error() =\n%s\nwant\n%s", err, tt.wantErr)
			}
			if tt.is != nil && !tt.is(fmt.Errorf("wrapped: %w", err)) {
				t.Errorf("predicate false for %v", err)
			}
		})
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	srv := graphtest.New(t)
	srv.Fail("/v1.0/auditLogs/signIns", 403, 1, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	c, _ := newTestClient(t, srv, nil)
	_, err := c.ListAll(t.Context(), V1, "/auditLogs/signIns", Query{})
	var ge *Error
	if !errors.As(err, &ge) {
		t.Fatal(err)
	}
	want := Error{Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation.",
		RequestID: graphtest.ErrorRequestID, Method: "GET", URL: srv.URL + "/v1.0/auditLogs/signIns",
		Hint: "grant the application permission AuditLog.Read.All and Directory.Read.All, and admin-consent it", Attempts: 1}
	if *ge != want {
		t.Errorf("got  %+v\nwant %+v", *ge, want)
	}
	if IsNotFound(err) || !IsForbidden(err) || IsThrottled(err) || IsForbidden(errors.New("x")) {
		t.Error("predicates wrong")
	}
}

func TestNextLinkOrigin(t *testing.T) {
	other := graphtest.New(t)
	other.Collection("/v1.0/users", items(3), 0)
	tests := []struct {
		name string
		next func(srv *graphtest.Server) string
	}{
		{"foreign host", func(*graphtest.Server) string { return "https://evil.example.com/v1.0/users?$skiptoken=1" }},
		{"same host other port", func(*graphtest.Server) string { return other.URL + "/v1.0/users?$skiptoken=1" }},
		{"other scheme", func(s *graphtest.Server) string {
			return strings.Replace(s.URL, "http://", "https://", 1) + "/v1.0/users?$skiptoken=1"
		}},
		{"relative", func(*graphtest.Server) string { return "/v1.0/users?$skiptoken=1" }},
		{"userinfo", func(s *graphtest.Server) string {
			return strings.Replace(s.URL, "http://", "http://user@", 1) + "/v1.0/users?$skiptoken=1"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(t)
			srv.Handle("/v1.0/users", func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{"value": []any{map[string]string{"id": "a"}}, "@odata.nextLink": tt.next(srv)})
			})
			c, _ := newTestClient(t, srv, nil)
			pages := 0
			err := c.List(t.Context(), V1, "/users", Query{}, func([]json.RawMessage) error { pages++; return nil })
			if !errors.Is(err, errOrigin) {
				t.Fatalf("err = %v, want origin refusal", err)
			}
			if pages != 1 || len(srv.Requests()) != 1 || len(other.Requests()) != 0 {
				t.Errorf("pages %d, requests here %d, elsewhere %d", pages, len(srv.Requests()), len(other.Requests()))
			}
		})
	}
}

func TestRedirectElsewhereRefused(t *testing.T) {
	other := graphtest.New(t)
	other.Object("/v1.0/users/u1", map[string]any{"id": "u1"})
	srv := graphtest.New(t)
	srv.Handle("/v1.0/users/u1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v1.0/users/u1", http.StatusFound)
	})
	c, clk := newTestClient(t, srv, nil)
	err := c.Get(t.Context(), V1, "/users/u1", Query{}, nil)
	if !errors.Is(err, errOrigin) {
		t.Fatalf("err = %v", err)
	}
	if len(other.Requests()) != 0 || len(clk.Sleeps()) != 0 {
		t.Errorf("token sent elsewhere (%d) or retried (%v)", len(other.Requests()), clk.Sleeps())
	}
}

func TestNextLinkLoop(t *testing.T) {
	srv := graphtest.New(t)
	srv.Handle("/v1.0/users", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"value": []any{}, "@odata.nextLink": srv.URL + "/v1.0/users"})
	})
	c, _ := newTestClient(t, srv, nil)
	if _, err := c.ListAll(t.Context(), V1, "/users", Query{}); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("err = %v", err)
	}
}

func TestSignInBudget(t *testing.T) {
	get := func(v Version, path string) func(*Client) error {
		return func(c *Client) error { return c.Get(context.Background(), v, path, Query{}, nil) }
	}
	list := func(path string) func(*Client) error { // 3 pages
		return func(c *Client) error { _, err := c.ListAll(context.Background(), V1, path, Query{}); return err }
	}
	signIn := get(V1, "/auditLogs/signIns/s1")
	tests := []struct {
		name       string
		budget     int
		window     time.Duration
		calls      []func(*Client) error
		wantSleeps []time.Duration
	}{
		{"7 sign-in calls, 5 per 10s: the 6th waits", 0, 0, slices.Repeat([]func(*Client) error{signIn}, 7), []time.Duration{10 * time.Second}},
		{"nextLink pages count", 5, 10 * time.Second,
			[]func(*Client) error{signIn, signIn, get(Beta, "/auditLogs/signIns/s1"), signIn, list("/auditLogs/signIns")},
			[]time.Duration{10 * time.Second}},
		{"2 per second", 2, time.Second, slices.Repeat([]func(*Client) error{signIn}, 5), []time.Duration{time.Second, time.Second}},
		{"other endpoints not budgeted", 0, 0,
			append(slices.Repeat([]func(*Client) error{get(V1, "/users/u1"), get(V1, "/auditLogs/directoryAudits/d1")}, 10), list("/users")), nil},
		{"negative budget disables", -1, 0, slices.Repeat([]func(*Client) error{signIn}, 20), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(t)
			srv.Object("/v1.0/auditLogs/signIns/s1", map[string]any{"id": "s1"})
			srv.Object("/beta/auditLogs/signIns/s1", map[string]any{"id": "s1"})
			srv.Object("/v1.0/auditLogs/directoryAudits/d1", map[string]any{"id": "d1"})
			srv.Object("/v1.0/users/u1", map[string]any{"id": "u1"})
			srv.Collection("/v1.0/auditLogs/signIns", items(9), 3)
			srv.Collection("/v1.0/users", items(9), 3)
			c, clk := newTestClient(t, srv, func(o *Options) { o.SignInBudget, o.SignInWindow = tt.budget, tt.window })
			for i, call := range tt.calls {
				if err := call(c); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if got := clk.Sleeps(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", got, tt.wantSleeps)
			}
		})
	}
}

func TestWindowNeverExceedsBudget(t *testing.T) {
	w := newWindow(5, 10*time.Second)
	now := t0
	var sent []time.Time
	for i := range 40 {
		now = now.Add(time.Duration(i%3) * 700 * time.Millisecond)
		at := now.Add(w.reserve(now))
		sent = append(sent, at)
	}
	for i := range sent {
		n := 0
		for _, s := range sent {
			if !s.Before(sent[i]) && s.Before(sent[i].Add(10*time.Second)) {
				n++
			}
		}
		if n > 5 {
			t.Fatalf("%d requests in the 10s from %v", n, sent[i])
		}
	}
}

func TestQueryEncoding(t *testing.T) {
	tests := []struct {
		name         string
		v            Version
		path         string
		q            Query
		servePath    string // decoded path the server sees
		wantRawPath  string
		wantRawQuery string
		wantEventual bool
	}{
		{
			name: "filter select top", v: V1, path: "/auditLogs/signIns",
			q:            Query{Filter: "userId eq 'c0ffee' and createdDateTime ge 2024-01-01T00:00:00Z", Select: []string{"id", "createdDateTime", "status"}, Top: 50},
			servePath:    "/v1.0/auditLogs/signIns",
			wantRawQuery: "$select=id,createdDateTime,status&$filter=userId%20eq%20'c0ffee'%20and%20createdDateTime%20ge%202024-01-01T00:00:00Z&$top=50",
		},
		{
			name: "lambda filter on beta", v: Beta, path: "/auditLogs/signIns",
			q:            Query{Filter: "signInEventTypes/any(t: t eq 'nonInteractiveUser')"},
			servePath:    "/beta/auditLogs/signIns",
			wantRawQuery: "$filter=signInEventTypes/any(t:%20t%20eq%20'nonInteractiveUser')",
		},
		{
			name: "query in path kept first", v: V1, path: "/users/u1?$select=id,displayName",
			q:            Query{Expand: "manager($select=id)"},
			servePath:    "/v1.0/users/u1",
			wantRawQuery: "$select=id,displayName&$expand=manager($select=id)",
		},
		{
			name: "encoded query in path re-encoded", v: V1, path: "auditLogs/signIns?$filter=userId%20eq%20'x'&$top=5",
			servePath:    "/v1.0/auditLogs/signIns",
			wantRawQuery: "$filter=userId%20eq%20'x'&$top=5",
		},
		{
			name: "search and count need eventual", v: V1, path: "/users",
			q:            Query{Search: `"displayName:break glass"`, Count: true, Eventual: true},
			servePath:    "/v1.0/users",
			wantRawQuery: "$search=%22displayName:break%20glass%22&$count=true",
			wantEventual: true,
		},
		{
			name: "plus ampersand and doubled quote", v: V1, path: "/groups",
			q:            Query{Filter: "displayName eq 'R&D + O''Brien=1;#%'"},
			servePath:    "/v1.0/groups",
			wantRawQuery: "$filter=displayName%20eq%20'R%26D%20%2B%20O''Brien=1%3B%23%25'",
		},
		{
			name: "orderby", v: V1, path: "/auditLogs/directoryAudits",
			q:            Query{OrderBy: "activityDateTime desc"},
			servePath:    "/v1.0/auditLogs/directoryAudits",
			wantRawQuery: "$orderby=activityDateTime%20desc",
		},
		{
			name: "guest UPN in path", v: V1, path: "/users/jo_contoso.com#EXT#@fabrikam.onmicrosoft.com",
			servePath:   "/v1.0/users/jo_contoso.com#EXT#@fabrikam.onmicrosoft.com",
			wantRawPath: "/v1.0/users/jo_contoso.com%23EXT%23@fabrikam.onmicrosoft.com",
		},
		{
			name: "key segment with quotes", v: V1, path: "/roleManagement/directory/roleDefinitions('62e90394-69f5-4237-9190-012177145e10')",
			servePath: "/v1.0/roleManagement/directory/roleDefinitions('62e90394-69f5-4237-9190-012177145e10')",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(t)
			srv.Object(tt.servePath, map[string]any{"id": "x"})
			c, _ := newTestClient(t, srv, nil)
			if err := c.Get(t.Context(), tt.v, tt.path, tt.q, nil); err != nil {
				t.Fatalf("Get: %v", err)
			}
			r := srv.Requests()[0]
			if r.RawQuery != tt.wantRawQuery {
				t.Errorf("raw query\n got %s\nwant %s", r.RawQuery, tt.wantRawQuery)
			}
			wantRawPath := tt.wantRawPath
			if wantRawPath == "" {
				wantRawPath = tt.servePath
			}
			if r.Path != tt.servePath || r.RawPath != wantRawPath {
				t.Errorf("path %q raw %q, want %q raw %q", r.Path, r.RawPath, tt.servePath, wantRawPath)
			}
			if got := r.Header.Get("ConsistencyLevel"); (got == "eventual") != tt.wantEventual || (got != "" && got != "eventual") {
				t.Errorf("ConsistencyLevel = %q, want eventual %v", got, tt.wantEventual)
			}
		})
	}
}

func TestBadTargets(t *testing.T) {
	tests := []struct {
		name, path string
		v          Version
		q          Query
		want       string
	}{
		{"filter twice", "/users?$filter=a%20eq%201", V1, Query{Filter: "b eq 2"}, "$filter given both"},
		{"filter without dollar twice", "/users?filter=a", V1, Query{Filter: "b eq 2"}, "$filter given both"},
		{"unknown version", "/users", "v2.0", Query{}, "unknown API version"},
		{"dot segments", "/users/../auditLogs/signIns", V1, Query{}, "dot segments"},
		{"control character", "/users/a\nb", V1, Query{}, "control characters"},
		{"negative top", "/users", V1, Query{Top: -1}, "negative $top"},
		{"bad escape", "/users?$filter=%zz", V1, Query{}, "query value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := graphtest.New(t)
			c, _ := newTestClient(t, srv, nil)
			err := c.Get(t.Context(), tt.v, tt.path, tt.q, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if len(srv.Requests()) != 0 {
				t.Error("a request was sent")
			}
		})
	}
}

func TestGetStructAndVersions(t *testing.T) {
	type user struct {
		ID             string `json:"id"`
		DisplayName    string `json:"displayName"`
		AccountEnabled bool   `json:"accountEnabled"`
	}
	tests := []struct {
		v    Version
		want user
	}{
		{V1, user{"u1", "Break Glass 1 (v1.0)", true}},
		{Beta, user{"u1", "Break Glass 1 (beta)", false}},
	}
	srv := graphtest.New(t)
	for _, tt := range tests {
		srv.Object("/"+string(tt.v)+"/users/u1", tt.want)
	}
	c, _ := newTestClient(t, srv, nil)
	for _, tt := range tests {
		t.Run(string(tt.v), func(t *testing.T) {
			var got user
			if err := c.Get(t.Context(), tt.v, "/users/u1", Query{Select: []string{"id", "displayName", "accountEnabled"}}, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	var bad struct{ ID int }
	if err := c.Get(t.Context(), V1, "/users/u1", Query{}, &bad); err == nil || !strings.Contains(err.Error(), "decode") {
		t.Errorf("decode error = %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"defaults", Options{Tokens: StaticToken("t")}, ""},
		{"https", Options{BaseURL: "https://graph.microsoft.us/", Tokens: StaticToken("t")}, ""},
		{"http loopback", Options{BaseURL: "http://127.0.0.1:8080", Tokens: StaticToken("t")}, ""},
		{"http localhost", Options{BaseURL: "http://localhost:8080", Tokens: StaticToken("t")}, ""},
		{"no tokens", Options{}, "Tokens is required"},
		{"http elsewhere", Options{BaseURL: "http://graph.microsoft.com", Tokens: StaticToken("t")}, "must be https"},
		{"other scheme", Options{BaseURL: "ftp://graph.microsoft.com", Tokens: StaticToken("t")}, "must be https"},
		{"no host", Options{BaseURL: "graph.microsoft.com", Tokens: StaticToken("t")}, "want scheme://host"},
		{"query", Options{BaseURL: "https://graph.microsoft.com/?x=1", Tokens: StaticToken("t")}, "must not have"},
		{"credentials", Options{BaseURL: "https://u:p@graph.microsoft.com", Tokens: StaticToken("t")}, "must not have"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.o)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.base.Scheme == "" || strings.HasSuffix(c.base.String(), "/") {
					t.Errorf("base = %v", c.base)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 12 ", 12 * time.Second, true},
		{"-3", 0, false},
		{"99999999999999999", maxWait, true},
		{t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, t0)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestTransportErrorHidesQuery(t *testing.T) {
	srv := graphtest.New(t)
	c, clk := newTestClient(t, srv, func(o *Options) { o.MaxRetries = 2 })
	srv.Handle("/v1.0/auditLogs/signIns", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	_, err := c.ListAll(t.Context(), V1, "/auditLogs/signIns", Query{Filter: "userId eq 'bg-account-1'"})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "bg-account-1") || strings.Contains(err.Error(), "filter") {
		t.Errorf("error shows the query: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "graph: GET /v1.0/auditLogs/signIns: ") {
		t.Errorf("error = %v", err)
	}
	if len(clk.Sleeps()) != 2 {
		t.Errorf("sleeps = %v, want 2 retries", clk.Sleeps())
	}
}
