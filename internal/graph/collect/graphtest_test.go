package collect

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/graph/graphtest"
)

// TestCollectThroughGraphtest runs collection through the shared Graph
// look-alike: retried 503s, paging, a refused dataset, a guest UPN whose
// '#' must reach Graph escaped, and an account that does not exist.
func TestCollectThroughGraphtest(t *testing.T) {
	s := graphtest.New(t)
	const guest = "bg_fabrikam.com#EXT#@contoso.onmicrosoft.com"
	bg1 := map[string]any{"id": id(1), "userPrincipalName": "bg1@contoso.onmicrosoft.com", "accountEnabled": true}
	bg2 := map[string]any{"id": id(2), "userPrincipalName": guest, "accountEnabled": true, "userType": "Guest"}

	s.Collection("/v1.0/organization", []any{map[string]any{"id": tenantID}}, 0)
	s.Object("/v1.0/users/"+id(1), bg1)
	s.Object("/v1.0/users/"+guest, bg2)
	for _, u := range []map[string]any{bg1, bg2} {
		uid := u["id"].(string)
		s.Object("/beta/users/"+uid, map[string]any{"id": uid, "authorizationInfo": map[string]any{"certificateUserIds": []string{}}})
		s.Collection("/v1.0/users/"+uid+"/transitiveMemberOf/microsoft.graph.group", nil, 0)
		s.Collection("/v1.0/users/"+uid+"/authentication/methods", []any{
			map[string]any{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "k-" + uid, "aaGuid": "2fc0579f-8113-47ea-b116-555a8db9202a"},
		}, 0)
	}
	ga := "?" + url.Values{"$filter": {"roleDefinitionId eq '" + RoleGlobalAdministrator + "'"}, "$expand": {"principal"}}.Encode()
	for _, p := range []string{"roleAssignments", "roleAssignmentSchedules", "roleAssignmentScheduleInstances", "roleEligibilitySchedules", "roleEligibilityScheduleInstances"} {
		path := "/v1.0/roleManagement/directory/" + p
		s.Collection(path, nil, 0) // any other role: none
		s.Collection(path+ga, []any{map[string]any{
			"id": "a1", "principalId": id(1), "roleDefinitionId": RoleGlobalAdministrator,
			"principal": map[string]any{"@odata.type": "#microsoft.graph.user", "id": id(1)},
		}}, 0)
	}
	s.Collection("/v1.0/policies/roleManagementPolicyAssignments", nil, 0)
	s.Collection("/v1.0/reports/authenticationMethods/userRegistrationDetails", []any{
		map[string]any{"id": id(1), "methodsRegistered": []string{"fido2SecurityKey"}},
		map[string]any{"id": id(2), "methodsRegistered": []string{"fido2SecurityKey"}},
	}, 1)
	var policies []any
	for i := range 3 {
		policies = append(policies, map[string]any{"id": "ca-" + string(rune('a'+i)), "state": "enabled"})
	}
	s.Collection("/v1.0/identity/conditionalAccess/policies", policies, 1)
	s.Fail("/v1.0/identity/conditionalAccess/policies", 503, 1, "0", nil)
	for _, p := range []string{"/v1.0/identity/conditionalAccess/namedLocations", "/v1.0/policies/authenticationStrengthPolicies",
		"/v1.0/domains", "/v1.0/identityGovernance/accessReviews/definitions"} {
		s.Collection(p, nil, 0)
	}
	s.Object("/v1.0/policies/authenticationMethodsPolicy", map[string]any{"id": "authenticationMethodsPolicy"})
	s.Object("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", map[string]any{"isEnabled": false})
	s.Fail("/v1.0/identityGovernance/lifecycleWorkflows/workflows", 403, 1, "",
		graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))

	c, err := graph.New(graph.Options{BaseURL: s.URL, Tokens: graph.StaticToken("t")})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Accounts: []entra.Account{{ID: id(1)}, {UPN: guest}, {UPN: "nobody@contoso.onmicrosoft.com"}},
		Out:      t.TempDir(), Now: fixedNow, TenantID: tenantID,
	}
	m, err := Collect(context.Background(), c, o)
	if err != nil {
		t.Fatal(err)
	}

	wantFailed := []Failure{{
		Name: DatasetLifecycleWorkflows, Endpoint: "/identityGovernance/lifecycleWorkflows/workflows",
		Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation.",
		Hint: "grant the application permission LifecycleWorkflows.Read.All, and admin-consent it", Reason: ReasonPermission,
	}}
	if !slices.Equal(own(m.Failed), wantFailed) {
		t.Errorf("Failed = %+v\nwant     %+v", m.Failed, wantFailed)
	}
	wantUnresolved := []Unresolved{{Entry: "accounts[2] upn nobody@contoso.onmicrosoft.com", Reason: unresolvedNotFound}}
	if !slices.Equal(m.Unresolved, wantUnresolved) {
		t.Errorf("Unresolved = %+v, want %+v", m.Unresolved, wantUnresolved)
	}
	if want := []string{id(1), id(2)}; !slices.Equal(m.Privileged, want) {
		t.Errorf("Privileged = %v, want %v", m.Privileged, want)
	}
	if n := len(items(t, o.Out, DatasetConditionalAccessPolicies)); n != 3 {
		t.Errorf("%d CA policies after a retried 503 and 3 pages, want 3", n)
	}
	if n := len(items(t, o.Out, DatasetUserRegistrationDetails)); n != 2 {
		t.Errorf("%d registration details over 2 pages, want 2", n)
	}
	var guestSeen bool
	for _, r := range s.Requests() {
		if strings.Contains(r.Path, "#EXT#") {
			guestSeen = true
			if !strings.Contains(r.RawPath, "%23EXT%23") {
				t.Errorf("guest UPN sent unescaped: %s", r.RawPath)
			}
		}
	}
	if !guestSeen {
		t.Error("guest account never requested")
	}
	if _, err := Load(o.Out); err != nil {
		t.Error(err)
	}
}
