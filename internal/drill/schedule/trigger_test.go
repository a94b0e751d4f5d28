package schedule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/logs"
)

// auditRecord is a Microsoft Graph directoryAudit as the audit sources read
// it (internal/logs/testdata/graph-audit-page.json has the same shape).
func auditRecord(op, category, result string, targets ...map[string]any) string {
	r := map[string]any{
		"id":                  "Directory_" + strings.ReplaceAll(strings.ToLower(op), " ", "-") + "_1",
		"category":            category,
		"correlationId":       "da159bfb-54fa-4092-8a38-6e1fa7870e30",
		"result":              result,
		"resultReason":        "",
		"activityDisplayName": op,
		"activityDateTime":    "2026-06-20T06:00:00.5Z",
		"loggedByService":     "Core Directory",
		"operationType":       "Assign",
		"initiatedBy": map[string]any{
			"user": map[string]any{"id": "c0ffee00-1111-4222-8333-444455556666", "userPrincipalName": "alice@contoso.com", "ipAddress": "198.51.100.4"},
			"app":  nil,
		},
		"targetResources":   targets,
		"additionalDetails": []any{},
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func userTarget(upn string, props ...[3]string) map[string]any {
	var mp []map[string]any
	for _, p := range props {
		mp = append(mp, map[string]any{"displayName": p[0], "oldValue": p[1], "newValue": p[2]})
	}
	return map[string]any{"id": "0b0b0b0b-1111-4222-8333-444455556666", "displayName": nil, "type": "User", "userPrincipalName": upn, "modifiedProperties": mp}
}

func roleTarget(id, name string) map[string]any {
	return map[string]any{"id": id, "displayName": name, "type": "Role", "modifiedProperties": []any{}}
}

func companyTarget(props ...[3]string) map[string]any {
	t := userTarget("", props...)
	t["type"], t["displayName"], t["id"] = "Company", "Contoso", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
	return t
}

func decode(t *testing.T, rec string) *entra.Event {
	t.Helper()
	var ev entra.Event
	data := []byte(rec)
	if err := logs.Decode(data, logs.Classify(data), &ev); err != nil {
		t.Fatalf("decoding %s: %v", rec, err)
	}
	return &ev
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rec    string
		kind   string // "" = not a key change
		reason string // a substring of the reason
	}{
		{"GA added (Core Directory, Role.TemplateId)", auditRecord("Add member to role", "RoleManagement", "success",
			userTarget("carol@contoso.com", [3]string{"Role.ObjectID", "", `"5b3c3c3f-0000-4000-8000-00000000aaaa"`},
				[3]string{"Role.DisplayName", "", `"Global Administrator"`}, [3]string{"Role.TemplateId", "", `"62e90394-69f5-4237-9190-012177145e10"`})),
			KindRole, `"Add member to role" (Global Administrator) for carol@contoso.com, by alice@contoso.com`},
		{"PRA removed (role target by template id)", auditRecord("Remove member from role", "RoleManagement", "success",
			userTarget("dave@contoso.com"), roleTarget("e8611ab8-c189-46e8-94e1-60213ab1f814", "")),
			KindRole, "Privileged Role Administrator"},
		{"GA by legacy name", auditRecord("Add member to role.", "RoleManagement", "success",
			userTarget("erin@contoso.com", [3]string{"Role.DisplayName", "", `"Company Administrator"`})),
			KindRole, "Global Administrator"},
		{"PIM eligible assignment of GA", auditRecord("Add eligible member to role in PIM completed (permanent)", "RoleManagement", "success",
			roleTarget("62e90394-69f5-4237-9190-012177145e10", "Global Administrator"), userTarget("frank@contoso.com")),
			KindRole, "frank@contoso.com"},
		{"role not named: counted", auditRecord("Add member to role", "RoleManagement", "success", userTarget("gina@contoso.com")),
			KindRole, "a role the record does not name"},
		{"another role", auditRecord("Add member to role", "RoleManagement", "success",
			userTarget("hank@contoso.com", [3]string{"Role.DisplayName", "", `"User Administrator"`}, [3]string{"Role.TemplateId", "", `"fe930be7-5e62-47db-91af-98c3a49a38b1"`})), "", ""},
		{"PIM activation is not a staff change", auditRecord("Add member to role completed (PIM activation)", "RoleManagement", "success",
			roleTarget("62e90394-69f5-4237-9190-012177145e10", "Global Administrator"), userTarget("ivan@contoso.com")), "", ""},
		{"failed role change", auditRecord("Add member to role", "RoleManagement", "failure",
			userTarget("judy@contoso.com", [3]string{"Role.DisplayName", "", `"Global Administrator"`})), "", ""},
		{"licence assigned", auditRecord("Change user license", "UserManagement", "success", userTarget("kim@contoso.com")),
			KindLicence, `"Change user license" for kim@contoso.com`},
		{"Update user with AssignedLicense", auditRecord("Update user", "UserManagement", "success",
			userTarget("leo@contoso.com", [3]string{"AssignedLicense", "[]", `["[SkuName=ENTERPRISEPREMIUM, SkuId=c7df2760-2c81-4ef7-b578-5b5392b571df]"]`})),
			KindLicence, "leo@contoso.com"},
		{"Update user, other property", auditRecord("Update user", "UserManagement", "success",
			userTarget("mia@contoso.com", [3]string{"Department", `["Sales"]`, `["Ops"]`})), "", ""},
		{"group licence", auditRecord("Set group license", "GroupManagement", "success", userTarget("")),
			KindLicence, "Set group license"},
		{"subscription", auditRecord("Create company subscription", "DirectoryManagement", "success", companyTarget()),
			KindSubscription, "Create company subscription"},
		{"Update company: plans changed", auditRecord("Update company", "DirectoryManagement", "success",
			companyTarget([3]string{"AssignedPlan", "[]", `[{"SubscribedPlanId":"x","ServicePlanId":"41781fb2-bc02-4b7c-bd55-b576c07bb09d"}]`})),
			KindSubscription, "the tenant's plans"},
		{"Update company: properties not listed", auditRecord("Update company", "DirectoryManagement", "success", companyTarget()),
			KindSubscription, "Update company"},
		{"Update company: other setting", auditRecord("Update company", "DirectoryManagement", "success",
			companyTarget([3]string{"TechnicalNotificationMails", "[]", `["it@contoso.com"]`})), "", ""},
		{"unrelated audit", auditRecord("Add member to group", "GroupManagement", "success", userTarget("nina@contoso.com")), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := decode(t, tc.rec)
			tr, ok := Classify(ev)
			if tc.kind == "" {
				if ok {
					t.Fatalf("a key change: %+v", tr)
				}
				return
			}
			if !ok || tr.Kind != tc.kind || !strings.Contains(tr.Reason, tc.reason) {
				t.Fatalf("got %+v (ok %v), want kind %s with %q", tr, ok, tc.kind, tc.reason)
			}
			if want := time.Date(2026, 6, 20, 6, 0, 0, 5e8, time.UTC); !tr.Time.Equal(want) || tr.EventID != ev.ID {
				t.Errorf("time %s event %s, want %s %s", tr.Time, tr.EventID, want, ev.ID)
			}
		})
	}
	// A sign-in is never a key change, whatever it contains.
	if _, ok := Classify(&entra.Event{Kind: entra.KindSignIn, Operation: "Add member to role"}); ok {
		t.Error("a sign-in classified as a key change")
	}
	if _, ok := Classify(nil); ok {
		t.Error("nil classified")
	}
}
