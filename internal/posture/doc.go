// Package posture audits the configuration of a tenant's break-glass
// accounts against Microsoft's emergency-access guidance: every
// requirement is a Check, run against a Tenant decoded from a collect
// snapshot, giving one Result per check (and per account for per-account
// checks), each with its evidence and the fix an admin would apply.
//
// The audit is read-only and offline: it judges a snapshot, whether that
// was written by `breakglass collect` or collected in memory by a live
// audit, so the same data always gives the same verdicts.
//
// Fail closed: a check whose data is missing from the snapshot (refused,
// unlicensed, not collected) reports StatusSkip with the reason, and an
// account that did not resolve is StatusError. Nothing unknown is a pass.
package posture
