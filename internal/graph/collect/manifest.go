package collect

import (
	"time"

	"breakglass/internal/graph"
)

// ManifestFile is the name of the manifest inside a snapshot directory. It
// is written last, so a directory without it holds no complete snapshot.
const ManifestFile = "manifest.json"

// FormatVersion is the snapshot layout version; Load refuses others, so an
// old binary never misreads a newer snapshot.
const FormatVersion = 1

// Dataset names. Keyed datasets are written as <name>.<key>, one per group
// or user; see KeyedName.
const (
	DatasetOrganization              = "organization"
	DatasetBreakGlassUsers           = "breakglass_users"
	DatasetBreakGlassGroups          = "breakglass_groups"
	DatasetGroupMembers              = "group_members" // keyed by group id
	DatasetRoleAssignments           = "role_assignments"
	DatasetRoleAssignmentSchedules   = "role_assignment_schedules"
	DatasetRoleAssignmentInstances   = "role_assignment_schedule_instances"
	DatasetRoleEligibilitySchedules  = "role_eligibility_schedules"
	DatasetRoleEligibilityInstances  = "role_eligibility_schedule_instances"
	DatasetRoleManagementPolicies    = "role_management_policies"
	DatasetAuthMethods               = "auth_methods" // keyed by user id
	DatasetUserRegistrationDetails   = "user_registration_details"
	DatasetUserAuthorizationInfo     = "user_authorization_info"
	DatasetConditionalAccessPolicies = "conditional_access_policies"
	DatasetNamedLocations            = "named_locations"
	DatasetAuthStrengthPolicies      = "authentication_strength_policies"
	DatasetAuthMethodsPolicy         = "authentication_methods_policy"
	DatasetSecurityDefaults          = "security_defaults"
	DatasetDomains                   = "domains"
	DatasetLifecycleWorkflows        = "lifecycle_workflows"
	DatasetAccessReviewDefinitions   = "access_review_definitions"
	// Derived from the datasets above; see doc.go.
	DatasetMemberOf                 = "member_of" // keyed by user id
	DatasetPrincipalRoleAssignments = "principal_role_assignments"
	DatasetCAGroups                 = "ca_groups"
	DatasetWorkflowScope            = "workflow_scope" // keyed by workflow id
	DatasetRoleApprovers            = "role_approvers"
)

// NotFoundMarker is the field, true, of the item role_approvers holds for
// an approver Graph answered 404 for: {"id":…,"@breakglass.notFound":true}.
// The PIM rule names a user who no longer exists, which is a fact the
// pim-lockout check reads, not a failure. An approver neither among the
// items nor marked was not collected, and is unknown.
const NotFoundMarker = "@breakglass.notFound"

// Role template ids of the two roles that can take over, or lock out, a
// tenant.
const (
	RoleGlobalAdministrator         = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdministrator = "e8611ab8-c189-46e8-94e1-60213ab1f814"
)

// Failure reasons.
const (
	ReasonPermission = "permission"
	ReasonLicence    = "licence"
	ReasonNotFound   = "not_found"
	ReasonError      = "error"
)

// Roles are the role template ids whose holders are collected.
var Roles = []string{RoleGlobalAdministrator, RolePrivilegedRoleAdministrator}

// KeyedName is the dataset name of one member of a keyed family, e.g.
// KeyedName(DatasetAuthMethods, userID).
func KeyedName(family, key string) string { return family + "." + key }

// Manifest describes a snapshot: what was collected, from where, and what
// could not be.
type Manifest struct {
	Format      int       `json:"format"`
	TenantID    string    `json:"tenant_id,omitempty"`
	Collected   time.Time `json:"collected"`
	ToolVersion string    `json:"tool_version,omitempty"`
	// Roles lists the role template ids the role datasets were filtered to.
	Roles []string `json:"roles"`
	// Accounts says which configured entry each break-glass user came
	// from, so the audit can report per configured entry.
	Accounts []Resolved `json:"accounts"`
	// Privileged is the set of user ids that per-user datasets were
	// collected for: break-glass users first, then role holders.
	Privileged []string     `json:"privileged"`
	Datasets   []Dataset    `json:"datasets"`
	Failed     []Failure    `json:"failed"`
	Unresolved []Unresolved `json:"unresolved"`
}

// Dataset is one file of the snapshot.
type Dataset struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Endpoint is the request, with {placeholders} where a dataset takes
	// one call per role, user or group.
	Endpoint string        `json:"endpoint"`
	Version  graph.Version `json:"version"`
	// Count is the number of items, or 1 for a single object.
	Count int `json:"count"`
	// Object is true when the file holds one object rather than
	// {"value":[...]}.
	Object bool `json:"object,omitempty"`
}

// Failure is a dataset, or part of one, that Graph refused or could not
// serve.
type Failure struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	Status   int    `json:"status,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
	Hint     string `json:"hint,omitempty"`
	// Reason is "permission", "licence", "not_found" or "error".
	Reason string `json:"reason"`
	// Field names the property left out when the dataset was written
	// without it (e.g. signInActivity).
	Field string `json:"field,omitempty"`
	// Partial means the dataset was written but lacks what this failure
	// kept out; otherwise the dataset is absent.
	Partial bool `json:"partial,omitempty"`
	// From names the input dataset whose failure this one carries over:
	// a derived dataset (ca_groups, principal_role_assignments, …) that
	// could not be collected, or only in part, because its input is
	// unavailable. Status, Code, Hint and Reason are the input's.
	From string `json:"from,omitempty"`
}

// Unresolved is a configured break-glass entry that did not resolve to a
// user.
type Unresolved struct {
	Entry  string `json:"entry"` // e.g. "accounts[1] upn x@y"
	Reason string `json:"reason"`
}

// Resolved ties a break-glass user to the configured entry it came from.
type Resolved struct {
	Entry string `json:"entry"`
	ID    string `json:"id"`
	UPN   string `json:"upn,omitempty"`
}
