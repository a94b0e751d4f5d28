package notify

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

func TestBuiltinChannelTypesRegistered(t *testing.T) {
	for _, name := range []string{ChannelConsole, ChannelExec, ChannelWebhook} {
		ct, ok := LookupChannel(name)
		if !ok || ct.Doc == "" || ct.New() == nil {
			t.Errorf("%s: registered %v, %+v", name, ok, ct)
		}
	}
	if !slices.IsSorted(ChannelTypes()) {
		t.Errorf("ChannelTypes not sorted: %v", ChannelTypes())
	}
	if ct, _ := LookupChannel(ChannelConsole); !ct.NoTimeout {
		t.Error("console takes a timeout")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering webhook twice did not panic")
		}
	}()
	RegisterChannel(ChannelType{Name: ChannelWebhook, New: func() ChannelConfig { return &WebhookConfig{} }})
}

// The console built through the registry writes today's line; without an
// output it is a build error, not a channel that drops alerts.
func TestConsoleThroughRegistry(t *testing.T) {
	ct, _ := LookupChannel(ChannelConsole)
	c := ct.New()
	c.Validate(func(f, m string) { t.Errorf("Validate: %s: %s", f, m) })
	if _, err := c.Build(BuildEnv{Target: "g/console"}); err == nil {
		t.Error("console without output built")
	}
	var out bytes.Buffer
	n, err := c.Build(BuildEnv{Target: "g/console", Stdout: &out, Now: func() time.Time { return time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), Notification{Status: store.StatusFiring, Alert: testAlert("c1")}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "2026-07-01T12:00:00Z FIRING Sev0 rule=bg.signin account=bg1@contoso.example") {
		t.Errorf("console wrote %q", out.String())
	}
}

func TestFieldKey(t *testing.T) {
	for _, tt := range []struct{ parent, key, want string }{
		{"headers", "X-Token", "headers.X-Token"},
		{"headers", "Bad Header", `headers["Bad Header"]`},
		{"env", "1X", `env["1X"]`},
		{"", "to", "to"},
		{"env", "", `env[""]`},
		{"m", strings.Repeat("é", 40), `m["` + strings.Repeat("é", 32) + `..."]`},
	} {
		if got := FieldKey(tt.parent, tt.key); got != tt.want {
			t.Errorf("FieldKey(%q, %q) = %q, want %q", tt.parent, tt.key, got, tt.want)
		}
	}
}
