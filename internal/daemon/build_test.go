package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/notify"
	"breakglass/internal/store"
)

// TestBuildNotifiersThroughRegistry: every configured channel becomes a
// target built by its registered type from config's decoded settings, and
// the built channel behaves as configured (here: the console writes, the
// exec command runs).
func TestBuildNotifiersThroughRegistry(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hook")
	out := filepath.Join(dir, "got.json")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec cat > \"$OUT\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t.yaml", []byte(`accounts: [{upn: a@b.c}]
notify:
  groups:
    - name: g
      channels:
        - type: console
        - type: webhook
          url: https://hooks.example/x
          timeout: 45s
        - type: exec
          command: [`+script+`]
          env: {OUT: `+out+`}
          timeout: 2s
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	ns, send, err := buildNotifiers(cfg, &stdout, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 3 {
		t.Fatalf("targets %v", ns)
	}
	if _, ok := ns["g/webhook"].(*notify.Webhook); !ok {
		t.Errorf("g/webhook is %T", ns["g/webhook"])
	}
	if got := ns["g/exec"].(*notify.Exec).SendTimeout(); got != 2*time.Second {
		t.Errorf("exec timeout %s", got)
	}
	if send <= 45*time.Second {
		t.Errorf("SendTimeout %s does not exceed the longest channel timeout", send)
	}
	n := notify.Notification{ID: "a1", Status: store.StatusFiring, Attempt: 1, Sent: time.Now()}
	n.Alert.ID, n.Alert.Rule, n.Alert.Title = "a1", "bg.signin", "Break-glass account signed in"
	for _, target := range []string{"g/console", "g/exec"} {
		if err := ns[target].Notify(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
	}
	if !strings.Contains(stdout.String(), "FIRING Sev0 rule=bg.signin") {
		t.Errorf("console wrote %q", stdout.String())
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Contains(got, []byte(`"alert_id":"a1"`)) {
		t.Errorf("exec stdin = %s (%v)", got, err)
	}
}
