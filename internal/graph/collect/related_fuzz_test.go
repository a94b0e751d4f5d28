package collect

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
)

// itemLister answers every list with one item, and every user with a
// break-glass user, so that hostile items reach every decoder of the
// derived datasets: policies, workflows, PIM rules and group lists.
type itemLister struct{ item json.RawMessage }

func (l itemLister) Get(_ context.Context, _ graph.Version, path string, _ graph.Query, out any) error {
	if strings.HasPrefix(path, "/users/") || strings.HasPrefix(path, "/groups/") {
		return json.Unmarshal([]byte(`{"id":"u1","userPrincipalName":"bg@x.onmicrosoft.com"}`), out)
	}
	return json.Unmarshal(l.item, out)
}

func (l itemLister) List(_ context.Context, _ graph.Version, _ string, _ graph.Query, fn func([]json.RawMessage) error) error {
	return fn([]json.RawMessage{l.item})
}

// FuzzDerivedDatasets: whatever Graph sends as a policy, workflow, PIM
// rule or group, collection neither crashes nor loops; invalid JSON
// aborts with an error.
func FuzzDerivedDatasets(f *testing.F) {
	for _, seed := range []string{
		`{"id":"p","conditions":{"users":{"excludeGroups":["g1"]}}}`,
		`{"id":"g1","isAssignableToRole":true}`,
		`{"id":"wf","executionConditions":{"trigger":{"@odata.type":"#microsoft.graph.identityGovernance.userInactivityTrigger"}}}`,
		`{"id":"wf","executionConditions":null}`,
		`{"policy":{"rules":[{"@odata.type":"#microsoft.graph.unifiedRoleManagementPolicyApprovalRule","setting":{"approvalStages":[{"primaryApprovers":[{"@odata.type":"#microsoft.graph.singleUser","userId":"a1"},{"@odata.type":"#microsoft.graph.groupMembers","groupId":"g2"}]}]}}]}}`,
		`{"policy":{"rules":[{"setting":{"approvalStages":"x"}}]}}`,
		`{"id":"../../etc/passwd","principal":{"@odata.type":"#microsoft.graph.group","id":"../x"}}`,
		`[]`, `null`, `"s"`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := CollectSnapshot(context.Background(), itemLister{data}, Options{Accounts: []entra.Account{{ID: "u1"}}, Now: fixedNow})
		if err != nil {
			if json.Valid(data) {
				t.Fatalf("valid JSON item %q: %v", data, err)
			}
			return
		}
		for _, d := range s.Manifest.Datasets {
			if d.File != fileOf(d.Name) || strings.Contains(d.File, "/") {
				t.Fatalf("dataset %s has file %q", d.Name, d.File)
			}
		}
	})
}
