package entra

// Tables maps diagnostic-settings categories onto the Log Analytics tables
// that store them. Rules that ask for "every record of table T" and the
// columns of a record (logs.Columns) are named in this vocabulary, because
// it is the one KQL queries are written in.
var Tables = map[string]string{
	CategorySignIn:                     "SigninLogs",
	CategoryNonInteractive:             "AADNonInteractiveUserSignInLogs",
	CategoryServicePrincipal:           "AADServicePrincipalSignInLogs",
	CategoryManagedIdentity:            "AADManagedIdentitySignInLogs",
	CategoryAudit:                      "AuditLogs",
	"ProvisioningLogs":                 "AADProvisioningLogs",
	"ADFSSignInLogs":                   "ADFSSignInLogs",
	"RiskyUsers":                       "AADRiskyUsers",
	"UserRiskEvents":                   "AADUserRiskEvents",
	"RiskyServicePrincipals":           "AADRiskyServicePrincipals",
	"ServicePrincipalRiskEvents":       "AADServicePrincipalRiskEvents",
	"MicrosoftGraphActivityLogs":       "MicrosoftGraphActivityLogs",
	"NetworkAccessTrafficLogs":         "NetworkAccessTraffic",
	"EnrichedOffice365AuditLogs":       "EnrichedMicrosoft365AuditLogs",
	"B2CRequestLogs":                   "AADB2CRequestLogs",
	"CustomSecurityAttributeAuditLogs": "AADCustomSecurityAttributeAuditLogs",
}

// TableOf returns the Log Analytics table of a category, or the category
// itself when it is not a known one (a Log Analytics row of an unknown
// table carries its table name as its category).
func TableOf(category string) string {
	if t, ok := Tables[category]; ok {
		return t
	}
	return category
}
