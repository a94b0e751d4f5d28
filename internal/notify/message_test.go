package notify

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the goldens use Europe/Oslo whatever the machine has

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

func testRenderer(t *testing.T, tpl Templates) *Renderer {
	t.Helper()
	tz, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(RenderOptions{
		TimeZone: tz,
		AckURL: func(id string) string {
			return "https://breakglass.contoso.example/ack?alert=" + id + "&exp=1772510000&sig=3f9a0c"
		},
		Templates: tpl,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, r *Renderer, a alert.Alert, status string) Message {
	t.Helper()
	m, err := r.Render(Notification{ID: NotificationID(a.ID, status), Status: status, Alert: a, Attempt: 1, Sent: a.Detected})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return m
}

// goldenText lays out every plain form of m for review.
func goldenText(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "== subject (%d bytes)\n%s\n", len(m.Subject), m.Subject)
	fmt.Fprintf(&b, "== short (%d bytes)\n%s\n", len(m.Short), m.Short)
	fmt.Fprintf(&b, "== voice\n%s\n", m.Voice)
	fmt.Fprintf(&b, "== fields\n")
	for _, f := range m.Fields {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	fmt.Fprintf(&b, "== severity %d, status %s, ack %q\n", m.Severity, m.Status, m.AckURL)
	fmt.Fprintf(&b, "== text\n%s", m.Text)
	return b.String()
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestMessageGolden renders every built-in rule's sample alert, firing and
// resolved, in every form.
func TestMessageGolden(t *testing.T) {
	r := testRenderer(t, Templates{})
	samples := SampleAlerts()
	if len(samples) < 11 {
		t.Fatalf("%d sample alerts; every rule of detect.All needs one", len(samples))
	}
	for _, a := range samples {
		for _, status := range []string{store.StatusFiring, store.StatusResolved} {
			t.Run(a.Rule+"/"+status, func(t *testing.T) {
				m := render(t, r, a, status)
				base := filepath.Join("testdata", "message", a.Rule+"."+status)
				checkGolden(t, base+".txt", []byte(goldenText(m)))
				checkGolden(t, base+".html", []byte(m.HTML))
			})
		}
	}
}
