package daemon

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/ack"
	"breakglass/internal/alert"
	"breakglass/internal/notify/notifytest"
	"breakglass/internal/store"
)

const (
	ackSecret = "daemon-ack-test-secret-0123456789abcdef"
	pdSecret  = "daemon-pd-secret-0123456789"
)

// clickReceiver is a loopback ntfy server that keeps each message's Click
// header: the acknowledge link.
type clickReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	links []string
	texts []string
}

func newClickReceiver(t *testing.T) *clickReceiver {
	r := &clickReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.links = append(r.links, req.Header.Get("Click"))
		r.texts = append(r.texts, string(b))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x1","event":"message","topic":"bg"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *clickReceiver) got() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.links...), append([]string(nil), r.texts...)
}

// TestServeAckLink: with notify.ack.secret, the page a channel sends
// carries a signed link to the daemon; opening it (GET) changes nothing,
// sending its form (POST) acknowledges, through the daemon's own endpoint;
// the PagerDuty webhook is mounted beside it and refuses a bad signature.
func TestServeAckLink(t *testing.T) {
	e := newEnv(t)
	rcv := newClickReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: push
          provider: ntfy
          url: `+rcv.srv.URL+`
          topic: bg-alerts
  ack:
    base_url: https://bg.invalid/breakglass
    secret: `+ackSecret+`
    pagerduty_secret: `+pdSecret+`
`)
	r := start(t, cfg, Options{})
	if code := post(t, r.ingest(t), []byte(signIn("r-ack"))); code != http.StatusAccepted {
		t.Fatalf("POST = %d", code)
	}
	waitFor(t, 10*time.Second, "the push", func() bool { l, _ := rcv.got(); return len(l) > 0 })
	links, _ := rcv.got()
	link, err := url.Parse(links[0])
	if err != nil || link.Host != "bg.invalid" || !strings.HasPrefix(link.Path, "/breakglass/ack/") {
		t.Fatalf("Click = %q (%v), want a link under base_url", links[0], err)
	}
	id := strings.TrimPrefix(link.Path, "/breakglass/ack/")
	// The reverse proxy of base_url strips /breakglass.
	local := "http://" + r.d.Addr().String() + "/ack/" + id + "?" + link.RawQuery
	state := func() (string, []store.StateChange) {
		t.Helper()
		a, err := r.d.st.Alert(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		cs, _ := r.d.st.StateChanges(context.Background(), id)
		return a.State, cs
	}
	if code, body := get(t, local); code != http.StatusOK || !strings.Contains(body, "Acknowledge this alert?") || !strings.Contains(body, bgUPN) {
		t.Fatalf("GET = %d\n%s", code, body)
	}
	if s, _ := state(); s != alert.StateFiring {
		t.Fatalf("GET acknowledged: %s", s)
	}
	resp, err := http.PostForm(local, url.Values{"by": {"Dana"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Acknowledged by Dana") {
		t.Fatalf("POST = %d\n%s", resp.StatusCode, body)
	}
	if s, cs := state(); s != alert.StateAcknowledged || len(cs) != 1 || cs[0].By != "Dana" || cs[0].Via != store.ViaLink {
		t.Fatalf("after POST: %s %+v", s, cs)
	}
	// A tampered link is refused by the daemon too.
	if code, _ := get(t, strings.Replace(local, "sig=", "sig=x", 1)); code != http.StatusForbidden {
		t.Errorf("tampered link = %d", code)
	}
	body2 := []byte(`{"event":{"event_type":"incident.acknowledged","data":{"incident_key":"` + id + `"}}}`)
	m := hmac.New(sha256.New, []byte("wrong-secret-0123456789"))
	m.Write(body2)
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.d.Addr().String()+"/hooks/pagerduty", strings.NewReader(string(body2)))
	req.Header.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(m.Sum(nil)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("badly signed PagerDuty webhook = %d", resp.StatusCode)
	}
	if strings.Contains(r.logs.String(), ackSecret) || strings.Contains(r.logs.String(), pdSecret) {
		t.Error("a secret reached the logs")
	}
}

// TestServeNoAckLink: without notify.ack the message carries no link and
// tells people to run breakglass alerts ack, and /ack/ says links are off.
func TestServeNoAckLink(t *testing.T) {
	e := newEnv(t)
	rcv := newClickReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: push
          provider: ntfy
          url: `+rcv.srv.URL+`
          topic: bg-alerts
`)
	r := start(t, cfg, Options{})
	if code := post(t, r.ingest(t), []byte(signIn("r-noack"))); code != http.StatusAccepted {
		t.Fatalf("POST = %d", code)
	}
	waitFor(t, 10*time.Second, "the push", func() bool { l, _ := rcv.got(); return len(l) > 0 })
	links, _ := rcv.got()
	if links[0] != "" {
		t.Errorf("Click = %q without notify.ack", links[0])
	}
	if code, body := get(t, "http://"+r.d.Addr().String()+"/ack/abc?exp=1&sig=x"); code != http.StatusNotFound || !strings.Contains(body, "notify.ack.secret") {
		t.Errorf("/ack/ without links = %d\n%s", code, body)
	}
}

