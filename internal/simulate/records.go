package simulate

import (
	"strconv"
	"time"

	"breakglass/internal/entra"
)

// Category indexes. The diagnostic-settings names are the canonical ones
// (they are what Stats and ground truth report); each shape maps them onto
// its own vocabulary.
const (
	catInteractive = iota
	catNonInteractive
	catServicePrincipal
	catManagedIdentity
	catAudit
	numCats
)

var catNames = [numCats]string{
	entra.CategorySignIn, entra.CategoryNonInteractive, entra.CategoryServicePrincipal,
	entra.CategoryManagedIdentity, entra.CategoryAudit,
}

var laTables = [numCats]string{
	"SigninLogs", "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs",
	"AADManagedIdentitySignInLogs", "AuditLogs",
}

// OtherCategories are diagnostic-settings categories beyond sign-ins and
// audits that the generator mixes, as background, into the shapes that carry
// a category. Their records never name a break-glass account, so they
// exercise the classifier and prefilter on records that must stay silent.
var OtherCategories = []string{"ProvisioningLogs", "RiskyUsers", "ADFSSignInLogs", "MicrosoftGraphActivityLogs"}

// Ground-truth rule names.
const (
	RuleSignIn   = "bg.signin"
	RuleActivity = "bg.activity"
	RuleChange   = "bg.change"
)

type policyResult struct {
	p        int // index into caPolicies
	result   string
	excluded bool // the user is excluded, as break-glass accounts are
}

type authStep struct {
	method, detail, result, requirement string
	ok                                  bool
	offset                              time.Duration
}

// signIn is one generated sign-in of any of the four sign-in categories. It
// is reused from record to record.
type signIn struct {
	cat                          int
	id, corr, origReq, session   guid
	uti                          guid
	t                            time.Time
	userID, upn, userName        string
	userType                     string
	bg                           *bgIdentity
	app                          *app
	res                          *resource
	sp                           *servicePrincipal
	ip                           string
	city                         *city
	network                      string
	dev                          *device
	ua                           string
	clientApp                    string
	fail                         *failure
	caStatus                     string
	pols                         [7]policyResult
	npol                         int
	steps                        [3]authStep
	nsteps                       int
	authReq                      string
	tokenType                    string
	protocol                     string
	procMs                       int
	asn                          int
	interactive                  bool
	eventType                    string
	resourceSPID, resourceTenant string
	homeTenant                   string
	crossTenant                  string
}

func (s *signIn) errorCode() int {
	if s.fail == nil {
		return 0
	}
	return s.fail.code
}

// person is a user as one audit record names it.
type person struct {
	id, upn, name, ip string
	idMode            int // idPresent, idNull, idAbsent; only targets vary it
	bg                *bgIdentity
}

const (
	idPresent = iota
	idNull
	idAbsent
)

type modProp struct {
	name, old, new string
	oldNull        bool
}

type auditTarget struct {
	id        string
	idMode    int
	name      string // "" is written as null
	typ       string
	upn       string // "" is written as null
	groupType string
	props     [6]modProp
	nprops    int
	bg        *bgIdentity
}

func (t *auditTarget) prop(name, old, new string) {
	if t.nprops == len(t.props) {
		return
	}
	t.props[t.nprops] = modProp{name: name, old: old, new: new, oldNull: old == ""}
	t.nprops++
}

// audit is one generated directoryAudit record, reused from record to record.
type audit struct {
	id        string
	corr      guid
	t         time.Time
	act       *activity
	failed    bool
	reason    string
	initUser  *person
	initApp   *auditApp
	targets   [3]auditTarget
	nt        int
	details   [3][2]string
	nd        int
	ua        string
	numResult bool // diagnostic exports sometimes write result as 0
	actor     person
}

type auditApp struct{ name, appID, spID string }

func (a *audit) target() *auditTarget {
	t := &a.targets[a.nt]
	*t = auditTarget{}
	a.nt++
	return t
}

func (a *audit) detail(k, v string) {
	if a.nd < len(a.details) {
		a.details[a.nd] = [2]string{k, v}
		a.nd++
	}
}

// bgRules returns the rules an audit record triggers and the account.
func (a *audit) bgRules() (activity, change bool, acct *bgIdentity) {
	if a.initUser != nil && a.initUser.bg != nil {
		activity, acct = true, a.initUser.bg
	}
	for i := 0; i < a.nt; i++ {
		if a.targets[i].bg != nil {
			change = true
			if acct == nil {
				acct = a.targets[i].bg
			}
		}
	}
	return activity, change, acct
}

