package notify_test

// Configuration fixtures of the chat and incident channels (teams, slack,
// pagerduty, opsgenie), through config exactly as `config check` and the
// daemon read them: decoded by the registry, validated at file:line,
// printed redacted, built and sent to a loopback receiver.

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/notify"
	"breakglass/internal/store"
)

// fixtureSecret stands in for every credential in the fixtures.
const fixtureSecret = "F1xtureS3cretValue0042"

func updateGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if updateGoldens() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(got) != string(want) {
		t.Errorf("differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// channelsBlock is the channels: list of the first group in a printed
// configuration.
func channelsBlock(out string) string {
	lines := strings.Split(out, "\n")
	var b strings.Builder
	in := false
	indent := 0
	for _, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		if !in {
			if trimmed == "channels:" {
				in, indent = true, len(l)-len(trimmed)
				b.WriteString(l + "\n")
			}
			continue
		}
		if trimmed != "" && len(l)-len(trimmed) <= indent {
			break
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

func TestChatConfigFixtures(t *testing.T) {
	for _, tt := range []struct {
		channel, path string
		answer        func(w http.ResponseWriter)
	}{
		{"teams", "/workflows/abc/triggers/manual/paths/invoke", func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }},
		{"slack", "/services/T0001/B0002/" + fixtureSecret, func(w http.ResponseWriter) { io.WriteString(w, "ok") }},
		{"pagerduty", "/v2/enqueue", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"a1"}`)
		}},
		{"opsgenie", "/v2/alerts", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"result":"Request will be processed","took":0.1,"requestId":"r-1"}`)
		}},
	} {
		t.Run(tt.channel, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
				tt.answer(w)
			}))
			defer srv.Close()
			env := map[string]string{"BASE": srv.URL, "SIG": fixtureSecret}
			data, err := os.ReadFile(filepath.Join("testdata", tt.channel+"_config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(tt.channel+"_config.yaml", data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := cfg.Redacted()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), fixtureSecret) {
				t.Errorf("config check output shows the secret:\n%s", out)
			}
			block := strings.ReplaceAll(channelsBlock(string(out)), srv.URL, "http://RECEIVER")
			golden(t, filepath.Join("testdata", tt.channel+"_config.redacted"), []byte(block))

			ch := cfg.Notify.Groups[0].Channels[0]
			n, err := ch.Settings.Build(notify.BuildEnv{Target: cfg.Notify.Groups[0].Target(0), Timeout: ch.Timeout, HTTP: &http.Client{}, Now: time.Now})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			a := alert.Alert{ID: "a1", Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account signed in",
				AccountUPN: "bg1@contoso.example", EventTime: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
			if err := n.Notify(context.Background(), notify.Notification{ID: "a1", Status: store.StatusFiring, Alert: a, Attempt: 1}); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(paths) != 1 || paths[0] != tt.path {
				t.Errorf("receiver saw %v, want one request to %s", paths, tt.path)
			}
		})
	}
}

func TestChatConfigFixturesBad(t *testing.T) {
	for _, channel := range []string{"teams", "slack", "pagerduty", "opsgenie"} {
		t.Run(channel, func(t *testing.T) {
			name := channel + "_config_bad.yaml"
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"BASE": "https://receiver.example", "SIG": fixtureSecret}
			_, err = config.Parse(name, data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if strings.Contains(err.Error(), fixtureSecret) {
				t.Errorf("error shows the secret: %v", err)
			}
			golden(t, filepath.Join("testdata", channel+"_config_bad.err"), []byte(err.Error()+"\n"))
		})
	}
}
