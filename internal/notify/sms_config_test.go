package notify_test

// Configuration fixtures of the phone channels (sms, voice, push),
// through config exactly as `config check` and the daemon read them:
// decoded by the registry, validated at file:line, printed redacted,
// built and sent to a loopback receiver.

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/notify"
	"breakglass/internal/store"
)

// phoneSecret stands in for every credential in the fixtures; phonePO is
// a Pushover-shaped key (30 letters and digits).
const (
	phoneSecret = "Ph0neS3cretValue0099"
	phonePO     = "Ph0neS3cretPushoverKey00000042"
)

func phoneGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
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

// phoneChannels is the channels: list of the first group in a printed
// configuration.
func phoneChannels(out string) string {
	var b strings.Builder
	in, indent := false, 0
	for _, l := range strings.Split(out, "\n") {
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

func phoneParse(t *testing.T, name, base string) (*config.Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BASE": base, "SIG": phoneSecret, "PO": phonePO}
	return config.Parse(name, data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestPhoneConfigFixture(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/2010-04-01/"):
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"sid":"SM123","status":"queued"}`)
		case r.URL.Path == "/gw/send":
			_, _ = io.WriteString(w, `"ok"`)
		case r.URL.Path == "/1/messages.json":
			_, _ = io.WriteString(w, `{"status":1,"request":"r"}`)
		default:
			_, _ = io.WriteString(w, `{"id":"m1","event":"message"}`)
		}
	}))
	defer srv.Close()
	cfg, err := phoneParse(t, "sms_config.yaml", srv.URL)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), phoneSecret) || strings.Contains(string(out), phonePO) {
		t.Errorf("config check output shows a secret:\n%s", out)
	}
	phoneGolden(t, "sms_config.redacted", []byte(strings.ReplaceAll(phoneChannels(string(out)), srv.URL, "http://RECEIVER")))

	a := alert.Alert{ID: "a1", Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account signed in",
		AccountUPN: "bg1@contoso.example", EventTime: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
	g := cfg.Notify.Groups[0]
	for i, ch := range g.Channels {
		n, err := ch.Settings.Build(notify.BuildEnv{Target: g.Target(i), Timeout: ch.Timeout, HTTP: &http.Client{}, Now: time.Now})
		if err != nil {
			t.Fatalf("Build %s: %v", g.Target(i), err)
		}
		if err := n.Notify(context.Background(), notify.Notification{ID: "a1", Status: store.StatusFiring, Alert: a, Attempt: 1}); err != nil {
			t.Fatalf("Notify %s: %v", g.Target(i), err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(paths)
	want := []string{
		"POST /1/messages.json",
		"POST /2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json",
		"POST /2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
		"POST /2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
		"POST /bg-" + phoneSecret,
		"POST /gw/send",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("receiver saw\n%s\nwant\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
}

func TestPhoneConfigFixtureBad(t *testing.T) {
	_, err := phoneParse(t, "sms_config_bad.yaml", "https://receiver.example")
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if strings.Contains(err.Error(), phoneSecret) {
		t.Errorf("error shows the secret: %v", err)
	}
	phoneGolden(t, "sms_config_bad.err", []byte(err.Error()+"\n"))
}
