package posture

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// lastSignInCheck: each account signed in successfully within the drill
// interval, which proves its credential still works.
type lastSignInCheck struct{}

func init() { Register(lastSignInCheck{}) }

var lastSignInInfo = Info{
	ID:           "last-sign-in",
	Title:        "Break-glass account was tested within the drill interval",
	Severity:     SeverityMedium,
	Requirements: []string{"R17"},
	Rationale: "Microsoft asks for drills at least every 90 days that validate the accounts can sign in (R17). " +
		"A successful sign-in, or a passed breakglass drill, within the drill interval is the evidence that the credential, the key and the process " +
		"still work; an untested account may fail on the day it is needed.",
	PerAccount: true,
	Order:      120,
}

func (lastSignInCheck) Info() Info { return lastSignInInfo }

func (lastSignInCheck) Run(env *Env) []Result {
	t := env.Tenant
	info := lastSignInInfo
	interval, now := env.Options.DrillInterval, env.Options.Now
	if interval <= 0 {
		interval = DefaultDrillInterval
	}
	if now.IsZero() {
		now = time.Now()
	}
	return accountVerdicts(info, t, func(a *AccountInfo, u *User) Result {
		d, drilled := lastDrill(env.Options.Drills, a, now)
		if drilled && now.Sub(d.At) <= interval {
			// A passed drill is the evidence the check asks for: the
			// account signed in, and the alert reached people.
			age := max(now.Sub(d.At), 0)
			r := info.Result(a, StatusPass, "%s passed drill %s on %s (%s ago; the drill interval is %s)",
				accountName(a), d.ID, d.At.UTC().Format(time.DateOnly), days(age), days(interval))
			r.Evidence = []Evidence{drillEvidence(d, age)}
			return r
		}
		r := signInVerdict(info, t, interval, now, a, u)
		if drilled && r.Status == StatusFail {
			r.Evidence = append(r.Evidence, drillEvidence(d, now.Sub(d.At)))
		}
		return r
	})
}

// PassedDrill is a passed break-glass drill (package drill), as the
// caller read it from its store.
type PassedDrill struct {
	ID         string
	AccountID  string // the account's object id, or its UPN
	AccountUPN string
	At         time.Time // when the drill ran
}

// lastDrill is the account's latest passed drill at or before now (a
// drill dated after the audit time proves nothing about it).
func lastDrill(ds []PassedDrill, a *AccountInfo, now time.Time) (PassedDrill, bool) {
	var best PassedDrill
	found := false
	for _, d := range ds {
		mine := (a.ID != "" && strings.EqualFold(d.AccountID, a.ID)) ||
			(a.UPN != "" && (strings.EqualFold(d.AccountUPN, a.UPN) || strings.EqualFold(d.AccountID, a.UPN)))
		if !mine || d.At.IsZero() || d.At.After(now.Add(futureSkew)) {
			continue
		}
		if !found || d.At.After(best.At) {
			best, found = d, true
		}
	}
	return best, found
}

func drillEvidence(d PassedDrill, age time.Duration) Evidence {
	return Evidence{Object: "drill " + d.ID, Field: "result", Value: "passed", Source: "breakglass store: drills",
		Note: "ran " + d.At.UTC().Format(time.RFC3339) + ", " + days(max(age, 0)) + " before the audit"}
}

