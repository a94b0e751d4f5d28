package capolicy

import "strings"

// Role template ids of the built-in directory roles breakglass names.
const (
	RoleGlobalAdministrator            = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdministrator    = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleConditionalAccessAdministrator = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"
)

// roleNames names the built-in roles Conditional Access policies commonly
// target (Microsoft's "Require MFA for admins" template lists the first
// fourteen), so an explanation reads "Global Administrator" rather than a
// template id.
var roleNames = map[string]string{
	RoleGlobalAdministrator:                "Global Administrator",
	"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
	"c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
	"b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
	"158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
	RoleConditionalAccessAdministrator:     "Conditional Access Administrator",
	"29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
	"729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
	"966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
	"7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
	RolePrivilegedRoleAdministrator:        "Privileged Role Administrator",
	"194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
	"f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
	"fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
	"f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
	"5d6b6bb7-de71-4623-b4af-96380a352509": "Security Reader",
	"3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
	"69091246-20e8-4a56-aa4d-066075b2a7a8": "Teams Administrator",
	"8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
	"d29b2b05-8046-44ba-8758-1e26182fcf32": "Directory Synchronization Accounts",
}

// RoleName returns "Global Administrator (62e90394-…)" for a known
// built-in role template id, and the id itself otherwise.
func RoleName(templateID string) string {
	if n, ok := roleNames[strings.ToLower(templateID)]; ok {
		return n + " (" + templateID + ")"
	}
	return templateID
}
