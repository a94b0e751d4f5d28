package scan

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"breakglass/internal/logs"
)

// TestDuplicateKeys: the classifier and the decoder read a duplicated key
// the same way (first value), and when the values disagree on identity or
// category the record fails closed: the rule fires on either value, or
// bg.unparsed, and the alert says why. Both orders of every pair.
func TestDuplicateKeys(t *testing.T) {
	const ts = `"2024-06-20T05:12:33Z"`
	q := func(s string) string { return `"` + s + `"` }
	cases := []struct {
		name       string
		rec        func(first, second string) string
		a, b       string // the two values; each order is tested
		rule       string
		unreadable string
	}{
		{"graph sign-in userId",
			func(x, y string) string {
				return `{"id":"d1","createdDateTime":` + ts + `,"userId":` + q(x) + `,"appDisplayName":"A","userId":` + q(y) + `}`
			},
			aliceID, bg1, "bg.signin", "userId: duplicate key"},
		{"graph sign-in userPrincipalName",
			func(x, y string) string {
				return `{"id":"d1","createdDateTime":` + ts + `,"userPrincipalName":` + q(x) + `,"appDisplayName":"A","userPrincipalName":` + q(y) + `}`
			},
			aliceUPN, bg1UPN, "bg.signin", "userPrincipalName: duplicate key"},
		{"graph sign-in userId in two casings",
			func(x, y string) string {
				return `{"id":"d1","createdDateTime":` + ts + `,"userId":` + q(x) + `,"appDisplayName":"A","UserID":` + q(y) + `}`
			},
			aliceID, bg1, "bg.signin", "duplicate key"},
		{"diagnostic properties.userId",
			func(x, y string) string {
				return `{"time":` + ts + `,"category":"SignInLogs","properties":{"id":"d2","userId":` + q(x) + `,"userId":` + q(y) + `}}`
			},
			aliceID, bg1, "bg.signin", "properties.userId: duplicate key"},
		{"log analytics UserId",
			func(x, y string) string {
				return `{"TimeGenerated":` + ts + `,"Type":"SigninLogs","Id":"d3","UserId":` + q(x) + `,"ResultType":"0","UserId":` + q(y) + `}`
			},
			aliceID, bg1, "bg.signin", "UserId: duplicate key"},
		{"audit initiator id",
			func(x, y string) string {
				return `{"id":"d4","activityDateTime":` + ts + `,"activityDisplayName":"Update user","initiatedBy":{"user":{"id":` + q(x) + `,"id":` + q(y) + `}},"targetResources":[]}`
			},
			aliceID, bg1, "bg.activity", "initiatedBy.user.id: duplicate key"},
		{"audit initiatedBy twice",
			func(x, y string) string {
				return `{"id":"d5","activityDateTime":` + ts + `,"activityDisplayName":"Update user","initiatedBy":{"user":{"id":` + q(x) + `}},"targetResources":[],"initiatedBy":{"user":{"id":` + q(y) + `}}}`
			},
			aliceID, bg1, "bg.activity", "initiatedBy: duplicate key"},
		{"audit targetResources twice",
			func(x, y string) string {
				return `{"id":"d6","activityDateTime":` + ts + `,"activityDisplayName":"Update user","initiatedBy":{},"targetResources":[{"id":` + q(x) + `}],"targetResources":[{"id":` + q(y) + `}]}`
			},
			aliceID, bg1, "bg.change", "targetResources: duplicate key"},
		{"audit target id",
			func(x, y string) string {
				return `{"id":"d7","activityDateTime":` + ts + `,"activityDisplayName":"Update user","initiatedBy":{},"targetResources":[{"id":` + q(x) + `,"type":"User","id":` + q(y) + `}]}`
			},
			aliceID, bg1, "bg.change", "targetResources[0].id: duplicate key"},
		// The classifier reads the first category. Whichever comes first,
		// a record naming an account alerts.
		{"diagnostic category",
			func(x, y string) string {
				return `{"time":` + ts + `,"category":` + q(x) + `,"category":` + q(y) + `,"properties":{"id":"d8","userId":"` + bg1 + `"}}`
			},
			"SignInLogs", "ProvisioningLogs", "", ""},
		{"diagnostic category, sign-in against audit",
			func(x, y string) string {
				return `{"time":` + ts + `,"category":` + q(x) + `,"category":` + q(y) + `,"properties":{"id":"d9","targetResources":[{"id":"` + bg1 + `"}]}}`
			},
			"SignInLogs", "AuditLogs", "", ""},
	}
	for _, tc := range cases {
		for _, order := range [][2]string{{tc.a, tc.b}, {tc.b, tc.a}} {
			rec := tc.rec(order[0], order[1])
			t.Run(tc.name+"/first="+order[0], func(t *testing.T) {
				// Both readers agree: the classifier sees a record, and
				// the decoder reads the first value.
				if c := logs.Classify([]byte(rec)); c.Shape == logs.ShapeUnknown {
					t.Fatalf("not classified: %s", rec)
				}
				s := New(Options{Accounts: testAccounts()})
				var st Stats
				var got []Finding
				if err := s.Scan(context.Background(), "dup", strings.NewReader(rec), &st, func(f Finding) error { got = append(got, f); return nil }); err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 {
					t.Fatalf("%d alerts for %s (stats %+v)", len(got), rec, st)
				}
				a := got[0].Alert
				if a.AccountID != bg1 || !bytes.Equal(got[0].Raw, []byte(rec)) {
					t.Fatalf("alert %+v, raw %q", a, got[0].Raw)
				}
				if tc.rule != "" {
					joined := strings.Join(a.Unreadable, "; ")
					if a.Rule != tc.rule || !strings.Contains(joined, tc.unreadable) {
						t.Fatalf("alert %s unreadable %q, want %s naming %q", a.Rule, joined, tc.rule, tc.unreadable)
					}
				} else if a.Rule != "bg.unparsed" && !strings.Contains(strings.Join(a.Unreadable, "; "), "category: duplicate key") {
					t.Fatalf("alert %s does not name the disagreeing category: %q", a.Rule, a.Unreadable)
				}
			})
		}
	}
}
