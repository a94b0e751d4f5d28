package posture

import (
	"fmt"

	"breakglass/internal/graph/collect"
)

// accountsCheck: at least two break-glass accounts are configured, and
// each resolves to an existing, enabled user.
type accountsCheck struct{}

func init() { Register(accountsCheck{}) }

// MinAccounts is how many working break-glass accounts the guidance asks
// for.
const MinAccounts = 2

var accountsInfo = Info{
	ID:           "accounts",
	Title:        "At least two break-glass accounts exist and are enabled",
	Severity:     SeverityCritical,
	Requirements: []string{"R1"},
	Rationale: "Microsoft asks for two or more emergency access accounts (R1), so that one lost credential, " +
		"one disabled account or one typo in the list does not leave the tenant without a way in. " +
		"An account that does not resolve is unknown, and an unknown account is an error, never a pass.",
	PerAccount: true,
	Order:      10,
}

func (accountsCheck) Info() Info { return accountsInfo }

func (accountsCheck) Run(env *Env) []Result {
	t := env.Tenant
	info := accountsInfo
	src := t.Source(collect.DatasetBreakGlassUsers)
	usersMissing, missing := t.Missing(collect.DatasetBreakGlassUsers)
	var out []Result
	working := 0
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			r := info.Result(a, StatusError, "%s does not resolve: %s", a.Entry, a.Reason)
			r.Evidence = []Evidence{{Object: "configuration " + a.Entry, Value: nil, Source: "manifest.json: unresolved", Note: a.Reason}}
			r.Remediation = Remediation{
				Summary: "Fix the entry so it names an existing break-glass user (object id or UPN), or create the account; then run collect again.",
				Portal:  "Entra admin center > Identity > Users > All users (search for the account)",
				Graph:   "GET https://graph.microsoft.com/v1.0/users/" + psUser(a) + "?$select=id,userPrincipalName,accountEnabled",
				PowerShell: "Get-MgUser -UserId '" + psUser(a) + "' -Property Id,UserPrincipalName,AccountEnabled | " +
					"Format-List Id,UserPrincipalName,AccountEnabled",
			}
			out = append(out, r)
			continue
		}
		if missing {
			out = append(out, info.Result(a, StatusSkip, "cannot check %s: %s", accountName(a), usersMissing))
			continue
		}
		u := t.AccountUser(a)
		if u == nil {
			r := info.Result(a, StatusError, "%s is listed as resolved but is not in breakglass_users; run collect again", accountName(a))
			r.Evidence = []Evidence{{Object: userObject(nil, a), Source: src, Value: nil, Note: "absent from the dataset"}}
			out = append(out, r)
			continue
		}
		if r, unknown := fieldUnknown(info, t, a, u, "accountEnabled"); unknown {
			out = append(out, r)
			continue
		}
		ev := Evidence{Object: userObject(u, a), Field: "accountEnabled", Value: ptrValue(u.AccountEnabled), Source: src}
		switch {
		case u.AccountEnabled == nil:
			ev.Note = "null: Graph did not say whether the account is enabled"
			r := info.Result(a, StatusError, "%s: accountEnabled is null, so whether it can sign in is unknown", accountName(a))
			r.Evidence = []Evidence{ev}
			out = append(out, r)
		case !*u.AccountEnabled:
			r := info.Result(a, StatusFail, "%s is disabled: it cannot sign in in an emergency", accountName(a))
			r.Evidence = []Evidence{ev}
			r.Remediation = Remediation{
				Summary:    "Enable the account (and find out who disabled it and why: the audit log shows it).",
				Portal:     "Entra admin center > Identity > Users > All users > " + accountName(a) + " > Edit properties > Settings > Account enabled",
				Graph:      "PATCH https://graph.microsoft.com/v1.0/users/" + psUser(a) + ` {"accountEnabled": true}`,
				PowerShell: "Update-MgUser -UserId '" + psUser(a) + "' -AccountEnabled:$true",
			}
			out = append(out, r)
		default:
			working++
			r := info.Result(a, StatusPass, "%s exists and is enabled", accountName(a))
			r.Evidence = []Evidence{ev}
			out = append(out, r)
		}
	}
	out = append(out, accountsCount(info, t, working, missing, usersMissing))
	return out
}

// accountsCount is the tenant-wide verdict: enough working accounts.
func accountsCount(info Info, t *Tenant, working int, missing bool, why string) Result {
	configured := len(t.Accounts)
	ev := []Evidence{
		{Object: "configuration accounts", Field: "entries (users)", Value: configured, Source: "manifest.json: accounts, unresolved"},
		{Object: "break-glass users", Field: "resolved and enabled", Value: working, Source: t.Source(collect.DatasetBreakGlassUsers)},
	}
	fix := Remediation{
		Summary: fmt.Sprintf("Configure at least %d cloud-only break-glass accounts with Global Administrator, each enabled, and list them under accounts: in the configuration.", MinAccounts),
		Portal:  "Entra admin center > Identity > Users > All users > New user > Create new user",
		Graph: "POST https://graph.microsoft.com/v1.0/users " +
			`{"accountEnabled": true, "displayName": "Break Glass 2", "mailNickname": "bg2", "userPrincipalName": "bg2@<tenant>.onmicrosoft.com", ` +
			`"passwordProfile": {"forceChangePasswordNextSignIn": false, "password": "<long random>"}, "passwordPolicies": "DisablePasswordExpiration"}`,
		PowerShell: "New-MgUser -DisplayName 'Break Glass 2' -MailNickname bg2 -UserPrincipalName 'bg2@<tenant>.onmicrosoft.com' " +
			"-AccountEnabled -PasswordPolicies DisablePasswordExpiration -PasswordProfile @{ Password = '<long random>'; ForceChangePasswordNextSignIn = $false }",
	}
	switch {
	case configured == 0:
		r := info.Result(nil, StatusFail, "no break-glass accounts are configured: list at least %d under accounts:", MinAccounts)
		r.Evidence, r.Remediation = ev, fix
		return r
	case missing:
		r := info.Result(nil, StatusSkip, "cannot count the working break-glass accounts: %s", why)
		r.Evidence = ev
		return r
	case working < MinAccounts:
		r := info.Result(nil, StatusFail, "%d of %d configured break-glass accounts resolve and are enabled; at least %d are needed", working, configured, MinAccounts)
		r.Evidence, r.Remediation = ev, fix
		return r
	}
	r := info.Result(nil, StatusPass, "%d break-glass accounts resolve and are enabled (at least %d needed)", working, MinAccounts)
	r.Evidence = ev
	return r
}
