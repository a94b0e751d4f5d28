package simulate

import (
	"encoding/base64"
	"strconv"
	"time"
)

// A Log Analytics row is built once as a list of cells and then written as a
// JSON object or a CSV record, so that every LA shape carries the same
// columns and values.

type cellKind uint8

const (
	cellStr  cellKind = iota // a string value
	cellRaw                  // a JSON literal: number, bool, object, array
	cellTime                 // a datetime column, already formatted
)

type cell struct {
	name       string
	kind       cellKind
	start, end int32
}

type laRow struct {
	e      enc // e.b is the arena holding every cell's bytes
	cells  []cell
	locale bool // write datetimes the way the portal displays them
}

func (r *laRow) reset(locale bool) {
	r.e.reset()
	r.cells = r.cells[:0]
	r.locale = locale
}

func (r *laRow) add(name string, kind cellKind, start int) {
	r.cells = append(r.cells, cell{name, kind, int32(start), int32(len(r.e.b))})
}

func (r *laRow) str(name, v string) {
	start := len(r.e.b)
	r.e.b = append(r.e.b, v...)
	r.add(name, cellStr, start)
}

func (r *laRow) guid(name string, g guid) {
	start := len(r.e.b)
	r.e.b = g.append(r.e.b)
	r.add(name, cellStr, start)
}

func (r *laRow) num(name string, n int64) {
	start := len(r.e.b)
	r.e.b = strconv.AppendInt(r.e.b, n, 10)
	r.add(name, cellRaw, start)
}

func (r *laRow) boolean(name string, v bool) {
	start := len(r.e.b)
	r.e.b = strconv.AppendBool(r.e.b, v)
	r.add(name, cellRaw, start)
}

func (r *laRow) time(name string, t time.Time) {
	start := len(r.e.b)
	if r.locale {
		r.e.b = t.AppendFormat(r.e.b, layoutLocale)
	} else {
		r.e.b = t.AppendFormat(r.e.b, layoutLA)
	}
	r.add(name, cellTime, start)
}

// beginDyn and endDyn bracket a dynamic column written with r.e. asText
// stores it as JSON text, as string-typed columns and some exports do.
func (r *laRow) beginDyn() int {
	r.e.comma = false
	return len(r.e.b)
}

func (r *laRow) endDyn(name string, start int, asText bool) {
	k := cellRaw
	if asText {
		k = cellStr
	}
	r.add(name, k, start)
}

// laWorkspaceID is the Log Analytics workspace the rows claim to come from;
// LA's TenantId column names the workspace, not the Entra tenant.
const laWorkspaceID = "3b5f2c8e-7d1a-4e6b-9c2f-0a8d4e6b1c3f"

func (g *gen) laCommon(r *laRow, t time.Time, op string) {
	r.str("TenantId", laWorkspaceID)
	r.str("SourceSystem", "Azure AD")
	r.time("TimeGenerated", t)
	r.str("ResourceId", g.resourceID)
	r.str("OperationName", op)
	r.str("OperationVersion", "1.0")
}

// resultType writes a sign-in's ResultType: a string per the schema, but
// some exports and pipelines turn it into a number.
func (g *gen) laResultType(r *laRow, code int) {
	if g.r.IntN(5) == 0 {
		r.num("ResultType", int64(code))
		return
	}
	start := len(r.e.b)
	r.e.b = strconv.AppendInt(r.e.b, int64(code), 10)
	r.add("ResultType", cellStr, start)
}

