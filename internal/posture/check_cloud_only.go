package posture

import "strings"

// cloudOnlyCheck: the account is not synchronised from, or linked to, an
// on-premises directory.
type cloudOnlyCheck struct{}

func init() { Register(cloudOnlyCheck{}) }

var cloudOnlyInfo = Info{
	ID:           "cloud-only",
	Title:        "Break-glass account is cloud-only",
	Severity:     SeverityHigh,
	Requirements: []string{"R2", "R13"},
	Rationale: "An emergency account must work when on-premises Active Directory, the sync server or federation is down, " +
		"and must not be disabled or deleted from on-premises (R2, R13). onPremisesSyncEnabled true means the object is " +
		"synchronised now; a set onPremisesImmutableId means it is, or was, tied to an on-premises object.",
	PerAccount: true,
	Order:      20,
}

func (cloudOnlyCheck) Info() Info { return cloudOnlyInfo }

func (cloudOnlyCheck) Run(env *Env) []Result {
	t := env.Tenant
	info := cloudOnlyInfo
	return accountVerdicts(info, t, func(a *AccountInfo, u *User) Result {
		for _, f := range []string{"onPremisesSyncEnabled", "onPremisesImmutableId"} {
			if r, unknown := fieldUnknown(info, t, a, u, f); unknown {
				return r
			}
		}
		src := t.Source(u.Source)
		sync := Evidence{Object: userObject(u, a), Field: "onPremisesSyncEnabled", Value: ptrValue(u.OnPremisesSyncEnabled), Source: src}
		imm := Evidence{Object: userObject(u, a), Field: "onPremisesImmutableId", Value: ptrValue(u.OnPremisesImmutableID), Source: src}
		synced := u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled
		linked := u.OnPremisesImmutableID != nil && strings.TrimSpace(*u.OnPremisesImmutableID) != ""
		switch {
		case u.OnPremisesSyncEnabled == nil:
			sync.Note = "null: never synchronised"
		case !*u.OnPremisesSyncEnabled:
			sync.Note = "false: synchronised once, no longer"
		default:
			sync.Note = "true: synchronised from on-premises now"
		}
		if !linked {
			imm.Note = "empty: no on-premises anchor"
		} else {
			imm.Note = "set: tied to an on-premises object"
		}
		fix := Remediation{
			Summary: "Use a cloud-only account: create a new break-glass user directly in Entra ID on the initial *.onmicrosoft.com domain, " +
				"give it Global Administrator and its own FIDO2 key, then retire this one. (Stopping sync of this object leaves its " +
				"immutable id and on-premises history; a fresh cloud account is cleaner.)",
			Portal:     "Entra admin center > Identity > Users > All users > New user > Create new user",
			Graph:      "GET https://graph.microsoft.com/v1.0/users/" + psUser(a) + "?$select=onPremisesSyncEnabled,onPremisesImmutableId,onPremisesDistinguishedName",
			PowerShell: "Get-MgUser -UserId '" + psUser(a) + "' -Property OnPremisesSyncEnabled,OnPremisesImmutableId,OnPremisesDistinguishedName | Format-List OnPremises*",
		}
		var r Result
		switch {
		case synced && linked:
			r = info.Result(a, StatusFail, "%s is synchronised from on-premises Active Directory (onPremisesSyncEnabled true, onPremisesImmutableId %q)", accountName(a), *u.OnPremisesImmutableID)
			r.Remediation = fix
		case synced:
			r = info.Result(a, StatusFail, "%s is synchronised from on-premises Active Directory (onPremisesSyncEnabled true)", accountName(a))
			r.Remediation = fix
		case linked:
			r = info.Result(a, StatusFail, "%s is tied to an on-premises object: onPremisesImmutableId is %q", accountName(a), *u.OnPremisesImmutableID)
			r.Remediation = fix
		case u.OnPremisesSyncEnabled != nil:
			r = info.Result(a, StatusPass, "%s is cloud-only now (it was synchronised once; no on-premises anchor remains)", accountName(a))
		default:
			r = info.Result(a, StatusPass, "%s is cloud-only: never synchronised, no on-premises anchor", accountName(a))
		}
		r.Evidence = []Evidence{sync, imm}
		return r
	})
}
