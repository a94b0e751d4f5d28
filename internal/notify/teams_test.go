package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"breakglass/internal/alert"
	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// This file also holds the harness the chat and incident channel tests
// share (teams, slack, pagerduty, opsgenie): one case per channel, built
// from its configuration exactly as the daemon builds it.

// Fake credentials. Each is long and distinctive so that a leak into an
// error text cannot be a coincidence.
const (
	teamsSecretPath = "/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke"
	teamsSecretSig  = "S1g-teams-5ecret-0123456789"
	slackSecretPath = "/services/T0BREAK01/B0GLASS02/s3cretSlackPath0987"
	pagerdutyKey    = "R0UT1NGKEYs3cret9876543210abcdef"
	opsgenieKey     = "eb243592-faa2-4ba2-a551-1afdf5c3cr3t"
	testAckURL      = "https://bg.example/ack?alert=%s&exp=1782907200&sig=abcdef"
)

// chatCase is one channel under test.
type chatCase struct {
	name string
	// config returns the channel's configuration pointing at base (the
	// loopback receiver's URL).
	config func(base string) ChannelConfig
	// path is the request path the provider documents (firing).
	path string
	// secrets must never appear in an error.
	secrets []string
	// accepted writes the provider's documented success answer.
	accepted func(w http.ResponseWriter)
}

