package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"breakglass/internal/graph/graphtest"
)

const (
	echoSecret  = "Zq8~s3cretValue.FromTheAppRegistration_42"
	echoPFXPass = "pfx-password-9876"
	echoJWT     = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	echoOpaque  = "opaque-access-token-0123456789"
)

// fakeAuthority is an Entra token endpoint on loopback TLS that refuses
// every token request with an error that echoes the request: form body
// (client_secret, client_assertion) and headers.
func fakeAuthority(t *testing.T) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			tenant := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0]
			json.NewEncoder(w).Encode(map[string]any{
				"token_endpoint":         srv.URL + "/" + tenant + "/oauth2/v2.0/token",
				"authorization_endpoint": srv.URL + "/" + tenant + "/oauth2/v2.0/authorize",
				"issuer":                 srv.URL + "/" + tenant + "/v2.0",
			})
			return
		}
		body, _ := io.ReadAll(r.Body)
		var hdr bytes.Buffer
		r.Header.Write(&hdr)
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{
			"error":             "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided. Request was: " + string(body) + "\nHeaders: " + hdr.String(),
			"error_codes":       []int{7000215},
			"trace_id":          "0f0f0f0f-0000-4000-8000-000000000000",
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTokenErrorsScrubbed: a token endpoint that echoes the request back
// leaves no secret in the resulting error, for a client secret and for a
// certificate (whose client_assertion is a signed JWT).
func TestTokenErrorsScrubbed(t *testing.T) {
	auth := fakeAuthority(t)
	pemFile := writeFile(t, "cert.pem", selfSignedPEM(t))
	for _, o := range []CredentialOptions{
		{Auth: AuthClientSecret, ClientSecret: echoSecret},
		{Auth: AuthClientCertificate, CertificatePath: pemFile},
	} {
		t.Run(o.Auth, func(t *testing.T) {
			o.TenantID = "contoso.onmicrosoft.com"
			o.ClientID = "00000000-0000-4000-8000-0000000000c1"
			o.AuthorityHost = auth.URL
			o.transport = auth.Client()
			o.LookupEnv = env(nil)
			ts, err := NewTokenSource(o, "https://graph.microsoft.com")
			if err != nil {
				t.Fatal(err)
			}
			_, err = ts.Token(t.Context())
			if err == nil {
				t.Fatal("token request to a refusing endpoint succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "AADSTS7000215") {
				t.Fatalf("the endpoint's answer did not reach the error (the test would prove nothing): %s", msg)
			}
			for _, secret := range []string{echoSecret, "client_assertion=eyJ", echoPFXPass} {
				if strings.Contains(msg, secret) {
					t.Errorf("error contains %q:\n%s", secret, msg)
				}
			}
			if o.Auth == AuthClientSecret && !strings.Contains(msg, "client_secret=") {
				t.Fatalf("the echo of the form did not reach the error: %s", msg)
			}
			// And through the client, as serve would log it.
			var logs bytes.Buffer
			c, err := New(Options{BaseURL: "http://127.0.0.1:1", Tokens: ts, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Get(t.Context(), V1, "/organization", Query{}, nil)
			if err == nil || strings.Contains(err.Error(), echoSecret) || strings.Contains(logs.String(), echoSecret) ||
				strings.Contains(err.Error(), "client_assertion=eyJ") {
				t.Errorf("client error or log leaks: %v\n%s", err, logs.String())
			}
		})
	}
}

// TestGraphErrorsScrubbed: a Graph (or a proxy in front of it) that
// quotes the request's Authorization header in its error leaves neither a
// JWT nor an opaque token in the error or the log.
func TestGraphErrorsScrubbed(t *testing.T) {
	for _, token := range []string{echoJWT, echoOpaque} {
		for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusBadGateway} {
			t.Run(fmt.Sprintf("%s/%d", token[:6], status), func(t *testing.T) {
				srv := graphtest.New(t)
				srv.Handle("/v1.0/organization", func(w http.ResponseWriter, r *http.Request) {
					var hdr bytes.Buffer
					r.Header.Write(&hdr)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					if status == http.StatusBadGateway {
						io.WriteString(w, "<html>bad gateway; request headers: "+hdr.String()+"</html>")
						return
					}
					json.NewEncoder(w).Encode(graphtest.GraphError("InvalidAuthenticationToken",
						"Access token validation failure. Got: "+r.Header.Get("Authorization")+" raw="+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
				})
				var logs bytes.Buffer
				c, err := New(Options{BaseURL: srv.URL, Tokens: StaticToken(token), MaxRetries: -1,
					Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				if err != nil {
					t.Fatal(err)
				}
				err = c.Get(context.Background(), V1, "/organization", Query{}, nil)
				if err == nil {
					t.Fatal("no error")
				}
				if status != http.StatusBadGateway && !strings.Contains(err.Error(), "Access token validation failure") {
					t.Fatalf("the message did not reach the error: %v", err)
				}
				if strings.Contains(err.Error(), token) || strings.Contains(logs.String(), token) {
					t.Errorf("token leaked:\nerror: %v\nlog: %s", err, logs.String())
				}
				if status == http.StatusForbidden && !IsForbidden(err) {
					t.Error("scrubbing lost the error's type")
				}
			})
		}
	}
}
