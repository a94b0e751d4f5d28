package daemon

import (
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/entra"
)

func TestRecordTenant(t *testing.T) {
	const a, b = "6B1E4E1C-3D5A-4C2B-9F10-2A3B4C5D6E7F", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	for _, tt := range []struct{ name, raw, want string }{
		{"diagnostic settings", `{"time":"x","tenantId":"` + a + `","category":"SignInLogs"}`, strings.ToLower(a)},
		{"log analytics: AADTenantId over the workspace's TenantId", `{"TenantId":"` + b + `","AADTenantId":"` + a + `"}`, strings.ToLower(a)},
		{"any case", `{"aadtenantid":"` + b + `"}`, b},
		{"resourceId", `{"resourceId":"/tenants/` + b + `/providers/Microsoft.aadiam"}`, b},
		{"not a GUID", `{"tenantId":"contoso.onmicrosoft.com"}`, ""},
		{"not a string", `{"tenantId":42}`, ""},
		{"nested only", `{"properties":{"homeTenantId":"` + a + `"}}`, ""},
		{"none", `{"category":"SignInLogs"}`, ""},
		{"unreadable record", `{"tenantId": "` + b + `", "properties": {`, b},
		{"unreadable without", `not json`, ""},
		{"empty", ``, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := recordTenant([]byte(tt.raw)); got != tt.want {
				t.Errorf("recordTenant = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzRecordTenant: any bytes give "" or a lower-case GUID, never a crash.
func FuzzRecordTenant(f *testing.F) {
	f.Add([]byte(`{"tenantId":"0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"}`))
	f.Add([]byte(`{"AADTenantId":"0D9C8B7A-6F5E-4D3C-8B2A-1F0E9D8C7B6A","TenantId":"x"}`))
	f.Add([]byte(`{"resourceId":"/tenants/0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a/x"}`))
	f.Add([]byte(`{"tenantid":"0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a",`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := recordTenant(raw)
		if got != "" && (!entra.IsGUID(got) || got != strings.ToLower(got)) {
			t.Fatalf("recordTenant(%q) = %q", raw, got)
		}
	})
}

// TestAttribute: the tenant of a record alert on each kind of source, and
// why when it is not plain; never dropping the alert's other labels.
func TestAttribute(t *testing.T) {
	const (
		ta, tb, tx = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a", "99999999-8888-4777-8666-555555555555"
		ua, ub     = "a0000000-0000-4000-8000-00000000000a", "b0000000-0000-4000-8000-00000000000b"
		uaUPN      = "bg@contoso.example"
	)
	cfg := &config.Config{Tenants: []config.Tenant{
		{ID: ta, Name: "contoso", Accounts: []entra.Account{{ID: ua, UPN: uaUPN}}, Sources: []config.SourceConfig{{Name: "a-src"}}},
		{ID: tb, Name: "fabrikam", Accounts: []entra.Account{{ID: ub}}, Sources: []config.SourceConfig{{Name: "b-src"}}},
	}}
	tn := newTenancy(cfg)
	rec := func(tenant string) []byte {
		if tenant == "" {
			return []byte(`{"category":"SignInLogs"}`)
		}
		return []byte(`{"tenantId":"` + tenant + `"}`)
	}
	for _, tt := range []struct {
		name, source, accID, accUPN, recTenant string
		wantTenant, wantName, wantWhy          string
	}{
		{"tenant's source", "a-src", ua, "", "", ta, "contoso", ""},
		{"tenant's source wins over the record", "a-src", ua, "", tb, ta, "contoso", ""},
		{"other tenant's account on a tenant's source", "b-src", ua, "", "", tb, "fabrikam", "account is a break-glass account of tenant contoso"},
		{"shared: the record's tenant", "shared", ub, "", tb, tb, "fabrikam", ""},
		{"shared: no tenant field, by the account", "shared", "", uaUPN, "", ta, "contoso", "names no tenant"},
		{"shared: unknown tenant, by the account", "shared", ua, "", tx, ta, "contoso", tx + " is not in tenants:"},
		{"shared: unknown tenant and account", "shared", "c0000000-0000-4000-8000-00000000000c", "", tx, tx, "", "its account is in no tenant's list"},
		{"shared: nothing known", "shared", "", "", "", "", "", "names no tenant and its account"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := alert.Alert{Rule: "bg.signin", AccountID: tt.accID, AccountUPN: tt.accUPN, Annotations: map[string]string{"description": "d"}}
			a.Labels = map[string]string{alert.LabelSource: tt.source, alert.LabelRule: "bg.signin"}
			orig := a.Annotations
			tn.attribute(&a, rec(tt.recTenant))
			if got := a.Labels[alert.LabelTenant]; got != tt.wantTenant {
				t.Errorf("tenant = %q, want %q", got, tt.wantTenant)
			}
			if got := a.Annotations[AnnotationTenantName]; got != tt.wantName {
				t.Errorf("tenant_name = %q, want %q", got, tt.wantName)
			}
			why := a.Annotations[AnnotationTenantAttribution]
			if (tt.wantWhy == "") != (why == "") || !strings.Contains(why, tt.wantWhy) {
				t.Errorf("tenant_attribution = %q, want %q", why, tt.wantWhy)
			}
			if a.Labels[alert.LabelRule] != "bg.signin" || a.Annotations["description"] != "d" {
				t.Errorf("other labels or annotations lost: %v %v", a.Labels, a.Annotations)
			}
			if len(orig) != 1 {
				t.Errorf("the caller's annotations map was changed: %v", orig)
			}
		})
	}
	// Group members join their tenant's accounts.
	member := "d0000000-0000-4000-8000-00000000000d"
	tn.apply(tb, []entra.Account{{ID: ub}, {ID: member}})
	if o := tn.ownerOf(member, ""); o == nil || o.ID != tb {
		t.Errorf("owner of a member of B's group = %v", o)
	}
	if got := tn.tenantOf("groups", "ABC"); got != "" {
		t.Errorf("tenantOf an unknown group = %q", got)
	}
	if got := tn.tenantOf("posture", "audit of tenant "+tb); got != tb {
		t.Errorf("tenantOf B's audit = %q", got)
	}
}

// TestAttributeRule: a scheduled KQL rule's alert takes the tenant of its
// account, else the one tenant its rows name; rows of several tenants or
// none leave it to every tenant's routes, saying why.
func TestAttributeRule(t *testing.T) {
	const (
		ta, tb, tx = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a", "99999999-8888-4777-8666-555555555555"
		ua         = "a0000000-0000-4000-8000-00000000000a"
	)
	cfg := &config.Config{Tenants: []config.Tenant{
		{ID: ta, Name: "contoso", Accounts: []entra.Account{{ID: ua}}},
		{ID: tb, Name: "fabrikam", Accounts: []entra.Account{{ID: "b0000000-0000-4000-8000-00000000000b"}}},
	}}
	tn := newTenancy(cfg)
	row := func(tenant string) string {
		return `{"UserId":"x","AADTenantId":"` + tenant + `","TenantId":"` + tx + `"}`
	}
	for _, tt := range []struct {
		name, account, rows string
		wantTenant, wantWhy string
	}{
		{"by its account", ua, "[" + row(tb) + "]", ta, ""},
		{"by its rows", "", "[" + row(tb) + "," + row(tb) + "]", tb, ""},
		{"rows of two tenants", "", "[" + row(ta) + "," + row(tb) + "]", "", "several tenants (contoso, fabrikam)"},
		{"a row of an unknown tenant", "", "[" + row(ta) + "," + row(tx) + "]", "", "several tenants (contoso, " + tx + ")"},
		{"rows naming none", "", `[{"n":3}]`, "", "names no account of a tenant"},
		{"no rows", "", "", "", "names no account of a tenant"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := alert.Alert{Rule: "kql.r", AccountID: tt.account, Labels: map[string]string{alert.LabelRule: "kql.r"},
				Annotations: map[string]string{"kql_rows": tt.rows}}
			tn.attributeRule(&a)
			if got := a.Labels[alert.LabelTenant]; got != tt.wantTenant {
				t.Errorf("tenant = %q, want %q", got, tt.wantTenant)
			}
			why := a.Annotations[AnnotationTenantAttribution]
			if (tt.wantWhy == "") != (why == "") || !strings.Contains(why, tt.wantWhy) {
				t.Errorf("tenant_attribution = %q, want %q", why, tt.wantWhy)
			}
			if a.Labels[alert.LabelRule] != "kql.r" {
				t.Errorf("labels lost: %v", a.Labels)
			}
		})
	}
	var none *tenancy // without tenants: nothing changes
	a := alert.Alert{Labels: map[string]string{"x": "y"}}
	none.attributeRule(&a)
	if len(a.Labels) != 1 || a.Annotations != nil {
		t.Errorf("without tenants the alert changed: %+v", a)
	}
}

// TestTriggerTenant: a key change is in its source's tenant, else the
// configured tenant its record names; unknown otherwise (every tenant's
// drills fall due), and without tenants: at all.
func TestTriggerTenant(t *testing.T) {
	const ta, tb, tx = "6b1e4e1c-3d5a-4c2b-9f10-2a3b4c5d6e7f", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a", "99999999-8888-4777-8666-555555555555"
	cfg := &config.Config{Tenants: []config.Tenant{
		{ID: ta, Name: "contoso", Sources: []config.SourceConfig{{Name: "a-src"}}},
		{ID: tb, Name: "fabrikam", Sources: []config.SourceConfig{{Name: "b-src"}}},
	}}
	tn := newTenancy(cfg)
	for _, c := range []struct{ name, source, raw, want string }{
		{"tenant's source", "a-src", `{"tenantId":"` + tb + `"}`, ta},
		{"shared source, record names a tenant", "shared", `{"tenantId":"` + strings.ToUpper(tb) + `"}`, tb},
		{"shared source, unknown tenant", "shared", `{"tenantId":"` + tx + `"}`, ""},
		{"shared source, no tenant", "shared", `{"category":"AuditLogs"}`, ""},
	} {
		if got := tn.triggerTenant(c.source, []byte(c.raw)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	var none *tenancy
	if got := none.triggerTenant("a-src", []byte(`{"tenantId":"`+ta+`"}`)); got != "" {
		t.Errorf("without tenants: %q", got)
	}
}
