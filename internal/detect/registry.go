package detect

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"breakglass/internal/alert"
)

// Meta describes a rule: the one place its id, severity and wording live,
// so that the daemon, notifications and documentation find every rule,
// whether it judges records (the built-ins, later KQL rules) or something
// else (silence, source errors, posture drift, undeliverable notices).
type Meta struct {
	ID          string
	Severity    alert.Severity
	Title       string
	Description string
}

var registry struct {
	sync.RWMutex
	m map[string]Meta
}

// Register adds a rule's metadata. Rule ids are stable and unique: a second
// registration of the same id with different metadata is a programming
// error and panics; registering identical metadata again is a no-op.
func Register(m Meta) {
	if m.ID == "" || m.Title == "" || strings.TrimSpace(m.ID) != m.ID {
		panic(fmt.Sprintf("detect: invalid rule meta %+v", m))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = map[string]Meta{}
	}
	if old, ok := registry.m[m.ID]; ok {
		if old != m {
			panic("detect: rule " + m.ID + " registered twice with different metadata")
		}
		return
	}
	registry.m[m.ID] = m
}

// Lookup returns a registered rule's metadata.
func Lookup(id string) (Meta, bool) {
	registry.RLock()
	defer registry.RUnlock()
	m, ok := registry.m[id]
	return m, ok
}

// MustLookup is Lookup for rules the caller's own package registers.
func MustLookup(id string) Meta {
	m, ok := Lookup(id)
	if !ok {
		panic("detect: unknown rule " + id)
	}
	return m
}

// All returns every registered rule, sorted by id.
func All() []Meta {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]Meta, 0, len(registry.m))
	for _, m := range registry.m {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Meta) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Rule ids raised by something other than a record rule. They are
// registered here so that every package finds them in one place.
const (
	RuleUnparsed = "bg.unparsed"
	RuleSilence  = "bg.silence"
	RuleSource   = "bg.source"
	RuleNotify   = "bg.notify"
	RulePosture  = "bg.posture"
	RuleMisuse   = "bg.misuse"
	// Drill schedule (internal/drill/schedule).
	RuleDrillDue     = "bg.drill_due"
	RuleDrillOverdue = "bg.drill_overdue"
	// RuleDrillFailed: a drill's window and grace passed with no sign-in
	// (internal/drill, Expire).
	RuleDrillFailed = "bg.drill_failed"
	// RuleCanary is the daily synthetic sign-in of the canary identity
	// (internal/canary): a test of the pipeline, never a break-glass
	// alert, and RuleCanaryFailed says that test did not get through.
	RuleCanary       = "bg.canary"
	RuleCanaryFailed = "bg.canary_failed"
)

func init() {
	for _, m := range []Meta{
		{RuleSignIn, alert.Sev0, "Break-glass account sign-in",
			"Any sign-in by a break-glass account: success or failure, interactive or not."},
		{RuleActivity, alert.Sev0, "Activity by a break-glass account",
			"Any audit event initiated by a break-glass account."},
		{RuleChange, alert.Sev1, "Change to a break-glass account",
			"Any audit event whose target is a break-glass account; change_type classifies it."},
		{RuleUnparsed, alert.Sev1, "Unreadable record mentions a break-glass account",
			"A record that could not be read (invalid JSON, too large, truncated, an unreadable identity field, " +
				"an undecoded category or shape) contains a break-glass account's id or UPN. The raw record is the evidence."},
		{RuleSilence, alert.Sev1, "Log source is silent",
			"A source has not delivered data for longer than its max_silence."},
		{RuleSource, alert.Sev1, "A log source keeps failing",
			"A source (for example a Graph query) keeps failing; it resolves when the source recovers."},
		{RuleNotify, alert.Sev1, "A notification could not be delivered",
			"A delivery was dead-lettered: its target no longer exists or it failed past the give-up time."},
		{RulePosture, alert.Sev1, "Break-glass posture drift",
			"The tenant's configuration of a break-glass account drifted from what the posture audit expects."},
		{RuleMisuse, alert.Sev0, "Break-glass account misused",
			"A reviewer classified an incident (a use of a break-glass account) as misuse: the use was not authorised."},
		{RuleDrillDue, alert.Sev3, "Break-glass drill due soon",
			"A break-glass account's drill falls due within drill.remind_before: drill.interval after its last passed drill, " +
				"or earlier after a key change in the audit logs (a Global or Privileged Role Administrator added or removed, licences or subscriptions changed). Sent once per due date."},
		{RuleDrillOverdue, alert.Sev2, "Break-glass drill overdue",
			"A break-glass account is past its drill due date, or was never drilled: nothing proves it still works. Resolves when a drill of the account passes."},
		{RuleDrillFailed, alert.Sev2, "Break-glass drill failed: its sign-in was not detected",
			"A drill's window, and drill.alert_within after it for Entra's log delay, passed with no sign-in of the drill's account seen: " +
				"the logs are not arriving or the account list is wrong, so a real emergency sign-in would go unseen too. serve finishes the drill as failed (not detected)."},
		{RuleCanary, alert.Sev4, "CANARY TEST, not a break-glass sign-in",
			"The daily synthetic sign-in of the canary identity (canary:) was detected and is delivered to the canary's test group only: " +
				"proof that ingest, detection and delivery work. No action needed."},
		{RuleCanaryFailed, alert.Sev1, "Break-glass monitoring may be broken: the daily canary did not get through",
			"The synthetic canary sign-in was not detected, or not delivered to every channel of the canary's test group, within canary.timeout. " +
				"Real break-glass alerts may be failing the same way; resolved by the next successful canary."},
	} {
		Register(m)
	}
}
