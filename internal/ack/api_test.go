package ack

import (
	"context"
	"errors"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// TestAckAs: the dashboard's acknowledgement takes the links' path and
// tells its outcomes apart.
func TestAckAs(t *testing.T) {
	f := newFixture(t, Options{})
	h := New(Options{Store: f.st, Now: f.c.Now})
	ctx := context.Background()
	changed, err := h.AckAs(ctx, f.a.ID, "oidc:dana@contoso.com", store.ViaAPI, "on it")
	if err != nil || !changed {
		t.Fatalf("AckAs = %v, %v", changed, err)
	}
	if st, cs := f.state(t); st != alert.StateAcknowledged || len(cs) != 1 || cs[0].By != "oidc:dana@contoso.com" || cs[0].Via != store.ViaAPI || cs[0].Note != "on it" {
		t.Errorf("state %s, history %+v", st, cs)
	}
	if changed, err := h.AckAs(ctx, f.a.ID, "vic", store.ViaAPI, ""); err != nil || changed {
		t.Errorf("repeat AckAs = %v, %v; want unchanged", changed, err)
	}
	if _, err := h.AckAs(ctx, "no-such-alert", "vic", store.ViaAPI, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown alert: %v", err)
	}
	if _, err := h.AckAs(ctx, "../x", "vic", store.ViaAPI, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
	if err := f.st.SetAlertState(ctx, f.a.ID, alert.StateResolved, "test", f.c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AckAs(ctx, f.a.ID, "vic", store.ViaAPI, ""); !errors.Is(err, ErrResolved) {
		t.Errorf("resolved alert: %v", err)
	}
}
