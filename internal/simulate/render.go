package simulate

import "strconv"

// Timestamp layouts as each source writes them.
const (
	layoutGraphSignIn = "2006-01-02T15:04:05Z"              // Graph signIn.createdDateTime
	layout7Z          = "2006-01-02T15:04:05.0000000Z"      // Graph audits, diagnostic "time"
	layout7Offset     = "2006-01-02T15:04:05.0000000+00:00" // diagnostic properties
	layoutLA          = "2006-01-02T15:04:05.000Z"          // Log Analytics JSON export
	layoutLocale      = "1/2/2006, 3:04:05.000 PM"          // Azure portal, en-US
)

// flavor selects the small differences between the Graph API objects and
// the diagnostic-settings properties bag, which otherwise share a schema.
type flavor uint8

const (
	flavorGraph flavor = iota
	flavorDiag
)

func (g *gen) writeSignInProps(e *enc, s *signIn, f flavor) {
	e.obj()
	e.kguid("id", s.id)
	e.key("createdDateTime")
	if f == flavorGraph {
		e.time(s.t, layoutGraphSignIn)
	} else {
		e.time(s.t, layout7Offset)
	}
	workload := s.cat == catServicePrincipal || s.cat == catManagedIdentity
	if workload {
		if f == flavorGraph {
			e.kstr("userDisplayName", "")
			e.kstr("userPrincipalName", "")
			e.kstr("userId", "")
		}
		e.kstr("appId", s.sp.appID)
		e.kstr("appDisplayName", s.sp.name)
		e.kstr("servicePrincipalId", s.sp.spID)
		e.kstr("servicePrincipalName", s.sp.name)
	} else {
		e.kstr("userDisplayName", s.userName)
		e.kstr("userPrincipalName", s.upn)
		e.kstr("userId", s.userID)
		e.kstr("appId", s.app.id)
		e.kstr("appDisplayName", s.app.name)
	}
	e.kstr("ipAddress", s.ip)
	g.writeStatus(e, s)
	if !workload {
		e.kstr("clientAppUsed", s.clientApp)
		e.kstr("userAgent", s.ua)
		g.writeDevice(e, s)
	}
	g.writeLocation(e, s)
	e.kguid("correlationId", s.corr)
	e.kstr("conditionalAccessStatus", s.caStatus)
	e.key("appliedConditionalAccessPolicies")
	g.writePolicies(e, s)
	if s.interactive || f == flavorGraph {
		e.emptyArr("authenticationContextClassReferences")
	}
	e.kguid("originalRequestId", s.origReq)
	e.kbool("isInteractive", s.interactive)
	e.kstr("tokenIssuerName", "")
	e.kstr("tokenIssuerType", "AzureAD")
	e.key("authenticationProcessingDetails")
	g.writeProcessingDetails(e, s)
	e.key("networkLocationDetails")
	g.writeNetwork(e, s)
	e.knum("processingTimeInMilliseconds", int64(s.procMs))
	e.kstr("riskDetail", "none")
	e.kstr("riskLevelAggregated", "none")
	e.kstr("riskLevelDuringSignIn", "none")
	e.kstr("riskState", "none")
	e.emptyArr("riskEventTypes")
	e.emptyArr("riskEventTypes_v2")
	e.kstr("resourceDisplayName", s.res.name)
	e.kstr("resourceId", s.res.id)
	e.kstr("resourceServicePrincipalId", s.resourceSPID)
	e.kstr("resourceTenantId", s.resourceTenant)
	e.kstr("homeTenantId", s.homeTenant)
	if workload {
		e.kstr("clientCredentialType", g.credType(s))
		if s.cat == catServicePrincipal {
			e.kstr("servicePrincipalCredentialKeyId", s.sp.credKeyID)
			e.kstr("servicePrincipalCredentialThumbprint", s.sp.thumb)
			if s.sp.cred == "federatedIdentityCredential" {
				e.kstr("federatedCredentialId", s.sp.credKeyID)
			}
		} else {
			e.key("managedServiceIdentity")
			e.obj()
			e.kstr("msiType", s.sp.msiType)
			e.kstr("associatedResourceId", s.sp.msiResource)
			e.kstr("federatedTokenId", "")
			e.kstr("federatedTokenIssuer", "")
			e.endObj()
		}
	} else {
		e.key("authenticationDetails")
		g.writeAuthDetails(e, s, f)
		e.key("authenticationRequirementPolicies")
		g.writeRequirementPolicies(e, s)
		e.emptyArr("sessionLifetimePolicies")
		e.kstr("authenticationRequirement", s.authReq)
		e.kstr("alternateSignInName", s.upn)
		// Non-interactive records, like their Log Analytics table, go
		// without the interactive-only and newer optional fields.
		full := s.interactive || f == flavorGraph
		if full {
			e.kstr("signInIdentifier", s.upn)
		}
		e.kstr("signInIdentifierType", "userPrincipalName")
		e.kstr("servicePrincipalId", "")
		e.kstr("userType", lowerFirstIf(s.userType, f == flavorGraph))
		if full {
			e.kbool("flaggedForReview", false)
		}
		e.kbool("isTenantRestricted", false)
		e.kstr("crossTenantAccessType", s.crossTenant)
		if full {
			e.key("privateLinkDetails")
			e.obj()
			e.endObj()
			e.kstr("ssoExtensionVersion", "")
		}
		e.kstr("incomingTokenType", s.tokenType)
		e.kstr("authenticationProtocol", s.protocol)
		e.kguid("sessionId", s.session)
		if full {
			e.kstr("signInTokenProtectionStatus", "none")
			e.key("tokenProtectionStatusDetails")
			e.obj()
			e.kstr("signInSessionStatus", "unbound")
			e.knum("signInSessionStatusCode", 1002)
			e.endObj()
			e.kstr("originalTransferMethod", "none")
			e.kbool("isThroughGlobalSecureAccess", false)
			e.kstr("globalSecureAccessIpAddress", "")
		}
		e.kstr("clientCredentialType", "none")
	}
	e.knum("autonomousSystemNumber", int64(s.asn))
	e.key("uniqueTokenIdentifier")
	e.sep()
	e.b = append(e.b, '"')
	e.b = appendUTI(e.b, s.uti)
	e.b = append(e.b, '"')
	e.comma = true
	e.strArr("conditionalAccessAudiences", s.res.id)
	if f == flavorGraph {
		e.strArr("signInEventTypes", s.eventType)
		e.emptyArr("authenticationMethodsUsed")
		e.kstr("appOwnerTenantId", "f8cdef31-a31e-4b4a-93e4-5f571e91255a")
		e.kstr("resourceOwnerTenantId", "f8cdef31-a31e-4b4a-93e4-5f571e91255a")
	}
	e.endObj()
}

