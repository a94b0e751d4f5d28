package notify

import (
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// TestMessageDrillSignIn: a sign-in inside a drill's window (label drill)
// says DRILL before anything else in every short form, and DRILL in the
// long ones, while still asking for the acknowledgement; the same alert
// without the label never mentions a drill.
func TestMessageDrillSignIn(t *testing.T) {
	r := testRenderer(t, Templates{})
	a := sampleAlert(detect.MustLookup(detect.RuleSignIn))
	a.Labels[alert.LabelDrill] = "drl-0123456789ab"
	m := render(t, r, a, store.StatusFiring)
	for form, s := range map[string]string{"subject": m.Subject, "short": m.Short} {
		if !strings.HasPrefix(s, "[DRILL] ") && !strings.HasPrefix(s, "DRILL ") {
			t.Errorf("drill %s does not start with DRILL: %q", form, s)
		}
	}
	if !strings.HasPrefix(m.Voice, "This is a drill") {
		t.Errorf("drill voice does not start with the drill: %q", m.Voice)
	}
	for form, s := range map[string]string{"text": m.Text, "html": m.HTML} {
		if !strings.Contains(s, "DRILL (drl-0123456789ab)") || !strings.Contains(s, "Acknowledge it as usual") {
			t.Errorf("drill %s does not name the drill and ask for the acknowledgement:\n%s", form, s)
		}
	}
	if strings.HasPrefix(m.Text, "BREAK-GLASS") || !strings.HasPrefix(m.Text, "THIS IS A DRILL") {
		t.Errorf("drill text does not start with the drill: %.80q", m.Text)
	}
	delete(a.Labels, alert.LabelDrill)
	m = render(t, r, a, store.StatusFiring)
	for form, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML, "short": m.Short, "voice": m.Voice} {
		// The runbook line mentions "a drill" as a possible cause; the
		// markers are what must not appear.
		if strings.Contains(s, "DRILL") || strings.Contains(s, "This is a drill") {
			t.Errorf("a real alert's %s mentions a drill: %q", form, s)
		}
	}
}
