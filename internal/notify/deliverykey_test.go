package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"breakglass/internal/notify/notifytest"
	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// TestDeliveryKey: one key per notification and channel, the same every
// time it is asked for, printable ASCII that an HTTP header carries as is
// whatever the group is called.
func TestDeliveryKey(t *testing.T) {
	hexDigest := regexp.MustCompile(`^h[0-9a-f]{24}$`)
	for _, tc := range []struct{ id, target, want string }{
		{"4f1c2d9e", "oncall/webhook", "4f1c2d9e.oncall/webhook"},
		{"4f1c2d9e-resolved", "managers/webhook", "4f1c2d9e-resolved.managers/webhook"},
		{"test-20260314T025107Z", "ops/sms", "test-20260314T025107Z.ops/sms"},
		// A group name with a space or letters outside ASCII becomes a
		// digest (want "").
		{"4f1c2d9e", "On call/webhook", ""},
		{"4f1c2d9e", "vakt-ø/webhook", ""},
	} {
		got := DeliveryKey(tc.id, tc.target)
		if tc.want != "" && got != tc.want {
			t.Errorf("DeliveryKey(%q, %q) = %q, want %q", tc.id, tc.target, got, tc.want)
		}
		if rest, ok := strings.CutPrefix(got, tc.id+"."); tc.want == "" && (!ok || !hexDigest.MatchString(rest)) {
			t.Errorf("DeliveryKey(%q, %q) = %q, want the id, a dot and a digest of the target", tc.id, tc.target, got)
		}
		if got != DeliveryKey(tc.id, tc.target) {
			t.Errorf("DeliveryKey(%q, %q) is not stable", tc.id, tc.target)
		}
		for _, r := range got {
			if r <= ' ' || r >= 0x7f {
				t.Errorf("DeliveryKey(%q, %q) = %q: not printable ASCII", tc.id, tc.target, got)
				break
			}
		}
	}
	for _, pair := range [][2]string{{"On call/webhook", "On-call/webhook"}, {"oncall/webhook", "managers/webhook"}} {
		if DeliveryKey("4f1c", pair[0]) == DeliveryKey("4f1c", pair[1]) {
			t.Errorf("channels %q and %q share a key", pair[0], pair[1])
		}
	}
}

// TestKeysPerChannelSameReceiver: two groups' channels into one receiver
// that dedupes on the provider's key, each sending the same alert twice (a
// retry after a lost answer). Webhooks (both schemas) and the SMS gateway
// carry the notification's key on that channel, so the receiver acts on
// each channel's delivery once and drops only the retries; the webhook
// body's id stays the notification's, the same on both channels.
// PagerDuty and Opsgenie keep the alert's key: into one service or account
// the second channel folds into the open incident (one incident per
// alert, which the acknowledgement webhooks map back), so the receiver
// acts once.
func TestKeysPerChannelSameReceiver(t *testing.T) {
	a := fullAlert()
	nid := NotificationID(a.ID, store.StatusFiring)
	webhook := func(schema string) func(string) ChannelConfig {
		return func(base string) ChannelConfig {
			return &WebhookConfig{URL: secret.Secret(base + "/hook"), Schema: schema}
		}
	}
	for _, tc := range []struct {
		name   string
		kind   notifytest.Kind
		config func(base string) ChannelConfig
		// acted is how many requests a deduping receiver acts on.
		acted int
	}{
		{"webhook-native", notifytest.Webhook, webhook(SchemaBreakglass), 2},
		{"webhook-common", notifytest.CommonSchema, webhook(SchemaCommon), 2},
		{"sms-gateway", notifytest.Gateway, func(base string) ChannelConfig {
			return &SMSConfig{Provider: "gateway", URL: secret.Secret(base + "/send"), To: []string{testTo1},
				Body: `{"id":{{json .ID}},"to":{{json .To}},"text":{{json .Body}}}`}
		}, 2},
		{"pagerduty", notifytest.PagerDuty, func(base string) ChannelConfig {
			return &PagerDutyConfig{RoutingKey: "R0123456789ABCDEF0123456789ABCDE", URL: base}
		}, 1},
		{"opsgenie", notifytest.Opsgenie, func(base string) ChannelConfig {
			return &OpsgenieConfig{APIKey: "og-api-key-0123", URL: base}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := notifytest.NewReceiver(tc.kind)
			t.Cleanup(rc.Close)
			// The common schema's key is its per-alert alertId; the
			// header is what a generic receiver dedupes on.
			headerKeyed := tc.kind == notifytest.Webhook || tc.kind == notifytest.CommonSchema
			for _, target := range []string{"oncall/" + tc.name, "managers/" + tc.name} {
				cfg := tc.config(rc.URL)
				cfg.Validate(func(field, msg string) { t.Fatalf("Validate: %s: %s", field, msg) })
				n, err := cfg.Build(BuildEnv{Target: target, Timeout: 2 * time.Second, Render: ackRender, HTTP: &http.Client{}})
				if err != nil {
					t.Fatal(err)
				}
				for attempt := 1; attempt <= 2; attempt++ {
					if err := n.Notify(context.Background(), Notification{ID: nid, Status: store.StatusFiring, Alert: a, Attempt: attempt, Sent: a.Detected}); err != nil {
						t.Fatalf("%s attempt %d: %v", target, attempt, err)
					}
				}
			}
			reqs := rc.Requests()
			if len(reqs) != 4 {
				t.Fatalf("%d requests, want 4", len(reqs))
			}
			keys := map[string]int{}
			for i, q := range reqs {
				k := q.Key
				if headerKeyed {
					k = q.Header.Get(IdempotencyHeader)
					target := "oncall/" + tc.name
					if i >= 2 {
						target = "managers/" + tc.name
					}
					if want := nid + "." + target; k != want {
						t.Errorf("request %d: %s %q, want %q", i, IdempotencyHeader, k, want)
					}
				}
				if k == "" {
					t.Fatalf("request %d carries no key:\n%s", i, q.Body)
				}
				keys[k]++
			}
			if len(keys) != tc.acted {
				t.Errorf("a receiver deduping on the key acts on %d of the 4 requests, want %d: %v", len(keys), tc.acted, keys)
			}
			for k, c := range keys {
				if c != 4/tc.acted {
					t.Errorf("key %q seen %d times, want %d (each retry under its delivery's key)", k, c, 4/tc.acted)
				}
			}
			if tc.kind == notifytest.Webhook {
				for i, q := range reqs {
					var body struct {
						ID string `json:"id"`
					}
					if err := json.Unmarshal(q.Body, &body); err != nil || body.ID != nid {
						t.Errorf("request %d: body id %q (%v), want the notification's %q on every channel", i, body.ID, err, nid)
					}
				}
			}
		})
	}
}
