// Package collect takes a snapshot of everything the offline posture audit
// needs to judge a tenant's break-glass accounts. Collecting once and
// auditing offline keeps the audit repeatable, lets two snapshots be
// compared, and gives an auditor the exact evidence a verdict was based on
// without granting them Graph access.
//
// A snapshot is a directory holding manifest.json and one file per
// dataset, <name>.json. A dataset file holds Graph's JSON as received:
// {"value":[...]} with the items of every page (and of every call, for a
// dataset that takes several) concatenated, or the object itself for a
// single-object endpoint. Items are never decoded and re-encoded, so the
// audit sees every field Graph sent, including fields this version does not
// know about. Load reads a snapshot back; it trusts only the files the
// manifest lists.
//
// Datasets (Graph v1.0 unless marked beta):
//
//	organization                         GET /organization
//	breakglass_users                     GET /users/{id|upn}?$select=… for every configured account and every
//	                                     user member of a configured break-glass group (one call each)
//	breakglass_groups                    GET /groups/{id}?$select=… for every configured break-glass group
//	group_members.<groupId>              GET /groups/{id}/transitiveMembers/microsoft.graph.user, for the
//	                                     break-glass groups and for every group that holds one of the roles
//	role_assignments                     GET /roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '…'&$expand=principal
//	role_assignment_schedules            GET /roleManagement/directory/roleAssignmentSchedules (same filter, PIM)
//	role_assignment_schedule_instances   GET /roleManagement/directory/roleAssignmentScheduleInstances (PIM)
//	role_eligibility_schedules           GET /roleManagement/directory/roleEligibilitySchedules (PIM)
//	role_eligibility_schedule_instances  GET /roleManagement/directory/roleEligibilityScheduleInstances (PIM)
//	role_management_policies             GET /policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and
//	                                     scopeType eq 'DirectoryRole' and roleDefinitionId eq '…'&$expand=policy($expand=rules)
//	auth_methods.<userId>                GET /users/{id}/authentication/methods, per privileged user
//	user_registration_details            GET /reports/authenticationMethods/userRegistrationDetails, filtered to
//	                                     the privileged users by id
//	user_authorization_info              GET beta /users/{id}?$select=id,userPrincipalName,authorizationInfo,
//	                                     per privileged user (certificateUserIds, evidence of CBA)
//	conditional_access_policies          GET /identity/conditionalAccess/policies
//	named_locations                      GET /identity/conditionalAccess/namedLocations
//	authentication_strength_policies     GET /policies/authenticationStrengthPolicies
//	authentication_methods_policy        GET /policies/authenticationMethodsPolicy (object)
//	security_defaults                    GET /policies/identitySecurityDefaultsEnforcementPolicy (object)
//	domains                              GET /domains
//	lifecycle_workflows                  GET /identityGovernance/lifecycleWorkflows/workflows
//	access_review_definitions            GET /identityGovernance/accessReviews/definitions
//
// Derived datasets, computed from the ones above (related.go):
//
//	member_of.<userId>                   GET /users/{id}/transitiveMemberOf/microsoft.graph.group?$select=…,
//	                                     per privileged user: the groups, nested included, it belongs to
//	principal_role_assignments           GET /roleManagement/directory/roleAssignments?$filter=principalId eq '{id}'
//	                                     &$expand=principal, for each break-glass user and each role-assignable
//	                                     group in its member_of: every role, what Conditional Access
//	                                     includeRoles/excludeRoles are compared with
//	ca_groups                            GET beta /groups/{id}?$select=…,isManagementRestricted,… for every group a
//	                                     Conditional Access policy excludes (conditions.users.excludeGroups)
//	                                     that holds a break-glass user; group_members.<id> for each
//	workflow_scope.<workflowId>          GET /identityGovernance/lifecycleWorkflows/workflows/{id}/executionScope,
//	                                     for each workflow whose trigger is a userInactivityTrigger or cannot be
//	                                     read (no executionConditions, an unknown trigger); not for the
//	                                     joiner/mover/leaver triggers
//	role_approvers                       GET /users/{id}?$select=id,userPrincipalName,displayName,accountEnabled for
//	                                     every singleUser approver (primary or escalation) of an approval rule in
//	                                     role_management_policies; group_members.<id> for every groupMembers one
//
// An approver Graph answers 404 for is a fact the pim-lockout check reads,
// not a failure: role_approvers holds {"id":…,"@breakglass.notFound":true}
// (NotFoundMarker) in its place, the one item not as Graph sent it. An
// approver neither among the items nor marked was not collected: unknown.
//
// The role datasets cover Global Administrator and Privileged Role
// Administrator, one call per role, concatenated in that order. The
// privileged set is the resolved break-glass users plus every user holding
// one of those roles in any of the role datasets, directly or through a
// group (transitively). Only that set costs per-user calls: a tenant's size
// does not change the number of requests, which is what keeps collection
// usable on a tenant with 100,000 users.
//
// Graph answering with an error (401, 403, 404, a missing licence, or
// anything else after the client's retries) never stops collection: the
// dataset is listed in Manifest.Failed with the reason and the client's
// hint, and the audit reports it as unknown rather than as passing. A
// Failure marked partial means the dataset was written but lacks what the
// failure kept out, such as signInActivity on a tenant without Entra ID P1:
// the audit must not read a missing field as "never signed in". A
// permission or licence refusal of a per-user family (auth_methods) is
// recorded once under the family name and covers every member file that
// is missing; Snapshot.Failure looks both up. Errors
// that are not Graph's answer (network, cancellation, disk) abort the run
// and no manifest is written.
//
// A derived dataset whose input is unavailable is not written, or written
// in part, and gets a Failure with From naming the input and the input's
// reason and hint: ca_groups without conditional_access_policies,
// role_approvers without role_management_policies, workflow_scope (the
// family) without lifecycle_workflows, and ca_groups and
// principal_role_assignments (partial) when a break-glass user's member_of
// is missing. A Conditional Access policy, workflow or PIM rule that does
// not decode costs nothing here: the audit decodes the same items and
// reports them.
//
// A configured break-glass account or group that cannot be resolved is
// never dropped silently: it goes to Manifest.Unresolved, as does an account
// whose configured id and UPN name different users.
package collect