// pick helpers keep call sites short.
func (g *gen) oneOf(ss ...string) string {
	return ss[g.r.IntN(len(ss))]
}

// bgID and bgUPN spell a break-glass identifier the way some records do:
// Entra compares them case-insensitively, so a detector must too.
func (g *gen) bgID(b *bgIdentity) string {
	if g.r.IntN(7) == 0 {
		return b.idUpper
	}
	return b.id
}

func (g *gen) bgUPN(b *bgIdentity) string {
	if g.r.IntN(6) == 0 {
		return b.upnMixed
	}
	return b.upn
}

func (g *gen) newSignIn(cat int, bg *bgIdentity) *signIn {
	s := &g.sig
	r := g.r
	*s = signIn{cat: cat, t: g.now, bg: bg}
	s.id, s.corr, s.origReq, s.session, s.uti = newGUID(r), newGUID(r), newGUID(r), newGUID(r), newGUID(r)
	s.procMs = 20 + r.IntN(400)
	if r.IntN(10) == 0 {
		s.procMs += r.IntN(3000)
	}
	s.homeTenant, s.resourceTenant, s.crossTenant = g.t.id, g.t.id, "none"
	switch cat {
	case catServicePrincipal, catManagedIdentity:
		g.fillWorkload(s)
		return s
	}
	s.interactive = cat == catInteractive
	s.eventType = "nonInteractiveUser"
	if s.interactive {
		s.eventType = "interactiveUser"
	}
	s.userType = "Member"
	var u *user
	if bg != nil {
		s.userID, s.upn, s.userName = g.bgID(bg), g.bgUPN(bg), bg.name
		s.app = bgApps[r.IntN(len(bgApps))]
		s.city = cities[0]
		s.network = cities[0].network
		s.ip = g.bgIP
		s.dev = &g.bgDevice
	} else {
		u = g.t.users[r.IntN(len(g.t.users))]
		if r.IntN(4) == 0 && len(g.t.admins) > 0 && s.interactive {
			u = g.t.admins[r.IntN(len(g.t.admins))]
		}
		s.userID, s.upn, s.userName = u.id, u.upn, u.name
		if u.guest {
			s.userType = "Guest"
			s.homeTenant = g.guestTenant
			s.crossTenant = "b2bCollaboration"
		}
		if u.admin {
			s.app = g.adminApps[g.adminAppW.pick(r)]
		} else {
			s.app = userApps[g.appW.pick(r)]
		}
		s.city = u.home
		switch n := r.IntN(100); {
		case n < 68:
			s.ip, s.network = u.ips[0], u.home.network
			s.dev = &u.desk
		case n < 90:
			s.ip = u.ips[1]
			s.dev = &u.desk
		default:
			s.ip = u.ips[2]
			s.dev = &u.mobile
		}
		if s.app.kind == kindMobile {
			s.dev = &u.mobile
		}
	}
	s.res = s.app.resources[r.IntN(len(s.app.resources))]
	s.resourceSPID = g.resourceSP(s.res)
	s.ua = s.dev.uaBrowser
	s.clientApp = "Browser"
	if s.app.kind != kindBrowser {
		s.clientApp = "Mobile Apps and Desktop clients"
		if ua, ok := appUA[s.app.name]; ok {
			s.ua = ua
		}
	}
	s.protocol = "none"
	switch {
	case s.app.kind == kindCLI && r.IntN(6) == 0:
		s.protocol = "deviceCode"
	case !s.interactive || r.IntN(3) == 0:
		s.protocol = "oAuth2"
	}
	s.tokenType = "none"
	if !s.interactive {
		s.tokenType = "refreshToken"
		if s.app.kind == kindBroker || r.IntN(4) == 0 {
			s.tokenType = "primaryRefreshToken"
		}
	} else if s.app.kind == kindBroker {
		s.tokenType = "primaryRefreshToken"
	}

	// Outcome.
	switch {
	case bg != nil:
		if r.IntN(7) == 0 {
			s.fail = []*failure{failPassword, failPassword, failPassword, failLocked, failMFADenied}[r.IntN(5)]
			if s.fail == failPassword && r.IntN(2) == 0 {
				g.attackOrigin(s)
			}
		}
	case s.interactive:
		if r.IntN(100) < 15 {
			s.fail = interactiveFailures[g.ifailW.pick(r)]
			if s.fail == failPassword && r.IntN(5) == 0 {
				g.attackOrigin(s)
			}
		}
	default:
		if r.IntN(100) < 7 {
			s.fail = nonInteractiveFailures[g.nfailW.pick(r)]
		}
	}
	if s.fail == failCABlock && r.IntN(3) == 0 {
		// Legacy protocols are what "block legacy authentication" stops.
		s.clientApp = g.oneOf("Exchange ActiveSync", "Authenticated SMTP", "IMAP4", "Other clients")
		s.app = appByName("Office 365 Exchange Online")
		s.res = resExchange
		s.protocol = "ropc"
		s.ua = g.oneOf("BAV2ROPC", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5417; Pro)", "Apple-iPhone15C2/2104.123")
	}
	g.fillPolicies(s)
	g.fillAuth(s)
	s.asn = 3000 + int(s.city.prefix[0])*53 + int(s.city.prefix[1])
	return s
}

