package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// Goldens of what each channel sends for one alert, rendered by the real
// renderer (the embedded templates, a time zone, an acknowledge link and
// the evidence head, as serve configures it), not RenderDefault: these
// are what a person woken at 3 a.m. reads. One alert, a successful
// interactive sign-in of a break-glass account with everything a sign-in
// record carries, plainly firing and inside an announced drill.
// testdata/real_<channel>_<variant>.golden; go test -run
// TestRealRendererGolden -update rewrites them.

// realSignIn is a successful sign-in of break-glass account 1 from a
// browser in Oslo, with IP, location, app, client app, device and
// Conditional Access result.
func realSignIn() alert.Alert {
	a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
	a.Title = detect.MustLookup(detect.RuleSignIn).Title + " (success)"
	a.Result = "success"
	delete(a.Annotations, "error_code")
	delete(a.Annotations, "error_text")
	a.Annotations["conditional_access"] = "success"
	a.Annotations["auth_requirement"] = "multiFactorAuthentication"
	a.Labels = a.StandardLabels()
	return a
}

var realVariants = []struct {
	name  string
	alert func() alert.Alert
}{
	{"firing", realSignIn},
	{"drill", func() alert.Alert {
		a := realSignIn()
		a.Labels[alert.LabelDrill] = "drl-0123456789ab"
		return a
	}},
}

func realEnv(t *testing.T, target string) BuildEnv {
	return BuildEnv{Target: target, Timeout: 2 * time.Second, Render: testRenderer(t, Templates{}).Render,
		HTTP: &http.Client{}, Now: func() time.Time { return sampleTime.Add(5 * time.Second) }}
}

func realNotification(a alert.Alert) Notification {
	return Notification{ID: NotificationID(a.ID, store.StatusFiring), Status: store.StatusFiring, Alert: a, Attempt: 1, Sent: a.Detected}
}

// TestRealRendererGolden: every channel type's request (or command input,
// or console line) for the sign-in, firing and in a drill.
func TestRealRendererGolden(t *testing.T) {
	for _, v := range realVariants {
		for _, c := range httpChannels() {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				rc := newAPIReceiver(t, func(_ int, _ apiRequest, w http.ResponseWriter) { c.accepted(w) })
				cfg := c.config(rc.srv.URL)
				cfg.Validate(func(field, msg string) { t.Fatalf("Validate: %s: %s", field, msg) })
				n, err := cfg.Build(realEnv(t, c.target()))
				if err != nil {
					t.Fatal(err)
				}
				a := v.alert()
				if err := n.Notify(context.Background(), realNotification(a)); err != nil {
					t.Fatal(err)
				}
				reqs := rc.requests()
				if len(reqs) != 1 {
					t.Fatalf("%d requests, want 1", len(reqs))
				}
				if c.name == "opsgenie" {
					var og struct{ Description string }
					if err := json.Unmarshal(reqs[0].Body, &og); err != nil {
						t.Fatal(err)
					}
					if n := strings.Count(og.Description, "/ack?alert="); n != 1 {
						t.Errorf("Opsgenie description carries the acknowledge link %d times, want once:\n%s", n, og.Description)
					}
				}
				got := realRequestText(t, c.name, reqs[0])
				checkGolden(t, "real_"+c.name+"_"+v.name+".golden", got)
				checkRealReadable(t, c.name, v.name, got)
			})
		}
		t.Run("email/"+v.name, func(t *testing.T) {
			cfg := baseEmailConfig(25)
			cfg.Validate(func(field, msg string) { t.Fatalf("Validate: %s: %s", field, msg) })
			n, err := cfg.Build(realEnv(t, "oncall/email"))
			if err != nil {
				t.Fatal(err)
			}
			nt := realNotification(v.alert())
			nt.Sent = sampleTime.Add(5 * time.Second)
			raw, err := n.(*Email).compose(nt)
			if err != nil {
				t.Fatal(err)
			}
			got := realEmailText(t, raw)
			checkGolden(t, "real_email_"+v.name+".golden", got)
			checkRealReadable(t, "email", v.name, got)
		})
		t.Run("exec/"+v.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := &ExecConfig{Command: []string{"/bin/sh", "-c",
				`cat > "$0/stdin" && env | grep '^BREAKGLASS_' | LC_ALL=C sort > "$0/env"`, dir}}
			cfg.Validate(func(field, msg string) { t.Fatalf("Validate: %s: %s", field, msg) })
			n, err := cfg.Build(realEnv(t, "oncall/exec"))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Notify(context.Background(), realNotification(v.alert())); err != nil {
				t.Fatal(err)
			}
			env, err := os.ReadFile(filepath.Join(dir, "env"))
			if err != nil {
				t.Fatal(err)
			}
			stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
			if err != nil {
				t.Fatal(err)
			}
			got := append([]byte("== environment\n"), env...)
			got = append(got, "== standard input\n"...)
			got = append(got, indentJSON(t, stdin)...)
			checkGolden(t, "real_exec_"+v.name+".golden", got)
			checkRealReadable(t, "exec", v.name, got)
		})
		t.Run("console/"+v.name, func(t *testing.T) {
			var out bytes.Buffer
			n, err := (&ConsoleConfig{}).Build(BuildEnv{Target: "oncall/console", Stdout: &out})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Notify(context.Background(), realNotification(v.alert())); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "real_console_"+v.name+".golden", out.Bytes())
			checkRealReadable(t, "console", v.name, out.Bytes())
		})
	}
}

