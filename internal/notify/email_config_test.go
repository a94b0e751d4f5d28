package notify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/notify"
)

const fixturePassword = "fixture-Pa55word-4-smtp"

func fixtureEnv(k string) (string, bool) {
	if k == "SMTP_PASSWORD" {
		return fixturePassword, true
	}
	return "", false
}

// The email channel through the configuration file: decoded by config
// through the registry, defaults applied (tls, port, timeout), the password
// expanded and redacted in what config check prints.
func TestEmailConfigFixture(t *testing.T) {
	path := filepath.Join("testdata", "email_config.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data, fixtureEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	chs := cfg.Notify.Groups[0].Channels
	first, ok := chs[0].Settings.(*notify.EmailConfig)
	if !ok {
		t.Fatalf("Settings = %T, want *notify.EmailConfig", chs[0].Settings)
	}
	if first.TLS != "starttls" || first.Port != 587 || first.Password.Reveal() != fixturePassword || len(first.To) != 2 {
		t.Errorf("decoded %#v", first)
	}
	if chs[0].Timeout != notify.DefaultEmailTimeout || chs[1].Timeout != 5*time.Second {
		t.Errorf("timeouts %s, %s; want the email default and 5s", chs[0].Timeout, chs[1].Timeout)
	}
	relay := chs[1].Settings.(*notify.EmailConfig)
	if relay.TLS != "none" || relay.Port != 25 {
		t.Errorf("relay tls %q port %d", relay.TLS, relay.Port)
	}
	for i, ch := range chs {
		n, err := ch.Settings.Build(notify.BuildEnv{Target: cfg.Notify.Groups[0].Target(i), Timeout: ch.Timeout})
		if err != nil {
			t.Fatalf("Build %d: %v", i, err)
		}
		if b, ok := n.(notify.Bounded); !ok || b.SendTimeout() != ch.Timeout {
			t.Errorf("channel %d does not bound its sends by its timeout %s", i, ch.Timeout)
		}
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), fixturePassword) {
		t.Fatalf("config check would print the password:\n%s", out)
	}
	golden(t, filepath.Join("testdata", "email_config.out"), out)
}

// Every problem of every email channel, each at its file:line.
func TestEmailConfigFixtureErrors(t *testing.T) {
	path := filepath.Join("testdata", "email_config_bad.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse(path, data, fixtureEnv)
	if err == nil {
		t.Fatal("Parse accepted the bad fixture")
	}
	if strings.Contains(err.Error(), fixturePassword) {
		t.Fatalf("an error holds the password: %v", err)
	}
	golden(t, filepath.Join("testdata", "email_config_bad.err"), []byte(err.Error()+"\n"))
}