// attackOrigin moves a failed sign-in to where password sprays come from.
func (g *gen) attackOrigin(s *signIn) {
	r := g.r
	s.ip = g.t.attackIPs[r.IntN(len(g.t.attackIPs))]
	s.city = hostileCities[r.IntN(len(hostileCities))]
	s.network = ""
	s.dev = &g.anonDevice
	s.ua = g.oneOf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
		"python-requests/2.31.0", "BAV2ROPC", "Go-http-client/1.1")
	s.clientApp = g.oneOf("Browser", "Other clients", "Mobile Apps and Desktop clients")
	s.protocol = "ropc"
}

func (g *gen) fillWorkload(s *signIn) {
	r := g.r
	var sp *servicePrincipal
	if s.cat == catManagedIdentity {
		sp = g.t.mis[r.IntN(len(g.t.mis))]
		s.eventType = "managedIdentity"
		s.clientApp = ""
		if r.IntN(50) == 0 {
			s.fail = failMIRes
		}
	} else {
		sp = g.t.sps[r.IntN(len(g.t.sps))]
		s.eventType = "servicePrincipal"
		if r.IntN(35) == 0 {
			s.fail = spFailures[r.IntN(len(spFailures))]
		}
	}
	s.sp = sp
	s.res = sp.res[r.IntN(len(sp.res))]
	s.resourceSPID = g.resourceSP(s.res)
	s.ip = sp.ips[r.IntN(len(sp.ips))]
	s.city = g.azureCity
	s.caStatus = "notApplied"
	s.protocol = "oAuth2"
	s.tokenType = "none"
	s.asn = 8075
}

func (g *gen) resourceSP(res *resource) string {
	if id, ok := g.resSP[res]; ok {
		return id
	}
	id := newGUID(g.r).String()
	g.resSP[res] = id
	return id
}

// fillPolicies lists 0–6 Conditional Access policies with results that agree
// with the sign-in's outcome: a 53003 has a failing blocking policy, a
// break-glass account is excluded from every policy.
func (g *gen) fillPolicies(s *signIn) {
	r := g.r
	n := []int{0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 6}[r.IntN(12)]
	if !s.interactive {
		n = []int{0, 0, 0, 1, 1, 2}[r.IntN(6)]
	}
	var used uint32
	for i := 0; i < n; i++ {
		p := g.polW.pick(r)
		if used&(1<<p) != 0 {
			continue
		}
		used |= 1 << p
		pr := policyResult{p: p}
		switch {
		case s.bg != nil:
			pr.result, pr.excluded = "notApplied", true
		case s.fail == failPassword || s.fail == failLocked:
			pr.result = "notApplied"
		default:
			switch x := r.IntN(20); {
			case x < 9:
				pr.result = "notApplied"
			case x < 16:
				if caPolicies[p].blocking {
					pr.result = "notApplied"
				} else {
					pr.result = "success"
				}
			case x < 18:
				pr.result = "reportOnlyNotApplied"
			case x < 19:
				pr.result = "reportOnlySuccess"
			default:
				pr.result = "notEnabled"
			}
		}
		s.pols[s.npol] = pr
		s.npol++
	}
	if s.fail == failCABlock && s.bg == nil {
		s.pols[s.npol] = policyResult{p: []int{1, 4, 9}[r.IntN(3)], result: "failure"}
		s.npol++
	}
	s.caStatus = "notApplied"
	for i := 0; i < s.npol; i++ {
		switch s.pols[i].result {
		case "failure":
			s.caStatus = "failure"
		case "success":
			if s.caStatus != "failure" {
				s.caStatus = "success"
			}
		}
	}
}