func chatCases() []chatCase {
	return []chatCase{
		{
			name: "teams",
			config: func(base string) ChannelConfig {
				return &TeamsConfig{URL: secret.Secret(base + teamsSecretPath + "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + teamsSecretSig)}
			},
			path:     teamsSecretPath,
			secrets:  []string{teamsSecretPath, teamsSecretSig},
			accepted: func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) },
		},
		{
			name:     "slack",
			config:   func(base string) ChannelConfig { return &SlackConfig{URL: secret.Secret(base + slackSecretPath)} },
			path:     slackSecretPath,
			secrets:  []string{slackSecretPath, "s3cretSlackPath0987"},
			accepted: func(w http.ResponseWriter) { w.Write([]byte("ok")) },
		},
		{
			name: "pagerduty",
			config: func(base string) ChannelConfig {
				return &PagerDutyConfig{URL: base, RoutingKey: pagerdutyKey}
			},
			path:    "/v2/enqueue",
			secrets: []string{pagerdutyKey},
			accepted: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusAccepted)
				w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"x"}`))
			},
		},
		{
			name: "opsgenie",
			config: func(base string) ChannelConfig {
				return &OpsgenieConfig{URL: base, APIKey: opsgenieKey, Tags: []string{"entra", "tier0"}}
			},
			path:    "/v2/alerts",
			secrets: []string{opsgenieKey},
			accepted: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusAccepted)
				w.Write([]byte(`{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`))
			},
		},
	}
}

// ackRender is the default rendering plus a signed ack link, as the
// daemon's renderer gives it.
func ackRender(n Notification) (Message, error) {
	m, err := RenderDefault(n)
	m.AckURL = strings.Replace(testAckURL, "%s", n.Alert.ID, 1)
	return m, err
}

// buildChat validates cfg (which must be clean) and builds it as the
// daemon does.
func buildChat(t *testing.T, cfg ChannelConfig, timeout time.Duration) Notifier {
	t.Helper()
	var probs []string
	cfg.Validate(func(field, msg string) { probs = append(probs, field+": "+msg) })
	if len(probs) > 0 {
		t.Fatalf("Validate: %v", probs)
	}
	n, err := cfg.Build(BuildEnv{Target: "ops/pager", Timeout: timeout, Render: ackRender})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if _, ok := n.(Bounded); !ok {
		t.Errorf("%T is not Bounded: the dispatcher would cut its sends at its own SendTimeout", n)
	}
	return n
}

func firingNote(a alert.Alert) Notification {
	return Notification{ID: NotificationID(a.ID, store.StatusFiring), Status: store.StatusFiring, Alert: a, Attempt: 1,
		Sent: time.Date(2026, 7, 1, 12, 0, 1, 0, time.UTC)}
}

func resolvedNote(a alert.Alert) Notification {
	return Notification{ID: NotificationID(a.ID, store.StatusResolved), Status: store.StatusResolved, Alert: a, Attempt: 2,
		Sent: time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC)}
}

// decodeStrict decodes body into v, refusing fields v does not declare:
// the test structs are written from the provider's documentation, so an
// undeclared (misspelt) field fails here.
func decodeStrict(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body does not match the documented shape: %v\n%s", err, body)
	}
}

// checkGolden compares the indented body with testdata/name.
func checkJSONGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, bytes.TrimSpace(body), "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("body differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, pretty.Bytes(), want)
	}
}

// sendOnce builds c against a receiver answering with respond and sends n.
func sendOnce(t *testing.T, c chatCase, n Notification, respond func(i int, w http.ResponseWriter, r *http.Request)) (captured, *http.Request, error) {
	t.Helper()
	var mu sync.Mutex
	var last *http.Request
	rc, srv := newReceiver(t, func(i int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = &http.Request{Method: r.Method, URL: r.URL}
		mu.Unlock()
		respond(i, w, r)
	})
	ch := buildChat(t, c.config(srv.URL), 2*time.Second)
	err := ch.Notify(context.Background(), n)
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver saw %d requests, want 1", len(reqs))
	}
	mu.Lock()
	defer mu.Unlock()
	return reqs[0], last, err
}

// assertNoSecrets fails if any secret shows in err.
func assertNoSecrets(t *testing.T, err error, secrets []string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks secret %q: %v", s, err)
		}
	}
}

// Teams: the documented Workflows webhook body.
type teamsDocMessage struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string  `json:"contentType"`
		ContentURL  *string `json:"contentUrl"`
		Content     struct {
			Schema  string            `json:"$schema"`
			Type    string            `json:"type"`
			Version string            `json:"version"`
			Body    []json.RawMessage `json:"body"`
			Actions []struct {
				Type  string `json:"type"`
				Title string `json:"title"`
				URL   string `json:"url"`
			} `json:"actions"`
			MSTeams struct {
				Width string `json:"width"`
			} `json:"msteams"`
		} `json:"content"`
	} `json:"attachments"`
}

type teamsDocElement struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Wrap     bool   `json:"wrap"`
	Weight   string `json:"weight"`
	Size     string `json:"size"`
	Color    string `json:"color"`
	Style    string `json:"style"`
	IsSubtle bool   `json:"isSubtle"`
	Facts    []struct {
		Title string `json:"title"`
		Value string `json:"value"`
	} `json:"facts"`
}

func TestTeamsRequestShape(t *testing.T) {
	c := chatCases()[0]
	for _, tt := range []struct {
		golden, color string
		n             Notification
	}{
		{"teams_firing.json", "Attention", firingNote(fullAlert())},
		{"teams_resolved.json", "Good", resolvedNote(fullAlert())},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			r, req, err := sendOnce(t, c, tt.n, func(_ int, w http.ResponseWriter, _ *http.Request) { c.accepted(w) })
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
			if req.Method != http.MethodPost || req.URL.Path != teamsSecretPath || req.URL.Query().Get("sig") != teamsSecretSig {
				t.Errorf("request %s %s?%s, want POST to the workflow URL with its sig", req.Method, req.URL.Path, req.URL.RawQuery)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var m teamsDocMessage
			decodeStrict(t, r.body, &m)
			if m.Type != "message" || len(m.Attachments) != 1 {
				t.Fatalf("type %q with %d attachments, want a message with one", m.Type, len(m.Attachments))
			}
			a := m.Attachments[0]
			if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" {
				t.Errorf("attachment %q / %q, want an Adaptive Card", a.ContentType, a.Content.Type)
			}
			if v := a.Content.Version; v != "1.4" && v != "1.5" {
				t.Errorf("card version %q, want 1.4 or 1.5", v)
			}
			if len(a.Content.Body) != 2 {
				t.Fatalf("card body has %d elements, want title and facts", len(a.Content.Body))
			}
			var title, facts teamsDocElement
			decodeStrict(t, a.Content.Body[0], &title)
			decodeStrict(t, a.Content.Body[1], &facts)
			m0, _ := ackRender(tt.n)
			if title.Type != "TextBlock" || title.Text != m0.Subject || title.Color != tt.color || !title.Wrap {
				t.Errorf("title %+v, want a wrapped TextBlock %q in %s", title, m0.Subject, tt.color)
			}
			if facts.Type != "FactSet" || len(facts.Facts) != len(m0.Fields) {
				t.Fatalf("facts %+v, want a FactSet of %d", facts, len(m0.Fields))
			}
			for i, f := range m0.Fields {
				if facts.Facts[i].Title != f.Label || facts.Facts[i].Value != strings.ReplaceAll(f.Value, "](", "]\u200b(") {
					t.Errorf("fact %d = %+v, want %+v", i, facts.Facts[i], f)
				}
			}
			if len(a.Content.Actions) != 1 || a.Content.Actions[0].Type != "Action.OpenUrl" || a.Content.Actions[0].URL != m0.AckURL {
				t.Errorf("actions %+v, want one Action.OpenUrl to %s", a.Content.Actions, m0.AckURL)
			}
			checkJSONGolden(t, tt.golden, r.body)
		})
	}
}

func TestTeamsColor(t *testing.T) {
	for _, tt := range []struct {
		sev    int
		status string
		want   string
	}{
		{0, store.StatusFiring, "Attention"}, {1, store.StatusFiring, "Attention"}, {2, store.StatusFiring, "Warning"},
		{3, store.StatusFiring, "Accent"}, {4, store.StatusFiring, "Accent"}, {0, store.StatusResolved, "Good"},
		{-1, store.StatusFiring, "Attention"},
	} {
		if got := teamsColor(Message{Severity: tt.sev, Status: tt.status}); got != tt.want {
			t.Errorf("teamsColor(Sev%d %s) = %s, want %s", tt.sev, tt.status, got, tt.want)
		}
	}
}

// TestTeamsConnectorURLsRefused: retired Office 365 connector URLs fail
// validation with an error that says so and what to use, and never repeats
// the URL; Workflows URLs pass.
func TestTeamsConnectorURLsRefused(t *testing.T) {
	for _, tt := range []struct {
		url     string
		refused bool
	}{
		{"https://contoso.webhook.office.com/webhookb2/1111-2222@3333/IncomingWebhook/abcS3CRET/4444", true},
		{"https://CONTOSO.Webhook.Office.com/webhookb2/x/IncomingWebhook/abcS3CRET/y", true},
		{"https://outlook.office.com/webhook/1111@2222/IncomingWebhook/abcS3CRET/3333", true},
		{"https://outlook.office365.com/webhook/1111@2222/IncomingWebhook/abcS3CRET/3333", true},
		{"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S3CRET", false},
		{"https://default1234.56.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?sig=S3CRET", false},
		{"https://contoso.webhook.office.com/other/S3CRET", false},
	} {
		var probs []string
		cfg := &TeamsConfig{URL: secret.Secret(tt.url)}
		cfg.Validate(func(field, msg string) { probs = append(probs, field+": "+msg) })
		_, berr := cfg.Build(BuildEnv{Target: "ops/teams"})
		if !tt.refused {
			if len(probs) > 0 || berr != nil {
				t.Errorf("%s: refused: %v %v", tt.url, probs, berr)
			}
			continue
		}
		if len(probs) != 1 || !strings.HasPrefix(probs[0], "url: ") || !strings.Contains(probs[0], "retired") || !strings.Contains(probs[0], "Workflows") {
			t.Errorf("%s: problems %q, want one url problem saying connectors are retired and to use Workflows", tt.url, probs)
		}
		if berr == nil || !strings.Contains(berr.Error(), "retired") {
			t.Errorf("%s: Build error %v, want retired", tt.url, berr)
		}
		for _, p := range append(probs, errString(berr)) {
			if strings.Contains(p, "S3CRET") || strings.Contains(p, "1111") {
				t.Errorf("message repeats the URL: %s", p)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestTeamsTextNoLinks: a Markdown link in alert text is broken, so a
// crafted app name cannot put a clickable link on the card; UPNs with "_"
// are left alone.
func TestTeamsTextNoLinks(t *testing.T) {
	if got := teamsText("[Reset your MFA](https://evil.example)"); strings.Contains(got, "](") {
		t.Errorf("link survives: %q", got)
	}
	if got := teamsText("bg_1@contoso.example"); got != "bg_1@contoso.example" {
		t.Errorf("UPN changed: %q", got)
	}
}

// TestChatConfigValidation covers every channel's configuration rules:
// required fields, bad URLs, keys with line breaks, Opsgenie's tag limits,
// and the defaults Validate applies. No message repeats a secret.
func TestChatConfigValidation(t *testing.T) {
	many := make([]string, 18)
	for i := range many {
		many[i] = "t" + string(rune('a'+i))
	}
	tests := []struct {
		name string
		cfg  ChannelConfig
		want []string // "field: substring"
	}{
		{"teams empty", &TeamsConfig{}, []string{"url: required"}},
		{"teams ftp", &TeamsConfig{URL: "ftp://x.example/S3CRET"}, []string{"url: URL scheme must be http or https"}},
		{"slack empty", &SlackConfig{}, []string{"url: required"}},
		{"slack no host", &SlackConfig{URL: "https:///services/S3CRET"}, []string{"url: URL has no host"}},
		{"slack ok", &SlackConfig{URL: "https://hooks.slack.com/services/T/B/S3CRET"}, nil},
		{"pagerduty empty", &PagerDutyConfig{}, []string{"routing_key: required"}},
		{"pagerduty newline", &PagerDutyConfig{RoutingKey: "S3CRETS3CRET\n"}, []string{"routing_key: contains a space"}},
		{"pagerduty bad url", &PagerDutyConfig{RoutingKey: "S3CRET", URL: "events.pagerduty.com"}, []string{"url: URL scheme"}},
		{"pagerduty ok", &PagerDutyConfig{RoutingKey: "S3CRET"}, nil},
		{"opsgenie empty", &OpsgenieConfig{}, []string{"api_key: required"}},
		{"opsgenie space", &OpsgenieConfig{APIKey: "GenieKey S3CRET"}, []string{"api_key: contains a space"}},
		{"opsgenie tags", &OpsgenieConfig{APIKey: "S3CRET", Tags: append(many, "", strings.Repeat("x", 51))},
			[]string{"tags: at most 17", "tags[18]: empty", "tags[19]: longer than"}},
		{"opsgenie eu", &OpsgenieConfig{APIKey: "S3CRET", URL: "https://api.eu.opsgenie.com"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probs []string
			tt.cfg.Validate(func(field, msg string) { probs = append(probs, field+": "+msg) })
			if len(probs) != len(tt.want) {
				t.Fatalf("problems %q, want %d like %q", probs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(probs[i], w) && !strings.Contains(probs[i], w) {
					t.Errorf("problem %d = %q, want %q", i, probs[i], w)
				}
				if strings.Contains(probs[i], "S3CRET") {
					t.Errorf("problem repeats the secret: %q", probs[i])
				}
			}
		})
	}
	// Defaults are applied by Validate, so config check prints them.
	pd := &PagerDutyConfig{RoutingKey: "k"}
	pd.Validate(func(string, string) {})
	og := &OpsgenieConfig{APIKey: "k"}
	og.Validate(func(string, string) {})
	if pd.URL != DefaultPagerDutyURL || og.URL != DefaultOpsgenieURL {
		t.Errorf("defaults: pagerduty %q, opsgenie %q", pd.URL, og.URL)
	}
}

// TestChatChannelsRegistered: each type is found by its config name and
// makes its own config struct.
func TestChatChannelsRegistered(t *testing.T) {
	for name, want := range map[string]ChannelConfig{
		"teams": &TeamsConfig{}, "slack": &SlackConfig{}, "pagerduty": &PagerDutyConfig{}, "opsgenie": &OpsgenieConfig{},
	} {
		ct, ok := LookupChannel(name)
		if !ok {
			t.Errorf("%s not registered", name)
			continue
		}
		if got := ct.New(); fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) || ct.Doc == "" {
			t.Errorf("%s: New() = %T, Doc %q", name, got, ct.Doc)
		}
	}
}

// idempotencyKey is the key each provider dedupes on, read from a request
// body: PagerDuty's dedup_key, Opsgenie's alias; Teams and Slack have none.
func idempotencyKey(t *testing.T, channel string, body []byte) string {
	t.Helper()
	var v struct {
		DedupKey string `json:"dedup_key"`
		Alias    string `json:"alias"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s body: %v", channel, err)
	}
	return v.DedupKey + v.Alias
}

