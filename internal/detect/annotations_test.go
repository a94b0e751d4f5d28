package detect

import (
	"maps"
	"testing"
	"time"

	"breakglass/internal/entra"
)

// TestAnnotations: the record's details that the alert's own fields do not
// hold (error text, client app, Conditional Access result, targets) reach
// the alert as annotations, and empty values are not set.
func TestAnnotations(t *testing.T) {
	bg := entra.Account{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.onmicrosoft.com"}
	d := New(entra.NewAccountSet([]entra.Account{bg}))
	ts := time.Date(2024, 6, 20, 5, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ev   entra.Event
		want []map[string]string // per alert
	}{
		{"failed sign-in", entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, ID: "s1", Time: ts, UserID: bg.ID,
			ResultType: "50126", ResultDescription: "Invalid username or password.", ClientAppUsed: "Browser",
			ConditionalAccess: "notApplied", AuthRequirement: "singleFactorAuthentication", ResourceDisplayName: "Azure Portal"},
			[]map[string]string{{AnnErrorCode: "50126", AnnErrorText: "Invalid username or password.", AnnClientApp: "Browser",
				AnnConditionalAccess: "notApplied", AnnAuthRequirement: "singleFactorAuthentication", AnnResource: "Azure Portal"}}},
		{"successful sign-in: no error code", entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, ID: "s2", Time: ts, UserID: bg.ID,
			ResultType: "0", ConditionalAccess: "success", ClientAppUsed: " "},
			[]map[string]string{{AnnConditionalAccess: "success"}}},
		{"sign-in from a registered device", entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, ID: "s4", Time: ts, UserID: bg.ID,
			ResultType: "0", Device: entra.Device{Known: true, ID: "3f2a9c1e-0000-4000-8000-000000000001", Name: "ADMIN-PAW01", OS: "Windows 11", Browser: "Edge 131", TrustType: "Azure AD joined"}},
			[]map[string]string{{AnnDevice: "ADMIN-PAW01 (Windows 11, Edge 131, Azure AD joined, device id 3f2a9c1e-0000-4000-8000-000000000001)"}}},
		{"sign-in from an unregistered device", entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, ID: "s5", Time: ts, UserID: bg.ID,
			ResultType: "0", Device: entra.Device{Known: true, OS: "MacOs", Browser: "Chrome 131"}},
			[]map[string]string{{AnnDevice: "MacOs, Chrome 131, not registered in Entra"}}},
		{"bare sign-in: no annotations", entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, ID: "s3", Time: ts, UserID: bg.ID},
			[]map[string]string{nil}},
		{"activity on five targets, failed", entra.Event{Kind: entra.KindAudit, ID: "a1", Time: ts, Operation: "Add member to role",
			Result: "failure", ResultReason: "Insufficient privileges", Initiator: entra.Actor{UserID: bg.ID},
			Targets: []entra.Target{{UserPrincipalName: "mallory@contoso.com", Type: "User"}, {DisplayName: "Global Administrator", Type: "Role"}, {}, {ID: "g1"}, {ID: "g2"}}},
			[]map[string]string{{AnnTarget: "mallory@contoso.com (User), Global Administrator (Role), and 2 more", AnnResultReason: "Insufficient privileges"}}},
		{"change names the target", entra.Event{Kind: entra.KindAudit, ID: "a2", Time: ts, Operation: "Reset user password",
			Initiator: entra.Actor{UserPrincipalName: "alice@contoso.com"}, Targets: []entra.Target{{ID: bg.ID, UserPrincipalName: bg.UPN, Type: "User"}}},
			[]map[string]string{{AnnTarget: bg.UPN + " (User)"}}},
	} {
		got := d.Detect(nil, &tc.ev, "f:1")
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d alerts, want %d", tc.name, len(got), len(tc.want))
		}
		for i, a := range got {
			if !maps.Equal(a.Annotations, tc.want[i]) || (tc.want[i] == nil) != (a.Annotations == nil) {
				t.Errorf("%s: alert %d (%s) annotations %v, want %v", tc.name, i, a.Rule, a.Annotations, tc.want[i])
			}
		}
	}
}

func TestAnnotationsSuccessHasNoErrorText(t *testing.T) {
	bg := entra.Account{UPN: "bg1@contoso.onmicrosoft.com"}
	d := New(entra.NewAccountSet([]entra.Account{bg}))
	ev := entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, ID: "s", UserPrincipalName: bg.UPN, ResultType: "0", ResultDescription: "Other."}
	if got := d.Detect(nil, &ev, "f:1"); len(got) != 1 || got[0].Annotations != nil {
		t.Fatalf("success annotated: %+v", got)
	}
}
