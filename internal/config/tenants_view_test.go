package config

import (
	"strings"
	"testing"

	"breakglass/internal/entra"
)

// TestForTenant: one tenant's view has its accounts, Graph, sources and
// id, and no tenants:; OneTenant requires a choice only with tenants:.
func TestForTenant(t *testing.T) {
	c := &Config{Path: "bg.yaml", Tenants: []Tenant{
		{ID: "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", Name: "contoso", Accounts: []entra.Account{{ID: "a"}}, Graph: GraphConfig{TenantID: "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f"}, Sources: []SourceConfig{{Name: "ca"}}},
		{ID: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a", Name: "fabrikam", Accounts: []entra.Account{{ID: "b"}}, Sources: []SourceConfig{{Name: "fb"}}},
	}, Server: ServerConfig{Listen: "127.0.0.1:1"}}
	for _, sel := range []string{"fabrikam", "FabriKam", "0D9C8B7A-6F5E-4D3C-8B2A-1F0E9D8C7B6A"} {
		v, err := c.OneTenant(sel)
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if v.TenantID != c.Tenants[1].ID || len(v.Accounts) != 1 || v.Accounts[0].ID != "b" || len(v.Sources) != 1 || v.Sources[0].Name != "fb" ||
			v.Graph.TenantID != "" || v.Tenants != nil || v.Server.Listen != "127.0.0.1:1" {
			t.Errorf("%s: view %+v", sel, v)
		}
	}
	if len(c.Tenants) != 2 || c.Accounts != nil {
		t.Errorf("the view changed the config: %+v", c)
	}
	if _, err := c.OneTenant(""); err == nil || !strings.Contains(err.Error(), "bg.yaml has 2 tenants: name the one to read with --tenant (contoso (6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f), fabrikam") {
		t.Errorf("no choice: %v", err)
	}
	if _, err := c.OneTenant("northwind"); err == nil || !strings.Contains(err.Error(), `no tenant "northwind"; the tenants are contoso`) {
		t.Errorf("unknown: %v", err)
	}
	single := &Config{Path: "one.yaml", Accounts: []entra.Account{{ID: "x"}}}
	if v, err := single.OneTenant(""); err != nil || v != single {
		t.Errorf("single tenant: %v %v", v, err)
	}
	if _, err := single.OneTenant("contoso"); err == nil || !strings.Contains(err.Error(), "one.yaml has no tenants: section") {
		t.Errorf("--tenant without tenants: %v", err)
	}
}
