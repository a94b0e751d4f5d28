package config

import (
	"reflect"
	"testing"
)

// TestTenantsCombine: with tenants:, Users and Groups span every tenant,
// AllSources keeps each source's tenant, and EffectiveRoutes puts each
// tenant's routes, limited to it, before notify.routes.
func TestTenantsCombine(t *testing.T) {
	const ta, tb = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	doc := `tenants:
  - id: ` + ta + `
    name: contoso
    accounts:
      - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70
      - group: 0f8fad5b-d9cb-469f-a165-70867728950e
    sources:
      - type: file
        path: /a
    routes:
      - matchers: ['severity="Sev0"']
        groups: [a]
  - id: ` + tb + `
    name: fabrikam
    accounts:
      - upn: bg@fabrikam.com
    routes:
      - groups: [b]
sources:
  - type: file
    name: shared
    path: /s
notify:
  groups:
    - name: a
      channels: [{type: console}]
    - name: b
      channels: [{type: console}]
    - name: msp
      channels: [{type: console}]
  routes:
    - groups: [msp]
`
	c, err := Parse("t.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users(); len(got) != 2 || got[0].ID != "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70" || got[1].UPN != "bg@fabrikam.com" {
		t.Errorf("Users = %+v", got)
	}
	if got := c.Groups(); !reflect.DeepEqual(got, []string{"0f8fad5b-d9cb-469f-a165-70867728950e"}) {
		t.Errorf("Groups = %v", got)
	}
	var srcs []string
	for _, s := range c.AllSources() {
		owner := ""
		if s.Tenant != nil {
			owner = s.Tenant.Name
		}
		srcs = append(srcs, s.Name+"@"+owner)
	}
	if want := []string{"shared@", "contoso-file-1@contoso"}; !reflect.DeepEqual(srcs, want) {
		t.Errorf("AllSources = %v, want %v", srcs, want)
	}
	var routes [][]string
	for _, r := range c.EffectiveRoutes() {
		routes = append(routes, append(r.Matchers, r.Groups...))
	}
	want := [][]string{
		{`tenant="` + ta + `"`, `severity="Sev0"`, "a"},
		{`tenant="` + tb + `"`, "b"},
		{"msp"},
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("EffectiveRoutes = %q, want %q", routes, want)
	}
	if c.Tenant(ta[:8]) != nil || c.Tenant("6B1E4E1C-3D5A-4C2B-9F10-2A3B4C5D6E7F") == nil {
		t.Error("Tenant lookup by id ignoring case")
	}
}
