package notify_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/notify"
	"breakglass/internal/notify/notifytest"
	"breakglass/internal/secret"
)

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

func stageOf(err error) string {
	var pe *notify.ProbeError
	if errors.As(err, &pe) {
		return pe.Stage
	}
	return "(not a ProbeError)"
}

// TestProbeEmail: the dry run of an email channel goes through STARTTLS
// and AUTH against a real SMTP server and sends nothing; a closed port,
// an untrusted certificate and a wrong password each fail at their stage,
// and the password never appears.
func TestProbeEmail(t *testing.T) {
	const pass = "s3cret-smtp-password"
	srv, err := notifytest.NewSMTP(t.TempDir(), "bg", pass)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mk := func(port int, ca, password string) *notify.EmailConfig {
		c := &notify.EmailConfig{Host: srv.Host, Port: port, TLS: "starttls", CAFile: ca, Username: "bg",
			Password: secret.Secret(password), From: "bg@example.com", To: []string{"oncall@example.com"}}
		c.Validate(func(f, m string) { t.Fatalf("config: %s: %s", f, m) })
		return c
	}
	closed := closedPort(t)
	for _, tc := range []struct {
		name  string
		c     *notify.EmailConfig
		stage string // "" ok
	}{
		{"reachable", mk(srv.Port, srv.CAFile, pass), ""},
		{"closed port", mk(closed, srv.CAFile, pass), notify.ProbeConnect},
		{"untrusted certificate", mk(srv.Port, "", pass), notify.ProbeTLS},
		{"wrong password", mk(srv.Port, srv.CAFile, pass+"-wrong"), notify.ProbeProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := tc.c.Probe(ctx)
			if tc.stage == "" {
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
				return
			}
			if got := stageOf(err); got != tc.stage {
				t.Fatalf("Probe: %v: stage %s, want %s", err, got, tc.stage)
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("the password leaked: %v", err)
			}
			if !strings.Contains(err.Error(), srv.Host+":") {
				t.Errorf("the error does not name the server: %v", err)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("a dry run delivered %d messages", n)
	}
}

// TestProbeURL: DNS, TCP and TLS stages, and a URL's path and query (the
// credential of a chat webhook) never appear in the error.
func TestProbeURL(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a dry run made an HTTP request")
	}))
	defer srv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a dry run made an HTTP request")
	}))
	defer plain.Close()
	const key = "/hooks/T000/B000/XXXXsecretXXXX?sig=abcdef0123456789"
	for _, tc := range []struct {
		name, url, stage string
	}{
		{"plain http reachable", plain.URL + key, ""},
		{"untrusted certificate", srv.URL + key, notify.ProbeTLS},
		{"closed port", "https://127.0.0.1:" + strconv.Itoa(closedPort(t)) + key, notify.ProbeConnect},
		{"no such host", "https://breakglass-doctor-test.invalid" + key, notify.ProbeDNS},
		{"not a URL", "::" + key, notify.ProbeLocal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c := &notify.WebhookConfig{URL: secret.Secret(tc.url)}
			err := c.Probe(ctx)
			if tc.stage == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := stageOf(err); got != tc.stage {
				t.Fatalf("%v: stage %s, want %s", err, got, tc.stage)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "sig=") {
				t.Errorf("the URL's credential leaked: %v", err)
			}
		})
	}
}