// TestChatRetriedUntilDelivered runs the dispatcher against each channel's
// loopback receiver failing three times (503, 429 with Retry-After, a
// 500 with an echo of the request): the delivery completes on the fourth
// try, every try carries the same body and idempotency key (a receiver
// deduping on it sees one alert), and no credential reaches the stored
// errors or the log.
func TestChatRetriedUntilDelivered(t *testing.T) {
	for _, c := range chatCases() {
		t.Run(c.name, func(t *testing.T) {
			rc, srv := newReceiver(t, func(i int, w http.ResponseWriter, r *http.Request) {
				switch i {
				case 0:
					w.WriteHeader(http.StatusServiceUnavailable)
				case 1:
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusTooManyRequests)
				case 2:
					w.WriteHeader(http.StatusInternalServerError)
					fmt.Fprintf(w, "%s %s auth=%s", r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"))
				default:
					c.accepted(w)
				}
			})
			ch := buildChat(t, c.config(srv.URL), 2*time.Second)
			ob := newFakeOutbox()
			target := "ops/" + c.name
			id := ob.add(fullAlert(), store.StatusFiring, target, time.Now())
			log, logs := testLogger(t)
			d := NewDispatcher(ob, map[string]Notifier{target: ch}, Options{
				Logger: log, Poll: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
			})
			start(t, d)
			if got := wait(t, ob.complete, "completion"); got != id {
				t.Fatalf("completed %d, want %d", got, id)
			}
			reqs := rc.requests()
			if len(reqs) != 4 {
				t.Fatalf("receiver saw %d requests, want 4", len(reqs))
			}
			seen := map[string]int{}
			for i, r := range reqs {
				if !bytes.Equal(r.body, reqs[0].body) {
					t.Errorf("try %d sent a different body:\n%s\nfirst:\n%s", i+1, r.body, reqs[0].body)
				}
				seen[idempotencyKey(t, c.name, r.body)]++
			}
			if c.name == "pagerduty" || c.name == "opsgenie" {
				if len(seen) != 1 || seen[fullAlert().ID] != 4 {
					t.Errorf("idempotency keys %v, want the alert id on every try", seen)
				}
			}
			ob.mu.Lock()
			retries := ob.retries
			ob.mu.Unlock()
			if len(retries) != 3 || !strings.Contains(retries[0].LastErr, "HTTP 503") || !strings.Contains(retries[1].LastErr, "HTTP 429") {
				t.Errorf("retries recorded: %+v", retries)
			}
			for _, s := range c.secrets {
				if strings.Contains(logs.String(), s) {
					t.Errorf("log leaks %q", s)
				}
				for _, r := range retries {
					if strings.Contains(r.LastErr, s) {
						t.Errorf("stored error leaks %q: %s", s, r.LastErr)
					}
				}
			}
		})
	}
}

