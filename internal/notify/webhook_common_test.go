package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// buildWebhook builds a webhook the way the daemon does: through the
// registry, after Validate.
func buildWebhook(t *testing.T, c *WebhookConfig, now func() time.Time) Notifier {
	t.Helper()
	ct, ok := LookupChannel(ChannelWebhook)
	if !ok {
		t.Fatal("webhook not registered")
	}
	if _, ok := ct.New().(*WebhookConfig); !ok {
		t.Fatalf("webhook New returns %T", ct.New())
	}
	c.Validate(func(field, msg string) { t.Fatalf("Validate: %s: %s", field, msg) })
	n, err := c.Build(BuildEnv{Target: "oncall/webhook", Timeout: 2 * time.Second, HTTP: &http.Client{}, Now: now})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return n
}

// TestWebhookCommonSchemaGolden: the default body is the Common Alert
// Schema, for a firing and a resolved alert. The receiver decodes it
// strictly into a struct written from Azure's documented field names, so
// a renamed field fails here and not in a customer's Logic App.
func TestWebhookCommonSchemaGolden(t *testing.T) {
	sent := time.Date(2026, 7, 1, 12, 0, 1, 250000000, time.UTC)
	firing := fullAlert()
	firing.Labels = map[string]string{"rule": "bg.signin", "severity": "Sev0", "tenant": "contoso.onmicrosoft.com"}
	resolved := testAlert("5a5a")
	resolved.Rule = "bg.silence"
	resolved.Severity = alert.Sev1
	resolved.Title = "No sign-in log records for 30m"
	resolved.AccountID, resolved.AccountUPN = "", ""
	tests := []struct {
		golden    string
		n         Notification
		condition string
		key       string // Idempotency-Key: the notification on this channel
	}{
		{"common_firing.json", Notification{ID: NotificationID(firing.ID, store.StatusFiring), Status: store.StatusFiring, Alert: firing, Attempt: 1, Sent: sent}, "Fired",
			firing.ID + ".oncall/webhook"},
		{"common_resolved.json", Notification{ID: NotificationID("5a5a", store.StatusResolved), Status: store.StatusResolved, Alert: resolved, Attempt: 2, Sent: sent}, "Resolved",
			"5a5a-resolved.oncall/webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			rc, srv := newReceiver(t, nil)
			w := buildWebhook(t, &WebhookConfig{URL: secret.Secret(srv.URL + "/hook")}, func() time.Time { return sent })
			if err := w.Notify(context.Background(), tt.n); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			r := rc.requests()[0]
			if got := r.header.Get(IdempotencyHeader); got != tt.key {
				t.Errorf("%s = %q, want the notification's on this channel %q", IdempotencyHeader, got, tt.key)
			}
			if r.header.Get(SignatureHeader) != "" || r.header.Get(TimestampHeader) != "" {
				t.Errorf("unsigned webhook sent signature headers: %v", r.header)
			}
			// Azure's field names, as the reference documents them.
			var body struct {
				SchemaID string `json:"schemaId"`
				Data     struct {
					Essentials struct {
						AlertID             string   `json:"alertId"`
						AlertRule           string   `json:"alertRule"`
						Severity            string   `json:"severity"`
						SignalType          string   `json:"signalType"`
						MonitorCondition    string   `json:"monitorCondition"`
						MonitoringService   string   `json:"monitoringService"`
						AlertTargetIDs      []string `json:"alertTargetIDs"`
						ConfigurationItems  []string `json:"configurationItems"`
						OriginAlertID       string   `json:"originAlertId"`
						FiredDateTime       string   `json:"firedDateTime"`
						ResolvedDateTime    string   `json:"resolvedDateTime"`
						Description         string   `json:"description"`
						EssentialsVersion   string   `json:"essentialsVersion"`
						AlertContextVersion string   `json:"alertContextVersion"`
					} `json:"essentials"`
					AlertContext     json.RawMessage  `json:"alertContext"`
					CustomProperties *json.RawMessage `json:"customProperties"`
				} `json:"data"`
			}
			dec := json.NewDecoder(bytes.NewReader(r.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				t.Fatalf("body is not the Common Alert Schema: %v\n%s", err, r.body)
			}
			e := body.Data.Essentials
			if body.SchemaID != "azureMonitorCommonAlertSchema" || e.MonitorCondition != tt.condition || e.SignalType != "Log" ||
				e.Severity != "Sev"+strconv.Itoa(int(tt.n.Alert.Severity)) || e.AlertRule != tt.n.Alert.Rule ||
				!strings.HasSuffix(e.AlertID, "/alerts/"+tt.n.Alert.ID) || e.EssentialsVersion != "1.0" || e.AlertContextVersion != "1.0" {
				t.Errorf("essentials = %+v", e)
			}
			// Both arrays are always there (empty for an alert about no
			// account), as in Microsoft's samples; customProperties is
			// null.
			if e.AlertTargetIDs == nil || e.ConfigurationItems == nil || !bytes.Contains(r.body, []byte(`"customProperties":null`)) {
				t.Errorf("alertTargetIDs %v, configurationItems %v, or customProperties missing:\n%s", e.AlertTargetIDs, e.ConfigurationItems, r.body)
			}
			if (e.ResolvedDateTime != "") != (tt.condition == "Resolved") {
				t.Errorf("resolvedDateTime = %q for %s", e.ResolvedDateTime, tt.condition)
			}
			var ctx struct {
				ConditionType string `json:"conditionType"`
				Payload
			}
			cdec := json.NewDecoder(bytes.NewReader(body.Data.AlertContext))
			cdec.DisallowUnknownFields()
			if err := cdec.Decode(&ctx); err != nil || ctx.ConditionType != CommonAlertConditionType || ctx.ID != tt.n.ID {
				t.Errorf("alertContext = %s (%v)", body.Data.AlertContext, err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, bytes.TrimSpace(r.body), "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", tt.golden)
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
		})
	}
}

// The alert id is what Azure receivers correlate Fired with Resolved on:
// it must not change between them, nor across retries.
func TestCommonAlertIDStable(t *testing.T) {
	a := testAlert("abc123")
	a.Labels = map[string]string{"tenant": "contoso.onmicrosoft.com"}
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	f1 := NewCommonAlert(Notification{Status: store.StatusFiring, Alert: a, Attempt: 1}, now)
	f2 := NewCommonAlert(Notification{Status: store.StatusFiring, Alert: a, Attempt: 4}, now.Add(time.Hour))
	r := NewCommonAlert(Notification{Status: store.StatusResolved, Alert: a, Attempt: 1}, now.Add(2*time.Hour))
	id := f1.Data.Essentials.AlertID
	if id != "/tenants/contoso.onmicrosoft.com/providers/breakglass/alerts/abc123" || f2.Data.Essentials.AlertID != id || r.Data.Essentials.AlertID != id {
		t.Errorf("alertId: fired %q, retried %q, resolved %q", id, f2.Data.Essentials.AlertID, r.Data.Essentials.AlertID)
	}
	if f1.Data.Essentials.FiredDateTime != f2.Data.Essentials.FiredDateTime {
		t.Errorf("firedDateTime changed across retries")
	}
}

// TestWebhookSchemaBreakglass: schema: breakglass is today's native body
// (the goldens of TestWebhookPayloadGolden), built through the registry.
func TestWebhookSchemaBreakglass(t *testing.T) {
	rc, srv := newReceiver(t, nil)
	sent := time.Date(2026, 7, 1, 12, 0, 1, 250000000, time.FixedZone("CEST", 2*3600))
	w := buildWebhook(t, &WebhookConfig{URL: secret.Secret(srv.URL), Schema: " Breakglass ", Headers: map[string]secret.Secret{"X-Api-Key": "k-123456"}}, nil)
	n := Notification{ID: NotificationID(fullAlert().ID, store.StatusFiring), Status: store.StatusFiring, Alert: fullAlert(), Attempt: 1, Sent: sent}
	if err := w.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, bytes.TrimSpace(rc.requests()[0].body), "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	want, err := os.ReadFile(filepath.Join("testdata", "firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("schema breakglass body differs from testdata/firing.json:\n%s", pretty.Bytes())
	}
}

