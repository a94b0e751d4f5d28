package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// changeAlertState: an acknowledgement records who, how, the note and when,
// reports whether it changed anything (a repeat is a no-op that records
// nothing), works inside Update, survives reopening, and an unknown alert
// is ErrNotFound.
func (s suite) changeAlertState(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	a := Alert("evt-ack", "r", base)
	add(t, st, a, nil)
	ack := store.StateChange{AlertID: a.ID, To: alert.StateAcknowledged, By: "Alice Example",
		Via: store.ViaLink, Note: "on it; \"quoted\"\nsecond line", At: base.Add(time.Minute)}
	changed, err := st.ChangeAlertState(ctx, ack)
	if err != nil || !changed {
		t.Fatalf("ChangeAlertState = %v, %v; want changed", changed, err)
	}
	// A replay (the webhook again, a second click) changes nothing and
	// records nothing, whoever sends it.
	again := ack
	again.By, again.Via, again.At = "Bob", store.ViaPagerDuty, base.Add(2*time.Minute)
	if changed, err := st.ChangeAlertState(ctx, again); err != nil || changed {
		t.Fatalf("repeat ChangeAlertState = %v, %v; want no change", changed, err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		ch, err := tx.ChangeAlertState(ctx, store.StateChange{AlertID: a.ID, To: alert.StateResolved,
			By: "breakglass", Via: store.ViaCLI, At: base.Add(3 * time.Minute)})
		if err == nil && !ch {
			err = errors.New("resolve in Update: not changed")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// From is ignored: the store knows the state.
	if _, err := st.ChangeAlertState(ctx, store.StateChange{AlertID: a.ID, From: "bogus", To: alert.StateAcknowledged, By: "x"}); !errors.Is(err, store.ErrStateTransition) {
		t.Errorf("resolved → acknowledged = %v, want ErrStateTransition", err)
	}
	if _, err := st.ChangeAlertState(ctx, store.StateChange{AlertID: "no-such-alert", To: alert.StateAcknowledged}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown alert = %v, want ErrNotFound", err)
	}
	st.Close()
	st = s.reopen(t, path)
	changes, err := st.StateChanges(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.StateChange{
		{AlertID: a.ID, From: alert.StateFiring, To: alert.StateAcknowledged, By: ack.By, Via: ack.Via, Note: ack.Note, At: ack.At.UTC()},
		{AlertID: a.ID, From: alert.StateAcknowledged, To: alert.StateResolved, By: "breakglass", Via: store.ViaCLI, At: base.Add(3 * time.Minute).UTC()},
	}
	if fmt.Sprintf("%+v", changes) != fmt.Sprintf("%+v", want) {
		t.Errorf("StateChanges after reopen:\n got %+v\nwant %+v", changes, want)
	}
	for _, c := range changes {
		if c.At.Location() != time.UTC {
			t.Errorf("At %v not UTC", c.At)
		}
	}
	// SetAlertState records no Via or Note.
	if err := st.SetAlertState(ctx, a.ID, alert.StateFiring, "carol", base.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	changes, _ = st.StateChanges(ctx, a.ID)
	if n := len(changes); n != 3 || changes[2].Via != "" || changes[2].Note != "" || changes[2].By != "carol" {
		t.Errorf("SetAlertState change = %+v", changes[n-1])
	}
}

// detectedSince: AlertFilter.DetectedSince keeps the alerts detected at or
// after it, whatever their event time, combined with the other filters.
func (s suite) detectedSince(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	// old event detected late (a record that arrived a day after it was
	// logged), recent event detected at once, and one detected long ago.
	late := Alert("evt-late", "r", base.Add(-24*time.Hour))
	late.Detected = base
	recent := Alert("evt-recent", "r", base.Add(-time.Minute))
	recent.Detected = base.Add(-time.Minute + 1)
	old := Alert("evt-old", "r", base.Add(-2*time.Hour))
	old.Detected = base.Add(-2 * time.Hour)
	old.Severity = alert.Sev2
	for _, a := range []alert.Alert{late, recent, old} {
		add(t, st, a, nil)
	}
	if err := st.SetAlertState(ctx, recent.ID, alert.StateAcknowledged, "x", base); err != nil {
		t.Fatal(err)
	}
	ids := func(f store.AlertFilter) string {
		var out []string
		for _, a := range all(t, st, f) {
			out = append(out, a.EventID)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		f    store.AlertFilter
		want string
	}{
		{store.AlertFilter{DetectedSince: base.Add(-time.Hour)}, "[evt-recent evt-late]"},
		{store.AlertFilter{DetectedSince: base.Add(-time.Minute + 1)}, "[evt-recent evt-late]"}, // inclusive
		{store.AlertFilter{DetectedSince: base.Add(-time.Minute + 2)}, "[evt-late]"},
		{store.AlertFilter{DetectedSince: base.Add(-time.Hour), State: alert.StateFiring}, "[evt-late]"},
		{store.AlertFilter{DetectedSince: base.Add(-3 * time.Hour), State: alert.StateFiring}, "[evt-old evt-late]"},
		{store.AlertFilter{DetectedSince: base.Add(time.Nanosecond)}, "[]"},
		// Until is exclusive on the event time; Severities is any-of.
		{store.AlertFilter{Until: base.Add(-time.Minute)}, "[evt-old evt-late]"},
		{store.AlertFilter{Until: base.Add(-time.Minute + 1)}, "[evt-recent evt-old evt-late]"},
		{store.AlertFilter{Since: base.Add(-3 * time.Hour), Until: base.Add(-time.Hour)}, "[evt-old]"},
		{store.AlertFilter{Severities: []alert.Severity{alert.Sev2}}, "[evt-old]"},
		{store.AlertFilter{Severities: []alert.Severity{recent.Severity, alert.Sev2}}, "[evt-recent evt-old evt-late]"},
		{store.AlertFilter{Severities: []alert.Severity{alert.Sev4}}, "[]"},
	} {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("Alerts(DetectedSince %v, state %q) = %s, want %s", tc.f.DetectedSince.Sub(base), tc.f.State, got, tc.want)
		}
	}
	page, _, err := st.AlertPage(ctx, store.AlertFilter{DetectedSince: base.Add(-time.Hour)}, "", 1)
	if err != nil || len(page) != 1 || page[0].EventID != "evt-recent" {
		t.Errorf("AlertPage(DetectedSince) = %v, %v", page, err)
	}
}
