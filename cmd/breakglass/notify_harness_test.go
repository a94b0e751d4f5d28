package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/notify/notifytest"
)

// The harness of the notify end-to-end tests (notify_e2e_test.go,
// notify_latency_test.go): one group with a channel of every type, each
// pointed at a loopback receiver of internal/notify/notifytest, and the
// built binary running `serve` on it.

// channelNames is every channel of the group "all", one per channel type
// and variant; the delivery target is "all/<name>".
var channelNames = []string{
	"email", "sms", "sms-gateway", "voice", "ntfy", "pushover", "teams", "slack",
	"pagerduty", "opsgenie", "webhook-common", "webhook-native", "exec", "console",
}

// httpKinds are the channels served by an HTTP receiver, and its kind.
var httpKinds = map[string]notifytest.Kind{
	"sms": notifytest.Twilio, "sms-gateway": notifytest.Gateway, "voice": notifytest.Twilio,
	"ntfy": notifytest.Ntfy, "pushover": notifytest.Pushover, "teams": notifytest.Teams, "slack": notifytest.Slack,
	"pagerduty": notifytest.PagerDuty, "opsgenie": notifytest.Opsgenie,
	"webhook-common": notifytest.CommonSchema, "webhook-native": notifytest.Webhook,
}

// keyed are the channels whose API carries an idempotency key, and the key
// a deduping receiver must see for the firing notification of alert id.
var keyed = map[string]func(id string) string{
	"webhook-native": func(id string) string { return id + ".all/webhook-native" },
	"webhook-common": func(id string) string {
		return "/tenants/" + e2eTenant + "/providers/breakglass/alerts/" + id + " Fired"
	},
	"pagerduty":   func(id string) string { return id + " trigger" },
	"opsgenie":    func(id string) string { return id + " create" },
	"sms-gateway": func(id string) string { return id + ".all/sms-gateway " + e2ePhone },
	"email":       func(id string) string { return "<" + id + ".all/email@breakglass.example>" },
	"exec":        func(id string) string { return id },
}

const (
	e2eTenant     = "contoso.onmicrosoft.com"
	e2ePhone      = "+4712345678"
	e2eSMTPPass   = "smtp-pa55-e2e"
	e2ePushoverID = "Ph0neS3cretPushoverKey00000042"
)

// receivers are the loopback ends of every channel.
type receivers struct {
	http    map[string]*notifytest.Receiver
	smtp    *notifytest.SMTP
	spool   notifytest.Spool
	console *lineLog // the daemon's standard output
}

