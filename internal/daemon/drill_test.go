package daemon

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/drill"
	"breakglass/internal/store/sqlite"
)

// TestDrillInServe: a drill planned through another store handle while
// serve runs marks the next sign-in of its account inside the window
// (label, DRILL title), which is still routed and delivered; a sign-in
// outside the window stays a normal alert; serve then links the drill to
// the sign-in's incident.
func TestDrillInServe(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/a
`)
	r := start(t, cfg, Options{})
	ctx := context.Background()
	other, err := sqlite.Open(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	at := time.Date(2026, 6, 20, 6, 30, 0, 0, time.UTC) // signIn's records are at 07:00
	d, err := drill.Plan(ctx, other, cfg, drill.PlanRequest{Account: bgUPN, At: at, By: "alice"}, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drill.Start(ctx, other, d.ID, at); err != nil {
		t.Fatal(err)
	}
	time.Sleep(drill.DefaultRefresh + 500*time.Millisecond) // the matcher's cache ages by the wall clock
	late := strings.ReplaceAll(signIn("r-late"), "2026-06-20T07:00:00Z", "2026-06-20T08:00:00Z")
	if code := post(t, r.ingest(t), []byte(signIn("r-drill")+late)); code != http.StatusAccepted {
		t.Fatalf("ingest: %d", code)
	}
	in, out := alert.Key("r-drill", detect.RuleSignIn), alert.Key("r-late", detect.RuleSignIn)
	waitFor(t, 10*time.Second, "both delivered", func() bool {
		s := rcv.snapshot()
		return s["/a "+in+" firing"] == 1 && s["/a "+out+" firing"] == 1
	})
	a, err := other.Alert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if a.Labels[alert.LabelDrill] != d.ID || !strings.HasPrefix(a.Title, drill.TitlePrefix) {
		t.Errorf("drill sign-in: labels %v title %q", a.Labels, a.Title)
	}
	b, err := other.Alert(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if b.Labels[alert.LabelDrill] != "" || strings.Contains(b.Title, "DRILL") {
		t.Errorf("sign-in after the window: labels %v title %q", b.Labels, b.Title)
	}
	waitFor(t, 3*drillPoll, "the drill linked to its incident", func() bool {
		got, err := other.Drill(ctx, d.ID)
		return err == nil && got.AlertID == in && got.IncidentID != ""
	})
	got, _ := other.Drill(ctx, d.ID)
	log, err := other.IncidentLog(ctx, got.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Kind == drill.LogKind {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d drill entries in incident %s's evidence, want 1", n, got.IncidentID)
	}
}
