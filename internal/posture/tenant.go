package posture

import (
	"encoding/json"
	"time"

	"breakglass/internal/graph/collect"
)

// Tenant is a snapshot decoded for the checks. Maps are keyed by
// lower-case object id. A dataset that is not in the snapshot leaves its
// field empty: a check must ask Missing before reading emptiness as a
// fact ("no policies" and "policies unknown" are different verdicts).
type Tenant struct {
	Snapshot  *collect.Snapshot
	Info      TenantInfo
	Collected time.Time
	// Accounts are the configured break-glass entries as resolved, in
	// configuration order: one per resolved user (a group entry gives one
	// per member) and one, Resolved false, per entry that did not resolve.
	Accounts []AccountInfo
	// Users holds every user object in the snapshot: the break-glass users
	// with every selected field, and group members, role principals and
	// approvers with what their dataset selected.
	Users map[string]*User
	// Groups holds every group object: break-glass groups, groups from
	// member_of and the groups Conditional Access excludes.
	Groups map[string]*Group
	// GroupMembers maps a group to its transitive user members, for the
	// groups whose membership was collected (group_members.<id>).
	GroupMembers map[string][]string
	// MemberOf maps a user to the groups it belongs to, transitively
	// (member_of.<id>), for the users whose memberships were collected.
	MemberOf map[string][]string
	Domains  []Domain
	// Role datasets, Global Administrator and Privileged Role
	// Administrator only.
	RoleAssignments      []RoleAssignment // role_assignments: active, any licence
	AssignmentSchedules  []RoleSchedule   // role_assignment_schedules (PIM)
	AssignmentInstances  []RoleSchedule   // role_assignment_schedule_instances (PIM)
	EligibilitySchedules []RoleSchedule   // role_eligibility_schedules (PIM)
	EligibilityInstances []RoleSchedule   // role_eligibility_schedule_instances (PIM)
	// PrincipalRoles holds every active role assignment, of any role, of
	// the break-glass users and of the role-assignable groups they are in
	// (principal_role_assignments): what Conditional Access includeRoles
	// and excludeRoles are compared with.
	PrincipalRoles []RoleAssignment
	// AuthMethods maps a user to its authentication methods
	// (auth_methods.<id>); a user absent from the map was not collected.
	AuthMethods map[string][]AuthMethod
	// Registration maps a user to its userRegistrationDetails.
	Registration map[string]*RegistrationDetails
	// CertificateUserIDs maps a user to authorizationInfo.certificateUserIds
	// (beta), the evidence that certificate-based authentication can sign
	// it in.
	CertificateUserIDs map[string][]string
	// Raw datasets the checks decode themselves, as Graph sent them.
	ConditionalAccessPolicies []json.RawMessage
	AuthStrengthPolicies      []json.RawMessage
	RoleManagementPolicies    []json.RawMessage
	LifecycleWorkflows        []json.RawMessage
	AccessReviewDefinitions   []json.RawMessage
	// WorkflowScope maps a lifecycle workflow id to the user ids in its
	// execution scope (workflow_scope.<id>).
	WorkflowScope     map[string][]string
	AuthMethodsPolicy json.RawMessage // object, nil when absent
	SecurityDefaults  json.RawMessage // object, nil when absent
	NamedLocations    []json.RawMessage
	// ApproversNotFound holds the lower-case ids of PIM approvers that
	// role_approvers marks as no longer existing (items carrying
	// NotFoundMarker); they are not in Users.
	ApproversNotFound []string
	// Problems lists what FromSnapshot could not decode, each naming the
	// dataset, item index and field, e.g. "breakglass_users[0].accountEnabled:
	// want a boolean, got string \"yes\"". The objects concerned carry the
	// field in Invalid: a check that needs it treats it as unknown.
	Problems []string
}