func newReceivers(t *testing.T) *receivers {
	t.Helper()
	r := &receivers{http: map[string]*notifytest.Receiver{}, console: &lineLog{}}
	for name, kind := range httpKinds {
		rc := notifytest.NewReceiver(kind)
		t.Cleanup(rc.Close)
		r.http[name] = rc
	}
	s, err := notifytest.NewSMTP(t.TempDir(), "bg-mailer", e2eSMTPPass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	r.smtp = s
	r.spool = notifytest.Spool{Dir: t.TempDir()}
	return r
}

// requests is what the channel's receiver has seen so far.
func (r *receivers) requests(t *testing.T, name string) []notifytest.Request {
	switch name {
	case "email":
		return r.smtp.Requests()
	case "exec":
		reqs, err := r.spool.Requests()
		if err != nil {
			t.Fatal(err)
		}
		return reqs
	case "console":
		return r.console.requests()
	}
	return r.http[name].Requests()
}

// notifyYAML is the notify section sending every alert to every channel.
func (r *receivers) notifyYAML(t *testing.T) string {
	h := func(n string) string { return r.http[n].URL }
	quoted := make([]string, len(r.spool.Command()))
	for i, a := range r.spool.Command() {
		// config expands ${VAR} and reads $$ as $: the shell's $$ must
		// reach it as $$.
		b, _ := json.Marshal(strings.ReplaceAll(a, "$", "$$"))
		quoted[i] = string(b)
	}
	return strings.NewReplacer("{rate}", rateLimitsOff(t), "{smtphost}", r.smtp.Host, "{smtpport}", fmt.Sprint(r.smtp.Port),
		"{ca}", r.smtp.CAFile, "{phone}", e2ePhone, "{pokey}", e2ePushoverID, "{command}", strings.Join(quoted, ", "),
		"{sms}", h("sms"), "{gw}", h("sms-gateway"), "{voice}", h("voice"), "{ntfy}", h("ntfy"), "{pushover}", h("pushover"),
		"{teams}", h("teams"), "{slack}", h("slack"), "{pagerduty}", h("pagerduty"), "{opsgenie}", h("opsgenie"),
		"{common}", h("webhook-common"), "{native}", h("webhook-native"),
	).Replace(`notify:
{rate}  groups:
    - name: all
      channels:
        - name: email
          type: email
          host: {smtphost}
          port: {smtpport}
          tls: starttls
          ca_file: {ca}
          username: bg-mailer
          password: ${E2E_SMTP_PASSWORD}
          from: "breakglass <alerts@breakglass.example>"
          to: [oncall@breakglass.example, security@breakglass.example]
        - name: sms
          type: sms
          provider: twilio
          url: {sms}
          account_sid: AC0123456789abcdef0123456789abcdef
          auth_token: ${E2E_SECRET}
          from: "+4798765432"
          to: ["{phone}"]
        - name: sms-gateway
          type: sms
          provider: gateway
          url: {gw}/send?key=${E2E_SECRET}
          body: '{"id":{{json .ID}},"to":{{json .To}},"text":{{json .Body}}}'
          accept: ok
          to: ["{phone}"]
        - name: voice
          type: voice
          url: {voice}
          account_sid: AC0123456789abcdef0123456789abcdef
          auth_token: ${E2E_SECRET}
          from: "+4798765432"
          to: ["{phone}"]
        - name: ntfy
          type: push
          provider: ntfy
          url: {ntfy}
          topic: bg-e2e-topic
          token: ${E2E_SECRET}
        - name: pushover
          type: push
          provider: pushover
          url: {pushover}
          token: {pokey}
          user: {pokey}
        - name: teams
          type: teams
          url: {teams}/workflows/e2e/triggers/manual/paths/invoke?sig=${E2E_SECRET}
        - name: slack
          type: slack
          url: {slack}/services/T0001/B0002/${E2E_SECRET}
        - name: pagerduty
          type: pagerduty
          url: {pagerduty}
          routing_key: ${E2E_SECRET}
        - name: opsgenie
          type: opsgenie
          url: {opsgenie}
          api_key: ${E2E_SECRET}
        - name: webhook-common
          type: webhook
          url: {common}/common
          hmac_secret: ${E2E_SECRET}-hmac-key
        - name: webhook-native
          type: webhook
          schema: breakglass
          url: {native}/native
        - name: exec
          type: exec
          command: [{command}]
        - name: console
          type: console
`)
}

var (
	rateLimitsOnce sync.Once
	rateLimitsYAML string
	rateLimitsErr  string
)

// rateLimitsOff is the notify.rate_limits block that switches per-recipient
// rate limits off (1 SMS or call per 5 minutes per number would coalesce
// these tests' alerts into one message), or "" while this build has no
// such key. It asks the binary itself, so the tests need no change when
// the feature lands, and fail, rather than run limited, if the key exists
// but refuses this form.
func rateLimitsOff(t *testing.T) string {
	t.Helper()
	rateLimitsOnce.Do(func() {
		const block = "  rate_limits: {sms: off, voice: off, email: off}\n"
		dir, err := os.MkdirTemp("", "bg-ratelimits")
		if err != nil {
			rateLimitsErr = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		cfg := filepath.Join(dir, "c.yaml")
		os.WriteFile(cfg, []byte("accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\nnotify:\n"+block), 0o600)
		out, err := exec.Command(binary, "config", "check", "--config", cfg).CombinedOutput()
		switch {
		case err == nil:
			rateLimitsYAML = block
		case bytes.Contains(out, []byte("rate_limits")) && bytes.Contains(out, []byte("unknown")):
			rateLimitsYAML = "" // not in this build: nothing to switch off
		default:
			rateLimitsErr = fmt.Sprintf("notify.rate_limits off is refused: %v\n%s", err, out)
		}
	})
	if rateLimitsErr != "" {
		t.Fatal(rateLimitsErr)
	}
	return rateLimitsYAML
}

// newNotifyDaemon writes the daemon's configuration: an http source and a
// file source (for the latency test's background load) and every channel.
func newNotifyDaemon(t *testing.T, r *receivers, accounts []entra.Account) *daemonProc {
	t.Helper()
	d := &daemonProc{dir: t.TempDir(), listen: freeAddr(t), ingest: freeAddr(t), token: "e2e-token"}
	if err := os.MkdirAll(filepath.Join(d.dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	var acc strings.Builder
	for _, a := range accounts {
		fmt.Fprintf(&acc, "  - id: %s\n    upn: %s\n", a.ID, a.UPN)
	}
	cfg := fmt.Sprintf(`accounts:
%stenant_id: %s
store:
  path: %s
server:
  listen: %s
sources:
  - type: file
    name: files
    path: %s
  - type: http
    name: push
    listen: %s
    token: ${E2E_TOKEN}
%slog:
  level: warn
`, acc.String(), e2eTenant, filepath.Join(d.dir, "bg.db"), d.listen, filepath.Join(d.dir, "logs"), d.ingest, r.notifyYAML(t))
	d.cfg = filepath.Join(d.dir, "config.yaml")
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runBinary(t, notifyEnv(d), "config", "check", "--config", d.cfg); res.code != 0 {
		t.Fatalf("config check: exit %d\n%s", res.code, res.stderr)
	}
	return d
}

func notifyEnv(d *daemonProc) []string {
	return []string{"E2E_TOKEN=" + d.token, "E2E_SECRET=e2eS3cretValue0099", "E2E_SMTP_PASSWORD=" + e2eSMTPPass}
}

// serving is one run of `breakglass serve`.
type serving struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// startNotify starts serve with its standard output (the console channel)
// going to r.console.
func startNotify(t *testing.T, d *daemonProc, r *receivers) *serving {
	t.Helper()
	s := &serving{cmd: exec.Command(binary, "serve", "--config", d.cfg), stderr: &bytes.Buffer{}}
	s.cmd.Env = append(os.Environ(), notifyEnv(d)...)
	s.cmd.Stdout, s.cmd.Stderr = r.console, &lockedBuffer{b: s.stderr}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !d.waitReady(t, 15*time.Second) {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		t.Fatalf("daemon not ready:\n%s", s.stderr)
	}
	return s
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lineLog timestamps each line written to it: the console channel's
// receiver.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []notifytest.Request
}

func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.lines = append(l.lines, notifytest.Request{At: now, Method: "stdout", Body: []byte(line), Text: line, Processed: true})
	}
	return len(p), nil
}

func (l *lineLog) requests() []notifytest.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]notifytest.Request(nil), l.lines...)
}

