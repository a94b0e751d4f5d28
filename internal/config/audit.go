package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/entra"
)

// Posture audit defaults (audit:).
const (
	// DefaultAuditInterval is how often serve runs the posture audit.
	DefaultAuditInterval = 6 * time.Hour
	// MinAuditInterval bounds audit.interval from below: every run reads the
	// whole tenant's policies, roles and methods through Graph, and running
	// it more often than this mostly earns throttling.
	MinAuditInterval = 5 * time.Minute
	// DefaultDrillInterval is how recent each account's last successful
	// sign-in must be (the last-sign-in check): Microsoft asks for the
	// accounts to be validated at least every 90 days.
	DefaultDrillInterval = 90 * 24 * time.Hour
	// MinDrillInterval bounds audit.drill_interval from below; a shorter
	// one is a typo (90s for 90d), not a drill schedule.
	MinDrillInterval = 24 * time.Hour
	// DefaultMaxExclusionGroupMembers is how many members a group that
	// excludes the break-glass accounts from Conditional Access may have.
	// Every member of such a group is exempt from every policy that
	// excludes it, so it should hold the two to four break-glass accounts
	// and little else; 10 leaves room for a rotation in progress and stays
	// well below the 20 members at which Maester stops treating a group as
	// an emergency-access group.
	DefaultMaxExclusionGroupMembers = 10
)

// Conditional Access modes (audit.conditional_access_mode). Microsoft's
// guidance changed: its earlier text (and CIS) say to exclude at least one
// break-glass account from every policy; its current text says to require
// phishing-resistant MFA for them instead. config owns this list; a test
// in this package asserts that posture.CAModes is the same.
const (
	CAModeExcludeAll        = "exclude-all"
	CAModePhishingResistant = "phishing-resistant"
	CAModeBoth              = "both"
)

// CAModes lists the accepted audit.conditional_access_mode values; the
// first is the default.
var CAModes = []string{CAModeExcludeAll, CAModePhishingResistant, CAModeBoth}

// AuditConfig tunes the posture audit (breakglass audit, and the scheduled
// audit in serve).
type AuditConfig struct {
	// Interval is how often serve audits the tenant (default 6h, at least 5m).
	Interval time.Duration `yaml:"interval"`
	// ConditionalAccessMode is one of CAModes (default exclude-all).
	ConditionalAccessMode string `yaml:"conditional_access_mode"`
	// DrillInterval is how recent each account's last successful sign-in
	// must be (default 90d, at least 1d).
	DrillInterval time.Duration `yaml:"drill_interval"`
	// MaxExclusionGroupMembers bounds the members of a group that excludes
	// the accounts from Conditional Access (default 10).
	MaxExclusionGroupMembers int `yaml:"max_exclusion_group_members"`
}

// Exception is one entry of exceptions:, a finding accepted on purpose
// until it expires.
type Exception struct {
	// Check is the posture check id. Whether it exists is for the caller to
	// say (CheckExceptionIDs): config does not know the checks.
	Check string `yaml:"check"`
	// Account is an object id or UPN; empty means every account. It is one
	// of accounts[], or, when groups are listed, possibly a member of one.
	Account    string `yaml:"account,omitempty"`
	Reason     string `yaml:"reason"`
	AcceptedBy string `yaml:"accepted_by"`
	// Expires is the expiry as written: YYYY-MM-DD or RFC 3339.
	Expires string `yaml:"expires"`
	// ExpiresAt is the instant the exception stops applying: the end of the
	// day (UTC) for a date, the exact time for a timestamp. It applies
	// while the audit time is not after ExpiresAt.
	ExpiresAt time.Time `yaml:"-"`
	// Line is where the entry starts in the file, for "file:line" in
	// reports (see Config.Where).
	Line int `yaml:"-"`
}

// Where names a line of the configuration file as "file:line", the way
// every config error does; reports cite exceptions with it.
func (c *Config) Where(line int) string {
	if line <= 0 {
		return c.Path
	}
	return c.Path + ":" + strconv.Itoa(line)
}