// TestDrillLinkID: a drill's alert id is one the acknowledge page knows as
// a drill's.
func TestDrillLinkID(t *testing.T) {
	n := TestNotification("oncall", alert.Sev0, time.Now())
	if !isTestID(n.Alert.ID) {
		t.Fatalf("drill id %q not recognised as a drill's", n.Alert.ID)
	}
	if isTestID(alert.Key("evt-1", "bg.signin")) {
		t.Fatal("a real alert id taken for a drill's")
	}
}

// TestAckStopsEscalation: an alert acknowledged through its link before
// escalate_after never reaches the next group; one acknowledged through
// the PagerDuty webhook after the first escalation goes no further.
func TestAckStopsEscalation(t *testing.T) {
	f := newEscFixture(t)
	signer, err := ack.NewSigner([]byte(ackSecret), "http://bg.invalid", time.Hour, f.c.Now)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ack.New(ack.Options{Store: f.st, Signer: signer, PagerDutySecret: pdSecret, Now: f.c.Now}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	byLink := f.add(t, "evt-link", "bg.signin", escT0, true)
	byPD := f.add(t, "evt-pd", "bg.signin", escT0, true)

	f.at(t, 5*time.Minute)
	link, _ := url.Parse(signer.URL(byLink.ID))
	resp, err := http.PostForm(srv.URL+link.Path+"?"+link.RawQuery, url.Values{"by": {"Dana"}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("link POST: %v %v", resp, err)
	}
	resp.Body.Close()

	f.at(t, 10*time.Minute)
	body := []byte(`{"event":{"id":"e1","event_type":"incident.acknowledged","agent":{"summary":"Eve"},"data":{"id":"Q1","incident_key":"` + byPD.ID + `"}}}`)
	m := hmac.New(sha256.New, []byte(pdSecret))
	m.Write(body)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+ack.PathPagerDuty, strings.NewReader(string(body)))
	req.Header.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(m.Sum(nil)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PagerDuty POST: %v %v", resp, err)
	}
	resp.Body.Close()

	for _, d := range []time.Duration{30 * time.Minute, 5 * time.Hour} {
		f.at(t, d)
	}
	if got := f.targets(t, byLink); got != step0 {
		t.Errorf("acknowledged by link: deliveries %q, want %q", got, step0)
	}
	if got := f.targets(t, byPD); got != step1 {
		t.Errorf("acknowledged in PagerDuty: deliveries %q, want %q", got, step1)
	}
}

// TestServeOpsgenieAckStopsEscalation: the first group pages through
// Opsgenie and escalates to managers after 10m unacknowledged. Opsgenie
// (a loopback receiver) gets each alert under alias = the alert id; for one
// of them it posts its Acknowledge action, the documented webhook body
// with that alias, to the daemon's /hooks/opsgenie over loopback. Once
// escalate_after has passed, the other alert (the control, never
// acknowledged) reaches managers and the acknowledged one never does.
func TestServeOpsgenieAckStopsEscalation(t *testing.T) {
	const ogToken = "daemon-opsgenie-token-0123456789"
	e := newEnv(t)
	og := notifytest.NewReceiver(notifytest.Opsgenie)
	t.Cleanup(og.Close)
	rcv := newReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      escalate_after: 10m
      channels:
        - {type: opsgenie, url: `+og.URL+`, api_key: og-api-key-0123}
    - name: managers
      channels:
        - {type: webhook, url: `+rcv.srv.URL+`/managers}
  routes:
    - matchers: ['rule="bg.signin"']
      groups: [oncall, managers]
  ack:
    opsgenie_token: `+ogToken+`
`)
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	const every = 200 * time.Millisecond
	r := start(t, cfg, Options{Now: now, EscalateInterval: every})
	for _, id := range []string{"r-og-ack", "r-og-control"} {
		if code := post(t, r.ingest(t), []byte(signIn(id))); code != http.StatusAccepted {
			t.Fatalf("POST = %d", code)
		}
	}
	// The aliases Opsgenie was given, one per alert.
	var aliases []string
	waitFor(t, 10*time.Second, "both alerts created in Opsgenie", func() bool {
		aliases = aliases[:0]
		for _, q := range og.Requests() {
			if alias, ok := strings.CutSuffix(q.Key, " create"); ok && q.Status == http.StatusAccepted && !slices.Contains(aliases, alias) {
				aliases = append(aliases, alias)
			}
		}
		return len(aliases) == 2
	}, func() string { return fmt.Sprint(og.Requests()) + "\n" + r.logs.String() })
	ctx := context.Background()
	for _, id := range aliases {
		if _, err := r.d.st.Alert(ctx, id); err != nil {
			t.Fatalf("alias %q names no stored alert: %v", id, err)
		}
	}
	acked, control := aliases[0], aliases[1]

	// Opsgenie's webhook integration posts the Acknowledge action.
	doc, err := os.ReadFile(filepath.Join("..", "ack", "testdata", "opsgenie_acknowledge.json"))
	if err != nil {
		t.Fatal(err)
	}
	hook := "http://" + r.d.Addr().String() + ack.PathOpsgenie
	req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(strings.ReplaceAll(string(doc), "ALERT_ID", acked)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ack.OpsgenieTokenHeader, ogToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Opsgenie webhook = %d %s", resp.StatusCode, body)
	}
	a, err := r.d.st.Alert(ctx, acked)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := r.d.st.StateChanges(ctx, acked)
	if a.State != alert.StateAcknowledged || len(cs) != 1 || cs[0].Via != store.ViaOpsgenie || cs[0].By != "dana.oncall@contoso.example" {
		t.Fatalf("after the Opsgenie ack: state %s, changes %+v", a.State, cs)
	}
	if a, _ := r.d.st.Alert(ctx, control); a.State != alert.StateFiring {
		t.Fatalf("the control alert is %s, want firing", a.State)
	}

	mu.Lock()
	offset = 11 * time.Minute
	mu.Unlock()
	waitFor(t, 10*time.Second, "the control alert's escalation to managers", func() bool {
		return rcv.snapshot()["/managers "+control+" firing"] == 1
	}, func() string { return fmt.Sprint(rcv.snapshot()) + "\n" + r.logs.String() })
	// More sweeps, further past escalate_after: still nothing for the
	// acknowledged alert.
	mu.Lock()
	offset = 2 * time.Hour
	mu.Unlock()
	time.Sleep(5 * every)
	if n := rcv.snapshot()["/managers "+acked+" firing"]; n != 0 {
		t.Errorf("managers notified %d times of the alert acknowledged in Opsgenie: %v", n, rcv.snapshot())
	}
	ds, err := r.d.st.AlertDeliveries(ctx, acked)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if strings.HasPrefix(d.Target, "managers/") {
			t.Errorf("the alert acknowledged in Opsgenie was escalated: %+v", d)
		}
	}
}
