package posture

import (
	"fmt"
	"slices"
	"strings"

	"breakglass/internal/graph/collect"
	"breakglass/internal/posture/capolicy"
)

// conditionalAccess checks the break-glass accounts against the tenant's
// Conditional Access policies in the configured mode. Microsoft's guidance
// changed: the earlier text (and the policy templates) say to exclude at
// least one emergency account from every policy, so a broken policy cannot
// lock everyone out; the current text says to require phishing-resistant
// MFA for them. The modes:
//
//   - exclude-all (default): excluded from every enabled or report-only
//     policy that can target users. Exclusion counts directly, through an
//     excluded group (nested membership included) or an excluded role.
//     Policies that cannot target the account (workload or agent
//     identities, guests only, includeUsers None) are skipped and listed;
//     disabled policies are listed. A policy that does not include the
//     account today but does not exclude it either warns: adding the
//     account to its group would apply it.
//   - phishing-resistant: covered by an enabled policy that requires a
//     phishing-resistant authentication strength, and blocked by no other
//     policy. A block limited to legacy clients cannot stop a modern
//     sign-in and is listed; a block under other conditions (locations,
//     platforms, risk) warns.
//   - both: the phishing-resistant coverage, and excluded from every other
//     policy (the dedicated phishing-resistant policies are the only ones
//     allowed to apply).
//
// Whether a policy applies is capolicy.Evaluate's answer; this check only
// judges the answers. An answer that depends on uncollected memberships or
// roles is unknown: never a pass.
type conditionalAccess struct{}

func init() { Register(conditionalAccess{}) }

func (conditionalAccess) Info() Info {
	return Info{
		ID:           "conditional-access",
		Title:        "Conditional Access cannot lock the accounts out",
		Severity:     SeverityCritical,
		Requirements: []string{"R19", "R7"},
		Rationale: "A Conditional Access policy that applies to every account (a misconfigured block, a device or location " +
			"requirement) can lock out all administrators at once; earlier Microsoft guidance and the policy templates exclude the " +
			"emergency accounts from every policy (R19). The current guidance requires phishing-resistant MFA for them instead (R7). " +
			"The configured mode (audit.conditional_access_mode) decides which is checked.",
		PerAccount: true,
		Order:      80,
	}
}

// caPolicyVerdict is one policy judged for one account.
type caPolicyVerdict struct {
	name    string
	status  Status // pass: fine; fail, warn, skip (unknown)
	verdict string // short, for the evidence value
	why     string
}

func (c conditionalAccess) Run(env *Env) []Result {
	info := c.Info()
	t := env.Tenant
	mode := env.Options.ConditionalAccessMode
	if mode == "" {
		mode = CAModeExcludeAll
	}
	missing, isMissing := t.Missing(collect.DatasetConditionalAccessPolicies)
	var policies []capolicy.Policy
	var undecodable []string
	if !isMissing {
		for i, raw := range t.ConditionalAccessPolicies {
			p, err := capolicy.Decode(raw)
			if err != nil {
				undecodable = append(undecodable, fmt.Sprintf("conditional_access_policies[%d]: %v", i, err))
				continue
			}
			policies = append(policies, p)
		}
	}
	strengths := t.strengths()
	var out []Result
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			out = append(out, unresolvedResult(info, a))
			continue
		}
		r := info.Result(a, StatusPass, "")
		r.Remediation = caRemedy(mode, a)
		if !slices.Contains(CAModes, mode) {
			r.Status = StatusError
			r.Message = fmt.Sprintf("Unknown conditional_access_mode %q; use one of %s.", mode, strings.Join(CAModes, ", "))
			r.Evidence = []Evidence{{Object: "audit options", Field: "conditional_access_mode", Value: mode}}
			out = append(out, r)
			continue
		}
		if isMissing {
			r.Status = StatusSkip
			r.Message = "Conditional Access policies could not be read: " + missing + "."
			r.Evidence = []Evidence{{Object: "conditionalAccessPolicies", Value: nil, Source: caSource, Note: missing}}
			out = append(out, r)
			continue
		}
		out = append(out, c.account(info, r, t, a, mode, policies, undecodable, strengths))
	}
	return out
}