// TestChatTimeout: a receiver that never answers costs one timeout, not a
// hang, and the error is retryable and says so.
func TestChatTimeout(t *testing.T) {
	for _, c := range chatCases() {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			defer close(release)
			ch := buildChat(t, c.config(srv.URL), 150*time.Millisecond)
			if got := ch.(Bounded).SendTimeout(); got != 150*time.Millisecond {
				t.Errorf("SendTimeout %s, want the configured 150ms", got)
			}
			begin := time.Now()
			err := ch.Notify(context.Background(), firingNote(fullAlert()))
			took := time.Since(begin)
			if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "no response within 150ms") {
				t.Fatalf("err = %v, want a retryable timeout", err)
			}
			if took > 2*time.Second {
				t.Errorf("took %s", took)
			}
			assertNoSecrets(t, err, c.secrets)
		})
	}
}

// chatOutcome is how a send ended.
type chatOutcome int

const (
	outDelivered chatOutcome = iota
	outRetry
	outPermanent
)

func outcomeOf(err error) chatOutcome {
	switch {
	case err == nil:
		return outDelivered
	case IsPermanent(err):
		return outPermanent
	}
	return outRetry
}

// TestChatVerdicts: each provider's answers, from its documentation and
// from things that are not the provider (a proxy's 200, an empty 202),
// classified fail-closed: delivered only on the provider's own success.
// Every error is checked for the secrets the request carried, since some
// answers echo the request back.
func TestChatVerdicts(t *testing.T) {
	type answer struct {
		status     int
		body       string
		retryAfter string
		want       chatOutcome
		wantText   string
	}
	echo := "{{echo}}"
	tests := map[string][]answer{
		"teams": {
			{202, "", "", outDelivered, ""},
			{200, "", "", outDelivered, ""},
			{204, "", "", outPermanent, "not a Workflows webhook answer"},
			{400, `{"error":{"code":"TriggerInputSchemaMismatch","message":"The input body does not match"}}`, "", outPermanent, "TriggerInputSchemaMismatch"},
			{401, echo, "", outPermanent, "HTTP 401"},
			{404, "", "", outPermanent, "HTTP 404 Not Found: the workflow was deleted"},
			{429, "", "30", outRetry, "HTTP 429"},
			{502, echo, "", outRetry, "HTTP 502"},
			{302, "", "", outPermanent, "HTTP 302"},
		},
		"slack": {
			{200, "ok", "", outDelivered, ""},
			{200, "ok\n", "", outDelivered, ""},
			{200, "", "", outRetry, "without Slack's \"ok\""},
			{200, "<html>portal</html>" + echo, "", outRetry, "without Slack's \"ok\""},
			{400, "invalid_payload", "", outPermanent, "invalid_payload"},
			{404, "no_service", "", outPermanent, "create a new incoming webhook"},
			{404, "channel_not_found", "", outPermanent, "channel"},
			{410, "channel_is_archived", "", outPermanent, "archived"},
			{403, "action_prohibited", "", outPermanent, "action_prohibited"},
			{403, echo, "", outPermanent, "HTTP 403"},
			{429, "rate_limited", "5", outRetry, "HTTP 429"},
			{500, "rollup_error", "", outRetry, "HTTP 500"},
			{503, "no_service", "", outRetry, "HTTP 503"},
		},
		"pagerduty": {
			{202, `{"status":"success","message":"Event processed","dedup_key":"a"}`, "", outDelivered, ""},
			{202, ``, "", outRetry, "without PagerDuty's status"},
			{202, `{"status":"invalid event"}` + echo, "", outRetry, "without PagerDuty's status"},
			{200, `{"status":"success"}`, "", outPermanent, "not the Events API's 202"},
			{400, `{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is invalid: ` + pagerdutyKey + `"]}`, "", outPermanent, "Event object is invalid"},
			{400, echo, "", outPermanent, "if it names routing_key"},
			{429, `{"status":"throttle event","message":"Requests for this service are arriving too quickly."}`, "10", outRetry, "HTTP 429"},
			{500, "", "", outRetry, "HTTP 500"},
		},
		"opsgenie": {
			{202, `{"result":"Request will be processed","took":0.1,"requestId":"r-1"}`, "", outDelivered, ""},
			{202, `{"result":"Request will be processed"}`, "", outRetry, "without Opsgenie's requestId"},
			{202, `not json` + echo, "", outRetry, "without Opsgenie's requestId"},
			{201, `{"requestId":"r"}`, "", outPermanent, "not the Alert API's 202"},
			{401, `{"message":"Key format is not valid! ` + opsgenieKey + `","took":0.0,"requestId":"r"}`, "", outPermanent, "check api_key"},
			{422, `{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.0,"requestId":"r"}`, "", outPermanent, "Message can not be empty"},
			{429, `{"message":"You are making too many requests!","took":0.0,"requestId":"r"}`, "3", outRetry, "HTTP 429"},
			{503, echo, "", outRetry, "HTTP 503"},
		},
	}
	for _, c := range chatCases() {
		for i, a := range tests[c.name] {
			t.Run(fmt.Sprintf("%s/%d_%d", c.name, i, a.status), func(t *testing.T) {
				_, _, err := sendOnce(t, c, firingNote(fullAlert()), func(_ int, w http.ResponseWriter, r *http.Request) {
					body := a.body
					if strings.Contains(body, echo) {
						raw, _ := io.ReadAll(r.Body)
						body = strings.ReplaceAll(body, echo, r.URL.String()+" "+r.Header.Get("Authorization")+" "+string(raw))
					}
					if a.retryAfter != "" {
						w.Header().Set("Retry-After", a.retryAfter)
					}
					w.WriteHeader(a.status)
					io.WriteString(w, body)
				})
				if got := outcomeOf(err); got != a.want {
					t.Fatalf("outcome %d (err %v), want %d", got, err, a.want)
				}
				if a.wantText != "" && !strings.Contains(errString(err), a.wantText) {
					t.Errorf("error %q lacks %q", errString(err), a.wantText)
				}
				if a.retryAfter != "" {
					if d, ok := RetryAfter(err); !ok || d.String() != a.retryAfter+"s" {
						t.Errorf("RetryAfter = %s %v, want %ss", d, ok, a.retryAfter)
					}
				}
				assertNoSecrets(t, err, c.secrets)
				if err != nil && !strings.HasPrefix(err.Error(), c.name+` "ops/pager": POST http://127.0.0.1:`) {
					t.Errorf("error %q does not start with the channel, method and host", err)
				}
			})
		}
	}
}