func (g *gen) fillAuth(s *signIn) {
	r := g.r
	add := func(method, detail, result, req string, ok bool) {
		if s.nsteps < len(s.steps) {
			s.steps[s.nsteps] = authStep{method, detail, result, req, ok, time.Duration(s.nsteps) * time.Duration(800+r.IntN(9000)) * time.Millisecond}
			s.nsteps++
		}
	}
	const primary, mfa = "Primary authentication", "Multi-factor authentication"
	s.authReq = "singleFactorAuthentication"
	mfaMethod := mfaMethods[r.IntN(len(mfaMethods))]
	if s.bg != nil {
		mfaMethod = "Passkey (device-bound)"
	}
	switch s.fail {
	case nil:
		// Emergency sign-ins start from nothing: no session to reuse.
		if !s.interactive || (s.bg == nil && r.IntN(2) == 0) {
			add("Previously satisfied", "", "First factor requirement satisfied by claim in the token", primary, true)
			if s.caStatus == "success" || r.IntN(3) == 0 {
				add("Previously satisfied", "", "MFA requirement satisfied by claim in the token", mfa, true)
				s.authReq = "multiFactorAuthentication"
			}
			return
		}
		add("Password", "Password in the cloud", "Correct password", primary, true)
		if s.bg != nil || s.caStatus == "success" || r.IntN(2) == 0 {
			add(mfaMethod, "", "MFA successfully completed", mfa, true)
			s.authReq = "multiFactorAuthentication"
		}
	case failPassword, failLocked:
		add("Password", "Password in the cloud", s.fail.stepMsg, primary, false)
	case failMFADenied, failMFARequired, failMFAReauth, failExternal:
		add("Password", "Password in the cloud", "Correct password", primary, true)
		add(mfaMethod, "", s.fail.stepMsg, mfa, false)
		s.authReq = "multiFactorAuthentication"
	case failSIF:
		add("Previously satisfied", "", s.fail.stepMsg, primary, false)
	default:
		add("Password", "Password in the cloud", "Correct password", primary, true)
	}
}

// activity is one kind of directory audit event.
type activity struct {
	name, category, service, opType string
	init                            int // who initiates it in the background
	weight                          int // background share
	bgActor                         bool
	bgTarget                        bool
	build                           func(g *gen, a *audit, subj *person)
}

const (
	initAdmin = iota
	initSelf
	initApp
	initAdminOrApp
	initSelfOrAdmin
)

var activities []*activity
var actW weighted
var bgActorActs, bgTargetActs, bgSelfActs []*activity