func (conditionalAccess) account(info Info, r Result, t *Tenant, a *AccountInfo, mode string, policies []capolicy.Policy,
	undecodable []string, strengths map[string]capolicy.Strength) Result {
	subj := t.CASubject(a.ID)
	r.Evidence = append(r.Evidence, Evidence{Object: "user " + accountLabel(a), Field: "mode", Value: mode,
		Note: fmt.Sprintf("%d policies; groups known %v (%d), roles known %v (%d)", len(policies), subj.GroupsKnown, len(subj.Groups),
			subj.RolesKnown, len(subj.Roles))})
	var verdicts []caPolicyVerdict
	var covered []string // enabled phishing-resistant policies that apply
	var partialCover []string
	var skipped [][2]string // policy name, why it cannot target the account
	var disabled []string
	for _, p := range policies {
		if p.Disabled() {
			disabled = append(disabled, p.Name())
			continue
		}
		ap := capolicy.Evaluate(p, subj)
		if !ap.Unknown && !ap.Targetable {
			skipped = append(skipped, [2]string{p.Name(), ap.Reason})
			continue
		}
		if !p.StateKnown() {
			verdicts = append(verdicts, caPolicyVerdict{p.Name(), StatusWarn, "unknown state",
				fmt.Sprintf("state %q is not one this version knows; treated as enforced", p.State)})
		}
		prOK, prWhy := capolicy.RequiresPhishingResistant(p, strengths)
		dedicated := prOK && !capolicy.Blocks(p)
		if ap.Applies && dedicated && p.Enabled() {
			if capolicy.AllResources(p) {
				covered = append(covered, p.Name())
			} else {
				partialCover = append(partialCover, p.Name()+" ("+ap.Resource+")")
			}
		}
		v := caPolicyVerdict{name: p.Name()}
		switch mode {
		case CAModeExcludeAll:
			v = judgeExcludeAll(p, ap, false)
		case CAModePhishingResistant:
			v = judgeNoBlock(p, ap, prOK, prWhy)
		case CAModeBoth:
			v = judgeExcludeAll(p, ap, dedicated)
		}
		verdicts = append(verdicts, v)
	}

	var fails, warns, unknown []string
	for _, v := range verdicts {
		r.Evidence = append(r.Evidence, Evidence{Object: "conditionalAccessPolicy " + v.name, Field: "applies to the account", Value: v.verdict,
			Source: caSource, Note: v.why})
		switch v.status {
		case StatusFail:
			fails = append(fails, v.name+": "+v.why)
		case StatusWarn:
			warns = append(warns, v.name+": "+v.why)
		case StatusSkip:
			unknown = append(unknown, v.name+": "+v.why)
		}
	}
	for _, s := range skipped {
		r.Evidence = append(r.Evidence, Evidence{Object: "conditionalAccessPolicy " + s[0], Field: "applies to the account",
			Value: "not-targetable", Source: caSource, Note: "skipped: " + s[1]})
	}
	for _, d := range disabled {
		r.Evidence = append(r.Evidence, Evidence{Object: "conditionalAccessPolicy " + d, Field: "state", Value: capolicy.StateDisabled, Source: caSource,
			Note: "disabled: not judged"})
	}
	for _, u := range undecodable {
		unknown = append(unknown, u)
		r.Evidence = append(r.Evidence, Evidence{Object: "conditionalAccessPolicy", Value: nil, Source: caSource, Note: "not readable: " + u})
	}
	if mode != CAModeExcludeAll {
		r.Evidence = append(r.Evidence, Evidence{Object: "user " + accountLabel(a), Field: "enabled phishing-resistant policies covering all resources",
			Value: covered, Source: caSource})
		if len(covered) == 0 {
			if len(partialCover) > 0 {
				warns = append(warns, "phishing-resistant strength is required only by "+strings.Join(partialCover, ", ")+", not for all resources")
			} else if len(unknown) == 0 {
				fails = append(fails, "no enabled policy requires a phishing-resistant authentication strength for the account")
			}
		}
	}

	tail := fmt.Sprintf(" Judged %d policies; skipped %d that cannot target the account and %d disabled (see evidence).", len(verdicts), len(skipped), len(disabled))
	switch {
	case len(fails) > 0:
		r.Status = StatusFail
		r.Message = capitalize(joinFew(fails, 3)) + "." + tail
	case len(unknown) > 0:
		r.Status = StatusSkip
		r.Message = "Cannot tell whether every policy spares the account: " + joinFew(unknown, 3) + "." + tail
	case len(warns) > 0:
		r.Status = StatusWarn
		r.Message = capitalize(joinFew(warns, 3)) + "." + tail
	case mode == CAModeExcludeAll:
		r.Message = "Excluded from every enabled and report-only policy that can target it." + tail
	case mode == CAModePhishingResistant:
		r.Message = "Phishing-resistant MFA is required by " + strings.Join(covered, ", ") + ", and no policy blocks the account." + tail
	default:
		r.Message = "Phishing-resistant MFA is required by " + strings.Join(covered, ", ") + ", and the account is excluded from every other policy." + tail
	}
	return r
}