func lowerFirstIf(s string, lower bool) string {
	if !lower || s == "" {
		return s
	}
	switch s {
	case "Member":
		return "member"
	case "Guest":
		return "guest"
	}
	return s
}

func (g *gen) credType(s *signIn) string {
	if s.cat == catManagedIdentity {
		return "managedIdentity"
	}
	return s.sp.cred
}

func (g *gen) writeStatus(e *enc, s *signIn) {
	e.key("status")
	g.statusValue(e, s)
}

func (g *gen) statusValue(e *enc, s *signIn) {
	e.obj()
	if s.fail == nil {
		e.knum("errorCode", 0)
		e.kstr("failureReason", "Other.")
		e.knull("additionalDetails")
	} else {
		e.knum("errorCode", int64(s.fail.code))
		e.kstr("failureReason", s.fail.text)
		if s.fail.detail != "" {
			e.kstr("additionalDetails", s.fail.detail)
		} else {
			e.knull("additionalDetails")
		}
	}
	e.endObj()
}

func (g *gen) writeDevice(e *enc, s *signIn) {
	e.key("deviceDetail")
	g.deviceValue(e, s)
}

func (g *gen) deviceValue(e *enc, s *signIn) {
	d := s.dev
	e.obj()
	e.kstr("deviceId", d.id)
	e.kstr("displayName", d.name)
	e.kstr("operatingSystem", d.os)
	e.kstr("browser", d.browser)
	e.kbool("isCompliant", d.compliant)
	e.kbool("isManaged", d.managed)
	e.kstr("trustType", d.trust)
	e.endObj()
}