func init() {
	core := "Core Directory"
	activities = []*activity{
		{"Update StsRefreshTokenValidFrom Timestamp", "UserManagement", core, "Update", initSelfOrAdmin, 90, false, true, buildStsRefresh},
		{"Update user", "UserManagement", core, "Update", initAdminOrApp, 120, true, true, buildUpdateUser},
		{"Add member to group", "GroupManagement", core, "Assign", initAdminOrApp, 70, true, true, buildGroupMember},
		{"Remove member from group", "GroupManagement", core, "Unassign", initAdminOrApp, 35, true, true, buildGroupMember},
		{"Add member to role", "RoleManagement", core, "Assign", initAdminOrApp, 18, true, true, buildRoleMember},
		{"Remove member from role", "RoleManagement", core, "Unassign", initAdminOrApp, 12, true, true, buildRoleMember},
		{"Add member to role completed (PIM activation)", "RoleManagement", "PIM", "Add", initSelf, 20, false, false, buildPIM},
		{"Add member to role requested (PIM activation)", "RoleManagement", "PIM", "Add", initSelf, 20, false, false, buildPIM},
		{"Reset user password", "UserManagement", core, "Update", initAdmin, 12, true, true, buildPlainUser},
		{"Reset password (by admin)", "UserManagement", "Self-service Password Management", "Update", initAdmin, 6, false, true, buildPlainUser},
		{"Change user password", "UserManagement", core, "Update", initSelf, 14, false, false, buildPlainUser},
		{"Change password (self-service)", "UserManagement", "Self-service Password Management", "Update", initSelf, 10, false, false, buildPlainUser},
		{"Self-service password reset flow activity progress", "UserManagement", "Self-service Password Management", "Update", initSelf, 25, false, false, buildSSPRProgress},
		{"User registered security info", "UserManagement", "Authentication Methods", "Add", initSelf, 30, false, false, buildSecurityInfo},
		{"User deleted security info", "UserManagement", "Authentication Methods", "Delete", initSelf, 6, false, false, buildSecurityInfo},
		{"Admin registered security info", "UserManagement", "Authentication Methods", "Add", initAdmin, 3, false, true, buildSecurityInfo},
		{"Admin deleted security info", "UserManagement", "Authentication Methods", "Delete", initAdmin, 3, false, true, buildSecurityInfo},
		{"Disable account", "UserManagement", core, "Update", initAdmin, 6, true, true, buildAccountEnabled},
		{"Enable account", "UserManagement", core, "Update", initAdmin, 3, true, true, buildAccountEnabled},
		{"Delete user", "UserManagement", core, "Delete", initAdminOrApp, 6, true, true, buildPlainUser},
		{"Restore user", "UserManagement", core, "Update", initAdmin, 2, false, true, buildPlainUser},
		{"Add user", "UserManagement", core, "Add", initAdminOrApp, 12, true, false, buildAddUser},
		{"Add app role assignment to service principal", "ApplicationManagement", core, "Assign", initAdmin, 10, true, false, buildAppRole},
		{"Update application – Certificates and secrets management ", "ApplicationManagement", core, "Update", initAdmin, 6, true, false, buildAppSecret},
		{"Consent to application", "ApplicationManagement", core, "Assign", initSelfOrAdmin, 8, true, false, buildConsent},
		{"Update service principal", "ApplicationManagement", core, "Update", initAdminOrApp, 15, false, false, buildUpdateSP},
		{"Add conditional access policy", "Policy", "Conditional Access", "Add", initAdmin, 1, true, false, buildCAPolicy},
		{"Update conditional access policy", "Policy", "Conditional Access", "Update", initAdmin, 4, true, false, buildCAPolicy},
		{"Add policy", "Policy", core, "Add", initAdmin, 2, true, false, buildPolicy},
		{"Update policy", "Policy", core, "Update", initAdminOrApp, 4, false, false, buildPolicy},
		{"Update device", "DeviceManagement", core, "Update", initApp, 70, false, false, buildDevice},
		{"Add device", "DeviceManagement", core, "Add", initApp, 15, false, false, buildDevice},
		{"Add registered owner to device", "DeviceManagement", core, "Assign", initApp, 10, false, false, buildDeviceOwner},
		{"Add group", "GroupManagement", core, "Add", initAdmin, 5, true, false, buildGroup},
		{"Update group", "GroupManagement", core, "Update", initAdminOrApp, 12, false, false, buildGroup},
	}
	ws := make([]int, len(activities))
	for i, a := range activities {
		ws[i] = a.weight
		if a.bgActor {
			bgActorActs = append(bgActorActs, a)
		}
		if a.bgTarget {
			bgTargetActs = append(bgTargetActs, a)
		}
		switch a.name {
		case "Change user password", "User registered security info", "User deleted security info",
			"Update StsRefreshTokenValidFrom Timestamp", "Change password (self-service)":
			bgSelfActs = append(bgSelfActs, a)
		}
	}
	actW = newWeighted(ws...)
}

// bgMode says how a generated audit record involves a break-glass account.
const (
	bgNone = iota
	bgAsActor
	bgAsTarget
	bgAsBoth
)

func (g *gen) newAudit(mode int, bg *bgIdentity) *audit {
	a := &g.aud
	r := g.r
	*a = audit{t: g.now, corr: newGUID(r)}
	switch mode {
	case bgAsActor:
		a.act = bgActorActs[r.IntN(len(bgActorActs))]
	case bgAsTarget:
		a.act = bgTargetActs[r.IntN(len(bgTargetActs))]
	case bgAsBoth:
		a.act = bgSelfActs[r.IntN(len(bgSelfActs))]
	default:
		a.act = activities[actW.pick(r)]
	}

	subj := g.randomPerson()
	if mode == bgAsTarget || mode == bgAsBoth {
		subj = g.bgPerson(bg, true)
	}
	init := a.act.init
	switch mode {
	case bgAsActor:
		a.actor = g.bgPerson(bg, false)
		a.initUser = &a.actor
	case bgAsBoth:
		a.actor = subj
		a.actor.idMode = idPresent
		a.initUser = &a.actor
	default:
		if init == initSelfOrAdmin {
			init = []int{initSelf, initAdmin}[r.IntN(2)]
		}
		if init == initAdminOrApp {
			init = []int{initAdmin, initAdmin, initApp}[r.IntN(3)]
		}
		if init == initSelf && mode == bgAsTarget {
			init = initAdmin
		}
		switch init {
		case initSelf:
			a.actor = subj
			a.actor.idMode = idPresent
			a.initUser = &a.actor
		case initAdmin:
			ad := g.t.admins[r.IntN(len(g.t.admins))]
			a.actor = person{id: ad.id, upn: ad.upn, name: ad.name, ip: ad.ips[r.IntN(2)]}
			a.initUser = &a.actor
		default:
			a.initApp = g.auditApp(a.act)
		}
	}
	if a.initUser != nil {
		if a.initUser.ip == "" {
			a.initUser.ip = g.t.users[r.IntN(len(g.t.users))].ips[0]
		}
		a.ua = g.oneOf(
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0",
			"Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.2",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
			"python/3.11.8 (Windows-10-10.0.22631-SP0) AZURECLI/2.61.0 (MSI)")
	}
	a.act.build(g, a, &subj)

	if a.act.service == "Core Directory" {
		b := append(g.scratch[:0], "Directory_"...)
		b = a.corr.append(b)
		b = append(b, '_')
		for i := 0; i < 5; i++ {
			b = append(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[r.IntN(36)])
		}
		b = append(b, '_')
		b = strconv.AppendInt(b, int64(1000000+r.IntN(99000000)), 10)
		a.id = string(b)
		g.scratch = b
	} else if a.act.category == "GroupManagement" {
		a.id = "SSGM_" + a.corr.String() + "_" + strconv.Itoa(10000000+r.IntN(89999999))
	} else {
		a.id = newGUID(r).String()
	}
	if mode == bgNone && r.IntN(50) == 0 {
		a.failed = true
		a.reason = g.oneOf("Microsoft.Online.Workflows.ObjectAlreadyExistsException",
			"Insufficient privileges to complete the operation.", "The request timed out.",
			"Microsoft.Online.Workflows.ValidationException")
	}
	return a
}

