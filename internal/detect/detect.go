// Package detect holds the detections. Record rules implement Rule: each
// says what it needs to see (literals for the prefilter, or every record of
// a table) and, given a decoded record, which alerts it raises; the
// built-ins bg.signin, bg.activity and bg.change are such rules, pure
// functions of the record, so the same record always yields the same
// alerts. Every rule, record rule or not (bg.unparsed, bg.silence,
// bg.source, bg.notify, bg.posture), has its metadata in one registry.
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

// Builtins returns the built-in record rules for the accounts. Each asks
// for the accounts' ids and UPNs as literals, which keeps the fast path.
func Builtins(accounts *entra.AccountSet) []Rule {
	b := builtin{accounts: accounts, needs: Needs{Literals: accounts.Needles()}}
	return append([]Rule{signInRule{b}, activityRule{b}, changeRule{b}}, categoryRules(b)...) // categories.go
}

type builtin struct {
	accounts *entra.AccountSet
	needs    Needs
}

func (b builtin) Needs() Needs { return b.needs }

type signInRule struct{ builtin }

func (signInRule) Meta() Meta { return MustLookup(RuleSignIn) }

// Eval: any sign-in, successful or not, interactive or not: a failed attempt
// on a break-glass account is as alarming as a success.
func (r signInRule) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	ev := rec.Event
	if ev.Kind != entra.KindSignIn {
		return dst
	}
	acct, ok := matchUser(r.accounts, ev)
	if !ok {
		return dst
	}
	a := base(RuleSignIn, rec, acct)
	a.App = firstNonEmpty(ev.AppDisplayName, ev.AppID)
	a.IPAddress, a.Location = ev.IPAddress, ev.Location
	a.Result = signInResult(ev)
	a.Title += " (" + a.Result + ")"
	if ev.Category != entra.CategorySignIn {
		a.Title += ", " + categoryLabel(ev.Category)
	}
	signInAnnotations(&a, ev) // annotations.go
	expectations(&a, acct, ev)
	return append(dst, a)
}

type activityRule struct{ builtin }

func (activityRule) Meta() Meta { return MustLookup(RuleActivity) }

func (r activityRule) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	ev := rec.Event
	if ev.Kind != entra.KindAudit {
		return dst
	}
	in := ev.Initiator
	acct, ok := r.accounts.Match(in.UserID, in.UserPrincipalName)
	if !ok {
		acct, ok = matchAlt(r.accounts, ev, "initiator")
	}
	if !ok {
		return dst
	}
	a := base(RuleActivity, rec, acct)
	a.Operation, a.Result, a.IPAddress = ev.Operation, ev.Result, in.IPAddress
	a.Title += ": " + ev.Operation
	auditAnnotations(&a, ev)
	return append(dst, a)
}

type changeRule struct{ builtin }

func (changeRule) Meta() Meta { return MustLookup(RuleChange) }

// Eval raises one alert per record even if several targets are break-glass
// accounts (e.g. both removed from a group in one operation): the dedupe key
// is record id plus rule. The first match is named.
func (r changeRule) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	ev := rec.Event
	if ev.Kind != entra.KindAudit {
		return dst
	}
	var acct entra.Account
	ok := false
	for _, t := range ev.Targets {
		if acct, ok = r.accounts.Match(t.ID, t.UserPrincipalName); ok {
			break
		}
	}
	if !ok {
		acct, ok = matchAlt(r.accounts, ev, "target")
	}
	if !ok {
		return dst
	}
	in := ev.Initiator
	a := base(RuleChange, rec, acct)
	a.Operation, a.Result = ev.Operation, ev.Result
	a.ChangeType = ChangeType(ev.Operation)
	a.Actor = actorLabel(in)
	a.IPAddress = in.IPAddress
	a.Title += ": " + ev.Operation
	auditAnnotations(&a, ev)
	return append(dst, a)
}

// matchAlt tries the other values of duplicated identity keys: when a record
// says two things about who it concerns, either one being a break-glass
// account is enough (fail closed).
// matchUser matches the event's user (id, then UPN), then any other value a
// disagreeing duplicate key gave for it.
func matchUser(accounts *entra.AccountSet, ev *entra.Event) (entra.Account, bool) {
	if acct, ok := accounts.Match(ev.UserID, ev.UserPrincipalName); ok {
		return acct, true
	}
	return matchAlt(accounts, ev, "user")
}

func matchAlt(accounts *entra.AccountSet, ev *entra.Event, where string) (entra.Account, bool) {
	for _, alt := range ev.Ambiguous {
		if alt.Where == where {
			if acct, ok := accounts.MatchAny(alt.Value); ok {
				return acct, true
			}
		}
	}
	return entra.Account{}, false
}

// Detector evaluates the built-in rules against events.
type Detector struct {
	set *Set
	now func() time.Time
}

// New returns a detector for the accounts.
func New(accounts *entra.AccountSet) *Detector {
	return &Detector{set: NewSet(Builtins(accounts)...), now: time.Now}
}

// Detect appends the alerts ev raises to dst. source names where the record
// was read (file:line) and goes into each alert.
func (d *Detector) Detect(dst []alert.Alert, ev *entra.Event, source string) []alert.Alert {
	rec := Record{Event: ev, Table: entra.TableOf(ev.Category), Source: source, Now: d.now()}
	return d.set.Eval(dst, &rec)
}

// Base returns an alert of rule ruleID on rec's event for acct, with the
// fields every record rule sets. A degraded record (unreadable fields, no
// usable time) still alerts, and the alert says what could not be read.
func Base(ruleID string, rec *Record, acct entra.Account) alert.Alert {
	return base(ruleID, rec, acct)
}

func base(ruleID string, rec *Record, acct entra.Account) alert.Alert {
	r := MustLookup(ruleID)
	ev := rec.Event
	eid := EventKey(ev)
	now := rec.Now.UTC()
	if rec.Now.IsZero() {
		now = time.Now().UTC()
	}
	a := alert.Alert{
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
		Source:      rec.Source,
		Detected:    now,
		Correlation: ev.CorrelationID,
	}
	if ev.TimeUnknown || ev.Time.IsZero() {
		a.EventTime, a.EventTimeUnknown = now, true
	}
	if len(ev.Unreadable) > 0 {
		a.Unreadable = append([]string(nil), ev.Unreadable...)
	}
	return a
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