func (g *gen) laSignIn(r *laRow, s *signIn) {
	table := laTables[s.cat]
	g.laCommon(r, s.t, "Sign-in activity")
	r.str("Category", catNames[s.cat])
	g.laResultType(r, s.errorCode())
	r.str("ResultSignature", "None")
	if s.fail != nil {
		r.str("ResultDescription", s.fail.text)
	} else {
		r.str("ResultDescription", "")
	}
	r.num("DurationMs", 0)
	r.guid("CorrelationId", s.corr)
	r.str("ResourceGroup", "Microsoft.aadiam")
	if s.cat == catInteractive {
		r.str("Resource", "Microsoft.aadiam")
		r.str("ResourceProvider", "Microsoft.aadiam")
	}
	if s.sp != nil {
		r.str("Identity", s.sp.name)
	} else {
		r.str("Identity", s.userName)
	}
	r.str("Level", "4")
	r.str("Location", s.city.country)

	// Interactive sign-ins have dynamic columns that exports write either
	// as objects or as JSON text; the other tables type them as string.
	text := s.cat != catInteractive || g.r.IntN(4) == 0

	workload := s.sp != nil
	if workload {
		r.str("AppId", s.sp.appID)
		r.str("ServicePrincipalId", s.sp.spID)
		r.str("ServicePrincipalName", s.sp.name)
		r.str("ClientCredentialType", g.credType(s))
		if s.cat == catServicePrincipal {
			r.str("ServicePrincipalCredentialKeyId", s.sp.credKeyID)
			r.str("ServicePrincipalCredentialThumbprint", s.sp.thumb)
			r.str("AutonomousSystemNumber", strconv.Itoa(s.asn))
		} else {
			start := r.beginDyn()
			r.e.obj()
			r.e.kstr("msiType", s.sp.msiType)
			r.e.kstr("associatedResourceId", s.sp.msiResource)
			r.e.endObj()
			r.endDyn("ManagedServiceIdentity", start, true)
		}
		r.str("FederatedCredentialId", "")
	} else {
		r.str("AlternateSignInName", s.upn)
		r.str("AppDisplayName", s.app.name)
		r.str("AppId", s.app.id)
		r.str("AuthenticationContextClassReferences", "[]")
		start := r.beginDyn()
		g.writeAuthDetails(&r.e, s, flavorGraph)
		r.endDyn("AuthenticationDetails", start, true)
		r.str("AuthenticationMethodsUsed", "")
		start = r.beginDyn()
		g.writeProcessingDetails(&r.e, s)
		r.endDyn("AuthenticationProcessingDetails", start, true)
		r.str("AuthenticationProtocol", s.protocol)
		r.str("AuthenticationRequirement", s.authReq)
		start = r.beginDyn()
		g.writeRequirementPolicies(&r.e, s)
		r.endDyn("AuthenticationRequirementPolicies", start, true)
		r.str("AutonomousSystemNumber", strconv.Itoa(s.asn))
		r.str("ClientAppUsed", s.clientApp)
		r.str("CrossTenantAccessType", s.crossTenant)
		start = r.beginDyn()
		g.deviceValue(&r.e, s)
		r.endDyn("DeviceDetail", start, text)
		if s.cat == catInteractive {
			r.boolean("FlaggedForReview", false)
		}
		r.str("HomeTenantId", s.homeTenant)
		r.str("IncomingTokenType", s.tokenType)
		r.boolean("IsInteractive", s.interactive)
		r.boolean("IsTenantRestricted", false)
		start = r.beginDyn()
		r.e.obj()
		r.e.endObj()
		r.endDyn("MfaDetail", start, text)
		r.str("OriginalRequestId", s.origReq.String())
		r.str("RiskDetail", "none")
		r.str("RiskEventTypes", "[]")
		r.str("RiskEventTypes_V2", "[]")
		r.str("RiskLevelAggregated", "none")
		r.str("RiskLevelDuringSignIn", "none")
		r.str("RiskState", "none")
		r.str("ServicePrincipalId", "")
		r.str("SessionLifetimePolicies", "[]")
		if s.cat == catInteractive {
			r.str("SignInIdentifier", s.upn)
		} else {
			r.str("SignInEventTypes", `["nonInteractiveUser"]`)
		}
		r.str("SignInIdentifierType", "userPrincipalName")
		r.str("TokenIssuerName", "")
		r.str("TokenIssuerType", "AzureAD")
		r.str("UserAgent", s.ua)
		r.str("UserDisplayName", s.userName)
		r.str("UserId", s.userID)
		r.str("UserPrincipalName", s.upn)
		r.str("UserType", s.userType)
		r.str("IPAddress", s.ip)
	}
	if workload {
		r.str("IPAddress", s.ip)
	}
	start := r.beginDyn()
	g.writePolicies(&r.e, s)
	r.endDyn("ConditionalAccessPolicies", start, text)
	r.str("ConditionalAccessStatus", s.caStatus)
	r.time("CreatedDateTime", s.t)
	r.guid("Id", s.id)
	start = r.beginDyn()
	g.locationValue(&r.e, s)
	r.endDyn("LocationDetails", start, text)
	start = r.beginDyn()
	g.writeNetwork(&r.e, s)
	r.endDyn("NetworkLocationDetails", start, true)
	switch s.cat {
	case catInteractive:
		r.str("ProcessingTimeInMilliseconds", strconv.Itoa(s.procMs))
	case catNonInteractive:
		r.str("ProcessingTimeInMs", strconv.Itoa(s.procMs))
	}
	r.str("ResourceDisplayName", s.res.name)
	r.str("ResourceIdentity", s.res.id)
	r.str("ResourceServicePrincipalId", s.resourceSPID)
	r.str("ResourceTenantId", s.resourceTenant)
	if !workload {
		start = r.beginDyn()
		g.statusValue(&r.e, s)
		r.endDyn("Status", start, text)
	}
	r.guid("SessionId", s.session)
	start = len(r.e.b)
	r.e.b = appendUTI(r.e.b, s.uti)
	r.add("UniqueTokenIdentifier", cellStr, start)
	r.str("AADTenantId", g.t.id)
	r.str("Type", table)
}

