package logs

import (
	"encoding/json"

	"breakglass/internal/entra"
)

// This file classifies what classify.go's core does not: the categories
// beyond sign-ins and audits in their Graph and Log Analytics shapes, the
// Entra admin center's own downloads, and diagnostic records whose category
// is not an Entra one but whose properties are.

// ShapePortal is a row of the Entra admin center's "Download" (CSV, whose
// rows the splitter turns into objects keyed by column name): column names
// such as "Date (UTC)", "Request ID", "ActorUserPrincipalName".
const ShapePortal Shape = 16

// Shapes of the Graph resources of the new categories. Their values are
// fixed so that core shapes can be added without renumbering them.
const (
	ShapeGraphRisk         Shape = 17 // Graph riskDetection
	ShapeGraphRiskyUser    Shape = 18 // Graph riskyUser
	ShapeGraphProvisioning Shape = 19 // Graph provisioningObjectSummary
)

// extraKeys collects what the keys of a record say about the shapes above.
// Classify's switch routes exactly the keys named in note to it (the two
// lists must agree; TestClassifyExtraKeysRouted checks that they do).
type extraKeys struct {
	// Graph camelCase resources.
	graphAuditKey bool // a directoryAudit key seen before activityDateTime
	activityDate  bool // activityDateTime seen, shape not yet settled
	graphRisk     bool
	graphRiskyU   bool
	graphProv     bool
	// Log Analytics PascalCase columns (rows without a Type column).
	laRisk, laRiskyU, laProv, laGraph bool
	// Admin center downloads.
	portalDate, portalSignIn, portalAudit, portalSP, portalMSI bool
	// Defender XDR advanced hunting sign-in rows (decode_defender.go).
	defAccount, defLogonType, defNonInteractive bool
	// A diagnostic record whose category is not an Entra one, and whether
	// that category is a Defender streaming API table (AdvancedHunting-*).
	diagOther, huntingStream bool
	props                    []byte
}

func (x *extraKeys) note(key string, val []byte) {
	switch key {
	case "activityDisplayName", "loggedByService": // keys only directoryAudit has
		x.graphAuditKey = true
	case "riskEventType", "detectedDateTime", "detectionTimingType":
		x.graphRisk = true
	case "riskLastUpdatedDateTime", "isProcessing":
		x.graphRiskyU = true
	case "provisioningAction", "provisioningStatusInfo", "sourceIdentity", "targetIdentity", "provisioningSteps", "cycleId", "jobId":
		x.graphProv = true
	case "RiskEventType", "DetectedDateTime", "DetectionTimingType":
		x.laRisk = true
	case "RiskLastUpdatedDateTime", "IsProcessing":
		x.laRiskyU = true
	case "ProvisioningAction", "ProvisioningStatusInfo", "SourceIdentity", "TargetIdentity", "CycleId", "JobId":
		x.laProv = true
	case "RequestUri", "RequestMethod", "ResponseStatusCode", "SignInActivityId":
		x.laGraph = true
	case "Date (UTC)", "Date":
		x.portalDate = true
	case "Request ID", "User ID", "Username", "Sign-in error code", "Client app", "Failure reason", "Correlation ID":
		x.portalSignIn = true
	case "Service principal ID", "Service principal name":
		x.portalSP = true
	case "Managed Identity type":
		x.portalMSI = !isEmptyValue(val)
	case "ActorType", "ActorDisplayName", "ActorObjectId", "ActorUserPrincipalName", "ActorServicePrincipalId",
		"Target1ObjectId", "Target1UserPrincipalName", "Target1DisplayName", "Activity":
		x.portalAudit = true
	case "AccountObjectId", "AccountUpn":
		x.defAccount = x.defAccount || !isEmptyValue(val)
	case "LogonType":
		x.defLogonType = true
		x.defNonInteractive = nonInteractiveLogon(val)
	case "properties":
		x.props = val
	}
}

// extraKeyList is every key note acts on; the test uses it.
var extraKeyList = []string{
	"activityDisplayName", "loggedByService",
	"riskEventType", "detectedDateTime", "detectionTimingType", "riskLastUpdatedDateTime", "isProcessing",
	"provisioningAction", "provisioningStatusInfo", "sourceIdentity", "targetIdentity", "provisioningSteps", "cycleId", "jobId",
	"RiskEventType", "DetectedDateTime", "DetectionTimingType", "RiskLastUpdatedDateTime", "IsProcessing",
	"ProvisioningAction", "ProvisioningStatusInfo", "SourceIdentity", "TargetIdentity", "CycleId", "JobId",
	"RequestUri", "RequestMethod", "ResponseStatusCode", "SignInActivityId",
	"Date (UTC)", "Date", "Request ID", "User ID", "Username", "Sign-in error code", "Client app", "Failure reason", "Correlation ID",
	"Service principal ID", "Service principal name", "Managed Identity type",
	"ActorType", "ActorDisplayName", "ActorObjectId", "ActorUserPrincipalName", "ActorServicePrincipalId",
	"Target1ObjectId", "Target1UserPrincipalName", "Target1DisplayName", "Activity", "properties",
	"AccountObjectId", "AccountUpn", "LogonType",
}

