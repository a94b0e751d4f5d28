package schedule

import (
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/logs"
)

// FuzzClassify: whatever a record holds, deciding whether it is a key
// change never panics, and a key change always says what and when.
func FuzzClassify(f *testing.F) {
	f.Add([]byte(auditRecord("Add member to role", "RoleManagement", "success", userTarget("a@b.c", [3]string{"Role.DisplayName", "", `"Global Administrator"`}))))
	f.Add([]byte(auditRecord("Update company", "DirectoryManagement", "success", companyTarget([3]string{"AssignedPlan", "", "[]"}))))
	f.Add([]byte(auditRecord("Change user license", "UserManagement", "failure", userTarget(""))))
	f.Add([]byte(`{"activityDisplayName":"Remove member from role","targetResources":[{"type":"Role","id":"\u0000"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev entra.Event
		if logs.Decode(data, logs.Classify(data), &ev) != nil {
			return
		}
		tr, ok := Classify(&ev)
		if ok && (tr.Kind == "" || tr.Reason == "") {
			t.Fatalf("key change without kind or reason: %+v", tr)
		}
	})
}