// appendUTI writes a uniqueTokenIdentifier, which Entra renders as
// unpadded base64url.
func appendUTI(b []byte, g guid) []byte {
	return base64.RawURLEncoding.AppendEncode(b, g[:])
}

func (g *gen) laAudit(r *laRow, a *audit) {
	g.laCommon(r, a.t, a.act.name)
	r.str("Category", a.act.category)
	r.str("ResultType", "")
	r.str("ResultSignature", "None")
	r.str("ResultDescription", "")
	r.num("DurationMs", 0)
	r.guid("CorrelationId", a.corr)
	r.str("Resource", "Microsoft.aadiam")
	r.str("ResourceGroup", "Microsoft.aadiam")
	r.str("ResourceProvider", "Microsoft.aadiam")
	r.str("Identity", "")
	r.str("Level", "4")
	r.str("Location", "")
	text := g.r.IntN(3) == 0
	start := r.beginDyn()
	g.writeAdditional(&r.e, a)
	r.endDyn("AdditionalDetails", start, text)
	r.str("Id", a.id)
	start = r.beginDyn()
	g.writeInitiatedBy(&r.e, a, flavorDiag)
	r.endDyn("InitiatedBy", start, text)
	r.str("LoggedByService", a.act.service)
	if a.failed {
		r.str("Result", "failure")
	} else {
		r.str("Result", "success")
	}
	r.str("ResultReason", a.reason)
	start = r.beginDyn()
	g.writeTargets(&r.e, a, flavorDiag)
	r.endDyn("TargetResources", start, text)
	r.str("AADTenantId", g.t.id)
	r.str("ActivityDisplayName", a.act.name)
	r.time("ActivityDateTime", a.t)
	r.str("AADOperationType", a.act.opType)
	r.str("Type", laTables[catAudit])
}

// writeLAJSON writes the row as one JSON object. Empty string cells are
// left out, as Log Analytics exports leave out empty columns.
func writeLAJSON(out []byte, r *laRow) []byte {
	out = append(out, '{')
	first := true
	for _, c := range r.cells {
		v := r.e.b[c.start:c.end]
		if len(v) == 0 && c.kind != cellRaw {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, c.name...)
		out = append(out, '"', ':')
		if c.kind == cellRaw {
			out = append(out, v...)
		} else {
			out = appendJSONString(out, v)
		}
	}
	return append(out, '}')
}

// csvLayout is the column set of a CSV file: the union of the columns of
// every table the file may hold.
type csvLayout struct {
	names []string
	index map[string]int
	slot  []int
}

func (l *csvLayout) addRow(r *laRow) {
	for _, c := range r.cells {
		if _, ok := l.index[c.name]; ok {
			continue
		}
		l.index[c.name] = len(l.names)
		name := c.name
		if c.kind == cellTime {
			name += " [UTC]"
		}
		l.names = append(l.names, name)
	}
	l.slot = make([]int, len(l.names))
}

func (l *csvLayout) header(out []byte) []byte {
	for i, n := range l.names {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendCSVField(out, []byte(n))
	}
	return append(out, '\r', '\n')
}

func (l *csvLayout) row(out []byte, r *laRow) []byte {
	for i := range l.slot {
		l.slot[i] = -1
	}
	for i, c := range r.cells {
		if j, ok := l.index[c.name]; ok {
			l.slot[j] = i
		}
	}
	for i, ci := range l.slot {
		if i > 0 {
			out = append(out, ',')
		}
		if ci >= 0 {
			c := r.cells[ci]
			out = appendCSVField(out, r.e.b[c.start:c.end])
		}
	}
	return append(out, '\r', '\n')
}

// appendCSVField quotes per RFC 4180 when the field needs it.
func appendCSVField(out, v []byte) []byte {
	need := false
	for _, c := range v {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			need = true
			break
		}
	}
	if len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		need = true
	}
	if !need {
		return append(out, v...)
	}
	out = append(out, '"')
	for _, c := range v {
		if c == '"' {
			out = append(out, '"')
		}
		out = append(out, c)
	}
	return append(out, '"')
}
