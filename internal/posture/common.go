package posture

import (
	"encoding/json"
	"fmt"
	"strings"

	"breakglass/internal/graph/collect"
)

// Helpers the checks share: evidence sources, the user of an account, and
// the skip and error verdicts every per-account check gives alike.

// Source names a dataset and the Graph request it came from, for
// Evidence.Source, e.g. "breakglass_users: GET /v1.0/users/{id|upn}".
// The query string is left out: the manifest has it in full.
func (t *Tenant) Source(ds string) string {
	if t.Snapshot != nil {
		for _, d := range t.Snapshot.Manifest.Datasets {
			if d.Name == ds {
				ep, _, _ := strings.Cut(d.Endpoint, "?")
				return fmt.Sprintf("%s: GET /%s%s", ds, d.Version, ep)
			}
		}
	}
	return ds
}

// AccountUser returns the snapshot's user of a resolved account (nil when
// unresolved or not collected).
func (t *Tenant) AccountUser(a *AccountInfo) *User {
	if a == nil || !a.Resolved || a.ID == "" {
		return nil
	}
	return t.User(a.ID)
}

// userObject names a user for Evidence.Object.
func userObject(u *User, a *AccountInfo) string {
	upn, id := "", ""
	if u != nil {
		upn, id = u.UPN, u.ID
	}
	if a != nil {
		if upn == "" {
			upn = a.UPN
		}
		if id == "" {
			id = a.ID
		}
	}
	switch {
	case upn != "" && id != "":
		return fmt.Sprintf("user %s (%s)", upn, id)
	case upn != "":
		return "user " + upn
	}
	return "user " + id
}

// noAccounts is the verdict of a per-account check when no break-glass
// account is configured: nothing to judge, which the accounts check
// reports as the failure it is.
func noAccounts(info Info) []Result {
	return []Result{info.Result(nil, StatusSkip, "no break-glass accounts are configured; see the accounts check")}
}

// skipEach gives every account the same skip (data unavailable).
func skipEach(info Info, t *Tenant, reason string) []Result {
	if len(t.Accounts) == 0 {
		return []Result{info.Result(nil, StatusSkip, "cannot check: %s", reason)}
	}
	out := make([]Result, 0, len(t.Accounts))
	for i := range t.Accounts {
		out = append(out, info.Result(&t.Accounts[i], StatusSkip, "cannot check: %s", reason))
	}
	return out
}

// accountVerdicts runs judge for each resolved account whose user the
// snapshot holds; an unresolved account is skipped here (the accounts
// check reports it as an error), and a resolved one missing from
// breakglass_users is an error.
func accountVerdicts(info Info, t *Tenant, judge func(a *AccountInfo, u *User) Result) []Result {
	if len(t.Accounts) == 0 {
		return noAccounts(info)
	}
	if reason, missing := t.Missing(collect.DatasetBreakGlassUsers); missing {
		return skipEach(info, t, reason)
	}
	out := make([]Result, 0, len(t.Accounts))
	for i := range t.Accounts {
		a := &t.Accounts[i]
		if !a.Resolved {
			out = append(out, unresolvedResult(info, a))
			continue
		}
		u := t.AccountUser(a)
		if u == nil {
			r := info.Result(a, StatusError, "%s is not in breakglass_users, so it cannot be checked; run collect again", accountName(a))
			r.Evidence = []Evidence{{Object: userObject(nil, a), Value: nil, Source: t.Source(collect.DatasetBreakGlassUsers), Note: "absent from the dataset"}}
			out = append(out, r)
			continue
		}
		out = append(out, judge(a, u))
	}
	return out
}

// fieldUnknown gives the verdict for a user field that the snapshot does
// not hold usably: error when Graph sent a wrong type, skip when the field
// was not collected (or was withheld: partial holds the reason). ok is
// false when the field is usable.
func fieldUnknown(info Info, t *Tenant, a *AccountInfo, u *User, field string) (Result, bool) {
	src := t.Source(u.Source)
	if msg, bad := u.Invalid[field]; bad {
		r := info.Result(a, StatusError, "%s: %s is unreadable in the snapshot (%s), so this is unknown", accountName(a), field, msg)
		r.Evidence = []Evidence{{Object: userObject(u, a), Field: field, Value: rawField(u, field), Source: src, Note: "wrong type"}}
		return r, true
	}
	if !u.Present[field] {
		why := field + " is not in the snapshot (not selected by the collect that wrote it); run collect again"
		if reason, partial := t.Partial(u.Source, field); partial {
			why = reason
		}
		r := info.Result(a, StatusSkip, "%s: cannot check: %s", accountName(a), why)
		r.Evidence = []Evidence{{Object: userObject(u, a), Field: field, Value: nil, Source: src, Note: "absent"}}
		return r, true
	}
	return Result{}, false
}

// rawField is the JSON value Graph sent for a top-level field.
func rawField(u *User, field string) any {
	var m map[string]any
	if err := json.Unmarshal(u.Raw, &m); err != nil {
		return nil
	}
	return m[field]
}

// ptrValue turns an optional field into an evidence value (nil: null).
func ptrValue[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// psUser is the PowerShell/Graph reference to a user: its id, else UPN.
func psUser(a *AccountInfo) string {
	if a.ID != "" {
		return a.ID
	}
	return a.UPN
}

// unresolvedResult is every check's verdict but the accounts check's on an
// account that did not resolve: a skip that points at the accounts check,
// which reports it as an error (so CI fails once, with the fix, rather than
// once per check). Never a pass.
func unresolvedResult(info Info, a *AccountInfo) Result {
	r := info.Result(a, StatusSkip, "%s did not resolve (%s), so it cannot be checked; see the accounts check", a.Entry, a.Reason)
	r.Evidence = []Evidence{{Object: a.Entry, Field: "resolved", Value: false, Note: a.Reason}}
	return r
}