func (g *gen) writeLocation(e *enc, s *signIn) {
	e.key("location")
	g.locationValue(e, s)
}

func (g *gen) locationValue(e *enc, s *signIn) {
	c := s.city
	e.obj()
	e.kstr("city", c.name)
	e.kstr("state", c.state)
	e.kstr("countryOrRegion", c.country)
	e.key("geoCoordinates")
	e.obj()
	if c.lat != 0 || c.lon != 0 {
		e.key("latitude")
		e.float(c.lat)
		e.key("longitude")
		e.float(c.lon)
	}
	e.endObj()
	e.endObj()
}

func (g *gen) writePolicies(e *enc, s *signIn) {
	e.arr()
	for i := 0; i < s.npol; i++ {
		pr := s.pols[i]
		p := caPolicies[pr.p]
		e.obj()
		e.kstr("id", g.t.policyIDs[pr.p])
		e.kstr("displayName", p.name)
		e.strArr("enforcedGrantControls", p.grant...)
		e.strArr("enforcedSessionControls", p.session...)
		e.kstr("result", pr.result)
		sat := int64(0)
		notSat := int64(0)
		switch pr.result {
		case "success", "failure", "reportOnlySuccess", "reportOnlyFailure":
			sat = 3
		case "notApplied", "reportOnlyNotApplied":
			sat, notSat = 1, 2
		}
		e.knum("conditionsSatisfied", sat)
		e.knum("conditionsNotSatisfied", notSat)
		e.key("includeRulesSatisfied")
		e.arr()
		// Token refreshes record which policies applied but not why.
		if sat > 0 && s.interactive {
			e.obj()
			e.kstr("conditionalAccessCondition", "application")
			e.kstr("ruleSatisfied", "allApps")
			e.endObj()
			e.obj()
			e.kstr("conditionalAccessCondition", "users")
			e.kstr("ruleSatisfied", "allUsers")
			e.endObj()
		}
		e.endArr()
		e.key("excludeRulesSatisfied")
		e.arr()
		if pr.excluded {
			e.obj()
			e.kstr("conditionalAccessCondition", "users")
			e.kstr("ruleSatisfied", "userId")
			e.endObj()
			e.obj()
			e.kstr("conditionalAccessCondition", "groups")
			e.kstr("ruleSatisfied", g.t.groupIDs[17])
			e.endObj()
		}
		e.endArr()
		e.endObj()
	}
	e.endArr()
}

func (g *gen) writeProcessingDetails(e *enc, s *signIn) {
	e.arr()
	kv := func(k, v string) { e.obj(); e.kstr("key", k); e.kstr("value", v); e.endObj() }
	kv("Legacy TLS (TLS 1.0, 1.1, 3DES)", "False")
	if s.cat == catServicePrincipal || s.cat == catManagedIdentity {
		kv("Azure AD App Authentication Library", "Family: MSAL Library: MSAL.NET 4.60.3 Platform: .NET")
		kv("Is CAE Token", "False")
	} else {
		if s.interactive {
			kv("Oauth Scope Info", `["openid","profile","email","offline_access"]`)
			kv("Login Hint Present", "True")
		}
		kv("Is CAE Token", g.boolText(s.interactive))
		if s.tokenType == "primaryRefreshToken" {
			kv("Root Key Type", "TPM")
		}
	}
	e.endArr()
}

