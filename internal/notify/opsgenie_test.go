package notify

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"breakglass/internal/alert"
)

// Opsgenie: the documented Alert API v2 create and close requests.
type opsgenieDocAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description"`
	Responders  []any             `json:"responders"`
	VisibleTo   []any             `json:"visibleTo"`
	Actions     []string          `json:"actions"`
	Tags        []string          `json:"tags"`
	Details     map[string]string `json:"details"`
	Entity      string            `json:"entity"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
	User        string            `json:"user"`
	Note        string            `json:"note"`
}

type opsgenieDocClose struct {
	User   string `json:"user"`
	Source string `json:"source"`
	Note   string `json:"note"`
}

func TestOpsgenieRequestShape(t *testing.T) {
	c := chatCases()[3]
	a := fullAlert()
	t.Run("opsgenie_firing.json", func(t *testing.T) {
		r, req, err := sendOnce(t, c, firingNote(a), func(_ int, w http.ResponseWriter, _ *http.Request) { c.accepted(w) })
		if err != nil {
			t.Fatalf("Notify: %v", err)
		}
		if req.Method != http.MethodPost || req.URL.Path != "/v2/alerts" || req.URL.RawQuery != "" {
			t.Errorf("request %s %s?%s, want POST /v2/alerts", req.Method, req.URL.Path, req.URL.RawQuery)
		}
		if got := r.header.Get("Authorization"); got != "GenieKey "+opsgenieKey {
			t.Errorf("Authorization %q, want GenieKey <key>", got)
		}
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
		}
		var og opsgenieDocAlert
		decodeStrict(t, r.body, &og)
		m0, _ := ackRender(firingNote(a))
		if og.Alias != a.ID || og.Priority != "P1" || og.Message == "" || utf8.RuneCountInString(og.Message) > 130 {
			t.Errorf("alias %q priority %q message %q (%d runes), want alias = alert id, P1, ≤130", og.Alias, og.Priority, og.Message, utf8.RuneCountInString(og.Message))
		}
		if !strings.Contains(og.Description, m0.AckURL) || og.Details["Acknowledge"] != m0.AckURL || og.Details["alert_id"] != a.ID {
			t.Errorf("description/details lack the ack link or id: %q %v", og.Description, og.Details)
		}
		if strings.Join(og.Tags, ",") != "breakglass,bg.signin,Sev0,entra,tier0" || og.Entity != a.AccountUPN || og.Source != "breakglass" {
			t.Errorf("tags %v entity %q source %q", og.Tags, og.Entity, og.Source)
		}
		checkJSONGolden(t, "opsgenie_firing.json", r.body)
	})
	t.Run("opsgenie_resolved.json", func(t *testing.T) {
		r, req, err := sendOnce(t, c, resolvedNote(a), func(_ int, w http.ResponseWriter, _ *http.Request) { c.accepted(w) })
		if err != nil {
			t.Fatalf("Notify: %v", err)
		}
		if req.Method != http.MethodPost || req.URL.Path != "/v2/alerts/"+a.ID+"/close" || req.URL.Query().Get("identifierType") != "alias" {
			t.Errorf("request %s %s?%s, want POST /v2/alerts/{alias}/close?identifierType=alias", req.Method, req.URL.Path, req.URL.RawQuery)
		}
		if got := r.header.Get("Authorization"); got != "GenieKey "+opsgenieKey {
			t.Errorf("Authorization %q", got)
		}
		var cl opsgenieDocClose
		decodeStrict(t, r.body, &cl)
		if cl.Source != "breakglass" || !strings.HasPrefix(cl.Note, "[RESOLVED") {
			t.Errorf("close %+v", cl)
		}
		checkJSONGolden(t, "opsgenie_resolved.json", r.body)
	})
}

// TestOpsgenieAliasEscaped: an id with URL metacharacters stays one path
// segment of the close URL.
func TestOpsgenieAliasEscaped(t *testing.T) {
	got := opsgenieCloseURL("https://api.opsgenie.com/v2/alerts", "a/b?c#d")
	if want := "https://api.opsgenie.com/v2/alerts/a%2Fb%3Fc%23d/close?identifierType=alias"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestOpsgeniePriority(t *testing.T) {
	for sev, want := range map[int]string{0: "P1", 1: "P2", 2: "P3", 3: "P4", 4: "P5", 7: "P1", -2: "P1"} {
		if got := opsgeniePriority(sev); got != want {
			t.Errorf("opsgeniePriority(%d) = %s, want %s", sev, got, want)
		}
	}
}

// TestOpsgenieLimits: an alert with huge text still fits every documented
// limit (message 130, description 15000, details 8000 in all, tags 20 of
// 50), and the ids and ack link survive the cut.
func TestOpsgenieLimits(t *testing.T) {
	a := testAlert("lim")
	a.Severity = alert.Sev3
	a.Rule = strings.Repeat("r", 80)
	long := strings.Repeat("ü", 20000)
	m := Message{Subject: long, Text: long, Severity: 3, AckURL: "https://bg.example/ack"}
	for i := range 40 {
		m.Fields = append(m.Fields, Field{Label: "field" + string(rune('A'+i)), Value: long[:3000]})
	}
	extra := make([]string, 30)
	for i := range extra {
		extra[i] = "tag" + string(rune('a'+i))
	}
	og := opsgenieCreate(Notification{Alert: a}, m, extra)
	if n := utf8.RuneCountInString(og.Message); n > opsgenieMessageMax {
		t.Errorf("message %d runes", n)
	}
	if n := utf8.RuneCountInString(og.Description); n > opsgenieDescriptionMax {
		t.Errorf("description %d runes", n)
	}
	total := 0
	for k, v := range og.Details {
		total += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
	}
	if total > opsgenieDetailsMax || og.Details["alert_id"] != "lim" || og.Details["Acknowledge"] != m.AckURL {
		t.Errorf("details total %d (limit %d), alert_id %q, ack %q", total, opsgenieDetailsMax, og.Details["alert_id"], og.Details["Acknowledge"])
	}
	if len(og.Tags) > opsgenieTagsMax || og.Priority != "P4" {
		t.Errorf("%d tags, priority %s", len(og.Tags), og.Priority)
	}
	for _, tg := range og.Tags {
		if utf8.RuneCountInString(tg) > opsgenieTagMax {
			t.Errorf("tag %q over %d", tg, opsgenieTagMax)
		}
	}
}
