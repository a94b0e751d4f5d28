package posture

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Check is one posture requirement. A check file registers itself in an
// init function; adding a check touches that file and its tests only.
type Check interface {
	Info() Info
	// Run judges the tenant. A per-account check returns one result per
	// break-glass account (resolved or not: an unresolved account gets
	// StatusError or StatusSkip, never pass). Run never panics on odd data:
	// what it cannot read is a skip or an error with the reason.
	Run(env *Env) []Result
}

// Info describes a check.
type Info struct {
	// ID is stable: exceptions, SARIF rule ids and bg.posture alerts use it.
	ID       string
	Title    string
	Severity Severity
	// Requirements are the R-numbers of the guidance it checks.
	Requirements []string
	// Rationale says why the requirement exists, for the report.
	Rationale string
	// PerAccount is true when the check reports per break-glass account.
	PerAccount bool
	// Order places the check in reports and listings (the order).
	Order int
}

// Result starts a result of this check for account a (nil: tenant-wide)
// with status st and the message.
func (i Info) Result(a *AccountInfo, st Status, format string, args ...any) Result {
	r := Result{
		Check:        i.ID,
		Title:        i.Title,
		Status:       st,
		Severity:     i.Severity,
		Message:      fmt.Sprintf(format, args...),
		Rationale:    i.Rationale,
		Requirements: slices.Clone(i.Requirements),
		Evidence:     []Evidence{},
	}
	if a != nil {
		r.AccountID, r.AccountUPN = a.ID, a.UPN
	}
	return r
}

// Env is what a check runs against.
type Env struct {
	Tenant  *Tenant
	Options Options
}

// Conditional Access modes (audit.conditional_access_mode).
const (
	CAModeExcludeAll        = "exclude-all"
	CAModePhishingResistant = "phishing-resistant"
	CAModeBoth              = "both"
)

// CAModes lists the modes; config validates against it.
var CAModes = []string{CAModeExcludeAll, CAModePhishingResistant, CAModeBoth}

// Options tune an audit run. Defaults are owned by internal/config; the
// zero values here are only what a test that sets nothing gets.
type Options struct {
	// ConditionalAccessMode is one of CAModes (empty: exclude-all).
	ConditionalAccessMode string
	// DrillInterval is how recent a break-glass sign-in must be (empty:
	// 90 days).
	DrillInterval time.Duration
	// Now is the audit time (zero: time.Now()).
	Now time.Time
	// MaxExclusionGroupMembers is how many members a group that excludes
	// the break-glass accounts from Conditional Access may have
	// (audit.max_exclusion_group_members; zero: the number of resolved
	// break-glass accounts, as the group should hold nothing else).
	MaxExclusionGroupMembers int
	// Exceptions accept findings on purpose.
	Exceptions []Exception
	// Drills are the passed break-glass drills the caller knows of (from
	// its store, when it has one; nil: none). last-sign-in accepts one
	// within DrillInterval as evidence (check_last_sign_in.go).
	Drills []PassedDrill
	// Source describes the audited data for the report.
	Source      string
	ToolVersion string
}

var (
	regMu    sync.RWMutex
	registry = map[string]Check{}
)

// Register adds a check; it panics on an empty or duplicate id, which is a
// programming error found by any test.
func Register(c Check) {
	id := c.Info().ID
	regMu.Lock()
	defer regMu.Unlock()
	if id == "" {
		panic("posture: check without an id")
	}
	if _, dup := registry[id]; dup {
		panic("posture: check " + id + " registered twice")
	}
	registry[id] = c
}

// Lookup returns the check with the id.
func Lookup(id string) (Check, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	c, ok := registry[id]
	return c, ok
}

// All returns every registered check in report order.
func All() []Check {
	regMu.RLock()
	out := make([]Check, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	regMu.RUnlock()
	slices.SortFunc(out, func(a, b Check) int {
		ia, ib := a.Info(), b.Info()
		return cmp.Or(cmp.Compare(ia.Order, ib.Order), cmp.Compare(ia.ID, ib.ID))
	})
	return out
}

// IDs returns the ids of every registered check, in report order.
func IDs() []string {
	var ids []string
	for _, c := range All() {
		ids = append(ids, c.Info().ID)
	}
	return ids
}
