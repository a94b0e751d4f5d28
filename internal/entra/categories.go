package entra

// The categories beyond sign-ins and directory audits. Each names a user in
// its own way, and a record of any of them that names a break-glass account
// is activity by, or an attack on, that account.
const (
	// CategoryGraphActivity is every Microsoft Graph API call, with the
	// caller's object id: a call made with a break-glass account's token is
	// use of the account.
	CategoryGraphActivity = "MicrosoftGraphActivityLogs"
	// CategoryUserRiskEvents are Identity Protection risk detections.
	CategoryUserRiskEvents = "UserRiskEvents"
	// CategoryRiskyUsers is Identity Protection's per-user risk state.
	CategoryRiskyUsers = "RiskyUsers"
	// CategoryProvisioning is the provisioning service's actions on users.
	CategoryProvisioning = "ProvisioningLogs"
	// CategoryADFSSignIn are sign-ins through AD FS (Connect Health).
	// Break-glass accounts must be cloud-only, so one here is doubly
	// suspicious.
	CategoryADFSSignIn = "ADFSSignInLogs"
	// CategoryLegacyAudit is the audit category of 2018-era diagnostic
	// exports, which carry the initiator in "identity" and the target in
	// "targetResourceName". Its events are normalised to CategoryAudit.
	CategoryLegacyAudit = "Audit"
)

// Kinds of the categories above. Their values are fixed (not iota after
// KindAudit) so that adding a core kind never renumbers them.
const (
	KindGraphActivity Kind = 16 + iota // a Graph API call
	KindRisk                           // a risk detection or a risky-user state
	KindProvisioning                   // a provisioning action
)

// extraKinds maps the categories above onto their kinds; KindOf consults it.
var extraKinds = map[string]Kind{
	CategoryGraphActivity:  KindGraphActivity,
	CategoryUserRiskEvents: KindRisk,
	CategoryRiskyUsers:     KindRisk,
	CategoryProvisioning:   KindProvisioning,
	CategoryADFSSignIn:     KindSignIn,
	CategoryLegacyAudit:    KindAudit,
}

var extraKindNames = map[Kind]string{
	KindGraphActivity: "graph_activity",
	KindRisk:          "risk",
	KindProvisioning:  "provisioning",
}

// Extra holds what the categories beyond sign-ins and audits carry that the
// core fields of Event do not. Who the record is about stays in the core
// fields (UserID, UserPrincipalName, IPAddress, AppID, ...), so matching and
// alert context work the same for every category.
type Extra struct {
	// Graph activity.
	RequestMethod    string
	RequestURI       string
	ResponseStatus   string // HTTP status code
	SignInActivityID string // joins to the sign-in's uniqueTokenIdentifier
	UserAgent        string

	// Risk detections and risky users.
	RiskEventType string // e.g. unfamiliarFeatures, passwordSpray
	RiskLevel     string // low, medium, high, hidden, none
	RiskState     string // atRisk, confirmedCompromised, dismissed, ...
	RiskDetail    string
	RiskSource    string // e.g. IdentityProtection

	// Provisioning.
	ProvisioningAction string // create, update, delete, disable, ...
	ProvisioningStatus string // success, failure, skipped, warning
	SourceSystem       string
	TargetSystem       string
	SourceIdentity     ProvisionedIdentity
	TargetIdentity     ProvisionedIdentity
}

// ProvisionedIdentity is the source or target object of a provisioning action.
type ProvisionedIdentity struct {
	ID                string
	DisplayName       string
	Type              string // e.g. User, Group
	UserPrincipalName string // from its details, when present
}

// The legacy audit category is stored in the AuditLogs table, so that rules
// asking for every AuditLogs record see its records too.
func init() { Tables[CategoryLegacyAudit] = Tables[CategoryAudit] }
