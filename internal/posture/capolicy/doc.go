// Package capolicy models Microsoft Entra Conditional Access policies as
// Microsoft Graph returns them (v1.0 and beta) and answers the question
// every break-glass check depends on: does this policy apply to this
// account?
//
// The answer follows Conditional Access itself: a policy applies to a user
// who is included by any of its user dimensions (includeUsers "All" or the
// id, includeGroups through transitive membership, includeRoles through an
// active directory role, includeGuestsOrExternalUsers by guest type and
// home tenant) and excluded by none of the matching exclude dimensions.
// Exclusion always wins over inclusion. Policies that cannot target the
// account at all (workload and agent identity policies, includeUsers
// "None", guest-only policies for a member) are reported as not targetable,
// with the reason, so a check can list them instead of judging them.
//
// Fail closed: when the verdict depends on something the caller did not
// collect (the account's groups, its roles, its user type or home tenant)
// the result is Unknown, never "excluded" and never "not included".
// Evaluate does not judge a policy's state: Policy.Enabled, ReportOnly and
// Disabled are for the caller.
package capolicy
