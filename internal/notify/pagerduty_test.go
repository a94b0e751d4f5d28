package notify

import (
	"net/http"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// PagerDuty: the documented Events API v2 event.
type pagerdutyDocEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Client      string `json:"client"`
	ClientURL   string `json:"client_url"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Group         string         `json:"group"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
	Images []any `json:"images"`
}

func TestPagerDutyRequestShape(t *testing.T) {
	c := chatCases()[2]
	a := fullAlert()
	a.Labels = map[string]string{"rule": a.Rule, "severity": "Sev0", "tenant": "contoso.onmicrosoft.com"}
	for _, tt := range []struct {
		golden, action string
		n              Notification
	}{
		{"pagerduty_firing.json", "trigger", firingNote(a)},
		{"pagerduty_resolved.json", "resolve", resolvedNote(a)},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			r, req, err := sendOnce(t, c, tt.n, func(_ int, w http.ResponseWriter, _ *http.Request) { c.accepted(w) })
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
			if req.Method != http.MethodPost || req.URL.Path != "/v2/enqueue" || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s (%s), want a JSON POST to /v2/enqueue", req.Method, req.URL.Path, r.header.Get("Content-Type"))
			}
			var ev pagerdutyDocEvent
			decodeStrict(t, r.body, &ev)
			if ev.RoutingKey != pagerdutyKey || ev.EventAction != tt.action || ev.DedupKey != a.ID {
				t.Errorf("routing_key %q event_action %q dedup_key %q, want the key, %s, %s", ev.RoutingKey, ev.EventAction, ev.DedupKey, tt.action, a.ID)
			}
			if tt.action == "resolve" {
				if ev.Payload != nil {
					t.Errorf("resolve carries a payload")
				}
				checkJSONGolden(t, tt.golden, r.body)
				return
			}
			p := ev.Payload
			if p == nil || p.Summary == "" || len(p.Summary) > 1024 || p.Source != "contoso.onmicrosoft.com" || p.Severity != "critical" {
				t.Fatalf("payload %+v, want summary (≤1024), source = tenant, severity critical", p)
			}
			if _, err := time.Parse(time.RFC3339Nano, p.Timestamp); err != nil {
				t.Errorf("timestamp %q: %v", p.Timestamp, err)
			}
			if p.CustomDetails["alert_id"] != a.ID || p.Component != a.AccountUPN || p.Group != a.Rule {
				t.Errorf("custom_details %v component %q group %q", p.CustomDetails, p.Component, p.Group)
			}
			m0, _ := ackRender(tt.n)
			if len(ev.Links) != 1 || ev.Links[0].Href != m0.AckURL || ev.Links[0].Text == "" {
				t.Errorf("links %+v, want the ack link", ev.Links)
			}
			checkJSONGolden(t, tt.golden, r.body)
		})
	}
}

// TestPagerDutySeverity maps every Azure severity, and nonsense to the
// worst rather than the mildest.
func TestPagerDutySeverity(t *testing.T) {
	for sev, want := range map[int]string{0: "critical", 1: "error", 2: "warning", 3: "info", 4: "info", 9: "critical", -1: "critical"} {
		if got := pagerdutySeverity(sev); got != want {
			t.Errorf("pagerdutySeverity(%d) = %q, want %q", sev, got, want)
		}
	}
}

// TestPagerDutyTimestamp: an event whose time could not be read is sent
// with the detection time, never a zero or ingest time posing as the
// event's.
func TestPagerDutyTimestamp(t *testing.T) {
	a := testAlert("t1")
	a.EventTimeUnknown = true
	a.Severity = alert.Sev2
	m, _ := RenderDefault(firingNote(a))
	ev := pagerdutyBody("k", Notification{Status: store.StatusFiring, Alert: a}, m)
	if ev.Payload.Timestamp != timestamp(a.Detected) || ev.Payload.Severity != "warning" || ev.Payload.Source != "breakglass" {
		t.Errorf("timestamp %q severity %q source %q", ev.Payload.Timestamp, ev.Payload.Severity, ev.Payload.Source)
	}
}
