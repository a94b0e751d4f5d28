package incident_test

import (
	"context"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

// TestGroupingUPNOnlyAccount: an account configured by UPN alone (config
// allows it) whose sign-in and activity records carry its object id and
// UPN, and whose change record names it by UPN alone, in other case: one
// use, one incident. The builder keyed the first two by id and the third
// by UPN, splitting one use into two incidents.
func TestGroupingUPNOnlyAccount(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: t0.Add(2 * time.Minute)}
	b := incident.New(incident.Options{Store: st, Gap: gap, Now: c.now, Accounts: []entra.Account{{UPN: bgUPN}}})
	use(t, st, "use1", t0)
	drain(t, b, 3)
	incs, err := st.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 {
		for _, inc := range incs {
			t.Logf("incident %s key %s alerts %v", inc.ID, inc.Key, inc.Alerts)
		}
		t.Fatalf("one use of a UPN-only account formed %d incidents, want 1", len(incs))
	}
	// A record naming it by id alone, after one named it by both, joins.
	use(t, st, "use1b", t0.Add(time.Hour))
	drain(t, b, 3)
	if incs, _ := st.Incidents(ctx, store.IncidentFilter{}); len(incs) != 1 {
		t.Errorf("a second burst in the gap formed %d incidents, want 1", len(incs))
	}
}
