package notify

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/secret"
	"breakglass/internal/store"
)

// The request each rate-limited channel makes for a coalesced
// notification, as golden files, rendered by the real renderer.

func coalescedEnv(t *testing.T, target string) BuildEnv {
	return BuildEnv{Target: target, Timeout: 2 * time.Second, Render: testRenderer(t, Templates{}).Render,
		Now: func() time.Time { return fixedNow }}
}

func TestCoalescedSMSGolden(t *testing.T) {
	rc := newAPIReceiver(t, func(i int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, fmt.Sprintf("SM%032d", i)) })
	sms := build(t, twilioSMS(rc.srv.URL, testTo1), coalescedEnv(t, "ops/sms"))
	n := burst(20)
	if err := sms.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests; want one SMS for the coalesced notification", len(reqs))
	}
	checkGolden(t, "sms_twilio_coalesced.form", formText(t, reqs[0]))
	if body := reqs[0].form(t).Get("Body"); !strings.Contains(body, "20 alerts") || len(body) > MaxShort {
		t.Errorf("SMS %q does not count the 20 alerts within %d bytes", body, MaxShort)
	}

	gw := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	cfg := &SMSConfig{Provider: "gateway", URL: secret.Secret(gw.srv.URL + "/send"), To: []string{testTo1},
		Body: `{"to":{{json .To}},"text":{{json .Body}},"id":{{json .ID}},"lead":{{json .Alert.ID}}}`}
	if err := build(t, cfg, coalescedEnv(t, "ops/gateway")).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "sms_gateway_coalesced.json", append(gw.requests()[0].Body, '\n'))
}

func TestCoalescedVoiceGolden(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, "CA0123") })
	v := build(t, twilioVoice(rc.srv.URL, testTo1), coalescedEnv(t, "ops/voice"))
	n := coalescedSample()
	if err := v.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d calls", len(reqs))
	}
	twiml := reqs[0].form(t).Get("Twiml")
	checkGolden(t, "voice_twiml_coalesced.xml", []byte(twiml+"\n"))
	says := twimlSays(t, twiml)
	// The resolved silence alert is not phoned: 4 of the 5 are read.
	if len(says) != 2 || !strings.Contains(says[0], "4 alerts") {
		t.Errorf("call says %q; want the 4 firing alerts counted", says)
	}
	if len(twiml) > maxTwiML {
		t.Errorf("TwiML %d bytes, over Twilio's %d", len(twiml), maxTwiML)
	}
}

// TestVoiceCoalescedResolved: a voice channel without send_resolved reads
// only the firing alerts of a coalesced notification, and places no call
// when all are resolved; the limiter is told so (no recipients).
func TestVoiceCoalescedResolved(t *testing.T) {
	rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { twilioCreated(w, "CA0123") })
	v := build(t, twilioVoice(rc.srv.URL, testTo1), coalescedEnv(t, "ops/voice")).(*Voice)
	all := coalescedSample().Coalesced
	var resolved, mixed []Notification
	for _, c := range all {
		c2 := c
		c2.Status, c2.ID = store.StatusResolved, NotificationID(c.Alert.ID, store.StatusResolved)
		resolved = append(resolved, c2)
	}
	mixed = append(mixed, all[0], resolved[1], resolved[2])
	if err := v.Notify(context.Background(), NewCoalesced(resolved, 1, fixedNow)); err != nil || len(rc.requests()) != 0 {
		t.Errorf("all resolved: %v, %d calls; want none", err, len(rc.requests()))
	}
	if keys := v.Recipients(NewCoalesced(resolved, 1, fixedNow)); keys != nil {
		t.Errorf("Recipients of an unphoned notification = %v; want none", keys)
	}
	if err := v.Notify(context.Background(), NewCoalesced(mixed, 1, fixedNow)); err != nil {
		t.Fatal(err)
	}
	says := twimlSays(t, rc.requests()[0].form(t).Get("Twiml"))
	if strings.Contains(says[0], "alerts were held back") || !strings.Contains(says[0], "severity critical") {
		t.Errorf("one firing alert among resolutions: call says %q; want it read alone", says[0])
	}
	if got := v.Recipients(firing(sev0("x"))); !slices.Equal(got, []string{"voice:" + testTo1}) {
		t.Errorf("Recipients = %v", got)
	}
}

func TestCoalescedEmailGolden(t *testing.T) {
	c := baseEmailConfig(25)
	var problems []string
	c.Validate(func(field, msg string) { problems = append(problems, field+": "+msg) })
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	n, err := c.Build(coalescedEnv(t, "oncall/email"))
	if err != nil {
		t.Fatal(err)
	}
	e := n.(*Email)
	if got := e.Recipients(Notification{}); !slices.Equal(got, []string{"email:oncall@contoso.example", "email:second@contoso.example"}) {
		t.Errorf("Recipients = %v", got)
	}
	cn := coalescedSample()
	cn.Sent = fixedNow
	raw, err := e.compose(cn)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "email_coalesced.golden", sortTopHeaders(normaliseBoundary(t, raw)))
	p := parseEmail(t, raw)
	if p.header.Get("X-Breakglass-Alerts") != "5" || p.header.Get("In-Reply-To") != "" {
		t.Errorf("headers %v; want X-Breakglass-Alerts: 5 and no threading", p.header)
	}
	if !strings.Contains(p.subject, "5 alerts in one") {
		t.Errorf("subject %q", p.subject)
	}
	for _, c := range cn.Coalesced {
		for _, part := range []string{"text/plain", "text/html"} {
			if !strings.Contains(p.parts[part], c.Alert.ID) {
				t.Errorf("%s part does not name alert %s", part, c.Alert.ID)
			}
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(p.header.Get("Message-Id")), "<"+cn.ID+".") {
		t.Errorf("Message-ID is not the coalesced notification's id %s", cn.ID)
	}
}
