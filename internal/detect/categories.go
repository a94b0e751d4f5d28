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
	Rules = append(Rules,
		Rule{RuleGraphActivity, alert.Sev0, "Graph API call by a break-glass account"},
		Rule{RuleRisk, alert.Sev1, "Risk detected on a break-glass account"},
		Rule{RuleProvisioning, alert.Sev1, "Provisioning of a break-glass account"},
	)
}

// detectExtra evaluates the rules above; Detect calls it for the kinds it
// does not handle itself.
func (d *Detector) detectExtra(dst []alert.Alert, ev *entra.Event, source string) []alert.Alert {
	x := &ev.Extra
	switch ev.Kind {
	case entra.KindGraphActivity:
		// Graph activity carries the caller's object id only. A request
		// URI that names the account is a call *about* it by someone else,
		// and is not matched.
		acct, ok := d.accounts.Match(ev.UserID, "")
		if !ok {
			return dst
		}
		a := d.base(RuleGraphActivity, ev, acct, source)
		a.Operation, a.Result = ev.Operation, x.ResponseStatus
		a.App, a.IPAddress, a.Location = ev.AppID, ev.IPAddress, ev.Location
		a.Title = rule(RuleGraphActivity).Title + ": " + strings.TrimSpace(x.RequestMethod+" "+graphPath(x.RequestURI))
		if x.ResponseStatus != "" {
			a.Title += " → " + x.ResponseStatus
		}
		return append(dst, a)
	case entra.KindRisk:
		acct, ok := d.accounts.Match(ev.UserID, ev.UserPrincipalName)
		if !ok {
			return dst
		}
		a := d.base(RuleRisk, ev, acct, source)
		a.IPAddress, a.Location, a.Result = ev.IPAddress, ev.Location, x.RiskState
		if ev.Category == entra.CategoryRiskyUsers {
			a.Operation = "risky user: " + x.RiskState
			a.Title = "Break-glass account flagged as risky: " + labelOr(x.RiskState, "state unknown") + " (risk " + labelOr(x.RiskLevel, "unknown") + ")"
		} else {
			a.Operation = x.RiskEventType
			a.Title = rule(RuleRisk).Title + ": " + labelOr(x.RiskEventType, "unknown risk") + " (risk " + labelOr(x.RiskLevel, "unknown") + ")"
		}
		return append(dst, a)
	case entra.KindProvisioning:
		var who string
		acct, ok := d.accounts.Match(x.SourceIdentity.ID, x.SourceIdentity.UserPrincipalName)
		who = "source"
		if !ok {
			acct, ok = d.accounts.Match(x.TargetIdentity.ID, x.TargetIdentity.UserPrincipalName)
			who = "target"
		}
		if !ok {
			acct, ok = d.accounts.Match(ev.Initiator.UserID, ev.Initiator.UserPrincipalName)
			who = "initiator"
		}
		if !ok {
			return dst
		}
		a := d.base(RuleProvisioning, ev, acct, source)
		a.Operation, a.Result, a.Actor = x.ProvisioningAction, strings.ToLower(x.ProvisioningStatus), actorLabel(ev.Initiator)
		a.App = firstNonEmpty(ev.ServicePrincipal, x.TargetSystem, x.SourceSystem)
		a.Title = rule(RuleProvisioning).Title + ": " + labelOr(x.ProvisioningAction, "action unknown") + " (" + who
		if sys := firstNonEmpty(x.TargetSystem, x.SourceSystem); sys != "" {
			a.Title += ", " + sys
		}
		a.Title += ")"
		return append(dst, a)
	}
	return dst
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
