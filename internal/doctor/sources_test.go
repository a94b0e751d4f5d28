package doctor

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestKafkaSource: a kafka source whose brokers sign it in and have the
// topic passes; a missing topic fails naming the key to correct; the
// password is never printed.
func TestKafkaSource(t *testing.T) {
	const pass = "kafka-pass-DO-NOT-PRINT"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "signins"),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "breakglass", pass))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		topic  string
		status Status
		detail string
		fix    string
	}{
		{"signins", OK, "topic signins exists", ""},
		{"auditlogs", Fail, "no such topic", "correct sources[3].topic"},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			f := newFixture(t)
			f.sources = "  - type: kafka\n    name: hub\n    bootstrap: " + strings.Join(c.ListenAddrs(), ",") +
				"\n    topic: " + tc.topic + "\n    sasl:\n      user: breakglass\n      password: " + pass + "\n"
			rep := f.run(false)
			r := find(t, rep, "sources", "sources[3] hub (kafka)")
			if r.Status != tc.status || !strings.Contains(r.Detail, tc.detail) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("%s: %s (fix %s)", r.Status, r.Detail, r.Fix)
			}
			if strings.Contains(table(rep), pass) {
				t.Error("the SASL password was printed")
			}
		})
	}
}

// TestListenInUse: an address another program holds fails with how to
// find it; one a breakglass answers on (serve running) warns.
func TestListenInUse(t *testing.T) {
	f := newFixture(t)
	other, err := net.Listen("tcp", f.ingest)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() { // accepts and hangs up: not an HTTP server
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		t.Fatal(err)
	}
	healthz := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n"))
			return
		}
		http.NotFound(w, r)
	})}}
	healthz.Start()
	defer healthz.Close()
	rep := f.run(false)
	r := find(t, rep, "sources", "sources[1] push (http)")
	_, port, _ := net.SplitHostPort(f.ingest)
	if r.Status != Fail || !strings.Contains(r.Detail, "in use by another program") || !strings.Contains(r.Fix, "ss -ltnp 'sport = :"+port+"'") {
		t.Errorf("held by another program: %s: %s (fix %s)", r.Status, r.Detail, r.Fix)
	}
	r = find(t, rep, "sources", "server.listen")
	if r.Status != Warn || !strings.Contains(r.Detail, "serve is probably running") {
		t.Errorf("held by a breakglass: %s: %s", r.Status, r.Detail)
	}
}

// TestFileSource: a missing directory fails, an empty one warns, an
// unreadable file fails naming it (not as root, whom no mode stops).
func TestFileSource(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		f := newFixture(t)
		f.logs = filepath.Join(f.dir, "nosuch", "*.json")
		r := find(t, f.run(false), "sources", "sources[0] exports (file)")
		if r.Status != Fail || !strings.Contains(r.Detail, "nosuch") || !strings.Contains(r.Fix, "sources[0].path") {
			t.Errorf("%s: %s (fix %s)", r.Status, r.Detail, r.Fix)
		}
	})
	t.Run("empty", func(t *testing.T) {
		f := newFixture(t)
		f.logs = filepath.Join(f.logs, "*.csv")
		r := find(t, f.run(false), "sources", "sources[0] exports (file)")
		if r.Status != Warn || !strings.Contains(r.Detail, "matches no file yet") {
			t.Errorf("%s: %s", r.Status, r.Detail)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root: file modes do not stop reads")
		}
		f := newFixture(t)
		p := filepath.Join(f.logs, "PT1H.json")
		os.Chmod(p, 0)
		defer os.Chmod(p, 0o644)
		r := find(t, f.run(false), "sources", "sources[0] exports (file)")
		if r.Status != Fail || !strings.Contains(r.Detail, p) || !strings.Contains(r.Fix, "setfacl") {
			t.Errorf("%s: %s (fix %s)", r.Status, r.Detail, r.Fix)
		}
	})
}

// TestGraphToken: no token fails with where to get one; a Graph error
// that echoes the token never prints it.
func TestGraphToken(t *testing.T) {
	t.Run("unset", func(t *testing.T) {
		f := newFixture(t)
		f.token = " " // set but blank: the access_token source refuses it
		rep := f.run(false)
		r := find(t, rep, "graph", "token")
		if r.Status != Fail || !strings.Contains(r.Fix, "DOCTOR_TEST_TOKEN") || !strings.Contains(r.Fix, "az account get-access-token") {
			t.Errorf("%s: %s (fix %s)", r.Status, r.Detail, r.Fix)
		}
		if a := find(t, rep, "accounts", "lookup"); a.Status != Skip {
			t.Errorf("accounts without a token: %s", a.Status)
		}
	})
	t.Run("echoed", func(t *testing.T) {
		f := newFixture(t)
		f.token = jwt(allRoles, time.Now().Add(time.Hour))
		f.graph.Fail("/v1.0/domains", http.StatusBadRequest, 100, "",
			map[string]any{"error": map[string]any{"code": "BadRequest", "message": "token " + f.token + " rejected"}})
		rep := f.run(false)
		if r := find(t, rep, "graph", "GET /domains"); r.Status != Fail {
			t.Errorf("GET /domains: %s", r.Status)
		}
		noSecrets(t, rep, f.token)
	})
}