func (g *gen) randomPerson() person {
	u := g.t.users[g.r.IntN(len(g.t.users))]
	return person{id: u.id, upn: u.upn, name: u.name, ip: u.ips[g.r.IntN(3)]}
}

// bgPerson names a break-glass account. As a target it sometimes carries the
// UPN only, as some audit events do.
func (g *gen) bgPerson(b *bgIdentity, target bool) person {
	p := person{id: g.bgID(b), upn: g.bgUPN(b), name: b.name, ip: g.bgIP, bg: b}
	if target && g.r.IntN(8) == 0 {
		p.idMode = []int{idNull, idAbsent}[g.r.IntN(2)]
	}
	return p
}

func (g *gen) auditApp(act *activity) *auditApp {
	var n int
	switch act.category {
	case "DeviceManagement":
		n = 4
	case "RoleManagement", "Policy":
		n = 2
	case "GroupManagement":
		n = []int{1, 3}[g.r.IntN(2)]
	default:
		n = []int{0, 1, 3, 5}[g.r.IntN(4)]
	}
	return &g.auditApps[n]
}

func (a *audit) userTarget(subj *person) *auditTarget {
	t := a.target()
	t.id, t.idMode, t.typ, t.upn, t.bg = subj.id, subj.idMode, "User", subj.upn, subj.bg
	return t
}

func buildPlainUser(g *gen, a *audit, subj *person) {
	a.userTarget(subj)
	a.detail("UserType", "Member")
}

func buildStsRefresh(g *gen, a *audit, subj *person) {
	t := a.userTarget(subj)
	old := a.t.Add(-time.Duration(1+g.r.IntN(90*24)) * time.Hour).UTC().Format(time.RFC3339)
	t.prop("StsRefreshTokensValidFrom", `["`+old+`"]`, `["`+a.t.UTC().Format(time.RFC3339)+`"]`)
	t.prop("Included Updated Properties", "", `"StsRefreshTokensValidFrom"`)
	a.detail("UserType", "Member")
}

func buildUpdateUser(g *gen, a *audit, subj *person) {
	t := a.userTarget(subj)
	switch g.r.IntN(5) {
	case 0:
		d1, d2 := departments[g.r.IntN(len(departments))], departments[g.r.IntN(len(departments))]
		t.prop("Department", `["`+d1+`"]`, `["`+d2+`"]`)
		t.prop("Included Updated Properties", "", `"Department"`)
	case 1:
		t.prop("AssignedLicense", `[]`, `["[SkuName=SPE_E5, AccountId=`+g.t.id+`, SkuId=06ebc4ee-1bb5-47dd-8120-11324bc54e06, DisabledPlans=[]]"]`)
		t.prop("Included Updated Properties", "", `"AssignedLicense, AssignedPlan"`)
	case 2:
		t.prop("StrongAuthenticationMethod", `[{"MethodType":6,"Default":true},{"MethodType":7,"Default":false}]`, `[{"MethodType":6,"Default":true}]`)
		t.prop("Included Updated Properties", "", `"StrongAuthenticationMethod"`)
	case 3:
		t.prop("JobTitle", `["Analyst"]`, `["Senior Analyst"]`)
		t.prop("Included Updated Properties", "", `"JobTitle"`)
	default:
		t.prop("UsageLocation", `[]`, `["US"]`)
		t.prop("Included Updated Properties", "", `"UsageLocation"`)
	}
	t.prop("TargetId.UserType", "", `"Member"`)
	a.detail("UserType", "Member")
}

