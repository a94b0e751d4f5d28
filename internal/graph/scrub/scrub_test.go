package scrub

import (
	"errors"
	"strings"
	"testing"
)

const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlLXBhcnQ"

func TestString(t *testing.T) {
	s := New("s3cr3t+value/==", "pfx-pass")
	for _, tc := range []struct {
		name, in string
		gone     []string // must not survive
		keep     []string // must survive
	}{
		{"form body", "AADSTS7000215: request was grant_type=client_credentials&client_id=abc&client_secret=hunter22&scope=x",
			[]string{"hunter22"}, []string{"AADSTS7000215", "client_id=abc", "scope=x"}},
		{"assertion", "client_assertion_type=jwt-bearer&client_assertion=" + jwt + "&x=1", []string{jwt, "eyJ0eXAi"}, []string{"x=1"}},
		{"plain assertion key", "assertion=abcdef123&y", []string{"abcdef123"}, []string{"&y"}},
		{"json", `{"error":"invalid_client","access_token":"opaque-123","refresh_token":"r-456","password":"p\"w"}`,
			[]string{"opaque-123", "r-456", `p\"w`}, []string{"invalid_client"}},
		{"escaped json", `"body":"{\"client_secret\":\"topsecret9\"}"`, []string{"topsecret9"}, []string{"body"}},
		{"bearer header", "request had Authorization: Bearer abc.def-ghi_jkl\nnext line", []string{"abc.def-ghi_jkl"}, []string{"next line"}},
		{"bearer inline", "token Bearer zzz999yyy rejected", []string{"zzz999yyy"}, []string{"rejected"}},
		{"jwt alone", "bad token " + jwt + " for tenant", []string{jwt}, []string{"for tenant"}},
		{"literal", "echo: s3cr3t+value/==", []string{"s3cr3t+value/=="}, []string{"echo"}},
		{"literal url-escaped", "echo: s3cr3t%2Bvalue%2F%3D%3D", []string{"s3cr3t%2Bvalue%2F%3D%3D"}, nil},
		{"literal json-escaped", `echo: "pfx-pass"`, []string{"pfx-pass"}, nil},
		{"graph error untouched", "graph: GET /v1.0/users: 403 Authorization_RequestDenied: Insufficient privileges (hint: grant User.Read.All)",
			nil, []string{"Authorization_RequestDenied", "Insufficient privileges", "User.Read.All"}},
		{"function key", "POST https://f.azurewebsites.net/api/x?code=fkey123abc failed", []string{"fkey123abc"}, []string{"azurewebsites"}},
		{"error_code is not code", "error_codes=[7000215] error_code=5", nil, []string{"7000215", "error_code=5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.String(tc.in)
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q survived:\n%s", g, got)
				}
			}
			for _, k := range tc.keep {
				if !strings.Contains(got, k) {
					t.Errorf("%q lost:\n%s", k, got)
				}
			}
		})
	}
}

func TestErrorDoesNotUnwrap(t *testing.T) {
	inner := errors.New("client_secret=leak1234")
	err := New().Error(inner)
	if strings.Contains(err.Error(), "leak1234") {
		t.Fatalf("not scrubbed: %v", err)
	}
	if errors.Unwrap(err) != nil || errors.Is(err, inner) {
		t.Fatal("scrubbed error exposes the original")
	}
	if New().Error(nil) != nil {
		t.Fatal("nil error scrubbed to non-nil")
	}
}

func TestWith(t *testing.T) {
	s := New("first-secret").With("second-secret")
	got := s.String("first-secret and second-secret")
	if strings.Contains(got, "first") || strings.Contains(got, "second") {
		t.Fatal(got)
	}
	var nilS *Scrubber
	if got := nilS.With("x-secret").String("a x-secret"); strings.Contains(got, "x-secret") {
		t.Fatal(got)
	}
}

// FuzzString: scrubbing never panics, and a known secret never survives
// whatever surrounds it. Secrets are kept to characters that do not occur
// in Mask, so that a mask next to text cannot spell the secret anew.
func FuzzString(f *testing.F) {
	f.Add("client_secret=abc", "abc123")
	f.Add("Bearer x", "zz9z99")
	f.Fuzz(func(t *testing.T, text, secret string) {
		secret = strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
				return r
			}
			return -1
		}, secret)
		if len(secret) < MinLen {
			return
		}
		got := New(secret).String(text + secret + text)
		if strings.Contains(got, secret) {
			t.Fatalf("secret %q survived in %q", secret, got)
		}
	})
}