// class settles the shape once every key was seen. It runs before the core
// decides, and only claims records that the keys above identify.
func (x *extraKeys) class() (Class, bool) {
	if x.diagOther && x.props != nil {
		if cat := categoryByContent(x.props); cat != "" {
			return Class{Shape: ShapeDiagnostic, Category: cat}, true
		}
	}
	if c, ok := x.defenderClass(); ok {
		return c, true
	}
	if x.huntingStream && x.props != nil {
		if c, ok := defenderProps(x.props); ok {
			return c, true
		}
	}
	switch {
	case x.graphProv:
		return Class{Shape: ShapeGraphProvisioning, Category: entra.CategoryProvisioning}, true
	case x.graphRisk:
		return Class{Shape: ShapeGraphRisk, Category: entra.CategoryUserRiskEvents}, true
	case x.graphRiskyU:
		return Class{Shape: ShapeGraphRiskyUser, Category: entra.CategoryRiskyUsers}, true
	case x.activityDate:
		return Class{Shape: ShapeGraphAudit, Category: entra.CategoryAudit}, true
	case x.laProv:
		return Class{Shape: ShapeLogAnalytics, Category: entra.CategoryProvisioning}, true
	case x.laRisk:
		return Class{Shape: ShapeLogAnalytics, Category: entra.CategoryUserRiskEvents}, true
	case x.laRiskyU:
		return Class{Shape: ShapeLogAnalytics, Category: entra.CategoryRiskyUsers}, true
	case x.laGraph:
		return Class{Shape: ShapeLogAnalytics, Category: entra.CategoryGraphActivity}, true
	case x.portalDate && x.portalAudit:
		return Class{Shape: ShapePortal, Category: entra.CategoryAudit}, true
	case x.portalDate && x.portalMSI:
		return Class{Shape: ShapePortal, Category: entra.CategoryManagedIdentity}, true
	case x.portalDate && x.portalSP:
		return Class{Shape: ShapePortal, Category: entra.CategoryServicePrincipal}, true
	case x.portalDate && x.portalSignIn:
		return Class{Shape: ShapePortal, Category: entra.CategorySignIn}, true
	}
	return Class{}, false
}

// categoryByContent recognises a diagnostic record's category from its
// properties when the category field does not name an Entra category:
// third-party pipelines write the audit category ("Policy",
// "RoleManagement", ...) there. It returns "" when the properties are none
// of ours.
func categoryByContent(props []byte) string {
	if len(props) > 0 && props[0] == '"' { // properties as JSON text
		var s string
		if json.Unmarshal(props, &s) != nil {
			return ""
		}
		props = []byte(s)
	}
	i := skipSpace(props, 0)
	if i >= len(props) || props[i] != '{' {
		return ""
	}
	var audit, legacy, signIn, risk, riskyU, prov, graph bool
	for i++; ; {
		i = skipSpace(props, i)
		if i >= len(props) || props[i] != '"' {
			break
		}
		kend, err := skipString(props, i)
		if err != nil {
			break
		}
		key := string(props[i+1 : kend-1])
		i = skipSpace(props, kend)
		if i >= len(props) || props[i] != ':' {
			break
		}
		vend, err := skipAny(props, skipSpace(props, i+1))
		if err != nil {
			break
		}
		i = skipSpace(props, vend)
		switch key {
		case "activityDisplayName", "activityDateTime", "targetResources", "initiatedBy", "loggedByService":
			audit = true
		case "targetResourceName", "targetResourceType", "auditEventCategory":
			legacy = true
		case "createdDateTime", "userPrincipalName", "appId", "clientAppUsed", "conditionalAccessStatus":
			signIn = true
		case "riskEventType":
			risk = true
		case "riskLastUpdatedDateTime":
			riskyU = true
		case "provisioningAction", "sourceIdentity", "targetIdentity", "provisioningStatusInfo":
			prov = true
		case "requestUri", "requestMethod", "responseStatusCode":
			graph = true
		}
		if i < len(props) && props[i] == ',' {
			i++
			continue
		}
		break
	}
	switch {
	case prov:
		return entra.CategoryProvisioning
	case risk:
		return entra.CategoryUserRiskEvents
	case riskyU:
		return entra.CategoryRiskyUsers
	case graph:
		return entra.CategoryGraphActivity
	case audit:
		return entra.CategoryAudit
	case legacy:
		return entra.CategoryLegacyAudit
	case signIn:
		return entra.CategorySignIn
	}
	return ""
}