// CheckExceptionIDs reports every exception whose check is not in ids (the
// posture checks' ids), as an ErrorList positioned like any config error.
// The posture package owns the ids; config cannot import it.
func (c *Config) CheckExceptionIDs(ids []string) error {
	var errs ErrorList
	for i, e := range c.Exceptions {
		if slices.Contains(ids, e.Check) {
			continue
		}
		known := slices.Clone(ids)
		slices.Sort(known)
		errs = append(errs, &Error{File: c.Path, Line: e.Line, Field: "exceptions[" + strconv.Itoa(i) + "].check",
			Msg: fmt.Sprintf("unknown check %q (known: %s)", e.Check, strings.Join(known, ", "))})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (c *Config) validateAudit(d *decoder) {
	a := &c.Audit
	a.ConditionalAccessMode = d.oneOf("audit.conditional_access_mode", a.ConditionalAccessMode, CAModes)
	// An explicit zero is rejected rather than defaulted: "0" reads as
	// "never", which the audit does not offer.
	atLeast := func(field string, v, minimum time.Duration, why string) {
		if _, set := d.lines[field]; set && !d.failed[field] && v < minimum {
			d.errorf(d.lines[field], field, "must be at least %s; %s", fmtDuration(minimum), why)
		}
	}
	atLeast("audit.interval", a.Interval, MinAuditInterval, "each run reads the whole tenant through Graph")
	atLeast("audit.drill_interval", a.DrillInterval, MinDrillInterval, "write days as 90d")
	const f = "audit.max_exclusion_group_members"
	if _, set := d.lines[f]; set && !d.failed[f] && a.MaxExclusionGroupMembers < 1 {
		d.errorf(d.lines[f], f, "must be at least 1 (the group holds the break-glass accounts)")
	}
}

func (c *Config) applyAuditDefaults() {
	a := &c.Audit
	if a.Interval == 0 {
		a.Interval = DefaultAuditInterval
	}
	if a.ConditionalAccessMode == "" {
		a.ConditionalAccessMode = CAModes[0]
	}
	if a.DrillInterval == 0 {
		a.DrillInterval = DefaultDrillInterval
	}
	if a.MaxExclusionGroupMembers == 0 {
		a.MaxExclusionGroupMembers = DefaultMaxExclusionGroupMembers
	}
}

// fmtDuration writes whole days as "Nd", the way the file may.
func fmtDuration(v time.Duration) string {
	const day = 24 * time.Hour
	if v >= day && v%day == 0 {
		return strconv.FormatInt(int64(v/day), 10) + "d"
	}
	s := v.String() // e.g. 1h30m0s, 5m0s
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

func (c *Config) validateExceptions(d *decoder) {
	// What an exception's account may name: a configured user's id or UPN,
	// or, when groups are listed, any user, since their members are known
	// only to Graph.
	// users maps each configured id and UPN to its entry, so that an
	// exception by id and one by UPN of the same account are seen as one.
	users := map[string]string{}
	groups := map[string]bool{}
	for _, a := range c.accountEntries() { // tenants.go: every tenant's too
		switch {
		case a.IsGroup():
			groups[strings.ToLower(a.Group)] = true
		default:
			entry := a.field
			if a.ID != "" {
				users[strings.ToLower(a.ID)] = entry
			}
			if a.UPN != "" {
				users[strings.ToLower(a.UPN)] = entry
			}
		}
	}
	first := map[string]int{}
	for i := range c.Exceptions {
		e := &c.Exceptions[i]
		f := "exceptions[" + strconv.Itoa(i) + "]"
		e.Line = d.lines[f]
		if d.failed[f] {
			continue
		}
		e.Check, e.Account = strings.TrimSpace(e.Check), strings.TrimSpace(e.Account)
		e.Reason, e.AcceptedBy, e.Expires = strings.TrimSpace(e.Reason), strings.TrimSpace(e.AcceptedBy), strings.TrimSpace(e.Expires)
		required := func(key, v, hint string) bool {
			if v == "" && !d.failed[f+"."+key] {
				line := d.lines[f+"."+key]
				if line == 0 {
					line = e.Line
				}
				d.errorf(line, f+"."+key, "required: %s", hint)
			}
			return v != ""
		}
		checkOK := required("check", e.Check, "the id of the posture check whose finding is accepted")
		required("reason", e.Reason, "why the finding is accepted, for whoever reads the report")
		required("accepted_by", e.AcceptedBy, "who accepted it (a name or a ticket)")
		if required("expires", e.Expires, "YYYY-MM-DD (end of that day UTC) or an RFC 3339 time; keep it within a year") {
			t, err := parseExpiry(e.Expires)
			if err != nil {
				d.errorf(d.lines[f+".expires"], f+".expires", "%v", err)
			}
			e.ExpiresAt = t
		}
		fa := f + ".account"
		accountOK := true
		if e.Account != "" && !d.failed[fa] {
			key := strings.ToLower(e.Account)
			switch {
			case !entra.IsGUID(e.Account) && !IsUPN(e.Account):
				d.errorf(d.lines[fa], fa, "not an object id or a user principal name")
				accountOK = false
			case groups[key]:
				d.errorf(d.lines[fa], fa, "names a group entry of accounts:; an exception names one user (a member's id or UPN), or leave account: out for every account")
				accountOK = false
			case users[key] == "" && len(groups) == 0:
				d.errorf(d.lines[fa], fa, "not the id or UPN of an entry of accounts:")
				accountOK = false
			}
		}
		if checkOK && accountOK {
			who := strings.ToLower(e.Account)
			if entry := users[who]; entry != "" {
				who = entry
			}
			key := e.Check + "\x00" + who
			if j, dup := first[key]; dup {
				d.errorf(e.Line, f, "same check and account as exceptions[%d] (line %d); keep one", j, c.Exceptions[j].Line)
			} else {
				first[key] = i
			}
		}
	}
}

// parseExpiry reads an exception's expiry. A date is valid through the end
// of that day UTC, so "expires: 2026-03-31" still holds on the 31st.
func parseExpiry(s string) (time.Time, error) {
	day, err := time.Parse(time.DateOnly, s)
	if err == nil {
		return day.Add(24*time.Hour - time.Nanosecond), nil
	}
	// The right shape but no such day (2026-02-30): say that, not the shape.
	if expiryDateRE.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not a calendar date (%s)", s, rangeReason(err))
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if expiryTimeRE.MatchString(s) {
			return time.Time{}, fmt.Errorf("%q is not a valid time (%s)", s, rangeReason(err))
		}
		return time.Time{}, fmt.Errorf("expected YYYY-MM-DD or an RFC 3339 time such as 2026-03-31T18:00:00Z")
	}
	return t, nil
}

var (
	expiryDateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	expiryTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)
)

// rangeReason is the part of a time.Parse error after the input, e.g.
// "day out of range".
func rangeReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
