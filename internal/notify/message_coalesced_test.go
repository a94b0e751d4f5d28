package notify

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// coalescedSample is what a rate limit typically holds back: a failed
// sign-in, then the account acting and being changed, a second account's
// sign-in, and a source that recovered, oldest first.
func coalescedSample() Notification {
	byRule := map[string]alert.Alert{}
	for _, a := range SampleAlerts() {
		byRule[a.Rule] = a
	}
	signin2 := byRule[detect.RuleSignIn]
	signin2.ID, signin2.AccountUPN, signin2.Account, signin2.AccountID = "a2-signin-bg2", "bg-admin2@contoso.onmicrosoft.com", "Break glass 2", "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
	signin2.Title = "Break-glass account sign-in (success)"
	signin2.Result = "success"
	signin2.EventTime = signin2.EventTime.Add(3 * time.Minute)
	list := []struct {
		a      alert.Alert
		status string
		after  time.Duration
	}{
		{byRule[detect.RuleSignIn], store.StatusFiring, 0},
		{byRule[detect.RuleActivity], store.StatusFiring, time.Minute},
		{byRule[detect.RuleChange], store.StatusFiring, 2 * time.Minute},
		{signin2, store.StatusFiring, 3 * time.Minute},
		{byRule[detect.RuleSilence], store.StatusResolved, 4 * time.Minute},
	}
	var carried []Notification
	for _, x := range list {
		a := x.a
		a.EventTime = sampleTime.Add(x.after)
		carried = append(carried, Notification{ID: NotificationID(a.ID, x.status), Status: x.status, Alert: a, Attempt: 1})
	}
	return NewCoalesced(carried, 1, sampleTime.Add(5*time.Minute))
}

// allResolved is n with every carried notification a resolution.
func allResolved(n Notification) Notification {
	var carried []Notification
	for _, c := range n.Coalesced {
		c.Status, c.ID = store.StatusResolved, NotificationID(c.Alert.ID, store.StatusResolved)
		carried = append(carried, c)
	}
	return NewCoalesced(carried, n.Attempt, n.Sent)
}

// burst is n Sev0 sign-ins of alternating accounts, a minute apart.
func burst(n int) Notification {
	var carried []Notification
	var base alert.Alert
	for _, a := range SampleAlerts() {
		if a.Rule == detect.RuleSignIn {
			base = a
		}
	}
	for i := range n {
		a := base
		a.ID = fmt.Sprintf("burst-%02d", i+1)
		a.EventTime = sampleTime.Add(time.Duration(i) * 15 * time.Second)
		if i%2 == 1 {
			a.AccountUPN, a.Account = "bg-admin2@contoso.onmicrosoft.com", "Break glass 2"
		}
		carried = append(carried, Notification{ID: a.ID, Status: store.StatusFiring, Alert: a, Attempt: 1})
	}
	return NewCoalesced(carried, 1, sampleTime.Add(5*time.Minute))
}

// TestCoalescedMessageGolden renders coalesced messages in every form,
// with and without acknowledge links, and checks that each carried alert
// is named (text, HTML, fields) or counted (subject, short, voice).
func TestCoalescedMessageGolden(t *testing.T) {
	noLinks, err := NewRenderer(RenderOptions{TimeZone: testRenderer(t, Templates{}).opts.TimeZone})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    *Renderer
		n    Notification
	}{
		{"coalesced", testRenderer(t, Templates{}), coalescedSample()},
		{"coalesced_nolinks", noLinks, coalescedSample()},
		{"coalesced_burst20", testRenderer(t, Templates{}), burst(20)},
		{"coalesced_resolved", testRenderer(t, Templates{}), allResolved(coalescedSample())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.r.Render(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Join("testdata", "message", tc.name)
			checkMessageGolden(t, base+".txt", []byte(goldenText(m)))
			checkMessageGolden(t, base+".html", []byte(m.HTML))
			count := fmt.Sprint(len(tc.n.Coalesced))
			for _, c := range tc.n.Coalesced {
				for form, body := range map[string]string{"text": m.Text, "html": m.HTML, "fields": fmt.Sprint(m.Fields)} {
					if !strings.Contains(body, c.Alert.ID) {
						t.Errorf("%s does not name alert %s", form, c.Alert.ID)
					}
				}
			}
			for form, body := range map[string]string{"subject": m.Subject, "short": m.Short, "voice": m.Voice} {
				if !strings.Contains(body, count+" alerts") {
					t.Errorf("%s does not count the %s alerts: %q", form, count, body)
				}
			}
			if len(m.Short) > MaxShort || len(m.Subject) > MaxSubject {
				t.Errorf("short %d bytes, subject %d: over the limits", len(m.Short), len(m.Subject))
			}
			if tc.n.Status == store.StatusResolved {
				if m.Status != store.StatusResolved || !strings.Contains(m.Subject, "RESOLVED") || m.AckURL != "" {
					t.Errorf("all resolved: status %s subject %q ack %q", m.Status, m.Subject, m.AckURL)
				}
				return
			}
			if m.Severity != int(alert.Sev0) || m.Status != store.StatusFiring || tc.n.Alert.Rule != detect.RuleSignIn {
				t.Errorf("lead: severity %d status %s rule %s; want the Sev0 firing sign-in", m.Severity, m.Status, tc.n.Alert.Rule)
			}
		})
	}
}