func (g *gen) boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func (g *gen) writeNetwork(e *enc, s *signIn) {
	e.arr()
	if s.network != "" {
		e.obj()
		e.kstr("networkType", "trustedNamedLocation")
		e.strArr("networkNames", s.network)
		e.endObj()
	}
	e.endArr()
}

func (g *gen) writeAuthDetails(e *enc, s *signIn, f flavor) {
	e.arr()
	for i := 0; i < s.nsteps; i++ {
		st := s.steps[i]
		e.obj()
		e.key("authenticationStepDateTime")
		if f == flavorGraph {
			e.time(s.t.Add(-st.offset), layoutGraphSignIn)
		} else {
			e.time(s.t.Add(-st.offset), layout7Offset)
		}
		e.kstr("authenticationMethod", st.method)
		e.kstr("authenticationMethodDetail", st.detail)
		e.kbool("succeeded", st.ok)
		e.kstr("authenticationStepResultDetail", st.result)
		e.kstr("authenticationStepRequirement", st.requirement)
		if f == flavorDiag {
			e.knum("StatusSequence", 0)
			e.knum("RequestSequence", int64(i))
		}
		e.endObj()
	}
	e.endArr()
}

func (g *gen) writeRequirementPolicies(e *enc, s *signIn) {
	e.arr()
	if s.authReq == "multiFactorAuthentication" {
		e.obj()
		e.kstr("requirementProvider", "multiConditionalAccess")
		e.kstr("detail", "Conditional Access")
		e.endObj()
	}
	e.endArr()
}

// writeDiagSignIn writes a sign-in as Azure Monitor's diagnostic settings
// deliver it to storage accounts and Event Hubs.
func (g *gen) writeDiagSignIn(e *enc, s *signIn) {
	e.obj()
	e.key("time")
	e.time(s.t, layout7Z)
	e.kstr("resourceId", g.resourceID)
	e.kstr("operationName", "Sign-in activity")
	e.kstr("operationVersion", "1.0")
	e.kstr("category", catNames[s.cat])
	e.kstr("tenantId", g.t.id)
	e.key("resultType")
	e.sep()
	e.b = append(e.b, '"')
	e.b = strconv.AppendInt(e.b, int64(s.errorCode()), 10)
	e.b = append(e.b, '"')
	e.comma = true
	e.kstr("resultSignature", "None")
	if s.fail != nil {
		e.kstr("resultDescription", s.fail.text)
	}
	e.knum("durationMs", 0)
	e.kstr("callerIpAddress", s.ip)
	e.kguid("correlationId", s.corr)
	if s.sp != nil {
		e.kstr("identity", s.sp.name)
	} else {
		e.kstr("identity", s.userName)
	}
	e.knum("Level", 4)
	e.kstr("location", s.city.country)
	e.key("properties")
	g.writeSignInProps(e, s, flavorDiag)
	e.endObj()
}

func (g *gen) writeAuditProps(e *enc, a *audit, f flavor) {
	e.obj()
	e.kstr("id", a.id)
	e.kstr("category", a.act.category)
	e.kguid("correlationId", a.corr)
	e.key("result")
	switch {
	case a.failed:
		e.str("failure")
	case a.numResult:
		e.num(0)
	default:
		e.str("success")
	}
	e.kstr("resultReason", a.reason)
	e.kstr("activityDisplayName", a.act.name)
	e.key("activityDateTime")
	if f == flavorGraph {
		e.time(a.t, layout7Z)
	} else {
		e.time(a.t, layout7Offset)
	}
	e.kstr("loggedByService", a.act.service)
	e.kstr("operationType", a.act.opType)
	e.kstr("userAgent", a.ua)
	e.key("initiatedBy")
	g.writeInitiatedBy(e, a, f)
	e.key("targetResources")
	g.writeTargets(e, a, f)
	e.key("additionalDetails")
	g.writeAdditional(e, a)
	e.endObj()
}

