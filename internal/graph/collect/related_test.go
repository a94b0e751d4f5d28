package collect

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// ids returns the "id" of each item of a dataset in the snapshot.
func ids(t *testing.T, s *Snapshot, name string) []string {
	t.Helper()
	items, ok, err := s.Items(name)
	if !ok || err != nil {
		t.Fatalf("dataset %s: present %v, %v", name, ok, err)
	}
	var out []string
	for _, raw := range items {
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, v.ID)
	}
	return out
}

// TestRelatedDatasets: the datasets the checks compare the break-glass
// users with hold exactly what the test tenant says.
func TestRelatedDatasets(t *testing.T) {
	tn := newTenant(t, 10)
	s, err := CollectSnapshot(context.Background(), tn.client(), options(""))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Manifest.Failed) != 0 {
		t.Fatalf("Failed = %+v", s.Manifest.Failed)
	}
	tests := []struct {
		name string
		want []string
	}{
		// bg-nested is in 902, which is in 901.
		{KeyedName(DatasetMemberOf, id(3)), []string{id(901), id(902)}},
		{KeyedName(DatasetMemberOf, id(1)), nil},
		{KeyedName(DatasetMemberOf, id(11)), []string{id(903)}},
		// bg1's Global Administrator; the break-glass group's Security Reader.
		{DatasetPrincipalRoleAssignments, []string{"a-1-62e90394", "a-901-5d6b6bb7"}},
		// Excluded by a policy and holding a break-glass user; 903 is
		// excluded too but holds none.
		{DatasetCAGroups, []string{id(901), id(902)}},
		{KeyedName(DatasetGroupMembers, id(902)), []string{id(3)}},
		// The inactivity workflow and the one whose trigger is unknown;
		// not the joiners' workflow.
		{KeyedName(DatasetWorkflowScope, "wf-1"), []string{id(3), id(10)}},
		{KeyedName(DatasetWorkflowScope, "wf-3"), nil},
		// Approvers: admin1, the deleted one marked; the approver group's
		// members.
		{DatasetRoleApprovers, []string{id(10), id(555)}},
		{KeyedName(DatasetGroupMembers, id(904)), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(t, s, tc.name); !slices.Equal(got, tc.want) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
		})
	}
	if _, ok := s.Datasets[KeyedName(DatasetWorkflowScope, "wf-2")]; ok {
		t.Error("the joiners' workflow scope was collected")
	}
	approvers, _, _ := s.Items(DatasetRoleApprovers)
	if want := `{"@breakglass.notFound":true,"id":"` + id(555) + `"}`; len(approvers) != 2 || string(approvers[1]) != want {
		t.Errorf("role_approvers = %s, want the deleted approver as %s", approvers, want)
	}
	items, _, _ := s.Items(DatasetCAGroups)
	if !strings.Contains(string(items[0]), `"isManagementRestricted":true`) {
		t.Errorf("ca_groups without isManagementRestricted: %s", items[0])
	}
	for _, r := range tn.requestLog() {
		if p, _ := pathOf(r); strings.HasPrefix(r, "GET /v1.0/groups/") && !strings.Contains(p, "/transitiveMembers/") && strings.Contains(r, "isManagementRestricted") {
			t.Errorf("isManagementRestricted asked of v1.0, which does not have it: %s", r)
		}
	}
}

// TestRelatedDatasetsFailClosed: when what a derived dataset is computed
// from is refused, the derived dataset says so rather than look empty.
func TestRelatedDatasetsFailClosed(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		derived []Failure // Name, From, Partial, Reason compared
		absent  []string
	}{
		{
			name: "groups of users refused", key: "suffix:/transitiveMemberOf/microsoft.graph.group",
			derived: []Failure{
				{Name: DatasetCAGroups, From: DatasetMemberOf, Partial: true, Reason: ReasonPermission},
				{Name: DatasetPrincipalRoleAssignments, From: DatasetMemberOf, Partial: true, Reason: ReasonPermission},
			},
		},
		{
			name: "policies refused", key: "/identity/conditionalAccess/policies",
			derived: []Failure{{Name: DatasetCAGroups, From: DatasetConditionalAccessPolicies, Reason: ReasonPermission}},
			absent:  []string{DatasetCAGroups},
		},
		{
			name: "role policies refused", key: "/policies/roleManagementPolicyAssignments",
			derived: []Failure{{Name: DatasetRoleApprovers, From: DatasetRoleManagementPolicies, Reason: ReasonPermission}},
			absent:  []string{DatasetRoleApprovers},
		},
		{
			name: "workflow scope refused", key: "suffix:/executionScope",
			derived: []Failure{},
			absent:  []string{KeyedName(DatasetWorkflowScope, "wf-1")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTenant(t, 0)
			tn.fail(tc.key, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			s, err := CollectSnapshot(context.Background(), tn.client(), options(""))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(own(s.Manifest.Failed)); n != 1 {
				t.Errorf("%d failures of their own, want 1: %+v", n, s.Manifest.Failed)
			}
			var got []Failure
			for _, f := range s.Manifest.Failed {
				if f.From != "" {
					got = append(got, Failure{Name: f.Name, From: f.From, Partial: f.Partial, Reason: f.Reason})
					if f.Hint == "" || !strings.Contains(f.Message, "unavailable") {
						t.Errorf("derived failure does not say what to grant: %+v", f)
					}
				}
			}
			if !slices.Equal(got, tc.derived) && (len(got) != 0 || len(tc.derived) != 0) {
				t.Errorf("derived failures = %+v\nwant                %+v", got, tc.derived)
			}
			for _, name := range tc.absent {
				if _, ok := s.Datasets[name]; ok {
					t.Errorf("%s written although its input is unavailable", name)
				}
				if _, ok := s.Failure(name); !ok {
					t.Errorf("Failure(%s) does not explain why it is absent", name)
				}
			}
		})
	}
}