// TestCoalescedIgnoresCustomTemplates: a template written for one alert
// would name only one; a coalesced message keeps the built-in wording.
func TestCoalescedIgnoresCustomTemplates(t *testing.T) {
	r := testRenderer(t, Templates{Short: "{{.Title}}", Text: "{{.Title}}", Subject: "{{.Title}}", Voice: "{{.Title}}", HTML: "<p>{{.Title}}</p>"})
	n := burst(3)
	m, err := r.Render(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Coalesced {
		if !strings.Contains(m.Text, c.Alert.ID) || !strings.Contains(m.HTML, c.Alert.ID) {
			t.Errorf("alert %s missing: custom template used for a coalesced message?\n%s", c.Alert.ID, m.Text)
		}
	}
	if !strings.Contains(m.Short, "3 alerts") {
		t.Errorf("short = %q", m.Short)
	}
	single, err := r.Render(n.Coalesced[0])
	if err != nil || single.Short != n.Coalesced[0].Alert.Title+" Ack: "+single.AckURL {
		t.Errorf("single alert: short %q, %v; want the custom template", single.Short, err)
	}
}

// TestRenderDefaultCoalesced: without a renderer every carried alert is
// still listed.
func TestRenderDefaultCoalesced(t *testing.T) {
	n := burst(4)
	m, err := RenderWith(nil, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Coalesced {
		if !strings.Contains(m.Text, c.Alert.ID) {
			t.Errorf("default rendering misses %s:\n%s", c.Alert.ID, m.Text)
		}
	}
	if !strings.Contains(m.Short, "4 break-glass alerts") || len(m.Short) > MaxShort {
		t.Errorf("short = %q", m.Short)
	}
}

// TestNewCoalescedLead: the lead is the most severe firing alert, the ID
// depends only on the set carried.
func TestNewCoalescedLead(t *testing.T) {
	mk := func(id string, sev alert.Severity, status string) Notification {
		return Notification{ID: NotificationID(id, status), Status: status, Alert: alert.Alert{ID: id, Severity: sev}}
	}
	a, b, c := mk("a", alert.Sev1, store.StatusFiring), mk("b", alert.Sev0, store.StatusResolved), mk("c", alert.Sev0, store.StatusFiring)
	n := NewCoalesced([]Notification{a, b, c}, 2, sampleTime)
	if n.Alert.ID != "c" || n.Status != store.StatusFiring || n.Attempt != 2 || len(n.Coalesced) != 3 {
		t.Errorf("lead %s status %s attempt %d carried %d; want c firing 2 3", n.Alert.ID, n.Status, n.Attempt, len(n.Coalesced))
	}
	if m := NewCoalesced([]Notification{c, a, b}, 1, sampleTime); m.ID != n.ID {
		t.Errorf("ID depends on order: %s vs %s", m.ID, n.ID)
	}
	if m := NewCoalesced([]Notification{a, c}, 1, sampleTime); m.ID == n.ID {
		t.Errorf("different sets share ID %s", m.ID)
	}
	if r := NewCoalesced([]Notification{b, mk("d", alert.Sev2, store.StatusResolved)}, 1, sampleTime); r.Status != store.StatusResolved {
		t.Errorf("all resolved: status %s", r.Status)
	}
}