// chatForFuzz builds the four channels against a URL nothing listens on:
// the fuzz targets call their verdicts and body builders directly.
func chatForFuzz(t testing.TB) map[string]Notifier {
	out := map[string]Notifier{}
	for _, c := range chatCases() {
		n, err := c.config("http://127.0.0.1:9").Build(BuildEnv{Target: "ops/pager", Render: ackRender})
		if err != nil {
			t.Fatal(err)
		}
		out[c.name] = n
	}
	return out
}

// FuzzChatVerdicts: any answer (status, body) is judged without a panic,
// counts as delivered only under the provider's own success rule, and
// never puts a configured secret into the error, however the body echoes
// it.
func FuzzChatVerdicts(f *testing.F) {
	f.Add(202, []byte(`{"status":"success"}`))
	f.Add(202, []byte(`{"requestId":"r"}`))
	f.Add(200, []byte("ok"))
	f.Add(400, []byte("invalid_payload"))
	f.Add(401, []byte(`{"message":"bad `+opsgenieKey+`","errors":{"k":"`+pagerdutyKey+`"}}`))
	f.Add(500, []byte(`{"error":{"code":"x","message":"`+teamsSecretSig+`"}}`))
	f.Add(202, []byte(strings.Repeat("a", 190)+pagerdutyKey))
	chans := chatForFuzz(f)
	secrets := map[string][]string{}
	for _, c := range chatCases() {
		secrets[c.name] = c.secrets // each channel scrubs its own
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp := &HTTPResponse{StatusCode: status, Header: http.Header{"Retry-After": {"3"}}, Body: body}
		answer := strings.TrimSpace(string(body))
		var pd pagerdutyResponse
		pdOK := json.Unmarshal(body, &pd) == nil && pd.Status == "success"
		var og opsgenieResponse
		ogOK := json.Unmarshal(body, &og) == nil && og.RequestID != ""
		for name, want := range map[string]bool{
			"teams":     status == 200 || status == 202,
			"slack":     status == 200 && answer == "ok",
			"pagerduty": status == 202 && pdOK,
			"opsgenie":  status == 202 && ogOK,
		} {
			var err error
			switch n := chans[name].(type) {
			case *Teams:
				err = n.verdict(resp)
			case *Slack:
				err = n.verdict(resp)
			case *PagerDuty:
				err = n.verdict(resp)
			case *Opsgenie:
				err = n.verdict(n.base, resp)
			}
			if (err == nil) != want {
				t.Fatalf("%s: status %d body %q: err %v, want delivered=%v", name, status, body, err, want)
			}
			assertNoSecrets(t, err, secrets[name])
		}
	})
}

