package canary

import (
	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
)

// rule is bg.canary: a sign-in record carrying the canary's marks whose
// user is the canary identity. It runs next to the built-in rules in the
// pipeline's scanner, with its own account set: the identity is watched
// for this rule only, so no break-glass rule (and nothing that lists the
// break-glass accounts) ever sees it, and a record that also names a
// break-glass account still raises that account's alert as ever.
type rule struct {
	id    Identity
	set   *entra.AccountSet
	needs detect.Needs
}

// NewRule returns the bg.canary record rule for the identity.
func NewRule(id Identity) detect.Rule {
	set := entra.NewAccountSet([]entra.Account{id.account()})
	return rule{id: id, set: set, needs: detect.Needs{Literals: set.Needles()}}
}

func (rule) Meta() detect.Meta     { return detect.MustLookup(detect.RuleCanary) }
func (r rule) Needs() detect.Needs { return r.needs }

// Eval raises bg.canary for the synthetic record. Its alert is labelled
// canary=true (routing sends it to the canary group only) and its title
// says first that it is a test.
func (r rule) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	ev := rec.Event
	if ev.Kind != entra.KindSignIn || !Marked(ev) {
		return dst
	}
	acct, ok := r.set.Match(ev.UserID, ev.UserPrincipalName)
	if !ok {
		return dst
	}
	a := detect.Base(detect.RuleCanary, rec, acct)
	a.Title = "CANARY TEST, not a break-glass sign-in: the daily synthetic sign-in of " + r.id.Label() + " got through. No action needed."
	a.App, a.IPAddress, a.Result = ev.AppDisplayName, ev.IPAddress, "synthetic"
	// "test" is notify.LabelTest: every message form then says first
	// that this is a test (TestCanaryMessageSaysTest keeps them equal).
	a.Labels = map[string]string{Label: "true", LabelTest: "canary"}
	a.Annotations = map[string]string{
		"description": "breakglass serve pushed this synthetic sign-in through its own pipeline to prove that detection and delivery work. " +
			"It goes to the canary's test group only. If you see it anywhere else, fix notify.routes.",
	}
	return append(dst, a)
}

// LabelTest is the label (notify.LabelTest) that makes a notification say,
// before anything else, that it is a test.
const LabelTest = "test"

// IsCanary reports whether an alert's labels are those of a bg.canary
// alert. Both the rule and the label must say so: a label alone, on any
// other rule, never diverts an alert from the real groups.
func IsCanary(labels map[string]string) bool {
	return labels[alert.LabelRule] == detect.RuleCanary && labels[Label] == "true"
}
