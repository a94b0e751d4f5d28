package incident_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

// TestReviewFlow: ack acknowledges the incident and its firing alerts;
// close refuses an unreviewed incident; a misuse review raises bg.misuse
// (Sev0) to every target, in the same incident, once however often the
// review is repeated; every step is in the evidence log.
func TestReviewFlow(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: t0}
	as := use(t, st, "use1", t0)
	drain(t, builder(st, c), 3)
	inc, _ := st.IncidentOf(ctx, as[0].ID)
	now := t0.Add(30 * time.Minute)

	if _, err := incident.Close(ctx, st, inc.ID, "bob", "", now); !errors.Is(err, incident.ErrNoReview) {
		t.Fatalf("Close before review: err = %v, want ErrNoReview", err)
	}
	if err := st.SetAlertState(ctx, as[1].ID, alert.StateResolved, "x", now); err != nil {
		t.Fatal(err)
	}
	res, err := incident.Ack(ctx, st, inc.ID, "bob", "looking", now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Already || res.Incident.State != store.IncidentAcknowledged || !slices.Equal(res.Alerts, []string{as[0].ID, as[2].ID}) {
		t.Errorf("Ack = %+v; want the incident acknowledged and the two firing alerts", res)
	}
	for i, want := range []string{alert.StateAcknowledged, alert.StateResolved, alert.StateAcknowledged} {
		if a, _ := st.Alert(ctx, as[i].ID); a.State != want {
			t.Errorf("alert %d state %s, want %s", i, a.State, want)
		}
	}
	// The alert records who acknowledged it and how: with its incident.
	if ch, err := st.StateChanges(ctx, as[0].ID); err != nil || len(ch) == 0 ||
		ch[len(ch)-1].By != "bob" || ch[len(ch)-1].Via != store.ViaIncident {
		t.Errorf("alert 0 state changes = %+v, %v; want the last by bob via %q", ch, err, store.ViaIncident)
	}
	if res, err := incident.Ack(ctx, st, inc.ID, "bob", "", now); err != nil || !res.Already || len(res.Alerts) != 0 {
		t.Errorf("second Ack = %+v, %v; want Already and nothing acknowledged", res, err)
	}

	if _, err := incident.Review(ctx, st, inc.ID, incident.ReviewRequest{Class: "oops", By: "carol"}, now); err == nil {
		t.Error("unknown class accepted")
	}
	if _, err := incident.Review(ctx, st, inc.ID, incident.ReviewRequest{Class: store.ClassMisuse, By: " "}, now); err == nil {
		t.Error("review without reviewer accepted")
	}
	targets := []string{"oncall/webhook", "security/email"}
	rq := incident.ReviewRequest{Class: store.ClassMisuse, By: "carol", Note: "nobody used it",
		Attest: map[string]string{"oncall": "yes"}, Groups: []string{"oncall", "security"}, Targets: targets, Gap: gap}
	rv, err := incident.Review(ctx, st, inc.ID, rq, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rv.Missing, []string{"security"}) {
		t.Errorf("Missing = %v, want [security]", rv.Missing)
	}
	if rv.Misuse == nil || !rv.MisuseNew || rv.Misuse.Rule != detect.RuleMisuse || rv.Misuse.Severity != alert.Sev0 {
		t.Fatalf("misuse alert = %+v (new %v)", rv.Misuse, rv.MisuseNew)
	}
	ds, err := st.AlertDeliveries(ctx, rv.Misuse.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.Target)
	}
	if !slices.Equal(got, targets) {
		t.Errorf("bg.misuse queued for %v, want every target %v", got, targets)
	}
	if of, err := st.IncidentOf(ctx, rv.Misuse.ID); err != nil || of.ID != inc.ID {
		t.Errorf("bg.misuse is in incident %s (%v), want %s", of.ID, err, inc.ID)
	}
	again, err := incident.Review(ctx, st, inc.ID, rq, now.Add(2*time.Minute))
	if err != nil || again.MisuseNew {
		t.Errorf("repeated misuse review: new %v, %v; want the page queued once", again.MisuseNew, err)
	}
	closed, err := incident.Close(ctx, st, inc.ID, "carol", "handed to security", now.Add(time.Hour))
	if err != nil || closed.State != store.IncidentClosed {
		t.Fatalf("Close = %+v, %v", closed, err)
	}
	log, _ := st.IncidentLog(ctx, inc.ID)
	var refs []string
	logged := map[string]bool{}
	for _, e := range log {
		logged[e.Kind+" "+e.Ref] = true
		if e.Kind == store.LogIncident || e.Kind == store.LogNotify {
			refs = append(refs, e.Kind+" "+e.Ref)
		}
	}
	want := []string{"incident state:open", "incident state:acknowledged", "notify " + as[0].ID, "notify " + as[2].ID,
		"incident state:reviewed", "incident state:reviewed", "incident state:closed"}
	if !slices.Equal(refs, want) {
		t.Errorf("transitions logged:\n%v\nwant\n%v", refs, want)
	}
	if !logged[store.LogAlert+" "+rv.Misuse.ID] || !logged[store.LogRecord+" "+rv.Misuse.EventID] {
		t.Error("the bg.misuse alert and its record are not in the incident's evidence log")
	}
}

func TestParseAttest(t *testing.T) {
	groups := []string{"oncall", "security"}
	for _, tc := range []struct {
		in, g, v string
		ok       bool
	}{
		{"oncall=yes", "oncall", "yes", true},
		{"security = role given to a contractor, not authorised ", "security", "role given to a contractor, not authorised", true},
		{"oncall=", "", "", false},
		{"=yes", "", "", false},
		{"oncall", "", "", false},
		{"ops=yes", "", "", false},
	} {
		g, v, err := incident.ParseAttest(tc.in, groups)
		if (err == nil) != tc.ok || g != tc.g || v != tc.v {
			t.Errorf("ParseAttest(%q) = %q %q %v", tc.in, g, v, err)
		}
	}
}
