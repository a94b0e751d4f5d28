package daemon

import (
	"testing"

	"breakglass/internal/canary"
	"breakglass/internal/config"
	"breakglass/internal/entra"
)

// TestCanaryTenant: bg.canary_failed's tenant label is the top level's
// without tenants:, the only tenant's with one, the tenant listing the
// identity when one does (a group member), else none, so with several
// tenants it is every tenant's failure and goes to every real group.
func TestCanaryTenant(t *testing.T) {
	id := canary.Identity{ID: "c0ffee00-1111-4222-8333-444455556666", UPN: "canary@contoso.example"}
	ta := config.Tenant{ID: tenantA, Name: "contoso", Accounts: []entra.Account{{ID: accA, UPN: upnA}}}
	tb := config.Tenant{ID: tenantB, Name: "fabrikam", Accounts: []entra.Account{{ID: accB, UPN: upnB}}}
	for _, tc := range []struct {
		name    string
		cfg     *config.Config
		members map[string][]entra.Account // tenant id → its accounts now
		want    string
	}{
		{name: "no tenants", cfg: &config.Config{TenantID: tenantX}, want: tenantX},
		{name: "no tenants, graph's", cfg: &config.Config{Graph: config.GraphConfig{TenantID: tenantX}}, want: tenantX},
		{name: "one tenant", cfg: &config.Config{Tenants: []config.Tenant{tb}}, want: tenantB},
		{name: "two tenants", cfg: &config.Config{Tenants: []config.Tenant{ta, tb}}, want: ""},
		{name: "two tenants, identity a member of B's group", cfg: &config.Config{Tenants: []config.Tenant{ta, tb}},
			members: map[string][]entra.Account{tenantB: {{ID: accB, UPN: upnB}, {ID: id.ID}}}, want: tenantB},
		{name: "two tenants, by UPN", cfg: &config.Config{Tenants: []config.Tenant{ta, tb}},
			members: map[string][]entra.Account{tenantA: {{ID: accA, UPN: upnA}, {UPN: "CANARY@contoso.example"}}}, want: tenantA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Daemon{cfg: tc.cfg, ten: newTenancy(tc.cfg)}
			for tid, list := range tc.members {
				d.ten.apply(tid, list)
			}
			if got := d.canaryTenant(id); got != tc.want {
				t.Errorf("canaryTenant = %q, want %q", got, tc.want)
			}
		})
	}
}