// signInVerdict judges the account by its last successful sign-in.
func signInVerdict(info Info, t *Tenant, interval time.Duration, now time.Time, a *AccountInfo, u *User) Result {
	const field = "signInActivity"
	// Without the licence Graph withholds signInActivity; that is
	// "unknown", never "never signed in".
	if r, unknown := fieldUnknown(info, t, a, u, field); unknown {
		return r
	}
	const sub = field + ".lastSuccessfulSignInDateTime"
	if msg, bad := u.Invalid[sub]; bad {
		r := info.Result(a, StatusError, "%s: %s is unreadable in the snapshot (%s)", accountName(a), sub, msg)
		r.Evidence = []Evidence{{Object: userObject(u, a), Field: sub, Value: nil, Source: t.Source(u.Source), Note: "wrong type"}}
		return r
	}
	name := accountName(a)
	ev := Evidence{Object: userObject(u, a), Field: sub, Source: t.Source(u.Source)}
	fix := Remediation{
		Summary: fmt.Sprintf("Run a break-glass drill now: sign in with each account's FIDO2 key from the secure workstation, confirm the alert fires, "+
			"then record the drill. Repeat at least every %s.", days(interval)),
		Portal:     "Entra admin center > Identity > Monitoring & health > Sign-in logs (filter by the account) to confirm the drill",
		Graph:      "GET https://graph.microsoft.com/v1.0/users/" + psUser(a) + "?$select=signInActivity",
		PowerShell: "Get-MgUser -UserId '" + psUser(a) + "' -Property SignInActivity | Select-Object -ExpandProperty SignInActivity",
	}
	if u.SignInActivity == nil {
		// signInActivity: null is what Graph sends for an account
		// that never signed in (the field exists, the licence too).
		ev.Value, ev.Note = nil, "signInActivity is null: no sign-in recorded"
		r := info.Result(a, StatusFail, "%s has no recorded sign-in: it has never been tested", name)
		r.Evidence, r.Remediation = []Evidence{ev}, fix
		return r
	}
	last := u.SignInActivity.LastSuccessfulSignInDateTime
	if last == nil {
		ev.Value, ev.Note = nil, "null: no successful sign-in recorded (Graph records it since December 2023)"
		r := info.Result(a, StatusFail, "%s has no recorded successful sign-in: it has not been tested (or not since December 2023)", name)
		r.Evidence, r.Remediation = []Evidence{ev}, fix
		if att := u.SignInActivity.LastSignInDateTime; att != nil {
			r.Evidence = append(r.Evidence, Evidence{Object: userObject(u, a), Field: field + ".lastSignInDateTime", Value: att.UTC().Format(time.RFC3339),
				Source: t.Source(u.Source), Note: "an interactive attempt, not necessarily successful"})
		}
		return r
	}
	ev.Value = last.UTC().Format(time.RFC3339)
	// A sign-in after the snapshot was taken (or after the audit) is
	// not evidence of a drill: the data or a clock is wrong.
	ref := now
	if !t.Collected.IsZero() && t.Collected.Before(ref) {
		ref = t.Collected
	}
	if last.After(ref.Add(futureSkew)) {
		ev.Note = "after the snapshot was collected (" + ref.UTC().Format(time.RFC3339) + ")"
		r := info.Result(a, StatusError, "%s: the last successful sign-in, %s, is later than the snapshot (%s), so it proves no drill; check the clocks and collect again",
			name, last.UTC().Format(time.RFC3339), ref.UTC().Format(time.RFC3339))
		r.Evidence, r.Remediation = []Evidence{ev}, fix
		return r
	}
	age := now.Sub(*last)
	if age > interval {
		ev.Note = days(age) + " before the audit"
		r := info.Result(a, StatusFail, "%s last signed in successfully on %s, %s ago; the drill interval is %s",
			name, last.UTC().Format(time.DateOnly), days(age), days(interval))
		r.Evidence, r.Remediation = []Evidence{ev}, fix
		return r
	}
	ev.Note = days(max(age, 0)) + " before the audit"
	r := info.Result(a, StatusPass, "%s last signed in successfully on %s (%s ago; the drill interval is %s)",
		name, last.UTC().Format(time.DateOnly), days(max(age, 0)), days(interval))
	r.Evidence = []Evidence{ev}
	return r
}

// futureSkew is how far a sign-in time may lie after the snapshot time
// (clocks differ a little) before it is read as wrong data.
const futureSkew = 5 * time.Minute

// days renders a duration in whole days.
func days(d time.Duration) string {
	n := int(math.Floor(d.Hours() / 24))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
