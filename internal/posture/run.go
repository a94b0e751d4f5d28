package posture

import (
	"cmp"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// CheckExceptions is the check id of the tenant-wide error result Run
// gives for a configured exception it cannot apply (it names an unknown
// check). It is not a registered check.
const CheckExceptions = "exceptions"

// DefaultDrillInterval is what Run uses when Options.DrillInterval is
// zero, as in tests; the configured default is internal/config's.
const DefaultDrillInterval = 90 * 24 * time.Hour

// Run runs every registered check against the tenant and returns the
// report. It never panics because of a check: a check that panics, returns
// no result, or leaves out an account becomes an error result naming the
// check. Exceptions are applied, results sorted (check order, then
// account in configuration order, tenant-wide first) and counted.
func Run(t *Tenant, o Options) *Report { return run(t, o, All()) }

// run is Run over the given checks (tests pass their own).
func run(t *Tenant, o Options, checks []Check) *Report {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.DrillInterval <= 0 {
		o.DrillInterval = DefaultDrillInterval
	}
	if o.ConditionalAccessMode == "" {
		o.ConditionalAccessMode = CAModeExcludeAll
	}
	if t == nil {
		t = &Tenant{}
	}
	rep := &Report{
		Tenant:                t.Info,
		Generated:             o.Now,
		Source:                o.Source,
		Collected:             t.Collected,
		ConditionalAccessMode: o.ConditionalAccessMode,
		ToolVersion:           o.ToolVersion,
		Accounts:              slices.Clone(t.Accounts),
		Results:               []Result{},
		Exceptions:            []ExceptionUse{},
		Problems:              slices.Clone(t.Problems),
	}
	if rep.Accounts == nil {
		rep.Accounts = []AccountInfo{}
	}
	env := &Env{Tenant: t, Options: o}
	checks = slices.Clone(checks)
	slices.SortStableFunc(checks, func(a, b Check) int {
		ia, ib := a.Info(), b.Info()
		return cmp.Or(cmp.Compare(ia.Order, ib.Order), cmp.Compare(ia.ID, ib.ID))
	})
	order := map[string]int{}
	var ids []string
	for i, c := range checks {
		info := c.Info()
		order[info.ID] = i
		ids = append(ids, info.ID)
		rep.Results = append(rep.Results, runCheck(c, info, env)...)
	}
	rep.Results = append(rep.Results, unknownExceptions(o.Exceptions, ids)...)
	rep.Exceptions = applyExceptions(rep.Results, o.Exceptions, o.Now)
	sortResults(rep.Results, order, t.Accounts)
	rep.Summary = Summarize(rep.Results)
	return rep
}

// runCheck runs one check and holds it to the contract: known statuses,
// its own id, and a verdict for every account of a per-account check.
func runCheck(c Check, info Info, env *Env) (out []Result) {
	defer func() {
		if v := recover(); v != nil {
			// The stack goes to the report so the crash can be fixed;
			// the audit carries on with the other checks.
			out = []Result{info.Result(nil, StatusError,
				"check %s crashed: %v; its verdict is unknown, the other checks ran (please report this bug)", info.ID, v)}
			out[0].Evidence = []Evidence{{Object: "check " + info.ID, Field: "panic", Value: fmt.Sprint(v), Note: firstLines(string(debug.Stack()), 12)}}
		}
	}()
	res := c.Run(env)
	for i := range res {
		r := &res[i]
		if r.Check != info.ID {
			*r = withStatus(*r, info, StatusError, fmt.Sprintf("check %s gave a result for check %q; its verdict is unknown (bug)", info.ID, r.Check))
			continue
		}
		if !slices.Contains(Statuses, r.Status) || r.Status == StatusAccepted {
			*r = withStatus(*r, info, StatusError, fmt.Sprintf("check %s gave status %q; its verdict is unknown (bug): %s", info.ID, r.Status, r.Message))
			continue
		}
		if r.Title == "" {
			r.Title = info.Title
		}
		if r.Severity == "" {
			r.Severity = info.Severity
		}
		if r.Evidence == nil {
			r.Evidence = []Evidence{}
		}
	}
	if info.PerAccount {
		for i := range env.Tenant.Accounts {
			a := &env.Tenant.Accounts[i]
			if !slices.ContainsFunc(res, func(r Result) bool { return sameAccount(r, a) }) {
				res = append(res, info.Result(a, StatusError, "check %s gave no verdict for %s; it is unknown (bug)", info.ID, accountName(a)))
			}
		}
	}
	if len(res) == 0 {
		res = append(res, info.Result(nil, StatusError, "check %s gave no verdict; it is unknown (bug)", info.ID))
	}
	return res
}

func withStatus(r Result, info Info, st Status, msg string) Result {
	n := info.Result(nil, st, "%s", msg)
	n.AccountID, n.AccountUPN = r.AccountID, r.AccountUPN
	n.Evidence = r.Evidence
	if n.Evidence == nil {
		n.Evidence = []Evidence{}
	}
	return n
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func sameAccount(r Result, a *AccountInfo) bool {
	return r.AccountID == a.ID && r.AccountUPN == a.UPN
}

func accountName(a *AccountInfo) string {
	switch {
	case a.UPN != "":
		return a.UPN
	case a.ID != "":
		return a.ID
	}
	return a.Entry
}

// ValidateExceptions reports every exception that names no registered
// check, at where(i) (e.g. "breakglass.yaml:42"; nil: "exceptions[i]").
// The caller reports the error as configuration error.
func ValidateExceptions(ex []Exception, where func(i int) string) error {
	var errs []error
	ids := IDs()
	for i, e := range ex {
		if knownID(ids, e.Check) {
			continue
		}
		at := fmt.Sprintf("exceptions[%d]", i)
		if where != nil {
			at = where(i)
		}
		errs = append(errs, fmt.Errorf("%s: exception names unknown check %q; known checks: %s", at, e.Check, strings.Join(ids, ", ")))
	}
	return errors.Join(errs...)
}

// knownID matches check ids case-insensitively, as exceptions do.
func knownID(ids []string, id string) bool {
	return slices.ContainsFunc(ids, func(k string) bool { return strings.EqualFold(k, id) })
}

var exceptionsInfo = Info{
	ID:        CheckExceptions,
	Title:     "Configured exceptions",
	Severity:  SeverityHigh,
	Rationale: "An exception that names no check accepts nothing: the finding it was meant for is reported as it is, and the configuration needs fixing.",
}

func unknownExceptions(ex []Exception, ids []string) []Result {
	var out []Result
	for i, e := range ex {
		if knownID(ids, e.Check) {
			continue
		}
		at := e.Where
		if at == "" {
			at = fmt.Sprintf("exceptions[%d]", i)
		}
		r := exceptionsInfo.Result(nil, StatusError, "%s: exception names unknown check %q, so it accepts nothing; fix the check id (known: %s)", at, e.Check, strings.Join(ids, ", "))
		r.Evidence = []Evidence{{Object: "exception " + at, Field: "check", Value: e.Check, Source: "configuration"}}
		r.Remediation = Remediation{Summary: "Correct the check id of the exception, or remove the exception."}
		out = append(out, r)
	}
	return out
}

// applyExceptions accepts the fail, warn and error results that an
// unexpired exception matches and marks those only an expired one
// matches. The first matching exception in configuration order is used.
func applyExceptions(results []Result, ex []Exception, now time.Time) []ExceptionUse {
	uses := make([]ExceptionUse, len(ex))
	for i, e := range ex {
		uses[i] = ExceptionUse{Exception: e}
		uses[i].Expired = expired(e, now)
	}
	for ri := range results {
		r := &results[ri]
		if r.Check == CheckExceptions {
			continue
		}
		if r.Status != StatusFail && r.Status != StatusWarn && r.Status != StatusError {
			continue
		}
		first := -1
		for i, e := range ex {
			if !matches(e, *r) {
				continue
			}
			if !uses[i].Expired {
				first = i
				break
			}
			if first < 0 {
				first = i
			}
		}
		if first < 0 {
			continue
		}
		uses[first].Matched++
		e := uses[first].Exception
		applied := e
		if uses[first].Expired {
			applied.Expired = true
			r.Exception = &applied
			r.Message = fmt.Sprintf("%s (exception expired on %s: it was accepted by %s: %s)", r.Message, day(e.Expires), e.AcceptedBy, e.Reason)
			continue
		}
		r.Exception = &applied
		r.Message = fmt.Sprintf("accepted by %s until %s: %s. Finding (%s): %s", e.AcceptedBy, day(e.Expires), e.Reason, r.Status, r.Message)
		r.Status = StatusAccepted
	}
	return uses
}

// expired is true once the expiry has passed; an exception without an
// expiry accepts nothing (fail closed: config requires one).
func expired(e Exception, now time.Time) bool {
	return e.Expires.IsZero() || now.After(e.Expires)
}

func day(t time.Time) string {
	if t.IsZero() {
		return "(no date)"
	}
	return t.UTC().Format(time.DateOnly)
}

func matches(e Exception, r Result) bool {
	if !strings.EqualFold(e.Check, r.Check) {
		return false
	}
	if e.Account == "" {
		return true
	}
	acct := strings.TrimSpace(e.Account)
	return (r.AccountID != "" && strings.EqualFold(acct, r.AccountID)) ||
		(r.AccountUPN != "" && strings.EqualFold(acct, r.AccountUPN))
}

// sortResults orders by check, then account (tenant-wide first, then
// configuration order), then status and message, so two runs on the same
// data print the same report.
func sortResults(res []Result, order map[string]int, accounts []AccountInfo) {
	acct := func(r Result) int {
		if r.AccountID == "" && r.AccountUPN == "" {
			return -1
		}
		for i := range accounts {
			if sameAccount(r, &accounts[i]) {
				return i
			}
		}
		return len(accounts)
	}
	rank := func(id string) int {
		if i, ok := order[id]; ok {
			return i
		}
		return len(order) // exceptions and strays last
	}
	slices.SortStableFunc(res, func(a, b Result) int {
		return cmp.Or(
			cmp.Compare(rank(a.Check), rank(b.Check)),
			cmp.Compare(a.Check, b.Check),
			cmp.Compare(acct(a), acct(b)),
			cmp.Compare(a.AccountUPN, b.AccountUPN),
			cmp.Compare(a.AccountID, b.AccountID),
			cmp.Compare(slices.Index(Statuses, a.Status), slices.Index(Statuses, b.Status)),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
