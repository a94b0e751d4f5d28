package logs

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
)

// TestClassifyExtraKeysRouted: every key extraKeys.note acts on reaches it
// from Classify's switch (the two lists live in different files).
func TestClassifyExtraKeysRouted(t *testing.T) {
	for _, k := range extraKeyList {
		var x extraKeys
		x.note(k, []byte(`"v"`))
		if x.props == nil && !x.graphAuditKey && !x.graphRisk && !x.graphRiskyU && !x.graphProv && !x.laRisk && !x.laRiskyU &&
			!x.laProv && !x.laGraph && !x.portalDate && !x.portalSignIn && !x.portalAudit && !x.portalSP && !x.portalMSI &&
			!x.defAccount && !x.defLogonType {
			t.Errorf("note ignores %q, which extraKeyList names", k)
		}
		// Classify must route the key to note: a record of just that key
		// plus a Type that is not a table must not be read as Classify
		// would read it without the key.
		rec := []byte(`{"` + k + `":"v"}`)
		var y extraKeys
		y.note(k, []byte(`"v"`))
		if c, ok := y.class(); ok && Classify(rec) != c {
			t.Errorf("Classify(%s) = %+v, want %+v: key not routed to note", rec, Classify(rec), c)
		}
	}
	// A record of only portal download columns is a download.
	if c := Classify([]byte(`{"Date (UTC)":"2026-01-01T00:00:00Z","Username":"a@b"}`)); c.Shape != ShapePortal {
		t.Errorf("portal columns: %+v", c)
	}
}

// TestClassifyKeyOrder: Graph resources that carry activityDateTime are
// told apart from directoryAudit in any key order (sorted keys, as jq -S
// and many pipelines write them, put activityDateTime first).
func TestClassifyKeyOrder(t *testing.T) {
	cases := []struct {
		rec  map[string]any
		want Class
	}{
		{map[string]any{"id": "x", "activityDisplayName": "Update user", "activityDateTime": "2026-01-01T00:00:00Z", "loggedByService": "Core Directory",
			"initiatedBy": map[string]any{}, "targetResources": []any{}}, Class{ShapeGraphAudit, entra.CategoryAudit}},
		{map[string]any{"id": "x", "riskEventType": "passwordSpray", "activityDateTime": "2026-01-01T00:00:00Z", "detectedDateTime": "2026-01-01T00:00:00Z",
			"userId": "u"}, Class{ShapeGraphRisk, entra.CategoryUserRiskEvents}},
		{map[string]any{"id": "x", "activityDateTime": "2026-01-01T00:00:00Z", "provisioningAction": "create", "jobId": "j", "cycleId": "c",
			"initiatedBy": map[string]any{"initiatorType": "system"}}, Class{ShapeGraphProvisioning, entra.CategoryProvisioning}},
		{map[string]any{"id": "u", "riskLastUpdatedDateTime": "2026-01-01T00:00:00Z", "riskLevel": "high", "isProcessing": false},
			Class{ShapeGraphRiskyUser, entra.CategoryRiskyUsers}},
	}
	for _, c := range cases {
		keys := make([]string, 0, len(c.rec))
		for k := range c.rec {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, order := range [][]string{keys, reversed(keys)} {
			var b strings.Builder
			b.WriteByte('{')
			for i, k := range order {
				if i > 0 {
					b.WriteByte(',')
				}
				kb, _ := json.Marshal(k)
				vb, _ := json.Marshal(c.rec[k])
				b.Write(kb)
				b.WriteByte(':')
				b.Write(vb)
			}
			b.WriteByte('}')
			if got := Classify([]byte(b.String())); got != c.want {
				t.Errorf("%s: got %+v, want %+v", b.String(), got, c.want)
			}
		}
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// TestCategoryByContent: a diagnostic record under a category that is not
// an Entra one is recognised by its properties; one whose properties are
// none of ours stays unknown.
func TestCategoryByContent(t *testing.T) {
	for _, c := range []struct{ rec, want string }{
		{`{"category":"RoleManagement","properties":{"activityDisplayName":"Add member to role","targetResources":[]}}`, entra.CategoryAudit},
		{`{"properties":"{\"initiatedBy\":{},\"activityDateTime\":\"2026-01-01T00:00:00Z\"}","category":"Policy"}`, entra.CategoryAudit},
		{`{"category":"DirectoryManagement","properties":{"targetResourceName":"a__b","targetResourceType":"UPN__ObjectID"}}`, entra.CategoryLegacyAudit},
		{`{"category":"Custom","properties":{"riskEventType":"x"}}`, entra.CategoryUserRiskEvents},
		{`{"category":"Custom","properties":{"requestUri":"https://graph.microsoft.com/v1.0/me"}}`, entra.CategoryGraphActivity},
		{`{"category":"Custom","properties":{"foo":"bar"}}`, ""},
	} {
		got := Classify([]byte(c.rec))
		if got.Category != c.want || (c.want != "" && got.Shape != ShapeDiagnostic) {
			t.Errorf("%s: got %+v, want category %q", c.rec, got, c.want)
		}
	}
}

func TestLegacyTargets(t *testing.T) {
	for _, c := range []struct {
		typ, name string
		want      []entra.Target
	}{
		{"UPN__TenantContextID__PUID__ObjectID__ObjectClass", "a@b.com__t__p__11111111-2222-3333-4444-555555555555__User",
			[]entra.Target{{ID: "11111111-2222-3333-4444-555555555555", UserPrincipalName: "a@b.com", Type: "User", DisplayName: "a@b.com"}}},
		// Parts that do not line up with the type: every id and UPN is a target.
		{"UPN__ObjectID", "a@b.com__x__11111111-2222-3333-4444-555555555555",
			[]entra.Target{{UserPrincipalName: "a@b.com", DisplayName: "a@b.com"}, {ID: "11111111-2222-3333-4444-555555555555", DisplayName: "11111111-2222-3333-4444-555555555555"}}},
		{"", "", nil},
	} {
		got := legacyTargets(c.typ, c.name)
		if !slices.EqualFunc(got, c.want, func(a, b entra.Target) bool {
			return a.ID == b.ID && a.UserPrincipalName == b.UserPrincipalName && a.Type == b.Type && a.DisplayName == b.DisplayName
		}) {
			t.Errorf("legacyTargets(%q, %q) = %+v, want %+v", c.typ, c.name, got, c.want)
		}
	}
}
