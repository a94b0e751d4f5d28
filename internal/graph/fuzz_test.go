package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzParseRetryAfter: any header value parses without panicking, and a
// delay it accepts lies between 0 (retry now; the retry count bounds it) and
// the cap.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "5", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "99999999999999999999", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := parseRetryAfter(v, now); ok && (d < 0 || d > maxWait) {
			t.Fatalf("accepted delay %v for %q", d, v)
		}
	})
}

// FuzzParseQuery: any query string in a path is parsed or refused, never a
// panic.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"$filter=id eq 'a'&$top=5", "a=b&c", "%zz", "$select=id,displayName"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		parseQuery(raw)
	})
}

// FuzzListPage: whatever Graph (or something pretending to be it) answers,
// List returns items or an error; it never panics or loops.
func FuzzListPage(f *testing.F) {
	f.Add([]byte(`{"value":[{"id":"a"},{"id":"b"}]}`))
	f.Add([]byte(`{"@odata.nextLink":"http://127.0.0.1:1/v1.0/x?$skiptoken=1","value":[]}`))
	f.Add([]byte(`{"error":{"code":"x","message":"y"}}`))
	f.Add([]byte(`[1,2`))
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Tokens: StaticToken("t"), MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body = b
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n := 0
		err := c.List(ctx, V1, "/users", Query{}, func(items []json.RawMessage) error {
			n++
			if n > 100 {
				t.Fatal("List keeps calling back")
			}
			return nil
		})
		_ = err
	})
}
