package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProbeHTTPChannels: the dry run (doctor, probe_http.go) of every HTTP
// channel family in httpChannels (webhook in both schemas, Slack, Teams,
// PagerDuty, Opsgenie, SMS through Twilio and a gateway, voice, ntfy,
// Pushover), each configured and validated as config load does with its
// url pointed at a loopback endpoint: a listening plain-HTTP server is
// reachable and gets no request; a closed port fails at connect and an
// untrusted certificate at TLS, each naming the host:port the channel
// sends to and none of its credentials (a Slack, Teams or webhook URL's
// path and query, a gateway's key, tokens).
func TestProbeHTTPChannels(t *testing.T) {
	var requests atomic.Int32
	count := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) })
	plain := httptest.NewServer(count)
	defer plain.Close()
	untrusted := httptest.NewTLSServer(count)
	defer untrusted.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	type prober interface {
		Probe(ctx context.Context) error
	}
	for _, c := range httpChannels() {
		for _, tc := range []struct {
			name, base, stage string // stage "": reachable
		}{
			{"reachable", plain.URL, ""},
			{"closed port", closed, ProbeConnect},
			{"untrusted certificate", untrusted.URL, ProbeTLS},
		} {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				cfg := c.config(tc.base)
				cfg.Validate(func(field, msg string) { t.Fatalf("Validate: %s: %s", field, msg) })
				p, ok := cfg.(prober)
				if !ok {
					t.Fatalf("%T has no dry run", cfg)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				err := p.Probe(ctx)
				if tc.stage == "" {
					if err != nil {
						t.Fatalf("Probe: %v", err)
					}
					return
				}
				var pe *ProbeError
				if !errors.As(err, &pe) || pe.Stage != tc.stage {
					t.Fatalf("Probe: %v, want a ProbeError at stage %s", err, tc.stage)
				}
				if want := strings.TrimPrefix(strings.TrimPrefix(tc.base, "https://"), "http://"); pe.Addr != want {
					t.Errorf("Probe tried %s, want %s, where the channel sends", pe.Addr, want)
				}
				for _, s := range c.secrets {
					if strings.Contains(err.Error(), s) {
						t.Errorf("Probe error carries the credential %q: %v", s, err)
					}
				}
				if strings.Contains(err.Error(), "://") {
					t.Errorf("Probe error carries a URL, not only host:port: %v", err)
				}
			})
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("dry runs made %d HTTP requests", n)
	}
}