func (g *gen) writeInitiatedBy(e *enc, a *audit, f flavor) {
	e.obj()
	if u := a.initUser; u != nil {
		e.key("user")
		e.obj()
		e.kstr("id", u.id)
		e.knull("displayName")
		e.kstr("userPrincipalName", u.upn)
		e.kstrOrNull("ipAddress", u.ip)
		if f == flavorGraph {
			e.knull("userType")
			e.knull("homeTenantId")
			e.knull("homeTenantName")
		} else {
			e.emptyArr("roles")
		}
		e.endObj()
		if f == flavorGraph {
			e.knull("app")
		}
	} else if ap := a.initApp; ap != nil {
		if f == flavorGraph {
			e.knull("user")
		}
		e.key("app")
		e.obj()
		e.kstrOrNull("appId", ap.appID)
		e.kstr("displayName", ap.name)
		e.kstrOrNull("servicePrincipalId", ap.spID)
		e.knull("servicePrincipalName")
		e.endObj()
	}
	e.endObj()
}

func (g *gen) writeTargets(e *enc, a *audit, f flavor) {
	e.arr()
	for i := 0; i < a.nt; i++ {
		t := &a.targets[i]
		e.obj()
		switch t.idMode {
		case idPresent:
			e.kstr("id", t.id)
		case idNull:
			e.knull("id")
		}
		e.kstrOrNull("displayName", t.name)
		e.kstr("type", t.typ)
		if t.upn != "" || f == flavorGraph {
			e.kstrOrNull("userPrincipalName", t.upn)
		}
		if t.groupType != "" || f == flavorGraph {
			e.kstrOrNull("groupType", t.groupType)
		}
		e.key("modifiedProperties")
		e.arr()
		for j := 0; j < t.nprops; j++ {
			p := &t.props[j]
			e.obj()
			e.kstr("displayName", p.name)
			if p.oldNull {
				e.knull("oldValue")
			} else {
				e.kstr("oldValue", p.old)
			}
			if p.new == "" {
				e.knull("newValue")
			} else {
				e.kstr("newValue", p.new)
			}
			e.endObj()
		}
		e.endArr()
		if f == flavorDiag {
			e.emptyArr("administrativeUnits")
		}
		e.endObj()
	}
	e.endArr()
}

func (g *gen) writeAdditional(e *enc, a *audit) {
	e.arr()
	if a.ua != "" {
		e.obj()
		e.kstr("key", "User-Agent")
		e.kstr("value", a.ua)
		e.endObj()
	}
	for i := 0; i < a.nd; i++ {
		e.obj()
		e.kstr("key", a.details[i][0])
		e.kstr("value", a.details[i][1])
		e.endObj()
	}
	e.endArr()
}

func (g *gen) writeDiagAudit(e *enc, a *audit) {
	e.obj()
	e.key("time")
	e.time(a.t, layout7Z)
	e.kstr("resourceId", g.resourceID)
	e.kstr("operationName", a.act.name)
	e.kstr("operationVersion", "1.0")
	e.kstr("category", entraAudit)
	e.kstr("tenantId", g.t.id)
	e.kstr("resultSignature", "None")
	e.knum("durationMs", 0)
	if a.initUser != nil {
		e.kstr("callerIpAddress", a.initUser.ip)
	} else {
		e.kstr("callerIpAddress", "<null>")
	}
	e.kguid("correlationId", a.corr)
	switch {
	case a.initUser != nil:
		e.kstr("identity", a.initUser.upn)
	case a.initApp != nil:
		e.kstr("identity", a.initApp.name)
	}
	e.knum("Level", 4)
	e.key("properties")
	g.writeAuditProps(e, a, flavorDiag)
	e.endObj()
}

const entraAudit = "AuditLogs"

