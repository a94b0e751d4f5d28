package detect

import (
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

func TestDetectCategories(t *testing.T) {
	const bg, alice = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b", "c0ffee00-1111-4222-8333-444455556666"
	accts := entra.NewAccountSet([]entra.Account{{ID: bg, UPN: "bg1@contoso.com"}, {UPN: "bg2@contoso.com"}})
	at := time.Date(2026, 7, 18, 9, 0, 0, 0, time.UTC)
	ev := func(kind entra.Kind, cat string, f func(*entra.Event)) *entra.Event {
		e := &entra.Event{Kind: kind, Category: cat, ID: "rec-1", Time: at}
		f(e)
		return e
	}
	cases := []struct {
		name    string
		ev      *entra.Event
		rule    string // "" for silent
		sev     alert.Severity
		account string
		title   string
		op, res string
	}{
		{"graph call by the account", ev(entra.KindGraphActivity, entra.CategoryGraphActivity, func(e *entra.Event) {
			e.UserID = strings.ToUpper(bg)
			e.Extra = entra.Extra{RequestMethod: "POST", RequestURI: "https://graph.microsoft.com/v1.0/users?$select=id", ResponseStatus: "201"}
			e.Operation = "POST https://graph.microsoft.com/v1.0/users?$select=id"
		}), RuleGraphActivity, alert.Sev0, bg, "Graph API call by a break-glass account: POST /v1.0/users → 201", "POST https://graph.microsoft.com/v1.0/users?$select=id", "201"},
		{"graph call about the account by someone else", ev(entra.KindGraphActivity, entra.CategoryGraphActivity, func(e *entra.Event) {
			e.UserID = alice
			e.Extra.RequestURI = "https://graph.microsoft.com/v1.0/users/bg1@contoso.com"
			e.UserPrincipalName = "bg1@contoso.com" // never used for Graph activity
		}), "", 0, "", "", "", ""},
		{"risk detection by UPN", ev(entra.KindRisk, entra.CategoryUserRiskEvents, func(e *entra.Event) {
			e.UserPrincipalName = "BG2@contoso.com"
			e.Extra = entra.Extra{RiskEventType: "passwordSpray", RiskLevel: "high", RiskState: "atRisk"}
		}), RuleRisk, alert.Sev1, "bg2@contoso.com", "Risk detected on a break-glass account: passwordSpray (risk high)", "passwordSpray", "atRisk"},
		{"risky user", ev(entra.KindRisk, entra.CategoryRiskyUsers, func(e *entra.Event) {
			e.UserID = bg
			e.Extra = entra.Extra{RiskLevel: "medium", RiskState: "confirmedCompromised"}
		}), RuleRisk, alert.Sev1, bg, "Break-glass account flagged as risky: confirmedCompromised (risk medium)", "risky user: confirmedCompromised", "confirmedCompromised"},
		{"risk on someone else", ev(entra.KindRisk, entra.CategoryUserRiskEvents, func(e *entra.Event) { e.UserID = alice }), "", 0, "", "", "", ""},
		{"provisioning target", ev(entra.KindProvisioning, entra.CategoryProvisioning, func(e *entra.Event) {
			e.Extra = entra.Extra{ProvisioningAction: "create", ProvisioningStatus: "Success", SourceSystem: "Workday",
				SourceIdentity: entra.ProvisionedIdentity{ID: "21007"}, TargetIdentity: entra.ProvisionedIdentity{ID: bg}}
		}), RuleProvisioning, alert.Sev1, bg, "Provisioning of a break-glass account: create (target, Workday)", "create", "success"},
		{"provisioning initiated on demand by the account", ev(entra.KindProvisioning, entra.CategoryProvisioning, func(e *entra.Event) {
			e.Extra = entra.Extra{ProvisioningAction: "update", SourceIdentity: entra.ProvisionedIdentity{ID: alice}}
			e.Initiator.UserID = bg
		}), RuleProvisioning, alert.Sev1, bg, "(initiator)", "update", ""},
		{"provisioning of someone else", ev(entra.KindProvisioning, entra.CategoryProvisioning, func(e *entra.Event) {
			e.Extra.SourceIdentity.ID = alice
		}), "", 0, "", "", "", ""},
		{"AD FS sign-in", ev(entra.KindSignIn, entra.CategoryADFSSignIn, func(e *entra.Event) {
			e.UserID, e.ResultType = bg, "0"
		}), RuleSignIn, alert.Sev0, bg, "Break-glass account sign-in (success), federated through AD FS", "", "success"},
	}
	d := New(accts)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := d.Detect(nil, c.ev, "test:1")
			if c.rule == "" {
				if len(got) != 0 {
					t.Fatalf("alerts %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1: %+v", len(got), got)
			}
			a := got[0]
			acct := a.AccountID
			if acct == "" {
				acct = a.AccountUPN
			}
			if a.Rule != c.rule || a.Severity != c.sev || acct != c.account || !strings.Contains(a.Title, c.title) || a.Operation != c.op || a.Result != c.res {
				t.Errorf("got %s %v %s %q op=%q res=%q\nwant %s %v %s %q op=%q res=%q", a.Rule, a.Severity, acct, a.Title, a.Operation, a.Result,
					c.rule, c.sev, c.account, c.title, c.op, c.res)
			}
			if a.ID != alert.Key("rec-1", c.rule) || !a.EventTime.Equal(at) {
				t.Errorf("id %s time %v: not keyed on the record and rule", a.ID, a.EventTime)
			}
		})
	}
}
