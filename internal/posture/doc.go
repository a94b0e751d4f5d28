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
//
// The flow: FromSnapshot decodes a collect.Snapshot into a Tenant,
// leniently (what it cannot decode is in Tenant.Problems and the objects'
// Invalid maps, never silently dropped); Run runs every registered check,
// holds each to the contract (a panic or a missing verdict is an error
// result), applies the configured exceptions and sorts and counts the
// results into a Report. ValidateExceptions lets the configuration reject
// an exception naming no check before the audit runs.
//
// Fixtures: testdata/snapshots/compliant is a Graph-shaped tenant that
// every check passes; fixture_test.go builds each failure as a mutation
// of it (loadFixture).
package posture