// FuzzChatBodies: hostile alert text (any bytes, any length) always gives
// valid JSON within each provider's documented limits.
func FuzzChatBodies(f *testing.F) {
	f.Add("[x](http://evil) <!channel> & é", "v", 0)
	f.Add(strings.Repeat("ü", 3000), strings.Repeat("<&>", 3000), 9)
	f.Add("\xff\xfe", "\x00", -1)
	f.Fuzz(func(t *testing.T, subject, value string, sev int) {
		m := Message{Subject: subject, Text: value, Severity: sev, Status: store.StatusFiring, AckURL: "https://bg.example/a?x=1&y=2"}
		for i := range 12 {
			m.Fields = append(m.Fields, Field{Label: subject + string(rune('a'+i)), Value: value})
		}
		a := testAlert("fz")
		a.Rule, a.AccountUPN = subject, value
		n := Notification{Status: store.StatusFiring, Alert: a}
		sl := slackBody(m)
		og := opsgenieCreate(n, m, []string{value})
		pd := pagerdutyBody("k", n, m)
		for name, v := range map[string]any{"teams": teamsBody(m), "slack": sl, "opsgenie": og, "pagerduty": pd} {
			b, err := chatJSON(v)
			if err != nil || !json.Valid(b) {
				t.Fatalf("%s: invalid JSON (%v): %s", name, err, b)
			}
		}
		if n := utf8.RuneCountInString(sl.Blocks[0].(slackHeader).Text.Text); n > slackHeaderMax {
			t.Fatalf("slack header %d runes", n)
		}
		if n := utf8.RuneCountInString(og.Message); n > opsgenieMessageMax {
			t.Fatalf("opsgenie message %d runes", n)
		}
		total := 0
		for k, v := range og.Details {
			total += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
		}
		if total > opsgenieDetailsMax || len(og.Tags) > opsgenieTagsMax {
			t.Fatalf("opsgenie details %d chars, %d tags", total, len(og.Tags))
		}
		if n := utf8.RuneCountInString(pd.Payload.Summary); n > pagerdutySummaryMax {
			t.Fatalf("pagerduty summary %d runes", n)
		}
	})
}