// judgeExcludeAll: the account must be excluded from the policy. allowed
// is true for a dedicated phishing-resistant policy in both mode.
func judgeExcludeAll(p capolicy.Policy, ap capolicy.Applicability, allowed bool) caPolicyVerdict {
	v := caPolicyVerdict{name: p.Name(), verdict: ap.Verdict()}
	state := ""
	if p.ReportOnly() {
		state = " (report-only: it enforces once switched on)"
	}
	switch {
	case ap.Unknown:
		v.status, v.why = StatusSkip, "unknown: "+ap.UnknownReason
	case ap.Excluded:
		v.status, v.why = StatusPass, "excluded by "+strings.Join(ap.ExcludedBy, ", ")
	case allowed && ap.Applies:
		v.status, v.why = StatusPass, "applies, and it is the dedicated phishing-resistant policy"
	case ap.Applies && noResources(p):
		v.status, v.why = StatusWarn, "targets no resource today (includeApplications None), but does not exclude the account"+state
	case ap.Applies && (ap.UserActions || ap.AuthContext):
		// Not a sign-in policy: it acts only when the account registers
		// methods, joins a device or reaches the protected context.
		v.status, v.why = StatusWarn, "applies to "+ap.Resource+" only, not to sign-in, and does not exclude the account"+state
	case ap.Applies:
		v.status, v.why = StatusFail, "applies to the account through "+strings.Join(ap.IncludedBy, ", ")+" and does not exclude it"+state
	default:
		v.status, v.why = StatusWarn, "does not include the account today, but does not exclude it either"+state
	}
	return v
}

// judgeNoBlock: in phishing-resistant mode a policy may apply, but must
// not block the account.
func judgeNoBlock(p capolicy.Policy, ap capolicy.Applicability, prOK bool, prWhy string) caPolicyVerdict {
	v := caPolicyVerdict{name: p.Name(), verdict: ap.Verdict()}
	switch {
	case ap.Unknown:
		if capolicy.Blocks(p) {
			v.status, v.why = StatusSkip, "blocks access and may apply: "+ap.UnknownReason
		} else {
			v.status, v.why = StatusPass, "does not block (applicability unknown: "+ap.UnknownReason+")"
		}
	case !ap.Applies:
		v.status, v.why = StatusPass, "does not apply ("+ap.Verdict()+")"
	case !capolicy.Blocks(p) && deviceOnly(p):
		v.status, v.why = StatusWarn, "applies and can only be satisfied from a managed device or app ("+
			strings.Join(p.Grant.BuiltInControls, ", ")+"): make sure the emergency workstation qualifies, or exclude the account"
	case !capolicy.Blocks(p):
		v.status, v.why = StatusPass, "applies and does not block"
		if prOK {
			v.why = "applies: " + prWhy
		}
	case noResources(p):
		v.status, v.why = StatusPass, "blocks, but targets no resource (includeApplications None)"
	case ap.UserActions || ap.AuthContext:
		v.status, v.why = StatusWarn, "blocks the account for "+ap.Resource+" (not sign-in itself)"
	case legacyOnly(p):
		v.status, v.why = StatusPass, "blocks only legacy clients ("+strings.Join(p.ClientAppTypes, ", ")+"), which a break-glass sign-in does not use"
	case len(ap.Conditions) > 0:
		v.status, v.why = StatusWarn, "blocks the account when "+strings.Join(ap.Conditions, "; ")+": make sure the emergency workstation is never in that case"
	case p.ReportOnly():
		v.status, v.why = StatusWarn, "blocks the account once switched from report-only to on"
	default:
		v.status, v.why = StatusFail, "blocks the account (builtInControls: block) through "+strings.Join(ap.IncludedBy, ", ")
	}
	return v
}

