package detect

import (
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

func TestChangeType(t *testing.T) {
	for op, want := range map[string]string{
		"User registered security info":                "auth_method",
		"Admin deleted security info":                  "auth_method",
		"Reset user password":                          "password",
		"Change user password":                         "password",
		"Reset password (by admin)":                    "password",
		"Add member to role":                           "role_membership",
		"Remove member from role":                      "role_membership",
		"Add eligible member to role in PIM completed": "role_membership",
		"Add member to group":                          "group_membership",
		"Remove owner from group":                      "group_membership",
		"Disable account":                              "disable",
		"Enable account":                               "enable",
		"Delete user":                                  "delete",
		"Hard delete user":                             "delete",
		"Restore user":                                 "restore",
		"Update user":                                  "update",
		"Update StsRefreshTokenValidFrom Timestamp":    "update",
		"Create temporary access pass method for user": "auth_method",
		"Something new from Entra":                     "other",
	} {
		if got := ChangeType(op); got != want {
			t.Errorf("ChangeType(%q) = %q, want %q", op, got, want)
		}
	}
}

func TestDetect(t *testing.T) {
	bg := entra.Account{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", UPN: "bg1@contoso.onmicrosoft.com"}
	d := New(entra.NewAccountSet([]entra.Account{bg}))
	ts := time.Date(2024, 6, 20, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		ev    entra.Event
		rules []string
		sev   []alert.Severity
	}{
		{"failed non-interactive sign-in", entra.Event{Kind: entra.KindSignIn, Category: entra.CategoryNonInteractive, ID: "s1", Time: ts, UserID: bg.ID, ResultType: "50126"}, []string{RuleSignIn}, []alert.Severity{0}},
		{"other user's sign-in", entra.Event{Kind: entra.KindSignIn, ID: "s2", Time: ts, UserID: "x"}, nil, nil},
		{"self-service change: activity and change", entra.Event{Kind: entra.KindAudit, ID: "a1", Time: ts, Operation: "Change user password",
			Initiator: entra.Actor{UserID: bg.ID}, Targets: []entra.Target{{ID: bg.ID}}}, []string{RuleActivity, RuleChange}, []alert.Severity{0, 1}},
		{"target by UPN without id", entra.Event{Kind: entra.KindAudit, ID: "a2", Time: ts, Operation: "Add member to group",
			Targets: []entra.Target{{ID: "group"}, {UserPrincipalName: "BG1@contoso.onmicrosoft.com"}}}, []string{RuleChange}, []alert.Severity{1}},
		{"audit by someone else on someone else", entra.Event{Kind: entra.KindAudit, ID: "a3", Time: ts, Initiator: entra.Actor{UserID: "x"}, Targets: []entra.Target{{ID: "y"}}}, nil, nil},
	}
	for _, tt := range tests {
		got := d.Detect(nil, &tt.ev, "f:1")
		if len(got) != len(tt.rules) {
			t.Fatalf("%s: %d alerts, want %v", tt.name, len(got), tt.rules)
		}
		for i, a := range got {
			if a.Rule != tt.rules[i] || a.Severity != tt.sev[i] || a.EventID != tt.ev.ID || a.ID != alert.Key(tt.ev.ID, a.Rule) || a.Source != "f:1" {
				t.Errorf("%s: alert %d = %+v", tt.name, i, a)
			}
		}
	}
}

func TestEventKeyWithoutID(t *testing.T) {
	ts := time.Date(2024, 6, 20, 5, 0, 0, 0, time.UTC)
	a := entra.Event{Kind: entra.KindSignIn, Category: entra.CategorySignIn, Time: ts, UserID: "ABC", CorrelationID: "c"}
	b := a
	b.UserID = "abc"
	if EventKey(&a) != EventKey(&b) {
		t.Error("key depends on id case")
	}
	b.Time = ts.Add(time.Second)
	if EventKey(&a) == EventKey(&b) {
		t.Error("different events share a key")
	}
}