// writeDiagOther writes a record of a category breakglass does not monitor.
// They never mention a break-glass account: the point is that decoders
// skip them, not what they contain.
func (g *gen) writeDiagOther(e *enc, cat string) {
	r := g.r
	u := g.t.users[r.IntN(len(g.t.users))]
	e.obj()
	e.key("time")
	e.time(g.now, layout7Z)
	e.kstr("resourceId", g.resourceID)
	switch cat {
	case "ProvisioningLogs":
		e.kstr("operationName", "Provisioning activity")
	case "RiskyUsers":
		e.kstr("operationName", "Risky user")
	case "ADFSSignInLogs":
		e.kstr("operationName", "Sign-in activity")
	default:
		e.kstr("operationName", "Microsoft Graph Activity")
	}
	e.kstr("operationVersion", "1.0")
	e.kstr("category", cat)
	e.kstr("tenantId", g.t.id)
	e.kstr("resultType", "0")
	e.kstr("resultSignature", "None")
	e.knum("durationMs", int64(r.IntN(900)))
	e.kstr("callerIpAddress", u.ips[0])
	e.kguid("correlationId", newGUID(r))
	e.knum("Level", 4)
	e.kstr("location", u.home.country)
	e.key("properties")
	e.obj()
	id := newGUID(r)
	switch cat {
	case "ProvisioningLogs":
		e.kguid("id", id)
		e.key("activityDateTime")
		e.time(g.now, layout7Offset)
		e.kstr("jobId", "ServiceNowOutDelta.8f3c2d1e5a4b4c7d9e0f1a2b3c4d5e6f")
		e.kguid("cycleId", newGUID(r))
		e.kguid("changeId", newGUID(r))
		e.kstr("provisioningAction", g.oneOf("create", "update", "disable"))
		e.key("provisioningStatusInfo")
		e.obj()
		e.kstr("status", "success")
		e.endObj()
		e.key("sourceIdentity")
		e.obj()
		e.kstr("id", u.id)
		e.kstr("displayName", u.name)
		e.kstr("identityType", "User")
		e.endObj()
		e.key("targetSystem")
		e.obj()
		e.kstr("displayName", "ServiceNow")
		e.endObj()
	case "RiskyUsers":
		e.kstr("id", u.id)
		e.kbool("isDeleted", false)
		e.kbool("isProcessing", false)
		e.kstr("riskDetail", "none")
		e.key("riskLastUpdatedDateTime")
		e.time(g.now, layout7Z)
		e.kstr("riskLevel", g.oneOf("low", "medium", "high"))
		e.kstr("riskState", "atRisk")
		e.kstr("userDisplayName", u.name)
		e.kstr("userPrincipalName", u.upn)
	case "ADFSSignInLogs":
		e.kguid("id", id)
		e.key("createdDateTime")
		e.time(g.now, layout7Offset)
		e.kstr("userPrincipalName", u.upn)
		e.kstr("ipAddress", u.ips[1])
		e.kstr("tokenIssuerType", "ADFederationServices")
		e.kstr("tokenIssuerName", "sts.contoso.com")
		e.key("status")
		e.obj()
		e.knum("errorCode", 0)
		e.endObj()
	default:
		e.kguid("requestId", id)
		e.kguid("operationId", id)
		e.kstr("apiVersion", "v1.0")
		e.kstr("requestMethod", "GET")
		e.kstr("requestUri", g.oneOf("https://graph.microsoft.com/v1.0/me", "https://graph.microsoft.com/v1.0/users?$top=999",
			"https://graph.microsoft.com/v1.0/me/messages?$top=50", "https://graph.microsoft.com/beta/auditLogs/signIns"))
		e.knum("responseStatusCode", 200)
		e.knum("responseSizeBytes", int64(400+r.IntN(60000)))
		e.kstr("userId", u.id)
		e.kstr("appId", userApps[r.IntN(len(userApps))].id)
		e.kstr("ipAddress", u.ips[0])
		e.kstr("userAgent", u.desk.uaBrowser)
		e.kstr("scopes", "User.Read Mail.Read")
	}
	e.endObj()
	e.endObj()
}