// deviceOnly reports whether a policy's grant can only be met by a
// managed device or app: every alternative (OR) or some requirement (AND)
// is one of those controls.
func deviceOnly(p capolicy.Policy) bool {
	g := p.Grant
	if g == nil {
		return false
	}
	device := func(c string) bool {
		return slices.Contains([]string{"compliantdevice", "domainjoineddevice", "approvedapplication", "compliantapplication"}, strings.ToLower(c))
	}
	if strings.EqualFold(g.Operator, "AND") {
		return slices.ContainsFunc(g.BuiltInControls, device)
	}
	others := len(g.CustomAuthenticationFactors) + len(g.TermsOfUse)
	if g.AuthenticationStrength != nil {
		others++
	}
	return others == 0 && len(g.BuiltInControls) > 0 && !slices.ContainsFunc(g.BuiltInControls, func(c string) bool { return !device(c) })
}

// noResources reports whether a policy targets no resource at all
// (includeApplications None or empty, no user action, context or filter):
// it cannot act on any sign-in.
func noResources(p capolicy.Policy) bool {
	ap := p.Applications
	for _, a := range ap.IncludeApplications {
		if !strings.EqualFold(a, "None") {
			return false
		}
	}
	return len(ap.IncludeUserActions) == 0 && len(ap.IncludeAuthenticationContextClassReferences) == 0 && ap.ApplicationFilter == ""
}

// legacyOnly reports whether a policy's client app types are legacy
// authentication only (exchangeActiveSync, other).
func legacyOnly(p capolicy.Policy) bool {
	if len(p.ClientAppTypes) == 0 {
		return false
	}
	for _, c := range p.ClientAppTypes {
		if !strings.EqualFold(c, "exchangeActiveSync") && !strings.EqualFold(c, "other") {
			return false
		}
	}
	return true
}

func caRemedy(mode string, a *AccountInfo) Remediation {
	if mode == CAModePhishingResistant {
		return Remediation{
			Summary: "Create (or fix) a policy that targets the break-glass accounts for all resources and requires the built-in " +
				"Phishing-resistant MFA authentication strength; exclude the accounts from every policy that blocks access.",
			Portal: "Entra admin center > Protection > Conditional Access > Policies > New policy: Users: the break-glass accounts; " +
				"Target resources: All resources; Grant: Require authentication strength: Phishing-resistant MFA",
			Graph: `POST https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies {"displayName":"Break-glass: require phishing-resistant MFA",` +
				`"state":"enabled","conditions":{"users":{"includeUsers":["` + a.ID + `"]},"applications":{"includeApplications":["All"]},"clientAppTypes":["all"]},` +
				`"grantControls":{"operator":"OR","authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}`,
			PowerShell: "New-MgIdentityConditionalAccessPolicy -BodyParameter $policy  # the body above",
		}
	}
	return Remediation{
		Summary: "Exclude the break-glass accounts from each listed policy, directly or through the protected break-glass exclusion group " +
			"(report-only policies too: they enforce once switched on).",
		Portal: "Entra admin center > Protection > Conditional Access > Policies > (policy) > Users > Exclude > Users and groups",
		Graph: "GET https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies/{id}, then PATCH it with " +
			`{"conditions":{"users":{"excludeUsers":[...existing, "` + a.ID + `"]}}} (or add the exclusion group to excludeGroups)`,
		PowerShell: "$p = Get-MgIdentityConditionalAccessPolicy -ConditionalAccessPolicyId <id>; " +
			"Update-MgIdentityConditionalAccessPolicy -ConditionalAccessPolicyId <id> -Conditions @{Users=@{ExcludeUsers=@($p.Conditions.Users.ExcludeUsers + '" + a.ID + "')}}",
	}
}
