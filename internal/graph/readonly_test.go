package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"breakglass/internal/graph/graphtest"
)

// TestOnlyGET drives every public method, success and failure paths, and
// checks that nothing but GET reached the server; then it tries to send
// writes through the client's own transport, which must refuse them.
func TestOnlyGET(t *testing.T) {
	clients := []struct {
		name string
		hc   *http.Client
	}{
		{"default HTTP client", nil},
		{"caller's HTTP client", &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}},
	}
	for _, cc := range clients {
		t.Run(cc.name, func(t *testing.T) {
			srv := graphtest.New(t)
			srv.Collection("/v1.0/auditLogs/signIns", items(7), 2)
			srv.Collection("/beta/auditLogs/signIns", items(3), 1)
			srv.Object("/v1.0/users/u1", map[string]any{"id": "u1"})
			srv.Fail("/v1.0/users/u1", 429, 1, "1", nil)
			srv.Fail("/v1.0/groups", 503, 2, "", nil)
			srv.Collection("/v1.0/groups", items(2), 1)
			srv.Fail("/v1.0/domains", 403, 1, "", nil)
			c, _ := newTestClient(t, srv, func(o *Options) { o.HTTPClient = cc.hc })
			ctx := t.Context()

			if err := c.Get(ctx, V1, "/users/u1", Query{Select: []string{"id"}}, new(map[string]any)); err != nil {
				t.Fatal(err)
			}
			if err := c.Get(ctx, V1, "/users/missing", Query{}, nil); !IsNotFound(err) {
				t.Fatal(err)
			}
			if err := c.List(ctx, V1, "/auditLogs/signIns", Query{Filter: "userId eq 'u1'", Eventual: true}, func([]json.RawMessage) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListAll(ctx, Beta, "/auditLogs/signIns", Query{Top: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListAll(ctx, V1, "/groups", Query{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListAll(ctx, V1, "/domains", Query{}); !IsForbidden(err) {
				t.Fatal(err)
			}
			var lister Lister = c // the interface consumers hold
			if err := lister.List(ctx, V1, "/auditLogs/signIns", Query{}, func([]json.RawMessage) error { return nil }); err != nil {
				t.Fatal(err)
			}

			reqs := srv.Requests()
			if len(reqs) < 15 {
				t.Fatalf("only %d requests; the test should exercise paging and retries", len(reqs))
			}
			for _, r := range reqs {
				if r.Method != http.MethodGet {
					t.Errorf("%s %s: client sent a non-GET request", r.Method, r.Path)
				}
			}

			// Writes built by hand on the client's own http.Client and
			// transport never leave the process.
			before := len(srv.Requests())
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions, "PURGE"} {
				body := &closeTracker{Reader: strings.NewReader(`{"accountEnabled":false}`)}
				req, err := http.NewRequestWithContext(ctx, m, srv.URL+"/v1.0/users/u1", body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer test-token")
				if resp, err := c.hc.Do(req); !errors.Is(err, ErrNotGET) {
					if resp != nil {
						resp.Body.Close()
					}
					t.Errorf("%s via client: err = %v, want ErrNotGET", m, err)
				}
				body2 := &closeTracker{Reader: strings.NewReader("{}")}
				req2, _ := http.NewRequestWithContext(ctx, m, srv.URL+"/v1.0/users/u1", body2)
				if _, err := c.hc.Transport.RoundTrip(req2); !errors.Is(err, ErrNotGET) {
					t.Errorf("%s via transport: err = %v, want ErrNotGET", m, err)
				}
				if !body2.closed {
					t.Errorf("%s: transport did not close the refused body", m)
				}
			}
			if got := len(srv.Requests()); got != before {
				t.Errorf("%d refused requests reached the server", got-before)
			}

			// And a GET to anywhere but Graph is refused too.
			other := graphtest.New(t)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, other.URL+"/v1.0/users", nil)
			if _, err := c.hc.Do(req); !errors.Is(err, errOrigin) {
				t.Errorf("GET elsewhere: err = %v", err)
			}
			if len(other.Requests()) != 0 {
				t.Error("request reached another origin")
			}
		})
	}
}

type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

// The graphtest server itself rejects writes, so other packages' tests
// would notice a write that slipped past some other client.
func TestGraphtestRejectsWrites(t *testing.T) {
	srv := graphtest.New(t)
	srv.Object("/v1.0/users/u1", map[string]any{"id": "u1"})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPatch, srv.URL+"/v1.0/users/u1", strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status = %d", resp.StatusCode)
	}
	if r := srv.Requests(); len(r) != 1 || r[0].Method != http.MethodPatch {
		t.Errorf("requests = %+v", r)
	}
}
