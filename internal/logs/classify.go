package logs

import (
	"bytes"
	"encoding/json"

	"breakglass/internal/entra"
)

// Shape is the wire format a record was written in.
type Shape uint8

const (
	ShapeUnknown      Shape = iota
	ShapeGraphSignIn        // Microsoft Graph signIn (v1.0 or beta)
	ShapeGraphAudit         // Microsoft Graph directoryAudit
	ShapeDiagnostic         // Azure Monitor diagnostic-settings record (Event Hubs, storage)
	ShapeLogAnalytics       // Log Analytics row (JSON or CSV export)
)

func (s Shape) String() string {
	switch s {
	case ShapeGraphSignIn, ShapeGraphAudit:
		return "graph"
	case ShapeDiagnostic:
		return "diagnostic"
	case ShapeLogAnalytics:
		return "loganalytics"
	case ShapeGraphRisk, ShapeGraphRiskyUser, ShapeGraphProvisioning:
		return "graph"
	case ShapePortal:
		return "portal"
	case ShapeDefender:
		return "defender"
	case ShapeDefenderStream:
		return "diagnostic"
	}
	return "unknown"
}

// Class is what the classifier learns about a record without decoding it.
type Class struct {
	Shape Shape
	// Category is a monitored category (entra.Category*), or the record's
	// own category or table name when it is not monitored, or "" when the
	// shape is unknown.
	Category string
}

// Monitored reports whether the record belongs to a category we decode.
func (c Class) Monitored() bool { return entra.KindOf(c.Category) != entra.KindUnknown }

// diagCategories maps diagnostic-settings categories onto monitored ones;
// categories mapped to "" are known but not monitored.
var diagCategories = map[string]string{
	"SignInLogs":                          entra.CategorySignIn,
	"NonInteractiveUserSignInLogs":        entra.CategoryNonInteractive,
	"ServicePrincipalSignInLogs":          entra.CategoryServicePrincipal,
	"ManagedIdentitySignInLogs":           entra.CategoryManagedIdentity,
	"AuditLogs":                           entra.CategoryAudit,
	"SignIn":                              entra.CategorySignIn,      // legacy exports
	"Audit":                               entra.CategoryLegacyAudit, // legacy exports
	"ProvisioningLogs":                    entra.CategoryProvisioning,
	"ADFSSignInLogs":                      entra.CategoryADFSSignIn,
	"RiskyUsers":                          entra.CategoryRiskyUsers,
	"UserRiskEvents":                      entra.CategoryUserRiskEvents,
	"RiskyServicePrincipals":              "",
	"ServicePrincipalRiskEvents":          "",
	"EnrichedOffice365AuditLogs":          "",
	"MicrosoftGraphActivityLogs":          entra.CategoryGraphActivity,
	"NetworkAccessTrafficLogs":            "",
	"CustomSecurityAttributeAuditLogs":    "",
	"RemoteNetworkHealthLogs":             "",
	"NetworkAccessAlerts":                 "",
	"B2CRequestLogs":                      "",
	"MicrosoftServicePrincipalSignInLogs": "",
}

// laTables maps Log Analytics table names (the Type column) onto categories.
var laTables = map[string]string{
	"SigninLogs":                      entra.CategorySignIn,
	"AADNonInteractiveUserSignInLogs": entra.CategoryNonInteractive,
	"AADServicePrincipalSignInLogs":   entra.CategoryServicePrincipal,
	"AADManagedIdentitySignInLogs":    entra.CategoryManagedIdentity,
	"AuditLogs":                       entra.CategoryAudit,
	"MicrosoftGraphActivityLogs":      entra.CategoryGraphActivity,
	"AADUserRiskEvents":               entra.CategoryUserRiskEvents,
	"AADRiskyUsers":                   entra.CategoryRiskyUsers,
	"AADProvisioningLogs":             entra.CategoryProvisioning,
	"ADFSSignInLogs":                  entra.CategoryADFSSignIn,
}

// laSignInCategories are the Category column values of the sign-in tables.
var laSignInCategories = map[string]bool{
	entra.CategorySignIn: true, entra.CategoryNonInteractive: true,
	entra.CategoryServicePrincipal: true, entra.CategoryManagedIdentity: true,
}