// User is a Graph user, with the fields the checks read. Pointer fields
// are nil when Graph sent null or left the field out; Present says which.
type User struct {
	ID                         string
	UPN                        string
	DisplayName                string
	UserType                   string
	AccountEnabled             *bool
	OnPremisesSyncEnabled      *bool
	OnPremisesImmutableID      *string
	PasswordPolicies           *string
	LastPasswordChangeDateTime *time.Time
	CreatedDateTime            *time.Time
	Mail                       *string
	OtherMails                 []string
	MobilePhone                *string
	BusinessPhones             []string
	AssignedLicenses           []json.RawMessage
	SignInActivity             *SignInActivity
	// Present records which JSON fields the object carried, so a check can
	// tell "null" from "not selected".
	Present map[string]bool
	// Source is the dataset the object came from.
	Source string
	Raw    json.RawMessage
	// Invalid maps a field Graph sent with the wrong type to the problem;
	// its typed field above is left nil, which must read as unknown, not
	// as absent. Nested fields are named with a dot
	// (signInActivity.lastSuccessfulSignInDateTime).
	Invalid map[string]string
}

// SignInActivity is user.signInActivity.
type SignInActivity struct {
	LastSignInDateTime               *time.Time
	LastNonInteractiveSignInDateTime *time.Time
	LastSuccessfulSignInDateTime     *time.Time
}

// Group is a Graph group, with the fields the checks read.
type Group struct {
	ID                     string
	DisplayName            string
	IsAssignableToRole     *bool
	IsManagementRestricted *bool // beta; nil when not collected
	SecurityEnabled        *bool
	MembershipRule         *string
	GroupTypes             []string
	OnPremisesSyncEnabled  *bool
	Present                map[string]bool
	Source                 string
	Raw                    json.RawMessage
	Invalid                map[string]string // as User.Invalid
}

// Domain is a Graph domain.
type Domain struct {
	ID                 string
	AuthenticationType string // Managed or Federated
	IsInitial          bool
	IsDefault          bool
	IsVerified         bool
	Raw                json.RawMessage
}

// RoleAssignment is a unifiedRoleAssignment (role_assignments,
// principal_role_assignments).
type RoleAssignment struct {
	ID               string
	RoleDefinitionID string
	PrincipalID      string
	// PrincipalType is the expanded principal's @odata.type without the
	// "#microsoft.graph." prefix: user, group or servicePrincipal; empty
	// when not expanded.
	PrincipalType    string
	DirectoryScopeID string
	Raw              json.RawMessage
}

// RoleSchedule is a PIM schedule or schedule instance (assignment or
// eligibility).
type RoleSchedule struct {
	ID               string
	RoleDefinitionID string
	PrincipalID      string
	PrincipalType    string // as in RoleAssignment
	DirectoryScopeID string
	AssignmentType   string // Assigned or Activated (assignments only)
	MemberType       string // Direct, Group or Inherited
	Status           string
	StartDateTime    *time.Time // instances, and scheduleInfo.startDateTime of schedules
	EndDateTime      *time.Time // instances; scheduleInfo.expiration.endDateTime of schedules
	// ExpirationType is scheduleInfo.expiration.type of a schedule:
	// noExpiration, afterDateTime, afterDuration or notSpecified; empty for
	// instances (whose EndDateTime nil means permanent).
	ExpirationType string
	Raw            json.RawMessage
	// Invalid is true when a field had the wrong type: the schedule's
	// timing is unknown.
	Invalid bool
}

// AuthMethod is one authentication method of a user.
type AuthMethod struct {
	// Type is @odata.type without the "#microsoft.graph." prefix, e.g.
	// fido2AuthenticationMethod.
	Type        string
	ID          string
	DisplayName string
	AAGUID      string // FIDO2 only
	Model       string // FIDO2 only
	PhoneNumber string // phone only
	PhoneType   string // phone only
	Email       string // email only
	// TAP: temporaryAccessPassAuthenticationMethod.
	IsUsable          *bool
	StartDateTime     *time.Time
	LifetimeInMinutes int
	Raw               json.RawMessage
	// Invalid is true when the item was not an object, had no
	// @odata.type or had a wrong-typed field: an unknown method.
	Invalid bool
}

// RegistrationDetails is a userRegistrationDetails entry.
type RegistrationDetails struct {
	ID                                            string
	UPN                                           string
	IsAdmin                                       *bool
	IsMfaRegistered                               *bool
	IsPasswordlessCapable                         *bool
	IsSsprRegistered                              *bool
	IsSsprEnabled                                 *bool
	MethodsRegistered                             []string
	SystemPreferredAuthenticationMethods          []string
	UserPreferredMethodForSecondaryAuthentication string
	Raw                                           json.RawMessage
	Invalid                                       map[string]string // as User.Invalid
}
