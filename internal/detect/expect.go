package detect

import (
	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/expect"
)

// expectations states, on a sign-in alert, each expectation of the
// account's expect: (held, broken or unknown) and raises a broken one to
// Sev0 with the title saying why (internal/expect). bg.signin calls it for
// every sign-in, bg.risk for risk detections, which carry the sign-in's IP
// address and location: a risk detection from an unapproved network is
// raised from Sev1 to Sev0.
func expectations(a *alert.Alert, acct entra.Account, ev *entra.Event) {
	expect.Apply(a, expect.Evaluate(acct.Expect, ev))
}