// checkRealReadable asserts what the goldens are read for, so that a
// rewrite with -update cannot quietly lose it: the account, what happened
// and where appear; a drill says so; a real alert never claims to be one.
func checkRealReadable(t *testing.T, channel, variant string, got []byte) {
	t.Helper()
	s := string(got)
	a := realSignIn()
	// Each channel names the account its own way: the UPN, the name, or
	// read aloud.
	if !strings.Contains(s, a.AccountUPN) && !strings.Contains(s, a.Account) {
		t.Errorf("%s: names neither the account's UPN nor its name", channel)
	}
	if !strings.Contains(strings.ToLower(s), "sign-in") {
		t.Errorf("%s: does not say it is a sign-in", channel)
	}
	// Where from: the IP address, or (read aloud) the place.
	if !strings.Contains(s, a.IPAddress) && !strings.Contains(s, "From "+a.Location) {
		t.Errorf("%s: does not say where the sign-in came from", channel)
	}
	drill := strings.Contains(s, "DRILL") || strings.Contains(s, "drill, announced") || strings.Contains(s, "drl-0123456789ab")
	if variant == "drill" && !drill {
		t.Errorf("%s: a drill's message does not say it is a drill", channel)
	}
	if variant == "firing" && (strings.Contains(s, "DRILL") || strings.Contains(s, "drl-")) {
		t.Errorf("%s: a real alert's message mentions a drill", channel)
	}
}

// realRequestText lays a request out for review: the method and path, the
// headers that carry message content, and the body (JSON indented, a form
// as sorted key: value lines, TwiML's spoken text).
func realRequestText(t *testing.T, channel string, r apiRequest) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.Path)
	for _, h := range []string{"Title", "Priority", "Tags", "Click", "Actions", IdempotencyHeader} {
		v := r.Header.Get(h)
		if v == "" {
			continue
		}
		if h == "Title" {
			if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
				v = d
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", h, v)
	}
	b.WriteString("\n")
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		b.Write(formText(t, r))
		if tw := r.form(t).Get("Twiml"); tw != "" {
			says := twimlSays(t, tw)
			fmt.Fprintf(&b, "== said (%d times)\n%s\n", len(says), says[0])
		}
	case strings.HasPrefix(ct, "application/json"):
		b.Write(indentJSON(t, r.Body))
	default:
		b.Write(r.Body)
		if !bytes.HasSuffix(r.Body, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func indentJSON(t *testing.T, body []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// realEmailText is the message as a mail client shows it: the header
// fields (sorted, Subject decoded), then each part decoded.
func realEmailText(t *testing.T, raw []byte) []byte {
	t.Helper()
	p := parseEmail(t, raw)
	var b bytes.Buffer
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range p.header {
			if !yield(k) {
				return
			}
		}
	}) {
		if k == "Content-Type" {
			continue // carries the random boundary
		}
		v := p.header.Get(k)
		if k == "Subject" {
			v = p.subject
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	for _, ct := range p.order {
		fmt.Fprintf(&b, "== %s\n%s", ct, p.parts[ct])
		if !strings.HasSuffix(p.parts[ct], "\n") {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
