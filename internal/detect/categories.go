package detect

import (
	"strings"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

// Rules of the categories beyond sign-ins and audits. AD FS sign-ins are
// sign-ins (bg.signin, with the category in the title); the legacy audit
// format is an audit (bg.activity, bg.change).
const (
	// RuleGraphActivity fires on any Microsoft Graph API call made with a
	// break-glass account's token: use of the account, as much as a sign-in.
	RuleGraphActivity = "bg.graph_activity"
	// RuleRisk fires on an Identity Protection risk detection on, or a risky
	// state of, a break-glass account: someone may be trying it.
	RuleRisk = "bg.risk"
	// RuleProvisioning fires on a provisioning action whose source or
	// target (or on-demand initiator) is a break-glass account.
	RuleProvisioning = "bg.provisioning"
)

func init() {
	for _, m := range []Meta{
		{RuleGraphActivity, alert.Sev0, "Graph API call by a break-glass account",
			"Any Microsoft Graph API call made with a break-glass account's token (MicrosoftGraphActivityLogs, matched on the caller's user id)."},
		{RuleRisk, alert.Sev1, "Risk detected on a break-glass account",
			"An Identity Protection risk detection on, or a risky-user state of, a break-glass account (UserRiskEvents, RiskyUsers)."},
		{RuleProvisioning, alert.Sev1, "Provisioning of a break-glass account",
			"A provisioning action whose source or target identity, or on-demand initiator, is a break-glass account (ProvisioningLogs)."},
	} {
		Register(m)
	}
}

// categoryRules are the record rules of the categories above; Builtins
// includes them. Like the core built-ins they ask for the accounts' ids and
// UPNs as literals, so their categories keep the fast path.
func categoryRules(b builtin) []Rule {
	return []Rule{graphActivityRule{b}, riskRule{b}, provisioningRule{b}}
}

type graphActivityRule struct{ builtin }

func (graphActivityRule) Meta() Meta { return MustLookup(RuleGraphActivity) }

// Eval: Graph activity carries the caller's object id only. A request URI
// that names the account is a call *about* it by someone else, and is not
// matched.
func (r graphActivityRule) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	ev := rec.Event
	if ev.Kind != entra.KindGraphActivity {
		return dst
	}
	acct, ok := r.accounts.Match(ev.UserID, "")
	if !ok {
		acct, ok = matchAlt(r.accounts, ev, "user")
	}
	if !ok {
		return dst
	}
	x := &ev.Extra
	a := base(RuleGraphActivity, rec, acct)
	a.Operation, a.Result = ev.Operation, x.ResponseStatus
	a.App, a.IPAddress, a.Location = ev.AppID, ev.IPAddress, ev.Location
	a.Title += ": " + strings.TrimSpace(x.RequestMethod+" "+graphPath(x.RequestURI))
	if x.ResponseStatus != "" {
		a.Title += " → " + x.ResponseStatus
	}
	return append(dst, a)
}

type riskRule struct{ builtin }

func (riskRule) Meta() Meta { return MustLookup(RuleRisk) }

func (r riskRule) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	ev := rec.Event
	if ev.Kind != entra.KindRisk {
		return dst
	}
	acct, ok := matchUser(r.accounts, ev)
	if !ok {
		return dst
	}
	x := &ev.Extra
	a := base(RuleRisk, rec, acct)
	a.IPAddress, a.Location, a.Result = ev.IPAddress, ev.Location, x.RiskState
	if ev.Category == entra.CategoryRiskyUsers {
		a.Operation = "risky user: " + x.RiskState
		a.Title = "Break-glass account flagged as risky: " + labelOr(x.RiskState, "state unknown") + " (risk " + labelOr(x.RiskLevel, "unknown") + ")"
	} else {
		a.Operation = x.RiskEventType
		a.Title += ": " + labelOr(x.RiskEventType, "unknown risk") + " (risk " + labelOr(x.RiskLevel, "unknown") + ")"
		expectations(&a, acct, ev) // expect.go
	}
	return append(dst, a)
}

type provisioningRule struct{ builtin }

func (provisioningRule) Meta() Meta { return MustLookup(RuleProvisioning) }

// Eval raises one alert per record; the first match (source, then target,
// then initiator) is named.
func (r provisioningRule) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	ev := rec.Event
	if ev.Kind != entra.KindProvisioning {
		return dst
	}
	x := &ev.Extra
	who := "source"
	acct, ok := r.accounts.Match(x.SourceIdentity.ID, x.SourceIdentity.UserPrincipalName)
	if !ok {
		acct, ok = r.accounts.Match(x.TargetIdentity.ID, x.TargetIdentity.UserPrincipalName)
		who = "target"
	}
	if !ok {
		acct, ok = r.accounts.Match(ev.Initiator.UserID, ev.Initiator.UserPrincipalName)
		who = "initiator"
	}
	if !ok {
		acct, ok = matchAlt(r.accounts, ev, "target")
		who = "target"
	}
	if !ok {
		return dst
	}
	a := base(RuleProvisioning, rec, acct)
	a.Operation, a.Result, a.Actor = x.ProvisioningAction, strings.ToLower(x.ProvisioningStatus), actorLabel(ev.Initiator)
	a.App = firstNonEmpty(ev.ServicePrincipal, x.TargetSystem, x.SourceSystem)
	a.Title += ": " + labelOr(x.ProvisioningAction, "action unknown") + " (" + who
	if sys := firstNonEmpty(x.TargetSystem, x.SourceSystem); sys != "" {
		a.Title += ", " + sys
	}
	a.Title += ")"
	return append(dst, a)
}

// graphPath shortens a Graph request URI to its path for titles; the full
// URI stays in the alert's operation.
func graphPath(uri string) string {
	if i := strings.Index(uri, "://"); i >= 0 {
		if j := strings.IndexByte(uri[i+3:], '/'); j >= 0 {
			uri = uri[i+3+j:]
		}
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

func labelOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
