// Package detect holds the built-in detections: given a decoded event and
// the break-glass accounts, it says which rules fire. Rules are pure
// functions of the event, so the same record always yields the same alerts.
package detect

import (
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

// Rule ids are stable: alert ids, dedupe keys and users' routing depend on them.
const (
	RuleSignIn   = "bg.signin"
	RuleActivity = "bg.activity"
	RuleChange   = "bg.change"
)

// Rule describes a built-in detection.
type Rule struct {
	ID       string
	Severity alert.Severity
	Title    string
}

// Rules lists the built-in detections.
var Rules = []Rule{
	{RuleSignIn, alert.Sev0, "Break-glass account sign-in"},
	{RuleActivity, alert.Sev0, "Activity by a break-glass account"},
	{RuleChange, alert.Sev1, "Change to a break-glass account"},
}

func rule(id string) Rule {
	for _, r := range Rules {
		if r.ID == id {
			return r
		}
	}
	panic("detect: unknown rule " + id)
}

// Detector evaluates the built-in rules against events.
type Detector struct {
	accounts *entra.AccountSet
	now      func() time.Time
}

// New returns a detector for the accounts.
func New(accounts *entra.AccountSet) *Detector {
	return &Detector{accounts: accounts, now: time.Now}
}

// Detect appends the alerts ev raises to dst. source names where the record
// was read (file:line) and goes into each alert.
func (d *Detector) Detect(dst []alert.Alert, ev *entra.Event, source string) []alert.Alert {
	switch ev.Kind {
	case entra.KindSignIn:
		// Any sign-in, successful or not, interactive or not: a failed
		// attempt on a break-glass account is as alarming as a success.
		if acct, ok := d.accounts.Match(ev.UserID, ev.UserPrincipalName); ok {
			a := d.base(RuleSignIn, ev, acct, source)
			a.App = firstNonEmpty(ev.AppDisplayName, ev.AppID)
			a.IPAddress, a.Location = ev.IPAddress, ev.Location
			a.Result = signInResult(ev)
			a.Title = rule(RuleSignIn).Title + " (" + a.Result + ")"
			if ev.Category != entra.CategorySignIn {
				a.Title += ", " + categoryLabel(ev.Category)
			}
			dst = append(dst, a)
		}
	case entra.KindAudit:
		in := ev.Initiator
		if acct, ok := d.accounts.Match(in.UserID, in.UserPrincipalName); ok {
			a := d.base(RuleActivity, ev, acct, source)
			a.Operation, a.Result, a.IPAddress = ev.Operation, ev.Result, in.IPAddress
			a.Title = rule(RuleActivity).Title + ": " + ev.Operation
			dst = append(dst, a)
		}
		// One alert per record even if several targets are break-glass
		// accounts (e.g. both removed from a group in one operation): the
		// dedupe key is record id plus rule. The first match is named.
		for _, t := range ev.Targets {
			acct, ok := d.accounts.Match(t.ID, t.UserPrincipalName)
			if !ok {
				continue
			}
			a := d.base(RuleChange, ev, acct, source)
			a.Operation, a.Result = ev.Operation, ev.Result
			a.ChangeType = ChangeType(ev.Operation)
			a.Actor = actorLabel(in)
			a.IPAddress = in.IPAddress
			a.Title = rule(RuleChange).Title + ": " + ev.Operation
			dst = append(dst, a)
			break
		}
	default:
		dst = d.detectExtra(dst, ev, source) // categories.go
	}
	return dst
}

func (d *Detector) base(ruleID string, ev *entra.Event, acct entra.Account, source string) alert.Alert {
	r := rule(ruleID)
	eid := EventKey(ev)
	return alert.Alert{
		ID:          alert.Key(eid, r.ID),
		Rule:        r.ID,
		Severity:    r.Severity,
		Title:       r.Title,
		AccountID:   acct.ID,
		AccountUPN:  acct.UPN,
		Account:     acct.Name,
		EventID:     eid,
		EventTime:   ev.Time,
		Category:    ev.Category,
		Source:      source,
		Detected:    d.now().UTC(),
		Correlation: ev.CorrelationID,
	}
}

// EventKey is the record's id. The same record exported through Graph, Event
// Hubs, storage or Log Analytics carries the same id, which is what makes
// dedupe work across shapes. Records without an id (hand-made exports) get a
// key derived from their content.
func EventKey(ev *entra.Event) string {
	if ev.ID != "" && ev.ID != "00000000-0000-0000-0000-000000000000" {
		return ev.ID
	}
	parts := []string{"noid", ev.Category, ev.Time.UTC().Format(time.RFC3339Nano), entra.FoldASCII(ev.UserID),
		entra.FoldASCII(ev.UserPrincipalName), ev.CorrelationID, ev.Operation, entra.FoldASCII(ev.Initiator.UserID), ev.IPAddress}
	for _, t := range ev.Targets {
		parts = append(parts, entra.FoldASCII(t.ID))
	}
	return alert.Key(strings.Join(parts, "\x1f"), "event")
}

func signInResult(ev *entra.Event) string {
	switch {
	case ev.ResultType == "0":
		return "success"
	case ev.ResultType == "":
		return "result unknown"
	}
	return "failure " + ev.ResultType
}

func categoryLabel(c string) string {
	switch c {
	case entra.CategoryNonInteractive:
		return "non-interactive"
	case entra.CategoryServicePrincipal:
		return "service principal"
	case entra.CategoryManagedIdentity:
		return "managed identity"
	case entra.CategoryADFSSignIn:
		return "federated through AD FS"
	}
	return c
}

func actorLabel(a entra.Actor) string {
	return firstNonEmpty(a.UserPrincipalName, a.UserID, a.AppDisplayName, a.AppID, a.ServicePrincipalID)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// ChangeType classifies an audit operation on an account, so reviewers and
// routing can tell a credential change from a group membership change.
// Operation names vary across services and versions, hence keyword matching.
func ChangeType(op string) string {
	o := strings.ToLower(op)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(o, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("security info", "authentication method", "strongauthentication", "fido", "passkey",
		"temporary access pass", "authenticator", "phone", "windows hello", "certificate-based"):
		return "auth_method"
	case has("password", "credentials"):
		return "password"
	case has(" role", "role ", "eligible"):
		return "role_membership"
	case has("group"):
		return "group_membership"
	case has("disable"):
		return "disable"
	case has("enable"):
		return "enable"
	case has("restore"):
		return "restore"
	case has("delete", "remove user"):
		return "delete"
	case has("update", "change", "set "):
		return "update"
	}
	return "other"
}