// verifyingReceiver checks signatures exactly as the documentation of
// SignatureHeader tells a receiver to, written independently of Sign. The
// capture has read the body already; *rc gives it back as received.
func verifyingReceiver(key string, now func() time.Time, rc **capture) func(int, http.ResponseWriter, *http.Request) {
	return func(i int, w http.ResponseWriter, r *http.Request) {
		body := bytes.NewBuffer((*rc).requests()[i].body)
		ts := r.Header.Get("X-Breakglass-Timestamp")
		secs, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || now().Sub(time.Unix(secs, 0)).Abs() > 5*time.Minute {
			http.Error(w, "stale or missing timestamp", http.StatusUnauthorized)
			return
		}
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(ts + "." + body.String()))
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Breakglass-Signature"))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestWebhookSignatureVerifies(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	n := Notification{ID: "a1", Status: store.StatusFiring, Alert: testAlert("a1"), Attempt: 1, Sent: now}
	tests := []struct {
		name      string
		signWith  string
		sentAt    time.Time
		wantError bool
	}{
		{"right key", key, now, false},
		{"wrong key", "fedcba9876543210fedcba9876543210", now, true},
		{"replayed an hour later", key, now.Add(-time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rc *capture
			rc, srv := newReceiver(t, verifyingReceiver(key, clock, &rc))
			sentAt := tt.sentAt
			w := buildWebhook(t, &WebhookConfig{URL: secret.Secret(srv.URL), HMACSecret: secret.Secret(tt.signWith)}, func() time.Time { return sentAt })
			err := w.Notify(context.Background(), n)
			if (err != nil) != tt.wantError {
				t.Fatalf("Notify = %v, want error %v", err, tt.wantError)
			}
			if err != nil && (!IsPermanent(err) || !strings.Contains(err.Error(), "401")) {
				t.Errorf("a rejected signature is a permanent 401: %v", err)
			}
			r := rc.requests()[0]
			if got := r.header.Get(SignatureHeader); got != Sign([]byte(tt.signWith), r.header.Get(TimestampHeader), r.body) {
				t.Errorf("signature %q is not Sign over the exact body", got)
			}
		})
	}
	// A receiver that echoes the signing key back does not get it into
	// the error, hence the logs.
	_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "expected key "+key, http.StatusBadRequest)
	})
	w := buildWebhook(t, &WebhookConfig{URL: secret.Secret(srv.URL), HMACSecret: key}, clock)
	if err := w.Notify(context.Background(), n); err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("error = %v; want one without the key", err)
	}
}

func TestWebhookConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    WebhookConfig
		want []string // "field: msg"
	}{
		{"minimal", WebhookConfig{URL: "https://h.example/x"}, nil},
		{"no url", WebhookConfig{}, []string{"url: required for type webhook"}},
		{"bad url", WebhookConfig{URL: "ftp://s3cr3t@h.example/"}, []string{"url: not an http or https URL"}},
		{"bad schema", WebhookConfig{URL: "https://h.example/x", Schema: "alertmanager"}, []string{"schema: must be one of common, breakglass"}},
		{"short hmac", WebhookConfig{URL: "https://h.example/x", HMACSecret: "short"}, []string{"hmac_secret: too short: use at least 32 random characters (for example the output of openssl rand -hex 32)"}},
		{"headers", WebhookConfig{URL: "https://h.example/x", Headers: map[string]secret.Secret{
			"Bad Header": "x", "X-Token": "a\nb", "idempotency-key": "k", "X-Breakglass-Signature": "s", "Authorization": "Bearer t",
		}}, []string{
			`headers["Bad Header"]: not a valid HTTP header name (letters, digits and !#$%&'*+-.^_` + "`" + `|~ only)`,
			"headers.X-Breakglass-Signature: set by breakglass; remove it",
			"headers.X-Token: value contains a line break or NUL",
			"headers.idempotency-key: set by breakglass; remove it",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tt.c.Validate(func(field, msg string) { got = append(got, field+": "+msg) })
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(tt.want) == 0 && tt.c.Schema != SchemaCommon {
				t.Errorf("default schema = %q, want %q", tt.c.Schema, SchemaCommon)
			}
			for _, g := range got {
				if strings.Contains(g, "s3cr3t") || strings.Contains(g, "Bearer") {
					t.Errorf("report leaks a value: %s", g)
				}
			}
		})
	}
}