func buildAccountEnabled(g *gen, a *audit, subj *person) {
	t := a.userTarget(subj)
	from, to := "[true]", "[false]"
	if a.act.name == "Enable account" {
		from, to = to, from
	}
	t.prop("AccountEnabled", from, to)
	t.prop("Included Updated Properties", "", `"AccountEnabled"`)
	a.detail("UserType", "Member")
}

func buildAddUser(g *gen, a *audit, subj *person) {
	t := a.userTarget(subj)
	t.prop("AccountEnabled", "", "[true]")
	t.prop("DisplayName", "", `["`+subj.name+`"]`)
	t.prop("UserPrincipalName", "", `["`+subj.upn+`"]`)
	t.prop("UserType", "", `["Member"]`)
	t.prop("Included Updated Properties", "", `"AccountEnabled, DisplayName, UserPrincipalName, UserType"`)
}

func buildGroupMember(g *gen, a *audit, subj *person) {
	i := g.r.IntN(len(groupNames))
	t := a.userTarget(subj)
	t.prop("Group.ObjectID", "", `"`+g.t.groupIDs[i]+`"`)
	t.prop("Group.DisplayName", "", `"`+groupNames[i]+`"`)
	t.prop("Group.WellKnownObjectName", "", "")
	gt := a.target()
	gt.id, gt.name, gt.typ, gt.groupType = g.t.groupIDs[i], groupNames[i], "Group", g.oneOf("unifiedGroups", "azureAD")
}

func buildRoleMember(g *gen, a *audit, subj *person) {
	i := g.r.IntN(len(roles))
	if subj.bg != nil && g.r.IntN(2) == 0 {
		i = 0 // break-glass accounts hold Global Administrator
	}
	rl := roles[i]
	t := a.userTarget(subj)
	t.prop("Role.ObjectID", "", `"`+g.t.roleObjIDs[i]+`"`)
	t.prop("Role.DisplayName", "", `"`+rl.name+`"`)
	t.prop("Role.TemplateId", "", `"`+rl.templateID+`"`)
	wk := ""
	if rl.wellKnown != "" {
		wk = `"` + rl.wellKnown + `"`
	}
	t.prop("Role.WellKnownObjectName", "", wk)
	rt := a.target()
	rt.id, rt.name, rt.typ = g.t.roleObjIDs[i], rl.name, "Role"
}

func buildPIM(g *gen, a *audit, subj *person) {
	rl := roles[g.r.IntN(len(roles))]
	rt := a.target()
	rt.id, rt.name, rt.typ = rl.templateID, rl.name, "Role"
	req := a.target()
	req.id, req.typ = newGUID(g.r).String(), "Request"
	a.userTarget(subj)
	a.detail("Justification", g.oneOf("Incident response", "Change CHG0031245", "Monthly access review", "Investigating ticket"))
	a.detail("StartTime", a.t.UTC().Format(time.RFC3339))
	a.reason = "RoleAssignmentActivation"
}

func buildSSPRProgress(g *gen, a *audit, subj *person) {
	a.userTarget(subj)
	a.reason = g.oneOf("User started the mobile app notification verification option",
		"User completed the mobile app notification verification option", "User started the SSPR flow",
		"User started the email verification option", "User successfully reset password")
}

func buildSecurityInfo(g *gen, a *audit, subj *person) {
	a.userTarget(subj)
	a.reason = securityInfoReasons[g.r.IntN(len(securityInfoReasons))]
	if a.act.opType == "Delete" {
		a.reason = g.oneOf("User deleted Mobile Phone SMS", "User deleted Authenticator App with Notification and Code", "Admin deleted Passkey (device-bound)")
	}
}

func (g *gen) spTarget(a *audit) (*auditTarget, *servicePrincipal) {
	sp := g.t.sps[g.r.IntN(len(g.t.sps))]
	t := a.target()
	t.id, t.name, t.typ = sp.spID, sp.name, "ServicePrincipal"
	return t, sp
}

func buildAppRole(g *gen, a *audit, subj *person) {
	t, sp := g.spTarget(a)
	perm := g.oneOf("Directory.Read.All", "User.Read.All", "Mail.Send", "Sites.ReadWrite.All", "AuditLog.Read.All", "Group.ReadWrite.All")
	t.prop("AppRole.Id", "", `"`+newGUID(g.r).String()+`"`)
	t.prop("AppRole.Value", "", `"`+perm+`"`)
	t.prop("AppRole.DisplayName", "", `"`+perm+`"`)
	t.prop("ServicePrincipal.DisplayName", "", `"`+sp.name+`"`)
	t.prop("ServicePrincipal.ObjectID", "", `"`+sp.spID+`"`)
}

