package graphtest

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

func get(t *testing.T, url string) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return resp.StatusCode, resp.Header, m
}

func TestRouting(t *testing.T) {
	s := New(t)
	s.Object("/v1.0/users", map[string]any{"which": "plain"})
	s.Object("/v1.0/users?$filter=accountEnabled eq true", map[string]any{"which": "filtered"})
	s.Fail("/v1.0/groups", 503, 1, "2", nil)
	s.Fail("/v1.0/groups", 429, 1, "", GraphError("TooManyRequests", "slow down"))
	s.Collection("/v1.0/groups", []any{1, 2, 3}, 2)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		check      func(t *testing.T, h http.Header, m map[string]any)
	}{
		{"plain route", "/v1.0/users", 200, func(t *testing.T, _ http.Header, m map[string]any) {
			if m["which"] != "plain" {
				t.Errorf("%v", m)
			}
		}},
		{"query route wins, any case of path", "/V1.0/Users?$filter=accountEnabled%20eq%20true&$skiptoken=9", 200, func(t *testing.T, _ http.Header, m map[string]any) {
			if m["which"] != "filtered" {
				t.Errorf("%v", m)
			}
		}},
		{"first failure", "/v1.0/groups", 503, func(t *testing.T, h http.Header, m map[string]any) {
			if h.Get("Retry-After") != "2" || m["error"].(map[string]any)["code"] != "ServiceNotAvailable" {
				t.Errorf("%v %v", h, m)
			}
		}},
		{"second failure", "/v1.0/groups", 429, func(t *testing.T, h http.Header, m map[string]any) {
			if h.Get("Retry-After") != "" || m["error"].(map[string]any)["message"] != "slow down" {
				t.Errorf("%v %v", h, m)
			}
		}},
		{"then the collection", "/v1.0/groups?$top=2", 200, func(t *testing.T, _ http.Header, m map[string]any) {
			if want := s.URL + "/v1.0/groups?$top=2&$skiptoken=2"; m["@odata.nextLink"] != want || len(m["value"].([]any)) != 2 {
				t.Errorf("%v, want nextLink %s", m, want)
			}
		}},
		{"last page", "/v1.0/groups?$top=2&$skiptoken=2", 200, func(t *testing.T, _ http.Header, m map[string]any) {
			if _, ok := m["@odata.nextLink"]; ok || len(m["value"].([]any)) != 1 {
				t.Errorf("%v", m)
			}
		}},
		{"bad skiptoken", "/v1.0/groups?$skiptoken=x", 400, nil},
		{"unknown path", "/v1.0/nothing", 404, func(t *testing.T, _ http.Header, m map[string]any) {
			if m["error"].(map[string]any)["code"] != "Request_ResourceNotFound" {
				t.Errorf("%v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, m := get(t, s.URL+tt.path)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, tt.wantStatus, m)
			}
			if tt.check != nil {
				tt.check(t, h, m)
			}
		})
	}
	if n := s.Count("/v1.0/groups"); n != 5 {
		t.Errorf("Count = %d", n)
	}
	if r := s.Requests()[1]; r.RawQuery != "$filter=accountEnabled%20eq%20true&$skiptoken=9" || r.Query.Get("$filter") != "accountEnabled eq true" {
		t.Errorf("recorded %+v", r)
	}
}

func TestFallback(t *testing.T) {
	s := New(t)
	s.Object("/v1.0/users/known", map[string]any{"which": "route"})
	s.Fail("/v1.0/users/refused", 403, 1, "", nil)
	s.Fallback(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"which": "fallback", "path": r.URL.Path})
	})
	tests := []struct {
		path, which string
		status      int
	}{
		{"/v1.0/users/known", "route", 200},
		{"/v1.0/users/other", "fallback", 200},
		{"/v1.0/users/refused", "", 403}, // scripted failures come first
		{"/v1.0/users/refused", "fallback", 200},
	}
	for _, tc := range tests {
		status, _, m := get(t, s.URL+tc.path)
		if status != tc.status || tc.which != "" && m["which"] != tc.which {
			t.Errorf("GET %s = %d %v, want %d from %q", tc.path, status, m, tc.status, tc.which)
		}
	}
	if n := s.Count("/v1.0/users/refused"); n != 2 {
		t.Errorf("Count = %d, want 2: fallback requests are recorded too", n)
	}
}