// probe is one break-glass sign-in record, and every token by which a
// channel's message names it: the alert id (cards, bodies, email headers),
// the record id (console) and a location no other probe has (SMS, push and
// voice, whose short forms carry neither id).
type probe struct {
	alertID, recordID, place string
	record                   []byte
}

func newProbe(n int, acc entra.Account, path string) probe {
	p := probe{recordID: fmt.Sprintf("1a7e0000-0000-4000-8000-%012d", n), place: fmt.Sprintf("Probe%05dx", n)}
	p.alertID = alert.Key(p.recordID, "bg.signin")
	p.record = fmt.Appendf(nil, `{"time":"%[1]s","resourceId":"/tenants/x/providers/Microsoft.aadiam","operationName":"Sign-in activity","category":"SignInLogs","resultType":"0","properties":{"id":"%[2]s","createdDateTime":"%[1]s","userId":"%[3]s","userPrincipalName":"%[4]s","appDisplayName":"Azure Portal","ipAddress":"198.51.100.9","location":{"city":"%[5]s","countryOrRegion":"NO"},"status":{"errorCode":0},"isInteractive":true,"note":"%[6]s"}}`+"\n",
		time.Now().UTC().Format(time.RFC3339Nano), p.recordID, acc.ID, acc.UPN, p.place, path)
	return p
}

// matcher names the probe a request is about.
func matcher(probes []probe) func(notifytest.Request) string {
	tokens := map[string]string{}
	for _, p := range probes {
		tokens[p.alertID], tokens[p.recordID], tokens[p.place] = p.alertID, p.alertID, p.alertID
	}
	return notifytest.Containing(tokens)
}

// shownDeliveries reads `breakglass alerts show ID --format json`.
func shownDeliveries(t *testing.T, d *daemonProc, id string) []shownDelivery {
	t.Helper()
	res := runBinary(t, notifyEnv(d), "alerts", "show", "--config", d.cfg, "--format", "json", id)
	if res.code != 0 {
		t.Fatalf("alerts show %s: exit %d\n%s", id, res.code, res.stderr)
	}
	var shown struct {
		Deliveries []shownDelivery `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &shown); err != nil {
		t.Fatalf("alerts show %s: %v\n%s", id, err, res.stdout)
	}
	return shown.Deliveries
}

// pollUntil calls cond every 20 ms until it is true or timeout passes.
func pollUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