func buildAppSecret(g *gen, a *audit, subj *person) {
	sp := g.t.sps[g.r.IntN(len(g.t.sps))]
	t := a.target()
	t.id, t.name, t.typ = stableGUID("app:"+sp.appID), sp.name, "Application"
	key := "[KeyIdentifier=" + newGUID(g.r).String() + ",KeyType=Password,KeyUsage=Verify,DisplayName=" + g.oneOf("prod", "ci", "rotation-2024") + "]"
	t.prop("KeyDescription", "[]", `["`+key+`"]`)
	t.prop("Included Updated Properties", "", `"KeyDescription"`)
}

func buildConsent(g *gen, a *audit, subj *person) {
	t, _ := g.spTarget(a)
	admin := "False"
	if a.initUser != nil && a.initUser.upn != subj.upn {
		admin = "True"
	}
	t.prop("ConsentContext.IsAdminConsent", "", `"`+admin+`"`)
	t.prop("ConsentContext.IsAppOnly", "", `"False"`)
	t.prop("ConsentContext.OnBehalfOfAll", "", `"`+admin+`"`)
	t.prop("ConsentAction.Permissions", "", `"[] => [[Id: `+newGUID(g.r).String()+`, ClientId: `+newGUID(g.r).String()+`, PrincipalId: , ResourceId: `+newGUID(g.r).String()+`, ConsentType: AllPrincipals, Scope:  User.Read offline_access openid profile, CreatedDateTime: , LastModifiedDateTime ]]; "`)
	t.prop("TargetId.ServicePrincipalNames", "", `"`+newGUID(g.r).String()+`"`)
}

func buildUpdateSP(g *gen, a *audit, subj *person) {
	t, _ := g.spTarget(a)
	t.prop("AppRoleAssignmentRequired", "[false]", "[true]")
	t.prop("Included Updated Properties", "", `"AppRoleAssignmentRequired"`)
}

func buildCAPolicy(g *gen, a *audit, subj *person) {
	i := g.r.IntN(len(caPolicies))
	p := caPolicies[i]
	t := a.target()
	t.id, t.name, t.typ = g.t.policyIDs[i], p.name, "Policy"
	state := func(s string) string {
		return `{"id":"` + g.t.policyIDs[i] + `","displayName":"` + p.name + `","state":"` + s +
			`","conditions":{"applications":{"includeApplications":["All"]},"users":{"includeUsers":["All"],"excludeGroups":["` +
			g.t.groupIDs[17] + `"]},"clientAppTypes":["all"]},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`
	}
	old := ""
	if a.act.opType == "Update" {
		old = state("enabled")
	}
	t.prop("ConditionalAccessPolicy", old, state(g.oneOf("enabled", "enabledForReportingButNotEnforced", "disabled")))
	a.detail("Category", "Conditional Access")
}

func buildPolicy(g *gen, a *audit, subj *person) {
	t := a.target()
	t.id, t.typ = newGUID(g.r).String(), "Policy"
	t.name = g.oneOf("Default Policy", "TokenLifetimePolicy", "Authorization Policy", "Cross-tenant access policy", "B2B Management Policy")
	t.prop("PolicyDetail", `["{\"Version\":1}"]`, `["{\"Version\":2}"]`)
	t.prop("Included Updated Properties", "", `"PolicyDetail"`)
}

func buildDevice(g *gen, a *audit, subj *person) {
	t := a.target()
	t.id, t.typ = newGUID(g.r).String(), "Device"
	t.name = "LT-" + strconv.Itoa(10000+g.r.IntN(89999))
	t.prop("CloudDeviceOSVersion", `["10.0.22631.3593"]`, `["10.0.22631.3737"]`)
	t.prop("Included Updated Properties", "", `"CloudDeviceOSVersion"`)
	a.detail("DeviceId", newGUID(g.r).String())
}

func buildDeviceOwner(g *gen, a *audit, subj *person) {
	buildDevice(g, a, subj)
	a.userTarget(subj)
}

func buildGroup(g *gen, a *audit, subj *person) {
	i := g.r.IntN(len(groupNames))
	t := a.target()
	t.id, t.name, t.typ, t.groupType = g.t.groupIDs[i], groupNames[i], "Group", "azureAD"
	t.prop("Description", "", `["`+groupNames[i]+` members"]`)
	t.prop("Included Updated Properties", "", `"Description"`)
}