// eventTypeCategory maps Graph beta signInEventTypes onto categories.
var eventTypeCategory = map[string]string{
	"interactiveUser":    entra.CategorySignIn,
	"nonInteractiveUser": entra.CategoryNonInteractive,
	"servicePrincipal":   entra.CategoryServicePrincipal,
	"managedIdentity":    entra.CategoryManagedIdentity,
}

// Classify finds a record's shape and category from its top-level keys. It
// stops as soon as the answer is certain, which for diagnostic records and
// most Log Analytics rows is within the first few keys; this is what lets
// records that cannot match be skipped without decoding them.
func Classify(rec []byte) Class {
	var (
		graphSignIn, laFlag, laAudit, laSignIn bool
		isInteractive                          = -1 // -1 unknown, 0 false, 1 true
		eventType                              string
		hasUser, hasSP, hasMSI                 bool
		graphUser, graphSignInCol, graphAudit  bool
		laUser, laSignInCol                    bool
		laType                                 string
		x                                      extraKeys // classify_extra.go
	)
	i := skipSpace(rec, 0)
	if i >= len(rec) || rec[i] != '{' {
		return Class{}
	}
	i++
	for {
		i = skipSpace(rec, i)
		if i >= len(rec) || rec[i] != '"' {
			break
		}
		kend, err := skipString(rec, i)
		if err != nil {
			break
		}
		key := rec[i+1 : kend-1]
		i = skipSpace(rec, kend)
		if i >= len(rec) || rec[i] != ':' {
			break
		}
		vstart := skipSpace(rec, i+1)
		vend, err := skipAny(rec, vstart)
		if err != nil {
			break
		}
		val := rec[vstart:vend]
		i = vend
		switch string(key) {
		case "category":
			if cat, ok := diagCategories[string(rawString(val))]; ok {
				if cat == "" {
					cat = stringValue(val)
				}
				return Class{Shape: ShapeDiagnostic, Category: cat}
			}
			x.diagOther = true
			x.huntingStream = bytes.HasPrefix(rawString(val), []byte("AdvancedHunting-"))
		case "activityDateTime":
			// Risk detections and provisioning records have it too; only a
			// directoryAudit key before it settles the shape at once.
			if x.graphAuditKey {
				return Class{Shape: ShapeGraphAudit, Category: entra.CategoryAudit}
			}
			x.activityDate = true
		case "Type":
			if cat, ok := laTables[string(rawString(val))]; ok {
				return Class{Shape: ShapeLogAnalytics, Category: cat}
			}
			laType = stringValue(val)
		case "Category":
			if laSignInCategories[string(rawString(val))] {
				return Class{Shape: ShapeLogAnalytics, Category: stringValue(val)}
			}
		case "createdDateTime":
			graphSignIn = true
		case "signInEventTypes":
			eventType = firstEventType(val)
		case "isInteractive", "IsInteractive":
			switch string(bytes.Trim(val, `"`)) {
			case "true", "True", "TRUE":
				isInteractive = 1
			case "false", "False", "FALSE":
				isInteractive = 0
			}
			if key[0] == 'I' {
				laSignIn = true
			}
		case "userId":
			hasUser = !isEmptyValue(val)
			graphUser = true
		case "userPrincipalName":
			graphUser = true
		case "activityDisplayName", "initiatedBy", "targetResources", "loggedByService":
			graphAudit = true
			x.note(string(key), val) // classify_extra.go
		case "appDisplayName", "clientAppUsed", "conditionalAccessStatus", "ipAddress", "authenticationRequirement":
			graphSignInCol = true
		case "servicePrincipalId":
			hasSP = !isEmptyValue(val)
		case "managedServiceIdentity", "managedIdentityType":
			hasMSI = !isEmptyValue(val)
		case "TimeGenerated", "TenantId", "SourceSystem", "OperationName", "Id", "CorrelationId":
			laFlag = true
		case "ActivityDisplayName", "ActivityDateTime", "InitiatedBy", "TargetResources", "AADOperationType":
			laAudit = true
		case "UserPrincipalName", "UserId":
			laUser = true
		case "ResultType", "AppDisplayName", "ConditionalAccessStatus", "AppId", "ClientAppUsed":
			laSignInCol = true
		case "riskEventType", // classify_extra.go: extraKeyList
			"detectedDateTime", "detectionTimingType", "riskLastUpdatedDateTime", "isProcessing",
			"provisioningAction", "provisioningStatusInfo", "sourceIdentity", "targetIdentity", "provisioningSteps", "cycleId", "jobId",
			"RiskEventType", "DetectedDateTime", "DetectionTimingType", "RiskLastUpdatedDateTime", "IsProcessing",
			"ProvisioningAction", "ProvisioningStatusInfo", "SourceIdentity", "TargetIdentity", "CycleId", "JobId",
			"RequestUri", "RequestMethod", "ResponseStatusCode", "SignInActivityId",
			"Date (UTC)", "Date", "Request ID", "User ID", "Username", "Sign-in error code", "Client app", "Failure reason", "Correlation ID",
			"Service principal ID", "Service principal name", "Managed Identity type",
			"ActorType", "ActorDisplayName", "ActorObjectId", "ActorUserPrincipalName", "ActorServicePrincipalId",
			"Target1ObjectId", "Target1UserPrincipalName", "Target1DisplayName", "Activity", "properties",
			"AccountObjectId", "AccountUpn", "LogonType":
			x.note(string(key), val)
		}
		i = skipSpace(rec, i)
		if i < len(rec) && rec[i] == ',' {
			i++
			continue
		}
		break
	}
	if c, ok := x.class(); ok {
		return c
	}
	// A Graph sign-in without (or before) its createdDateTime is still
	// recognised by its other columns, so that it is read, not dropped.
	graphSignIn = graphSignIn || (graphUser && graphSignInCol && !laUser && !laSignInCol && !laAudit)
	switch {
	case graphAudit && !graphSignIn && !laAudit && !laSignIn:
		// A directoryAudit without its activityDateTime.
		return Class{Shape: ShapeGraphAudit, Category: entra.CategoryAudit}
	case graphSignIn:
		cat := eventTypeCategory[eventType]
		switch {
		case cat != "":
		case hasMSI && !hasUser:
			cat = entra.CategoryManagedIdentity
		case hasSP && !hasUser:
			cat = entra.CategoryServicePrincipal
		case isInteractive == 0:
			cat = entra.CategoryNonInteractive
		default:
			cat = entra.CategorySignIn
		}
		return Class{Shape: ShapeGraphSignIn, Category: cat}
	}
	// A Type that is not a sign-in or audit table may still be overwritten
	// by a projected column (real exports mv-expand TargetResources into
	// Type), so the columns themselves decide before Type does.
	laSignIn = laSignIn || (laUser && laSignInCol)
	switch {
	case laAudit:
		return Class{Shape: ShapeLogAnalytics, Category: entra.CategoryAudit}
	case laSignIn:
		if isInteractive == 0 {
			return Class{Shape: ShapeLogAnalytics, Category: entra.CategoryNonInteractive}
		}
		return Class{Shape: ShapeLogAnalytics, Category: entra.CategorySignIn}
	case laType != "" && (laFlag || laUser || laSignInCol):
		return Class{Shape: ShapeLogAnalytics, Category: laType}
	}
	return Class{}
}

// stringValue returns a JSON string's contents ("" for non-strings).
func stringValue(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// rawString returns a JSON string's bytes without quotes when it has no
// escapes, and nil otherwise; map lookups with it do not allocate.
func rawString(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 {
		return nil
	}
	return v[1 : len(v)-1]
}

// firstEventType returns the category for the first of signInEventTypes
// without allocating in the common case of a plain array of strings.
func firstEventType(v []byte) string {
	if len(v) > 0 && v[0] == '[' {
		i := skipSpace(v, 1)
		if i < len(v) && v[i] == '"' {
			if j, err := skipString(v, i); err == nil {
				for name := range eventTypeCategory {
					if string(v[i+1:j-1]) == name {
						return name
					}
				}
				return ""
			}
		}
	}
	return firstString(v)
}

// firstString returns the first element of a JSON array of strings, or the
// first element of such an array held as JSON text.
func firstString(v []byte) string {
	if len(v) > 0 && v[0] == '"' {
		v = []byte(stringValue(v))
	}
	var a []string
	if json.Unmarshal(v, &a) != nil || len(a) == 0 {
		return ""
	}
	return a[0]
}

func isEmptyValue(v []byte) bool {
	return len(v) == 0 || string(v) == "null" || string(v) == `""`
}
